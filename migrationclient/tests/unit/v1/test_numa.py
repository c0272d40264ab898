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

from unittest import mock

from osc_lib import exceptions
import testtools

from migrationclient.host import compare
from migrationclient.v1 import numa


class TestParser(testtools.TestCase):

    def cmd(self):
        return numa.CompareNuma(mock.Mock(), None)

    def parse(self, *argv):
        return self.cmd().get_parser('numa compare').parse_args(list(argv))

    def test_modes(self):
        args = self.parse('vm1', '--save', '/tmp/x', '--nic', 'ens1f0',
                          '--ssh-user', 'heat-admin')
        self.assertEqual(('vm1', '/tmp/x', ['ens1f0'], 'heat-admin'),
                         (args.server, args.save, args.nic, args.ssh_user))
        args = self.parse('--hosts', 'c1', 'c2')
        self.assertEqual(['c1', 'c2'], args.hosts)
        self.assertRaises(SystemExit, self.parse, 'vm', '--save', 'a',
                          '--before', 'b')
        self.assertRaises(SystemExit, self.parse, '--hosts', 'c1')

    def test_bad_combinations(self):
        for argv, message in (
                (('vm',), 'give --save'),
                ((), 'name a server'),
                (('vm', '--hosts', 'a', 'b'), 'do not name a server')):
            args = self.parse(*argv)
            self.assertRaisesRegex(exceptions.CommandError, message,
                                   self.cmd().take_action, args)

    def test_bad_snapshot_fails_before_any_cloud_call(self):
        app = mock.Mock()
        cmd = numa.CompareNuma(app, None)
        args = self.parse('vm', '--before', '/nonexistent/snap.json')
        self.assertRaisesRegex(exceptions.CommandError,
                               'cannot read snapshot /nonexistent/snap.json',
                               cmd.take_action, args)
        self.assertEqual([], app.client_manager.compute.method_calls)


class TestOutput(testtools.TestCase):

    def test_degraded_rows_mark_the_command(self):
        cmd = numa.CompareNuma(mock.Mock(), None)
        columns, data = cmd._output(
            [compare.Row('x', '1', '2', compare.degraded('worse')),
             compare.Row('y', '1', '1', compare.SAME)])
        self.assertEqual(numa.COLUMNS, columns)
        self.assertEqual([('x', '1', '2', 'degraded: worse'),
                          ('y', '1', '1', 'same')], data)
        self.assertTrue(cmd._degraded)
        cmd._output([compare.Row('y', '1', '1', compare.SAME)])
        self.assertFalse(cmd._degraded)
