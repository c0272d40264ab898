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

"""compute_drain's argument handling: options, states, failures."""

from unittest import mock

import testtools

from migrationclient.engine.drain import api
from migrationclient.tests.unit.ansible import base

compute_drain = base.load('modules.compute_drain')


class TestComputeDrainArguments(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conn = mock.Mock()
        self.calls = []
        for name in ('drained', 'enabled', 'restored', 'wait_up',
                     'drain_report_path'):
            patcher = mock.patch.object(api, name,
                                        side_effect=self.recorder(name))
            patcher.start()
            self.addCleanup(patcher.stop)
        self.outcome = api.Outcome(changed=True, report_path='/r.json')

    def recorder(self, name):
        def record(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            if name == 'drain_report_path':
                return '/default/drain-compute1.json'
            if name == 'wait_up':
                return None
            return self.outcome
        return record

    def run_drain(self, **args):
        return base.run_module(compute_drain.ComputeDrainModule, args,
                               conn=self.conn)

    def test_drained_with_every_option(self):
        result = self.run_drain(
            host='compute1', max_parallel=3, max_per_target=0,
            target_hosts=['compute2'], no_live=True, confirm=False,
            stuck_after=0, on_stuck='wait', timeout=600, max_failures=0,
            retry=True, poll_interval=0.5, allow_partial=True,
            disable_reason='BIOS', enable_when_done=True,
            report='/tmp/r.json')
        self.assertTrue(result['changed'], result)
        self.assertEqual('/r.json', result['report_path'])
        (name, args, kwargs), = self.calls
        self.assertEqual('drained', name)
        self.assertEqual(['compute1'], args[2])
        opts = args[3]
        self.assertEqual((3, 0, ('compute2',), True, False, None, 'wait',
                          600, 0, True, 0.5, True),
                         (opts.max_parallel, opts.max_per_target,
                          opts.target_hosts, opts.no_live, opts.confirm,
                          opts.stuck_after, opts.on_stuck, opts.timeout,
                          opts.max_failures, opts.retry,
                          opts.poll_interval, opts.allow_partial))
        self.assertEqual(dict(check=False, report_path='/tmp/r.json',
                              disable_reason='BIOS', enable_when_done=True,
                              target_aggregate=None), kwargs)

    def test_defaults_are_the_commands(self):
        self.run_drain(hosts=['compute1', 'compute2'])
        (_name, args, kwargs), = self.calls
        opts = args[3]
        self.assertEqual(['compute1', 'compute2'], args[2])
        self.assertEqual((2, 1, 300, 'abort', None, 1, 2.0),
                         (opts.max_parallel, opts.max_per_target,
                          opts.stuck_after, opts.on_stuck, opts.timeout,
                          opts.max_failures, opts.poll_interval))

    def test_check_mode_is_the_dry_run(self):
        self.outcome.plan = [{'server': 's1', 'action': 'live'}]
        self.outcome.left = [{'server': 's2', 'name': 'db', 'host': 'c1',
                              'state': 'skipped', 'reason': 'ERROR'}]
        result = self.run_drain(host='compute1', _ansible_check_mode=True)
        self.assertTrue(self.calls[0][2]['check'])
        self.assertFalse(result.get('failed'), result)
        self.assertEqual(self.outcome.plan, result['plan'])

    def test_servers_left_fail_the_task_naming_them(self):
        self.outcome.status = 4
        self.outcome.left = [{'server': 's2', 'name': 'db', 'host': 'c1',
                              'state': 'failed', 'reason': 'No valid host'}]
        result = self.run_drain(host='c1')
        self.assertTrue(result['failed'])
        self.assertEqual('c1: 1 server(s) left: db (s2) on c1: failed: '
                         'No valid host', result['msg'])
        self.assertEqual(self.outcome.left, result['servers_left'])
        self.assertEqual(4, result['status'])

    def test_enabled_waits_for_the_service_first(self):
        self.run_drain(host='compute1', state='enabled', up_timeout=30)
        self.assertEqual(['wait_up', 'enabled'], [c[0] for c in self.calls])
        self.assertEqual(30, self.calls[0][1][3])
        self.assertEqual(dict(check=False, report_path=None),
                         self.calls[1][2])

    def test_restored_reads_the_default_drain_report(self):
        self.run_drain(host='compute1', state='restored', up_timeout=0)
        self.assertEqual(['drain_report_path', 'restored'],
                         [c[0] for c in self.calls])
        self.assertEqual('/default/drain-compute1.json',
                         self.calls[1][1][2])

    def test_bad_arguments_are_refused_before_any_call(self):
        for args, words in (
                (dict(state='gone'), 'value of state must be one of'),
                (dict(target_hosts=['c2'], target_aggregate='a'),
                 'mutually exclusive'),
                (dict(max_parallel='many'), 'max_parallel'),
                (dict(max_parallel=0), 'max_parallel must be at least 1'),
                (dict(timeout=0), 'timeout must be more than 0'),
                (dict(disable_reason='x' * 300), 'disable_reason')):
            result = self.run_drain(host='compute1', **args)
            self.assertTrue(result['failed'], args)
            self.assertIn(words, result['msg'])
            self.assertEqual([], self.calls)
        result = base.run_module(compute_drain.ComputeDrainModule, {})
        self.assertIn('missing required arguments: hosts', result['msg'])

    def test_ssh_reaches_the_drain_checked(self):
        from migrationclient.host import ssh
        result = self.run_drain(host='compute1', ssh=dict(
            user='heat-admin', port=2222, config='', optional=True,
            hosts={'compute1': '10.0.0.5:2200'}), _ansible_check_mode=True)
        self.assertFalse(result.get('failed'), result)
        (name, _args, kwargs), = self.calls
        self.assertEqual('drained', name)
        self.assertTrue(kwargs['check'])
        self.assertTrue(kwargs['ssh_optional'])
        self.assertEqual(ssh.SSHOptions(
            user='heat-admin', port=2222, config_file='',
            host_map={'compute1': '10.0.0.5:2200'}), kwargs['ssh_options'])

    def test_bad_ssh_option_fails_before_any_call(self):
        for ssh, words in (
                (dict(key=['/nonexistent/key']),
                 'ssh.key /nonexistent/key: cannot read it'),
                (dict(port=0), 'ssh.port: 0 is not a number from 1 to'),
                (dict(hosts={'compute1': '10.0.0.5:ssh'}),
                 'ssh.hosts compute1=10.0.0.5:ssh: the port of'),
                (dict(known_hosts='/nonexistent/kh'),
                 'ssh.known_hosts /nonexistent/kh: cannot read it'),
                (dict(container_engine='lxc'),
                 'value of container_engine must be one of')):
            result = self.run_drain(host='compute1', ssh=ssh)
            self.assertTrue(result['failed'], ssh)
            self.assertIn(words, result['msg'])
            self.assertNotIn('\n', result['msg'])
            self.assertEqual([], self.calls)
            self.assertEqual([], self.conn.mock_calls)

    def test_ssh_only_drains(self):
        for state in ('enabled', 'restored'):
            result = self.run_drain(host='compute1', state=state,
                                    ssh=dict(config=''))
            self.assertTrue(result['failed'])
            self.assertEqual('ssh reads the hosts\' facts for a drain: only '
                             'with state=drained', result['msg'])
            self.assertEqual([], self.calls)

    def test_no_host_read_fails_naming_them(self):
        def refuse(*args, **kwargs):
            self.calls.append(('drained', args, kwargs))
            raise api.NoHostFacts(['compute1', 'compute2'])
        with mock.patch.object(api, 'drained', side_effect=refuse):
            result = self.run_drain(host='compute1', ssh=dict(config=''))
        self.assertTrue(result['failed'])
        self.assertEqual(
            'SSH: none of the 2 compute host(s) could be read (compute1, '
            'compute2); nothing changed (ssh.optional drains on the API '
            'facts alone)', result['msg'])
        self.assertFalse(self.calls[0][2]['ssh_optional'])
