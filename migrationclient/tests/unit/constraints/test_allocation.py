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

"""Rules that answer from Placement's allocation candidates (issue 15).

Hosts and inventories come from the API samples (tests/unit/samples);
the answers are built as ``cloud.gather.answers_from`` builds them (its
own test reads the upstream allocation candidates samples).
"""

import dataclasses

import testtools

from migrationclient.constraints import debit
from migrationclient.constraints import evaluate
from migrationclient.constraints import model as f
from migrationclient.constraints import request as rq
from migrationclient.constraints import rules
from migrationclient.constraints.rules import allocation as pl
from migrationclient.tests.unit.constraints import base

LIVE, COLD = f.LIVE, f.COLD


def answer(server, rooms, nova=34, **fields):
    """The PlacementAnswer of ``server``'s first request shape."""
    shape = rq.request_shapes(server, nova)[0]
    values = dict(
        key=(shape.key,), asked=base.cloud_gather.asked_text(shape),
        resources=tuple(sorted(shape.resources.items())),
        required=shape.required_traits, forbidden=shape.forbidden_traits,
        rooms=rooms, pcpu='PCPU' in shape.resources, version='1.39')
    values.update(fields)
    return f.PlacementAnswer(**values)


def room(host, **fields):
    """A PlacementRoom with the host's sample inventory as usage."""
    return f.PlacementRoom(usage=dict(host.inventory), traits=frozenset(),
                           **fields)


class Base(testtools.TestCase):

    def snap(self, server, hosts, rooms, **fields):
        snapshot = base.snapshot([server], hosts)
        return dataclasses.replace(snapshot, placement={
            server.id: answer(server, rooms, **fields)})

    def run_rule(self, rule, snapshot, dest='host2'):
        server = next(iter(snapshot.servers.values()))
        return rule(server, snapshot.hosts.get(server.host),
                    snapshot.hosts[dest], snapshot)

    def sev(self, findings):
        return {x.severity for x in findings}


class TestHostWithRoom(Base):

    def test_capacity_rules_say_yes(self):
        server = base.server()
        hosts = base.two_hosts()
        snap = self.snap(server, hosts, {'host2': room(hosts[1])})
        for rule in (rules.memory, rules.vcpu, rules.disk_space,
                     rules.placement):
            found = self.run_rule(rule, snap)
            self.assertEqual({f.OK}, self.sev(found), found)
        mem = self.run_rule(rules.memory, snap)[0]
        self.assertIn('Placement has room: MEMORY_MB needs 512, 7457 free',
                      mem.message)
        ev = evaluate.evaluate(snap, server.id, 'host2')
        self.assertFalse([x for x in ev.findings
                          if x.rule in ('memory', 'vcpu', 'disk-space',
                                        'placement')
                          and x.severity != f.OK])

    def test_planned_moves_are_debited(self):
        # the capacity planner debits the host: Placement's answer is from
        # before; the debited inventory decides
        big = base.server(flavor={'ram': 4000})
        hosts = base.two_hosts()
        snap = self.snap(big, hosts, {'host2': room(hosts[1])})
        self.assertEqual({f.OK}, self.sev(self.run_rule(rules.memory, snap)))
        after = debit.debit(snap, big, 'host2')
        found = self.run_rule(rules.memory, after)
        self.assertEqual({f.BLOCKER}, self.sev(found))
        self.assertIn('MEMORY_MB no longer fits', found[0].message)


