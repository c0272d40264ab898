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

"""Migration constraint rules: one pure function per rule.

Every rule has the signature ``rule(server, source, dest, snapshot)``
(:class:`~migrationclient.constraints.model.ServerFacts`, two
:class:`~migrationclient.constraints.model.HostFacts`, the
:class:`~migrationclient.constraints.model.Snapshot`) and returns a list of
:class:`~migrationclient.constraints.model.Finding` (at least one).  Rule
ids are stable: scripts and the documentation use them.  ``source`` may be
``None`` when the server's host is not a known compute host.

Every rule declares with :func:`depends` what it reads: a key of the
server facts, and whether it reads the source and the destination host.
``evaluate.precheck`` computes a rule once per distinct declared input and
shares the result; a rule that reads a host it did not declare gets
``None`` for it there.  ``tests/unit/constraints/test_shared.py`` checks
the declarations (and precheck against evaluate) on random facts: a new
rule, or a rule that starts reading another fact, must update its
declaration.

Sources: the operator procedure (Red Hat OSP 10 "Migrating virtual
machines between compute nodes", sections 8.2 and 8.3, "seed") and the Nova
release notes / conductor and scheduler code (see
doc/source/user/precheck.rst).
"""

from migrationclient._i18n import _
from migrationclient.constraints import model as f
from migrationclient import microversions as mv

SRIOV_VNIC_TYPES = ('direct', 'direct-physical', 'macvtap',
                    'virtio-forwarder', 'vdpa')
LIVE_STATES = ('active', 'paused')
COLD_STATES = ('active', 'stopped', 'shutoff')
#: traits that describe host configuration, not CPU features
NON_FEATURE_TRAITS = ('HW_CPU_HYPERTHREADING',)


def _finding(rule, severity, message, remedy='', applies_to=f.BOTH):
    return f.Finding(rule, severity, message, remedy, tuple(applies_to))


class Depends:
    """What a rule's findings depend on, for the engine to share them.

    Besides the snapshot's cloud, hosts and groups (the same for every
    pair of one :func:`~migrationclient.constraints.evaluate.precheck`):
    ``server(server, snapshot)`` returns a hashable key of every server
    fact the rule reads (``None`` when it reads none), ``source`` /
    ``dest`` say whether it reads the source / destination host facts.
    Two (server, destination) pairs with equal keys get equal findings, so
    ``precheck`` computes them once and shares the (immutable) findings.
    A rule without a declaration depends on everything (never shared).
    """

    def __init__(self, server=None, source=False, dest=False):
        self.server = server
        self.source = source
        self.dest = dest


def depends(server=None, source=False, dest=False):
    """Decorator: declare a rule's :class:`Depends`."""
    def wrap(rule):
        rule.depends = Depends(server, source, dest)
        return rule
    return wrap


#: Undeclared: the whole server and both hosts.
EVERYTHING = Depends(lambda server, snapshot: server.id, True, True)


def server_id(server, snapshot):
    """Key of a rule that reads the server as a whole: its id."""
    return server.id


def _ok(rule, message, applies_to=f.BOTH):
    return [_finding(rule, f.OK, message, applies_to=applies_to)]


def _not_checked(rule, message, applies_to=f.BOTH, remedy=''):
    """Informational: a fact not read, that cannot make Nova refuse."""
    return [_finding(rule, f.NOT_CHECKED, message, remedy, applies_to)]


def _unknown(rule, message, applies_to=f.BOTH, remedy=''):
    """A fact not read that could make Nova refuse: verdict "maybe"."""
    return [_finding(rule, f.UNKNOWN, message, remedy, applies_to)]


@depends(source=True, dest=True)
def cpu_arch(server, source, dest, snapshot):
    """cpu-arch: source and destination CPU architectures are equal.

    Seed 8.2 "CPU constraints": x86_64 -> ppc64le is not supported, live or
    cold.
    """
    rule = 'cpu-arch'
    src = source.cpu.arch if source and source.cpu else None
    dst = dest.cpu.arch if dest.cpu else None
    if not src or not dst:
        return _unknown(rule, _('CPU architecture not known'))
    if src != dst:
        return [_finding(
            rule, f.BLOCKER,
            _('architecture %(dst)s differs from the source %(src)s')
            % {'dst': dst, 'src': src},
            _('choose a %s destination') % src)]
    return _ok(rule, _('both %s') % src)


def _features(cpu):
    if cpu.source == 'traits':
        return frozenset(t for t in cpu.features
                         if t not in NON_FEATURE_TRAITS)
    return cpu.features


