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

"""The collection's module_utils/openstack.py (openstack.cloud's shape)."""

from unittest import mock

import testtools

from migrationclient.engine.drain import model
from migrationclient.tests.unit.ansible import base

mu = base.load('module_utils.openstack')


class Echo(mu.OpenStackModule):
    argument_spec = dict(what=dict(default='ok'))
    module_kwargs = dict(supports_check_mode=True)

    def run(self):
        if self.params['what'] == 'drain-error':
            raise model.DrainError('compute1 is claimed by drain abc')
        if self.params['what'] == 'bug':
            raise KeyError('bug')
        self.results = dict(changed=False, what=self.params['what'],
                            check=self.check_mode)


class TestArgumentSpec(testtools.TestCase):

    def test_common_options_as_openstack_cloud(self):
        spec = mu.openstack_full_argument_spec()
        self.assertEqual(
            {'cloud', 'auth_type', 'auth', 'region_name', 'validate_certs',
             'ca_cert', 'client_cert', 'client_key', 'wait', 'timeout',
             'api_timeout', 'interface', 'sdk_log_path', 'sdk_log_level'},
            set(spec))
        self.assertEqual('raw', spec['cloud']['type'])
        self.assertTrue(spec['auth']['no_log'])
        self.assertTrue(spec['client_key']['no_log'])
        self.assertEqual(['verify'], spec['validate_certs']['aliases'])
        self.assertEqual(['endpoint_type'], spec['interface']['aliases'])
        self.assertEqual('public', spec['interface']['default'])
        self.assertEqual(180, spec['timeout']['default'])

    def test_module_options_override_and_are_copied(self):
        own = dict(timeout=dict(type='int'), host=dict(required=True))
        spec = mu.openstack_full_argument_spec(**own)
        self.assertNotIn('default', spec['timeout'])
        self.assertTrue(spec['host']['required'])
        spec['host']['required'] = False
        self.assertTrue(own['host']['required'])


class TestConnectKwargs(testtools.TestCase):

    def params(self, **kw):
        params = {k: None for k in mu.openstack_full_argument_spec()}
        params.update(interface='public', wait=True, timeout=180,
                      sdk_log_level='INFO')
        params.update(kw)
        return params

    def test_named_cloud_and_options_as_openstack_connect_takes_them(self):
        kwargs = mu.connect_kwargs(self.params(
            cloud='overcloud', region_name='r1', validate_certs=False,
            ca_cert='/ca', client_cert='/c', client_key='/k',
            api_timeout=30, interface='internal', auth_type='password',
            auth={'username': 'u'}))
        self.assertEqual(dict(cloud='overcloud', auth_type='password',
                              auth={'username': 'u'}, region_name='r1',
                              verify=False, cacert='/ca', cert='/c',
                              key='/k', api_timeout=30,
                              interface='internal'), kwargs)

    def test_no_cloud_leaves_it_to_the_environment(self):
        kwargs = mu.connect_kwargs(self.params())
        self.assertIsNone(kwargs['cloud'])
        self.assertIsNone(kwargs['auth'])

    def test_cloud_dict_is_the_whole_configuration(self):
        cloud = {'auth': {'auth_url': 'http://127.0.0.1:5000'}}
        self.assertEqual(cloud, mu.connect_kwargs(self.params(cloud=cloud)))
        for name, value in (('region_name', 'r1'), ('auth', {'a': 1}),
                            ('client_cert', '/c'), ('interface', 'admin')):
            err = self.assertRaises(ValueError, mu.connect_kwargs,
                                    self.params(cloud=cloud,
                                                **{name: value}))
            self.assertIn(name, str(err))


