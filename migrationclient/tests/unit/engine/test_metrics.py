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

"""``--metrics-file``: snapshots -> Prometheus text file, read back.

The files are parsed with ``prometheus_client``'s own parser
(``text_string_to_metric_families``), as node_exporter would read them.
"""

import datetime
import json
import os
import subprocess
import sys
from unittest import mock

import fixtures
from prometheus_client import parser
import testtools

from migrationclient.engine import metrics
from migrationclient.engine import report as report_mod
from migrationclient import errors

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                       'samples', 'nova')
SERVER = '4cfba335-03d8-49b2-8c52-e69043d1e8fe'
OTHER = '9168b536-cd40-4630-b43f-b259807c6e87'

# The drain's state sets (engine.drain: MOVED, FAILURES, IN_FLIGHT,
# LEFT_HOST, NONE); TestDrainContract checks they are the drain's.
MOVED = ('done', 'unconfirmed')
FAILED = ('failed', 'aborted', 'timeout')
IN_FLIGHT = ('submitted', 'migrating', 'confirming')
OFF_HOST = ('left-host',)
NOTHING = ('none',)


def counts(entries):
    return metrics.count_servers(entries, MOVED, FAILED, IN_FLIGHT,
                                 OFF_HOST, NOTHING)


#: the watch's MigrationState.to_dict() of the v2.80 server-migrations
#: sample, 42 s into the migration
RUNNING = {
    'id': 1, 'uuid': '12341d4b-346a-40d0-83c6-5f4f6892b650',
    'server_id': SERVER, 'type': 'live-migration', 'source': 'compute1',
    'dest': 'compute2', 'status': 'running', 'outcome': None,
    'elapsed': 42.0, 'stuck': False, 'actions': [],
    'memory': {'total': 123456, 'processed': 12345, 'remaining': 111111,
               'percent': 10.0, 'rate': 2469.0, 'dirty_rate': 0.0,
               'eta': 45.0, 'stalled_for': 0.0},
    'disk': {'total': 234567, 'processed': 23456, 'remaining': 211111,
             'percent': 10.0, 'rate': None, 'dirty_rate': None,
             'eta': None, 'stalled_for': 0.0},
    'reason': None,
}

#: a drain of compute1: one server moved, one migrating (RUNNING), one
#: failed, one waiting, one shelved offloaded (nothing to move)
DRAIN_ENTRIES = [
    ('compute1', 'live', 'done'),
    ('compute1', 'live', 'migrating'),
    ('compute1', 'cold', 'failed'),
    ('compute1', 'live', 'pending'),
    ('compute1', 'none', 'nothing-to-move'),
]
STARTED = 1796292000.0      # 2026-12-03T10:00:00Z
NOW = 1796292300.0


def drain_snapshot(state='running', migrations=None, entries=None):
    return metrics.DrainSnapshot(
        drain='compute1', state=state,
        hosts=counts(DRAIN_ENTRIES if entries is None else entries),
        migrations=tuple(metrics.MigrationSample.from_dict(m) for m in (
            [RUNNING] if migrations is None else migrations)),
        started_at=STARTED)


def parse(text):
    """{(name, ((label, value), ...)): value} of an exposition."""
    out = {}
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples, name, **labels):
    return samples[(name, tuple(sorted(labels.items())))]


def names(samples):
    return {name for name, _labels in samples}


JOB = {'drain': 'compute1', 'operation': 'drain'}
HOST = dict(JOB, host='compute1')
MIG = {'scope': 'drain:compute1', 'migration': '1', 'server': SERVER,
       'type': 'live-migration', 'source': 'compute1', 'dest': 'compute2'}


