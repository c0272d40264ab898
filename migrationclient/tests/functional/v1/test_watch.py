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

"""``openstack migration watch`` against the fake cloud (real Nova 34).

The fake driver is steered by server metadata (see
``testbed.fakecloud``): ``hold`` keeps a live
migration ``running`` with memory progress every 0.5 s, ``stall`` stops the
progress until abort / force-complete, ``fail`` rolls it back.  Migrations
are started through openstacksdk; the command runs in-process (OSC shell,
real HTTP to the bed); results are checked through openstacksdk.
"""

import csv
import io
import json
import os
import select
import signal
import subprocess
import threading
import time

import fixtures
from openstack import exceptions as sdk_exc
from prometheus_client import parser as prom_parser
from testtools import content
import yaml

from migrationclient.engine import watch
from migrationclient import exitcodes
from migrationclient.tests.functional import base
from migrationclient.v1 import watch as v1watch
from testbed import fakecloud

SOURCE = 'compute1'


class WatchTestCase(base.FunctionalTestCase):

    def live_migrate(self, server, host=None):
        compute = self.connection().compute
        compute.live_migrate_server(server, host=host,
                                    block_migration='auto')

    def wait_status(self, server, statuses, timeout=60):
        return self.wait_for_migration(server, statuses, timeout=timeout)

    def abort_if_running(self, server):
        compute = self.connection().compute
        for m in compute.server_migrations(server):
            try:
                compute.abort_server_migration(m.id, server)
            except sdk_exc.SDKException:
                pass

    def watch(self, *args, check=False):
        return self.osc('migration', 'watch', *args, check=check)

    def json_lines(self, result):
        """Parse every stdout line; events, then the summary (a list)."""
        docs = [json.loads(line) for line in result.stdout.splitlines()]
        self.assertIsInstance(docs[-1], list)
        return docs[:-1], docs[-1]

    def host_of(self, server):
        return self.connection().compute.get_server(server.id).compute_host


class TestWatchLive(WatchTestCase):

    def test_held_migration_running_with_growing_progress(self):
        server = self.create_server(host=SOURCE,
                                    metadata={fakecloud.META_HOLD: '6'})
        self.live_migrate(server)
        mig = self.wait_status(server, ('running',))
        res = self.watch(server.id, '--interval', '0.5', '-f', 'json')
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        events, summary = self.json_lines(res)
        progress = [e for e in events if e['event'] == 'progress']
        self.assertGreaterEqual(len(progress), 3, res.stdout)
        self.assertTrue(all(e['status'] == 'running' for e in progress))
        percents = [e['memory']['percent'] for e in progress]
        self.assertEqual(sorted(percents), percents)
        self.assertLess(percents[0], percents[-1])
        self.assertTrue(any(e['memory']['rate'] for e in progress))
        self.assertTrue(any(e['memory']['eta'] is not None
                            for e in progress))
        ended = events[-1]
        self.assertEqual(('ended', 'completed', mig.id),
                         (ended['event'], ended['outcome'], ended['id']))
        self.assertEqual('completed', summary[0]['Status'])
        self.assertNotEqual(SOURCE, self.host_of(server))

    def test_plain_lines_when_not_a_tty(self):
        server = self.create_server(host=SOURCE,
                                    metadata={fakecloud.META_HOLD: '4'})
        self.live_migrate(server)
        self.wait_status(server, ('running',))
        res = self.watch(server.id, '--interval', '0.5', '-f', 'value')
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        # not a terminal: the event lines go to stderr, stdout holds the
        # summary's values only
        lines = res.stderr.splitlines()
        self.assertTrue(any(' progress migration=' in ln and '%' in ln
                            for ln in lines), res.stderr)
        self.assertTrue(any(' status migration=' in ln and
                            'running -> completed' in ln for ln in lines),
                        res.stderr)
        self.assertNotIn('\x1b[', res.stderr)
        self.assertNotIn('\x1b[', res.stdout)
        self.assertNotIn(' migration=', res.stdout)
        self.assertEqual(1, len(res.stdout.splitlines()), res.stdout)


