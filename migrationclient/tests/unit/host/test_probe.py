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

import testtools

from migrationclient.host import parsers
from migrationclient.host import probe
from migrationclient.host import topology
from migrationclient.tests.unit.host.base import sample


def host_topology(numactl='numactl-2node.txt'):
    return probe.build_host_topology(
        'cmp-1',
        parsers.parse_capabilities(sample('capabilities-testdefault.xml')),
        parsers.parse_freepages(sample('freepages-testdefault.txt')),
        None, parsers.parse_numactl(sample(numactl)),
        parsers.parse_net_numa(sample('net-numa.txt')))


class TestHostTopology(testtools.TestCase):

    def test_merge(self):
        topo = host_topology()
        self.assertEqual([0, 1], [c.id for c in topo.cells])
        self.assertEqual(list(range(8)), topo.cells[0].cpus)
        self.assertEqual(1520 * 1024, topo.cells[0].free_memory_kib)
        # base pages are left out; hugepages total and free per cell
        self.assertEqual({2048: 0, 1048576: 0}, topo.cells[0].pages_total)
        self.assertEqual({8: 45, 2048: 97, 1048576: 201},
                         topo.cells[1].pages_free)
        self.assertEqual({'ens1f0': 0, 'ens1f1': 1}, topo.nics)
        self.assertEqual(1, topo.cell_of_cpu(12))
        self.assertEqual([0, 1], topo.cells_of([3, 12, 99]))
        self.assertEqual([], topo.notes)

    def test_numactl_disagreeing_with_libvirt_is_noted(self):
        topo = host_topology('numactl-local.txt')
        self.assertEqual(1, len(topo.notes))
        self.assertIn('cell 0 CPUs 0-1', topo.notes[0])

    def test_lscpu_cross_check(self):
        topo = probe.build_host_topology(
            'h', parsers.parse_capabilities(
                sample('capabilities-testdefault.xml')),
            lscpu={9: {'node': 0, 'socket': 0, 'core': 0, 'online': True},
                   8: {'node': 1, 'socket': 1, 'core': 0, 'online': True}})
        self.assertEqual(['lscpu puts CPU 9 on node 0, virsh capabilities '
                          'does not'], topo.notes)

    def test_round_trip(self):
        topo = host_topology()
        self.assertEqual(topo, topology.HostTopology.from_dict(
            topo.to_dict()))


class TestGuestPlacement(testtools.TestCase):

    def placement(self, name='pinned', neighbours=None, pci=None,
                  xml=None):
        topo = host_topology()
        return probe.build_guest_placement(
            'cmp-1', 'instance-00000001', topo,
            parsers.parse_domain_xml(sample(xml or 'dumpxml-%s.xml' % name)),
            parsers.parse_vcpupin(sample('vcpupin-%s.txt' % name)),
            parsers.parse_numatune(sample('numatune-%s.txt' % name)),
            parsers.parse_emulatorpin(sample('emulatorpin-%s.txt' % name)),
            parsers.parse_vcpuinfo(sample('vcpuinfo-%s.txt' % name)),
            neighbours=neighbours, pci_nodes=pci, extra_nics=('ens1f1',))

    def test_pinned_guest(self):
        p = self.placement(pci={'0000:3b:02.1': 0})
        self.assertTrue(p.pinned)
        self.assertEqual({0: [0], 1: [1]}, p.vcpu_pins)
        self.assertEqual({0: [0], 1: [0]}, p.vcpu_cells)
        self.assertEqual([0], p.cells)
        self.assertEqual([0, 1], p.emulator_cpus)
        self.assertEqual(('strict', [0]), (p.memory_mode, p.memory_nodeset))
        self.assertEqual(2048, p.page_size_kib)
        self.assertEqual(
            [('hostdev', '0000:3b:02.1', 0), ('direct', 'ens1f0', 0),
             ('vhostuser', '/var/lib/vhost_sockets/vhu1', None),
             ('pci', '0000:5e:00.0', None), ('host-nic', 'ens1f1', 1)],
            [(n.kind, n.device, n.cell) for n in p.nics])
        self.assertEqual(p, topology.GuestPlacement.from_dict(p.to_dict()))

    def test_disks(self):
        p = self.placement('floating', xml='dumpxml-drives.xml')
        self.assertEqual(
            [('disk', 'vda', None), ('disk', 'vdb', None),
             ('cdrom', 'sda', 'iso9660'), ('cdrom', 'sdb', None)],
            [(d.device, d.target, d.config_drive_format) for d in p.disks])
        self.assertEqual('cdrom sda (sata)', p.disks[2].label)
        self.assertTrue(p.disks[2].readonly)
        self.assertEqual(p, topology.GuestPlacement.from_dict(p.to_dict()))
        vfat = self.placement('floating', xml='dumpxml-vfat.xml')
        self.assertEqual('vfat', vfat.disks[1].config_drive_format)

    def test_no_disks_and_old_snapshot(self):
        p = self.placement()
        self.assertEqual([], p.disks)
        self.assertEqual(p, topology.GuestPlacement.from_dict(p.to_dict()))
        # saved before disks were read: loads, disks unknown (None)
        old = p.to_dict()
        del old['disks']
        loaded = topology.GuestPlacement.from_dict(old)
        self.assertIsNone(loaded.disks)
        self.assertEqual(p.nics, loaded.nics)
        # a parsed XML without 'disks' (older caller): unknown too
        xml = parsers.parse_domain_xml(sample('dumpxml-pinned.xml'))
        del xml['disks']
        p = probe.build_guest_placement(
            'cmp-1', 'instance-00000001', host_topology(), xml,
            parsers.parse_vcpupin(sample('vcpupin-pinned.txt')),
            parsers.parse_numatune(sample('numatune-pinned.txt')),
            parsers.parse_emulatorpin(sample('emulatorpin-pinned.txt')))
        self.assertIsNone(p.disks)

    def test_floating_guest(self):
        p = self.placement('floating')
        self.assertFalse(p.pinned)
        self.assertEqual({0: list(range(8))}, p.vcpu_pins)
        self.assertEqual({0: [0]}, p.vcpu_cells)  # CPUs 0-7 are cell 0
        self.assertEqual(('', []), (p.memory_mode, p.memory_nodeset))
        self.assertEqual(4, p.page_size_kib)
        self.assertEqual([], p.pinned_cpus)

    def test_neighbours_on_the_guest_cells_only(self):
        pinned = parsers.parse_domain_xml(sample('dumpxml-pinned.xml'))
        on_cell0 = dict(pinned, name='instance-00000009',
                        vcpupin={0: frozenset({2})})
        on_cell1 = dict(pinned, name='instance-0000000b',
                        vcpupin={0: frozenset({12})})
        floating = parsers.parse_domain_xml(sample('dumpxml-floating.xml'))
        p = self.placement(neighbours={'instance-00000009': on_cell0,
                                       'instance-0000000b': on_cell1,
                                       'instance-0000000a': floating,
                                       'instance-00000001': pinned})
        self.assertEqual([topology.Neighbour('instance-00000009', [2], [0])],
                         p.neighbours)


