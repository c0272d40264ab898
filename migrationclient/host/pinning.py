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

"""Free pinnable CPUs and huge pages per host NUMA cell (pure, no I/O).

Placement counts dedicated CPUs (``PCPU``) per host, but Nova places a
pinned or NUMA guest cell by cell: every guest NUMA node must find its
CPUs, memory and huge pages on one host cell, each guest node on a
different cell (``nova/virt/hardware.py`` ``numa_fit_instance_to_host``).
A host with 8 free dedicated CPUs split 4 + 4 refuses a 6-CPU
single-node guest.  Only the host shows that split.  This module computes
it from what the host layer already reads:

* the host cells (``virsh capabilities``, ``virsh freepages --all``,
  ``numactl --hardware``, merged by
  :func:`migrationclient.host.probe.build_host_topology`);
* the CPU sets of :mod:`migrationclient.host.novaconf`;
* ``virsh vcpupin`` / ``virsh emulatorpin`` of every running domain
  (:func:`~migrationclient.host.parsers.parse_vcpupin`,
  :func:`~migrationclient.host.parsers.parse_emulatorpin`).

A vCPU counts as pinned when libvirt lets it run on exactly one host CPU
(how Nova pins a dedicated vCPU); a floating vCPU shows the whole shared
set and takes nothing.  An emulator thread counts when it is alone on one
CPU (``hw:emulator_threads_policy=isolate`` takes one more dedicated
CPU).  Free memory is the kernel's (``numactl``), free huge pages the
kernel's per size (``freepages``): Nova's own accounting may lag behind
them after a move until its resource tracker runs.

:func:`fit` answers "does a guest of this NUMA shape fit", and
:func:`same_cpus_free` the pre-Train question (RHSA-2018:0369): before
Train a live migration copies the guest's pinning unchanged, so the very
same host CPU ids and NUMA node must be free on the destination (Red Hat
OSP's ``[workarounds] cpu_pinning_migration_quick_fail`` makes Nova refuse
such a move early instead of leaving two guests on the same CPUs).
"""

import dataclasses

from migrationclient._i18n import _
from migrationclient.constraints import model as cfacts
from migrationclient import microversions as mv


@dataclasses.dataclass(frozen=True)
class CellPinning:
    """One host NUMA cell as a pinned guest sees it.

    ``dedicated``: the cell's CPUs Nova may pin guests to;
    ``pinned``: those of them running domains already hold
    (``pinned_by`` says which domain holds which);
    ``free_memory_mb`` / ``free_pages`` (page size KiB -> free pages,
    None when not read): what the kernel has left.
    """

    id: int
    cpus: frozenset
    dedicated: frozenset
    pinned: frozenset = frozenset()
    pinned_by: dict = dataclasses.field(default_factory=dict)
    free_memory_mb: int | None = None
    free_pages: dict = dataclasses.field(default_factory=dict)
    total_pages: dict = dataclasses.field(default_factory=dict)

    @property
    def free_pinnable(self):
        """Dedicated CPUs of the cell no running domain is pinned to."""
        return self.dedicated - self.pinned

    def free_memory_kib(self, page_kb=None):
        """Free memory for a guest of page size ``page_kb`` (KiB).

        None or small pages: the kernel's free memory (None if unknown);
        a huge page size: free pages x size (None if unknown).
        """
        if not page_kb:
            if self.free_memory_mb is None:
                return None
            return self.free_memory_mb * 1024
        free = self.free_pages.get(page_kb)
        return None if free is None else free * page_kb


@dataclasses.dataclass(frozen=True)
class HostPinning:
    """Every cell of a host, and how sure the dedicated sets are.

    ``dedicated_known`` is False when nova.conf was not read: every CPU
    of a cell then counts as pinnable (an upper bound).
    """

    host: str
    cells: tuple
    dedicated_known: bool = True
    notes: tuple = ()

    def cell(self, cell_id):
        for cell in self.cells:
            if cell.id == cell_id:
                return cell
        return None

    @property
    def free_pinnable(self):
        return frozenset().union(*(c.free_pinnable for c in self.cells))

    def numa_cells(self):
        """The cells as the rules read them.

        :class:`migrationclient.constraints.model.NumaCell` tuples, what
        ``HostSideFacts.numa_cells`` holds.
        """
        return tuple(
            cfacts.NumaCell(
                id=c.id, free_cpus=len(c.free_pinnable),
                free_memory_mb=c.free_memory_mb,
                free_hugepages={size: n for size, n in c.free_pages.items()
                                if n is not None})
            for c in self.cells)


