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
from unittest import mock

from osc_lib import exceptions
import testtools

from migrationclient.constraints import evaluate
from migrationclient import exitcodes
from migrationclient.tests.unit.constraints import base
from migrationclient.v1 import precheck


class TestParser(testtools.TestCase):

    def parse(self, *argv):
        cmd = precheck.PrecheckMigration(mock.Mock(), None)
        return cmd.get_parser('migration precheck').parse_args(list(argv))

    def test_defaults(self):
        args = self.parse('vm1', 'vm2')
        self.assertEqual(['vm1', 'vm2'], args.servers)
        self.assertIsNone(args.hosts)
        self.assertIsNone(args.kinds)
        self.assertFalse(args.long)

    def test_options(self):
        args = self.parse('--source-host', 'c1', '--host', 'c2', '--host',
                          'c3', '--live', '--long')
        self.assertEqual('c1', args.source_host)
        self.assertEqual(['c2', 'c3'], args.hosts)
        self.assertEqual((evaluate.LIVE,), args.kinds)

    def test_live_and_cold_exclusive(self):
        self.assertRaises(SystemExit, self.parse, 'vm', '--live', '--cold')

    def test_needs_a_server(self):
        cmd = precheck.PrecheckMigration(mock.Mock(), None)
        args = argparse.Namespace(servers=[], source_host=None)
        self.assertRaises(exceptions.CommandError, cmd.take_action, args)


class TestRows(testtools.TestCase):

    def test_rows_and_blocked(self):
        ok = base.server()
        bad = base.server(id='bad', name='bad', status='ERROR',
                          **{'OS-EXT-STS:vm_state': 'error'})
        hosts = [base.host('host1'), base.host('host2')]
        snap = base.snapshot([ok, bad], hosts)
        evs = evaluate.precheck(snap, [ok.id, 'bad'])
        rows, blocked = precheck.rows(evs, [ok.id, 'bad'], snap)
        self.assertEqual(['bad'], blocked)
        self.assertEqual(2, len(rows))
        row = dict(zip(precheck.COLUMNS, rows[0]))
        self.assertEqual(('yes', 'yes', 'host2'),
                         (row['Live'], row['Cold'], row['Destination']))
        self.assertIn('--live-migration --host host2', row['Command'])
        bad_row = dict(zip(precheck.COLUMNS, rows[1]))
        self.assertEqual('', bad_row['Command'])
        self.assertIn('ERROR', bad_row['Blockers'].human_readable())
        self.assertIsInstance(bad_row['Blockers'].machine_readable(), list)

    def test_long_and_no_destination(self):
        srv = base.server()
        snap = base.snapshot([srv], [base.host('host1')])
        evs = evaluate.precheck(snap, [srv.id])
        rows, blocked = precheck.rows(evs, [srv.id], snap, long=True)
        self.assertEqual([srv.id], blocked)
        self.assertEqual(len(precheck.LONG_COLUMNS), len(rows[0]))
        self.assertIn('no candidate destination',
                      rows[0][7].human_readable())
        snap = base.snapshot([srv], [base.host('host1'), base.host('host2')])
        rows, _b = precheck.rows(evaluate.precheck(snap, [srv.id]), [srv.id],
                                 snap, long=True)
        findings = rows[0][-1].machine_readable()
        self.assertEqual(len(evaluate.rules.RULE_IDS),
                         len({x.split(' ')[0] for x in findings}))

    def test_exit_status_constant(self):
        self.assertEqual(3, exitcodes.PRECHECK_BLOCKED)


class TestSideFacts(testtools.TestCase):
    """--ssh facts, from recorded host outputs through the host parsers."""

    def topology(self):
        from migrationclient.tests.unit.host import test_probe as host_tests
        return host_tests.host_topology()

    def test_host_side(self):
        side = precheck.host_side_from_topology(self.topology())
        self.assertEqual([0, 1], [c.id for c in side.numa_cells])
        cell0, cell1 = side.numa_cells
        self.assertEqual(1520, cell0.free_memory_mb)
        self.assertEqual(3900, cell1.free_memory_mb)
        self.assertEqual({8: 45, 2048: 97, 1048576: 201},
                         cell0.free_hugepages)
        self.assertIsNone(cell0.free_cpus)

    def test_rules_use_host_side(self):
        side = precheck.host_side_from_topology(self.topology())
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
        side = precheck.guest_side_from_placement(placement)
        self.assertEqual(placement.cpu_mode or None, side.cpu_mode)
        self.assertEqual(0, side.cdroms)          # no disk at all
        self.assertIsNone(side.config_drive_format)
        placement.disks = None                    # an older snapshot
        side = precheck.guest_side_from_placement(placement)
        self.assertIsNone(side.cdroms)

    def _drives_side(self, xml):
        return precheck.guest_side_from_placement(host_tests_placement(xml))

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
        self.assertEqual(0, precheck.guest_side_from_placement(
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
