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

"""The SSH options' checks, shared by the commands and the collection.

The commands' spelling of each check is in tests/unit/v1/test_ssh_options.py
(argparse in, same messages); here: the front-end-neutral entry point, the
names a front end gives its options, and the checks argparse made before.
"""

import os

import fixtures
import testtools

from migrationclient.host import ssh
from migrationclient.host import sshoptions

#: a second front end's names (the Ansible collection's)
NAMES = dict(sshoptions.CLI_NAMES, key='ssh.key', known_hosts='ssh.known',
             config='ssh.config', host='ssh.hosts', host_map='ssh.map',
             proxy_jump='ssh.jump', port='ssh.port', timeout='ssh.timeout',
             container_engine='ssh.engine')


class TestChecked(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable('HOME', self.dir))

    def file(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as handle:
            handle.write(text)
        return path

    def error(self, **kw):
        exc = self.assertRaises(ValueError, sshoptions.checked,
                                sshoptions.Requested(**kw), NAMES)
        self.assertNotIn('\n', str(exc))
        return str(exc)

    def test_defaults(self):
        options = sshoptions.checked(sshoptions.Requested())
        self.assertEqual(ssh.SSHOptions(), options)

    def test_every_option(self):
        key = self.file('id', 'k\n')
        known = self.file('known', '')
        config = self.file('config', 'Host *\n  User heat-admin\n')
        hmap = self.file('map', 'c0 10.0.0.4\nc1 10.0.0.6:2222\n')
        options = sshoptions.checked(sshoptions.Requested(
            user='heat-admin', keys=(key,), no_agent=True, port=2200,
            proxy_jump='stack@uc', sudo=True, virsh_container='nova_libvirt',
            container_engine='docker', timeout=2.5, config=config,
            known_hosts=known, accept_new_host_key=True, host_map_file=hmap,
            hosts=(('c0', '10.0.0.5'), ('c2', '[fd00::1]:22'))), NAMES)
        self.assertEqual(ssh.SSHOptions(
            user='heat-admin', keys=(key,), allow_agent=False, port=2200,
            proxy_jump='stack@uc', sudo=True, timeout=2.5,
            config_file=config, known_hosts=known, accept_new_host_key=True,
            host_map={'c0': '10.0.0.5', 'c1': '10.0.0.6:2222',
                      'c2': '[fd00::1]:22'},
            virsh_container='nova_libvirt', container_engine='docker'),
            options)

    def test_messages_name_the_front_ends_option(self):
        missing = os.path.join(self.dir, 'nokey')
        self.assertIn('ssh.key %s: cannot read it' % missing,
                      self.error(keys=(missing,)))
        self.assertIn('ssh.known %s: cannot read it' % missing,
                      self.error(known_hosts=missing))
        self.assertIn('ssh.config %s: cannot read it' % missing,
                      self.error(config=missing))
        bad = self.file('bad', 'Host *\n  Port\n')
        self.assertIn('ssh.config %s: cannot parse it' % bad,
                      self.error(config=bad))
        self.assertIn('cannot read ssh.map %s' % missing,
                      self.error(host_map_file=missing))
        self.assertEqual("ssh.hosts c0=10.0.0.5:x: the port of "
                         "'10.0.0.5:x' is not a number from 1 to 65535",
                         self.error(hosts=(('c0', '10.0.0.5:x'),)))
        self.assertIn('ssh.hosts: expected a compute host',
                      self.error(hosts=(('c0', ''),)))
        self.assertIn("ssh.jump 'u@uc:abc'",
                      self.error(proxy_jump='u@uc:abc'))
        self.assertIn('refusing container name',
                      self.error(virsh_container='$(x)'))

    def test_what_argparse_checked_for_the_commands(self):
        for port in (0, 70000, -1, 'x'):
            self.assertIn('ssh.port: %r is not a number from 1 to 65535'
                          % port, self.error(port=port))
        for timeout in (0, -1.5, 'x', None):
            self.assertIn('ssh.timeout: expected a positive number',
                          self.error(timeout=timeout))
        self.assertEqual("ssh.engine: expected one of podman, docker, got "
                         "'lxc'", self.error(container_engine='lxc'))

    def test_files_checked_after_the_values(self):
        # a bad value is named first, before any file is looked at
        missing = os.path.join(self.dir, 'nokey')
        self.assertIn('ssh.port', self.error(keys=(missing,), port=0))

    def test_cli_names_by_default(self):
        exc = self.assertRaises(ValueError, sshoptions.checked,
                                sshoptions.Requested(port=0))
        self.assertIn('--ssh-port', str(exc))