def pinning_set(conf, all_cpus, nova=None):
    """Host CPUs Nova pins guests to, from :class:`NovaConf` ``conf``.

    Train+ (``nova/virt/hardware.py`` ``get_cpu_dedicated_set`` and the
    libvirt driver's legacy mode): ``cpu_dedicated_set``; else the
    deprecated ``vcpu_pin_set``; else, when ``cpu_shared_set`` is set,
    none; else every CPU.  Before Train: ``vcpu_pin_set`` or every CPU.
    Returns ``(cpus, known)``; ``conf`` None gives every CPU, not known.
    """
    all_cpus = frozenset(all_cpus)
    if conf is None:
        return all_cpus, False
    train = nova is None or nova >= mv.TRAIN
    if train and conf.cpu_dedicated_set is not None:
        return frozenset(conf.cpu_dedicated_set) & all_cpus, True
    if conf.vcpu_pin_set is not None:
        return frozenset(conf.vcpu_pin_set) & all_cpus, True
    if train and conf.cpu_shared_set is not None:
        return frozenset(), True
    return all_cpus, True


def domain_pins(vcpupin, emulatorpin=None):
    """Host CPUs a domain holds: single-CPU vCPUs and a lone emulator.

    ``vcpupin`` is :func:`~migrationclient.host.parsers.parse_vcpupin`'s
    ``{vcpu: frozenset(cpus)}``, ``emulatorpin`` the emulator's CPU set.
    """
    held = set()
    for cpus in (vcpupin or {}).values():
        if len(cpus) == 1:
            held |= cpus
    if emulatorpin and (len(emulatorpin) == 1 or set(emulatorpin) <= held):
        held |= set(emulatorpin)
    return frozenset(held)


def host_pinning(topo, conf=None, domains=None, nova=None):
    """:class:`HostPinning` of a host.

    ``topo`` is the host's :class:`~migrationclient.host.topology
    .HostTopology`; ``conf`` its :class:`~migrationclient.host.novaconf
    .NovaConf` (None: not read); ``domains`` maps each *running* domain to
    ``(vcpupin, emulatorpin)`` parsed outputs; ``nova`` the Nova major
    version (None: Train or later).
    """
    all_cpus = {cpu for cell in topo.cells for cpu in cell.cpus}
    dedicated, known = pinning_set(conf, all_cpus, nova)
    notes = []
    held = {}
    for name, (vcpupin, emulatorpin) in sorted((domains or {}).items()):
        cpus = domain_pins(vcpupin, emulatorpin)
        if cpus:
            held[name] = cpus
    taken = {}
    for name, cpus in held.items():
        for cpu in cpus:
            taken.setdefault(cpu, []).append(name)
    for cpu, names in sorted(taken.items()):
        if len(names) > 1:
            notes.append(_('host CPU %(cpu)d is pinned by %(names)s')
                         % {'cpu': cpu, 'names': ', '.join(names)})
    shared = frozenset(conf.cpu_shared_set or ()) if conf else frozenset()
    # a floating guest on a one-CPU shared set looks pinned: not a note
    outside = sorted(set(taken) - dedicated - shared) if known else []
    if outside:
        notes.append(_('domains are pinned to CPUs outside the dedicated '
                       'set: %s') % ','.join(str(c) for c in outside))
    cells = []
    for cell in topo.cells:
        cpus = frozenset(cell.cpus)
        cells.append(CellPinning(
            id=cell.id, cpus=cpus, dedicated=dedicated & cpus,
            pinned=frozenset(c for c in taken if c in cpus) & dedicated,
            pinned_by={n: c & cpus for n, c in held.items() if c & cpus},
            free_memory_mb=None if cell.free_memory_kib is None
            else cell.free_memory_kib // 1024,
            free_pages=dict(cell.pages_free),
            total_pages=dict(cell.pages_total)))
    return HostPinning(host=topo.host, cells=tuple(cells),
                       dedicated_known=known, notes=tuple(notes))


@dataclasses.dataclass(frozen=True)
class GuestCell:
    """One guest NUMA node's needs: dedicated CPUs and memory (MiB)."""

    cpus: int = 0
    memory_mb: int = 0


