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


import argparse
import io
from unittest import mock

from osc_lib import exceptions
import testtools

from migrationclient.constraints import evaluate
from migrationclient.engine import precheck as engine_precheck
from migrationclient import exitcodes
from migrationclient.tests.unit.constraints import base
from migrationclient.v1 import precheck


class TestParser(testtools.TestCase):

    def parse(self, *argv):
        cmd = precheck.PrecheckMigration(mock.Mock(), None)
        return cmd.get_parser('migration precheck').parse_args(list(argv))

    def test_defaults(self):
        args = self.parse('vm1', 'vm2')
        self.assertEqual(['vm1', 'vm2'], args.servers)
        self.assertIsNone(args.hosts)
        self.assertIsNone(args.kinds)
        self.assertFalse(args.long)

    def test_options(self):
        args = self.parse('--source-host', 'c1', '--host', 'c2', '--host',
                          'c3', '--live', '--long')
        self.assertEqual('c1', args.source_host)
        self.assertEqual(['c2', 'c3'], args.hosts)
        self.assertEqual((evaluate.LIVE,), args.kinds)

    def test_live_and_cold_exclusive(self):
        self.assertRaises(SystemExit, self.parse, 'vm', '--live', '--cold')

    def test_needs_a_server(self):
        cmd = precheck.PrecheckMigration(mock.Mock(), None)
        args = argparse.Namespace(servers=[], source_host=None)
        self.assertRaises(exceptions.CommandError, cmd.take_action, args)


class TestRows(testtools.TestCase):

    def test_rows_and_blocked(self):
        ok = base.server()
        bad = base.server(id='bad', name='bad', status='ERROR',
                          **{'OS-EXT-STS:vm_state': 'error'})
        hosts = [base.host('host1'), base.host('host2')]
        snap = base.snapshot([ok, bad], hosts)
        evs = evaluate.precheck(snap, [ok.id, 'bad'])
        rows, blocked = precheck.rows(evs, [ok.id, 'bad'], snap)
        self.assertEqual(['bad'], blocked)
        self.assertEqual(2, len(rows))
        row = dict(zip(precheck.COLUMNS, rows[0]))
        self.assertEqual(('yes', 'yes', 'host2'),
                         (row['Live'], row['Cold'], row['Destination']))
        self.assertIn('--live-migration --host host2', row['Command'])
        bad_row = dict(zip(precheck.COLUMNS, rows[1]))
        self.assertEqual('', bad_row['Command'])
        self.assertIn('ERROR', bad_row['Blockers'].human_readable())
        self.assertIsInstance(bad_row['Blockers'].machine_readable(), list)

    def test_long_and_no_destination(self):
        srv = base.server()
        snap = base.snapshot([srv], [base.host('host1')])
        evs = evaluate.precheck(snap, [srv.id])
        rows, blocked = precheck.rows(evs, [srv.id], snap, long=True)
        self.assertEqual([srv.id], blocked)
        self.assertEqual(len(precheck.LONG_COLUMNS), len(rows[0]))
        self.assertIn('no candidate destination',
                      rows[0][7].human_readable())
        snap = base.snapshot([srv], [base.host('host1'), base.host('host2')])
        rows, _b = precheck.rows(evaluate.precheck(snap, [srv.id]), [srv.id],
                                 snap, long=True)
        findings = rows[0][-1].machine_readable()
        self.assertEqual(len(evaluate.rules.RULE_IDS),
                         len({x.split(' ')[0] for x in findings}))

    def test_exit_status_constant(self):
        self.assertEqual(3, exitcodes.PRECHECK_BLOCKED)


