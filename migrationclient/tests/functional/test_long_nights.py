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

"""The faults of long nights (issue 19): ``compute drain`` on the bed when

* the report cannot be written mid-drain (:class:`ReportUnwritableTest`):
  the report's directory is made immutable with ``chattr +i``, which
  stops root too (``EPERM`` on the temporary file of the atomic write);
  where the file system has no immutable flag (tmpfs, overlayfs) the
  directory is moved aside and a plain file put in its place (``ENOTDIR``
  / ``EEXIST``).  A probe write checks that the write really fails;
* Nova's API answers 503 to everything for 30 s, as while its API process
  restarts behind a load balancer (:class:`NovaOutageTest`, through the
  fault-injecting proxy, with the retry settings an operator puts in
  ``clouds.yaml``);
* the bed's nova-api process is stopped (by its PID) and started again
  8 s later (:class:`NovaRestartTest`, on a ``--api-process`` bed, no
  retry settings);
* Keystone tokens expire mid-drain (:class:`TokenExpiryTest`, on the
  ``--keystone`` bed with ``[token] expiration`` = :data:`TOKEN_LIFETIME`):
  with password auth keystoneauth re-authenticates; with token auth the
  drain must stop starting migrations in time, follow what runs as long
  as the token lets it, write its report and exit resumable.

Each test checks every server of the drain against what the cloud says
(host, status, task, migration records: exactly one per server, no
duplicate) and, when the drain could not finish, that ``--resume REPORT``
empties the host afterwards.

Every test here passed once the engine had the issue 19 fixes (report
write failures, API outages, resume after a kill, token expiry).
"""

import os
import shutil
import subprocess
import tempfile
import time

import yaml

from migrationclient.engine import report as report_mod
from migrationclient import exitcodes
from migrationclient.tests.functional import base
from testbed import fakecloud
from testbed import httpproxy

SOURCE = 'compute1'
MOVED = ('done', 'unconfirmed')
IN_FLIGHT = ('submitted', 'migrating', 'confirming')
ON_SOURCE = ('pending', 'not-started', 'aborted', 'failed', 'timeout',
             'skipped')
FAILURES = ('failed', 'aborted', 'timeout')
RUNNING = ('queued', 'preparing', 'running', 'post-migrating', 'accepted',
           'pre-migrating', 'migrating')
ENDED_OK = ('completed', 'confirmed')
RESUMABLE = (exitcodes.DRAIN_INCOMPLETE, exitcodes.DRAIN_INTERRUPTED)

#: As test_faults.OPERATOR_RETRIES: what an operator puts in clouds.yaml,
#: the delays shortened for the tests.
OPERATOR_RETRIES = {
    'status_code_retries': 4,
    'connect_retries': 3,
    'status_code_retry_delay': 0.1,
    'connect_retry_delay': 0.1,
}

#: Keystone ``[token] expiration`` (s) of TokenExpiryTest's bed.  Below
#: keystoneauth's MIN_TOKEN_LIFE_SECONDS (120) a password session
#: re-authenticates before each request; the token test needs the
#: token to outlive a CLI start and a plan on a loaded machine.
TOKEN_LIFETIME = int(os.environ.get('TOKEN_LIFETIME', '60'))


def _text(value):
    from testtools import content
    return content.text_content(value)


