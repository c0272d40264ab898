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

import dataclasses

import testtools

from migrationclient.constraints import model as f
from migrationclient.constraints import rules
from migrationclient.tests.unit.constraints import base

LIVE, COLD = f.LIVE, f.COLD


class RuleTestCase(testtools.TestCase):
    rule = None

    def check(self, server, hosts, dest='host2', **snap):
        snapshot = base.snapshot([server], hosts, **snap)
        findings = type(self).rule(server, snapshot.hosts.get(server.host),
                                   snapshot.hosts[dest], snapshot)
        self.assertTrue(findings)
        for finding in findings:
            self.assertIn(finding.severity, f.SEVERITIES)
        return findings

    def assertBlocks(self, findings, kind):
        self.assertTrue(any(x.blocks(kind) for x in findings), findings)

    def assertAllows(self, findings, kind):
        self.assertFalse(any(x.blocks(kind) for x in findings), findings)

    def severities(self, findings):
        return {x.severity for x in findings}


class TestCpuArch(RuleTestCase):
    rule = staticmethod(rules.cpu_arch)

    def test_same_arch(self):
        found = self.check(base.server(), base.two_hosts())
        self.assertEqual({f.OK}, self.severities(found))

    def test_other_arch_blocks_both(self):
        found = self.check(base.server(), base.two_hosts(
            cpu_info={'arch': 'ppc64le'}))
        self.assertBlocks(found, LIVE)
        self.assertBlocks(found, COLD)
        self.assertIn('ppc64le', found[0].message)

    def test_traits_without_arch_unknown(self):
        hosts = [base.host('host1', traits=['HW_CPU_X86_AVX2']),
                 base.host('host2', traits=['HW_CPU_X86_AVX2'])]
        hosts = [h.__class__(**dict(h.__dict__, cpu=base.cloud_gather
                                    .cpu_from_traits(h.traits)))
                 for h in hosts]
        found = self.check(base.server(), hosts)
        self.assertEqual({f.UNKNOWN}, self.severities(found))


class TestCpuFeatures(RuleTestCase):
    rule = staticmethod(rules.cpu_features)

    def test_superset_ok(self):
        found = self.check(base.server(), base.two_hosts(
            cpu_info={'features': ['pge', 'clflush', 'avx2']}))
        self.assertEqual({f.OK}, self.severities(found))

    def test_missing_feature_blocks_live_only(self):
        found = self.check(base.server(), base.two_hosts(
            cpu_info={'features': ['pge']}))
        self.assertBlocks(found, LIVE)
        self.assertAllows(found, COLD)
        self.assertIn('clflush', found[0].message)

    def test_traits(self):
        src = base.cloud_gather.cpu_from_traits(
            ['HW_CPU_X86_AVX2', 'HW_CPU_X86_AESNI', 'HW_CPU_HYPERTHREADING'])
        dst = base.cloud_gather.cpu_from_traits(['HW_CPU_X86_AVX2'])
        hosts = base.two_hosts()
        hosts = [hosts[0].__class__(**dict(hosts[0].__dict__, cpu=src)),
                 hosts[1].__class__(**dict(hosts[1].__dict__, cpu=dst))]
        # issue 15 item 5: an extra HW_CPU_* trait on the source is not a
        # blocker by itself: unknown until the guest CPU is known
        found = self.check(base.server(), hosts)
        self.assertAllows(found, LIVE)
        self.assertEqual({f.UNKNOWN}, self.severities(found))
        self.assertIn('HW_CPU_X86_AESNI', found[0].message)
        self.assertNotIn('HYPERTHREADING', found[0].message)
        # a host-model guest carries the source's features: blocked
        srv = base.server().__class__(**dict(
            base.server().__dict__,
            guest_side=f.GuestSideFacts(cpu_mode='host-model')))
        found = self.check(srv, hosts)
        self.assertBlocks(found, LIVE)
        self.assertIn('HW_CPU_X86_AESNI', found[0].message)
        self.assertNotIn('HYPERTHREADING', found[0].message)

    def _custom(self, features, model='Nehalem'):
        return base.server().__class__(**dict(
            base.server().__dict__, guest_side=f.GuestSideFacts(
                cpu_mode='custom', cpu_model=model,
                cpu_features=frozenset(features))))

    def test_custom_guest_compares_its_own_cpu(self):
        # the sample's source has pge + clflush; the destination only pge:
        # a custom guest that requires pge only moves
        hosts = base.two_hosts(cpu_info={'features': ['pge']})
        found = self.check(self._custom(['pge']), hosts)
        self.assertEqual({f.OK}, self.severities(found))
        self.assertIn('Nehalem', found[0].message)
        found = self.check(self._custom(['pge', 'avx2']), hosts)
        self.assertBlocks(found, LIVE)
        self.assertAllows(found, COLD)
        self.assertIn('avx2', found[0].message)
        self.assertNotIn('clflush', found[0].message)

    def test_custom_guest_on_trait_hosts(self):
        src = base.cloud_gather.cpu_from_traits(
            ['HW_CPU_X86_AVX2', 'HW_CPU_X86_AESNI'])
        dst = base.cloud_gather.cpu_from_traits(['HW_CPU_X86_AVX2'])
        hosts = base.two_hosts()
        hosts = [hosts[0].__class__(**dict(hosts[0].__dict__, cpu=src)),
                 hosts[1].__class__(**dict(hosts[1].__dict__, cpu=dst))]
        self.assertEqual({f.OK}, self.severities(
            self.check(self._custom(['avx2']), hosts)))
        self.assertBlocks(self.check(self._custom(['aesni']), hosts), LIVE)

    def test_custom_guest_features_unread(self):
        srv = base.server().__class__(**dict(
            base.server().__dict__,
            guest_side=f.GuestSideFacts(cpu_mode='custom')))
        found = self.check(srv, base.two_hosts())
        self.assertEqual({f.UNKNOWN}, self.severities(found))
        self.assertIn('--ssh', found[0].remedy)


