#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""``openstack compute drain`` against the fake cloud (real Nova 34).

Every test drains ``compute1`` with the real ``openstack`` CLI (a
subprocess), then checks the cloud through openstacksdk: where the servers
are, their status, the service, the migration records (concurrency is
asserted from their timestamps) and the JSON report.
"""

import datetime
import json
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from migrationclient.cloud import identity
from migrationclient import exitcodes
from migrationclient.tests.functional import base
from testbed import fakecloud

SOURCE = 'compute1'


def _when(text):
    dt = datetime.datetime.fromisoformat(text)
    return dt.replace(tzinfo=None)


def max_overlap(records, key):
    """Most migrations sharing ``key`` (source / dest) at one instant.

    A migration occupies [created_at, updated_at]; updated_at of an ended
    migration is when it ended (completed / confirmed / failed).
    """
    spans = [(getattr(m, key), _when(m.created_at), _when(m.updated_at))
             for m in records]
    best = 0
    for host, start, _end in spans:
        best = max(best, sum(1 for h, s, e in spans
                             if h == host and s <= start < e))
    return best


class DrainTestCase(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.state_home = tempfile.mkdtemp(prefix='drain-state-')
        self.addCleanup(shutil.rmtree, self.state_home, True)
        self.addCleanup(self._restore_services)
        self.compute = self.connection().compute

    def _restore_services(self):
        for svc in self.compute.services(binary='nova-compute'):
            if svc.status != 'enabled':
                self.compute.enable_service(svc, host=svc.host,
                                            binary='nova-compute')

    def drain(self, *args, expect=exitcodes.OK):
        res = self.openstack('compute', 'drain', *args, '-f', 'json',
                             check=False,
                             env={'XDG_STATE_HOME': self.state_home})
        self.addDetail('drain %s' % ' '.join(args), _text(
            'rc=%d\n%s\n%s' % (res.returncode, res.stdout, res.stderr)))
        self.assertEqual(expect, res.returncode, res.stderr[-3000:])
        return res

    def report_path(self, kind='drain', host=SOURCE, key=None):
        """The default report: keyed by the cloud (identity URL, region)."""
        key = key or identity.cloud_of(self.connection()).key
        return os.path.join(self.state_home, 'migrationclient', 'clouds',
                            key, '%s-%s.json' % (kind, host))

    def load_report(self, kind='drain'):
        with open(self.report_path(kind)) as stream:
            return json.load(stream)

    def server(self, kind='image', name=None, **meta):
        return self.create_server(kind, host=SOURCE, name=name,
                                  metadata={k.replace('_', ':', 1): str(v)
                                            for k, v in meta.items()})

    def migrations_of(self, servers):
        ids = {s.id for s in servers}
        return [m for m in self.compute.migrations()
                if m.server_id in ids]

    def service(self, host=SOURCE):
        return [s for s in self.compute.services(binary='nova-compute')
                if s.host == host][0]


def _text(value):
    from testtools import content
    return content.text_content(value)


class TestDrain(DrainTestCase):

    def test_mixed_drain_dry_run_run_report_restore(self):
        plain = self.server('image', name='a-plain', fakecloud_hold=2)
        volume = self.server('volume', name='b-volume', fakecloud_hold=2)
        paused = self.server('paused', name='c-paused')
        stopped = self.server('shutoff', name='d-stopped')
        broken = self.server('error', name='e-broken')
        moving = [plain, volume, paused, stopped]
        before = {s.id: self.compute.get_server(s.id).status
                  for s in moving}

        # --dry-run: the plan, and nothing changes.
        rows = self.drain(SOURCE, '--dry-run').json()['servers']
        plan = {r['Server']: r for r in rows}
        self.assertEqual('live', plan[plain.id]['Action'])
        self.assertEqual('live', plan[volume.id]['Action'])
        self.assertEqual('live', plan[paused.id]['Action'])
        self.assertEqual('cold', plan[stopped.id]['Action'])
        self.assertEqual('skip', plan[broken.id]['Action'])
        self.assertIn('ERROR', plan[broken.id]['Reason'])
        self.assertIn('compute2', plan[plain.id]['Destination'])
        self.assertEqual('enabled', self.service().status)
        self.assertEqual([], self.migrations_of(moving))
        self.assertFalse(os.path.exists(self.report_path()))

        # The drain: the ERROR server remains, so exit 4.
        res = self.drain(SOURCE, '--max-parallel', '2', '--max-per-target',
                         '1', '--poll-interval', '1',
                         '--disable-reason', 'functional test',
                         expect=exitcodes.DRAIN_INCOMPLETE)
        self.assertIn('Still to move (1)', res.stderr)
        self.assertIn(broken.id, res.stderr)
        self.assertIn('4/5 moved, 1 skipped', res.stderr)
        result = {r['Server']: r for r in res.json()}
        for s in moving:
            now = self.compute.get_server(s.id)
            self.assertNotEqual(SOURCE, now.compute_host, s.name)
            self.assertEqual(before[s.id], now.status, s.name)
            self.assertEqual('done', result[s.id]['State'])
        self.assertEqual(SOURCE,
                         self.compute.get_server(broken.id).compute_host)
        svc = self.service()
        # The drain claim first, then the --disable-reason text, whole.
        self.assertEqual(('disabled', '[drain:%s] functional test'
                          % self.load_report()['id']),
                         (svc.status, svc.disabled_reason))

        # Concurrency from the migration records.
        records = self.migrations_of(moving)
        self.assertEqual(4, len(records))
        self.assertEqual({'completed', 'confirmed'},
                         {m.status for m in records})
        self.assertLessEqual(max_overlap(records, 'source_compute'), 2)
        self.assertLessEqual(max_overlap(records, 'dest_compute'), 1)

        # The report: 0600, every server accounted for.
        path = self.report_path()
        self.assertEqual(0o600, stat.S_IMODE(os.stat(path).st_mode))
        report = self.load_report()
        self.assertEqual(('incomplete', ['compute1']),
                         (report['state'], report['hosts']))
        entries = {e['id']: e for e in report['servers']}
        self.assertEqual({s.id for s in moving + [broken]}, set(entries))
        cold = entries[stopped.id]
        self.assertEqual(('cold', 'done', 'confirmed', SOURCE, 'SHUTOFF'),
                         (cold['action'], cold['state'],
                          cold['migration_status'], cold['original_host'],
                          cold['original_status']))
        self.assertIsNotNone(cold['migration_id'])
        self.assertIsNotNone(cold['duration'])
        self.assertTrue(report['service'][SOURCE]['disabled_by_drain'])

        # Restore refuses while the service is disabled, then moves back.
        res = self.openstack('compute', 'drain', '--restore', path,
                             check=False,
                             env={'XDG_STATE_HOME': self.state_home})
        self.assertEqual(1, res.returncode)
        self.assertIn('--enable-service', res.stderr)
        self.drain('--restore', path, '--enable-service',
                   '--max-per-target', '2', '--poll-interval', '1')
        for s in moving:
            now = self.compute.get_server(s.id)
            self.assertEqual((SOURCE, before[s.id]),
                             (now.compute_host, now.status), s.name)
        self.assertEqual('enabled', self.service().status)
        restore = self.load_report('restore')
        self.assertEqual('complete', restore['state'])

    def test_exact_host_and_bad_input(self):
        res = self.openstack('compute', 'drain', 'compute', '--dry-run',
                             check=False)
        self.assertEqual(1, res.returncode)
        self.assertIn('exact match', res.stderr)
        self.assertNotIn('Traceback', res.stderr)
        res = self.openstack('compute', 'drain', SOURCE, '--max-parallel',
                             'two', check=False)
        self.assertEqual(1, res.returncode)
        self.assertIn('--max-parallel', res.stderr)
        res = self.openstack('compute', 'drain', SOURCE, '--target-host',
                             SOURCE, check=False)
        self.assertEqual(1, res.returncode)
        self.assertIn('cannot be a target', res.stderr)
        path = os.path.join(self.state_home, 'bad.json')
        with open(path, 'w') as stream:
            stream.write('{"format": ')
        res = self.openstack('compute', 'drain', '--resume', path,
                             check=False)
        self.assertEqual(1, res.returncode)
        self.assertIn('not valid JSON', res.stderr)
        self.assertEqual('enabled', self.service().status)

    def test_health_gate_source_down(self):
        self.stop_compute(SOURCE)
        deadline = time.monotonic() + 60
        while self.service().state != 'down':
            self.assertLess(time.monotonic(), deadline)
            time.sleep(1)
        res = self.openstack('compute', 'drain', SOURCE, check=False)
        self.assertEqual(1, res.returncode)
        self.assertIn('is down', res.stderr)
        self.assertEqual('enabled', self.service().status)

    def test_targets_no_live_no_confirm_enable_when_done(self):
        server = self.server('image')
        res = self.drain(SOURCE, '--target-host', 'compute3', '--no-live',
                         '--no-confirm', '--enable-when-done',
                         '--poll-interval', '1')
        row = res.json()[0]
        self.assertEqual(('cold', 'unconfirmed', 'compute3'),
                         (row['Action'], row['State'], row['Destination']))
        now = self.compute.get_server(server.id)
        self.assertEqual(('compute3', 'VERIFY_RESIZE'),
                         (now.compute_host, now.status))
        self.assertEqual('enabled', self.service().status)
        self.assertTrue(self.load_report()['service'][SOURCE][
            'enabled_when_done'])

    def test_failure_stops_new_migrations(self):
        bad = self.server('image', name='a-fails', fakecloud_hold=1,
                          fakecloud_fail=1)
        good = self.server('image', name='b-good')
        res = self.drain(SOURCE, '--max-parallel', '1', '--max-failures',
                         '1', '--poll-interval', '1',
                         expect=exitcodes.DRAIN_INCOMPLETE)
        rows = {r['Server']: r for r in res.json()}
        self.assertEqual('failed', rows[bad.id]['State'])
        self.assertIn('rolled back', rows[bad.id]['Reason'])
        self.assertEqual('not-started', rows[good.id]['State'])
        for s in (bad, good):
            now = self.compute.get_server(s.id)
            self.assertEqual((SOURCE, 'ACTIVE'),
                             (now.compute_host, now.status))
        self.assertEqual([], self.migrations_of([good]))
        entry = [e for e in self.load_report()['servers']
                 if e['id'] == bad.id][0]
        # The reason comes from the instance action events, not "error".
        self.assertNotIn(entry['error'].strip().lower(), ('error', 'failed'))

    def test_stuck_abort(self):
        stuck = self.server('image', fakecloud_stall=40)
        res = self.drain(SOURCE, '--stuck-after', '3', '--on-stuck', 'abort',
                         '--poll-interval', '1',
                         expect=exitcodes.DRAIN_INCOMPLETE)
        row = res.json()[0]
        self.assertEqual('aborted', row['State'])
        self.assertIn('stuck', row['Reason'])
        now = self.compute.get_server(stuck.id)
        self.assertEqual((SOURCE, 'ACTIVE'), (now.compute_host, now.status))
        self.assertEqual(['cancelled'],
                         [m.status for m in self.migrations_of([stuck])])

    def test_stuck_force_complete(self):
        stuck = self.server('image', fakecloud_stall=40)
        res = self.drain(SOURCE, '--stuck-after', '3', '--on-stuck',
                         'force-complete', '--poll-interval', '1')
        self.assertEqual('done', res.json()[0]['State'])
        now = self.compute.get_server(stuck.id)
        self.assertNotEqual(SOURCE, now.compute_host)
        self.assertEqual('ACTIVE', now.status)

    def test_timeout_aborts(self):
        stuck = self.server('image', fakecloud_stall=40)
        res = self.drain(SOURCE, '--stuck-after', '0', '--timeout', '6',
                         '--poll-interval', '1', expect=exitcodes.TIMEOUT)
        row = res.json()[0]
        self.assertEqual('timeout', row['State'])
        self.assertIn('--timeout 6s', row['Reason'])
        now = self.compute.get_server(stuck.id)
        self.assertEqual((SOURCE, 'ACTIVE'), (now.compute_host, now.status))

    def test_two_hosts_share_the_target_limit(self):
        servers = []
        for host in (SOURCE, 'compute2'):
            for n in range(2):
                servers.append(self.create_server(
                    'image', host=host, name='%s-%d' % (host, n),
                    metadata={fakecloud.META_HOLD: '3'}))
        res = self.drain(SOURCE, 'compute2', '--max-parallel', '2',
                         '--max-per-target', '1', '--poll-interval', '1')
        self.assertEqual({'done'}, {r['State'] for r in res.json()})
        records = self.migrations_of(servers)
        self.assertEqual({'compute3'}, {m.dest_compute for m in records})
        # Four migrations into one target, never two at once.
        self.assertEqual(1, max_overlap(records, 'dest_compute'))
        for host in (SOURCE, 'compute2'):
            self.assertEqual('disabled', self.service(host).status)
        self.assertTrue(os.path.exists(self.report_path(
            host='compute1+compute2')))

    def test_sigint_then_resume(self):
        servers = [self.server('image', name='s%d' % n, fakecloud_hold=6)
                   for n in range(3)]
        env = dict(self.bed.env(), XDG_STATE_HOME=self.state_home)
        cmd = [base._openstack_binary(), '--os-cloud',
               fakecloud.CLOUD_ADMIN, 'compute', 'drain', SOURCE,
               '--max-parallel', '1', '--poll-interval', '1',
               '--on-interrupt', 'wait', '--grace-period', '1']
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(_reap, proc)
        deadline = time.monotonic() + 120
        # Interrupt once the first migration runs.
        while time.monotonic() < deadline:
            if os.path.exists(self.report_path()):
                with open(self.report_path()) as stream:
                    try:
                        states = [e['state'] for e in
                                  json.load(stream)['servers']]
                    except ValueError:
                        states = []
                if 'migrating' in states:
                    break
            time.sleep(0.3)
        proc.send_signal(signal.SIGINT)     # our child, by its PID
        out, err = proc.communicate(timeout=120)
        self.addDetail('interrupted run', _text(err))
        self.assertEqual(exitcodes.DRAIN_INTERRUPTED, proc.returncode, err)
        report = self.load_report()
        self.assertEqual('interrupted', report['state'])
        states = sorted(e['state'] for e in report['servers'])
        self.assertEqual(['migrating', 'not-started', 'not-started'], states)

        # The same command again continues: nothing is redone.
        self.drain(SOURCE, '--max-parallel', '1', '--poll-interval', '1')
        self.assertEqual('complete', self.load_report()['state'])
        records = self.migrations_of(servers)
        self.assertEqual(3, len(records))
        self.assertEqual({s.id for s in servers},
                         {m.server_id for m in records})
        for s in servers:
            self.assertNotEqual(SOURCE,
                                self.compute.get_server(s.id).compute_host)


class TestDrainOldCloud(DrainTestCase):
    """OSP 10 (compute 2.38): disable-log-reason, cold without a host."""

    BED_MAX_MICROVERSION = '2.38'

    def test_drain_238(self):
        live = self.server('image', fakecloud_hold=1)
        stopped = self.server('shutoff')
        res = self.drain(SOURCE, '--poll-interval', '1', '--dry-run')
        plan = {r['Server']: r for r in res.json()['servers']}
        self.assertEqual('scheduler', plan[stopped.id]['Destination'])
        self.drain(SOURCE, '--poll-interval', '1')
        svc = self.service()
        self.assertEqual('disabled', svc.status)
        self.assertIn('migrationclient drain', svc.disabled_reason)
        # The drain claim goes through disable-log-reason as well.
        self.assertTrue(svc.disabled_reason.startswith(
            '[drain:%s] ' % self.load_report()['id']), svc.disabled_reason)
        for s in (live, stopped):
            self.assertNotEqual(SOURCE,
                                self.compute.get_server(s.id).compute_host)


def _reap(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


class TestDrainLibvirt(DrainTestCase):
    """Pinned, PCI and SR-IOV servers on the libvirt-mode bed."""

    BED_DRIVER = 'libvirt'

    def test_pinned_pci_sriov(self):
        pinned = self.server('pinned', name='a-pinned')
        pci = self.server('pci', name='b-pci')
        sriov = self.server('sriov', name='c-sriov')
        before = {s.id: self.compute.get_server(s.id).status
                  for s in (pinned, pci, sriov)}
        plan = {r['Server']: r for r in self.drain(
            SOURCE, '--dry-run').json()['servers']}
        self.assertEqual('live', plan[pinned.id]['Action'])
        # PCI pass-through cannot go live: cold.  Only compute2 has PCI
        # devices; the rules cannot see that (no API shows free devices
        # here), the scheduler can: --retry moves on after NoValidHost.
        self.assertEqual('cold', plan[pci.id]['Action'])
        self.assertIn(plan[sriov.id]['Action'], ('live', 'cold'))
        res = self.drain(SOURCE, '--poll-interval', '1', '--retry')
        rows = {r['Server']: r for r in res.json()}
        for s in (pinned, pci, sriov):
            now = self.compute.get_server(s.id)
            self.assertNotEqual(SOURCE, now.compute_host, s.name)
            self.assertEqual(before[s.id], now.status, s.name)
            self.assertEqual('done', rows[s.id]['State'])
        self.assertEqual('compute2',
                         self.compute.get_server(pci.id).compute_host)
        records = self.migrations_of([pinned, pci, sriov])
        self.assertLessEqual(max_overlap(records, 'dest_compute'), 1)


class TestDrainGaps(DrainTestCase):
    """--target-aggregate, --retry, --on-interrupt abort, a target down.

    Each test drives ``openstack compute drain`` as a child process (its
    PID is the only one signalled) and acts on the cloud while it runs.
    """

    OTHERS = ('compute2', 'compute3')

    def start_drain(self, *args):
        env = dict(self.bed.env(), XDG_STATE_HOME=self.state_home)
        cmd = [base._openstack_binary(), '--os-cloud',
               fakecloud.CLOUD_ADMIN, 'compute', 'drain', SOURCE,
               '-f', 'json'] + list(args)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(_reap, proc)
        return proc

    def finish(self, proc, expect):
        out, err = proc.communicate(timeout=300)
        self.addDetail('drain pid %d' % proc.pid, _text(
            'rc=%d\n%s\n%s' % (proc.returncode, out, err)))
        self.addDetail('migrations after pid %d' % proc.pid, _text('\n'.join(
            '%s %s %s %s->%s %s %s' % (m.id, m.server_id, m.migration_type,
                                       m.source_compute, m.dest_compute,
                                       m.status, m.created_at)
            for m in self.compute.migrations())))
        self.assertEqual(expect, proc.returncode, err[-3000:])
        return {r['Server']: r for r in json.loads(out)}, err

    def wait_entry(self, server, states, path=None, timeout=180):
        """Wait until the report shows ``server`` in one of ``states``."""
        return self.wait_report_entry(path or self.report_path(), server,
                                      states, timeout, interval=0.3)

    def wait_service(self, host, field, value, timeout=90):
        deadline = time.monotonic() + timeout
        while getattr(self.service(host), field) != value:
            self.assertLess(time.monotonic(), deadline,
                            '%s never %s' % (host, value))
            time.sleep(1)

    def entries(self):
        return {e['id']: e for e in self.load_report()['servers']}

    def test_target_aggregate(self):
        conn = self.connection()
        agg = conn.compute.create_aggregate(name='drain-gaps-agg')
        self.addCleanup(conn.compute.delete_aggregate, agg)
        conn.compute.add_host_to_aggregate(agg, 'compute3')
        self.addCleanup(conn.compute.remove_host_from_aggregate, agg,
                        'compute3')
        servers = [self.server('image', name='agg-%d' % n)
                   for n in range(2)]
        servers.append(self.server('shutoff', name='agg-off'))

        res = self.openstack('compute', 'drain', SOURCE,
                             '--target-aggregate', 'no-such-aggregate',
                             check=False,
                             env={'XDG_STATE_HOME': self.state_home})
        self.assertEqual(1, res.returncode)
        self.assertNotIn('Traceback', res.stderr)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        self.assertEqual(['No aggregate named no-such-aggregate.'], lines)
        self.assertEqual('enabled', self.service().status)

        plan = self.drain(SOURCE, '--target-aggregate', 'drain-gaps-agg',
                          '--dry-run').json()['servers']
        self.assertEqual({'compute3'}, {r['Destination'] for r in plan})
        rows = {r['Server']: r for r in self.drain(
            SOURCE, '--target-aggregate', 'drain-gaps-agg',
            '--poll-interval', '1').json()}
        for s in servers:
            self.assertEqual(('done', 'compute3'),
                             (rows[s.id]['State'],
                              rows[s.id]['Destination']), s.name)
            self.assertEqual('compute3',
                             self.compute.get_server(s.id).compute_host)
        self.assertEqual({'compute3'}, {m.dest_compute for m in
                                        self.migrations_of(servers)})
        self.assertEqual(['compute3'],
                         self.load_report()['options']['target_hosts'])

    def test_interrupt_abort_then_resume(self):
        held = self.server('image', name='a-held', fakecloud_stall=30)
        other = self.server('image', name='b-other')
        proc = self.start_drain('--max-parallel', '1', '--poll-interval',
                                '1', '--on-interrupt', 'abort',
                                '--grace-period', '60')
        self.wait_entry(held, ('migrating',))
        mig = self.wait_for_migration(held, ('running',))
        proc.send_signal(signal.SIGINT)     # our child, by its PID
        rows, err = self.finish(proc, exitcodes.DRAIN_INTERRUPTED)
        self.assertIn('interrupted: abort requested', err)
        self.assertEqual('aborted', rows[held.id]['State'])
        self.assertIn('interrupted (SIGINT), aborted',
                      rows[held.id]['Reason'])
        self.assertEqual('not-started', rows[other.id]['State'])
        report = self.load_report()
        self.assertEqual('interrupted', report['state'])
        entry = self.entries()[held.id]
        self.assertEqual(('aborted', SOURCE), (entry['state'],
                                               entry['final_host']))
        for s in (held, other):
            now = self.compute.get_server(s.id)
            self.assertEqual((SOURCE, 'ACTIVE'),
                             (now.compute_host, now.status), s.name)
        recs = self.migrations_of([held])
        self.assertEqual([(mig.id, 'cancelled')],
                         [(m.id, m.status) for m in recs])
        self.assertEqual([], self.migrations_of([other]))

        # --resume REPORT finishes the drain (no stall this time).
        self.compute.delete_server_metadata(held, [fakecloud.META_STALL])
        path = self.report_path()
        rows = {r['Server']: r for r in self.drain(
            '--resume', path, '--poll-interval', '1').json()}
        self.assertEqual({'done'}, {rows[s.id]['State']
                                    for s in (held, other)})
        self.assertEqual('complete', self.load_report()['state'])
        for s in (held, other):
            now = self.compute.get_server(s.id)
            self.assertNotEqual(SOURCE, now.compute_host, s.name)
            self.assertEqual('ACTIVE', now.status, s.name)

    def _refused_second_destination(self, retry, stop=False, expect=None,
                                    room_back=True):
        """a-first runs; the next target is made unusable meanwhile.

        The drain follows its capacity plan (best fit): ``hog`` leaves
        room for one server on compute2, so the plan sends ``a-first``
        there and ``b-next`` (started when it ends, --max-parallel 1) to
        the other one, which the test fills (no RAM left: the scheduler
        answers NoValidHost) or stops (``stop``) while ``a-first`` is
        held.  ``room_back``: ``hog`` is deleted meanwhile, so that
        re-planning ``b-next`` on fresh facts finds compute2.  A disabled
        or down target is left out by the drain itself (see
        test_target_down_mid_drain).
        """
        hog = self.fill(self.OTHERS[0], leave=768)
        first = self.server('image', name='a-first', fakecloud_stall=30)
        nxt = self.server('image', name='b-next')
        args = ['--max-parallel', '1', '--poll-interval', '1',
                '--max-failures', '0']
        if retry:
            args.append('--retry')
        proc = self.start_drain(*args)
        entry = self.wait_entry(first, ('migrating',))
        mig = self.wait_for_migration(first, ('running',))
        dest_first = mig.dest_compute or entry['destination']
        self.assertEqual(self.OTHERS[0], dest_first)
        blocked = [h for h in self.OTHERS if h != dest_first][0]
        self.assertEqual(blocked, self.entries()[nxt.id]['planned'])
        if room_back:
            self.bed.delete_server(hog)
        if stop:
            self.stop_compute(blocked)
            self.wait_service(blocked, 'state', 'down')
        else:
            self.fill(blocked)
        self.compute.force_complete_server_migration(mig.id, first)
        if expect is None:
            expect = exitcodes.OK if retry else exitcodes.DRAIN_INCOMPLETE
        rows, err = self.finish(proc, expect)
        self.assertEqual('done', rows[first.id]['State'])
        self.assertEqual(dest_first,
                         self.compute.get_server(first.id).compute_host)
        report = self.load_report()
        self.assertEqual({first.id, nxt.id},
                         {e['id'] for e in report['servers']})
        return first, nxt, blocked, dest_first, rows, err

    def fill(self, host, leave=256):
        """Take the free RAM of ``host`` but ``leave`` MB, one server."""
        placement = self.connection().placement
        rp = [p for p in placement.resource_providers() if p.name == host][0]
        inv = placement.get('/resource_providers/%s/inventories' % rp.id
                            ).json()['inventories']['MEMORY_MB']
        used = placement.get('/resource_providers/%s/usages' % rp.id
                             ).json()['usages'].get('MEMORY_MB', 0)
        free = int((inv['total'] - inv['reserved']) *
                   inv['allocation_ratio']) - used
        flavor = self.bed.flavor('fc.fill-%d' % (free - leave), 1,
                                 free - leave, 1)
        return self.create_server('image', host=host, flavor=flavor,
                                  name='fill-%s' % host)

    def test_no_retry_no_valid_host_fails(self):
        # No room left anywhere: re-planned on fresh facts, it fits
        # nowhere, so it fails.
        first, nxt, blocked, dest_first, rows, err = \
            self._refused_second_destination(retry=False, room_back=False)
        row = rows[nxt.id]
        self.assertEqual('failed', row['State'])
        self.assertIn('no valid host', row['Reason'].lower())
        entry = self.entries()[nxt.id]
        self.assertEqual((1, blocked), (entry['attempts'],
                                        entry['destination']))
        self.assertIn('no valid host', entry['error'].lower())
        self.assertNotIn('retrying', err)
        now = self.compute.get_server(nxt.id)
        self.assertEqual((SOURCE, 'ACTIVE'), (now.compute_host, now.status))
        self.assertEqual('incomplete', self.load_report()['state'])

    def test_retry_on_no_valid_host(self):
        first, nxt, blocked, dest_first, rows, err = \
            self._refused_second_destination(retry=True)
        # It follows the plan: re-planned on fresh facts (with or without
        # --retry), which finds compute2's room back.
        self.assertIn('re-planned on fresh facts: live to %s' % dest_first,
                      err)
        row = rows[nxt.id]
        self.assertEqual(('done', dest_first),
                         (row['State'], row['Destination']))
        entry = self.entries()[nxt.id]
        self.assertEqual((2, dest_first, dest_first),
                         (entry['attempts'], entry['destination'],
                          entry['final_host']))
        # The first attempt's reason stays in the report.
        self.assertIn('no valid host', entry['error'].lower())
        now = self.compute.get_server(nxt.id)
        self.assertEqual((dest_first, 'ACTIVE'),
                         (now.compute_host, now.status))
        self.assertEqual('complete', self.load_report()['state'])

    def test_target_down_mid_drain(self):
        # The destination b-next would get goes down while a-first runs:
        # the drain reads the services again before it submits b-next
        # (issue #4), leaves the down host out and names the other one.
        first, nxt, blocked, dest_first, rows, err = \
            self._refused_second_destination(retry=False, stop=True,
                                             expect=exitcodes.OK)
        self.assertEqual('down', self.service(blocked).state)
        row = rows[nxt.id]
        self.assertEqual(('done', dest_first),
                         (row['State'], row['Destination']))
        self.assertIn('%s is not used as a destination: nova-compute is '
                      'down' % blocked, err)
        self.assertIn('planned destination unusable (%s: nova-compute is '
                      'down): re-planned on fresh facts: live to %s'
                      % (blocked, dest_first), err)
        now = self.compute.get_server(nxt.id)
        self.assertEqual((dest_first, 'ACTIVE'),
                         (now.compute_host, now.status))
        entry = self.entries()[nxt.id]
        self.assertEqual((1, dest_first), (entry['attempts'],
                                           entry['destination']))
        report = self.load_report()
        self.assertEqual('complete', report['state'])
        self.assertTrue([n for n in report['notes']
                         if '%s is not used' % blocked in n])
        # Nothing was even tried on the down host.
        self.assertEqual([], [m for m in self.migrations_of([nxt])
                              if m.dest_compute == blocked])