@depends(source=True, dest=True)
def cpu_features(server, source, dest, snapshot):
    """cpu-features: destination CPU features are a superset of the source's.

    Seed 8.2 "CPU constraints" (in all cases).  Read from the hypervisor
    ``cpu_info`` (compute API below 2.88) or placement ``HW_CPU_*`` traits
    (Rocky and later).  A live migration only: a cold-migrated guest boots
    on the destination CPU.
    """
    rule = 'cpu-features'
    live = (f.LIVE,)
    if not (source and source.cpu and dest.cpu):
        return _unknown(rule, _('CPU features not known'), live)
    if source.cpu.source != dest.cpu.source:
        return _unknown(
            rule, _('CPU features of the hosts come from different sources'),
            live)
    missing = sorted(_features(source.cpu) - _features(dest.cpu))
    if missing:
        return [_finding(
            rule, f.BLOCKER,
            _('destination lacks CPU features of the source: %s')
            % ', '.join(missing),
            _('choose a destination with the same CPU generation, or '
              'cold migrate'), live)]
    return _ok(rule, _('destination has every source CPU feature'), live)


@depends(lambda server, snapshot: (
    server.guest_side is None,
    server.guest_side.cpu_mode if server.guest_side else None),
    source=True, dest=True)
def cpu_model(server, source, dest, snapshot):
    """cpu-model: ``host-passthrough`` guests need an identical CPU model.

    Seed 8.2 "CPU constraints".  The guest CPU mode is only known on the
    source host (``--ssh``); without it a model difference is a warning.
    """
    rule = 'cpu-model'
    live = (f.LIVE,)

    def model(host):
        if host is None:
            return None
        if host.host_side and host.host_side.cpu_model:
            return host.host_side.cpu_model
        return host.cpu.model if host.cpu else None

    src, dst = model(source), model(dest)
    mode = server.guest_side.cpu_mode if server.guest_side else None
    if server.guest_side is not None and mode != 'host-passthrough':
        return _ok(rule, _('guest CPU mode is %s') % (mode or 'default'),
                   live)
    if not src or not dst:
        return _not_checked(rule, _('CPU model not known'), live,
                            _('use --ssh to read it on the hosts'))
    if src == dst:
        if mode:
            return _ok(rule, _('guest CPU mode %(mode)s, same CPU model '
                               '%(model)s') % {'mode': mode, 'model': src},
                       live)
        return _ok(rule, _('same CPU model %s') % src, live)
    if mode == 'host-passthrough':
        return [_finding(
            rule, f.BLOCKER,
            _('host-passthrough guest: CPU model %(dst)s differs from the '
              'source %(src)s') % {'dst': dst, 'src': src},
            _('choose a destination with the %s CPU, or cold migrate')
            % src, live)]
    return [_finding(
        rule, f.WARNING,
        _('CPU model %(dst)s differs from the source %(src)s: a '
          'host-passthrough guest would fail') % {'dst': dst, 'src': src},
        _('use --ssh to read the guest CPU mode'), live)]


def _resource_check(rule, dest, resource, amount, label):
    inv = dest.inventory
    if inv is None:
        return None
    cap = inv.get(resource)
    if cap is None:
        return [_finding(
            rule, f.BLOCKER,
            _('destination has no %s inventory') % resource,
            _('choose another destination'))]
    if not cap.fits(amount):
        return [_finding(
            rule, f.BLOCKER,
            _('%(label)s does not fit: needs %(need)d, %(free)d free '
              '(total %(total)d, reserved %(reserved)d, ratio %(ratio)s, '
              'used %(used)d)')
            % {'label': label, 'need': amount, 'free': cap.free,
               'total': cap.total, 'reserved': cap.reserved,
               'ratio': cap.allocation_ratio, 'used': cap.used},
            _('free capacity on the destination or choose another'))]
    return _ok(rule, _('%(label)s fits: needs %(need)d, %(free)d free')
               % {'label': label, 'need': amount, 'free': cap.free})


@depends(lambda server, snapshot: server.flavor.ram, dest=True)
def memory(server, source, dest, snapshot):
    """memory: the flavor's RAM fits on the destination.

    Seed 8.2 "Memory constraints".  Placement ``MEMORY_MB`` inventory
    (total - reserved) x allocation ratio - usage; on clouds without
    placement data the hypervisor ``free_ram_mb`` (allocation ratio
    unknown, so a warning only).
    """
    rule = 'memory'
    need = server.flavor.ram
    found = _resource_check(rule, dest, 'MEMORY_MB', need, _('RAM (MB)'))
    if found is not None:
        return found
    if dest.free_ram_mb is not None:
        if dest.free_ram_mb < need:
            return [_finding(
                rule, f.WARNING,
                _('hypervisor reports %(free)d MB free, the server needs '
                  '%(need)d MB (allocation ratio unknown)')
                % {'free': dest.free_ram_mb, 'need': need},
                _('check the RAM allocation ratio of the destination'))]
        return _ok(rule, _('hypervisor reports %(free)d MB free, needs '
                           '%(need)d MB')
                   % {'free': dest.free_ram_mb, 'need': need})
    return _unknown(rule, _('destination memory not known'))


@depends(lambda server, snapshot: (
    server.dedicated_cpus, server.flavor.vcpus), dest=True)