class TestCpuModel(RuleTestCase):
    rule = staticmethod(rules.cpu_model)

    def test_same_model(self):
        found = self.check(base.server(), base.two_hosts())
        self.assertEqual({f.OK}, self.severities(found))

    def test_other_model_without_ssh_warns(self):
        found = self.check(base.server(), base.two_hosts(
            cpu_info={'model': 'Skylake'}))
        self.assertEqual({f.WARNING}, self.severities(found))

    def test_passthrough_other_model_blocks_live(self):
        srv = base.server().__class__(**dict(
            base.server().__dict__,
            guest_side=f.GuestSideFacts(cpu_mode='host-passthrough')))
        found = self.check(srv, base.two_hosts(cpu_info={'model': 'Skylake'}))
        self.assertBlocks(found, LIVE)
        self.assertAllows(found, COLD)

    def test_host_model_guest_ok(self):
        srv = base.server().__class__(**dict(
            base.server().__dict__,
            guest_side=f.GuestSideFacts(cpu_mode='host-model')))
        found = self.check(srv, base.two_hosts(cpu_info={'model': 'Skylake'}))
        self.assertEqual({f.OK}, self.severities(found))


class TestMemory(RuleTestCase):
    rule = staticmethod(rules.memory)

    def test_fits(self):
        # sample: (5825 - 512) * 1.5 - 512 = 7457 MB free
        found = self.check(base.server(), base.two_hosts())
        self.assertEqual({f.OK}, self.severities(found))
        self.assertIn('7457', found[0].message)

    def test_full_blocks_both(self):
        found = self.check(base.server(), base.two_hosts(
            inv=base.inventory(used={'MEMORY_MB': 7969 - 100})))
        self.assertBlocks(found, LIVE)
        self.assertBlocks(found, COLD)

    def test_hypervisor_fields_only_warn(self):
        hosts = base.two_hosts()
        dst = hosts[1].__class__(**dict(hosts[1].__dict__, inventory=None,
                                        free_ram_mb=100))
        found = self.check(base.server(), [hosts[0], dst])
        self.assertEqual({f.WARNING}, self.severities(found))

    def test_unknown(self):
        hosts = base.two_hosts()
        dst = hosts[1].__class__(**dict(hosts[1].__dict__, inventory=None,
                                        free_ram_mb=None))
        found = self.check(base.server(), [hosts[0], dst])
        self.assertEqual({f.UNKNOWN}, self.severities(found))


class TestVcpuAndDisk(RuleTestCase):
    rule = staticmethod(rules.vcpu)

    def test_vcpu_full(self):
        found = self.check(base.server(flavor={'vcpus': 4}), base.two_hosts(
            inv=base.inventory(used={'VCPU': 62})))
        self.assertBlocks(found, LIVE)

    def test_max_unit(self):
        found = self.check(base.server(flavor={'vcpus': 5}), base.two_hosts())
        self.assertBlocks(found, COLD)

    def test_disk_space(self):
        type(self).rule = staticmethod(rules.disk_space)
        self.addCleanup(setattr, type(self), 'rule',
                        staticmethod(rules.vcpu))
        found = self.check(base.server(flavor={'disk': 40}),
                           base.two_hosts())
        self.assertBlocks(found, LIVE)
        found = self.check(base.server(flavor={'disk': 40}, image=''),
                           base.two_hosts())
        self.assertEqual({f.OK}, self.severities(found))


NUMA2 = {'extra_specs': {'hw:numa_nodes': '2'}}
PINNED = {'extra_specs': {'hw:cpu_policy': 'dedicated'}, 'vcpus': 2}


class TestNuma(RuleTestCase):
    rule = staticmethod(rules.numa)

    def test_no_numa(self):
        found = self.check(base.server(), base.two_hosts())
        self.assertEqual({f.OK}, self.severities(found))

    def test_cells_unknown(self):
        found = self.check(base.server(flavor=NUMA2), base.two_hosts())
        self.assertEqual({f.UNKNOWN}, self.severities(found))

    def test_two_node_guest_one_cell_host(self):
        found = self.check(base.server(flavor=NUMA2), base.two_hosts(
            cpu_info={'topology': {'cells': 1, 'sockets': 1, 'cores': 4,
                                   'threads': 1}}))
        self.assertBlocks(found, LIVE)
        self.assertBlocks(found, COLD)

    def test_two_cells_capacity_unknown_without_ssh(self):
        found = self.check(base.server(flavor=NUMA2), base.two_hosts(
            cpu_info={'topology': {'cells': 2}}))
        self.assertEqual({f.UNKNOWN}, self.severities(found))

    def test_host_side_cells(self):
        hosts = base.two_hosts()
        side = f.HostSideFacts(numa_cells=(
            f.NumaCell(0, free_cpus=1, free_memory_mb=4096),
            f.NumaCell(1, free_cpus=4, free_memory_mb=4096)))
        dst = hosts[1].__class__(**dict(hosts[1].__dict__, host_side=side))
        srv = base.server(flavor=dict(PINNED, vcpus=4, extra_specs=dict(
            PINNED['extra_specs'], **{'hw:numa_nodes': '2'})))
        found = self.check(srv, [hosts[0], dst])
        self.assertBlocks(found, LIVE)   # 2 CPUs per cell, cell 0 has 1

    def test_host_side_cells_fit(self):
        hosts = base.two_hosts()
        side = f.HostSideFacts(numa_cells=(
            f.NumaCell(0, free_cpus=2, free_memory_mb=4096),
            f.NumaCell(1, free_cpus=2, free_memory_mb=4096)))
        dst = hosts[1].__class__(**dict(hosts[1].__dict__, host_side=side))
        srv = base.server(flavor=dict(PINNED, extra_specs=dict(
            PINNED['extra_specs'], **{'hw:numa_nodes': '2'})))
        found = self.check(srv, [hosts[0], dst])
        self.assertAllows(found, LIVE)

    def test_stein_refuses_live(self):
        found = self.check(base.server(flavor=PINNED), base.two_hosts(),
                           version='2.72')
        self.assertBlocks(found, LIVE)
        self.assertAllows(found, COLD)

    def test_newton_warns(self):
        found = self.check(base.server(flavor=PINNED), base.two_hosts(),
                           version='2.38')
        self.assertIn(f.WARNING, self.severities(found))
        self.assertAllows(found, LIVE)


