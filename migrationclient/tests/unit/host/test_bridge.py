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