class TestMigrationSample(testtools.TestCase):

    def test_from_state_dict(self):
        m = metrics.MigrationSample.from_dict(RUNNING)
        self.assertEqual(1, m.id)
        self.assertEqual(SERVER, m.server_id)
        self.assertEqual(111111, m.memory_remaining)
        self.assertEqual(211111, m.disk_remaining)
        self.assertEqual(322222, m.bytes_remaining)
        self.assertEqual(0.1, m.progress)
        self.assertEqual(45.0, m.eta)
        self.assertTrue(m.in_flight)

    def test_cold_migration_has_no_bytes(self):
        m = metrics.MigrationSample.from_dict(
            {'id': 7, 'server_id': OTHER, 'type': 'migration',
             'status': 'migrating', 'outcome': None, 'memory': None,
             'disk': None})
        self.assertIsNone(m.bytes_remaining)
        self.assertIsNone(m.progress)

    def test_ended(self):
        m = metrics.MigrationSample.from_dict(dict(RUNNING,
                                                   outcome='completed'))
        self.assertFalse(m.in_flight)


class TestCountServers(testtools.TestCase):

    def test_counts_per_host(self):
        got = counts(DRAIN_ENTRIES + [('compute3', 'live', 'unconfirmed'),
                                      ('compute3', 'live', 'left-host'),
                                      ('compute3', 'cold', 'aborted')])
        self.assertEqual(
            (metrics.HostCounts(
                host='compute1', servers=4, moved=1, failed=1,
                remaining=3, in_flight=1,
                states=(('done', 1), ('failed', 1), ('migrating', 1),
                        ('nothing-to-move', 1), ('pending', 1))),
             metrics.HostCounts(
                 host='compute3', servers=3, moved=1, failed=1,
                 remaining=1, in_flight=0,
                 states=(('aborted', 1), ('left-host', 1),
                         ('unconfirmed', 1)))),
            got)

    def test_nothing(self):
        self.assertEqual((), counts([]))


class TestDrainRegistry(testtools.TestCase):

    def samples(self, snapshot=None, progress_at=NOW - 10):
        return parse(metrics.exposition(metrics.drain_registry(
            snapshot or drain_snapshot(), NOW, progress_at)))

    def test_counts(self):
        s = self.samples()
        self.assertEqual(4, value(s, 'openstack_drain_servers', **HOST))
        self.assertEqual(1, value(s, 'openstack_drain_servers_moved',
                                  **HOST))
        self.assertEqual(1, value(s, 'openstack_drain_servers_failed',
                                  **HOST))
        self.assertEqual(3, value(s, 'openstack_drain_servers_remaining',
                                  **HOST))
        self.assertEqual(1, value(s, 'openstack_drain_migrations_in_flight',
                                  **HOST))
        self.assertEqual(1, value(s, 'openstack_drain_servers_by_state',
                                  state='nothing-to-move', **HOST))
        self.assertEqual(322222, value(s, 'openstack_drain_bytes_remaining',
                                       **HOST))

    def test_state_is_one_of_four(self):
        s = self.samples(drain_snapshot(state='interrupted'))
        got = {st: value(s, 'openstack_drain_state', state=st, **JOB)
               for st in ('running', 'complete', 'incomplete',
                          'interrupted')}
        self.assertEqual({'running': 0, 'complete': 0, 'incomplete': 0,
                          'interrupted': 1}, got)

    def test_timestamps(self):
        s = self.samples()
        self.assertEqual(STARTED, value(
            s, 'openstack_drain_started_timestamp_seconds', **JOB))
        self.assertEqual(NOW, value(
            s, 'openstack_drain_last_update_timestamp_seconds', **JOB))
        self.assertEqual(NOW - 10, value(
            s, 'openstack_drain_last_progress_timestamp_seconds', **JOB))

    def test_per_migration(self):
        s = self.samples()
        self.assertEqual(111111, value(
            s, 'openstack_migration_memory_remaining_bytes', **MIG))
        self.assertEqual(211111, value(
            s, 'openstack_migration_disk_remaining_bytes', **MIG))
        self.assertEqual(0.1, value(
            s, 'openstack_migration_progress_ratio', **MIG))
        self.assertEqual(45, value(s, 'openstack_migration_eta_seconds',
                                   **MIG))
        self.assertEqual(42, value(s, 'openstack_migration_elapsed_seconds',
                                   **MIG))
        self.assertEqual(0, value(s, 'openstack_migration_stuck', **MIG))

    def test_unknown_values_have_no_sample(self):
        cold = {'id': 7, 'server_id': OTHER, 'type': 'migration',
                'source': 'compute1', 'dest': None, 'status': 'migrating',
                'outcome': None, 'elapsed': 3.0, 'stuck': False,
                'memory': None, 'disk': None}
        s = self.samples(drain_snapshot(migrations=[cold]))
        labels = dict(MIG, migration='7', server=OTHER, type='migration',
                      dest='')
        self.assertEqual(3, value(s, 'openstack_migration_elapsed_seconds',
                                  **labels))
        self.assertNotIn('openstack_migration_memory_remaining_bytes',
                         names(s))
        self.assertNotIn('openstack_migration_eta_seconds', names(s))
        # No byte counters: 0 bytes known to be left, not a missing series.
        self.assertEqual(0, value(s, 'openstack_drain_bytes_remaining',
                                  **HOST))

    def test_ended_migrations_leave_the_file(self):
        s = self.samples(drain_snapshot(
            migrations=[dict(RUNNING, outcome='completed')]))
        self.assertFalse([n for n in names(s)
                          if n.startswith('openstack_migration_')])

    def test_restore_does_not_collide_with_its_drain(self):
        snap = metrics.DrainSnapshot(drain='compute1', state='running',
                                     hosts=counts(DRAIN_ENTRIES),
                                     operation='restore')
        s = self.samples(snap, progress_at=None)
        self.assertEqual(4, value(s, 'openstack_drain_servers',
                                  drain='compute1', operation='restore',
                                  host='compute1'))
        self.assertNotIn('openstack_drain_last_progress_timestamp_seconds',
                         names(s))
        self.assertEqual('restore:compute1', snap.scope)

    def test_every_metric_has_its_help(self):
        text = metrics.exposition(metrics.drain_registry(
            drain_snapshot(), NOW, NOW))
        for family in parser.text_string_to_metric_families(text):
            self.assertEqual(metrics.HELP[family.name],
                             family.documentation)
            self.assertEqual('gauge', family.type)


