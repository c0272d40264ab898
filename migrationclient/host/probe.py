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

"""Host and guest NUMA facts gathered over SSH.

The public API other commands use:

* :func:`gather_host_facts` ``(pool, host) -> HostTopology``
* :func:`read_host` ``(pool, host) -> HostReading`` (``--ssh`` precheck:
  the topology, nova.conf, every domain's XML, the PCI devices)
* :func:`guest_facts` ``(pool, host, domain, topology=None, extra_nics=())
  -> GuestPlacement``

Both raise :class:`~migrationclient.host.ssh.SSHError` subclasses whose
``str()`` is one line naming the host.  The ``build_*`` functions are the
pure part (outputs in, facts out) and are unit-tested on recorded outputs.
"""

from migrationclient._i18n import _
from migrationclient.host import commands
from migrationclient.host import novaconf
from migrationclient.host import parsers
from migrationclient.host import ssh
from migrationclient.host import topology

BASE_PAGE_KIB = 4


def build_host_topology(host, capabilities, freepages=None, lscpu=None,
                        numactl=None, net=None):
    """Merge parsed outputs into a :class:`HostTopology`.

    ``capabilities`` (parse_capabilities) is authoritative for the CPU to
    cell map; ``lscpu`` and ``numactl`` are cross-checked against it (a
    mismatch is recorded in ``notes``); ``numactl`` gives free memory,
    ``freepages`` free pages per size, ``net`` (parse_net_numa) NIC cells.
    """
    notes = []
    cells = []
    numactl = numactl or {}
    freepages = freepages or {}
    for raw in capabilities['cells']:
        cid = raw['id']
        cpus = sorted(raw['cpus'])
        node = numactl.get(cid)
        free_kib = None
        if node is not None:
            if node['free_mb'] is not None:
                free_kib = node['free_mb'] * 1024
            if node['cpus'] and sorted(node['cpus']) != cpus:
                notes.append(_('numactl shows cell %(c)d CPUs %(n)s, virsh '
                               'capabilities %(v)s') % {
                    'c': cid, 'n': topology.format_cpuset(node['cpus']),
                    'v': topology.format_cpuset(cpus)})
        pages_total = {size: count for size, count in raw['pages'].items()
                       if size != BASE_PAGE_KIB}
        pages_free = {size: count
                      for size, count in freepages.get(cid, {}).items()
                      if size != BASE_PAGE_KIB}
        for size in pages_total:
            pages_free.setdefault(size, None)
        cells.append(topology.HostCell(
            id=cid, cpus=cpus, memory_kib=raw['memory_kib'],
            free_memory_kib=free_kib, pages_total=pages_total,
            pages_free=pages_free))
    if lscpu:
        by_cell = {c.id: set(c.cpus) for c in cells}
        for cpu, row in sorted(lscpu.items()):
            if row['node'] is None or not row['online']:
                continue
            if cpu not in by_cell.get(row['node'], ()):
                notes.append(_('lscpu puts CPU %(cpu)d on node %(node)d, '
                               'virsh capabilities does not')
                             % {'cpu': cpu, 'node': row['node']})
    nics, pci = net or ({}, {})
    return topology.HostTopology(
        host=host, cells=cells,
        page_sizes_kib=list(capabilities['page_sizes_kib']),
        nics={k: v for k, v in nics.items() if v is not None},
        pci={k: v for k, v in pci.items() if v is not None},
        notes=notes)


def _topology_jobs(host):
    """The commands whose outputs make a host's NUMA topology."""
    return [
        ('caps', host, commands.CAPABILITIES, parsers.parse_capabilities),
        ('free', host, commands.FREEPAGES, parsers.parse_freepages),
        ('lscpu', host, commands.LSCPU, parsers.parse_lscpu),
        ('numactl', host, commands.NUMACTL, parsers.parse_numactl),
        ('net', host, commands.NET_NUMA, parsers.parse_net_numa),
    ]