class TestHostLeftOut(Base):

    def test_memory_binds_and_is_named(self):
        server = base.server(flavor={'ram': 2048})
        full = base.inventory(used={'MEMORY_MB': 7000})
        hosts = [base.host('host1'), base.host('host2', inv=full)]
        snap = self.snap(server, hosts, {})
        found = self.run_rule(rules.memory, snap)
        self.assertEqual({f.BLOCKER}, self.sev(found))
        self.assertIn('MEMORY_MB: needs 2048, 969 free of 7969',
                      found[0].message)
        self.assertIn('allocation candidates for', found[0].message)
        # the other rules do not repeat it
        self.assertEqual({f.OK}, self.sev(self.run_rule(rules.vcpu, snap)))
        found = self.run_rule(rules.placement, snap)
        self.assertEqual({f.OK}, self.sev(found))
        self.assertIn('see the memory rule', found[0].message)

    def test_required_trait_binds(self):
        server = base.server(flavor={'extra_specs': {
            'trait:CUSTOM_GOLD': 'required'}})
        hosts = [base.host('host1'), base.host('host2', traits=[
            'HW_CPU_X86_AVX2'])]
        snap = self.snap(server, hosts, {})
        found = self.run_rule(rules.placement, snap)
        self.assertEqual({f.BLOCKER}, self.sev(found))
        self.assertIn('required trait CUSTOM_GOLD', found[0].message)
        self.assertEqual({f.OK}, self.sev(self.run_rule(rules.memory, snap)))

    def test_nothing_visible_binds_names_the_question(self):
        server = base.server()
        snap = self.snap(server, base.two_hosts(), {})
        found = self.run_rule(rules.placement, snap)
        self.assertEqual({f.BLOCKER}, self.sev(found))
        self.assertIn('no allocation candidate for DISK_GB:1, MEMORY_MB:512, '
                      'VCPU:1, !COMPUTE_STATUS_DISABLED', found[0].message)

    def test_disabled_destination_is_the_services_rule(self):
        server = base.server()
        hosts = [base.host('host1'), base.host('host2', status='disabled')]
        snap = self.snap(server, hosts, {})
        found = self.run_rule(rules.placement, snap)
        self.assertEqual({f.OK}, self.sev(found))
        self.assertIn('services', found[0].message)
        ev = evaluate.evaluate(snap, server.id, 'host2')
        self.assertEqual(['services'], [b.rule for b in ev.blockers])

    def test_refused_question(self):
        server = base.server(flavor={'extra_specs': {
            'trait:CUSTOM_NOPE': 'required'}})
        snap = self.snap(server, base.two_hosts(), {},
                         refused='No such trait(s): CUSTOM_NOPE')
        found = self.run_rule(rules.placement, snap)
        self.assertEqual({f.BLOCKER}, self.sev(found))
        self.assertIn('CUSTOM_NOPE', found[0].message)


class TestPinnedGuest(Base):
    PINNED = {'vcpus': 2, 'extra_specs': {'hw:cpu_policy': 'dedicated'}}

    def hosts(self, **pcpu):
        inv = base.inventory(PCPU=dict({'total': 4, 'max_unit': 4}, **pcpu),
                             used={'PCPU': 3})
        return [base.host('host1', inv=inv), base.host('host2', inv=inv)]

    def test_free_pcpu_yes(self):
        server = base.server(flavor=self.PINNED)
        hosts = self.hosts()
        snap = self.snap(server, hosts, {'host2': room(hosts[1])})
        # the inventory says 1 PCPU free: the debited check wins
        found = self.run_rule(rules.pinning, snap)
        self.assertEqual({f.BLOCKER}, self.sev(found))
        hosts = [base.host('host1'), base.host('host2', inv=base.inventory(
            PCPU={'total': 4, 'max_unit': 4}))]
        snap = self.snap(server, hosts, {'host2': room(hosts[1])})
        found = self.run_rule(rules.pinning, snap)
        self.assertEqual({f.OK}, self.sev(found))
        self.assertIn('PCPU needs 2', found[0].message)
        self.assertEqual({f.OK}, self.sev(self.run_rule(rules.vcpu, snap)))

    def test_fallback_only_with_pcpu_inventory_is_no(self):
        server = base.server(flavor=self.PINNED)
        hosts = self.hosts()
        snap = self.snap(server, hosts, {
            'host2': room(hosts[1], fallback_only=True)})
        found = self.run_rule(rules.pinning, snap)
        self.assertEqual({f.BLOCKER}, self.sev(found))
        self.assertIn('no free PCPU', found[0].message)

    def test_fallback_only_on_a_vcpu_pinning_host_is_maybe(self):
        server = base.server(flavor=self.PINNED)
        hosts = base.two_hosts()
        snap = self.snap(server, hosts, {
            'host2': room(hosts[1], fallback_only=True)})
        found = self.run_rule(rules.pinning, snap)
        self.assertEqual({f.UNKNOWN}, self.sev(found))
        self.assertIn('--ssh', found[0].remedy)

    def test_pcpu_binds_when_left_out(self):
        server = base.server(flavor={'vcpus': 4, 'extra_specs': {
            'hw:cpu_policy': 'dedicated'}})
        inv = base.inventory(PCPU={'total': 4, 'max_unit': 4},
                             VCPU={'total': 2, 'max_unit': 2},
                             used={'PCPU': 3})
        hosts = [base.host('host1'), base.host('host2', inv=inv)]
        snap = self.snap(server, hosts, {})
        found = self.run_rule(rules.pinning, snap)
        self.assertEqual({f.BLOCKER}, self.sev(found))
        self.assertIn('PCPU: needs 4, 1 free', found[0].message)

    def test_aggregate_pinned_alone_is_not_pinning(self):
        # issue 15 item 5: an aggregate match, not PCPU consumption
        server = base.server(flavor={'vcpus': 2, 'extra_specs': {
            'aggregate_instance_extra_specs:pinned': 'true'}})
        self.assertFalse(server.dedicated_cpus)
        aggs = [base.aggregate('pinned', ['host1', 'host2'],
                               {'pinned': 'true'})]
        hosts = [base.host('host1', aggregates=aggs),
                 base.host('host2', aggregates=aggs, inv=base.inventory(
                     PCPU={'total': 4, 'max_unit': 4}, used={'PCPU': 4}))]
        snap = self.snap(server, hosts, {'host2': room(hosts[1])})
        found = self.run_rule(rules.pinning, snap)
        self.assertEqual({f.OK}, self.sev(found))
        self.assertIn('not pinned', found[0].message)
        found = self.run_rule(rules.vcpu, snap)
        self.assertIn('VCPU needs 2', found[0].message)
        self.assertEqual({'VCPU': 2, 'MEMORY_MB': 512, 'DISK_GB': 1},
                         debit.needs(server, hosts[1]))