class TestWatchRegistry(testtools.TestCase):

    def snapshot(self):
        return metrics.WatchSnapshot(
            scope=metrics.watch_scope(host='compute1'),
            migrations=tuple(metrics.MigrationSample.from_dict(m) for m in (
                RUNNING,
                dict(RUNNING, id=2, server_id=OTHER, stuck=True,
                     memory=dict(RUNNING['memory'], remaining=50000,
                                 percent=59.5, eta=None),
                     disk=None),
                dict(RUNNING, id=3, outcome='completed'),
                dict(RUNNING, id=4, outcome='failed'))),
            started_at=STARTED)

    def test_summary(self):
        s = parse(metrics.exposition(metrics.watch_registry(
            self.snapshot(), NOW, NOW - 30)))
        scope = {'scope': 'host:compute1'}
        self.assertEqual(
            {'in-progress': 2, 'completed': 1, 'failed': 1, 'cancelled': 0},
            {o: value(s, 'openstack_migration_watch_migrations', outcome=o,
                      **scope) for o in metrics.OUTCOMES})
        self.assertEqual(1, value(
            s, 'openstack_migration_watch_migrations_stuck', **scope))
        self.assertEqual(322222 + 50000, value(
            s, 'openstack_migration_watch_bytes_remaining', **scope))
        self.assertEqual(NOW - 30, value(
            s, 'openstack_migration_watch_last_progress_timestamp_seconds',
            **scope))
        self.assertEqual(STARTED, value(
            s, 'openstack_migration_watch_started_timestamp_seconds',
            **scope))

    def test_per_migration_in_flight_only(self):
        s = parse(metrics.exposition(metrics.watch_registry(
            self.snapshot(), NOW)))
        ids = {dict(labels)['migration'] for name, labels in s
               if name == 'openstack_migration_stuck'}
        self.assertEqual({'1', '2'}, ids)
        mig2 = dict(MIG, scope='host:compute1', migration='2', server=OTHER)
        self.assertEqual(1, value(s, 'openstack_migration_stuck', **mig2))
        self.assertEqual(0.595, value(
            s, 'openstack_migration_progress_ratio', **mig2))

    def test_scopes(self):
        self.assertEqual('server:%s' % SERVER,
                         metrics.watch_scope(server_id=SERVER))
        self.assertEqual('migration:12',
                         metrics.watch_scope(server_id=SERVER, migration=12))
        self.assertEqual('all', metrics.watch_scope(all_migrations=True))


