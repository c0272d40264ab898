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
from migrationclient.tests.unit.host.base import sample


class TestCpuset(testtools.TestCase):

    def test_forms(self):
        self.assertEqual(frozenset(), parsers.parse_cpuset(''))
        self.assertEqual({0, 1, 3, 8}, parsers.parse_cpuset('0-3,^2,8'))
        self.assertEqual({5}, parsers.parse_cpuset(' 5 '))

    def test_bad(self):
        for bad in ('a', '3-1', '1,,2', '0-999999', '1-'):
            self.assertRaises(parsers.ParseError, parsers.parse_cpuset, bad)


class TestVirsh(testtools.TestCase):

    def test_capabilities(self):
        caps = parsers.parse_capabilities(sample(
            'capabilities-testdefault.xml'))
        self.assertEqual([4, 8, 2048, 1048576], caps['page_sizes_kib'])
        self.assertEqual([0, 1], [c['id'] for c in caps['cells']])
        cell1 = caps['cells'][1]
        self.assertEqual(list(range(8, 16)), sorted(cell1['cpus']))
        self.assertEqual(4194304, cell1['memory_kib'])
        self.assertEqual({8: 524288, 2048: 0, 1048576: 0}, cell1['pages'])
        self.assertEqual({'socket': 1, 'core': 2, 'siblings': [10]},
                         cell1['cpus'][10])

    def test_capabilities_without_cells(self):
        text = sample('capabilities-testdefault.xml')
        start = text.index('<topology>')
        end = text.index('</topology>') + len('</topology>')
        self.assertRaisesRegex(parsers.ParseError, 'no NUMA cells',
                               parsers.parse_capabilities,
                               text[:start] + text[end:])

    def test_capabilities_truncated_and_hostile(self):
        text = sample('capabilities-testdefault.xml')
        self.assertRaisesRegex(parsers.ParseError, 'not XML',
                               parsers.parse_capabilities,
                               text[:len(text) // 2])
        self.assertRaisesRegex(
            parsers.ParseError, 'DTD', parsers.parse_capabilities,
            '<!DOCTYPE x [<!ENTITY a "aaaa">]><capabilities/>')
        self.assertRaises(parsers.ParseError, parsers.parse_capabilities,
                          '<domain/>')

    def test_freepages(self):
        free = parsers.parse_freepages(sample('freepages-testdefault.txt'))
        self.assertEqual({4: 19, 8: 45, 2048: 97, 1048576: 201}, free[1])
        self.assertRaises(parsers.ParseError, parsers.parse_freepages,
                          'error: this function is not supported')

    def test_vcpupin(self):
        self.assertEqual({0: {0}, 1: {1}},
                         parsers.parse_vcpupin(sample('vcpupin-pinned.txt')))
        self.assertEqual({0: set(range(8))}, parsers.parse_vcpupin(
            sample('vcpupin-floating.txt')))
        self.assertRaises(parsers.ParseError, parsers.parse_vcpupin,
                          ' VCPU   CPU Affinity\n---\n 0  zero\n')
        self.assertRaises(parsers.ParseError, parsers.parse_vcpupin, '')

    def test_vcpuinfo(self):
        info = parsers.parse_vcpuinfo(sample('vcpuinfo-pinned.txt'))
        self.assertEqual({'cpu': 1, 'affinity': {1}}, info[1])
        floating = parsers.parse_vcpuinfo(sample('vcpuinfo-floating.txt'))
        self.assertEqual(set(range(8)), floating[0]['affinity'])
        # a shut-off guest: "CPU: N/A" and a "CPU time" line with no colon
        stopped = parsers.parse_vcpuinfo(sample('vcpuinfo-shutoff.txt'))
        self.assertEqual({0: {'cpu': None, 'affinity': set(range(8))}},
                         stopped)
        self.assertRaises(parsers.ParseError, parsers.parse_vcpuinfo,
                          'CPU: 1\n')
        self.assertRaises(parsers.ParseError, parsers.parse_vcpuinfo,
                          'VCPU: 0\nCPU Affinity: yyx\n')

    def test_numatune(self):
        self.assertEqual({'mode': 'strict', 'nodeset': {0}},
                         parsers.parse_numatune(sample(
                             'numatune-pinned.txt')))
        # no <numatune>: libvirt prints strict with an empty nodeset
        self.assertEqual({'mode': 'strict', 'nodeset': set()},
                         parsers.parse_numatune(sample(
                             'numatune-floating.txt')))
        self.assertRaises(parsers.ParseError, parsers.parse_numatune,
                          'numa_mode: strict\n')

    def test_emulatorpin(self):
        self.assertEqual({0, 1}, parsers.parse_emulatorpin(
            sample('emulatorpin-pinned.txt')))
        self.assertEqual(set(range(8)), parsers.parse_emulatorpin(
            sample('emulatorpin-floating.txt')))
        self.assertRaises(parsers.ParseError, parsers.parse_emulatorpin,
                          'emulator: CPU Affinity\n')

    def test_list(self):
        self.assertEqual(['instance-00000001', 'instance-00000009',
                          'instance-0000000a'],
                         parsers.parse_domain_names(sample('list-name.txt')))

    def test_dumpxml_pinned(self):
        xml = parsers.parse_domain_xml(sample('dumpxml-pinned.xml'))
        self.assertEqual('instance-00000001', xml['name'])
        self.assertEqual(2, xml['vcpus'])
        self.assertEqual({0: {0}, 1: {1}}, xml['vcpupin'])
        self.assertEqual({0, 1}, xml['emulatorpin'])
        self.assertEqual(('strict', {0}),
                         (xml['memory_mode'], xml['memory_nodeset']))
        self.assertEqual(2048, xml['hugepages_kib'])
        self.assertEqual('host-passthrough', xml['cpu_mode'])
        self.assertEqual([('hostdev', '0000:3b:02.1'), ('direct', 'ens1f0'),
                          ('vhostuser', '/var/lib/vhost_sockets/vhu1')],
                         [(n['kind'], n['device']) for n in xml['nics']])
        self.assertEqual(['0000:5e:00.0'], xml['hostdevs'])
        self.assertEqual([{'id': '0', 'cpus': [0, 1], 'memory_kib': 1048576,
                           'nodeset': [0]}], xml['numa_cells'])
        self.assertEqual([], xml['disks'])

    def test_dumpxml_drives(self):
        xml = parsers.parse_domain_xml(sample('dumpxml-drives.xml'))
        inst = '/var/lib/nova/instances/5d3c8e0a-2f4b-4c61-9e1a-0c2f5b7d9e11'
        self.assertEqual([
            {'device': 'disk', 'kind': 'file', 'target': 'vda',
             'bus': 'virtio', 'source': inst + '/disk', 'readonly': False,
             'config_drive': False},
            {'device': 'disk', 'kind': 'network', 'target': 'vdb',
             'bus': 'virtio', 'readonly': False, 'config_drive': False,
             'source': 'volumes/volume-0b1c2d3e-4f50-4617-8a9b-0c1d2e3f4a5b'},
            {'device': 'cdrom', 'kind': 'file', 'target': 'sda',
             'bus': 'sata', 'source': inst + '/disk.config',
             'readonly': True, 'config_drive': True},
            {'device': 'cdrom', 'kind': 'file', 'target': 'sdb',
             'bus': 'sata', 'readonly': True, 'config_drive': False,
             'source': '/var/lib/nova/instances/_base/'
                       '8f0c9b1e2d3a4b5c6d7e8f90a1b2c3d4e5f60718'},
        ], xml['disks'])

    def test_dumpxml_vfat_config_drive(self):
        xml = parsers.parse_domain_xml(sample('dumpxml-vfat.xml'))
        self.assertEqual([('disk', 'vda', False), ('disk', 'vdz', True)],
                         [(d['device'], d['target'], d['config_drive'])
                          for d in xml['disks']])

    def test_dumpxml_rbd_config_drive_and_empty_cdrom(self):
        xml = parsers.parse_domain_xml(
            "<domain><name>i</name><devices>"
            "<disk type='network' device='cdrom'><source protocol='rbd' "
            "name='vms/5d3c_disk.config'/><target dev='hdd' bus='ide'/>"
            "</disk><disk type='file' device='cdrom'>"
            "<target dev='sdc' bus='sata'/><readonly/></disk>"
            "<disk type='volume' device='disk'><source pool='p' "
            "volume='v'/><target dev='vdc'/></disk>"
            "</devices></domain>")
        self.assertEqual(
            [('cdrom', 'network', 'vms/5d3c_disk.config', True),
             ('cdrom', 'file', '', False), ('disk', 'volume', 'p/v', False)],
            [(d['device'], d['kind'], d['source'], d['config_drive'])
             for d in xml['disks']])

    def test_dumpxml_floating(self):
        xml = parsers.parse_domain_xml(sample('dumpxml-floating.xml'))
        self.assertEqual({}, xml['vcpupin'])
        self.assertIsNone(xml['emulatorpin'])
        self.assertIsNone(xml['hugepages_kib'])
        self.assertEqual('', xml['memory_mode'])
        self.assertRaises(parsers.ParseError, parsers.parse_domain_xml,
                          '<capabilities/>')


class TestHostTools(testtools.TestCase):

    def test_lscpu(self):
        cpus = parsers.parse_lscpu(sample('lscpu-local.json'))
        self.assertEqual({0: {'node': 0, 'socket': 0, 'core': 0,
                              'online': True},
                          1: {'node': 0, 'socket': 0, 'core': 1,
                              'online': True}}, cpus)
        for bad in ('', '{"cpus": []}', '[1]', '{"cpus": [{"node": 0}]}'):
            self.assertRaises(parsers.ParseError, parsers.parse_lscpu, bad)

    def test_lscpu_memoryless_and_offline(self):
        cpus = parsers.parse_lscpu(
            '{"cpus": [{"cpu": 0, "node": null, "socket": 0, "core": 0, '
            '"online": false}]}')
        self.assertEqual({'node': None, 'socket': 0, 'core': 0,
                          'online': False}, cpus[0])

    def test_numactl(self):
        nodes = parsers.parse_numactl(sample('numactl-2node.txt'))
        self.assertEqual(set(range(8, 16)), nodes[1]['cpus'])
        self.assertEqual((4096, 3900), (nodes[1]['size_mb'],
                                        nodes[1]['free_mb']))
        self.assertEqual({0, 1}, parsers.parse_numactl(
            sample('numactl-local.txt'))[0]['cpus'])
        self.assertRaises(parsers.ParseError, parsers.parse_numactl,
                          'No NUMA available on this system\n')
        self.assertRaises(parsers.ParseError, parsers.parse_numactl,
                          'node 0 size: lots\n')

    def test_net_numa(self):
        nics, pci = parsers.parse_net_numa(sample('net-numa.txt'))
        self.assertEqual({'ens1f0': 0, 'ens1f1': 1, 'lo-dev': None}, nics)
        self.assertEqual({'0000:3b:00.0': 0, '0000:af:00.0': 1}, pci)
        self.assertRaises(parsers.ParseError, parsers.parse_net_numa,
                          'ens1f0 zero -\n')

    def test_pci_numa(self):
        self.assertEqual({'0000:3b:02.1': 0, '0000:3b:02.2': None},
                         parsers.parse_pci_numa(
                             '0000:3b:02.1 0\n0000:3b:02.2 missing\n'))
        self.assertRaises(parsers.ParseError, parsers.parse_pci_numa, 'x\n')


class TestEveryDomain(testtools.TestCase):
    """The DOMAINS_XML and PCI_DEVICES outputs of the --ssh precheck."""

    def test_domains(self):
        text = ('<!-- domain instance-00000001 -->\n'
                + sample('dumpxml-pinned.xml')
                + '\n<!-- domain instance-0000000a -->\n'
                + sample('dumpxml-floating.xml'))
        domains = parsers.parse_domains_xml(text)
        self.assertEqual(['instance-00000001', 'instance-0000000a'],
                         sorted(domains))
        pinned = domains['instance-00000001']
        self.assertEqual({0: {0}, 1: {1}}, pinned['vcpupin'])
        self.assertEqual(['0000:5e:00.0'], pinned['hostdevs'])
        self.assertEqual({}, parsers.parse_domains_xml(''))
        self.assertRaises(parsers.ParseError, parsers.parse_domains_xml,
                          'garbage\n<!-- domain x -->\n<domain/>')
        self.assertRaises(parsers.ParseError, parsers.parse_domains_xml,
                          '<!-- domain x -->\nnot xml')

    def test_guest_cpu_model_and_features(self):
        xml = sample('dumpxml-pinned.xml').replace(
            "<cpu mode='host-passthrough'>",
            "<cpu mode='custom' match='exact'><model fallback='forbid'>"
            "Haswell-noTSX</model><feature policy='require' name='vmx'/>"
            "<feature name='pcid'/><feature policy='disable' name='rtm'/>"
            "<feature policy='optional' name='ssbd'/>")
        parsed = parsers.parse_domain_xml(xml)
        self.assertEqual('custom', parsed['cpu_mode'])
        self.assertEqual('Haswell-noTSX', parsed['cpu_model'])
        self.assertEqual({'vmx', 'pcid'}, parsed['cpu_features'])
        plain = parsers.parse_domain_xml(sample('dumpxml-pinned.xml'))
        self.assertIsNone(plain['cpu_model'])
        self.assertEqual(frozenset(), plain['cpu_features'])

    def test_pci_devices(self):
        devices = parsers.parse_pci_devices(sample('pci-devices.txt'))
        self.assertEqual(8, len(devices))
        self.assertEqual({'vendor': '8086', 'product': '1515', 'node': 0,
                          'physfn': '0000:3b:00.0', 'total_vfs': 0},
                         devices['0000:3b:02.1'])
        self.assertEqual(4, devices['0000:3b:00.0']['total_vfs'])
        self.assertIsNone(devices['0000:00:1f.0']['node'])
        self.assertEqual(
            {'vendor': None, 'product': None, 'node': 0, 'physfn': None,
             'total_vfs': 0},
            parsers.parse_pci_devices('0000:81:00.0 - - 0 - 0')[
                '0000:81:00.0'])
        for bad in ('0000:00:1f.0 0x8086 0x7a04 -1 -',
                    '0000:00:1f.0 0x8086 zzzz -1 - 0',
                    '0000:00:1f.0 0x8086 0x7a04 x - 0'):
            self.assertRaises(parsers.ParseError,
                              parsers.parse_pci_devices, bad)