class DrainFixture(base.FunctionalTestCase):
    """Helpers shared by the classes below (no tests of its own)."""

    def setUp(self):
        super().setUp()
        self.compute = self.connection().compute
        self.tmp = tempfile.mkdtemp(prefix='long-nights-')
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.addCleanup(self._enable_services)
        self.report = os.path.join(self.tmp, 'reports', 'report.json')
        self.clouds = self.bed.clouds_yaml

    def _enable_services(self):
        for svc in self.compute.services(binary='nova-compute'):
            if svc.status != 'enabled':
                self.compute.enable_service(svc, host=svc.host,
                                            binary='nova-compute')

    def boot(self, metas, prefix='ln'):
        """Servers on SOURCE, named in plan order, one per metadata dict."""
        made = [self.bed.create_server(
            'image', host=SOURCE, wait=False, cleanup=None,
            name='%s-%02d' % (prefix, n),
            metadata={k: str(v) for k, v in meta.items()})
            for n, meta in enumerate(metas)]
        for s in made:
            self.addCleanup(self.bed.delete_server, s.id, False)
        return [self.bed.wait_for_server(s, 'ACTIVE', timeout=180)
                for s in made]

    def env(self, clouds=None):
        return dict(self.bed.env(),
                    OS_CLIENT_CONFIG_FILE=clouds or self.clouds,
                    XDG_STATE_HOME=os.path.join(self.tmp, 'xdg'))

    def drain_args(self, *args):
        return ['compute', 'drain', '--poll-interval', '0.5', '--report',
                self.report, '-f', 'json'] + list(args)

    def child(self, args, pre=(), clouds=None):
        """``openstack [PRE] ARGS`` as a child process; returns finish()."""
        cmd = ([base._openstack_binary(), '--os-cloud',
                fakecloud.CLOUD_ADMIN] + list(pre) + list(args))
        out = open(os.path.join(self.tmp, 'child.out'), 'w+')
        err = open(os.path.join(self.tmp, 'child.err'), 'w+')
        proc = subprocess.Popen(cmd, env=self.env(clouds), stdout=out,
                                stderr=err, stdin=subprocess.DEVNULL)

        def reap():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            out.close()
            err.close()
        self.addCleanup(reap)

        def finish(timeout=400):
            proc.wait(timeout=timeout)
            out.seek(0)
            err.seek(0)
            res = base.CLIResult(list(args), proc.returncode, out.read(),
                                 err.read(), 0)
            self.addDetail('openstack %s' % ' '.join(args), _text(
                'rc=%d\n%s\n%s' % (res.returncode, res.stdout, res.stderr)))
            return res
        finish.proc = proc
        return finish

    def cli(self, args, clouds=None, timeout=400):
        res = self.bed.openstack(*args, check=False, timeout=timeout,
                                 env=self.env(clouds))
        self.addDetail('openstack %s' % ' '.join(args), _text(
            'rc=%d\n%s\n%s' % (res.returncode, res.stdout, res.stderr)))
        return res

    def migrations_of(self, ids):
        found = {i: [] for i in ids}
        for m in self.compute.migrations():
            if m.server_id in found:
                found[m.server_id].append(m)
        return found

    def wait_first_completed(self, ids, timeout):
        """Wait until a migration of one of ``ids`` has completed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(m.status == 'completed' for ms in
                   self.migrations_of(ids).values() for m in ms):
                return
            time.sleep(0.2)
        self.fail('no migration of %s completed within %ds'
                  % (ids, timeout))

    def settle(self, ids, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = [m for m in self.compute.migrations()
                    if m.server_id in ids and m.status in RUNNING]
            tasks = [i for i in ids if self.compute.get_server(i).task_state]
            if not busy and not tasks:
                return
            time.sleep(0.5)
        self.fail('migrations of %s still running' % ids)

    def check_report_vs_cloud(self, data, servers):
        """Every server in the report, its state agreeing with the cloud."""
        entries = {e['id']: e for e in data['servers']}
        self.assertEqual(set(s.id for s in servers),
                         set(entries) & set(s.id for s in servers))
        for s in servers:
            e = entries[s.id]
            now = self.compute.get_server(s.id)
            self.assertIsNone(now.task_state, s.id)
            self.assertNotEqual('VERIFY_RESIZE', now.status, s.id)
            self.assertNotEqual('ERROR', now.status, s.id)
            if e['state'] in MOVED:
                self.assertNotEqual(SOURCE, now.compute_host, e)
            elif e['state'] in ON_SOURCE:
                self.assertEqual(SOURCE, now.compute_host, e)
        return entries

    def resume_empties_host(self, servers, clouds=None, pre=()):
        """``--resume REPORT`` ends complete, every server verified once."""
        ids = [s.id for s in servers]
        res = self.cli(list(pre) + ['compute', 'drain', '--resume',
                                    self.report, '--poll-interval', '0.5',
                                    '-f', 'json'], clouds=clouds)
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr[-3000:])
        self.settle(ids)
        self.check_all_moved(servers)
        self.assertEqual('complete', report_mod.load(self.report)['state'])

    def check_rode_it_out(self, res, servers, before):
        """The drain ended OK, its report complete, every server moved."""
        self.assertNotIn('Traceback', res.stderr)
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr[-3000:])
        self.settle([s.id for s in servers])
        data = report_mod.load(self.report)
        self.assertEqual('complete', data['state'])
        entries = self.check_report_vs_cloud(data, servers)
        self.assertEqual(['done'] * len(servers),
                         [entries[s.id]['state'] for s in servers])
        self.check_all_moved(servers, before)

    def check_all_moved(self, servers, before=None):
        """Off SOURCE, ACTIVE, no task, one migration each, ended well."""
        ids = [s.id for s in servers]
        for s in servers:
            now = self.compute.get_server(s.id)
            self.assertNotEqual(SOURCE, now.compute_host, s.id)
            self.assertEqual(('ACTIVE', None), (now.status, now.task_state),
                             s.id)
        for sid, migs in self.migrations_of(ids).items():
            new = [m for m in migs
                   if before is None or str(m.id) not in before[sid]]
            self.assertEqual(1, len(new), '%s: %s' % (sid, [
                (m.migration_type, m.status) for m in new]))
            self.assertIn(new[0].status, ENDED_OK, sid)


# -- the report cannot be written --------------------------------------------

class ReportBlocker:
    """Make every write into ``directory`` fail, for root too.

    ``chattr +i`` (immutable directory: no entry can be created, renamed
    or removed in it, whatever the caller's rights, on ext4 / xfs / btrfs)
    when the file system allows it; otherwise the directory is moved
    aside and a plain file takes its name.  ``how`` says which one was
    used; ``block()`` checks with a probe that a write really fails.
    """

    def __init__(self, directory):
        self.directory = directory
        self.aside = directory + '.aside'
        self.how = None

    def block(self):
        try:
            subprocess.run(['chattr', '+i', self.directory], check=True,
                           capture_output=True, timeout=30)
            self.how = 'chattr +i'
        except (OSError, subprocess.SubprocessError):
            os.rename(self.directory, self.aside)
            with open(self.directory, 'w'):
                pass
            self.how = 'directory replaced by a file'
        try:
            with open(os.path.join(self.directory, '.probe'), 'w'):
                pass
        except OSError:
            return self.how
        self.unblock()
        raise AssertionError('%s did not stop a write into %s' % (
            self.how, self.directory))

    def unblock(self):
        if self.how == 'chattr +i':
            subprocess.run(['chattr', '-i', self.directory], check=True,
                           capture_output=True, timeout=30)
        elif self.how is not None:
            os.unlink(self.directory)
            os.rename(self.aside, self.directory)
        self.how = None


class ReportUnwritableTest(DrainFixture):
    """The report's directory becomes unwritable while the drain runs.

    Expected: the drain starts nothing new, keeps following what runs,
    tries the report again (and succeeds once the directory is writable
    again), exits non-zero with a clear message; nothing is lost.
    """

    def block_reports(self):
        blocker = ReportBlocker(os.path.dirname(self.report))
        self.addCleanup(blocker.unblock)
        how = blocker.block()
        self.addDetail('how the write fails', _text(how))
        return blocker

    def test_unwritable_then_writable_again(self):
        # Plan order a, b, c.  Nova runs one live migration at a time on
        # the source: of a and b, one waits queued behind the other, then
        # runs 6 s.  Which one runs first is Nova's (its conductor's
        # threads; spread may send them to two destinations), so both
        # hold 6 s: the second still runs when the first has ended.
        servers = self.boot([{fakecloud.META_HOLD: 6},
                             {fakecloud.META_HOLD: 6},
                             {fakecloud.META_HOLD: 1}], prefix='rw')
        a, b, c = servers
        # --max-live-per-source 0: b is submitted while a runs (Nova
        # queues it), so a slot is free when the first one ends.
        finish = self.child(self.drain_args(SOURCE, '--max-parallel', '2',
                                            '--max-live-per-source', '0'))
        self.wait_report_entry(self.report, b, ('submitted', 'migrating'),
                               timeout=120)
        blocker = self.block_reports()
        # the first of a and b ends, a slot is free: the drain must not
        # use it.
        self.wait_first_completed([a.id, b.id], timeout=120)
        time.sleep(2.5)                    # five polls
        started_blind = self.migrations_of([c.id])[c.id]
        still = finish.proc.poll() is None
        blocker.unblock()
        res = finish()
        self.settle([s.id for s in servers])
        self.assertNotIn('Traceback', res.stderr)
        self.assertTrue(still, 'the drain ended while b was still running')
        self.assertEqual([], [(m.status, m.created_at)
                              for m in started_blind],
                         'c was started while the report could not be '
                         'written')
        self.assertIn(res.returncode, RESUMABLE, res.stderr[-3000:])
        self.assertIn('report', res.stderr.strip().splitlines()[-1]
                      if res.stderr.strip() else '', res.stderr[-3000:])
        # Written again once possible: the final state is on disk.
        data = report_mod.load(self.report)
        self.assertIn(data['state'], ('incomplete', 'interrupted'))
        entries = self.check_report_vs_cloud(data, servers)
        self.assertEqual(['done', 'done', 'not-started'],
                         [entries[s.id]['state'] for s in servers])
        self.assertIn('report', entries[c.id]['error'])
        self.resume_empties_host(servers)

    def test_unwritable_until_the_end(self):
        servers = self.boot([{fakecloud.META_HOLD: 2},
                             {fakecloud.META_HOLD: 1}], prefix='ro')
        a, b = servers
        finish = self.child(self.drain_args(SOURCE, '--max-parallel', '1'))
        self.wait_report_entry(self.report, a, ('submitted', 'migrating'),
                               timeout=120)
        with open(self.report) as f:
            on_disk = f.read()
        blocker = self.block_reports()
        res = finish(timeout=240)
        self.settle([s.id for s in servers])
        b_migs = self.migrations_of([b.id])[b.id]
        blocker.unblock()
        self.assertNotIn('Traceback', res.stderr)
        self.assertEqual([], [(m.status, m.created_at) for m in b_migs],
                         'b was started while the report could not be '
                         'written')
        self.assertNotIn(res.returncode, (exitcodes.OK,), res.stderr[-3000:])
        last = res.stderr.strip().splitlines()[-1]
        self.assertIn(self.report, last)
        # a was followed to its end although nothing could be written.
        now = self.compute.get_server(a.id)
        self.assertNotEqual(SOURCE, now.compute_host)
        self.assertEqual(('ACTIVE', None), (now.status, now.task_state))
        # Nothing lost: the output accounts for both servers, and the
        # report last written before the fault is intact and resumable.
        rows = res.json() if res.stdout.strip() else []
        out = {r['Server']: r for r in rows or []}
        self.assertEqual({a.id, b.id}, set(out) & {a.id, b.id},
                         res.stdout)
        with open(self.report) as f:
            self.assertEqual(on_disk, f.read())
        report_mod.load(self.report)
        self.resume_empties_host(servers)


# -- Nova's API unavailable ---------------------------------------------------

class NovaOutageTest(DrainFixture):
    """Nova answers 503 to everything for 30 s during a drain of 10."""

    SERVERS = 10
    OUTAGE = 30.0

    def test_503_for_30_seconds(self):
        proxy = httpproxy.CountingProxy.for_cloud(
            self.bed.clouds_yaml, fakecloud.CLOUD_ADMIN, seed=19,
            max_lifetime=600, idle_timeout=300)
        proxy.start()
        self.addCleanup(proxy.stop)
        clouds = httpproxy.write_proxied_clouds_yaml(
            self.bed.clouds_yaml, os.path.join(self.tmp, 'clouds.yaml'),
            proxy, fakecloud.CLOUD_ADMIN, OPERATOR_RETRIES)
        servers = self.boot([{fakecloud.META_HOLD: 1}] * self.SERVERS,
                            prefix='outage')
        before = {i: {str(m.id) for m in ms} for i, ms in
                  self.migrations_of([s.id for s in servers]).items()}
        finish = self.child(self.drain_args(SOURCE, '--max-parallel', '3',
                                            '--max-per-target', '0'),
                            clouds=clouds)
        self.wait_report_entry(self.report, servers[1], ('done',),
                               timeout=180)
        window = httpproxy.FaultRule(action='status', status=503,
                                     times=None, service='compute',
                                     name='503 window')
        proxy.faults.add(window)
        opened = time.monotonic()
        while time.monotonic() - opened < self.OUTAGE:
            if finish.proc.poll() is not None:
                break
            time.sleep(0.2)
        window.times = window.fired         # closed
        closed_after = round(time.monotonic() - opened, 1)
        res = finish(timeout=400)
        self.addDetail('outage', _text('503 window open %.1f s, %d '
                                       'answers' % (closed_after,
                                                    window.fired)))
        self.assertGreater(window.fired, 0)
        self.check_rode_it_out(res, servers, before)


class NovaRestartTest(DrainFixture):
    """The bed's nova-api process is stopped and started again mid-drain.

    The bed runs with ``--api-process``: the compute endpoint of its
    clouds.yaml is a process of its own, whose PID the bed records
    (``testbed/fakecloud/apiproc.py``); ``restart_api`` stops that PID
    (SIGTERM), keeps it down DOWN seconds (connections refused, open
    keep-alive connections closed, as a restart of nova-api behind no
    load balancer) and starts it again on the same port.  The drain uses
    the bed's plain clouds.yaml: no retry settings.
    """

    BED_ARGS = ('--api-process',)
    SERVERS = 10
    DOWN = 8.0

    def test_api_process_restarted(self):
        servers = self.boot([{fakecloud.META_HOLD: 2}] * self.SERVERS,
                            prefix='restart')
        before = {i: {str(m.id) for m in ms} for i, ms in
                  self.migrations_of([s.id for s in servers]).items()}
        old = self.bed.api_process()
        finish = self.child(self.drain_args(SOURCE, '--max-parallel', '3',
                                            '--max-per-target', '0'))
        self.wait_report_entry(self.report, servers[1], ('done',),
                               timeout=180)
        self.assertIsNone(finish.proc.poll(), 'the drain ended before the '
                          'restart: nothing tested')
        new = self.bed.restart_api(down=self.DOWN)
        self.addDetail('nova-api', _text('pid %s -> %s, down %.0f s' % (
            old['pid'], new['pid'], self.DOWN)))
        self.assertNotEqual(old['pid'], new['pid'])
        self.assertEqual(old['port'], new['port'])
        self.assertEqual(old['restarts'] + 1, new['restarts'])
        # The old process is gone (stopped and reaped by the bed).
        self.assertRaises(ProcessLookupError, os.kill, old['pid'], 0)
        res = finish(timeout=400)
        self.check_rode_it_out(res, servers, before)


# -- Keystone tokens expire mid-drain ----------------------------------------

class TokenExpiryTest(DrainFixture):
    """The ``--keystone`` bed with tokens living TOKEN_LIFETIME seconds."""

    BED_ARGS = ('--keystone', '--token-expiration', str(TOKEN_LIFETIME))

    def token_requests(self):
        """POST /v3/auth/tokens lines of Keystone's access log so far."""
        path = self.bed.state['keystone']['access_log']
        with open(path) as f:
            return sum(1 for line in f
                       if ' POST ' in line and '/v3/auth/tokens' in line)

    def new_token(self):
        """A fresh token of the admin user, and its expiry (UTC)."""
        import openstack.config
        import openstack.connection
        config = openstack.config.OpenStackConfig(
            config_files=[self.bed.clouds_yaml])
        conn = openstack.connection.Connection(
            config=config.get_one(cloud=fakecloud.CLOUD_ADMIN))
        conn.authorize()
        ref = conn.session.auth.auth_ref
        return ref.auth_token, ref.expires

    def token_clouds(self):
        """clouds.yaml whose admin cloud has no password (token auth)."""
        with open(self.bed.clouds_yaml) as f:
            data = yaml.safe_load(f)
        cloud = data['clouds'][fakecloud.CLOUD_ADMIN]
        auth = cloud.get('auth', {})
        for key in ('username', 'password', 'user_domain_name',
                    'user_domain_id', 'user_id'):
            auth.pop(key, None)
        cloud.pop('auth_type', None)
        path = os.path.join(self.tmp, 'clouds-token.yaml')
        with open(path, 'w') as f:
            yaml.safe_dump(data, f)
        return path

    def test_password_auth_outlives_three_tokens(self):
        # Four live migrations one after the other, each held 45 s:
        # about 4 x 48 s >= 3 token lifetimes.
        hold = max(15, (3 * TOKEN_LIFETIME) // 4)
        servers = self.boot([{fakecloud.META_HOLD: hold}] * 4,
                            prefix='pw')
        before = {i: {str(m.id) for m in ms} for i, ms in
                  self.migrations_of([s.id for s in servers]).items()}
        tokens = self.token_requests()
        started = time.monotonic()
        res = self.cli(self.drain_args(SOURCE, '--max-parallel', '1'),
                       timeout=900)
        seconds = time.monotonic() - started
        issued = self.token_requests() - tokens
        self.addDetail('drain', _text('%.0f s, %d token requests, token '
                                      'lifetime %d s' % (
                                          seconds, issued, TOKEN_LIFETIME)))
        self.assertNotIn('Traceback', res.stderr)
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr[-3000:])
        self.assertGreaterEqual(seconds, 3 * TOKEN_LIFETIME)
        self.assertGreaterEqual(issued, 3)
        self.settle([s.id for s in servers])
        data = report_mod.load(self.report)
        self.assertEqual('complete', data['state'])
        self.check_report_vs_cloud(data, servers)
        self.check_all_moved(servers, before)

    def test_token_auth_stops_in_time(self):
        # Three live migrations one after the other, held 25 s each: the
        # token (TOKEN_LIFETIME s from its issue, a CLI start and a plan
        # before the first request) cannot last the drain.
        servers = self.boot([{fakecloud.META_HOLD: 25}] * 3, prefix='tk')
        ids = [s.id for s in servers]
        token, expires = self.new_token()
        clouds = self.token_clouds()
        finish = self.child(
            self.drain_args(SOURCE, '--max-parallel', '1'),
            pre=['--os-auth-type', 'token', '--os-token', token],
            clouds=clouds)
        res = finish(timeout=600)
        self.settle(ids)
        self.addDetail('token', _text('expires %s' % expires.isoformat()))
        self.assertNotIn('Traceback', res.stderr)
        self.assertIn(res.returncode, RESUMABLE, res.stderr[-3000:])
        # One clear line about the token, not a flood of 401s.
        lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
        about = [ln for ln in lines if 'token' in ln.lower() and
                 'expir' in ln.lower()]
        self.assertTrue(about, res.stderr[-3000:])
        refusals = [ln for ln in lines if '401' in ln or
                    'requires authentication' in ln or
                    'Failed to validate token' in ln]
        self.assertLessEqual(len(refusals), 1, res.stderr[-3000:])
        # No migration was requested once the token had expired, and no
        # server was failed because of it.
        for sid, migs in self.migrations_of(ids).items():
            for m in migs:
                self.assertLess(_utc(m.created_at), expires, sid)
        data = report_mod.load(self.report)
        self.assertIn(data['state'], ('incomplete', 'interrupted'))
        entries = self.check_report_vs_cloud(data, servers)
        failed = [(e['id'], e['state'], e.get('error'))
                  for e in entries.values() if e['state'] in FAILURES]
        self.assertEqual([], failed)
        # Resumed with password auth: the host empties (what is still
        # to start goes quickly now).
        for s in servers:
            if entries[s.id]['state'] in ON_SOURCE:
                self.compute.set_server_metadata(
                    s.id, **{fakecloud.META_HOLD: '1'})
        self.resume_empties_host(servers)


def _utc(text):
    import datetime
    when = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when
