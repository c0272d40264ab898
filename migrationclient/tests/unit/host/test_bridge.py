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

"""Host facts into constraint side facts (moved from v1/test_precheck)."""

import testtools

from migrationclient.constraints import evaluate
from migrationclient.host import bridge
from migrationclient.host import parsers
from migrationclient.host import probe
from migrationclient.tests.unit.constraints import base


class TestSideFacts(testtools.TestCase):
    """--ssh facts, from recorded host outputs through the host parsers."""

    def topology(self):
        from migrationclient.tests.unit.host import test_probe as host_tests
        return host_tests.host_topology()

    def test_host_side(self):
        side = bridge.host_side_from_topology(self.topology())
        self.assertEqual([0, 1], [c.id for c in side.numa_cells])
        cell0, cell1 = side.numa_cells
        self.assertEqual(1520, cell0.free_memory_mb)
        self.assertEqual(3900, cell1.free_memory_mb)
        self.assertEqual({8: 45, 2048: 97, 1048576: 201},
                         cell0.free_hugepages)
        self.assertIsNone(cell0.free_cpus)

    def test_rules_use_host_side(self):
        side = bridge.host_side_from_topology(self.topology())
        # 2 cells with 97 free 2 MiB pages each (194 MiB): 256 MiB guest
        # does not fit, 128 MiB does.
        for ram, allowed in ((512, False), (256, True)):
            srv = base.server(flavor={'ram': ram, 'extra_specs': {
                'hw:mem_page_size': '2048', 'hw:numa_nodes': '2'}})
            snap = base.snapshot([srv], [base.host('host1'),
                                         base.host('host2')])
            snap = snap.with_side_facts({'host2': side})
            ev = evaluate.evaluate(snap, srv.id, 'host2')
            self.assertEqual(allowed, ev.cold.allowed, ev.blockers)
            self.assertEqual(allowed, not [b for b in ev.blockers
                                           if b.rule == 'hugepages'])

    def test_guest_side(self):
        from migrationclient.tests.unit.host import test_probe as host_tests
        placement = host_tests.TestGuestPlacement('test_pinned_guest') \
            .placement()
        side = bridge.guest_side_from_placement(placement)
        self.assertEqual(placement.cpu_mode or None, side.cpu_mode)
        self.assertEqual(0, side.cdroms)          # no disk at all
        self.assertIsNone(side.config_drive_format)
        placement.disks = None                    # an older snapshot
        side = bridge.guest_side_from_placement(placement)
        self.assertIsNone(side.cdroms)

    def _drives_side(self, xml):
        return bridge.guest_side_from_placement(host_tests_placement(xml))

    def test_guest_side_drives(self):
        side = self._drives_side('dumpxml-drives.xml')
        self.assertEqual(1, side.cdroms)
        self.assertEqual('iso9660', side.config_drive_format)
        self.assertEqual('cdrom sda (sata)', side.config_drive_device)
        self.assertFalse(side.config_drive_shared)
        self.assertEqual(
            ('cdrom sdb (sata) /var/lib/nova/instances/_base/'
             '8f0c9b1e2d3a4b5c6d7e8f90a1b2c3d4e5f60718',), side.cdrom_devices)
        placement = host_tests_placement('dumpxml-drives.xml')
        placement.disks[3].source = ''           # an empty tray
        self.assertEqual(0, bridge.guest_side_from_placement(
            placement).cdroms)
        side = self._drives_side('dumpxml-vfat.xml')
        self.assertEqual((0, 'vfat', 'disk vdz (virtio)'),
                         (side.cdroms, side.config_drive_format,
                          side.config_drive_device))

    def test_rules_use_guest_drives(self):
        srv = base.server(config_drive='True')
        snap = base.snapshot([srv], [base.host('host1'), base.host('host2')])

        def drives(snapshot):
            ev = evaluate.evaluate(snapshot, srv.id, 'host2')
            return [x for x in ev.findings if x.rule == 'readonly-drives']

        found = drives(snap)
        self.assertEqual(['not-checked'], [x.severity for x in found])
        side = self._drives_side('dumpxml-drives.xml')
        found = drives(snap.with_side_facts(guests={srv.id: side}))
        self.assertEqual(['warning', 'warning'],
                         [x.severity for x in found])
        self.assertIn('sdb', found[0].message)
        self.assertIn('iso9660 config drive (cdrom sda (sata))',
                      found[1].message)
        side = self._drives_side('dumpxml-vfat.xml')
        found = drives(snap.with_side_facts(guests={srv.id: side}))
        self.assertEqual(['ok'], [x.severity for x in found])
        self.assertIn('vfat config drive (disk vdz (virtio))',
                      found[0].message)