class TestSSHStatus(testtools.TestCase):
    """--ssh that read no host: its own exit status, unless --ssh-optional."""

    def run_cmd(self, *argv, tried=('host1', 'host2'), read=()):
        srv = base.server()
        snap = base.snapshot([srv], [base.host('host1'),
                                     base.host('host2')])
        result = engine_precheck.Result(
            snap, [srv.id], evaluate.precheck(snap, [srv.id]),
            ssh_tried=tried, ssh_read=read)
        app = mock.Mock()
        app.stdout = io.StringIO()
        cmd = precheck.PrecheckMigration(app, None)
        args = cmd.get_parser('migration precheck').parse_args(
            ['-f', 'json', srv.id] + list(argv))
        with mock.patch.object(precheck.precheck, 'run',
                               return_value=result) as run:
            status = cmd.run(args)
        return status, run

    def test_no_host_read(self):
        status, run = self.run_cmd('--ssh')
        self.assertEqual(exitcodes.PRECHECK_NO_SSH_FACTS, status)
        self.assertEqual(11, status)
        self.assertIsNotNone(run.call_args.kwargs['ssh_options'])

    def test_ssh_optional_accepts_api_only(self):
        status, _run = self.run_cmd('--ssh', '--ssh-optional')
        self.assertEqual(exitcodes.OK, status)

    def test_some_host_read(self):
        status, _run = self.run_cmd('--ssh', read=('host2',))
        self.assertEqual(exitcodes.OK, status)

    def test_without_ssh(self):
        status, _run = self.run_cmd(tried=(), read=())
        self.assertEqual(exitcodes.OK, status)

    def test_ssh_optional_needs_ssh(self):
        exc = self.assertRaises(exceptions.CommandError, self.run_cmd,
                                '--ssh-optional')
        self.assertIn('--ssh-optional goes with --ssh', str(exc))

    def test_bad_key_before_any_call(self):
        exc = self.assertRaises(exceptions.CommandError, self.run_cmd,
                                '--ssh', '--ssh-key', '/nonexistent/key')
        self.assertIn('--ssh-key /nonexistent/key: cannot read it',
                      str(exc))

    def test_bad_key_contacts_nothing(self):
        app = mock.Mock()
        cmd = precheck.PrecheckMigration(app, None)
        args = cmd.get_parser('migration precheck').parse_args(
            ['vm1', '--ssh', '--ssh-host', 'c1=10.0.0.1:x'])
        with mock.patch.object(precheck.precheck, 'run') as run:
            self.assertRaises(exceptions.CommandError, cmd.take_action,
                              args)
        run.assert_not_called()
        self.assertEqual([], app.client_manager.mock_calls)


class TestSummary(testtools.TestCase):
    """Issue 15 item 6: the command counts the maybes (table and JSON)."""

    def run_cmd(self, fmt):
        srv = base.server(flavor={'extra_specs': {
            'hw:mem_page_size': '2MB'}})
        snap = base.snapshot([srv], [base.host('host1'),
                                     base.host('host2'),
                                     base.host('host3')])
        result = engine_precheck.Result(
            snap, [srv.id], evaluate.precheck(snap, [srv.id]))
        app = mock.Mock()
        app.stdout, app.stderr = io.StringIO(), io.StringIO()
        cmd = precheck.PrecheckMigration(app, None)
        args = cmd.get_parser('migration precheck').parse_args(
            ['-f', fmt, srv.id])
        with mock.patch.object(precheck.precheck, 'run',
                               return_value=result):
            status = cmd.run(args)
        return status, app.stdout.getvalue(), app.stderr.getvalue()

    def test_json_stays_a_document_and_stderr_counts(self):
        import json
        status, out, err = self.run_cmd('json')
        self.assertEqual(exitcodes.OK, status)
        rows = json.loads(out)
        self.assertEqual({'maybe'}, {r['Live'] for r in rows})
        self.assertIn('2 server x destination pair(s): live 0 yes, 2 maybe, '
                      '0 no; cold 0 yes, 2 maybe, 0 no', err)
        self.assertIn('maybe because of: hugepages (2)', err)
        self.assertIn('Warnings column names it', err)

    def test_table(self):
        _status, out, err = self.run_cmd('table')
        self.assertIn('maybe', out)
        self.assertIn('2 maybe', err)