class TestWatchOutputFormats(WatchTestCase):
    """Issue 18: every -f parses; stdout holds nothing else."""

    def check_format(self, fmt, stdout, mig_id):
        """Parse ``stdout`` as ``-f fmt``: the one summary row."""
        if fmt == 'json':
            lines = stdout.splitlines()
            docs = [json.loads(line) for line in lines]   # every line
            rows = docs[-1]
            self.assertTrue(all(isinstance(d, dict) for d in docs[:-1]))
        elif fmt == 'yaml':
            rows = yaml.safe_load(stdout)
        elif fmt == 'csv':
            table = list(csv.reader(io.StringIO(stdout)))
            self.assertEqual(list(v1watch.COLUMNS), table[0])
            rows = [dict(zip(table[0], r)) for r in table[1:]]
        elif fmt == 'value':
            lines = stdout.splitlines()
            self.assertEqual(1, len(lines), stdout)
            rows = [{'ID': lines[0].split()[0]}]
        else:                                   # table
            lines = stdout.splitlines()
            self.assertTrue(lines, stdout)
            for line in lines:
                self.assertRegex(line, r'^(\+[-+]+\+|\|.*\|)$', stdout)
            head = [c.strip() for c in lines[1].strip('|').split('|')]
            self.assertEqual(list(v1watch.COLUMNS), head)
            cells = [c.strip() for c in lines[3].strip('|').split('|')]
            rows = [dict(zip(head, cells))]
        self.assertEqual(1, len(rows), stdout)
        self.assertEqual(str(mig_id), str(rows[0]['ID']))
        self.assertNotIn('\x1b[', stdout)
        return rows[0]

    def test_every_format_parses_and_stdout_has_nothing_else(self):
        server = self.create_server(host=SOURCE,
                                    metadata={fakecloud.META_HOLD: '4'})
        self.live_migrate(server)
        mig = self.wait_status(server, ('running',))
        # during the migration: events on stderr, the YAML summary alone
        # on stdout
        res = self.watch(server.id, '--interval', '0.5', '-f', 'yaml')
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        row = self.check_format('yaml', res.stdout, mig.id)
        self.assertEqual('completed', row['Status'])
        self.assertIn(' status migration=%s ' % mig.id, res.stderr)
        self.assertIn(' ended migration=%s ' % mig.id, res.stderr)
        # every format, on the ended migration
        for fmt in ('table', 'value', 'csv', 'yaml', 'json'):
            res = self.watch(server.id, str(mig.id), '-f', fmt)
            self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
            self.check_format(fmt, res.stdout, mig.id)
            self.assertNotIn('Traceback', res.stderr)
            if fmt == 'json':
                self.assertEqual('', res.stderr)
            else:
                self.assertIn(' ended migration=%s ' % mig.id, res.stderr)


