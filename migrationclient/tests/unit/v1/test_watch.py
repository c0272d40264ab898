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

"""``openstack migration watch``: parser, bad input, output and exit."""

import io
import json
import os
import signal
from unittest import mock

import fixtures
from openstack.compute.v2 import server as sdk_server
from osc_lib import exceptions
import testtools

from migrationclient import exitcodes
from migrationclient.tests.unit import fakes
from migrationclient.v1 import watch as v1watch

SERVER = '8600d31b-d1a1-4632-b2ff-45c2be1a70ff'
OTHER = '9128d044-7b61-403e-b766-7547076ff6c1'


class Stream(io.StringIO):
    def isatty(self):
        return False


class CommandTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.compute = fakes.FakeCompute()
        self.compute.servers[SERVER] = sdk_server.Server.existing(
            id=SERVER, name='vm1')
        self.compute.services_list = fakes.sample(
            'os-services/v2.53/services-list-get-resp.json')['services']
        self.app = mock.Mock()
        self.app.client_manager.compute = self.compute
        self.app.stdout = Stream()
        self.app.stderr = Stream()
        self.cmd = v1watch.WatchMigration(self.app, None)

    def parse(self, *argv):
        parser = self.cmd.get_parser('openstack migration watch')
        return parser.parse_args(list(argv))

    def error(self, *argv):
        args = self.parse(*argv)
        return str(self.assertRaises(exceptions.CommandError,
                                     self.cmd.take_action, args))


class TestBadInput(CommandTestCase):

    def test_nothing_to_watch(self):
        self.assertIn('Give a <server>', self.error())

    def test_server_and_host(self):
        self.assertIn('not both', self.error('vm1', '--host', 'host1'))

    def test_host_and_all_exclusive(self):
        self.assertRaises(SystemExit, self.parse, '--host', 'h', '--all')

    def test_bad_numbers(self):
        self.assertIn('--interval must be more than 0',
                      self.error('vm1', '--interval', '0'))
        self.assertIn('not a finite number',
                      self.error('vm1', '--timeout', 'x'))
        self.assertIn('--stuck-window', self.error('vm1', '--stuck-window',
                                                   'nan'))
        self.assertIn('--abort-after must be',
                      self.error('vm1', '--abort-after', '-3'))
        self.assertIn('--progress-interval must be at least 0',
                      self.error('--host', 'h', '--progress-interval', '-1'))
        self.assertIn('--progress-interval: ', self.error(
            '--host', 'h', '--progress-interval', 'nan'))
        self.assertRaises(SystemExit, self.parse, 'vm1', '--on-stuck',
                          'reboot')

    def test_unknown_server(self):
        self.assertEqual('No server with a name or ID of nosuch exists',
                         self.error('nosuch'))

    def test_unknown_host_exact_match(self):
        msg = self.error('--host', 'host')
        self.assertIn('No nova-compute service on host host', msg)

    def test_abort_not_available_on_old_cloud(self):
        self.compute._endpoint = fakes.EndpointData('2.23')
        msg = self.error('vm1', '--on-stuck', 'abort')
        self.assertIn('needs compute API 2.24', msg)
        self.assertEqual([], [c for c in self.compute.calls
                              if c[0] == 'migrations'])

    def test_force_complete_not_available(self):
        self.compute._endpoint = fakes.EndpointData('2.21')
        self.assertIn('needs compute API 2.22',
                      self.error('vm1', '--force-complete-after', '5'))

    def test_unknown_migration(self):
        self.compute.records = [fakes.os_migration()]
        self.assertIn('No migration 77 for server %s' % SERVER,
                      self.error('vm1', '77'))

    def test_migration_of_another_server(self):
        self.compute.records = [fakes.os_migration(
            id=4, instance_uuid=OTHER)]
        self.assertIn('belongs to server %s' % OTHER,
                      self.error('vm1', '4'))

    def test_no_migration_in_progress_names_the_last(self):
        self.compute.records = [fakes.os_migration(status='completed')]
        msg = self.error('vm1')
        self.assertIn('no migration in progress', msg)
        self.assertIn('ended completed', msg)
        self.assertIn('openstack migration watch %s 1' % SERVER, msg)

    def test_not_admin_is_one_line(self):
        def forbidden(**query):
            raise fakes.sdk_exc.ForbiddenException(
                "Policy doesn't allow os_compute_api:os-migrations:index to "
                "be performed.")
        self.compute.migrations = forbidden
        msg = self.error('vm1')
        self.assertIn('admin', msg)
        self.assertNotIn('\n', msg)