class TestDevices(Base):

    def test_custom_mdev_class_from_placement(self):
        # issue 15 item 5: a CUSTOM_* class is a mediated device too
        server = base.server(flavor={'extra_specs': {
            'resources:CUSTOM_NVIDIA_11': '1'}})
        hosts = base.two_hosts()
        usage = dict(hosts[1].inventory,
                     CUSTOM_NVIDIA_11=f.Capacity(total=4, used=1))
        snap = self.snap(server, hosts, {
            'host2': f.PlacementRoom(usage=usage)})
        found = self.run_rule(rules.devices, snap)
        self.assertEqual({f.OK}, self.sev(found))
        self.assertIn('CUSTOM_NVIDIA_11 needs 1, 3 free', found[0].message)
        snap = self.snap(server, hosts, {})
        found = self.run_rule(rules.devices, snap)
        self.assertEqual({f.BLOCKER}, self.sev(found))
        self.assertIn('CUSTOM_NVIDIA_11', found[0].message)
        # without Placement: still detected, maybe, names how to know
        found = self.run_rule(rules.devices, base.snapshot(
            [server], hosts))
        self.assertEqual({f.UNKNOWN}, self.sev(found))
        self.assertIn('CUSTOM_NVIDIA_11', found[0].message)
        self.assertIn('resource provider', found[0].remedy)

    def test_vpmem_from_placement(self):
        server = base.server(flavor={'extra_specs': {'hw:pmem': '6GB'}})
        hosts = base.two_hosts()
        usage = dict(hosts[1].inventory, CUSTOM_PMEM_NAMESPACE_6GB=f.Capacity(
            total=2, used=0))
        snap = self.snap(server, hosts, {
            'host2': f.PlacementRoom(usage=usage)})
        self.assertEqual({f.OK}, self.sev(self.run_rule(rules.devices,
                                                        snap)))