def guest_cells(nodes, dedicated_cpus, memory_mb):
    """Nova's even split of a flavor over ``nodes`` guest NUMA nodes.

    ``dedicated_cpus`` (0 for a floating guest) and ``memory_mb`` are
    divided as ``nova/virt/hardware.py`` ``_get_numa_topology_auto`` does
    (the remainder goes to no node: Nova refuses uneven flavors unless
    ``hw:numa_cpus.N`` / ``hw:numa_mem.N`` say how).
    """
    nodes = max(int(nodes), 1)
    return tuple(GuestCell(dedicated_cpus // nodes, memory_mb // nodes)
                 for _n in range(nodes))


def _fits_cell(cell, need, page_kb):
    if need.cpus and len(cell.free_pinnable) < need.cpus:
        return False
    if need.memory_mb:
        sizes = [page_kb] if page_kb else [None]
        if page_kb == 0:                    # "large": any huge page size
            sizes = sorted(s for s in cell.free_pages if s > 4)
        for size in sizes:
            free = cell.free_memory_kib(size)
            if free is None:
                if size is None:
                    return True             # unknown small-page memory
                continue
            if free >= need.memory_mb * 1024:
                return True
        return False
    return True


def fit(host, cells, page_kb=None):
    """Where guest ``cells`` would go on ``host``, or None if they can't.

    ``host`` is a :class:`HostPinning`, ``cells`` a sequence of
    :class:`GuestCell`; ``page_kb`` the guest's page size in KiB (None:
    small pages, 0: any huge page size).  Each guest node needs its own
    host cell with enough free pinnable CPUs and free memory (huge pages
    of the size when ``page_kb``), as Nova's
    ``numa_fit_instance_to_host`` requires.  Returns ``{guest node index:
    host cell id}``.  Small-page memory the host did not report (no
    ``numactl``) is not held against a cell: Nova checks its own
    accounting there, not the kernel's free memory; unknown huge pages
    never fit.
    """
    cells = list(cells)
    if len(cells) > len(host.cells):
        return None
    fits = [[hc.id for hc in host.cells if _fits_cell(hc, need, page_kb)]
            for need in cells]
    order = sorted(range(len(cells)), key=lambda i: len(fits[i]))
    chosen = {}

    def place(k):
        if k == len(order):
            return True
        index = order[k]
        for cell_id in fits[index]:
            if cell_id in chosen.values():
                continue
            chosen[index] = cell_id
            if place(k + 1):
                return True
            del chosen[index]
        return False

    return dict(chosen) if place(0) else None


@dataclasses.dataclass(frozen=True)
class SameCpus:
    """The pre-Train answer: are the guest's very CPUs free on the dest.

    ``taken`` maps destination CPUs the guest needs to the domains that
    hold them; ``not_dedicated`` are needed CPUs outside the destination's
    pinning set (or missing there); ``cells_short`` the guest's host cells
    whose memory / huge pages are not free enough on the destination.
    """

    taken: dict = dataclasses.field(default_factory=dict)
    not_dedicated: frozenset = frozenset()
    cells_short: tuple = ()

    @property
    def ok(self):
        return not (self.taken or self.not_dedicated or self.cells_short)


def same_cpus_free(dest, cpus, memory_by_cell=None, page_kb=None):
    """Can the destination take a guest pinned to host CPUs ``cpus``?

    Before Train (RHSA-2018:0369) Nova live-migrates a pinned guest with
    its pinning unchanged: the destination ``dest`` (a
    :class:`HostPinning`) needs every CPU id of ``cpus`` in its pinning
    set and free, and on each host cell of ``memory_by_cell`` (cell id ->
    MiB the guest takes there, from ``numatune``) enough free memory or
    huge pages of ``page_kb``.
    """
    cpus = frozenset(cpus)
    dedicated = frozenset().union(*(c.dedicated for c in dest.cells))
    holders = {}
    for cell in dest.cells:
        for name, held in cell.pinned_by.items():
            for cpu in held & cpus:
                holders.setdefault(cpu, []).append(name)
    short = []
    for cell_id, mem in sorted((memory_by_cell or {}).items()):
        cell = dest.cell(cell_id)
        if cell is None or not _fits_cell(cell, GuestCell(0, mem), page_kb):
            short.append(cell_id)
    return SameCpus(
        taken={cpu: tuple(sorted(n)) for cpu, n in sorted(holders.items())},
        not_dedicated=cpus - dedicated, cells_short=tuple(short))