class TestPinning(RuleTestCase):
    rule = staticmethod(rules.pinning)

    def test_not_pinned(self):
        found = self.check(base.server(), base.two_hosts())
        self.assertEqual({f.OK}, self.severities(found))

    def test_pcpu_free(self):
        inv = base.inventory(PCPU={'total': 4, 'max_unit': 4},
                             used={'PCPU': 2})
        found = self.check(base.server(flavor=PINNED),
                           [base.host('host1', inv=inv),
                            base.host('host2', inv=inv)])
        self.assertEqual({f.OK}, self.severities(found))

    def test_pcpu_full(self):
        inv = base.inventory(PCPU={'total': 4, 'max_unit': 4},
                             used={'PCPU': 3})
        found = self.check(base.server(flavor=PINNED),
                           [base.host('host1', inv=inv),
                            base.host('host2', inv=inv)])
        self.assertBlocks(found, LIVE)
        self.assertBlocks(found, COLD)

    def test_no_pcpu_inventory_on_dest(self):
        inv = base.inventory(PCPU={'total': 4, 'max_unit': 4})
        found = self.check(base.server(flavor=PINNED),
                           [base.host('host1', inv=inv), base.host('host2')])
        self.assertBlocks(found, COLD)

    def test_aggregate_pinned(self):
        flavor = {'extra_specs': {
            'aggregate_instance_extra_specs:pinned': 'true'}}
        aggs = [base.aggregate('pinned', ['host1'], {'pinned': 'true'}),
                base.aggregate('shared', ['host2'], {'pinned': 'false'})]
        hosts = [base.host('host1', aggregates=aggs),
                 base.host('host2', aggregates=aggs)]
        found = self.check(base.server(flavor=flavor), hosts)
        self.assertBlocks(found, COLD)
        self.assertIn('pinned=true', found[0].message)
        hosts[1] = base.host('host2', aggregates=[
            base.aggregate('pinned', ['host1', 'host2'],
                           {'pinned': 'true'})])
        found = self.check(base.server(flavor=flavor), hosts)
        self.assertAllows(found, COLD)


class TestHugepages(RuleTestCase):
    rule = staticmethod(rules.hugepages)

    def test_small_pages(self):
        found = self.check(base.server(), base.two_hosts())
        self.assertEqual({f.OK}, self.severities(found))

    def test_unknown_without_ssh(self):
        found = self.check(base.server(flavor={'extra_specs': {
            'hw:mem_page_size': '2MB'}}), base.two_hosts())
        self.assertEqual({f.UNKNOWN}, self.severities(found))

    def _dest(self, pages):
        hosts = base.two_hosts()
        side = f.HostSideFacts(numa_cells=(
            f.NumaCell(0, free_hugepages={2048: pages}),))
        return [hosts[0], hosts[1].__class__(**dict(hosts[1].__dict__,
                                                    host_side=side))]

    def test_free_pages(self):
        srv = base.server(flavor={'extra_specs': {
            'hw:mem_page_size': '2048'}})          # 512 MB = 256 pages
        self.assertAllows(self.check(srv, self._dest(256)), LIVE)
        self.assertBlocks(self.check(srv, self._dest(255)), LIVE)

    def test_large(self):
        srv = base.server(flavor={'extra_specs': {
            'hw:mem_page_size': 'large'}})
        self.assertAllows(self.check(srv, self._dest(300)), COLD)
        self.assertBlocks(self.check(srv, self._dest(0)), COLD)


class TestDpdk(RuleTestCase):
    rule = staticmethod(rules.dpdk)

    @staticmethod
    def _hosts(datapath):
        """host1 -> host2, host2's Open vSwitch agent datapath given."""
        src, dest = base.two_hosts()
        return [src, dataclasses.replace(dest, ovs_datapath=datapath)]

    @staticmethod
    def _vhu(**specs):
        return base.server(ports=(base.port('normal', 'vhostuser'),),
                           flavor={'extra_specs': specs})

    def test_vhostuser_without_hugepages(self):
        found = self.check(self._vhu(), self._hosts('netdev'))
        # the huge page warning, and the OVS-DPDK destination is ok
        self.assertEqual({f.WARNING, f.OK}, self.severities(found))
        self.assertIn('hw:mem_page_size', found[0].message)

    def test_vhostuser_with_hugepages(self):
        srv = self._vhu(**{'hw:mem_page_size': 'large'})
        self.assertEqual({f.OK}, self.severities(
            self.check(srv, self._hosts('netdev'))))

    def test_ports_unknown(self):
        srv = base.server(ports=None)
        self.assertEqual({f.NOT_CHECKED}, self.severities(
            self.check(srv, base.two_hosts())))

    def test_no_vhostuser_ignores_datapath(self):
        srv = base.server(ports=(base.port('normal', 'ovs'),))
        for datapath in (None, '', 'system', 'netdev'):
            self.assertEqual({f.OK}, self.severities(
                self.check(srv, self._hosts(datapath))))

    def test_dest_netdev_ok(self):
        found = self.check(self._vhu(**{'hw:mem_page_size': '1GB'}),
                           self._hosts('netdev'))
        self.assertEqual({f.OK}, self.severities(found))
        self.assertIn('host2 runs OVS-DPDK', found[-1].message)
        self.assertIn('hugepages and numa rules', found[-1].message)

    def test_dest_kernel_ovs_warns_but_allows(self):
        # issue 15: Nova moves it (port rebound as ovs), unwise: a warning
        found = self.check(self._vhu(**{'hw:mem_page_size': 'large'}),
                           self._hosts('system'))
        self.assertEqual({f.OK, f.WARNING}, self.severities(found))
        self.assertAllows(found, LIVE)
        self.assertAllows(found, COLD)
        warning = [x for x in found if x.severity == f.WARNING][0]
        self.assertIn('host2', warning.message)
        self.assertIn('datapath system', warning.message)
        self.assertIn('DPDK data path', warning.message)

    def test_dest_netdev_without_vhostuser_warns(self):
        found = self.check(self._vhu(**{'hw:mem_page_size': 'large'}),
                           self._hosts('netdev without dpdkvhostuser'))
        self.assertEqual({f.OK, f.WARNING}, self.severities(found))
        self.assertIn('netdev without dpdkvhostuser', found[-1].message)

    def test_dest_without_agent_not_checked(self):
        found = self.check(self._vhu(**{'hw:mem_page_size': 'large'}),
                           self._hosts(''))
        self.assertEqual({f.OK, f.NOT_CHECKED}, self.severities(found))
        self.assertAllows(found, LIVE)
        self.assertAllows(found, COLD)
        self.assertIn('host2 has no Open vSwitch agent', found[-1].message)
        self.assertIn('hugepages and numa rules', found[-1].message)

    def test_agents_unread_not_checked(self):
        found = self.check(self._vhu(**{'hw:mem_page_size': 'large'}),
                           self._hosts(None))
        self.assertEqual({f.OK, f.NOT_CHECKED}, self.severities(found))
        self.assertIn('not readable', found[-1].message)
        self.assertIn('network agent', found[-1].remedy)