class TestEpoch(testtools.TestCase):

    def test_report_and_event_times(self):
        self.assertEqual(STARTED, metrics.epoch('2026-12-03T10:00:00Z'))
        self.assertEqual(STARTED + 0.5,
                         metrics.epoch('2026-12-03T10:00:00.500000Z'))
        # What the drain report writes (its started_at).
        when = datetime.datetime(2026, 12, 3, 10, 0, 0,
                                 tzinfo=datetime.timezone.utc)
        self.assertEqual(STARTED, metrics.epoch(report_mod.isotime(when)))

    def test_unreadable(self):
        for text in (None, '', 'yesterday', 42):
            self.assertIsNone(metrics.epoch(text))


class TestProgressMark(testtools.TestCase):

    def test_progress(self):
        mark = metrics.ProgressMark()
        self.assertEqual(0, mark.update(0, 'a', [1], 1000))
        # Same servers, same migration, bytes going down: progress.
        self.assertEqual(10, mark.update(10, 'a', [1], 800))
        # Bytes up and down without a new low (a stuck migration): none.
        self.assertEqual(10, mark.update(20, 'a', [1], 900))
        self.assertEqual(10, mark.update(30, 'a', [1], 850))
        self.assertEqual(10, mark.update(40, 'a', [1], None))
        # Another migration starts: progress, and a new low to beat.
        self.assertEqual(50, mark.update(50, 'a', [1, 2], 5000))
        self.assertEqual(50, mark.update(60, 'a', [1, 2], 5000))
        self.assertEqual(70, mark.update(70, 'a', [1, 2], 4000))
        # A server changes state (the counts move): progress.
        self.assertEqual(80, mark.update(80, 'b', [1, 2], 4000))
        self.assertEqual(80, mark.update(90, 'b', [1, 2], 4000))

    def test_counters_appear(self):
        mark = metrics.ProgressMark()
        mark.update(0, 'a', [1], None)
        self.assertEqual(5, mark.update(5, 'a', [1], 100))