class TestWatchMetrics(WatchTestCase):
    """--metrics-file: rewritten atomically on each poll, parses."""

    @staticmethod
    def samples(text):
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in prom_parser.text_string_to_metric_families(
                    text) for s in family.samples}

    def outcome(self, samples, outcome):
        return [v for (name, labels), v in samples.items()
                if name == 'openstack_migration_watch_migrations'
                and dict(labels)['outcome'] == outcome]

    def test_metrics_file_during_and_after(self):
        server = self.create_server(host=SOURCE,
                                    metadata={fakecloud.META_HOLD: '5'})
        self.live_migrate(server)
        mig = self.wait_status(server, ('running',))
        tmp = self.useFixture(fixtures.TempDir()).path
        prom = os.path.join(tmp, 'watch.prom')
        seen, errors, done = [], [], threading.Event()

        def reader():
            while not done.is_set():
                try:
                    with open(prom) as handle:
                        text = handle.read()
                except FileNotFoundError:
                    text = None
                if text is not None:
                    try:
                        seen.append(self.samples(text))
                    except Exception as exc:    # not atomic: a torn file
                        errors.append('%r: %s' % (text[-200:], exc))
                time.sleep(0.1)

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            res = self.watch(server.id, '--interval', '0.5',
                             '--metrics-file', prom, '-f', 'json')
        finally:
            done.set()
            thread.join()
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        self.json_lines(res)             # stdout: JSON lines, unchanged
        self.assertEqual([], errors)
        self.assertTrue(seen, 'the file was never read')
        flight = [s for s in seen if self.outcome(s, 'in-progress') == [1]]
        self.assertTrue(flight, seen[:3])
        progress = [v for s in flight for (name, labels), v in s.items()
                    if name == 'openstack_migration_progress_ratio'
                    and dict(labels)['migration'] == str(mig.id)]
        self.assertTrue(progress, flight[-1])
        with open(prom) as handle:
            final = self.samples(handle.read())
        self.assertEqual([1], self.outcome(final, 'completed'))
        self.assertEqual([0], self.outcome(final, 'in-progress'))
        self.assertFalse([name for name, _l in final
                          if name.startswith('openstack_migration_')
                          and not name.startswith(
                              'openstack_migration_watch_')], final)
        self.assertEqual(['watch.prom'], os.listdir(tmp))

    def test_unusable_path_is_one_line(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        prom = os.path.join(tmp, 'no', 'such', 'watch.prom')
        res = self.watch('--all', '--metrics-file', prom)
        self.assertEqual(1, res.returncode, res.stderr)
        self.assertEqual(1, len(res.stderr.strip().splitlines()),
                         res.stderr)
        self.assertIn('Cannot write the metrics file %s' % prom, res.stderr)
        self.assertNotIn('Traceback', res.stderr)
        self.assertEqual('', res.stdout)


class TestWatchCold(WatchTestCase):

    def test_cold_migration_statuses_until_finished(self):
        server = self.create_server(host=SOURCE, metadata={
            fakecloud.META_COLD_HOLD: '4'})
        self.connection().compute.migrate_server(server)
        self.wait_status(server, ('pre-migrating', 'migrating'))
        res = self.watch(server.id, '--interval', '0.5', '-f', 'json')
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        events, summary = self.json_lines(res)
        self.assertEqual({'migration'}, {e['type'] for e in events})
        self.assertTrue(all(e['memory'] is None for e in events))
        self.assertIn('migrating', [e['status'] for e in events])
        self.assertEqual('finished', events[-1]['status'])
        self.assertIn('VERIFY_RESIZE', events[-1]['message'])
        self.wait_for_server(server, 'VERIFY_RESIZE')


class TestWatchStall(WatchTestCase):

    def stalled(self):
        server = self.create_server(host=SOURCE,
                                    metadata={fakecloud.META_STALL: '40'})
        self.addCleanup(self.abort_if_running, server.id)
        self.live_migrate(server)
        self.wait_status(server, ('running',))
        return server

    def test_stuck_is_aborted_server_stays_on_source(self):
        server = self.stalled()
        res = self.watch(server.id, '--interval', '0.5', '--stuck-window',
                         '3', '--on-stuck', 'abort', '-f', 'json')
        self.assertEqual(exitcodes.WATCH_CANCELLED, res.returncode,
                         res.stderr)
        events, summary = self.json_lines(res)
        stuck = [e for e in events if e['event'] == 'stuck']
        self.assertEqual(1, len(stuck))
        self.assertRegex(stuck[0]['message'],
                         r'^stuck: \S+ \S+ of \S+ \S+ memory remaining, no '
                         r'progress for \d+s \(')
        self.assertEqual(40.0, stuck[0]['memory']['percent'])
        self.assertIn('abort', [e.get('action') for e in events])
        self.assertEqual('cancelled', summary[0]['Status'])
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertEqual(SOURCE, server.compute_host)

    def test_stuck_is_forced_to_complete_server_moves(self):
        server = self.stalled()
        res = self.watch(server.id, '--interval', '0.5', '--stuck-window',
                         '3', '--on-stuck', 'force-complete', '-f', 'json')
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        self.assertIn('pauses the guest', res.stderr)
        events, summary = self.json_lines(res)
        self.assertEqual(['stuck'], [e['event'] for e in events
                                     if e['event'] == 'stuck'])
        self.assertEqual('force-complete', [
            e for e in events if e['event'] == 'action'][0]['action'])
        self.assertEqual('completed', summary[0]['Status'])
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertNotEqual(SOURCE, server.compute_host)

    def test_stuck_reported_until_timeout(self):
        server = self.stalled()
        res = self.watch(server.id, '--interval', '0.5', '--stuck-window',
                         '2', '--timeout', '4', '-f', 'value')
        self.assertEqual(exitcodes.WATCH_STUCK, res.returncode, res.stderr)
        self.assertIn(' stuck migration=', res.stderr)
        self.assertNotIn(' migration=', res.stdout)
        # report only: the migration goes on
        migs = self.connection().compute.server_migrations(server.id)
        self.assertEqual(['running'], [m.status for m in migs])

    def test_abort_after(self):
        server = self.stalled()
        res = self.watch(server.id, '--interval', '0.5', '--abort-after',
                         '1', '-f', 'json')
        self.assertEqual(exitcodes.WATCH_CANCELLED, res.returncode,
                         res.stderr)
        events, summary = self.json_lines(res)
        self.assertIn('--abort-after 1s', [
            e for e in events if e['event'] == 'action'][0]['message'])

    def test_abort_while_preparing_from_265(self):
        server = self.create_server(host=SOURCE, metadata={
            fakecloud.META_PREPARE_HOLD: '8', fakecloud.META_STALL: '30'})
        self.addCleanup(self.abort_if_running, server.id)
        self.live_migrate(server)
        self.wait_status(server, ('preparing',))
        res = self.watch(server.id, '--interval', '0.5', '--abort-after',
                         '0', '-f', 'json')
        self.assertEqual(exitcodes.WATCH_CANCELLED, res.returncode,
                         res.stderr)
        events, summary = self.json_lines(res)
        action = [e for e in events if e['event'] == 'action'][0]
        self.assertEqual('preparing', action['status'])
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertEqual(SOURCE, server.compute_host)


class TestWatchOSP10(WatchTestCase):
    """A cloud capped at compute API 2.38 (OSP 10 / Newton)."""

    BED_MAX_MICROVERSION = '2.38'

    def test_preparing_abort_waits_for_running(self):
        server = self.create_server(host=SOURCE, metadata={
            fakecloud.META_PREPARE_HOLD: '6', fakecloud.META_STALL: '30'})
        self.addCleanup(self.abort_if_running, server.id)
        self.live_migrate(server)
        self.wait_status(server, ('preparing',))
        res = self.watch(server.id, '--interval', '0.5', '--abort-after',
                         '0', '-f', 'json')
        self.assertEqual(exitcodes.WATCH_CANCELLED, res.returncode,
                         res.stderr)
        events, summary = self.json_lines(res)
        kinds = [(e['event'], e['status']) for e in events]
        warning = [e for e in events if e['event'] == 'warning'][0]
        self.assertEqual('preparing', warning['status'])
        self.assertIn('needs compute API 2.65', warning['message'])
        self.assertLess(kinds.index(('warning', 'preparing')),
                        kinds.index(('action', 'running')))
        self.assertIsNone(events[0]['uuid'])           # no uuid before 2.59
        self.assertTrue(any(e['memory'] for e in events))   # 2.23+ bytes
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertEqual(SOURCE, server.compute_host)


class TestWatchTty(WatchTestCase):

    def test_progress_bars_redrawn_in_place(self):
        import os
        import pty
        import subprocess
        server = self.create_server(host=SOURCE,
                                    metadata={fakecloud.META_HOLD: '15'})
        self.live_migrate(server)
        self.wait_status(server, ('running',))
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        proc = subprocess.Popen(
            [base._openstack_binary(), '--os-cloud', fakecloud.CLOUD_ADMIN,
             'migration', 'watch', server.id, '--interval', '0.5'],
            stdout=slave, stderr=subprocess.PIPE, env=self.bed.env())
        os.close(slave)
        out = base.read_terminal(master).decode()
        proc.wait(timeout=120)     # the one process this test started
        self.assertEqual(exitcodes.OK, proc.returncode, proc.stderr.read())
        proc.stderr.close()
        self.assertIn('\x1b[1A\r\x1b[J', out)         # one bar redrawn
        self.assertRegex(out, r'\[#+\.*\] +\d+\.\d%')
        self.assertIn('[####################] completed', out)


class TestWatchFailures(WatchTestCase):

    def test_failed_precheck_exits_non_zero_with_event_message(self):
        # Live migration to the server's own host: Nova's conductor fails
        # it (NoValidHost); the reason is only in the instance action.
        server = self.create_server(host=SOURCE)
        try:
            self.live_migrate(server, host=SOURCE)
        except sdk_exc.BadRequestException:
            pass
        mig = self.wait_status(server, ('error', 'failed'))
        res = self.watch(server.id, mig.id, '-f', 'value')
        self.assertEqual(exitcodes.WATCH_FAILED, res.returncode, res.stderr)
        self.assertIn('No valid host was found', res.stderr)   # the event
        self.assertIn('No valid host was found', res.stdout)   # Reason

    def test_rolled_back_migration_exits_failed(self):
        server = self.create_server(host=SOURCE, metadata={
            fakecloud.META_HOLD: '3', fakecloud.META_FAIL: '1'})
        self.live_migrate(server)
        self.wait_status(server, ('running',))
        res = self.watch(server.id, '--interval', '0.5', '-f', 'value')
        self.assertEqual(exitcodes.WATCH_FAILED, res.returncode, res.stderr)
        self.assertIn('ended failed', res.stderr)
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertEqual(SOURCE, server.compute_host)

    def test_bad_input_is_one_line(self):
        server = self.create_server(host=SOURCE)
        other = self.create_server(host=SOURCE)
        self.live_migrate(other)
        mig = self.wait_status(other, ('completed',))
        for args, text in (
                (('no-such-server',), 'No server with a name or ID'),
                ((server.id, '99999'), 'No migration 99999'),
                ((server.id, str(mig.id)), 'belongs to server %s' % other.id),
                (('--host', 'compute',), 'No nova-compute service on host'),
                ((server.id,), 'has no migration')):
            res = self.watch(*args)
            self.assertEqual(1, res.returncode, args)
            self.assertIn(text, res.stderr)
            self.assertNotIn('Traceback', res.stderr)
            self.assertEqual(1, len(res.stderr.strip().splitlines()),
                             res.stderr)

    def test_finished_migration_prints_final_state(self):
        server = self.create_server(host=SOURCE)
        self.live_migrate(server)
        mig = self.wait_status(server, ('completed',))
        res = self.watch(server.id, mig.uuid, '-f', 'json')
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        events, summary = self.json_lines(res)
        self.assertEqual(['new', 'ended'], [e['event'] for e in events])
        self.assertEqual('completed', summary[0]['Status'])

    def test_not_admin(self):
        server = self.create_server(cloud=fakecloud.CLOUD_MEMBER)
        res = self.osc('migration', 'watch', server.id,
                       cloud=fakecloud.CLOUD_MEMBER, check=False)
        self.assertEqual(1, res.returncode)
        self.assertIn('admin', res.stderr)
        self.assertNotIn('Traceback', res.stderr)


class TestWatchHost(WatchTestCase):

    def test_host_watches_several(self):
        a = self.create_server(host=SOURCE,
                               metadata={fakecloud.META_HOLD: '3'})
        b = self.create_server(host=SOURCE,
                               metadata={fakecloud.META_HOLD: '3'})
        self.live_migrate(a)
        self.live_migrate(b)     # queued: one live migration per host
        self.wait_status(a, ('running',))
        res = self.watch('--host', SOURCE, '--interval', '0.5', '-f',
                         'json')
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        events, summary = self.json_lines(res)
        self.assertEqual({a.id, b.id}, {row['Server'] for row in summary})
        self.assertEqual({'completed'}, {row['Status'] for row in summary})
        statuses = [(e['server_id'], e['status']) for e in events]
        self.assertIn((b.id, 'running'), statuses)
        self.assertNotEqual(SOURCE, self.host_of(a))
        self.assertNotEqual(SOURCE, self.host_of(b))

    def test_requests_per_poll(self):
        """Measure the requests of one poll.

        One for a server; for a host, os-migrations plus the server
        migrations of each running live migration.
        """
        conn = self.connection()
        compute = conn.compute
        calls = []
        original = compute.request

        def counting(url, method, *args, **kwargs):
            calls.append((method, url.split('?')[0]))
            return original(url, method, *args, **kwargs)

        compute.request = counting
        self.addCleanup(setattr, compute, 'request', original)
        a = self.create_server(host=SOURCE,
                               metadata={fakecloud.META_HOLD: '5'})
        b = self.create_server(host=SOURCE,
                               metadata={fakecloud.META_HOLD: '3'})
        self.live_migrate(a)
        self.live_migrate(b)
        self.wait_status(a, ('running',))

        w = watch.Watcher(compute, server_id=a.id)
        w.start()
        del calls[:]
        w.poll()
        self.assertEqual([('GET', '/servers/%s/migrations' % a.id)], calls)

        h = watch.Watcher(compute, host=SOURCE)
        h.start()
        self.assertEqual(2, len(h.active))      # a running, b queued
        del calls[:]
        h.poll()
        # the list, and a's progress if its record changed since the
        # baseline read (the bed saves new counters every 0.5 s)
        self.assertEqual(('GET', '/os-migrations'), calls[0])
        self.assertIn(calls[1:], ([], [('GET', '/servers/%s/migrations'
                                        % a.id)]))
        while not h.finished:
            time.sleep(0.5)
            h.poll()
        self.assertEqual({'completed'},
                         {s.status for s in h.states.values()})


class TestWatchOldMicroversion(WatchTestCase):

    def test_below_223_statuses_without_progress(self):
        server = self.create_server(host=SOURCE,
                                    metadata={fakecloud.META_HOLD: '3'})
        self.live_migrate(server)
        self.wait_status(server, ('running',))
        res = self.osc('--os-compute-api-version', '2.22', 'migration',
                       'watch', server.id, '--interval', '0.5', '-f', 'json',
                       check=False)
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        self.assertIn('no byte progress', res.stderr)
        events, summary = self.json_lines(res)
        self.assertTrue(all(e['memory'] is None for e in events))
        self.assertEqual('completed', events[-1]['status'])

    def test_abort_needs_224(self):
        server = self.create_server(host=SOURCE)
        res = self.osc('--os-compute-api-version', '2.23', 'migration',
                       'watch', server.id, '--on-stuck', 'abort',
                       check=False)
        self.assertEqual(1, res.returncode)
        self.assertIn('needs compute API 2.24', res.stderr)


class TestWatchAll(WatchTestCase):

    def test_all_follows_two_hosts_to_completion(self):
        # The bed runs one live migration at a time: b waits (queued)
        # while a runs; both must still be in progress when the watch
        # starts, on a loaded machine too.
        a = self.create_server(host='compute1',
                               metadata={fakecloud.META_HOLD: '6'})
        b = self.create_server(host='compute2',
                               metadata={fakecloud.META_HOLD: '2'})
        self.live_migrate(a, host='compute3')
        self.live_migrate(b, host='compute3')
        self.wait_status(a, ('running',))
        self.wait_status(b, ('queued', 'preparing', 'running'))
        res = self.watch('--all', '--interval', '0.5', '-f', 'json')
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        events, summary = self.json_lines(res)      # every line parses
        rows = {row['Server']: row for row in summary}
        self.assertEqual({'compute1', 'compute2'},
                         {rows[s.id]['Source'] for s in (a, b)})
        self.assertEqual({'completed'}, {row['Status'] for row in summary})
        mine = [e for e in events if e['server_id'] in (a.id, b.id)]
        self.assertEqual({(a.id, 'completed'), (b.id, 'completed')},
                         {(e['server_id'], e['outcome']) for e in mine
                          if e['event'] == 'ended'})
        self.assertEqual('compute3', self.host_of(a))
        self.assertEqual('compute3', self.host_of(b))


def _default_sigint():
    # A test run started in the background of a shell without job control
    # inherits SIGINT ignored, and so would the CLI: Python then installs
    # no KeyboardInterrupt handler and Ctrl-C would not reach the watch.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class TestWatchInterrupt(WatchTestCase):

    def read_lines(self, proc, count, timeout=60):
        """The first ``count`` stdout lines of ``proc`` (bytes, unbuffered)."""
        data = b''
        deadline = time.monotonic() + timeout
        fd = proc.stdout.fileno()
        while data.count(b'\n') < count:
            left = deadline - time.monotonic()
            self.assertGreater(left, 0, 'no output from the watch: %r' % data)
            ready, _w, _x = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                self.assertTrue(chunk, 'the watch ended early: %r' % data)
                data += chunk
        return data

    def test_ctrl_c_exits_130_and_changes_nothing(self):
        server = self.create_server(host=SOURCE,
                                    metadata={fakecloud.META_HOLD: '15'})
        self.live_migrate(server)
        mig = self.wait_status(server, ('running',))
        proc = subprocess.Popen(
            [base._openstack_binary(), '--os-cloud', fakecloud.CLOUD_ADMIN,
             'migration', 'watch', server.id, '--interval', '0.5',
             '-f', 'json'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=self.bed.env(), preexec_fn=_default_sigint)
        self.addCleanup(self._reap, proc)
        # "new" and a "progress" event: the watch is in its poll loop
        head = self.read_lines(proc, 2)
        proc.send_signal(signal.SIGINT)     # the one process we started
        tail, err = proc.communicate(timeout=60)
        out, err = (head + tail).decode(), err.decode()
        self.assertEqual(exitcodes.WATCH_INTERRUPTED, proc.returncode, err)
        self.assertEqual(130, proc.returncode)
        self.assertNotIn('Traceback', err)
        self.assertEqual(1, len(err.strip().splitlines()), err)
        self.assertIn('Interrupted: stopped watching; 1 migration(s) still '
                      'in progress go on', err)
        events, summary = self.json_lines(base.CLIResult(
            [], proc.returncode, out, err, 0))
        self.assertEqual([(mig.id, 'running', 'in-progress')],
                         [(r['ID'], r['Status'], r['Outcome'])
                          for r in summary])
        self.assertNotIn('action', [e['event'] for e in events])
        # not aborted: it runs on (or has just ended) and completes
        migs = self.connection().compute.server_migrations(server.id)
        self.assertIn([m.status for m in migs], (['running'], []))
        done = self.wait_status(server, ('completed', 'cancelled', 'error',
                                         'failed'))
        self.assertEqual((mig.id, 'completed'), (done.id, done.status))
        self.assertNotEqual(SOURCE, self.host_of(server))

    @staticmethod
    def _reap(proc):
        if proc.poll() is None:
            proc.kill()        # our own child, by its PID
            proc.wait(10)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


class TestWatchPollingCost(WatchTestCase):
    """Requests per poll of a --host watch, 6 live migrations in flight.

    Counted by a :class:`~httpproxy.CountingProxy` in front of the bed; the
    bed runs up to 10 live migrations per compute at once (Nova's default
    is 1).
    """

    BED_ARGS = ('--max-concurrent-live-migrations', '10')
    N = 6
    INTERVAL = 0.5
    PROGRESS = 3.0

    def running(self, ids):
        return sum(1 for m in self.connection().compute.migrations(
            host=SOURCE) if m.server_id in ids and m.status == 'running')

    def test_one_list_per_poll_and_sampled_progress(self):
        # Held long enough to be still running once the CLI has started,
        # on a loaded machine too.
        servers = [self.create_server(
            host=SOURCE, metadata={fakecloud.META_HOLD: '25'})
            for _ in range(self.N)]
        ids = {s.id for s in servers}
        for server in servers:
            self.live_migrate(server)
        deadline = time.monotonic() + 60
        while self.running(ids) < self.N:
            self.assertLess(time.monotonic(), deadline,
                            'the live migrations did not all run')
            time.sleep(0.3)
        proxy, clouds = self.counting_proxy(
            self.useFixture(fixtures.TempDir()).path)
        res = self.bed.openstack(
            'migration', 'watch', '--host', SOURCE, '--interval',
            self.INTERVAL, '--progress-interval', self.PROGRESS, '-f',
            'json', check=False, env={'OS_CLIENT_CONFIG_FILE': clouds})
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        events, summary = self.json_lines(res)
        self.assertEqual(ids, {r['Server'] for r in summary})
        self.assertEqual({'completed'}, {r['Status'] for r in summary})

        log = [e for e in proxy.events() if e.service == 'compute']
        polls = [i for i, e in enumerate(log)
                 if e.method == 'GET' and e.path.endswith('/os-migrations')]
        reads = [(i, e) for i, e in enumerate(log) if e.method == 'GET'
                 and e.path.endswith('/servers/{id}/migrations')]
        # every poll: one list; the baseline poll reads each one once
        bounds = polls + [len(log)]
        per_poll = [sum(1 for i, _e in reads if lo < i < hi)
                    for lo, hi in zip(bounds, bounds[1:])]
        self.assertEqual(self.N, per_poll[0])
        self.assertLessEqual(max(per_poll[1:]), v1watch.PROGRESS_READS,
                             per_poll)
        # one migration is read at most once per --progress-interval
        by_server = {}
        for _i, e in reads:
            by_server.setdefault(e.raw_path, []).append(e)
        for path, seen in by_server.items():
            for first, then in zip(seen, seen[1:]):
                self.assertGreaterEqual(
                    (then.time - then.elapsed) - first.time,
                    self.PROGRESS - 0.25, path)
        # so over the polling, at most N x (seconds / interval + 1) reads,
        # where every poll used to read all N
        polled = len(polls) - 1
        sampled = sum(per_poll[1:])
        seconds = log[-1].time - log[polls[0]].time
        self.assertLessEqual(
            sampled, self.N * (seconds / self.PROGRESS + 1), per_poll)
        self.assertLess(sampled, polled * self.N, per_poll)
        other = [e for e in log[polls[0]:] if e.method != 'GET' or not (
            e.path.endswith('/os-migrations') or
            e.path.endswith('/servers/{id}/migrations'))]
        self.assertEqual([], [(e.method, e.path) for e in other])
        self.addDetail('requests-per-poll', content.text_content(
            '%d polls in %.1f s, %d sampled reads %s: %.2f requests per '
            'poll (was %d)' % (polled, seconds, sampled, per_poll[1:],
                               (polled + sampled) / float(polled),
                               1 + self.N)))