class TestSriov(RuleTestCase):
    rule = staticmethod(rules.sriov)

    def test_no_sriov(self):
        srv = base.server(ports=(base.port('normal', 'ovs'),))
        self.assertEqual({f.OK}, self.severities(
            self.check(srv, base.two_hosts())))

    def test_newton_blocks_live(self):
        srv = base.server(ports=(base.port(),))
        found = self.check(srv, base.two_hosts(), version='2.38')
        self.assertBlocks(found, LIVE)
        self.assertAllows(found, COLD)
        self.assertIn('physnet2', found[-1].remedy)

    def test_train_warns(self):
        for vnic in rules.SRIOV_VNIC_TYPES:
            if vnic == 'vdpa':
                continue        # moves only from Zed: test_vdpa_from_zed
            srv = base.server(ports=(base.port(vnic),))
            found = self.check(srv, base.two_hosts(), version='2.79')
            self.assertAllows(found, LIVE)
            self.assertEqual({f.WARNING, f.UNKNOWN}, self.severities(found))

    def test_vdpa_from_zed(self):
        # issue 15 item 5: Nova moves vDPA servers only from Zed
        srv = base.server(ports=(base.port('vdpa'),))
        found = self.check(srv, base.two_hosts(), version='2.79')
        self.assertBlocks(found, LIVE)
        self.assertBlocks(found, COLD)
        self.assertIn('Zed', found[0].message)
        found = self.check(srv, base.two_hosts(), version='2.93')
        self.assertAllows(found, LIVE)
        self.assertAllows(found, COLD)
        self.assertEqual({f.WARNING, f.UNKNOWN}, self.severities(found))

    def test_unknown_names_the_fact(self):
        found = self.check(base.server(ports=(base.port(),)),
                           base.two_hosts())
        unknown = [x for x in found if x.severity == f.UNKNOWN][0]
        self.assertIn('free VFs on physnet2', unknown.message)
        self.assertIn('sriov_numvfs', unknown.remedy)


class TestPci(RuleTestCase):
    rule = staticmethod(rules.pci)
    ALIAS = {'extra_specs': {'pci_passthrough:alias': 'a1:1'}}

    def test_no_pci(self):
        self.assertEqual({f.OK}, self.severities(
            self.check(base.server(), base.two_hosts())))

    def test_blocks_live(self):
        for version in ('2.38', '2.79', '2.104'):
            found = self.check(base.server(flavor=self.ALIAS),
                               base.two_hosts(), version=version)
            self.assertBlocks(found, LIVE)
            self.assertAllows(found, COLD)

    def test_epoxy_live_migratable(self):
        found = self.check(base.server(flavor=self.ALIAS), base.two_hosts(),
                           version='2.100', pci_live_migratable=True)
        self.assertAllows(found, LIVE)
        found = self.check(base.server(flavor=self.ALIAS), base.two_hosts(),
                           version='2.96', pci_live_migratable=True)
        self.assertBlocks(found, LIVE)