def vcpu(server, source, dest, snapshot):
    """vcpu: shared vCPUs fit on the destination (placement ``VCPU``).

    Pinned guests are checked by the ``pinning`` rule instead.
    """
    rule = 'vcpu'
    if server.dedicated_cpus and _pcpu_cloud(snapshot):
        return _ok(rule, _('dedicated CPUs: see the pinning rule'))
    found = _resource_check(rule, dest, 'VCPU', server.flavor.vcpus,
                            _('vCPUs'))
    if found is not None:
        return found
    return _unknown(rule, _('destination vCPU capacity not known'))


@depends(lambda server, snapshot: server.local_disk_gb, dest=True)
def disk_space(server, source, dest, snapshot):
    """disk-space: local disks fit on the destination (placement DISK_GB).

    Volume-backed root disks take no destination disk.
    """
    rule = 'disk-space'
    need = server.local_disk_gb
    if need <= 0:
        return _ok(rule, _('no local disk'))
    found = _resource_check(rule, dest, 'DISK_GB', need, _('local disk (GB)'))
    if found is not None:
        return found
    return _unknown(rule, _('destination disk capacity not known'))


def _pcpu_cloud(snapshot):
    """True when some host reports PCPU inventory (Train+ CPU model)."""
    return any(h.inventory and 'PCPU' in h.inventory
               for h in snapshot.hosts.values())


def _cells(host):
    if host.host_side and host.host_side.numa_cells:
        return len(host.host_side.numa_cells)
    if host.cpu and host.cpu.numa_cells:
        return host.cpu.numa_cells
    return None


