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

"""precheck shares rule results: it must equal evaluate, pair by pair.

``evaluate.precheck`` computes a rule once per distinct input that the
rule's ``depends`` declaration names (server key, source, destination);
``evaluate.evaluate`` runs every rule for one pair.  On random facts that
vary every field a rule reads, both must give equal evaluations (every
finding, message and verdict), and a rule's findings must not change when
a server fact outside its declared key changes.
"""

import dataclasses
import random

from hypothesis import assume
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import testtools

from migrationclient.constraints import evaluate
from migrationclient.constraints import model as f
from migrationclient.constraints import rules
from migrationclient import microversions as mv

VERSIONS = ('2.38', '2.60', '2.72', '2.79', '2.88', '2.96', '2.100',
            '2.104')
TRAITS = ('HW_CPU_X86_AVX', 'HW_CPU_X86_AVX2', 'HW_CPU_X86_SSE42',
          'HW_CPU_HYPERTHREADING')
SPECS = (
    {}, {'hw:cpu_policy': 'dedicated'}, {'hw:cpu_policy': 'mixed'},
    {'hw:numa_nodes': '2'}, {'hw:numa_nodes': 'x'},
    {'hw:mem_page_size': '2048'}, {'hw:mem_page_size': 'large'},
    {'hw:mem_page_size': '1GB'}, {'hw:mem_page_size': 'small'},
    {'pci_passthrough:alias': 'gpu:1'},
    {'aggregate_instance_extra_specs:pinned': 'true'},
    {'aggregate_instance_extra_specs:ssd': True},
    {'hw:tpm_version': '2.0'},
    {'hw:tpm_version': '2.0', 'hw:tpm_secret_security': 'host'},
    {'hw:pmem': '6GB'}, {'resources:VGPU': '1'},
    {'resources:CUSTOM_NVIDIA_11': '1'}, {'trait:CUSTOM_GOLD': 'required'},
    {'hw:mem_page_size': '2MB', 'hw:cpu_policy': 'dedicated',
     'hw:numa_nodes': '2'},
)
IMAGE_PROPERTIES = ({}, {}, {'hw_mem_page_size': 'large'},
                    {'hw_cpu_policy': 'dedicated'}, {'hw_numa_nodes': '1'})


def _maybe(rng, value, p=0.2):
    return None if rng.random() < p else value


