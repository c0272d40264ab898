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

"""migration_precheck_info and server_migration_info: their arguments."""

from unittest import mock

import testtools

from migrationclient.engine import precheck
from migrationclient.tests.unit.ansible import base

precheck_info = base.load('modules.migration_precheck_info')
migration_info = base.load('modules.server_migration_info')


class TestPrecheckInfo(testtools.TestCase):

    def test_needs_servers_or_a_host(self):
        result = base.run_module(precheck_info.PrecheckInfoModule, {})
        self.assertTrue(result['failed'])
        self.assertIn('one of the following is required: servers, '
                      'source_host', result['msg'])

    def test_arguments_reach_the_precheck(self):
        snapshot = mock.Mock(servers={}, cloud=mock.Mock(notes=['n1']))
        found = mock.Mock(evaluations=[], server_ids=[], snapshot=snapshot)
        conn = mock.Mock()
        with mock.patch.object(precheck, 'run',
                               return_value=found) as run:
            result = base.run_module(
                precheck_info.PrecheckInfoModule,
                {'source_host': 'compute1', 'destinations': ['compute2'],
                 'kind': 'live', 'pci_live_migratable': True}, conn=conn)
        self.assertEqual(dict(changed=False, rows=[], blocked=[],
                              notes=['n1']),
                         {k: result[k] for k in ('changed', 'rows',
                                                 'blocked', 'notes')})
        run.assert_called_once_with(
            conn.compute, conn, servers=(), source_host='compute1',
            destinations=['compute2'], kinds=('live',),
            pci_live_migratable=True)

    def run_with_ssh(self, ssh, tried=(), read=()):
        snapshot = mock.Mock(servers={}, cloud=mock.Mock(notes=['n1']))
        found = precheck.Result(snapshot, [], [], ssh_tried=tuple(tried),
                                ssh_read=tuple(read))
        conn = mock.Mock()
        with mock.patch.object(precheck, 'run',
                               return_value=found) as run:
            result = base.run_module(
                precheck_info.PrecheckInfoModule,
                {'servers': ['vm1'], 'ssh': ssh}, conn=conn)
        return result, run, conn

    def test_ssh_reaches_the_precheck_checked(self):
        from migrationclient.host import ssh
        result, run, conn = self.run_with_ssh(
            dict(user='root', config='', hosts={'compute1': '10.0.0.5'}),
            tried=('compute1', 'compute2'), read=('compute1',))
        self.assertFalse(result.get('failed'), result)
        self.assertEqual((['compute1'], ['compute2']),
                         (result['ssh_read'], result['ssh_unread']))
        run.assert_called_once_with(
            conn.compute, conn, servers=['vm1'], source_host=None,
            destinations=None, kinds=('live', 'cold'),
            pci_live_migratable=False, ssh_options=ssh.SSHOptions(
                user='root', config_file='',
                host_map={'compute1': '10.0.0.5'}))

    def test_bad_ssh_option_fails_before_the_cloud(self):
        result, run, conn = self.run_with_ssh(
            dict(config='/nonexistent/ssh_config'))
        self.assertTrue(result['failed'])
        self.assertEqual('ssh.config /nonexistent/ssh_config: cannot read '
                         'it (No such file or directory)', result['msg'])
        run.assert_not_called()

    def test_no_host_read_fails_unless_optional(self):
        result, _run, _conn = self.run_with_ssh(
            dict(config=''), tried=('compute1', 'compute2'))
        self.assertTrue(result['failed'])
        self.assertEqual(
            'SSH: none of the 2 compute host(s) could be read (compute1, '
            'compute2); the verdicts rest on the API facts only '
            '(ssh.optional accepts the API facts alone)', result['msg'])
        # the rows come with the failure
        self.assertEqual(([], [], ['compute1', 'compute2']),
                         (result['rows'], result['ssh_read'],
                          result['ssh_unread']))
        result, _run, _conn = self.run_with_ssh(
            dict(config='', optional=True), tried=('compute1', 'compute2'))
        self.assertFalse(result.get('failed'), result)
        self.assertIn('SSH: none of the 2 compute host(s) could be read',
                      str(result['warnings']))


class TestMigrationInfo(testtools.TestCase):

    def test_host_or_server_not_both(self):
        result = base.run_module(migration_info.MigrationInfoModule, {})
        self.assertIn('one of the following is required: host, server',
                      result['msg'])
        result = base.run_module(migration_info.MigrationInfoModule,
                                 {'host': 'c1', 'server': 's1'})
        self.assertIn('mutually exclusive: host|server', result['msg'])
