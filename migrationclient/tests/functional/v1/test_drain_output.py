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

"""What ``openstack compute drain`` writes: events, metrics, report paths.

Through the real CLI on the test bed: ``--events FILE`` / ``--events -``
and ``--metrics-file`` (parsed with ``prometheus_client``'s own parser,
compared with the report), ``--dry-run`` leaving every file as it was,
and default reports keyed by the cloud (two clouds.yaml entries for the
same bed, different regions: same host names, different reports).
"""

import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
import time

import openstack.config
import openstack.connection
from prometheus_client import parser
import yaml

from migrationclient.cloud import identity
from migrationclient import exitcodes
from migrationclient.tests.functional.v1 import test_drain
from testbed import fakecloud

SOURCE = test_drain.SOURCE
MOVED = ('done', 'unconfirmed')
FAILED = ('failed', 'aborted', 'timeout')


def parse(text):
    """{name: [(labels, value)]} of a Prometheus text exposition."""
    out = {}
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def value(samples, name, **labels):
    found = [v for lab, v in samples.get(name, ())
             if all(lab.get(k) == v2 for k, v2 in labels.items())]
    return found[0] if len(found) == 1 else found


def tree(top):
    """Every file under ``top``: {relative path: (mode, sha256)}."""
    out = {}
    for d, _dirs, files in os.walk(top):
        for name in files:
            full = os.path.join(d, name)
            with open(full, 'rb') as stream:
                digest = hashlib.sha256(stream.read()).hexdigest()
            out[os.path.relpath(full, top)] = (os.stat(full).st_mode,
                                               digest)
    return out