class TestFinished(CommandTestCase):

    def _run(self, *argv):
        args = self.parse(*argv)
        columns, rows = self.cmd.take_action(args)
        return args, columns, list(rows)

    def test_finished_migration_prints_final_state_and_exits_by_it(self):
        self.compute.records = [fakes.os_migration(status='error')]
        listed, full = fakes.failed_live_migration_action(
            SERVER, '2016-01-29T11:42:01.000000')
        self.compute.actions[SERVER] = listed
        self.compute.action_details[full['request_id']] = full
        args, columns, rows = self._run('vm1', '1')
        self.assertEqual(exitcodes.WATCH_FAILED, self.cmd.exit_status)
        # -f table into a pipe: the event lines on stderr, stdout is the
        # formatted result's alone
        self.assertEqual('', self.app.stdout.getvalue())
        err = self.app.stderr.getvalue()
        self.assertIn('ended error: No valid host was found.', err)
        row = dict(zip(columns, rows[0]))
        self.assertEqual('failed', row['Outcome'])
        self.assertEqual('No valid host was found. ', row['Reason'])

    def test_by_uuid_json_lines(self):
        self.compute.records = [fakes.os_migration(status='completed')]
        args, columns, rows = self._run(
            'vm1', '12341d4b-346a-40d0-83c6-5f4f6892b650', '-f', 'json')
        self.assertTrue(args.noindent)   # the summary is one line too
        lines = self.app.stdout.getvalue().splitlines()
        docs = [json.loads(line) for line in lines]
        self.assertEqual(['new', 'ended'], [d['event'] for d in docs])
        self.assertEqual(exitcodes.OK, self.cmd.exit_status)

    def test_host_with_nothing_in_progress(self):
        self.compute.records = [fakes.os_migration(
            status='completed', source_compute='host1')]
        args, columns, rows = self._run('--host', 'host1')
        self.assertEqual([], rows)
        self.assertIn('No migration in progress to or from host1',
                      self.app.stderr.getvalue())
        self.assertEqual(exitcodes.OK, self.cmd.exit_status)


class TtyStream(io.StringIO):
    def isatty(self):
        return True


class TestTerminalColumns(CommandTestCase):
    """A table on a terminal leaves out optional columns nobody filled."""

    def test_empty_optional_columns_dropped(self):
        rows = [(1, 's1', 'live-migration', 'a', 'b', 'completed',
                 'completed', '12s', '-', '-', ''),
                (2, 's2', 'live-migration', 'a', 'b', 'running',
                 'in-progress', '3s', '40.0%', '-', None)]
        columns, shown = v1watch.terminal_columns(v1watch.COLUMNS, rows)
        self.assertEqual(('ID', 'Server', 'Type', 'Source', 'Destination',
                          'Status', 'Outcome', 'Elapsed', 'Memory'), columns)
        self.assertEqual([r[:9] for r in rows], shown)

    def test_filled_and_required_columns_kept(self):
        rows = [(1, '-', '-', '-', '-', '-', '-', '-', '-', 'abort',
                 'aborted by the watch')]
        columns, shown = v1watch.terminal_columns(v1watch.COLUMNS, rows)
        self.assertEqual(('ID', 'Server', 'Type', 'Source', 'Destination',
                          'Status', 'Outcome', 'Elapsed', 'Actions',
                          'Reason'), columns)
        self.assertEqual([rows[0][:8] + rows[0][9:]], shown)

    def _run(self, *argv):
        self.app.stdout = TtyStream()
        self.compute.records = [fakes.os_migration(status='completed')]
        args = self.parse('vm1', '12341d4b-346a-40d0-83c6-5f4f6892b650',
                          *argv)
        columns, rows = self.cmd.take_action(args)
        return columns, list(rows)

    def test_table_on_a_terminal(self):
        columns, rows = self._run()
        self.assertNotIn('Actions', columns)
        self.assertNotIn('Reason', columns)
        self.assertEqual(len(columns), len(rows[0]))
        self.assertEqual('completed', dict(zip(columns, rows[0]))['Outcome'])

    def test_every_column_for_scripts_and_for_c(self):
        self.assertEqual(v1watch.COLUMNS, self._run('-f', 'yaml')[0])
        self.assertEqual(v1watch.COLUMNS, self._run('-c', 'Reason')[0])


