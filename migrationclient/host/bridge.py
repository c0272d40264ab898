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

"""Host facts (SSH) into the constraint model's side facts.

Pure: a :class:`~migrationclient.host.topology.HostTopology`, a
:class:`~migrationclient.host.topology.HostReading`, a guest's parsed
domain XML or a :class:`~migrationclient.host.topology.GuestPlacement` in,
the
:mod:`migrationclient.constraints.model` facts the rules read out.
"""

import dataclasses

from migrationclient.constraints import model as cf
from migrationclient.host import pinning
from migrationclient.host import topology
from migrationclient import microversions as mv


def host_side_from_topology(topology):
    """HostSideFacts from a ``migrationclient.host`` HostTopology.

    Free dedicated CPUs per cell are not known on the host alone (they
    depend on Nova's ``cpu_dedicated_set``): left unknown.
    """
    cells = []
    for cell in topology.cells:
        free_kib = cell.free_memory_kib
        cells.append(cf.NumaCell(
            id=cell.id, free_cpus=None,
            free_memory_mb=None if free_kib is None else free_kib // 1024,
            free_hugepages={size: free for size, free in
                            cell.pages_free.items()
                            if size > 4 and free is not None}))
    return cf.HostSideFacts(cpu_model=None, numa_cells=tuple(cells))


def guest_side_from_placement(placement):
    """GuestSideFacts from a ``migrationclient.host`` GuestPlacement.

    A placement without disks (``None``: not read) leaves the read-only
    drive facts unknown.  An empty CD-ROM tray has nothing to migrate and
    is not counted.
    """
    cpu_mode = placement.cpu_mode or None
    disks = placement.disks
    if disks is None:
        return cf.GuestSideFacts(cpu_mode=cpu_mode)
    drive = next((d for d in disks if d.config_drive), None)
    cdroms = [d for d in disks if d.device == 'cdrom' and d.source
              and not d.config_drive]
    return cf.GuestSideFacts(
        cpu_mode=cpu_mode, cdroms=len(cdroms),
        config_drive_format=drive.config_drive_format if drive else None,
        config_drive_device=drive.label if drive else None,
        config_drive_shared=bool(drive and drive.kind == 'network'),
        cdrom_devices=tuple('%s %s' % (d.label, d.source) for d in cdroms))


def _domain_pins(domains):
    return {name: (xml['vcpupin'], xml['emulatorpin'] or frozenset())
            for name, xml in (domains or {}).items()}


def host_side_from_reading(reading, nova=None):
    """HostSideFacts from a ``migrationclient.host`` HostReading.

    Free dedicated CPUs per cell: the cell's CPUs of the pinning set
    (nova.conf ``cpu_dedicated_set``, ``vcpu_pin_set``; Train+ rules of
    :func:`migrationclient.host.pinning.pinning_set`) minus those the
    domain XML of a defined domain pins (Nova keeps a stopped guest's
    CPUs claimed).  Unknown (None) when nova.conf or the domains were not
    read.  Free PCI devices per alias and free VFs per physical network
    from the sysfs devices, nova.conf and the domains' host devices.
    """
    unread = []
    if reading.conf is None:
        unread.append('nova.conf')
    if reading.domains is None:
        unread.append('domain XML')
    devices = reading.pci_devices
    if devices is None or any(d['vendor'] is None or d['product'] is None
                              for d in devices.values()):
        # devices whose ids sysfs does not show cannot be matched
        devices = None
        unread.append('PCI devices')
    hp = pinning.host_pinning(reading.topology, reading.conf,
                              _domain_pins(reading.domains), nova)
    cpus_known = reading.conf is not None and reading.domains is not None
    shared = shared_set(reading.conf, reading.topology, nova)
    usage = None
    if reading.domains is not None:
        usage = numa_usage(reading.domains)
    cells = []
    by_id = {c.id: c for c in reading.topology.cells}
    for cell in hp.cells:
        raw = by_id[cell.id]
        cells.append(cf.NumaCell(
            id=cell.id,
            free_cpus=len(cell.free_pinnable) if cpus_known else None,
            free_memory_mb=cell.free_memory_mb,
            free_hugepages={size: free for size, free in
                            cell.free_pages.items()
                            if size > 4 and free is not None},
            memory_mb=raw.memory_kib // 1024 if raw.memory_kib else None,
            shared_cpus=None if shared is None
            else len(shared & cell.cpus),
            memory_used_mb=None if usage is None
            else usage[0].get(cell.id, 0),
            shared_used=None if usage is None
            else usage[1].get(cell.id, 0)))
    pci_free = vf_free = pci_live = None
    if reading.conf is not None:
        pci_live = {a.name: a.live_migratable
                    for a in reading.conf.pci_aliases}
        if devices is not None and reading.domains is not None:
            pci_free, vf_free = free_devices(reading.conf, devices,
                                             reading.domains)
    return cf.HostSideFacts(cpu_model=None, numa_cells=tuple(cells),
                            pci_free=pci_free, vf_free=vf_free,
                            pci_live=pci_live, unread=tuple(unread))