class MetricsReader(threading.Thread):
    """Parse the metrics file every 0.2 s while the drain runs."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.reads = []
        self.errors = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                with open(self.path) as stream:
                    text = stream.read()
            except FileNotFoundError:
                text = None
            if text is not None:
                try:
                    self.reads.append(parse(text))
                except Exception as exc:     # a torn file: recorded
                    self.errors.append('%s: %r' % (exc, text[:200]))
            self.stop.wait(0.2)


class TestDrainEventsAndMetrics(test_drain.DrainTestCase):

    def setUp(self):
        super().setUp()
        self.out = tempfile.mkdtemp(prefix='drain-out-')
        self.addCleanup(shutil.rmtree, self.out, True)

    def cli(self, *args, **kwargs):
        env = dict(kwargs.pop('env', {}), XDG_STATE_HOME=self.state_home)
        res = self.openstack(*args, check=False, env=env, **kwargs)
        self.addDetail('openstack %s' % ' '.join(args), test_drain._text(
            'rc=%d\n%s\n%s' % (res.returncode, res.stdout, res.stderr)))
        return res

    def test_events_and_metrics_files(self):
        plain = self.server('image', name='a-plain', fakecloud_hold=6)
        failing = self.server('image', name='b-failing', fakecloud_hold=1,
                              fakecloud_fail=1)
        stopped = self.server('shutoff', name='c-stopped')
        ev = os.path.join(self.out, 'drain.jsonl')
        prom = os.path.join(self.out, 'drain.prom')
        reader = MetricsReader(prom)
        reader.start()
        try:
            res = self.drain(SOURCE, '--events', ev, '--metrics-file', prom,
                             '--poll-interval', '1', '--max-failures', '0',
                             '--max-parallel', '3', '--max-per-target', '0',
                             expect=exitcodes.DRAIN_INCOMPLETE)
        finally:
            reader.stop.set()
            reader.join(10)
        report = self.load_report()
        entries = {e['id']: e for e in report['servers']}
        self.assertEqual('incomplete', report['state'])

        # -- events: every line JSON, start first, end last -------------
        self.assertEqual(0o600, stat.S_IMODE(os.stat(ev).st_mode))
        with open(ev) as stream:
            lines = stream.read().splitlines()
        evs = [json.loads(line) for line in lines]
        self.addDetail('events', test_drain._text('\n'.join(lines)))
        self.assertEqual('start', evs[0]['event'])
        self.assertEqual(([SOURCE], 3, 'drain'),
                         (evs[0]['hosts'], evs[0]['servers'],
                          evs[0]['operation']))
        self.assertEqual(self.report_path(), evs[0]['report'])
        end = evs[-1]
        self.assertEqual(('end', 'incomplete', exitcodes.DRAIN_INCOMPLETE),
                         (end['event'], end['state'], end['exit_status']))
        self.assertEqual(1, sum(1 for e in evs if e['event'] == 'start'))
        self.assertEqual(1, sum(1 for e in evs if e['event'] == 'end'))
        # The end event is the result: the report's, server by server.
        self.assertEqual(
            {sid: (e['state'], e['migration_id'], e['final_host'])
             for sid, e in entries.items()},
            {s['server_id']: (s['state'], s['migration_id'], s['host'])
             for s in end['servers']})
        self.assertEqual(report['summary'], end['summary'])

        def of(server):
            return [e for e in evs if e.get('server_id') == server.id]

        def chain(server):
            return [(e['from'], e['to']) for e in of(server)
                    if e['event'] == 'state']

        self.assertEqual([('pending', 'submitted'),
                          ('submitted', 'migrating'),
                          ('migrating', 'done')], chain(plain))
        self.assertEqual([('pending', 'submitted'),
                          ('submitted', 'migrating'),
                          ('migrating', 'done')], chain(stopped))
        self.assertEqual('failed', chain(failing)[-1][1])
        self.assertTrue(of(failing)[-1]['reason'])
        for server in (plain, failing, stopped):
            # The last state of each server is the report's.
            self.assertEqual(entries[server.id]['state'], chain(server)[-1][1])
            for e in of(server):
                self.assertEqual((SOURCE, SOURCE), (e['drain'],
                                                    e['source']))
                if e['state'] in ('migrating', 'done', 'failed'):
                    self.assertEqual(entries[server.id]['migration_id'],
                                     e['migration_id'])
        running = [e for e in of(plain) if e['status'] == 'running' and
                   e['memory'] is not None]
        self.assertTrue(running, of(plain))
        self.assertIsInstance(running[0]['memory']['remaining'], int)
        self.assertEqual(running[0]['memory']['percent'],
                         running[0]['percent'])
        self.assertEqual([100.0], [e['percent'] for e in of(plain)
                                   if e['event'] == 'state' and
                                   e['to'] == 'done'])
        # The progress lines still go to stderr.
        self.assertIn('live migration to', res.stderr)

        # -- metrics: atomic, live values, final values ------------------
        self.assertEqual([], reader.errors)
        self.assertGreater(len(reader.reads), 3)
        plain_mig = str(entries[plain.id]['migration_id'])
        live = [r for r in reader.reads
                if value(r, 'openstack_drain_migrations_in_flight',
                         host=SOURCE) >= 1 and
                value(r, 'openstack_drain_bytes_remaining', host=SOURCE) > 0
                and value(r, 'openstack_migration_progress_ratio',
                          migration=plain_mig) != []]
        self.assertTrue(live, reader.reads[-1])
        with open(prom) as stream:
            final = parse(stream.read())
        moved = sum(1 for e in entries.values() if e['state'] in MOVED)
        failed = sum(1 for e in entries.values() if e['state'] in FAILED)
        self.assertEqual((2, 1), (moved, failed))
        self.assertEqual(1.0, value(final, 'openstack_drain_state',
                                    state='incomplete'))
        self.assertEqual(0.0, value(final, 'openstack_drain_state',
                                    state='running'))
        for name, want in (('openstack_drain_servers', 3),
                           ('openstack_drain_servers_moved', moved),
                           ('openstack_drain_servers_failed', failed),
                           ('openstack_drain_servers_remaining', 1),
                           ('openstack_drain_migrations_in_flight', 0)):
            self.assertEqual(want, value(final, name, host=SOURCE,
                                         drain=SOURCE, operation='drain'),
                             name)
        self.assertEqual([], [n for n in final
                              if n.startswith('openstack_migration_')])
        self.assertEqual(['drain.jsonl', 'drain.prom'],
                         sorted(os.listdir(self.out)))

        # A second run appends its own start ... end to the same file.
        self.drain(SOURCE, '--events', ev, '--poll-interval', '1',
                   expect=exitcodes.DRAIN_INCOMPLETE)
        with open(ev) as stream:
            again = [json.loads(line) for line in stream]
        self.assertEqual(lines, [json.dumps(e, sort_keys=True)
                                 for e in again[:len(lines)]])
        self.assertEqual(('start', 'end'), (again[len(lines)]['event'],
                                            again[-1]['event']))

    def test_events_on_stdout(self):
        server = self.server('image', name='a-plain')
        res = self.cli('compute', 'drain', SOURCE, '--events', '-', '-f',
                       'json')
        self.assertEqual(1, res.returncode)
        self.assertEqual(1, len(res.stderr.strip().splitlines()),
                         res.stderr)
        self.assertIn('--events - writes JSON lines', res.stderr)
        self.assertEqual('', res.stdout)
        self.assertEqual('enabled', self.service().status)
        self.assertEqual([], self.migrations_of([server]))

        res = self.cli('compute', 'drain', SOURCE, '--events', '-',
                       '--poll-interval', '1')
        self.assertEqual(0, res.returncode, res.stderr[-2000:])
        lines = res.stdout.splitlines()
        evs = [json.loads(line) for line in lines]   # nothing else
        self.assertEqual(('start', 'end'), (evs[0]['event'],
                                            evs[-1]['event']))
        self.assertEqual(('complete', 0), (evs[-1]['state'],
                                           evs[-1]['exit_status']))
        self.assertEqual([server.id], [s['server_id']
                                       for s in evs[-1]['servers']])
        self.assertNotIn('Server', res.stdout)
        self.assertIn('1/1 moved', res.stderr)

    def test_dry_run_writes_no_file(self):
        self.server('image', name='a-plain')
        self.drain(SOURCE, '--poll-interval', '1')
        # A complete report: a real drain would archive it; --dry-run
        # leaves it (and everything else) as it is.
        self.assertEqual('complete', self.load_report()['state'])
        self._restore_services()
        self.server('image', name='b-later')
        ev = os.path.join(self.out, 'e.jsonl')
        prom = os.path.join(self.out, 'm.prom')
        before = tree(self.state_home)
        time.sleep(1.1)
        res = self.drain(SOURCE, '--dry-run', '--events', ev,
                         '--metrics-file', prom)
        self.assertEqual(1, len(res.json()['servers']))
        self.assertEqual(before, tree(self.state_home))
        self.assertEqual([], os.listdir(self.out))
        self.assertNotIn('previous complete report', res.stderr)

    def test_unusable_paths_change_nothing(self):
        server = self.server('image')
        for args in (('--events', os.path.join(self.out, 'no/such/e.jsonl')),
                     ('--metrics-file',
                      os.path.join(self.out, 'no/such/m.prom'))):
            res = self.cli('compute', 'drain', SOURCE, *args)
            self.assertEqual(1, res.returncode)
            lines = res.stderr.strip().splitlines()
            self.assertEqual(1, len(lines), res.stderr)
            self.assertIn(args[1], lines[0])
            self.assertEqual('enabled', self.service().status)
            self.assertEqual([], self.migrations_of([server]))
        self.assertFalse(os.path.exists(self.report_path()))


class TestDrainReportPerCloud(test_drain.DrainTestCase):
    """Same host names, two clouds: two reports."""

    def setUp(self):
        super().setUp()
        with open(self.bed.clouds_yaml) as stream:
            clouds = yaml.safe_load(stream)
        two = dict(clouds['clouds'][fakecloud.CLOUD_ADMIN],
                   region_name='RegionTwo')
        clouds['clouds']['bed-two'] = two
        self.clouds_yaml = os.path.join(self.state_home, 'clouds.yaml')
        with open(self.clouds_yaml, 'w') as stream:
            yaml.safe_dump(clouds, stream)
        config = openstack.config.OpenStackConfig(
            config_files=[self.clouds_yaml])
        self.keys = {}
        for name in (fakecloud.CLOUD_ADMIN, 'bed-two'):
            region = config.get_one(cloud=name)
            conn = openstack.connection.Connection(config=region)
            self.keys[name] = identity.cloud_of(conn).key

    def run_on(self, cloud, *args, expect):
        res = self.openstack('compute', 'drain', SOURCE, '--poll-interval',
                             '1', '-f', 'json', *args, cloud=cloud,
                             check=False,
                             env={'XDG_STATE_HOME': self.state_home,
                                  'OS_CLIENT_CONFIG_FILE': self.clouds_yaml})
        self.addDetail('drain on %s' % cloud, test_drain._text(
            'rc=%d\n%s\n%s' % (res.returncode, res.stdout, res.stderr)))
        self.assertEqual(expect, res.returncode, res.stderr[-2000:])
        return res

    def test_two_clouds_same_host(self):
        self.server('image', name='a-fails', fakecloud_hold=1,
                    fakecloud_fail=1)
        one, two = self.keys[fakecloud.CLOUD_ADMIN], self.keys['bed-two']
        self.assertNotEqual(one, two)
        path_one = self.report_path(key=one)
        path_two = self.report_path(key=two)
        res = self.run_on(fakecloud.CLOUD_ADMIN,
                          expect=exitcodes.DRAIN_INCOMPLETE)
        self.assertIn('report: %s' % path_one, res.stderr)
        self.assertNotIn('continuing', res.stderr)
        self.assertEqual('incomplete', self.load_report_at(path_one)['state'])
        # The other cloud does not continue the first one's drain.  One bed
        # plays both clouds: its compute1 carries the first drain's claim,
        # which the second cloud's compute1 would not; enable it between.
        self.openstack('compute', 'service', 'set', '--enable', SOURCE,
                       'nova-compute')
        res = self.run_on('bed-two', expect=exitcodes.DRAIN_INCOMPLETE)
        self.assertIn('report: %s' % path_two, res.stderr)
        self.assertNotIn('continuing', res.stderr)
        # The first cloud again: it continues its own, and says so once.
        self.openstack('compute', 'service', 'set', '--enable', SOURCE,
                       'nova-compute')
        res = self.run_on(fakecloud.CLOUD_ADMIN,
                          expect=exitcodes.DRAIN_INCOMPLETE)
        said = [ln for ln in res.stderr.splitlines()
                if 'continuing the drain recorded in %s' % path_one in ln]
        self.assertEqual(1, len(said), res.stderr)
        self.assertEqual(1, len(self.load_report_at(path_one)['resumed_at']))
        self.assertNotIn('resumed_at', self.load_report_at(path_two))

    def test_report_of_an_earlier_version_is_found(self):
        server = self.server('image', name='a-fails', fakecloud_hold=1,
                             fakecloud_fail=1)
        path = self.report_path(key=self.keys[fakecloud.CLOUD_ADMIN])
        self.run_on(fakecloud.CLOUD_ADMIN, expect=exitcodes.DRAIN_INCOMPLETE)
        # Where the previous version kept it: hosts only.
        legacy = os.path.join(self.state_home, 'migrationclient',
                              'drain-%s.json' % SOURCE)
        os.replace(path, legacy)
        res = self.run_on(fakecloud.CLOUD_ADMIN,
                          expect=exitcodes.DRAIN_INCOMPLETE)
        said = [ln for ln in res.stderr.splitlines()
                if 'by an earlier version' in ln]
        self.assertEqual(1, len(said), res.stderr)
        self.assertIn(legacy, said[0])
        data = self.load_report_at(path)
        self.assertEqual(1, len(data['resumed_at']))
        self.assertEqual([server.id], [e['id'] for e in data['servers']])
        self.assertFalse(os.path.exists(legacy))
        kept = [n for n in os.listdir(os.path.dirname(legacy))
                if n.startswith('drain-%s-' % SOURCE)]
        self.assertEqual(1, len(kept))
        # Continued once: the next run continues the new report.
        res = self.run_on(fakecloud.CLOUD_ADMIN,
                          expect=exitcodes.DRAIN_INCOMPLETE)
        self.assertNotIn('earlier version', res.stderr)
        self.assertIn('continuing the drain recorded in %s' % path,
                      res.stderr)

    def load_report_at(self, path):
        with open(path) as stream:
            return json.load(stream)