class FakePool:
    """``run_many`` over recorded outputs by command label."""

    def __init__(self, outputs, failing=()):
        self.outputs = outputs
        self.failing = set(failing)
        self.runs = []

    def run_many(self, jobs, timeout=None):
        from migrationclient.host import ssh
        self.runs.append([job[2].label for job in jobs])
        result = {}
        for key, host, command, parser in jobs:
            if command.label in self.failing:
                raise ssh.CommandFailed(host, '%s exited 3' % command.label)
            result[key] = parser(self.outputs[command.label])
        return result


def domains_output(*names):
    files = {'instance-00000001': 'dumpxml-pinned.xml',
             'instance-0000000a': 'dumpxml-floating.xml'}
    return ''.join('<!-- domain %s -->\n%s\n' % (n, sample(files[n]))
                   for n in names)


def reading_outputs(domains=('instance-00000001', 'instance-0000000a')):
    from migrationclient.host import commands
    return {
        commands.CAPABILITIES.label: sample('capabilities-testdefault.xml'),
        commands.FREEPAGES.label: sample('freepages-testdefault.txt'),
        commands.LSCPU.label: sample('lscpu-local.json'),
        commands.NUMACTL.label: sample('numactl-2node.txt'),
        commands.NET_NUMA.label: sample('net-numa.txt'),
        commands.NOVA_CONF.label: '# path /etc/nova/nova.conf\n'
        + sample('novaconf-bed.conf'),
        commands.DOMAINS_XML.label: domains_output(*domains),
        commands.PCI_DEVICES.label: sample('pci-devices.txt'),
    }


class TestReadHost(testtools.TestCase):

    def test_one_round_of_bounded_commands(self):
        pool = FakePool(reading_outputs())
        reading = probe.read_host(pool, 'cmp-1')
        self.assertEqual(1, len(pool.runs))
        self.assertEqual(8, len(pool.runs[0]))
        self.assertEqual('/etc/nova/nova.conf', reading.conf.path)
        self.assertEqual(['instance-00000001', 'instance-0000000a'],
                         sorted(reading.domains))
        self.assertEqual(8, len(reading.pci_devices))
        self.assertEqual([0, 1], [c.id for c in reading.topology.cells])

    def test_optional_facts_missing_are_notes(self):
        from migrationclient.host import commands
        pool = FakePool(reading_outputs(),
                        failing=[commands.NOVA_CONF.label])
        reading = probe.read_host(pool, 'cmp-1')
        self.assertIsNone(reading.conf)
        self.assertIsNotNone(reading.domains)
        self.assertEqual(1, len(reading.notes))
        self.assertIn('cat nova.conf', reading.notes[0])

    def test_unreachable_host_is_not_tried_twice(self):
        from migrationclient.host import ssh

        class Unreachable(FakePool):
            def run_many(self, jobs, timeout=None):
                self.runs.append(jobs)
                raise ssh.HostUnreachable('cmp-1', 'connection refused')

        pool = Unreachable({})
        self.assertRaises(ssh.HostUnreachable, probe.read_host, pool,
                          'cmp-1')
        self.assertEqual(1, len(pool.runs))

    def test_topology_missing_fails(self):
        from migrationclient.host import commands
        from migrationclient.host import ssh
        pool = FakePool(reading_outputs(),
                        failing=[commands.CAPABILITIES.label])
        self.assertRaises(ssh.SSHError, probe.read_host, pool, 'cmp-1')