def shared_set(conf, topo, nova=None):
    """Host CPUs floating guests (and guest NUMA cells) run on, or None.

    ``[compute] cpu_shared_set`` (Train+), else ``vcpu_pin_set``, else
    every CPU outside ``cpu_dedicated_set`` (the libvirt driver's
    ``_get_host_numa_topology``).  None when nova.conf was not read.
    """
    if conf is None:
        return None
    all_cpus = frozenset(cpu for cell in topo.cells for cpu in cell.cpus)
    train = nova is None or nova >= mv.TRAIN
    if train and conf.cpu_shared_set is not None:
        return frozenset(conf.cpu_shared_set) & all_cpus
    if conf.vcpu_pin_set is not None:
        return frozenset(conf.vcpu_pin_set) & all_cpus
    if train and conf.cpu_dedicated_set is not None:
        return all_cpus - frozenset(conf.cpu_dedicated_set)
    return all_cpus


def numa_usage(domains):
    """``({host cell: MiB}, {host cell: vCPUs})`` of the NUMA guests.

    What Nova's NUMA accounting holds per host cell
    (``numa_usage_from_instance_numa``): the memory of every guest NUMA
    cell (on the host node of its ``<numatune><memnode>``) and its vCPUs
    that are not pinned (one host CPU each).  Guests without a NUMA
    topology take nothing there.
    """
    memory, cpus = {}, {}
    for xml in domains.values():
        for cell in xml.get('numa_cells', ()):
            nodes = cell.get('nodeset')
            if not nodes or len(nodes) != 1 or cell.get('memory_kib') is None:
                continue
            node = nodes[0]
            memory[node] = memory.get(node, 0) + cell['memory_kib'] // 1024
            floating = [v for v in cell['cpus']
                        if len(xml['vcpupin'].get(v, ())) != 1]
            cpus[node] = cpus.get(node, 0) + len(floating)
    return memory, cpus


def held_devices(domains):
    """PCI addresses the domains hold (``<hostdev>``, hostdev NICs)."""
    held = set()
    for xml in domains.values():
        held.update(a.lower() for a in xml['hostdevs'])
        held.update(n['device'].lower() for n in xml['nics']
                    if n['kind'] == 'hostdev' and n['device'])
    return held


def _hex(value):
    text = str(value or '').strip().lower().removeprefix('0x')
    return text if text not in ('', '*') else None


def spec_matches(spec, address, device):
    """Does a ``[pci] device_spec`` entry match a sysfs device.

    Vendor, product and a full address; a spec naming a ``devname`` or
    an address pattern matches by vendor / product only (counted as an
    upper bound of what Nova tracks).
    """
    for key, have in (('vendor_id', device['vendor']),
                      ('product_id', device['product'])):
        want = _hex(spec.get(key))
        if want is not None and want != have:
            return False
    wanted = spec.get('address')
    if isinstance(wanted, str) and '*' not in wanted and \
            wanted.count(':') == 2:
        return wanted.lower() == address
    return True


def _device_type(device):
    if device['physfn']:
        return 'type-VF'
    if device['total_vfs']:
        return 'type-PF'
    return 'type-PCI'


def free_devices(conf, devices, domains):
    """``({alias: free}, {physnet: free VFs})`` of one host.

    A device Nova tracks matches a ``device_spec``; it is free when no
    domain holds it, nor its PF (a VF) nor any of its VFs (a PF), as
    Nova's PCI tracker keeps parents and children exclusive.  An alias
    counts the free devices of its vendor, product and device type
    (``type-PCI`` when it names none, as ``nova/pci/request.py``).
    """
    held = held_devices(domains)
    busy_pfs = {d['physfn'] for a, d in devices.items()
                if a in held and d['physfn']}
    tracked = {}
    for address, device in sorted(devices.items()):
        specs = [s for s in conf.pci_device_specs
                 if spec_matches(s, address, device)]
        if not specs:
            continue
        free = (address not in held and device['physfn'] not in held
                and address not in busy_pfs)
        tracked[address] = (device, specs, free)
    by_alias = {}
    for alias in conf.pci_aliases:
        want_type = alias.device_type or 'type-PCI'
        count = 0
        for address, (device, _specs, free) in tracked.items():
            if not free or _device_type(device) != want_type:
                continue
            if _hex(alias.vendor_id) not in (None, device['vendor']):
                continue
            if _hex(alias.product_id) not in (None, device['product']):
                continue
            count += 1
        by_alias[alias.name] = by_alias.get(alias.name, 0) + count
    by_physnet = {}
    for address, (device, specs, free) in tracked.items():
        if _device_type(device) != 'type-VF':
            continue
        for net in {s.get('physical_network') for s in specs} - {None}:
            by_physnet.setdefault(net, 0)
            if free:
                by_physnet[net] += 1
    return by_alias, by_physnet


def guest_side_from_xml(xml):
    """GuestSideFacts from the guest's parsed domain XML (``--ssh``).

    The CPU mode, model and required features and the read-only drives.
    """
    disks = [topology.GuestDisk(**d) for d in xml['disks']]
    placement = topology.GuestPlacement(
        host='', domain=xml['name'], vcpu_pins={}, vcpu_cells={},
        pinned=bool(xml['vcpupin']), emulator_cpus=[], memory_mode='',
        memory_nodeset=[], page_size_kib=4, cpu_mode=xml['cpu_mode'],
        nics=[], neighbours=[], disks=disks)
    side = guest_side_from_placement(placement)
    return dataclasses.replace(
        side, cpu_model=xml.get('cpu_model'),
        cpu_features=frozenset(xml.get('cpu_features') or ()))
