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

import os
import tempfile

import testtools

from migrationclient.host import ssh


class TestOptions(testtools.TestCase):

    def test_program_of_a_command_line(self):
        self.assertEqual('numactl', ssh._program(
            'sudo -n env LC_ALL=C numactl --hardware'))
        self.assertEqual('podman', ssh._program(
            'sudo -n podman exec --env LC_ALL=C nova_libvirt virsh list'))

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