class TestColdPci(Base):
    PCI = {'extra_specs': {'pci_passthrough:alias': 'fc-pci:1'}}

    def test_report_in_placement_none_free_is_no(self):
        server = base.server(flavor=self.PCI)
        hosts = base.two_hosts()
        snap = self.snap(server, hosts, {'host2': room(
            hosts[1], pci_free={'CUSTOM_PCI_8086_1572': 0})})
        found = self.run_rule(rules.pci, snap)
        cold = [x for x in found if COLD in x.applies_to]
        self.assertEqual({f.BLOCKER}, self.sev(cold))
        self.assertIn('0 free PCI device(s)', cold[0].message)

    def test_free_devices_of_unknown_class_stay_maybe(self):
        server = base.server(flavor=self.PCI)
        hosts = base.two_hosts()
        snap = self.snap(server, hosts, {'host2': room(
            hosts[1], pci_free={'CUSTOM_PCI_8086_1572': 2})})
        cold = [x for x in self.run_rule(rules.pci, snap)
                if COLD in x.applies_to]
        self.assertEqual({f.UNKNOWN}, self.sev(cold))
        self.assertIn('[pci] alias', cold[0].remedy)

    def test_not_in_placement(self):
        server = base.server(flavor=self.PCI)
        hosts = base.two_hosts()
        snap = self.snap(server, hosts, {'host2': room(hosts[1])})
        cold = [x for x in self.run_rule(rules.pci, snap)
                if COLD in x.applies_to]
        self.assertEqual({f.UNKNOWN}, self.sev(cold))
        self.assertIn('report_in_placement', cold[0].message)


class TestOwners(testtools.TestCase):

    def test_owner(self):
        self.assertEqual('memory', pl.owner('MEMORY_MB'))
        self.assertEqual('pinning', pl.owner('PCPU'))
        self.assertEqual('pci', pl.owner('CUSTOM_PCI_8086_1572'))
        self.assertEqual('devices', pl.owner('VGPU'))
        self.assertEqual('devices', pl.owner('CUSTOM_PMEM_NAMESPACE_6GB'))


class TestEveryMaybeSaysHow(testtools.TestCase):
    """Issue 15 item 6: each maybe says how to get the missing fact.

    On random facts, every unknown finding has a remedy.
    """

    def test_random_snapshots(self):
        from migrationclient.tests.unit.constraints import test_shared
        for seed in range(40):
            snap = test_shared.random_snapshot(seed)
            for ev in evaluate.precheck(snap, list(snap.servers)):
                for x in ev.findings:
                    if x.severity == f.UNKNOWN:
                        self.assertTrue(x.remedy, x)


class TestDebitNested(Base):

    def test_a_planned_vgpu_guest_takes_the_last_device(self):
        server = base.server(flavor={'extra_specs': {
            'resources:VGPU': '1'}})
        hosts = base.two_hosts()
        usage = dict(hosts[1].inventory, VGPU=f.Capacity(total=1, used=0))
        hosts[1] = dataclasses.replace(hosts[1], inventory=usage)
        snap = self.snap(server, hosts, {
            'host2': f.PlacementRoom(usage=usage)})
        self.assertEqual({f.OK}, self.sev(self.run_rule(rules.devices,
                                                        snap)))
        after = debit.debit(snap, server, 'host2')
        self.assertEqual(1, after.hosts['host2'].inventory['VGPU'].used)
        found = self.run_rule(rules.devices, after)
        self.assertEqual({f.BLOCKER}, self.sev(found))
        self.assertIn('VGPU no longer fits', found[0].message)


class TestReenabled(Base):

    def test_a_host_enabled_again_is_judged_on_its_inventory(self):
        # a drain's restore evaluates its host as enabled before enabling
        # it: Placement left it out only for COMPUTE_STATUS_DISABLED
        server = base.server()
        hosts = [base.host('host1'), base.host(
            'host2', traits=['COMPUTE_STATUS_DISABLED'])]
        snap = self.snap(server, hosts, {})
        found = self.run_rule(rules.placement, snap)
        self.assertEqual({f.OK}, self.sev(found))
        self.assertIn('disabled compute', found[0].message)
        ev = evaluate.evaluate(snap, server.id, 'host2')
        self.assertEqual([], ev.blockers)
        # too small for the server: still no, naming the resource
        big = base.server(flavor={'ram': 9000})
        snap = self.snap(big, hosts, {})
        ev = evaluate.evaluate(snap, big.id, 'host2')
        self.assertEqual(['memory'], [b.rule for b in ev.blockers])
