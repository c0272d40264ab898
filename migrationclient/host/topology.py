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

"""Host and guest NUMA facts as plain data (no I/O).

These are the values the SSH fact gathering produces and the comparison
consumes; they round-trip through JSON (the ``--save`` snapshot file).
"""

import dataclasses

SNAPSHOT_FORMAT = 'migrationclient-numa-snapshot'
SNAPSHOT_VERSION = 1


def format_cpuset(cpus):
    """``{0, 1, 2, 5}`` -> ``'0-2,5'`` (empty set -> ``''``)."""
    ranges = []
    for cpu in sorted(cpus):
        if ranges and cpu == ranges[-1][1] + 1:
            ranges[-1][1] = cpu
        else:
            ranges.append([cpu, cpu])
    return ','.join(str(a) if a == b else '%d-%d' % (a, b)
                    for a, b in ranges)


@dataclasses.dataclass
class HostCell:
    """One host NUMA cell."""

    id: int
    cpus: list                      # host CPU ids
    memory_kib: int = 0
    free_memory_kib: int | None = None
    # page size (KiB) -> total pages, free pages (None when unknown)
    pages_total: dict = dataclasses.field(default_factory=dict)
    pages_free: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class HostTopology:
    """What a compute node looks like, NUMA-wise."""

    host: str
    cells: list                     # [HostCell], sorted by id
    page_sizes_kib: list = dataclasses.field(default_factory=list)
    nics: dict = dataclasses.field(default_factory=dict)   # name -> cell
    pci: dict = dataclasses.field(default_factory=dict)    # address -> cell
    notes: list = dataclasses.field(default_factory=list)

    def cell_of_cpu(self, cpu):
        for cell in self.cells:
            if cpu in cell.cpus:
                return cell.id
        return None

    def cells_of(self, cpus):
        """Host cells covering ``cpus`` (unknown CPUs are ignored)."""
        found = {self.cell_of_cpu(cpu) for cpu in cpus}
        found.discard(None)
        return sorted(found)

    def all_cpus(self):
        return sorted(cpu for cell in self.cells for cpu in cell.cpus)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        cells = [HostCell(id=int(c['id']), cpus=[int(x) for x in c['cpus']],
                          memory_kib=int(c.get('memory_kib') or 0),
                          free_memory_kib=c.get('free_memory_kib'),
                          pages_total=_int_keys(c.get('pages_total', {})),
                          pages_free=_int_keys(c.get('pages_free', {})))
                 for c in data['cells']]
        return cls(host=str(data['host']), cells=cells,
                   page_sizes_kib=[int(p) for p in
                                   data.get('page_sizes_kib', [])],
                   nics={str(k): int(v)
                         for k, v in data.get('nics', {}).items()},
                   pci={str(k): int(v)
                        for k, v in data.get('pci', {}).items()},
                   notes=[str(n) for n in data.get('notes', [])])


@dataclasses.dataclass
class HostReading:
    """Everything the ``--ssh`` precheck reads on one compute host.

    ``topology``: its :class:`HostTopology`; ``conf``: its nova.conf
    (:class:`migrationclient.host.novaconf.NovaConf`, None when not
    readable); ``domains``: every defined domain's parsed ``virsh
    dumpxml`` (None when not readable); ``pci_devices``: the sysfs PCI
    devices (None when not readable); ``notes``: what could not be read,
    one line each.
    """

    host: str
    topology: HostTopology
    conf: object = None
    domains: dict | None = None
    pci_devices: dict | None = None
    notes: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class GuestNic:
    """A guest network attachment and the host cell of its device."""

    kind: str                       # hostdev, direct, vhostuser, bridge...
    device: str                     # host NIC name, PCI address or ''
    mac: str = ''
    cell: int | None = None         # None: unknown or no affinity

    @property
    def label(self):
        return '%s %s' % (self.kind, self.device or self.mac or '?')


@dataclasses.dataclass
class GuestDisk:
    """A guest disk device (``<disk>`` in the domain XML)."""

    device: str                     # disk, cdrom, floppy, lun
    target: str                     # vda, sda, hdd...
    bus: str = ''                   # virtio, sata, ide, scsi...
    kind: str = ''                  # file, block, network, volume
    source: str = ''                # path, rbd name, pool/volume or ''
    readonly: bool = False
    config_drive: bool = False      # Nova's disk.config

    @property
    def config_drive_format(self):
        """``'iso9660'`` (a CD-ROM) or ``'vfat'`` (a disk), as Nova does."""
        if not self.config_drive:
            return None
        return 'iso9660' if self.device == 'cdrom' else 'vfat'

    @property
    def label(self):
        return '%s %s (%s)' % (self.device, self.target or '?',
                               self.bus or '?')


@dataclasses.dataclass
class Neighbour:
    """Another guest on the same host with CPUs pinned."""

    domain: str
    cpus: list
    cells: list


@dataclasses.dataclass
class GuestPlacement:
    """Where one guest sits on its host."""

    host: str
    domain: str
    vcpu_pins: dict                 # vcpu -> [host cpus] (live affinity)
    vcpu_cells: dict                # vcpu -> [host cells]
    pinned: bool                    # <cputune><vcpupin> in the XML
    emulator_cpus: list
    memory_mode: str
    memory_nodeset: list
    page_size_kib: int              # 4 unless hugepages back the memory
    cpu_mode: str
    nics: list                      # [GuestNic]
    neighbours: list                # [Neighbour]
    host_cpus: list = dataclasses.field(default_factory=list)
    #: [GuestDisk]; None when not read (snapshots saved before disks were)
    disks: list | None = None

    @property
    def cells(self):
        return sorted({c for cells in self.vcpu_cells.values()
                       for c in cells})

    @property
    def pinned_cpus(self):
        if not self.pinned:
            return []
        return sorted({c for cpus in self.vcpu_pins.values() for c in cpus})

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        return cls(
            host=str(data['host']), domain=str(data['domain']),
            vcpu_pins={int(k): [int(c) for c in v]
                       for k, v in data['vcpu_pins'].items()},
            vcpu_cells={int(k): [int(c) for c in v]
                        for k, v in data['vcpu_cells'].items()},
            pinned=bool(data['pinned']),
            emulator_cpus=[int(c) for c in data['emulator_cpus']],
            memory_mode=str(data['memory_mode']),
            memory_nodeset=[int(c) for c in data['memory_nodeset']],
            page_size_kib=int(data['page_size_kib']),
            cpu_mode=str(data['cpu_mode']),
            nics=[GuestNic(kind=str(n['kind']), device=str(n['device']),
                           mac=str(n.get('mac', '')),
                           cell=None if n.get('cell') is None
                           else int(n['cell']))
                  for n in data['nics']],
            neighbours=[Neighbour(domain=str(n['domain']),
                                  cpus=[int(c) for c in n['cpus']],
                                  cells=[int(c) for c in n['cells']])
                        for n in data['neighbours']],
            host_cpus=[int(c) for c in data.get('host_cpus', [])],
            disks=None if data.get('disks') is None else [
                GuestDisk(device=str(d['device']), target=str(d['target']),
                          bus=str(d.get('bus', '')),
                          kind=str(d.get('kind', '')),
                          source=str(d.get('source', '')),
                          readonly=bool(d.get('readonly', False)),
                          config_drive=bool(d.get('config_drive', False)))
                for d in data['disks']])


def _int_keys(mapping):
    return {int(k): (None if v is None else int(v))
            for k, v in mapping.items()}