def _capacity(rng, total):
    return f.Capacity(total, rng.choice((0, 0, 8)),
                      rng.choice((1.0, 1.5, 4.0)),
                      rng.randrange(0, total + 1),
                      rng.choice((None, None, total // 2)))


def _host(rng, name):
    cpu = None
    if rng.random() < 0.9:
        source = rng.choice(('traits', 'traits', 'cpu_info'))
        cpu = f.CpuFacts(
            source=source, arch=_maybe(rng, rng.choice(
                ('x86_64', 'x86_64', 'ppc64le')), 0.1),
            model=_maybe(rng, rng.choice(('Skylake', 'Cascadelake'))),
            features=frozenset(t for t in TRAITS if rng.random() < 0.7),
            numa_cells=rng.choice((None, 1, 2, 2)))
    inventory = None
    if rng.random() < 0.85:
        inventory = {rc: _capacity(rng, total) for rc, total in
                     (('VCPU', 32), ('PCPU', 8), ('MEMORY_MB', 65536),
                      ('DISK_GB', 500)) if rng.random() < 0.85}
        if rng.random() < 0.1:
            inventory['MEMORY_MB'] = f.Capacity(65536)     # empty
    host_side = None
    if rng.random() < 0.4:
        host_side = f.HostSideFacts(
            cpu_model=_maybe(rng, rng.choice(('Skylake', 'Cascadelake'))),
            numa_cells=tuple(
                f.NumaCell(i, _maybe(rng, rng.randrange(0, 9)),
                           _maybe(rng, rng.randrange(0, 40000)),
                           {2048: rng.randrange(0, 9000)}
                           if rng.random() < 0.6 else {})
                for i in range(rng.choice((0, 1, 2)))))
    return f.HostFacts(
        name=name, nodename=name,
        state=rng.choice(('up', 'up', 'up', 'down', None)),
        status=rng.choice(('enabled', 'enabled', 'disabled')),
        forced_down=rng.random() < 0.05,
        disabled_reason=_maybe(rng, 'maintenance', 0.5),
        availability_zone=rng.choice(('nova', 'nova', 'az2', None)),
        hypervisor_type=_maybe(rng, rng.choice(('QEMU', 'QEMU', 'VMware')),
                               0.1),
        hypervisor_version=_maybe(rng, rng.choice((6002000, 8002000))),
        cpu=cpu, traits=cpu.features if cpu else None, inventory=inventory,
        memory_mb=_maybe(rng, 65536, 0.5),
        free_ram_mb=_maybe(rng, rng.randrange(0, 65536), 0.5),
        running_vms=rng.choice((None, 0, 0, 3)),
        vcpus_used=rng.choice((None, 0, 0, 4)),
        aggregates=tuple(
            ('agg%d' % i, {'pinned': rng.choice(('true', 'false')),
                           'ssd': rng.choice(('True', 'False'))})
            for i in range(rng.choice((0, 1, 2)))),
        host_side=host_side)


def _server(rng, index, host_names):
    status, vm_state = rng.choice((
        ('ACTIVE', 'active'), ('ACTIVE', 'active'), ('SHUTOFF', 'stopped'),
        ('PAUSED', 'paused'), ('ERROR', 'error'), ('SUSPENDED', 'suspended'),
        ('ACTIVE', None)))
    ports = None if rng.random() < 0.1 else tuple(
        f.PortFacts('p%d-%d' % (index, i),
                    rng.choice(('normal', 'normal', 'direct', 'macvtap')),
                    rng.choice(('ovs', 'vhostuser', 'hw_veb', None)),
                    rng.choice(('physnet2', None)))
        for i in range(rng.choice((0, 1, 2))))
    guest_side = None
    if rng.random() < 0.4:
        guest_side = f.GuestSideFacts(
            cpu_mode=rng.choice((None, 'host-passthrough', 'host-model',
                                 'custom')),
            cpu_model=rng.choice((None, 'Nehalem')),
            cpu_features=rng.choice((None, frozenset({'pge'}),
                                     frozenset({'avx2', 'pge'}))),
            cdroms=rng.choice((None, 0, 1)),
            config_drive_format=rng.choice((None, 'iso9660', 'vfat')),
            config_drive_device=rng.choice((None, 'cdrom sda (sata)')),
            config_drive_shared=rng.random() < 0.2,
            cdrom_devices=rng.choice(((), ('cdrom sdb (sata) /x.iso',))))
    return f.ServerFacts(
        id='srv-%03d' % index, name='vm%d' % index, status=status,
        vm_state=vm_state,
        task_state=rng.choice((None,) * 8 + ('migrating',)),
        locked=rng.random() < 0.1,
        host=rng.choice(host_names + ('ghost', None)
                        if rng.random() < 0.1 else host_names),
        availability_zone=rng.choice(('nova', 'nova', 'az2', None)),
        pinned_availability_zone=rng.choice((None, None, 'nova', 'az2')),
        flavor=f.FlavorFacts(
            name='fl', vcpus=rng.choice((1, 2, 4, 8)),
            ram=rng.choice((512, 2048, 4096, 32768)),
            disk=rng.choice((0, 20, 80)), ephemeral=rng.choice((0, 0, 10)),
            swap=rng.choice((0, 0, 512)),
            extra_specs=dict(rng.choice(SPECS))),
        image_properties=dict(rng.choice(IMAGE_PROPERTIES)),
        volume_backed=rng.random() < 0.3,
        config_drive=rng.random() < 0.2, ports=ports, guest_side=guest_side)


_TRANSPORTS = (
    f.TransportFacts(scheme='ssh', address='192.0.2.9', port=2022,
                     user='nova_migration', answered=True, run_as='nova'),
    f.TransportFacts(scheme='ssh', address='192.0.2.9', port=2022,
                     answered=False, problem='host-key-unknown'),
    f.TransportFacts(scheme='tcp', address='192.0.2.9', port=16509,
                     answered=False, problem='refused', detail='refused'),
    f.TransportFacts(scheme='tcp', detail='destination nova.conf not read'),
)


def _pair_facts(rng, hosts, servers):
    """Transport facts on the hosts read, same-CPU facts on the guests."""
    names = sorted(hosts)
    for name, host in hosts.items():
        if host.host_side is not None and rng.random() < 0.7:
            hosts[name] = dataclasses.replace(host, host_side=(
                dataclasses.replace(host.host_side, transport={
                    dest: rng.choice(_TRANSPORTS) for dest in names
                    if dest != name and rng.random() < 0.8})))
    changed = []
    for server in servers:
        if server.guest_side is not None and rng.random() < 0.7:
            server = dataclasses.replace(server, guest_side=(
                dataclasses.replace(server.guest_side, same_cpus={
                    dest: f.SameCpusFacts(
                        cpus=frozenset({2, 3}), cells=(0,),
                        taken=rng.choice(({}, {3: ('instance-9',)})),
                        not_dedicated=rng.choice((frozenset(),
                                                  frozenset({2}))),
                        dedicated_known=rng.random() < 0.8,
                        quick_fail=rng.choice((None, True, False)))
                    for dest in names if rng.random() < 0.7})))
        changed.append(server)
    return hosts, changed


def random_snapshot(seed):
    rng = random.Random(seed)
    host_names = tuple('host%d' % i for i in range(rng.randrange(2, 7)))
    hosts = {name: _host(rng, name) for name in host_names}
    servers = [_server(rng, i, host_names)
               for i in range(rng.randrange(1, 13))]
    hosts, servers = _pair_facts(rng, hosts, servers)
    groups = {}
    for g in range(rng.choice((0, 1, 2))):
        members = rng.sample(servers, min(len(servers), rng.randrange(1, 5)))
        ids = [s.id for s in members] + ['elsewhere-%d' % g]
        group = f.GroupFacts(
            id='grp-%d' % g, name=rng.choice(('', 'g%d' % g)),
            policy=rng.choice(('affinity', 'anti-affinity', 'soft-affinity',
                               'soft-anti-affinity')),
            rules=rng.choice(({}, {'max_server_per_host': 2})),
            members=tuple(ids),
            member_hosts={s.id: s.host for s in members
                          if rng.random() < 0.9})
        for s in members:
            groups[s.id] = groups.get(s.id, ()) + (group,)
    cloud = f.CloudFacts(
        max_version=mv.Version.parse(rng.choice(VERSIONS)),
        requested_version=rng.choice((None, mv.Version(2, 90))),
        notes=rng.choice(((), ('placement not read',))),
        pci_live_migratable=rng.random() < 0.3)
    placement = None
    if rng.random() < 0.6:
        placement = {s.id: _answer(rng, s, host_names) for s in servers}
    return f.Snapshot(cloud=cloud, hosts=hosts,
                      servers={s.id: s for s in servers}, groups=groups,
                      placement=placement)


def _answer(rng, server, host_names):
    """A random Placement answer for ``server`` (its key is its id)."""
    specs = server.flavor.extra_specs
    resources = {'MEMORY_MB': server.flavor.ram,
                 'DISK_GB': server.local_disk_gb}
    pcpu = specs.get('hw:cpu_policy') == 'dedicated'
    resources['PCPU' if pcpu else 'VCPU'] = server.flavor.vcpus
    if 'resources:VGPU' in specs:
        resources['VGPU'] = 1
    if 'resources:CUSTOM_NVIDIA_11' in specs:
        resources['CUSTOM_NVIDIA_11'] = 1
    rooms = {}
    for name in host_names:
        if rng.random() < 0.6:
            usage = {rc: f.Capacity(total=rng.choice((n, 4 * n + 8)),
                                    used=rng.choice((0, n)))
                     for rc, n in resources.items()}
            rooms[name] = f.PlacementRoom(
                usage=usage, traits=frozenset(rng.sample(TRAITS, 2)),
                fallback_only=pcpu and rng.random() < 0.3,
                pci_free=rng.choice((None, {'CUSTOM_PCI_8086_1572': 0},
                                     {'CUSTOM_PCI_8086_1572': 2})))
    required = frozenset({'CUSTOM_GOLD'}) if any(
        v == 'required' for v in specs.values()) else frozenset()
    return f.PlacementAnswer(
        key=('random', server.id),
        asked=', '.join('%s:%d' % x for x in sorted(resources.items())),
        resources=tuple(sorted(resources.items())), required=required,
        forbidden=frozenset({'COMPUTE_STATUS_DISABLED'}), rooms=rooms,
        refused=rng.choice((None,) * 9 + ('No such trait(s): X',)),
        pcpu=pcpu)


class TestSharedEqualsEvaluate(testtools.TestCase):

    @settings(max_examples=100, deadline=None)
    @given(st.integers(0, 2 ** 32 - 1),
           st.sampled_from(((evaluate.LIVE, evaluate.COLD), (evaluate.LIVE,),
                            (evaluate.COLD,))))
    def test_default_destinations(self, seed, kinds):
        snap = random_snapshot(seed)
        ids = list(snap.servers)
        expected = [evaluate.evaluate(snap, sid, dest, kinds)
                    for sid in ids
                    for dest in evaluate.destinations_for(snap, sid)]
        self.assertEqual(expected, evaluate.precheck(snap, ids, kinds=kinds))

    @settings(max_examples=60, deadline=None)
    @given(st.integers(0, 2 ** 32 - 1))
    def test_every_host_as_destination(self, seed):
        # disabled, down and the source host itself included
        snap = random_snapshot(seed)
        ids = list(snap.servers)
        dests = sorted(snap.hosts)
        expected = [evaluate.evaluate(snap, sid, dest)
                    for sid in ids for dest in dests]
        self.assertEqual(expected, evaluate.precheck(snap, ids, dests))

    def test_many_servers_share_results(self):
        snap = random_snapshot(7)
        servers = dict(snap.servers)
        template = next(iter(servers.values()))
        for i in range(200):
            servers['copy-%d' % i] = dataclasses.replace(
                template, id='copy-%d' % i, name='copy%d' % i)
        snap = dataclasses.replace(snap, servers=servers)
        evs = evaluate.precheck(snap, list(servers))
        self.assertEqual(
            [evaluate.evaluate(snap, e.server.id, e.destination) for e in evs],
            evs)
        copies = [e for e in evs if e.server.id.startswith('copy-')]
        self.assertTrue(copies)
        # one findings tuple per destination for the 200 equal servers
        self.assertEqual(
            len({e.destination for e in copies}),
            len({id(e.findings) for e in copies}))


def _mutations(rng, server, host_names):
    """The server with one fact changed at random (several tries)."""
    other = _server(rng, 999, host_names)
    for field in dataclasses.fields(f.ServerFacts):
        if field.name == 'id':
            continue
        yield dataclasses.replace(server,
                                  **{field.name: getattr(other, field.name)})
    yield dataclasses.replace(server, flavor=dataclasses.replace(
        server.flavor, extra_specs=dict(other.flavor.extra_specs)))


class TestDeclaredDependencies(testtools.TestCase):
    """A rule reads no server fact outside its key, no undeclared host."""

    @settings(max_examples=80, deadline=None)
    @given(st.integers(0, 2 ** 32 - 1))
    def test_server_keys(self, seed):
        rng = random.Random(seed)
        snap = random_snapshot(seed)
        names = tuple(snap.hosts)
        for server in snap.servers.values():
            source = snap.hosts.get(server.host)
            dest = snap.hosts[rng.choice(names)]
            for changed in _mutations(rng, server, names):
                for rule_id, rule in rules.RULES:
                    dep = rule.depends
                    if dep.server is rules.server_id:
                        continue        # one result per server
                    if dep.server is None:
                        key_same = True
                    else:
                        key_same = (dep.server(server, snap)
                                    == dep.server(changed, snap))
                    if dep.source:
                        key_same = key_same and changed.host == server.host
                    if not key_same:
                        continue
                    changed_source = snap.hosts.get(changed.host)
                    self.assertEqual(
                        rule(server, source, dest, snap),
                        rule(changed, changed_source, dest, snap),
                        '%s: %r vs %r' % (rule_id, server, changed))

    @settings(max_examples=40, deadline=None)
    @given(st.integers(0, 2 ** 32 - 1))
    def test_hosts_not_declared_are_not_read(self, seed):
        snap = random_snapshot(seed)
        names = sorted(snap.hosts)
        for server in snap.servers.values():
            source = snap.hosts.get(server.host)
            for name in names:
                dest = snap.hosts[name]
                for rule_id, rule in rules.RULES:
                    dep = rule.depends
                    self.assertEqual(
                        rule(server, source, dest, snap),
                        rule(server, source if dep.source else None,
                             dest if dep.dest else None, snap), rule_id)

    @settings(max_examples=40, deadline=None)
    @given(st.integers(0, 2 ** 32 - 1))
    def test_groups_not_declared_are_not_read(self, seed):
        # the capacity planner keeps a rule's results across the changes
        # of the server groups unless the rule declares it reads them
        snap = random_snapshot(seed)
        assume(snap.groups)
        rng = random.Random(seed)
        names = sorted(snap.hosts)
        moved = {}
        for member, groups in snap.groups.items():
            moved[member] = tuple(dataclasses.replace(
                g, member_hosts={m: rng.choice(names) for m in g.members})
                for g in groups)
        others = (dataclasses.replace(snap, groups={}),
                  dataclasses.replace(snap, groups=moved))
        for server in snap.servers.values():
            source = snap.hosts.get(server.host)
            for name in names:
                dest = snap.hosts[name]
                for rule_id, rule in rules.RULES:
                    if rule.depends.groups:
                        continue
                    for other in others:
                        self.assertEqual(
                            rule(server, source, dest, snap),
                            rule(server, source, dest, other), rule_id)

    def test_every_rule_declares(self):
        for rule_id, rule in rules.RULES:
            self.assertIsInstance(getattr(rule, 'depends', None),
                                  rules.Depends, rule_id)