def _topology_from(host, out):
    return build_host_topology(host, out['caps'], out['free'], out['lscpu'],
                               out['numactl'], out['net'])


def gather_host_facts(pool, host):
    """The NUMA topology of compute ``host`` (one SSH connection)."""
    return _topology_from(host, pool.run_many(_topology_jobs(host)))


def _reading_jobs(host):
    """The optional commands of a host reading beside its topology."""
    return [
        ('conf', host, commands.NOVA_CONF, novaconf.from_output),
        ('domains', host, commands.DOMAINS_XML, parsers.parse_domains_xml),
        ('pci', host, commands.PCI_DEVICES, parsers.parse_pci_devices),
    ]


def read_host(pool, host):
    """A :class:`~migrationclient.host.topology.HostReading` of ``host``.

    A bounded number of commands on one SSH connection, whatever runs
    there: the five topology commands, nova.conf, one fixed script that
    prints the domain XML of every defined domain, one that lists the
    PCI devices.  The topology is needed (its failure raises); the rest
    is optional: what cannot be read is None with a note.
    """
    jobs = _topology_jobs(host)
    optional = _reading_jobs(host)
    try:
        out = pool.run_many(jobs + optional)
    except (ssh.CommandFailed, ssh.CommandMissing, ssh.CommandTimeout,
            ssh.OutputUnparsable):
        # a command failed, not the connection: the needed ones again,
        # then each optional one
        out = pool.run_many(jobs)
        for job in optional:
            try:
                out.update(pool.run_many([job]))
            except ssh.SSHError as exc:
                out.setdefault(' notes', []).append(str(exc))
    notes = list(out.get(' notes', ()))
    conf = out.get('conf')
    if conf is not None:
        notes.extend(_('%(host)s nova.conf: %(note)s')
                     % {'host': host, 'note': n} for n in conf.notes)
    return topology.HostReading(
        host=host, topology=_topology_from(host, out), conf=conf,
        domains=out.get('domains'), pci_devices=out.get('pci'),
        notes=notes)


def _pinned_cpus(domain_xml):
    cpus = set()
    for pins in domain_xml['vcpupin'].values():
        cpus.update(pins)
    return cpus


def build_guest_placement(host, domain, topo, domain_xml, vcpupin,
                          numatune, emulatorpin, vcpuinfo=None,
                          neighbours=None, pci_nodes=None, extra_nics=()):
    """Merge parsed outputs into a :class:`GuestPlacement`.

    ``neighbours`` maps other running domains to their parsed dumpxml;
    ``pci_nodes`` maps PCI addresses to host cells (parse_pci_numa).
    """
    all_cpus = set(topo.all_cpus())
    pins = {}
    for vcpu, cpus in sorted(vcpupin.items()):
        # libvirt shows the whole CPU map for a floating vCPU
        pins[vcpu] = sorted(cpus & all_cpus if all_cpus else cpus)
    vcpu_cells = {vcpu: topo.cells_of(cpus) for vcpu, cpus in pins.items()}
    for vcpu, info in sorted((vcpuinfo or {}).items()):
        if vcpu not in pins and info['affinity'] is not None:
            pins[vcpu] = sorted(info['affinity'] & all_cpus if all_cpus
                                else info['affinity'])
            vcpu_cells[vcpu] = topo.cells_of(pins[vcpu])
    pci_nodes = dict(topo.pci, **(pci_nodes or {}))
    nics = []
    for nic in domain_xml['nics']:
        cell = None
        if nic['kind'] == 'hostdev':
            cell = pci_nodes.get(nic['device'])
        elif nic['kind'] == 'direct':
            cell = topo.nics.get(nic['device'])
        nics.append(topology.GuestNic(kind=nic['kind'], device=nic['device'],
                                      mac=nic['mac'], cell=cell))
    for address in domain_xml['hostdevs']:
        nics.append(topology.GuestNic(kind='pci', device=address,
                                      cell=pci_nodes.get(address)))
    for name in extra_nics:
        nics.append(topology.GuestNic(kind='host-nic', device=name,
                                      cell=topo.nics.get(name)))
    pinned = bool(domain_xml['vcpupin'])
    guest_cells = {c for cells in vcpu_cells.values() for c in cells}
    own = _pinned_cpus(domain_xml)
    found = []
    for name, other in sorted((neighbours or {}).items()):
        if name == domain or not other['vcpupin']:
            continue
        cpus = sorted(_pinned_cpus(other))
        cells = topo.cells_of(cpus)
        if set(cells) & guest_cells or set(cpus) & own:
            found.append(topology.Neighbour(domain=name, cpus=cpus,
                                            cells=cells))
    emulator = sorted(emulatorpin & all_cpus if all_cpus else emulatorpin)
    return topology.GuestPlacement(
        host=host, domain=domain, vcpu_pins=pins, vcpu_cells=vcpu_cells,
        pinned=pinned, emulator_cpus=emulator,
        memory_mode=numatune['mode'] if numatune['nodeset'] else '',
        memory_nodeset=sorted(numatune['nodeset']),
        page_size_kib=domain_xml['hugepages_kib'] or BASE_PAGE_KIB,
        cpu_mode=domain_xml['cpu_mode'], nics=nics, neighbours=found,
        host_cpus=sorted(all_cpus),
        disks=[topology.GuestDisk(**d) for d in domain_xml['disks']]
        if 'disks' in domain_xml else None)