class TestMetricsFile(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'drain-compute1.prom')
        self.now = NOW
        self.file = metrics.MetricsFile(self.path, clock=lambda: self.now)

    def read(self):
        with open(self.path, encoding='utf-8') as stream:
            return parse(stream.read())

    def test_write_and_read_back(self):
        self.assertIsNone(self.file.check())
        self.assertEqual([], os.listdir(self.dir))      # check left nothing
        self.file.write(drain_snapshot())
        s = self.read()
        self.assertEqual(3, value(s, 'openstack_drain_servers_remaining',
                                  **HOST))
        self.assertEqual(NOW, value(
            s, 'openstack_drain_last_progress_timestamp_seconds', **JOB))
        self.assertEqual(['drain-compute1.prom'], os.listdir(self.dir))

    def test_each_poll_replaces_the_file(self):
        self.file.write(drain_snapshot())
        before = os.stat(self.path).st_ino
        with open(self.path, encoding='utf-8') as old:
            # Next poll: the migration ended, the server is done.
            self.now = NOW + 2
            self.file.write(drain_snapshot(
                migrations=[], entries=[('compute1', 'live', 'done')]))
            # A reader of the old file still has all of it: the new file
            # replaced it (rename), nothing was written into it.
            self.assertEqual(3, value(parse(old.read()),
                                      'openstack_drain_servers_remaining',
                                      **HOST))
        self.assertNotEqual(before, os.stat(self.path).st_ino)
        s = self.read()
        self.assertEqual(0, value(s, 'openstack_drain_servers_remaining',
                                  **HOST))
        self.assertEqual(NOW + 2, value(
            s, 'openstack_drain_last_progress_timestamp_seconds', **JOB))
        self.assertNotIn('openstack_migration_stuck', names(s))
        self.assertEqual(['drain-compute1.prom'], os.listdir(self.dir))
        self.assertEqual(2, self.file.writes)

    def test_no_partial_file_is_ever_visible(self):
        self.file.write(drain_snapshot())
        seen = []
        real_rename, real_replace = os.rename, os.replace

        def spy(real):
            def move(src, dst):
                # Just before the switch: the target is the old complete
                # file, the temporary one the new complete file.
                with open(dst, encoding='utf-8') as stream:
                    seen.append(parse(stream.read()))
                with open(src, encoding='utf-8') as stream:
                    seen.append(parse(stream.read()))
                self.assertFalse(src.endswith('.prom'))
                return real(src, dst)
            return move

        with mock.patch('os.rename', spy(real_rename)), \
                mock.patch('os.replace', spy(real_replace)):
            self.file.write(drain_snapshot(state='complete'))
        old, new = seen
        self.assertEqual(1, value(old, 'openstack_drain_state',
                                  state='running', **JOB))
        self.assertEqual(1, value(new, 'openstack_drain_state',
                                  state='complete', **JOB))
        self.assertEqual(new, self.read())

    def test_failed_write_keeps_the_old_file_and_no_temporary(self):
        self.file.write(drain_snapshot())
        with mock.patch('os.rename', side_effect=OSError(28, 'No space')), \
                mock.patch('os.replace', side_effect=OSError(28, 'No space')):
            exc = self.assertRaises(metrics.MetricsError, self.file.write,
                                    drain_snapshot(state='complete'))
        self.assertIsInstance(exc, errors.Error)
        self.assertIn(self.path, str(exc))
        self.assertEqual(1, value(self.read(), 'openstack_drain_state',
                                  state='running', **JOB))
        self.assertEqual(['drain-compute1.prom'], os.listdir(self.dir))

    def test_target_is_a_directory(self):
        os.mkdir(self.path)
        with open(os.path.join(self.path, 'x'), 'w'):
            pass
        self.assertRaises(metrics.MetricsError, self.file.write,
                          drain_snapshot())
        self.assertEqual(['drain-compute1.prom'], os.listdir(self.dir))

    def test_publish_warns_once_per_streak(self):
        said = []
        with mock.patch('os.rename', side_effect=OSError(13, 'Denied')), \
                mock.patch('os.replace', side_effect=OSError(13, 'Denied')):
            self.assertFalse(self.file.publish(drain_snapshot(),
                                               said.append))
            self.assertFalse(self.file.publish(drain_snapshot(),
                                               said.append))
        self.assertEqual(1, len(said))
        self.assertIn('Denied', said[0])
        self.assertTrue(self.file.publish(drain_snapshot(), said.append))
        self.assertIsNone(self.file.error)
        with mock.patch('os.rename', side_effect=OSError(13, 'Denied')), \
                mock.patch('os.replace', side_effect=OSError(13, 'Denied')):
            self.file.publish(drain_snapshot(), said.append)
        self.assertEqual(2, len(said))

    def test_check(self):
        bad = [os.path.join(self.dir, 'no', 'such', 'x.prom'), self.dir, '']
        for path in bad:
            exc = self.assertRaises(metrics.MetricsError,
                                    metrics.MetricsFile(path).check)
            self.assertNotIn('\n', str(exc))
        note = metrics.MetricsFile(os.path.join(self.dir, 'x.txt')).check()
        self.assertIn('*.prom', note)
        self.assertEqual([], os.listdir(self.dir))

    def test_watch_file(self):
        f = metrics.MetricsFile(os.path.join(self.dir, 'watch.prom'),
                                clock=lambda: NOW)
        f.write(metrics.WatchSnapshot(
            scope='server:%s' % SERVER,
            migrations=(metrics.MigrationSample.from_dict(RUNNING),)))
        with open(f.path, encoding='utf-8') as stream:
            s = parse(stream.read())
        self.assertEqual(1, value(s, 'openstack_migration_watch_migrations',
                                  scope='server:%s' % SERVER,
                                  outcome='in-progress'))
        self.assertEqual(111111, value(
            s, 'openstack_migration_memory_remaining_bytes',
            **dict(MIG, scope='server:%s' % SERVER)))