def host_tests_placement(xml):
    from migrationclient.tests.unit.host import test_probe as host_tests
    return host_tests.TestGuestPlacement('test_disks').placement(
        'floating', xml=xml)


class TestReading(testtools.TestCase):
    """--ssh host readings (recorded outputs) into the rules' facts."""

    def reading(self, **kwargs):
        from migrationclient.tests.unit.host import test_probe
        pool = test_probe.FakePool(test_probe.reading_outputs(**kwargs))
        return probe.read_host(pool, 'host2')

    def test_free_dedicated_cpus_per_cell(self):
        # cpu_dedicated_set 0-1,4-5 (all on cell 0 of the 2 x 8 CPU
        # capabilities); instance-00000001 pins CPUs 0 and 1
        side = bridge.host_side_from_reading(self.reading())
        self.assertEqual([2, 0], [c.free_cpus for c in side.numa_cells])
        self.assertEqual((), side.unread)
        # cpu_shared_set 2-3,6-7: all on cell 0 too
        self.assertEqual([4, 0], [c.shared_cpus for c in side.numa_cells])
        # the pinned guest's 1 GiB NUMA cell sits on host node 0; its
        # vCPUs are pinned: no floating vCPU counted
        self.assertEqual([1024, 0],
                         [c.memory_used_mb for c in side.numa_cells])
        self.assertEqual([0, 0], [c.shared_used for c in side.numa_cells])
        side = bridge.host_side_from_reading(self.reading(domains=(
            'instance-0000000a',)))
        self.assertEqual([4, 0], [c.free_cpus for c in side.numa_cells])
        self.assertTrue(all(c.memory_mb for c in side.numa_cells))

    def test_unknown_without_conf(self):
        reading = self.reading()
        reading.conf = None
        side = bridge.host_side_from_reading(reading)
        self.assertEqual([None, None],
                         [c.free_cpus for c in side.numa_cells])
        self.assertEqual([None, None],
                         [c.shared_cpus for c in side.numa_cells])
        self.assertEqual(('nova.conf',), side.unread)
        self.assertIsNone(side.pci_free)
        self.assertIsNone(side.vf_free)

    def test_free_devices(self):
        # the pinned guest holds VF 0000:3b:02.1 and PCI 0000:5e:00.0
        side = bridge.host_side_from_reading(self.reading())
        self.assertEqual({'fc-pci': 1, 'fc-vf': 3}, side.pci_free)
        self.assertEqual({'physnet4': 3}, side.vf_free)
        self.assertEqual({'fc-pci': None, 'fc-vf': None}, side.pci_live)
        side = bridge.host_side_from_reading(self.reading(domains=()))
        self.assertEqual({'fc-pci': 2, 'fc-vf': 4}, side.pci_free)
        # sysfs shows devices without their ids: not read, not "none free"
        reading = self.reading()
        reading.pci_devices = parsers.parse_pci_devices(
            '0000:81:00.0 - - 0 - 0\n')
        side = bridge.host_side_from_reading(reading)
        self.assertIsNone(side.pci_free)
        self.assertIsNone(side.vf_free)
        self.assertEqual(('PCI devices',), side.unread)
        # a host without PCI devices: none free
        reading.pci_devices = {}
        side = bridge.host_side_from_reading(reading)
        self.assertEqual({'fc-pci': 0, 'fc-vf': 0}, side.pci_free)
        self.assertEqual({}, side.vf_free)
        self.assertEqual((), side.unread)

    def test_a_held_pf_takes_its_vfs(self):
        from migrationclient.host import novaconf
        from migrationclient.tests.unit.host.base import sample
        conf = novaconf.parse(sample('novaconf-bed.conf'))
        devices = parsers.parse_pci_devices(sample('pci-devices.txt'))
        domains = {'pf-guest': {'hostdevs': ['0000:3b:00.0'], 'nics': []}}
        by_alias, by_net = bridge.free_devices(conf, devices, domains)
        self.assertEqual({'fc-pci': 2, 'fc-vf': 0}, by_alias)
        self.assertEqual({'physnet4': 0}, by_net)

    def test_guest_side_from_xml(self):
        from migrationclient.tests.unit.host.base import sample
        xml = parsers.parse_domain_xml(sample('dumpxml-pinned.xml').replace(
            "<cpu mode='host-passthrough'>",
            "<cpu mode='custom'><model>Haswell</model>"
            "<feature name='vmx'/>"))
        side = bridge.guest_side_from_xml(xml)
        self.assertEqual(('custom', 'Haswell', frozenset({'vmx'})),
                         (side.cpu_mode, side.cpu_model, side.cpu_features))

    def test_rules_with_readings(self):
        # a 2-CPU pinned guest: fits cell 0 with nothing pinned; with
        # CPUs 0-1 held by instance-00000001, 2 of 4 are left: still fits;
        # a 3-CPU one does not (the other cell has no dedicated CPU)
        for domains, vcpus, allowed in (
                ((), 4, True), (('instance-00000001',), 2, True),
                (('instance-00000001',), 3, False)):
            side = bridge.host_side_from_reading(self.reading(
                domains=domains))
            srv = base.server(flavor={'vcpus': vcpus, 'ram': 512,
                                      'extra_specs': {
                                          'hw:cpu_policy': 'dedicated'}})
            snap = base.snapshot([srv], [base.host('host1'),
                                         base.host('host2')])
            snap = snap.with_side_facts({'host2': side})
            ev = evaluate.evaluate(snap, srv.id, 'host2')
            numa = [x for x in ev.findings if x.rule == 'numa']
            self.assertEqual(allowed, ev.cold.allowed,
                             [x.as_text() for x in numa])
            self.assertNotIn('unknown', {x.severity for x in numa})