class TestModule(testtools.TestCase):

    def test_results_and_check_mode(self):
        result = base.run_module(Echo, {'what': 'x', '_ansible_check_mode':
                                        True}, conn=object())
        self.assertEqual('x', result['what'])
        self.assertTrue(result['check'])
        self.assertFalse(result['changed'])

    def test_library_error_is_one_line_failure(self):
        result = base.run_module(Echo, {'what': 'drain-error'})
        self.assertTrue(result['failed'])
        self.assertEqual('compute1 is claimed by drain abc', result['msg'])
        self.assertFalse(result['changed'])

    def test_other_exceptions_are_not_hidden(self):
        self.assertRaises(KeyError, base.run_module, Echo, {'what': 'bug'})

    def test_connection_from_params_and_logging(self):
        sdk = mock.Mock()
        with mock.patch.object(mu, 'importlib',
                               mock.Mock(import_module=lambda name: sdk)):
            result = base.run_module(
                ConnEcho, {'cloud': 'overcloud', 'sdk_log_path': '/tmp/x',
                           'sdk_log_level': 'DEBUG'})
        self.assertFalse(result.get('failed'), result)
        sdk.connect.assert_called_once_with(
            cloud='overcloud', auth_type=None, auth=None, region_name=None,
            verify=None, cacert=None, cert=None, key=None, api_timeout=None,
            interface='public')
        sdk.enable_logging.assert_called_once_with(
            debug=True, http_debug=True, path='/tmp/x')

    def test_cloud_dict_with_options_fails(self):
        result = base.run_module(
            ConnEcho, {'cloud': {'auth': {}}, 'region_name': 'r1'})
        self.assertTrue(result['failed'])
        self.assertIn('region_name should be excluded', result['msg'])

    def test_missing_library_is_named(self):
        with mock.patch.object(mu, 'HAS_MIGRATIONCLIENT', False):
            result = base.run_module(Echo, {})
        self.assertTrue(result['failed'])
        self.assertIn('python-migrationclient', result['msg'])


class ConnEcho(mu.OpenStackModule):

    def run(self):
        self.results = dict(changed=self.conn is None)


class TestSSHOption(testtools.TestCase):
    """The ``ssh`` option: the commands' --ssh-* checks, its own names."""

    def test_sub_options_default_as_the_commands(self):
        from migrationclient.host import ssh
        from migrationclient.host import sshoptions
        sub = mu.SSH_SPEC['ssh']['options']
        self.assertEqual('dict', mu.SSH_SPEC['ssh']['type'])
        self.assertNotIn('default', mu.SSH_SPEC['ssh'])
        self.assertEqual(ssh.DEFAULT_TIMEOUT, sub['timeout']['default'])
        self.assertEqual(list(sshoptions.CONTAINER_ENGINES),
                         sub['container_engine']['choices'])
        for flag in ('no_agent', 'sudo', 'accept_new_host_key', 'optional'):
            self.assertIs(False, sub[flag]['default'], flag)
        self.assertFalse([n for n in sub if 'pass' in n])
        self.assertEqual(set(sshoptions.CLI_NAMES), set(mu.SSH_NAMES))

    def test_no_ssh_is_none(self):
        self.assertIsNone(mu.ssh_options({'ssh': None}))
        self.assertIsNone(mu.ssh_options({}))

    def test_options_reach_the_host_layer_checked(self):
        with mock.patch('migrationclient.host.sshoptions.checked') as checked:
            got = mu.ssh_options({'ssh': dict(
                user='heat-admin', key=['/k'], no_agent=True, port=2222,
                proxy_jump='stack@uc', sudo=True, virsh_container='nl',
                container_engine='docker', timeout=3.0, config=None,
                known_hosts='/kh', accept_new_host_key=True,
                hosts={'c2': '10.0.0.6', 'c1': '10.0.0.5:22'},
                host_map='/map', optional=True)})
        self.assertIs(checked.return_value, got)
        (req, names), _kw = checked.call_args
        self.assertIs(mu.SSH_NAMES, names)
        self.assertEqual(
            ('heat-admin', ('/k',), True, 2222, 'stack@uc', True, 'nl',
             'docker', 3.0, '~/.ssh/config', '/kh', True, '/map',
             (('c1', '10.0.0.5:22'), ('c2', '10.0.0.6'))),
            (req.user, req.keys, req.no_agent, req.port, req.proxy_jump,
             req.sudo, req.virsh_container, req.container_engine,
             req.timeout, req.config, req.known_hosts,
             req.accept_new_host_key, req.host_map_file, req.hosts))

    def test_bad_option_is_one_line_naming_it(self):
        err = self.assertRaises(ValueError, mu.ssh_options, {'ssh': dict(
            key=['/nonexistent/id_rsa'], hosts={}, timeout=20.0,
            container_engine='podman')})
        self.assertEqual('ssh.key /nonexistent/id_rsa: cannot read it (No '
                         'such file or directory)', str(err))
        err = self.assertRaises(ValueError, mu.ssh_options, {'ssh': dict(
            hosts={'c1': 'u@10.0.0.5'}, timeout=20.0, config='')})
        self.assertEqual("ssh.hosts c1=u@10.0.0.5: bad address "
                         "'u@10.0.0.5'", str(err))