def guest_facts(pool, host, domain, topo=None, extra_nics=()):
    """Where libvirt ``domain`` sits on compute ``host``.

    ``topo`` (a HostTopology of the same host) saves a round of commands
    when the caller already has it.  ``extra_nics`` names host NICs the
    guest depends on that its XML does not show (OVS-DPDK ports behind a
    vhost-user interface).
    """
    try:
        commands.validate_domain(domain)
        for name in extra_nics:
            commands.validate_nic(name)
    except commands.InvalidName as exc:
        raise ssh.SSHError(host, str(exc))
    guest = lambda kind: commands.guest_command(kind, domain)  # noqa: E731
    jobs = [
        ('xml', host, guest('dumpxml'), parsers.parse_domain_xml),
        ('vcpupin', host, guest('vcpupin'), parsers.parse_vcpupin),
        ('vcpuinfo', host, guest('vcpuinfo'), parsers.parse_vcpuinfo),
        ('numatune', host, guest('numatune'), parsers.parse_numatune),
        ('emulatorpin', host, guest('emulatorpin'),
         parsers.parse_emulatorpin),
        ('list', host, commands.LIST_RUNNING, parsers.parse_domain_names),
    ]
    if topo is None:
        jobs += _topology_jobs(host)
    out = pool.run_many(jobs)
    if topo is None:
        topo = _topology_from(host, out)
    xml = out['xml']
    second = []
    for name in out['list']:
        if name == domain:
            continue
        try:
            command = commands.guest_command('dumpxml', name)
        except commands.InvalidName:
            continue            # not a name we would send; not nova's
        second.append((name, host, command, parsers.parse_domain_xml))
    addresses = [n['device'] for n in xml['nics'] if n['kind'] == 'hostdev'
                 and n['device'] and n['device'] not in topo.pci]
    addresses += [a for a in xml['hostdevs'] if a not in topo.pci]
    if addresses:
        second.append((' pci', host, commands.pci_numa(addresses),
                       parsers.parse_pci_numa))
    more = pool.run_many(second) if second else {}
    pci_nodes = {k: v for k, v in more.pop(' pci', {}).items()
                 if v is not None}
    return build_guest_placement(
        host, domain, topo, xml, out['vcpupin'], out['numatune'],
        out['emulatorpin'], out['vcpuinfo'], neighbours=more,
        pci_nodes=pci_nodes, extra_nics=extra_nics)
