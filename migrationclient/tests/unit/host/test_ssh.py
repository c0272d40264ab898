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
import os
import subprocess  # nosec B404
import sys
import tempfile

import testtools

from migrationclient.host import ssh


def parse(*argv):
    parser = ssh.add_ssh_options(argparse.ArgumentParser())
    return parser.parse_args(list(argv))


class TestOptions(testtools.TestCase):

    def test_defaults(self):
        options = ssh.SSHOptions.from_parsed_args(parse())
        self.assertTrue(options.allow_agent)
        self.assertFalse(options.accept_new_host_key)
        self.assertFalse(options.sudo)
        self.assertEqual(ssh.DEFAULT_TIMEOUT, options.timeout)
        self.assertEqual({}, options.host_map)

    def test_all(self):
        with tempfile.NamedTemporaryFile('w', suffix='.map') as handle:
            handle.write('# compute host -> ssh address\n'
                         'overcloud-compute-0 192.0.2.10\n'
                         'overcloud-compute-1 192.0.2.11:2222  # jump\n')
            handle.flush()
            options = ssh.SSHOptions.from_parsed_args(parse(
                '--ssh-user', 'heat-admin', '--ssh-key', '/k1',
                '--ssh-key', '/k2', '--ssh-no-agent', '--ssh-port', '2200',
                '--ssh-proxy-jump', 'stack@undercloud', '--ssh-sudo',
                '--ssh-timeout', '2.5', '--ssh-host-map', handle.name,
                '--ssh-host', 'overcloud-compute-0=10.0.0.5'))
        self.assertEqual('heat-admin', options.user)
        self.assertEqual(('/k1', '/k2'), options.keys)
        self.assertFalse(options.allow_agent)
        self.assertEqual(2200, options.port)
        self.assertEqual('stack@undercloud', options.proxy_jump)
        self.assertTrue(options.sudo)
        self.assertEqual(2.5, options.timeout)
        self.assertEqual({'overcloud-compute-0': '10.0.0.5',
                          'overcloud-compute-1': '192.0.2.11:2222'},
                         options.host_map)

    def test_container(self):
        options = ssh.SSHOptions.from_parsed_args(parse(
            '--ssh-virsh-container', 'nova_libvirt',
            '--ssh-container-engine', 'docker'))
        self.assertEqual(('nova_libvirt', 'docker'),
                         (options.virsh_container, options.container_engine))
        self.assertRaisesRegex(ValueError, 'refusing container name',
                               ssh.SSHOptions.from_parsed_args,
                               parse('--ssh-virsh-container', '$(x)'))

    def test_program_of_a_command_line(self):
        self.assertEqual('numactl', ssh._program(
            'sudo -n env LC_ALL=C numactl --hardware'))
        self.assertEqual('podman', ssh._program(
            'sudo -n podman exec --env LC_ALL=C nova_libvirt virsh list'))

    def test_no_password_option(self):
        parser = ssh.add_ssh_options(argparse.ArgumentParser())
        options = [o for action in parser._actions
                   for o in action.option_strings]
        self.assertFalse([o for o in options if 'pass' in o])

    def test_bad_values(self):
        for argv in (('--ssh-timeout', '0'), ('--ssh-timeout', 'x'),
                     ('--ssh-port', '70000')):
            self.assertRaises(SystemExit, parse, *argv)
        self.assertRaisesRegex(ValueError, '--ssh-host expects',
                               ssh.SSHOptions.from_parsed_args,
                               parse('--ssh-host', 'nohost'))
        self.assertRaisesRegex(ValueError, 'cannot read --ssh-host-map',
                               ssh.SSHOptions.from_parsed_args,
                               parse('--ssh-host-map', '/nonexistent/map'))

    def test_host_map_syntax(self):
        self.assertRaisesRegex(ValueError, 'm line 2', ssh.parse_host_map,
                               'a 1.2.3.4\nb c d\n', source='m')

    def test_split_jump(self):
        self.assertEqual(('stack', 'uc', 2022),
                         ssh.split_jump('stack@uc:2022'))
        self.assertEqual((None, 'uc', None), ssh.split_jump('uc'))
        self.assertEqual((None, '::1', 22), ssh.split_jump('[::1]:22'))
        self.assertRaises(ValueError, ssh.split_jump, 'uc:http')
        self.assertRaises(ValueError, ssh.split_jump, 'user@')