class TestSharedSet(testtools.TestCase):

    def test_shared_set_by_option(self):
        from migrationclient.host import novaconf
        from migrationclient import microversions as mv
        from migrationclient.tests.unit.host import test_probe
        topo = test_probe.host_topology()          # CPUs 0-15
        conf = novaconf.parse('[compute]\ncpu_dedicated_set = 0-3\n')
        self.assertEqual(set(range(4, 16)),
                         bridge.shared_set(conf, topo))
        conf = novaconf.parse('[compute]\ncpu_shared_set = 4-5\n'
                              '[DEFAULT]\nvcpu_pin_set = 6-9\n')
        self.assertEqual({4, 5}, bridge.shared_set(conf, topo))
        self.assertEqual({6, 7, 8, 9},
                         bridge.shared_set(conf, topo, mv.ROCKY))
        self.assertEqual(set(range(16)),
                         bridge.shared_set(novaconf.parse(''), topo))
        self.assertIsNone(bridge.shared_set(None, topo))


class TestNumaUsage(testtools.TestCase):

    def test_floating_numa_guest(self):
        from migrationclient.tests.unit.host.base import sample
        xml = parsers.parse_domain_xml(sample('dumpxml-pinned.xml').replace(
            "<vcpupin vcpu='0' cpuset='0'/>",
            "<vcpupin vcpu='0' cpuset='2-3'/>").replace(
            "<memnode cellid='0' mode='strict' nodeset='0'/>",
            "<memnode cellid='0' mode='strict' nodeset='1'/>"))
        memory, cpus = bridge.numa_usage({'a': xml, 'b': xml})
        self.assertEqual({1: 2048}, memory)
        self.assertEqual({1: 2}, cpus)          # vCPU 0 floats, 1 pinned
        # no NUMA topology: nothing in Nova's NUMA accounting
        plain = parsers.parse_domain_xml(sample('dumpxml-floating.xml'))
        self.assertEqual(({}, {}), bridge.numa_usage({'c': plain}))