#: The drain of the user guide's sample (doc/source/user/monitoring.rst):
#: compute1, 12 servers, 18 minutes in.  web-3 goes live on shared storage
#: (8 GiB of memory, 62.5 % copied), db-1 block-migrates (4 GiB of memory
#: and a 20 GiB local disk, just started).
DOC_ENTRIES = ([('compute1', 'live', 'done')] * 5 +
               [('compute1', 'cold', 'done'),
                ('compute1', 'live', 'migrating'),
                ('compute1', 'live', 'migrating'),
                ('compute1', 'live', 'failed'),
                ('compute1', 'live', 'pending'),
                ('compute1', 'cold', 'pending'),
                ('compute1', 'none', 'nothing-to-move')])
DOC_MIGRATIONS = (
    {'id': 41, 'server_id': '9df0d5b4-5a43-4a0c-9d35-0d1d2c37e2a1',
     'type': 'live-migration', 'source': 'compute1', 'dest': 'compute2',
     'status': 'running', 'outcome': None, 'elapsed': 95.0,
     'stuck': False,
     'memory': {'total': 8589934592, 'processed': 6442450944,
                'remaining': 3221225472, 'percent': 62.5,
                'rate': 85899345.9, 'dirty_rate': 0.0, 'eta': 37.5,
                'stalled_for': 0.0},
     'disk': None},
    {'id': 42, 'server_id': '1cd7992d-6a0e-4a59-8f77-6a6f0b2f5c3e',
     'type': 'live-migration', 'source': 'compute1', 'dest': 'compute3',
     'status': 'running', 'outcome': None, 'elapsed': 12.0,
     'stuck': False,
     'memory': {'total': 4294967296, 'processed': 268435456,
                'remaining': 4026531840, 'percent': 6.2, 'rate': None,
                'dirty_rate': None, 'eta': None, 'stalled_for': 0.0},
     'disk': {'total': 21474836480, 'processed': 5368709120,
              'remaining': 16106127360, 'percent': 25.0, 'rate': None,
              'dirty_rate': None, 'eta': None, 'stalled_for': 0.0}},
)
DOC_STARTED = 1796292000.0          # 2026-12-03T10:00:00Z
DOC_NOW = DOC_STARTED + 18 * 60
DOC_PROGRESS = DOC_NOW - 4
METRICS_SAMPLES = os.path.join(os.path.dirname(SAMPLES), 'metrics')


def doc_drain_sample():
    """The user guide's drain metrics file, as the drain writes it.

    To regenerate the sample after a change::

        python -c 'from migrationclient.tests.unit.engine import \\
            test_metrics as t; print(t.doc_drain_sample(), end="")' \\
            > migrationclient/tests/unit/samples/metrics/drain-compute1.prom
    """
    snapshot = metrics.DrainSnapshot(
        drain='compute1', state='running', hosts=counts(DOC_ENTRIES),
        migrations=tuple(metrics.MigrationSample.from_dict(m)
                         for m in DOC_MIGRATIONS),
        started_at=DOC_STARTED)
    return metrics.exposition(metrics.drain_registry(snapshot, DOC_NOW,
                                                     DOC_PROGRESS))