def _fit_cells(cells, nodes, cpus, mem_mb, page_kb):
    """Greedy fit of ``nodes`` equal guest cells into host cells."""
    per_cpu = -(-cpus // nodes) if cpus else 0
    per_mem = -(-mem_mb // nodes)
    used = 0
    for cell in cells:
        if used == nodes:
            break
        if per_cpu and cell.free_cpus is not None \
                and cell.free_cpus < per_cpu:
            continue
        if page_kb:
            pages = -(-per_mem * 1024 // page_kb)
            if cell.free_hugepages.get(page_kb, 0) < pages:
                continue
        elif cell.free_memory_mb is not None and cell.free_memory_mb < per_mem:
            continue
        used += 1
    return used == nodes


def _page_kb(server):
    value = server.spec('mem_page_size')
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ('small', 'any'):
        return None
    if text == 'large':
        return 0            # any large page size
    units = {'kb': 1, 'k': 1, 'mb': 1024, 'm': 1024, 'gb': 1048576,
             'g': 1048576}
    for unit, factor in sorted(units.items(), key=lambda u: -len(u[0])):
        if text.endswith(unit) and text[:-len(unit)].isdigit():
            return int(text[:-len(unit)]) * factor
    return int(text) if text.isdigit() else None


def _empty_twin(source, dest):
    """True when ``dest`` looks like ``source`` and runs nothing.

    Same NUMA cell count and CPU model, same placement totals and
    reservations for VCPU, PCPU and MEMORY_MB, and no memory in use on the
    destination: the seed's "identical and empty destination" (8.3).
    """
    if source is None or not (source.cpu and dest.cpu):
        return False
    if not source.cpu.numa_cells or \
            source.cpu.numa_cells != dest.cpu.numa_cells or \
            source.cpu.model != dest.cpu.model:
        return False
    if source.inventory is None or dest.inventory is None:
        return False
    for rc in ('VCPU', 'PCPU', 'MEMORY_MB'):
        a, b = source.inventory.get(rc), dest.inventory.get(rc)
        if (a is None) != (b is None):
            return False
        if a is not None and (a.total, a.reserved) != (b.total, b.reserved):
            return False
    # The compute node record (hypervisor fields below 2.88) is where Nova
    # keeps the NUMA usage; it can lag behind placement after a delete.
    if dest.running_vms or dest.vcpus_used:
        return False
    mem = dest.inventory.get('MEMORY_MB')
    pcpu = dest.inventory.get('PCPU')
    return bool(mem) and mem.used == 0 and (pcpu is None or pcpu.used == 0)


@depends(lambda server, snapshot: (
    server.numa_nodes, server.dedicated_cpus, server.flavor.vcpus,
    server.flavor.ram, _page_kb(server)), source=True, dest=True)
def numa(server, source, dest, snapshot):
    """numa: the guest NUMA topology fits the destination's NUMA cells.

    Seed 8.2 "live migration constraints" and 8.3 (NUMA, CPU pinning,
    DPDK: the same NUMA node needs enough capacity on the destination).
    Nova: NUMA live migration refused by default in Stein
    (``enable_numa_live_migration``), NUMA-aware from Train; before Stein
    allowed but the pinning is copied unchanged.  Cell count from the
    hypervisor ``cpu_info`` topology; per-cell capacity only with --ssh.
    """
    rule = 'numa'
    nodes = server.numa_nodes
    if not nodes:
        return _ok(rule, _('guest has no NUMA topology'))
    findings = []
    nova = snapshot.cloud.nova
    if nova == mv.STEIN:
        findings.append(_finding(
            rule, f.BLOCKER,
            _('Stein refuses live migration of NUMA guests by default'),
            _('cold migrate, or set [workarounds]enable_numa_live_migration'),
            (f.LIVE,)))
    elif nova < mv.STEIN:
        findings.append(_finding(
            rule, f.WARNING,
            _('before Train live migration keeps the guest NUMA pinning '
              'unchanged: the same NUMA cells must be free on the '
              'destination (seed 8.3)'),
            _('use an empty destination with the same NUMA layout, or cold '
              'migrate'), (f.LIVE,)))
    cells = _cells(dest)
    if cells is None:
        findings.extend(_unknown(
            rule, _('destination NUMA cells not known'),
            remedy=_('use --ssh')))
        return findings
    if nodes > cells:
        findings.append(_finding(
            rule, f.BLOCKER,
            _('guest has %(nodes)d NUMA nodes, destination %(cells)d')
            % {'nodes': nodes, 'cells': cells},
            _('choose a destination with at least %d NUMA cells') % nodes))
        return findings
    host_cells = dest.host_side.numa_cells if dest.host_side else ()
    if not host_cells and _empty_twin(source, dest):
        findings.append(_finding(
            rule, f.OK,
            _('destination has the source\'s NUMA shape and capacity and '
              'runs no guest: the guest cells fit as on the source '
              '(seed 8.3)')))
        return findings
    if not host_cells:
        findings.extend(_unknown(
            rule, _('guest fits the %(cells)d cells; per-cell free capacity '
                    'not checked') % {'cells': cells},
            remedy=_('use --ssh')))
        return findings
    cpus = server.flavor.vcpus if server.dedicated_cpus else 0
    # huge page backed memory is checked by the hugepages rule
    mem = 0 if _page_kb(server) is not None else server.flavor.ram
    if not _fit_cells(host_cells, nodes, cpus, mem, None):
        findings.append(_finding(
            rule, f.BLOCKER,
            _('no %(nodes)d destination NUMA cell(s) with %(cpus)d free '
              'CPUs and %(mem)d MB free memory')
            % {'nodes': nodes, 'cpus': -(-cpus // nodes),
               'mem': -(-server.flavor.ram // nodes)},
            _('free a NUMA cell on the destination or choose another')))
    if not any(x.severity == f.BLOCKER for x in findings):
        findings.append(_finding(
            rule, f.OK, _('guest NUMA topology fits the destination cells')))
    return findings


def _aggregate_specs(server):
    """``aggregate_instance_extra_specs:*`` of the flavor, sorted."""
    return tuple((key, str(want)) for key, want
                 in sorted(server.flavor.extra_specs.items())
                 if key.startswith('aggregate_instance_extra_specs:'))


@depends(lambda server, snapshot: (
    server.dedicated_cpus, server.flavor.vcpus, _aggregate_specs(server)),
    dest=True)
def pinning(server, source, dest, snapshot):
    """pinning: dedicated CPUs are free on the destination.

    Seed 8.2/8.3 (``hw:cpu_policy=dedicated``,
    ``aggregate_instance_extra_specs:pinned=true`` with
    AggregateInstanceExtraSpecsFilter).  Train+: free placement ``PCPU``;
    before, pinned guests consume ``VCPU``.
    """
    rule = 'pinning'
    findings = []
    for key, want in _aggregate_specs(server):
        meta_key = key.split(':', 1)[1]
        values = [str(m.get(meta_key)) for _n, m in dest.aggregates
                  if meta_key in m]
        if str(want) not in values:
            findings.append(_finding(
                rule, f.BLOCKER,
                _('destination is in no aggregate with %(k)s=%(v)s '
                  '(AggregateInstanceExtraSpecsFilter)')
                % {'k': meta_key, 'v': want},
                _('choose a host of the matching aggregate')))
    if not server.dedicated_cpus:
        if not findings:
            return _ok(rule, _('guest CPUs are not pinned'))
        return findings
    if _pcpu_cloud(snapshot) and dest.inventory is not None:
        found = _resource_check(rule, dest, 'PCPU', server.flavor.vcpus,
                                _('dedicated CPUs (PCPU)'))
        findings.extend(found)
    elif dest.inventory is not None:
        findings.extend(_resource_check(rule, dest, 'VCPU',
                                        server.flavor.vcpus,
                                        _('pinned vCPUs (VCPU)')))
    else:
        findings.extend(_unknown(
            rule, _('destination dedicated CPU capacity not known')))
    return findings


@depends(lambda server, snapshot: (
    _page_kb(server), server.numa_nodes, server.flavor.ram), dest=True)
def hugepages(server, source, dest, snapshot):
    """hugepages: the guest's huge pages are free on one destination cell.

    Seed 8.3 (``hw:mem_page_size`` 2MB / 2048 / 1GB).  Free huge pages per
    cell are only visible on the host (--ssh).
    """
    rule = 'hugepages'
    page_kb = _page_kb(server)
    if page_kb is None:
        return _ok(rule, _('guest uses small pages'))
    cells = dest.host_side.numa_cells if dest.host_side else ()
    if not cells:
        return _unknown(
            rule, _('free huge pages on the destination not known'),
            remedy=_('use --ssh'))
    nodes = max(server.numa_nodes, 1)
    sizes = {page_kb} if page_kb else {
        s for c in cells for s in c.free_hugepages if s > 4}
    for size in sorted(sizes):
        if _fit_cells(cells, nodes, 0, server.flavor.ram, size):
            return _ok(rule, _('%(n)d cell(s) with free %(s)d KiB pages')
                       % {'n': nodes, 's': size})
    return [_finding(
        rule, f.BLOCKER,
        _('no %(n)d destination cell(s) with %(mb)d MB of free huge pages')
        % {'n': nodes, 'mb': -(-server.flavor.ram // nodes)},
        _('free huge pages on the destination or choose another'))]


@depends(server_id)
def dpdk(server, source, dest, snapshot):
    """dpdk: vhost-user (DPDK) ports need huge pages and a NUMA topology.

    Seed 8.2 "DPDK": the guest uses huge pages and is pinned to a NUMA
    node; the hugepages and numa rules then check the destination.
    """
    rule = 'dpdk'
    if server.ports is None:
        return _not_checked(rule, _('ports not known'))
    vhu = [p for p in server.ports
           if (p.vif_type or '').startswith('vhostuser')]
    if not vhu:
        return _ok(rule, _('no vhost-user port'))
    if _page_kb(server) is None:
        return [_finding(
            rule, f.WARNING,
            _('vhost-user port without hw:mem_page_size: the guest has no '
              'shared huge page memory'),
            _('give the flavor hw:mem_page_size'))]
    return _ok(rule, _('vhost-user port with huge pages'))


@depends(server_id)
def sriov(server, source, dest, snapshot):
    """sriov: SR-IOV ports block live migration before Train.

    Seed 8.2 "SR-IOV" (OSP 10: cold migration only).  Train: direct /
    macvtap ports are unplugged and replugged (service version >= 36).
    Free VFs on the destination are not visible in the API.
    """
    rule = 'sriov'
    if server.ports is None:
        if snapshot.cloud.nova < mv.TRAIN:
            return _unknown(rule, _('ports not known (network service '
                                    'unavailable)'), (f.LIVE,))
        return _not_checked(rule, _('ports not known (network service '
                                    'unavailable)'))
    ports = [p for p in server.ports if p.vnic_type in SRIOV_VNIC_TYPES]
    if not ports:
        return _ok(rule, _('no SR-IOV port'))
    kinds = ', '.join(sorted({p.vnic_type for p in ports}))
    findings = []
    if snapshot.cloud.nova < mv.TRAIN:
        findings.append(_finding(
            rule, f.BLOCKER,
            _('SR-IOV port(s) (%s): live migration unsupported before '
              'Train') % kinds,
            _('cold migrate'), (f.LIVE,)))
    else:
        findings.append(_finding(
            rule, f.WARNING,
            _('SR-IOV port(s) (%s): the VF is unplugged and replugged, the '
              'guest loses that network during the move') % kinds,
            _('expect a network interruption'), (f.LIVE,)))
    findings.append(_finding(
        rule, f.UNKNOWN,
        _('free VFs on the destination are not visible in the API'),
        _('make sure the destination has a free VF on %s')
        % ', '.join(sorted({p.physical_network or '?' for p in ports})),
        f.BOTH))
    return findings


@depends(server_id)
def pci(server, source, dest, snapshot):
    """pci: PCI passthrough (``pci_passthrough:alias``) blocks live migration.

    Seed 8.2 "PCI passthrough".  Nova Train refuses live migration with
    non-network PCI devices; Epoxy allows ``live_migratable`` devices, which
    the API does not show (operator option ``--pci-live-migratable``).
    """
    rule = 'pci'
    alias = server.flavor.extra_specs.get('pci_passthrough:alias')
    if not alias:
        return _ok(rule, _('no PCI passthrough'))
    findings = []
    if (snapshot.cloud.nova >= mv.EPOXY
            and snapshot.cloud.pci_live_migratable):
        findings.append(_finding(
            rule, f.WARNING,
            _('PCI alias %s: live migration only works for live_migratable '
              'devices and aliases') % alias,
            _('check [pci]alias and device_spec live_migratable'),
            (f.LIVE,)))
    else:
        remedy = _('cold migrate')
        if snapshot.cloud.nova >= mv.EPOXY:
            remedy = _('cold migrate, or pass --pci-live-migratable if the '
                       'alias and devices are live_migratable')
        findings.append(_finding(
            rule, f.BLOCKER,
            _('PCI passthrough (alias %s) cannot be live migrated') % alias,
            remedy, (f.LIVE,)))
    findings.append(_finding(
        rule, f.UNKNOWN,
        _('free PCI devices on the destination are not visible in the API'),
        _('make sure the destination has free devices for %s') % alias,
        (f.COLD,)))
    return findings


@depends(server_id)
def readonly_drives(server, source, dest, snapshot):
    """readonly-drives: CD-ROM and config drive.

    Seed 8.2 "read-only drives": only read-write drives migrate.  Nova
    makes the config drive (``disk.config``) a read-write disk when vfat
    and a read-only CD-ROM when iso9660; libvirt copies no read-only
    device, so an iso9660 one needs block migration (allowed since Newton,
    the oldest release supported here) or shared instance storage, unless
    it lives in RBD.  Devices and the format are only visible on the
    host (``--ssh``); the host's view wins over the API's ``config_drive``.
    """
    rule = 'readonly-drives'
    live = (f.LIVE,)
    guest = server.guest_side
    read = guest is not None and guest.cdroms is not None
    findings = []
    if read and guest.cdroms:
        findings.append(_finding(
            rule, f.WARNING,
            _('%(n)d CD-ROM drive(s) (%(what)s): read-only, their content '
              'is not copied by the migration')
            % {'n': guest.cdroms,
               'what': '; '.join(guest.cdrom_devices) or '?'},
            _('detach the CD-ROM before a live migration, or make its '
              'source available on the destination'), live))
    fmt = guest.config_drive_format if guest is not None else None
    where = ''
    if guest is not None and guest.config_drive_device:
        where = ' (%s)' % guest.config_drive_device
    if fmt == 'vfat':
        findings.extend(_ok(
            rule, _('vfat config drive%s: read-write disk, migrates '
                    'like the other local disks') % where, live))
    elif fmt == 'iso9660' and guest.config_drive_shared:
        findings.extend(_ok(
            rule, _('iso9660 config drive%s in shared block storage '
                    '(RBD): nothing to copy') % where, live))
    elif fmt == 'iso9660':
        findings.append(_finding(
            rule, f.WARNING,
            _('iso9660 config drive%s: read-only, copied only by block '
              'migration (Nova Newton+) or found on shared instance '
              'storage') % where,
            _('let Nova choose the block migration (auto)'), live))
    elif server.config_drive and read:
        findings.extend(_not_checked(
            rule, _('the API shows a config drive, the guest has no '
                    'disk.config device'), live))
    elif server.config_drive:
        findings.extend(_not_checked(
            rule, _('config drive of unknown format'), live,
            _('use --ssh')))
    if not findings:
        if not read:
            return _not_checked(rule, _('no config drive; CD-ROM devices '
                                        'not checked'), live, _('use --ssh'))
        return _ok(rule, _('no read-only drive'), live)
    return findings


@depends(lambda server, snapshot: (
    server.local_disk_gb, server.volume_backed))
def disk(server, source, dest, snapshot):
    """disk: local vs volume-backed; block migration need.

    Seed 8.2 "block migration constraints".  From compute 2.25 Nova picks
    block migration itself (``block_migration: auto``).
    """
    rule = 'disk'
    if server.local_disk_gb <= 0:
        return _ok(rule, _('volume-backed, no local disk: no block '
                           'migration'))
    what = _('local root disk') if not server.volume_backed else \
        _('local ephemeral/swap disk')
    return [_finding(
        rule, f.OK,
        _('%(what)s (%(gb)d GB): block migration unless the instance '
          'storage is shared (Nova decides, block_migration auto); it loads '
          'the control plane network')
        % {'what': what, 'gb': server.local_disk_gb},
        _('prefer a quiet period for large disks'), (f.LIVE,))]


@depends(lambda server, snapshot: (
    server.task_state, server.vm_state, server.status, server.locked))
def state(server, source, dest, snapshot):
    """state: the server's state allows the migration.

    Nova: live needs vm_state ACTIVE or PAUSED, cold ACTIVE or STOPPED; any
    task_state means another operation runs (409); locked servers can still
    be moved by an admin.
    """
    rule = 'state'
    findings = []
    vm_state = (server.vm_state or server.status or '').lower()
    if server.task_state:
        findings.append(_finding(
            rule, f.BLOCKER,
            _('another operation is running (task_state %s)')
            % server.task_state,
            _('wait for it to finish')))
    if vm_state == 'error':
        findings.append(_finding(
            rule, f.BLOCKER, _('server is in ERROR'),
            _('reset its state after checking it, then retry')))
    else:
        if vm_state not in LIVE_STATES:
            findings.append(_finding(
                rule, f.BLOCKER,
                _('live migration needs ACTIVE or PAUSED, server is %s')
                % server.status,
                _('cold migrate'), (f.LIVE,)))
        if vm_state not in COLD_STATES:
            findings.append(_finding(
                rule, f.BLOCKER,
                _('cold migration needs ACTIVE or SHUTOFF, server is %s')
                % server.status,
                _('live migrate') if vm_state in LIVE_STATES else
                _('bring the server to ACTIVE or SHUTOFF'), (f.COLD,)))
    if server.locked:
        findings.append(_finding(
            rule, f.WARNING, _('server is locked'),
            _('only an admin can move it')))
    if not findings:
        return _ok(rule, _('server is %s') % server.status)
    return findings


@depends(lambda server, snapshot: (
    server.host, server.pinned_availability_zone,
    server.availability_zone), source=True, dest=True)
def services(server, source, dest, snapshot):
    """services: source and destination nova-compute up, destination usable.

    Seed 8.1 (both nodes must work) and 8.3 step 1.  Since compute 2.30 a
    named host goes through the scheduler (no ``force`` from 2.68): a
    disabled or down destination fails asynchronously (NoValidHost).  A cold
    migration to the source is refused (400); a live one fails.  An
    availability zone the server is pinned to is enforced.
    """
    rule = 'services'
    findings = []
    if dest.name == server.host:
        findings.append(_finding(
            rule, f.BLOCKER, _('destination is the source host'),
            _('choose another destination')))
    if source is None:
        findings.append(_finding(
            rule, f.BLOCKER,
            _('source host %s is not a known nova-compute host')
            % (server.host or _('(none)')),
            _('check the server')))
    elif not source.is_up:
        findings.append(_finding(
            rule, f.BLOCKER,
            _('source nova-compute on %s is down') % source.name,
            _('bring it up, or evacuate the server instead')))
    if not dest.is_up:
        findings.append(_finding(
            rule, f.BLOCKER,
            _('destination nova-compute is down') if not dest.forced_down
            else _('destination nova-compute is forced down'),
            _('choose another destination')))
    if not dest.is_enabled:
        findings.append(_finding(
            rule, f.BLOCKER,
            _('destination nova-compute is disabled (%s)')
            % (dest.disabled_reason or _('no reason given')),
            _('enable it: openstack compute service set --enable %s '
              'nova-compute') % dest.name))
    pinned = server.pinned_availability_zone
    if pinned and dest.availability_zone and \
            dest.availability_zone != pinned:
        findings.append(_finding(
            rule, f.BLOCKER,
            _('server is pinned to availability zone %(az)s, destination is '
              'in %(dz)s') % {'az': pinned, 'dz': dest.availability_zone},
            _('choose a host of %s') % pinned))
    elif (pinned is None and server.availability_zone
          and dest.availability_zone
          and dest.availability_zone != server.availability_zone):
        findings.append(_finding(
            rule, f.WARNING,
            _('destination is in availability zone %(dz)s, the server in '
              '%(az)s: refused if it was booted with that zone')
            % {'az': server.availability_zone,
               'dz': dest.availability_zone},
            _('prefer a host of %s') % server.availability_zone))
    if not findings:
        return _ok(rule, _('source and destination nova-compute up, '
                           'destination enabled'))
    return findings


@depends(source=True, dest=True)
def hypervisor(server, source, dest, snapshot):
    """hypervisor: same hypervisor type, destination version >= source.

    Nova conductor live-migration checks (``skip_hypervisor_version_check
    _on_lm`` from Zed relaxes the version check).
    """
    rule = 'hypervisor'
    live = (f.LIVE,)
    if source is None or not source.hypervisor_type or \
            not dest.hypervisor_type:
        return _unknown(rule, _('hypervisor type not known'), live)
    if source.hypervisor_type != dest.hypervisor_type:
        return [_finding(
            rule, f.BLOCKER,
            _('hypervisor type %(dst)s differs from the source %(src)s')
            % {'dst': dest.hypervisor_type, 'src': source.hypervisor_type},
            _('choose a %s host') % source.hypervisor_type, live)]
    if (source.hypervisor_version is not None
            and dest.hypervisor_version is not None
            and dest.hypervisor_version < source.hypervisor_version):
        return [_finding(
            rule, f.BLOCKER,
            _('destination hypervisor version %(dst)s is older than the '
              'source %(src)s')
            % {'dst': dest.hypervisor_version,
               'src': source.hypervisor_version},
            _('upgrade the destination or cold migrate'), live)]
    return _ok(rule, _('same hypervisor type, version not older'), live)


@depends(lambda server, snapshot: (
    server.id if snapshot.groups_of(server.id) else None), dest=True)
def server_group(server, source, dest, snapshot):
    """server-group: affinity / anti-affinity policies stay satisfied.

    Seed 8.8 (server group check failures).  Hard policies are enforced
    by the scheduler (ServerGroup(Anti)AffinityFilter) for live and cold
    migrations; soft ones only weigh.
    """
    rule = 'server-group'
    groups = snapshot.groups_of(server.id)
    if not groups:
        return _ok(rule, _('server is in no server group'))
    findings = []
    for group in groups:
        peers = {m: h for m, h in group.member_hosts.items()
                 if m != server.id and h}
        unknown = [m for m in group.members
                   if m != server.id and m not in group.member_hosts]
        on_dest = sorted(m for m, h in peers.items() if h == dest.name)
        elsewhere = sorted({h for h in peers.values()})
        name = group.name or group.id
        policy = group.policy
        hard = not policy.startswith('soft-')
        severity = f.BLOCKER if hard else f.WARNING
        if policy.endswith('anti-affinity'):
            limit = int((group.rules or {}).get('max_server_per_host', 1))
            if len(on_dest) + 1 > limit:
                findings.append(_finding(
                    rule, severity,
                    _('%(policy)s group %(name)s: %(n)d member(s) already '
                      'on the destination') % {'policy': policy,
                                               'name': name,
                                               'n': len(on_dest)},
                    _('choose a host without members of %s') % name))
        elif policy.endswith('affinity') and peers:
            if elsewhere != [dest.name]:
                findings.append(_finding(
                    rule, severity,
                    _('%(policy)s group %(name)s: the other members are on '
                      '%(hosts)s') % {'policy': policy, 'name': name,
                                      'hosts': ', '.join(elsewhere)},
                    _('move the whole group together, or leave it')))
        if unknown:
            findings.append(_finding(
                rule, f.UNKNOWN if hard else f.NOT_CHECKED,
                _('group %(name)s: host of %(n)d member(s) unknown')
                % {'name': name, 'n': len(unknown)}))
    if not any(x.severity in (f.BLOCKER, f.WARNING, f.UNKNOWN)
               for x in findings):
        findings.append(_finding(rule, f.OK,
                                 _('server group policies satisfied')))
    return findings


@depends(server_id)
def devices(server, source, dest, snapshot):
    """devices: vTPM, vPMEM and mediated devices (vGPU) by release.

    Nova: vPMEM live migration from Ussuri, mdev / vGPU from 2024.1,
    vTPM from 2026.1 (with ``hw:tpm_secret_security=host``).
    """
    rule = 'devices'
    live = (f.LIVE,)
    specs = server.flavor.extra_specs
    nova = snapshot.cloud.nova
    findings = []
    if server.spec('tpm_version') or server.spec('tpm_model'):
        if nova < mv.GAZPACHO:
            findings.append(_finding(
                rule, f.BLOCKER,
                _('vTPM: live migration unsupported before 2026.1'),
                _('cold migrate'), live))
        elif server.spec('tpm_secret_security') != 'host':
            findings.append(_finding(
                rule, f.BLOCKER,
                _('vTPM: live migration needs hw:tpm_secret_security=host'),
                _('cold migrate'), live))
        else:
            findings.append(_finding(
                rule, f.WARNING, _('vTPM live migration (2026.1+)'), '',
                live))
    if specs.get('hw:pmem'):
        if nova < mv.USSURI:
            findings.append(_finding(
                rule, f.BLOCKER,
                _('vPMEM: live migration unsupported before Ussuri'),
                _('cold migrate'), live))
        else:
            findings.append(_finding(
                rule, f.UNKNOWN,
                _('vPMEM: free namespaces on the destination are not '
                  'visible'), _('check the destination vPMEM namespaces')))
    mdev = sorted(k for k in specs
                  if k.startswith('resources') and ('VGPU' in k
                                                    or 'MDEV' in k))
    if mdev:
        if nova < mv.CARACAL:
            findings.append(_finding(
                rule, f.BLOCKER,
                _('mediated devices (%s): live migration unsupported before '
                  '2024.1') % ', '.join(mdev),
                _('cold migrate'), live))
        else:
            findings.append(_finding(
                rule, f.UNKNOWN,
                _('mediated devices (%s): the destination needs the same '
                  'mdev type free, not visible in the API') % ', '.join(mdev),
                _('check the destination mdev types')))
    if not findings:
        return _ok(rule, _('no vTPM, vPMEM or mediated device'))
    return findings


#: Every rule, in report order: (id, function).
RULES = (
    ('state', state),
    ('services', services),
    ('cpu-arch', cpu_arch),
    ('cpu-features', cpu_features),
    ('cpu-model', cpu_model),
    ('hypervisor', hypervisor),
    ('memory', memory),
    ('vcpu', vcpu),
    ('disk-space', disk_space),
    ('numa', numa),
    ('pinning', pinning),
    ('hugepages', hugepages),
    ('dpdk', dpdk),
    ('sriov', sriov),
    ('pci', pci),
    ('readonly-drives', readonly_drives),
    ('disk', disk),
    ('server-group', server_group),
    ('devices', devices),
)
RULE_IDS = tuple(r for r, _fn in RULES)