class TestReadonlyDrives(RuleTestCase):
    rule = staticmethod(rules.readonly_drives)

    def _srv(self, guest=None, config_drive='True'):
        srv = base.server(config_drive=config_drive)
        return srv.__class__(**dict(srv.__dict__, guest_side=guest))

    def test_config_drive_unknown_format(self):
        found = self.check(self._srv(), base.two_hosts())
        self.assertEqual({f.NOT_CHECKED}, self.severities(found))

    def test_iso9660_warns(self):
        found = self.check(self._srv(f.GuestSideFacts(
            config_drive_format='iso9660')), base.two_hosts())
        self.assertEqual({f.WARNING}, self.severities(found))

    def test_vfat_and_no_cdrom_ok(self):
        found = self.check(self._srv(f.GuestSideFacts(
            config_drive_format='vfat')), base.two_hosts())
        self.assertEqual({f.OK}, self.severities(found))

    def test_cdrom_warns(self):
        found = self.check(self._srv(f.GuestSideFacts(cdroms=1), ''),
                           base.two_hosts())
        self.assertEqual({f.WARNING}, self.severities(found))

    def test_no_config_drive_not_read(self):
        found = self.check(self._srv(config_drive=''), base.two_hosts())
        self.assertEqual({f.NOT_CHECKED}, self.severities(found))
        self.assertEqual('use --ssh', found[0].remedy)
        # guest side read for the CPU mode only (an older snapshot)
        found = self.check(self._srv(f.GuestSideFacts(cpu_mode='custom'),
                                     ''), base.two_hosts())
        self.assertEqual({f.NOT_CHECKED}, self.severities(found))

    def test_no_readonly_drive(self):
        found = self.check(self._srv(f.GuestSideFacts(cdroms=0), ''),
                           base.two_hosts())
        self.assertEqual({f.OK}, self.severities(found))
        self.assertEqual('no read-only drive', found[0].message)

    def test_host_iso9660_device(self):
        found = self.check(self._srv(f.GuestSideFacts(
            cdroms=0, config_drive_format='iso9660',
            config_drive_device='cdrom hdd (ide)')), base.two_hosts())
        self.assertEqual([f.WARNING], [x.severity for x in found])
        self.assertEqual((LIVE,), found[0].applies_to)
        self.assertIn('iso9660 config drive (cdrom hdd (ide)): read-only',
                      found[0].message)
        self.assertIn('block migration', found[0].message)
        self.assertAllows(found, LIVE)

    def test_host_vfat_device(self):
        found = self.check(self._srv(f.GuestSideFacts(
            cdroms=0, config_drive_format='vfat',
            config_drive_device='disk vdz (virtio)')), base.two_hosts())
        self.assertEqual([f.OK], [x.severity for x in found])
        self.assertIn('vfat config drive (disk vdz (virtio)): read-write',
                      found[0].message)

    def test_iso9660_in_rbd_ok(self):
        found = self.check(self._srv(f.GuestSideFacts(
            cdroms=0, config_drive_format='iso9660',
            config_drive_device='cdrom hdd (ide)',
            config_drive_shared=True)), base.two_hosts())
        self.assertEqual({f.OK}, self.severities(found))
        self.assertIn('RBD', found[0].message)

    def test_host_shows_config_drive_the_api_does_not(self):
        found = self.check(self._srv(f.GuestSideFacts(
            cdroms=0, config_drive_format='iso9660'), ''), base.two_hosts())
        self.assertEqual({f.WARNING}, self.severities(found))

    def test_api_config_drive_missing_on_host(self):
        found = self.check(self._srv(f.GuestSideFacts(cdroms=0)),
                           base.two_hosts())
        self.assertEqual({f.NOT_CHECKED}, self.severities(found))
        self.assertIn('no disk.config device', found[0].message)

    def test_cdrom_from_image_and_config_drive(self):
        found = self.check(self._srv(f.GuestSideFacts(
            cdroms=1, cdrom_devices=('cdrom sdb (sata) /images/x.iso',),
            config_drive_format='vfat')), base.two_hosts())
        self.assertEqual([f.WARNING, f.OK], [x.severity for x in found])
        self.assertIn('1 CD-ROM drive(s) (cdrom sdb (sata) /images/x.iso)',
                      found[0].message)
        self.assertIn('detach the CD-ROM', found[0].remedy)
        self.assertAllows(found, LIVE)
        self.assertAllows(found, COLD)


class TestDisk(RuleTestCase):
    rule = staticmethod(rules.disk)

    def test_local_disk(self):
        found = self.check(base.server(), base.two_hosts())
        self.assertEqual({f.OK}, self.severities(found))
        self.assertIn('block migration', found[0].message)

    def test_volume_backed(self):
        found = self.check(base.server(image=''), base.two_hosts())
        self.assertEqual({f.OK}, self.severities(found))

    def test_volume_backed_with_ephemeral(self):
        found = self.check(base.server(image='', flavor={'ephemeral': 1}),
                           base.two_hosts())
        self.assertIn('ephemeral', found[0].message)


class TestState(RuleTestCase):
    rule = staticmethod(rules.state)

    def _check(self, status, vm_state, task_state=None, locked=False):
        srv = base.server(status=status, locked=locked, **{
            'OS-EXT-STS:vm_state': vm_state,
            'OS-EXT-STS:task_state': task_state})
        return self.check(srv, base.two_hosts())

    def test_active(self):
        found = self._check('ACTIVE', 'active')
        self.assertAllows(found, LIVE)
        self.assertAllows(found, COLD)

    def test_shutoff(self):
        found = self._check('SHUTOFF', 'stopped')
        self.assertBlocks(found, LIVE)
        self.assertAllows(found, COLD)

    def test_paused(self):
        found = self._check('PAUSED', 'paused')
        self.assertAllows(found, LIVE)
        self.assertBlocks(found, COLD)

    def test_error(self):
        found = self._check('ERROR', 'error')
        self.assertBlocks(found, LIVE)
        self.assertBlocks(found, COLD)

    def test_task_state(self):
        found = self._check('ACTIVE', 'active', 'migrating')
        self.assertBlocks(found, LIVE)
        self.assertBlocks(found, COLD)

    def test_suspended(self):
        found = self._check('SUSPENDED', 'suspended')
        self.assertBlocks(found, LIVE)
        self.assertBlocks(found, COLD)

    def test_shelved_gets_the_shelve_offload_remedy(self):
        # issue 15 item 5
        found = self._check('SHELVED', 'shelved')
        self.assertBlocks(found, LIVE)
        self.assertBlocks(found, COLD)
        self.assertEqual(1, len(found))
        self.assertIn('shelve --offload', found[0].remedy)
        self.assertIn('unshelve --host <dest>', found[0].remedy)
        found = self._check('SHELVED_OFFLOADED', 'shelved_offloaded')
        self.assertBlocks(found, COLD)
        self.assertNotIn('--offload', found[0].remedy)
        self.assertIn('2.91 server unshelve --host <dest>', found[0].remedy)

    def test_locked_warns(self):
        found = self._check('ACTIVE', 'active', locked=True)
        self.assertEqual({f.WARNING}, self.severities(found))


