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

"""The --ssh-* options (moved from tests/unit/host/test_ssh.py)."""

import argparse
import subprocess  # nosec B404
import sys
import tempfile

import testtools

from migrationclient.host import ssh
from migrationclient.v1 import ssh_options


def parse(*argv):
    parser = ssh_options.add_ssh_options(argparse.ArgumentParser())
    return parser.parse_args(list(argv))


class TestOptions(testtools.TestCase):

    def test_defaults(self):
        options = ssh_options.options_from_parsed_args(parse())
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
            options = ssh_options.options_from_parsed_args(parse(
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
        options = ssh_options.options_from_parsed_args(parse(
            '--ssh-virsh-container', 'nova_libvirt',
            '--ssh-container-engine', 'docker'))
        self.assertEqual(('nova_libvirt', 'docker'),
                         (options.virsh_container, options.container_engine))
        self.assertRaisesRegex(ValueError, 'refusing container name',
                               ssh_options.options_from_parsed_args,
                               parse('--ssh-virsh-container', '$(x)'))

    def test_no_password_option(self):
        parser = ssh_options.add_ssh_options(argparse.ArgumentParser())
        options = [o for action in parser._actions
                   for o in action.option_strings]
        self.assertFalse([o for o in options if 'pass' in o])

    def test_bad_values(self):
        for argv in (('--ssh-timeout', '0'), ('--ssh-timeout', 'x'),
                     ('--ssh-port', '70000')):
            self.assertRaises(SystemExit, parse, *argv)
        self.assertRaisesRegex(ValueError, '--ssh-host expects',
                               ssh_options.options_from_parsed_args,
                               parse('--ssh-host', 'nohost'))
        self.assertRaisesRegex(ValueError, 'cannot read --ssh-host-map',
                               ssh_options.options_from_parsed_args,
                               parse('--ssh-host-map', '/nonexistent/map'))

    def test_host_map_syntax(self):
        self.assertRaisesRegex(ValueError, 'm line 2',
                               ssh_options.parse_host_map,
                               'a 1.2.3.4\nb c d\n', source='m')


class TestLazyImport(testtools.TestCase):

    def test_paramiko_not_imported_by_parser_setup(self):
        code = ('import sys, argparse\n'
                'from migrationclient.v1 import numa\n'
                'from migrationclient.v1 import ssh_options\n'
                'ssh_options.add_ssh_options(argparse.ArgumentParser())\n'
                'print("paramiko" in sys.modules)\n')
        out = subprocess.run([sys.executable, '-c', code], check=True,
                             capture_output=True, text=True).stdout
        self.assertEqual('False', out.strip())
