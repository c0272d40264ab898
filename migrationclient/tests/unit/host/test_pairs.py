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

"""host.pairs: the pair facts from recorded outputs, one host each.

A HostPool double answers each remote command with the recorded output
of that command (``samples/host``): host1 runs the pinned guest
``instance-00000001`` (CPUs 0-1), host2 runs it too (so its CPUs are
taken there), host3 runs nothing; the guest has 128 MB (97 free 2 MiB
pages on cell 0: enough).
"""

import testtools

from migrationclient.constraints import model as f
from migrationclient.host import novaconf
from migrationclient.host import pairs
from migrationclient.host import ssh
from migrationclient.tests.unit.constraints import base as cbase
from migrationclient.tests.unit.host import base

NOVA_CONF = ('# path /etc/nova/nova.conf\n[libvirt]\nlive_migration_uri = '
             'qemu+ssh://migtest@%s:2022/system\n')
RECORDED = {
    'virsh capabilities': 'capabilities-testdefault.xml',
    'virsh freepages --all': 'freepages-testdefault.txt',
    'lscpu': 'lscpu-local.json',
    'numactl --hardware': 'numactl-2node.txt',
    'sysfs net numa_node': 'net-numa.txt',
    'virsh dumpxml instance-00000001': 'dumpxml-pinned.xml',
    'virsh vcpupin instance-00000001': 'vcpupin-pinned.txt',
    'virsh vcpuinfo instance-00000001': 'vcpuinfo-pinned.txt',
    'virsh numatune instance-00000001': 'numatune-pinned.txt',
    'virsh emulatorpin instance-00000001': 'emulatorpin-pinned.txt',
}


class _Pool:
    options = ssh.SSHOptions(timeout=3)

    def __init__(self):
        self.labels = []

    def _output(self, host, command):
        self.labels.append((host, command.label))
        if command.label == 'cat nova.conf':
            return NOVA_CONF
        if command.label == 'virsh list --name':
            return '' if host == 'host3' else 'instance-00000001\n\n'
        if command.label.startswith('migration transport check'):
            name = 'ok' if 'host2' in command.label else 'refused'
            return base.sample('transport-ssh-%s.txt' % name)
        if command.label == 'sysfs pci numa_node':
            return ''               # the guest's devices: no cell
        return base.sample(RECORDED[command.label])

    def run_parsed(self, host, command, parser, timeout=None):
        return parser(self._output(host, command))

    def run_many(self, jobs, timeout=None):
        return {key: self.run_parsed(host, command, parser)
                for key, host, command, parser in jobs}


class TestAddPairFacts(testtools.TestCase):

    def snapshot(self, version):
        server = cbase.server(host='host1', flavor={
            'extra_specs': {'hw:cpu_policy': 'dedicated'}, 'vcpus': 2,
            'ram': 128})
        server = server.__class__(**dict(
            server.__dict__, instance_name='instance-00000001'))
        return cbase.snapshot(
            [server], [cbase.host('host1'), cbase.host('host2'),
                       cbase.host('host3')], version=version), server.id

    def confs(self, pool, snap):
        """The nova.conf files the host reading gives (read_host)."""
        return {name: novaconf.read(pool, name) for name in snap.hosts}

    def test_transport_and_pre_train_cpus(self):
        snap, sid = self.snapshot('2.38')
        hosts = {name: f.HostSideFacts() for name in snap.hosts}
        guests = {sid: f.GuestSideFacts()}
        notes = []
        pool = _Pool()
        pairs.add_pair_facts(pool, snap, [sid], {'host2', 'host3'}, hosts,
                             guests, notes, self.confs(pool, snap))
        self.assertEqual([], notes)
        # checked from the source only, to each destination
        self.assertEqual({'host2', 'host3'}, set(hosts['host1'].transport))
        self.assertEqual({}, hosts['host2'].transport)
        facts = hosts['host1'].transport['host2']
        self.assertEqual(('ssh', 'host2', 2022, 'migtest'),
                         (facts.scheme, facts.address, facts.port,
                          facts.user))
        self.assertEqual({('host1', 'migration transport check '
                           'ssh://host2:2022'),
                          ('host1', 'migration transport check '
                           'ssh://host3:2022')},
                         {x for x in pool.labels
                          if 'transport' in x[1]})
        same = guests[sid].same_cpus
        self.assertEqual({'host2', 'host3'}, set(same))
        self.assertEqual({0: ('instance-00000001',),
                          1: ('instance-00000001',)}, same['host2'].taken)
        self.assertTrue(same['host3'].free)
        self.assertEqual((True, False), (facts.answered,
                                         hosts['host1'].transport['host3']
                                         .answered))

    def test_train_reads_no_pinning(self):
        snap, sid = self.snapshot('2.79')
        hosts = {name: f.HostSideFacts() for name in snap.hosts}
        guests = {sid: f.GuestSideFacts()}
        pool = _Pool()
        pairs.add_pair_facts(pool, snap, [sid], {'host2'}, hosts, guests,
                             [], self.confs(pool, snap))
        self.assertEqual({}, guests[sid].same_cpus)
        self.assertNotIn(('host2', 'virsh list --name'), pool.labels)
        self.assertEqual({'host2'}, set(hosts['host1'].transport))