class TestServices(RuleTestCase):
    rule = staticmethod(rules.services)

    def test_ok(self):
        self.assertEqual({f.OK}, self.severities(
            self.check(base.server(), base.two_hosts())))

    def test_disabled_dest(self):
        found = self.check(base.server(), base.two_hosts(
            status='disabled', disabled_reason='maintenance'))
        self.assertBlocks(found, LIVE)
        self.assertBlocks(found, COLD)
        self.assertIn('maintenance', found[0].message)

    def test_down_and_forced_down(self):
        self.assertBlocks(self.check(base.server(), base.two_hosts(
            state='down')), COLD)
        found = self.check(base.server(), base.two_hosts(forced_down=True))
        self.assertBlocks(found, LIVE)
        self.assertIn('forced', found[0].message)

    def test_source_down(self):
        hosts = [base.host('host1', state='down'), base.host('host2')]
        self.assertBlocks(self.check(base.server(), hosts), LIVE)

    def test_dest_is_source(self):
        found = self.check(base.server(), base.two_hosts(), dest='host1')
        self.assertBlocks(found, COLD)

    def test_unknown_source(self):
        found = self.check(base.server(host='gone'), base.two_hosts())
        self.assertBlocks(found, LIVE)

    def test_pinned_az(self):
        hosts = [base.host('host1'), base.host('host2', zone='az2')]
        found = self.check(base.server(pinned_availability_zone='nova'),
                           hosts)
        self.assertBlocks(found, LIVE)
        found = self.check(base.server(), hosts)
        self.assertEqual({f.WARNING}, self.severities(found))

    def test_unpinned_zone_is_yes_with_a_warning(self):
        # issue 15 item 5: Nova allows leaving a zone the server is not
        # pinned to: a warning that says so, never a blocker
        hosts = [base.host('host1'), base.host('host2', zone='az2')]
        found = self.check(base.server(), hosts, version='2.96')
        self.assertEqual({f.WARNING}, self.severities(found))
        self.assertAllows(found, LIVE)
        self.assertAllows(found, COLD)
        self.assertIn('Nova allows it', found[0].message)
        found = self.check(base.server(), hosts, version='2.90')
        self.assertEqual({f.WARNING}, self.severities(found))
        self.assertIn('not shown below compute 2.96', found[0].message)


class TestHypervisor(RuleTestCase):
    rule = staticmethod(rules.hypervisor)

    def test_same(self):
        self.assertEqual({f.OK}, self.severities(
            self.check(base.server(), base.two_hosts())))

    def test_older_dest(self):
        found = self.check(base.server(), base.two_hosts(version=999))
        self.assertBlocks(found, LIVE)
        self.assertAllows(found, COLD)

    def test_other_type(self):
        hosts = base.two_hosts()
        dst = hosts[1].__class__(**dict(hosts[1].__dict__,
                                        hypervisor_type='QEMU'))
        self.assertBlocks(self.check(base.server(), [hosts[0], dst]), LIVE)


class TestServerGroup(RuleTestCase):
    rule = staticmethod(rules.server_group)

    def _check(self, policy, peer_host, rules_=None, dest='host2'):
        srv = base.server()
        grp = base.group(policy, [srv.id, 'peer'],
                         {srv.id: 'host1', 'peer': peer_host}, rules_)
        return self.check(srv, base.two_hosts() + [base.host('host3')],
                          dest=dest, groups={srv.id: (grp,)})

    def test_anti_affinity_peer_on_dest(self):
        self.assertBlocks(self._check('anti-affinity', 'host2'), LIVE)
        self.assertAllows(self._check('anti-affinity', 'host3'), LIVE)

    def test_anti_affinity_max_per_host(self):
        found = self._check('anti-affinity', 'host2',
                            {'max_server_per_host': 2})
        self.assertAllows(found, COLD)

    def test_affinity_peer_on_source_blocks(self):
        found = self._check('affinity', 'host1')
        self.assertBlocks(found, LIVE)
        self.assertBlocks(found, COLD)

    def test_affinity_peer_on_dest(self):
        self.assertAllows(self._check('affinity', 'host2'), LIVE)

    def test_soft_policies_warn(self):
        self.assertEqual({f.WARNING}, self.severities(
            self._check('soft-anti-affinity', 'host2')))
        self.assertEqual({f.WARNING}, self.severities(
            self._check('soft-affinity', 'host1')))

    def test_unknown_member_host(self):
        srv = base.server()
        grp = base.group('anti-affinity', [srv.id, 'peer'], {srv.id: 'host1'})
        found = self.check(srv, base.two_hosts(), groups={srv.id: (grp,)})
        self.assertIn(f.UNKNOWN, self.severities(found))


class TestDevices(RuleTestCase):
    rule = staticmethod(rules.devices)

    def test_none(self):
        self.assertEqual({f.OK}, self.severities(
            self.check(base.server(), base.two_hosts())))

    def test_vtpm(self):
        srv = base.server(flavor={'extra_specs': {'hw:tpm_version': '2.0'}})
        self.assertBlocks(self.check(srv, base.two_hosts(),
                                     version='2.100'), LIVE)
        self.assertBlocks(self.check(srv, base.two_hosts(),
                                     version='2.103'), LIVE)
        srv = base.server(flavor={'extra_specs': {
            'hw:tpm_version': '2.0', 'hw:tpm_secret_security': 'host'}})
        found = self.check(srv, base.two_hosts(), version='2.103')
        self.assertAllows(found, LIVE)

    def test_vpmem(self):
        srv = base.server(flavor={'extra_specs': {'hw:pmem': '6GB'}})
        self.assertBlocks(self.check(srv, base.two_hosts(), version='2.79'),
                          LIVE)
        self.assertAllows(self.check(srv, base.two_hosts(), version='2.87'),
                          LIVE)

    def test_vgpu(self):
        srv = base.server(flavor={'extra_specs': {'resources:VGPU': '1'}})
        found = self.check(srv, base.two_hosts(), version='2.95')
        self.assertBlocks(found, LIVE)
        self.assertAllows(found, COLD)
        self.assertAllows(self.check(srv, base.two_hosts(), version='2.96'),
                          LIVE)