class TestKeyPermissions(testtools.TestCase):

    def test_loose_key_warned(self):
        with tempfile.NamedTemporaryFile() as handle:
            os.chmod(handle.name, 0o644)
            self.assertIn('chmod 600', ssh.key_file_warning(handle.name))
            os.chmod(handle.name, 0o600)
            self.assertIsNone(ssh.key_file_warning(handle.name))
        self.assertIsNone(ssh.key_file_warning('/nonexistent/key'))


class TestErrors(testtools.TestCase):

    def test_one_line_naming_host(self):
        err = ssh.CommandTimeout('cmp-1', 'virsh capabilities did not '
                                 'finish within 2 s', '192.0.2.1')
        self.assertEqual('host cmp-1 (192.0.2.1): virsh capabilities did not'
                         ' finish within 2 s', str(err))
        self.assertEqual('host cmp-1: x', str(ssh.SSHError('cmp-1', 'x',
                                                           'cmp-1')))


class TestTargets(testtools.TestCase):

    def pool(self, config='', **options):
        with tempfile.NamedTemporaryFile('w', delete=False) as handle:
            handle.write(config)
        self.addCleanup(os.unlink, handle.name)
        return ssh.HostPool(ssh.SSHOptions(config_file=handle.name,
                                           **options),
                            addresses={'cmp-1': '192.0.2.1'})

    def test_address_precedence(self):
        pool = self.pool(host_map={'cmp-2': '10.0.0.2'})
        self.assertEqual('192.0.2.1', pool.address_of('cmp-1'))
        self.assertEqual('10.0.0.2', pool.address_of('cmp-2'))
        self.assertEqual('cmp-3', pool.address_of('cmp-3'))
        pool = self.pool(host_map={'cmp-1': '10.0.0.1:2222'})
        target = pool._target('cmp-1')
        self.assertEqual(('10.0.0.1', 2222), (target.address, target.port))

    def test_bad_ssh_config_is_one_line(self):
        error = self.assertRaises(ValueError, self.pool, 'Host\n')
        self.assertRegex(str(error), r'^cannot read SSH config /\S+: '
                         r'Unparsable line Host$')

    def test_ssh_config_honoured(self):
        pool = self.pool(
            'Host 192.0.2.*\n  User heat-admin\n  Port 2022\n'
            '  IdentityFile ~/.ssh/overcloud\n  ProxyJump stack@uc\n'
            '  UserKnownHostsFile /tmp/kh\n')
        target = pool._target('cmp-1')
        self.assertEqual('heat-admin', target.user)
        self.assertEqual(2022, target.port)
        self.assertEqual('stack@uc', target.proxy_jump)
        self.assertEqual(('/tmp/kh',), target.known_hosts)
        self.assertEqual(1, len(target.keys))
        # command-line options win over the config file
        pool = self.pool('Host *\n  User root\n  Port 2022\n',
                         user='tripleo-admin', port=22,
                         proxy_jump='uc2', known_hosts='/tmp/k2')
        target = pool._target('cmp-1')
        self.assertEqual(('tripleo-admin', 22, 'uc2', ('/tmp/k2',)),
                         (target.user, target.port, target.proxy_jump,
                          target.known_hosts))


class TestLazyImport(testtools.TestCase):

    def test_paramiko_not_imported_by_parser_setup(self):
        code = ('import sys, argparse\n'
                'from migrationclient.v1 import numa\n'
                'from migrationclient.host import ssh\n'
                'ssh.add_ssh_options(argparse.ArgumentParser())\n'
                'print("paramiko" in sys.modules)\n')
        out = subprocess.run([sys.executable, '-c', code], check=True,
                             capture_output=True, text=True).stdout
        self.assertEqual('False', out.strip())
