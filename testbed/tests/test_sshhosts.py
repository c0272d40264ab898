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
"""The SSH test hosts themselves (testbed.sshhosts), no Nova bed needed."""

import os

import testtools

from migrationclient.host import commands
from migrationclient.host import novaconf
from testbed import sshhosts

PACKAGE_CONF = """[DEFAULT]
max_concurrent_live_migrations = 3

[compute]
cpu_dedicated_set = 0-1,4-5
cpu_shared_set = 2-3,6-7
"""

OSP13_CONF = """[DEFAULT]
max_concurrent_live_migrations=2
vcpu_pin_set=4-7

[libvirt]
live_migration_uri=qemu+ssh://nova_migration@%s:2022/system
"""


class TestSSHHostsNovaConf(testtools.TestCase):
    """nova.conf inside each host's mount namespace, nowhere else."""

    def setUp(self):
        super().setUp()
        reason = sshhosts.missing_prerequisites()
        if reason:
            self.skipTest(reason)
        self.existed = {p: os.path.lexists(p) for p in (
            '/etc/nova', '/var/lib/config-data', '/etc/kolla')}
        self.hosts = self.useFixture(sshhosts.SSHHosts({
            'compute1': {'nova_conf': PACKAGE_CONF},
            'compute2': {'nova_conf': OSP13_CONF,
                         'nova_conf_path': 'osp13'},
            'compute3': {},
        }))

    def read(self, name):
        """The product's own nova.conf command, over the real ssh."""
        result = self.hosts.ssh(name, commands.NOVA_CONF.render())
        return result

    def test_paths_are_the_products(self):
        self.assertEqual(commands.NOVA_CONF_PATHS, sshhosts.NOVA_CONF_PATHS)

    def test_nova_conf_per_host_and_path(self):
        result = self.read('compute1')
        self.assertEqual(0, result.returncode, result.stderr)
        conf = novaconf.from_output(result.stdout)
        self.assertEqual('/etc/nova/nova.conf', conf.path)
        self.assertEqual(3, conf.max_concurrent_live_migrations)
        self.assertEqual(frozenset({0, 1, 4, 5}),
                         frozenset(conf.cpu_dedicated_set))

        result = self.read('compute2')
        self.assertEqual(0, result.returncode, result.stderr)
        conf = novaconf.from_output(result.stdout)
        self.assertEqual(sshhosts.NOVA_CONF_PATHS[1], conf.path)
        self.assertEqual(2, conf.max_concurrent_live_migrations)
        # only the containerised path exists there
        result = self.hosts.ssh('compute2', 'test -e /etc/nova/nova.conf')
        self.assertEqual(1, result.returncode)

        # a host without nova.conf: none of the paths is readable
        result = self.read('compute3')
        self.assertEqual(3, result.returncode)
        self.assertIn('no readable nova.conf', result.stderr)

    def test_rewritten_from_the_next_command(self):
        host = self.hosts.hosts['compute3']
        host.write_nova_conf(PACKAGE_CONF, 'kolla')
        conf = novaconf.from_output(self.read('compute3').stdout)
        self.assertEqual('/etc/kolla/nova-compute/nova.conf', conf.path)
        self.assertEqual(3, conf.max_concurrent_live_migrations)
        host.write_nova_conf(None)
        self.assertEqual(3, self.read('compute3').returncode)
        self.assertRaises(ValueError, host.write_nova_conf, 'x', '/etc/x')

    def test_the_machine_is_untouched(self):
        # the hosts see the machine's /etc and /var/lib (overlay lower)
        result = self.hosts.ssh('compute1', 'cat /etc/hostname; '
                                'ls -d /var/lib/dpkg /etc/ssh; hostname')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('/etc/ssh', result.stdout)
        self.assertEqual('compute1', result.stdout.split()[-1])
        for path, existed in self.existed.items():
            self.assertEqual(existed, os.path.lexists(path), path)