class TestRuleTable(testtools.TestCase):

    def test_ids_unique_and_documented(self):
        self.assertEqual(len(rules.RULE_IDS), len(set(rules.RULE_IDS)))
        for rule_id, fn in rules.RULES:
            self.assertTrue(fn.__doc__.startswith(rule_id + ':'), rule_id)


class TestNumaEmptyTwin(RuleTestCase):
    rule = staticmethod(rules.numa)
    TOPO = {'topology': {'cells': 2, 'sockets': 1, 'cores': 4,
                         'threads': 1}}

    def hosts(self, dest_used, **dest_cpu):
        inv = base.inventory(PCPU={'total': 4, 'max_unit': 4},
                             used={'PCPU': 2, 'MEMORY_MB': 1024})
        dinv = base.inventory(PCPU={'total': 4, 'max_unit': 4},
                              used=dest_used)
        return [base.host('host1', inv=inv, cpu_info=self.TOPO),
                base.host('host2', inv=dinv,
                          cpu_info=dict(self.TOPO, **dest_cpu))]

    def test_identical_empty_destination_fits(self):
        found = self.check(base.server(flavor=PINNED), self.hosts({}))
        self.assertEqual({f.OK}, self.severities(found))
        self.assertIn('the guest cells fit as on the source', found[0].message)

    def test_busy_or_different_destination_unknown(self):
        found = self.check(base.server(flavor=PINNED),
                           self.hosts({'MEMORY_MB': 512}))
        self.assertEqual({f.UNKNOWN}, self.severities(found))
        found = self.check(base.server(flavor=PINNED),
                           self.hosts({}, model='Skylake'))
        self.assertEqual({f.UNKNOWN}, self.severities(found))

    def test_compute_node_still_busy_unknown(self):
        hosts = self.hosts({})
        hosts[1] = hosts[1].__class__(**dict(hosts[1].__dict__,
                                             running_vms=1))
        found = self.check(base.server(flavor=PINNED), hosts)
        self.assertEqual({f.UNKNOWN}, self.severities(found))


def with_side(hosts, name='host2', **side):
    """``hosts`` with HostSideFacts on ``name`` (as --ssh gives them)."""
    import dataclasses
    cells = side.pop('cells', ())
    facts = f.HostSideFacts(numa_cells=tuple(cells), **side)
    return [dataclasses.replace(h, host_side=facts) if h.name == name
            else h for h in hosts]