def doc_watch_sample():
    """The user guide's watch metrics file (``--host compute1``)."""
    snapshot = metrics.WatchSnapshot(
        scope=metrics.watch_scope(host='compute1'),
        migrations=tuple(metrics.MigrationSample.from_dict(m) for m in (
            DOC_MIGRATIONS[:1] + (dict(DOC_MIGRATIONS[1], id=40,
                                       outcome='completed'),))),
        started_at=DOC_NOW - 120)
    return metrics.exposition(metrics.watch_registry(snapshot, DOC_NOW,
                                                     DOC_PROGRESS))


class TestDocSamples(testtools.TestCase):
    """The samples the user guide shows are what the code writes."""

    def check(self, name, text):
        with open(os.path.join(METRICS_SAMPLES, name),
                  encoding='utf-8') as stream:
            self.assertEqual(parse(stream.read()), parse(text))

    def test_drain(self):
        text = doc_drain_sample()
        self.check('drain-compute1.prom', text)
        s = parse(text)
        self.assertEqual(11, value(s, 'openstack_drain_servers', **HOST))
        self.assertEqual(6, value(s, 'openstack_drain_servers_moved',
                                  **HOST))
        self.assertEqual(4, value(s, 'openstack_drain_servers_remaining',
                                  **HOST) - value(
            s, 'openstack_drain_servers_failed', **HOST))
        self.assertEqual(3221225472 + 4026531840 + 16106127360, value(
            s, 'openstack_drain_bytes_remaining', **HOST))

    def test_watch(self):
        self.check('watch-host-compute1.prom', doc_watch_sample())


class TestImport(testtools.TestCase):

    def test_prometheus_client_loads_on_first_write_only(self):
        code = ('import sys; import migrationclient.engine.metrics; '
                'print("prometheus_client" in sys.modules)')
        out = subprocess.run([sys.executable, '-c', code],
                             capture_output=True, text=True, check=True)
        self.assertEqual('False', out.stdout.strip())


class TestEngineContract(testtools.TestCase):
    """The engines' own values fit the snapshots."""

    def test_watch_state_dict(self):
        from migrationclient.cloud import migrations as cloud
        from migrationclient.engine import watch
        with open(os.path.join(SAMPLES, 'server-migrations', 'v2.80',
                               'migrations-get.json')) as stream:
            record = json.load(stream)['migration']
        state = watch.MigrationState(cloud.Migration.from_sdk(record),
                                     0.0, None, 60, 10)
        state._update_bytes(0.0)
        m = metrics.MigrationSample.from_dict(state.to_dict(42.0))
        self.assertEqual((1, SERVER, 'compute1', 'compute2', 'running'),
                         (m.id, m.server_id, m.source, m.dest, m.status))
        self.assertEqual((111111, 211111), (m.memory_remaining,
                                            m.disk_remaining))
        self.assertAlmostEqual(0.1, m.progress, places=3)
        self.assertEqual(42.0, m.elapsed)
        self.assertTrue(m.in_flight)

    def test_drain_state_sets(self):
        from migrationclient.engine import drain
        self.assertEqual(set(MOVED), set(drain.MOVED))
        self.assertEqual(set(FAILED), set(drain.FAILURES))
        self.assertEqual(set(IN_FLIGHT), set(drain.IN_FLIGHT))
        self.assertEqual(OFF_HOST, (drain.LEFT_HOST,))
        self.assertEqual(NOTHING, (drain.NONE,))
        # remaining == what drain.remaining() returns, per host.
        items = [drain.Item(id=str(n), name='', project_id=None,
                            original_host=host, original_status='ACTIVE',
                            action=action, state=state)
                 for n, (host, action, state) in enumerate(DRAIN_ENTRIES)]
        got = counts((i.original_host, i.action, i.state) for i in items)
        self.assertEqual(len(drain.remaining(items)), got[0].remaining)