class TestInterrupt(CommandTestCase):

    def test_ctrl_c_stops_watching_changes_nothing(self):
        self.compute.records = [fakes.os_migration(source_compute='host1')]
        self.compute.live = {SERVER: [fakes.server_migration(
            server_uuid=SERVER)]}
        made = []
        real = v1watch.watch.Watcher

        def watcher(*args, **kwargs):
            made.append(real(*args, **kwargs))
            return made[-1]

        args = self.parse('--host', 'host1', '--interval', '3')
        with mock.patch.object(v1watch.watch, 'Watcher', watcher), \
                mock.patch.object(real, 'run',
                                  side_effect=KeyboardInterrupt):
            columns, rows = self.cmd.take_action(args)
        self.assertEqual(exitcodes.WATCH_INTERRUPTED, self.cmd.exit_status)
        self.assertEqual(130, self.cmd.exit_status)
        err = self.app.stderr.getvalue()
        # besides the event lines (stderr: stdout is not a TTY), one line
        said = [ln for ln in err.splitlines() if ' migration=' not in ln]
        self.assertEqual(1, len(said), err)
        self.assertIn('Interrupted: stopped watching; 1 migration(s) still '
                      'in progress go on', err)
        row = dict(zip(columns, list(rows)[0]))
        self.assertEqual(('running', 'in-progress'),
                         (row['Status'], row['Outcome']))
        self.assertEqual([], [c for c in self.compute.calls
                              if c[0] in ('abort', 'force_complete')])
        # the host watch samples progress: the poll interval by default,
        # at most PROGRESS_READS per poll
        self.assertEqual((3.0, v1watch.PROGRESS_READS),
                         (made[0].progress_interval, made[0].progress_reads))

    def test_sigterm_ends_like_ctrl_c(self):
        # a service manager or timeout(1) stops the watch with SIGTERM:
        # summary and WATCH_INTERRUPTED, nothing aborted, handler restored
        self.compute.records = [fakes.os_migration(source_compute='host1')]
        self.compute.live = {SERVER: [fakes.server_migration(
            server_uuid=SERVER)]}
        before = signal.getsignal(signal.SIGTERM)

        def terminated(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGTERM)
            self.fail('SIGTERM did not stop the watch')

        args = self.parse('--host', 'host1')
        with mock.patch.object(v1watch.watch.Watcher, 'run',
                               side_effect=terminated):
            columns, rows = self.cmd.take_action(args)
        self.assertEqual(exitcodes.WATCH_INTERRUPTED, self.cmd.exit_status)
        self.assertEqual(1, len(list(rows)))
        self.assertIn('Interrupted: stopped watching',
                      self.app.stderr.getvalue())
        self.assertEqual([], [c for c in self.compute.calls
                              if c[0] in ('abort', 'force_complete')])
        self.assertIs(before, signal.getsignal(signal.SIGTERM))


class TTYStream(Stream):
    def isatty(self):
        return True


class TestOutputStreams(CommandTestCase):
    """Where the event lines go, by -f and by TTY."""

    def _run(self, *argv):
        self.compute.records = [fakes.os_migration(status='completed')]
        args = self.parse('vm1', '1', *argv)
        return self.cmd.take_action(args)

    def test_formats_into_a_pipe_keep_stdout_clean(self):
        for fmt in ('table', 'value', 'csv', 'yaml'):
            self.app.stdout = Stream()
            self.app.stderr = Stream()
            self._run('-f', fmt)
            self.assertEqual('', self.app.stdout.getvalue(), fmt)
            self.assertIn(' ended migration=1 ', self.app.stderr.getvalue())

    def test_json_lines_on_stdout(self):
        self._run('-f', 'json')
        docs = [json.loads(ln)
                for ln in self.app.stdout.getvalue().splitlines()]
        self.assertEqual(['new', 'ended'], [d['event'] for d in docs])
        self.assertEqual('', self.app.stderr.getvalue())

    def test_terminal_shows_the_events(self):
        self.app.stdout = TTYStream()
        self._run('-f', 'table')
        self.assertIn('completed', self.app.stdout.getvalue())
        self.assertEqual('', self.app.stderr.getvalue())

    def test_event_stream(self):
        out, err, tty = Stream(), Stream(), TTYStream()
        self.assertIs(out, v1watch.event_stream(out, err, True))
        self.assertIs(err, v1watch.event_stream(out, err, False))
        self.assertIs(tty, v1watch.event_stream(tty, err, False))


class TestMetricsFile(CommandTestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def test_written_with_the_final_outcome(self):
        path = os.path.join(self.dir, 'w.prom')
        self.compute.records = [fakes.os_migration(status='completed')]
        self.cmd.take_action(self.parse('vm1', '1', '--metrics-file', path))
        from prometheus_client import parser
        with open(path) as handle:
            families = {f.name: f for f in
                        parser.text_string_to_metric_families(handle.read())}
        samples = {(s.name, s.labels.get('outcome')): s.value
                   for f in families.values() for s in f.samples}
        self.assertEqual(
            1, samples[('openstack_migration_watch_migrations',
                        'completed')])
        self.assertFalse([n for n, _o in samples
                          if n.startswith('openstack_migration_progress')])
        self.assertEqual(['w.prom'], os.listdir(self.dir))

    def test_unusable_path_before_any_request(self):
        path = os.path.join(self.dir, 'no', 'such', 'w.prom')
        msg = self.error('vm1', '--metrics-file', path)
        self.assertIn('Cannot write the metrics file', msg)
        self.assertNotIn('\n', msg)
        self.assertEqual([], self.compute.calls)

    def test_not_prom_is_a_note(self):
        path = os.path.join(self.dir, 'w.txt')
        self.compute.records = [fakes.os_migration(status='completed')]
        self.cmd.take_action(self.parse('vm1', '1', '--metrics-file', path))
        self.assertIn('reads only files named *.prom',
                      self.app.stderr.getvalue())
        self.assertTrue(os.path.exists(path))