class TestSideFactsAnswer(RuleTestCase):
    """Issue 15 items 2 and 6: with the host read, yes or no.

    Never maybe then; without, the maybe names the fact and how to get it.
    """

    def cells(self, free_cpus=(2, 2), pages=(0, 0), memory=8192):
        return [f.NumaCell(id=i, free_cpus=c, free_memory_mb=memory,
                           memory_mb=memory,
                           free_hugepages={2048: p} if p is not None else {})
                for i, (c, p) in enumerate(zip(free_cpus, pages))]

    def test_pinned_guest_per_cell(self):
        # numa_fit_instance_to_host: a 1-node guest on one cell
        self.rule = rules.numa
        pinned = {'vcpus': 2, 'ram': 1024,
                  'extra_specs': {'hw:cpu_policy': 'dedicated'}}
        srv = base.server(flavor=pinned)
        for free, allowed in (((2, 0), True), ((1, 1), False),
                              ((0, 3), True)):
            found = rules.numa(srv, None, with_side(
                base.two_hosts(), cells=self.cells(free))[1],
                base.snapshot([srv], base.two_hosts()))
            self.assertEqual(allowed, not any(x.blocks(COLD)
                                              for x in found), found)
            self.assertNotIn(f.UNKNOWN, self.severities(found))
        # a 4-CPU guest larger than any cell: no
        srv = base.server(flavor=dict(pinned, vcpus=4))
        found = rules.numa(srv, None, with_side(
            base.two_hosts(), cells=self.cells((2, 2)))[1],
            base.snapshot([srv], base.two_hosts()))
        self.assertBlocks(found, COLD)
        self.assertIn('distinct NUMA cell', found[-1].message)
        # two guest nodes on two distinct cells
        srv = base.server(flavor=dict(pinned, vcpus=4, extra_specs=dict(
            pinned['extra_specs'], **{'hw:numa_nodes': '2'})))
        found = rules.numa(srv, None, with_side(
            base.two_hosts(), cells=self.cells((2, 2)))[1],
            base.snapshot([srv], base.two_hosts()))
        self.assertAllows(found, COLD)

    def test_floating_numa_guest_needs_shared_cpus_per_cell(self):
        srv = base.server(flavor={'vcpus': 4, 'ram': 2048, 'extra_specs': {
            'hw:numa_nodes': '2'}})
        for shared, allowed in ((2, True), (1, False)):
            cells = [f.NumaCell(id=i, free_cpus=0, memory_mb=8192,
                                shared_cpus=shared) for i in (0, 1)]
            hosts = with_side(base.two_hosts(), cells=cells)
            found = rules.numa(srv, None, hosts[1],
                               base.snapshot([srv], hosts))
            self.assertEqual(allowed, not any(x.blocks(COLD)
                                              for x in found), found)

    def test_numa_limits_from_the_allocation_ratios(self):
        # Nova's NUMA accounting: guest cells' memory within the cell's
        # memory x ram_allocation_ratio, floating vCPUs within the shared
        # CPUs x cpu_allocation_ratio (Placement's ratios)
        import dataclasses
        srv = base.server(flavor={'vcpus': 2, 'ram': 2048, 'extra_specs': {
            'hw:numa_nodes': '1'}})
        for used_mb, used_cpus, allowed in ((6000, 0, True),
                                            (7000, 0, False),
                                            (0, 7, False), (0, 6, True)):
            cells = [f.NumaCell(id=0, free_cpus=0, memory_mb=8192,
                                shared_cpus=2, memory_used_mb=used_mb,
                                shared_used=used_cpus)]
            hosts = with_side(base.two_hosts(), cells=cells)
            inventory = dict(hosts[1].inventory)
            inventory['MEMORY_MB'] = dataclasses.replace(
                inventory['MEMORY_MB'], allocation_ratio=1.0)
            inventory['VCPU'] = dataclasses.replace(
                inventory['VCPU'], allocation_ratio=4.0)
            hosts[1] = dataclasses.replace(hosts[1], inventory=inventory)
            found = rules.numa(srv, None, hosts[1],
                               base.snapshot([srv], hosts))
            self.assertEqual(allowed, not any(x.blocks(COLD)
                                              for x in found),
                             (used_mb, used_cpus, found))

    def test_unread_free_cpus_say_what_and_how(self):
        srv = base.server(flavor={'vcpus': 2, 'ram': 1024, 'extra_specs': {
            'hw:cpu_policy': 'dedicated'}})
        hosts = with_side(base.two_hosts(), cells=self.cells((None, None)),
                          unread=('nova.conf',))
        found = rules.numa(srv, None, hosts[1],
                           base.snapshot([srv], hosts))
        unknown = [x for x in found if x.severity == f.UNKNOWN]
        self.assertEqual(1, len(unknown), found)
        self.assertIn('free dedicated CPUs per NUMA cell of host2',
                      unknown[0].message)
        self.assertIn('nova.conf', unknown[0].message)
        # not read at all: the maybe says --ssh
        hosts = base.two_hosts()
        found = rules.hugepages(base.server(flavor={'extra_specs': {
            'hw:mem_page_size': '2MB'}}), None, hosts[1],
            base.snapshot([srv], hosts))
        self.assertIn('host2', found[0].message)
        self.assertIn('--ssh', found[0].remedy)

    def test_hugepages_of_the_size_on_one_cell(self):
        srv = base.server(flavor={'ram': 1024, 'extra_specs': {
            'hw:mem_page_size': '2048'}})
        for pages, allowed in (((512, 0), True), ((300, 300), False),
                               ((None, None), False)):
            hosts = with_side(base.two_hosts(),
                              cells=self.cells(pages=pages))
            found = rules.hugepages(srv, None, hosts[1],
                                    base.snapshot([srv], hosts))
            self.assertEqual(allowed, not any(x.blocks(COLD)
                                              for x in found), found)
            self.assertNotIn(f.UNKNOWN, self.severities(found))

    def test_pci_alias_free_devices(self):
        srv = base.server(flavor={'extra_specs': {
            'pci_passthrough:alias': 'fc-pci:1'}})
        for free, allowed in (({'fc-pci': 1}, True), ({'fc-pci': 0}, False)):
            hosts = with_side(base.two_hosts(), pci_free=free,
                              pci_live={'fc-pci': None})
            found = rules.pci(srv, None, hosts[1],
                              base.snapshot([srv], hosts))
            self.assertEqual(allowed, not any(x.blocks(COLD)
                                              for x in found), found)
            self.assertBlocks(found, LIVE)
            self.assertNotIn(f.UNKNOWN, self.severities(found))
        # an alias the destination's nova.conf lacks: maybe, saying so
        hosts = with_side(base.two_hosts(), pci_free={'other': 2})
        found = rules.pci(srv, None, hosts[1], base.snapshot([srv], hosts))
        self.assertIn(f.UNKNOWN, self.severities(found))
        self.assertIn('not in the [pci] alias of host2', ' '.join(
            x.message for x in found))

    def test_pci_live_migratable_from_nova_conf(self):
        srv = base.server(flavor={'extra_specs': {
            'pci_passthrough:alias': 'vf:1'}})
        for live, allowed in ((True, True), (None, False), (False, False)):
            hosts = with_side(base.two_hosts(), pci_free={'vf': 1},
                              pci_live={'vf': live})
            found = rules.pci(srv, None, hosts[1],
                              base.snapshot([srv], hosts, version='2.100'))
            self.assertEqual(allowed, not any(x.blocks(LIVE)
                                              for x in found), found)
        # before Epoxy nova.conf does not matter: no live migration
        found = rules.pci(srv, None, hosts[1],
                          base.snapshot([srv], hosts, version='2.96'))
        self.assertBlocks(found, LIVE)

    def test_sriov_free_vfs(self):
        srv = base.server(ports=(base.port(),))
        for free, allowed in ((1, True), (0, False)):
            hosts = with_side(base.two_hosts(), vf_free={'physnet2': free})
            found = rules.sriov(srv, None, hosts[1],
                                base.snapshot([srv], hosts))
            self.assertEqual(allowed, not any(x.blocks(COLD)
                                              for x in found), found)
            self.assertEqual(allowed, not any(x.blocks(LIVE)
                                              for x in found), found)
            self.assertNotIn(f.UNKNOWN, self.severities(found))
        # VFs of the host not readable: the maybe says why
        hosts = with_side(base.two_hosts(), unread=('PCI devices',))
        found = rules.sriov(srv, None, hosts[1], base.snapshot([srv], hosts))
        unknown = [x for x in found if x.severity == f.UNKNOWN]
        self.assertIn('PCI devices not readable', unknown[0].message)

    def test_vcpu_pinning_host_by_free_cpus(self):
        # a host that pins from VCPU (no PCPU inventory): Placement's
        # fallback question decides nothing, the host's free CPUs do
        from migrationclient.constraints.rules import numa_placement
        hosts = with_side(base.two_hosts(), cells=self.cells((1, 0)))
        self.assertEqual(1, numa_placement._free_dedicated(hosts[1]))
        hosts = with_side(base.two_hosts(), cells=self.cells((None, 0)))
        self.assertIsNone(numa_placement._free_dedicated(hosts[1]))
