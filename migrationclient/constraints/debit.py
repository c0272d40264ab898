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

"""The facts after a planned move: the one copy of the debit logic.

Pure (no I/O).  A planned move of a server to a host takes capacity there
before the next server is planned; the rules then read the debited facts:

* :func:`needs`: what a server takes on a host, by placement resource
  class (``PCPU`` for dedicated CPUs on hosts that report it, else
  ``VCPU``; ``MEMORY_MB``; ``DISK_GB`` for local disks only);
* :func:`host_after`: the host with the server's needs consumed: placement
  usage, the hypervisor's ``free_ram_mb`` / ``running_vms`` /
  ``vcpus_used``, and, when the host-side facts are known (``--ssh``), the
  free CPUs, memory and huge pages of the NUMA cells the guest takes (the
  cells the ``numa`` and ``hugepages`` rules would choose, with the same
  fit test);
* :func:`regroup`: server group member hosts with the server on its
  destination;
* :func:`debit`: the whole :class:`~migrationclient.constraints.model.
  Snapshot` after one move (``engine.plan`` and the capacity planner).

Free VFs and PCI devices are not in the facts (the API does not show
them), so they are not debited.
"""

import dataclasses

from migrationclient.constraints.rules import numa_placement

CPU_CLASSES = ('VCPU', 'PCPU')


def _replace(facts, **changes):
    """``dataclasses.replace`` of frozen facts, without its cost.

    For the facts dataclasses a debit changes (no ``__post_init__``, no
    ``init=False`` field, no cached property): a shallow copy with
    ``changes`` set.  ``dataclasses.replace`` re-runs ``__init__`` field by
    field, most of a plan's debit time.
    """
    new = object.__new__(facts.__class__)
    state = new.__dict__
    state.update(facts.__dict__)
    state.update(changes)
    return new


def cpu_class(server, host):
    """``PCPU`` for a pinned guest on a host with PCPU inventory."""
    inv = host.inventory
    if server.dedicated_cpus and inv is not None and 'PCPU' in inv:
        return 'PCPU'
    return 'VCPU'


def needs(server, host):
    """``{resource class: amount}`` the server takes on ``host`` (> 0)."""
    wanted = {cpu_class(server, host): server.flavor.vcpus,
              'MEMORY_MB': server.flavor.ram,
              'DISK_GB': server.local_disk_gb}
    return {rc: amount for rc, amount in wanted.items() if amount > 0}


def _cell_fits(cell, per_cpu, per_mem, page_kb):
    # The rules' own fit test, on one cell (one guest node).
    return numa_placement.fit_cells((cell,), 1, per_cpu, per_mem, page_kb)


def _take(cells, nodes, fits, change):
    """Cells with ``change`` applied to the first ``nodes`` that fit."""
    cells = list(cells)
    taken = 0
    for i, cell in enumerate(cells):
        if taken == nodes:
            break
        if fits(cell):
            cells[i] = change(cell)
            taken += 1
    return tuple(cells)


def cells_after(cells, server):
    """NUMA cells after ``server`` took its guest nodes (host-side facts).

    The ``numa`` rule chooses cells with free CPUs (pinned guests) and free
    small-page memory; the ``hugepages`` rule cells with free huge pages of
    the guest's size: each is debited on the cells its rule would choose.
    """
    nodes = server.numa_nodes
    page_kb = numa_placement.page_size_kb(server)
    if not cells or (not nodes and page_kb is None):
        return cells
    nodes = max(nodes, 1)
    cpus = server.flavor.vcpus if server.dedicated_cpus else 0
    per_cpu = -(-cpus // nodes) if cpus else 0
    per_mem = -(-server.flavor.ram // nodes)
    small_mem = 0 if page_kb is not None else per_mem

    def numa_change(cell):
        changes = {}
        if per_cpu and cell.free_cpus is not None:
            changes['free_cpus'] = cell.free_cpus - per_cpu
        if small_mem and cell.free_memory_mb is not None:
            changes['free_memory_mb'] = cell.free_memory_mb - small_mem
        return _replace(cell, **changes) if changes else cell

    if server.numa_nodes:
        cells = _take(cells, nodes,
                      lambda c: _cell_fits(c, per_cpu, small_mem, None),
                      numa_change)
    if page_kb is not None:
        sizes = [page_kb] if page_kb else sorted(
            {s for c in cells for s in c.free_hugepages if s > 4})
        for size in sizes:
            if numa_placement.fit_cells(cells, nodes, 0, server.flavor.ram,
                                        size):
                pages = -(-per_mem * 1024 // size)

                def page_change(cell, size=size, pages=pages):
                    free = dict(cell.free_hugepages)
                    free[size] = free.get(size, 0) - pages
                    return _replace(cell, free_hugepages=free)

                cells = _take(cells, nodes,
                              lambda c, size=size: _cell_fits(
                                  c, 0, per_mem, size),
                              page_change)
                break
    return cells


def host_after(host, server):
    """``host`` (:class:`HostFacts`) after ``server`` was placed on it."""
    changes = {}
    if host.inventory is not None:
        inv = dict(host.inventory)
        for rc, amount in needs(server, host).items():
            cap = inv.get(rc)
            if cap is not None:
                # Capacity.consume
                inv[rc] = _replace(cap, used=cap.used + amount)
        changes['inventory'] = inv
    if host.free_ram_mb is not None:
        changes['free_ram_mb'] = host.free_ram_mb - server.flavor.ram
    if host.running_vms is not None:
        changes['running_vms'] = host.running_vms + 1
    if host.vcpus_used is not None:
        changes['vcpus_used'] = host.vcpus_used + server.flavor.vcpus
    side = host.host_side
    if side is not None and side.numa_cells:
        cells = cells_after(side.numa_cells, server)
        if cells is not side.numa_cells:
            changes['host_side'] = _replace(side, numa_cells=cells)
    return _replace(host, **changes)


def regroup(groups, server_id, destination):
    """``groups`` (server id -> GroupFacts tuple) with the server moved.

    Every group of ``server_id`` gets ``member_hosts[server_id] =
    destination``; the entries of its members are updated (a new dict,
    ``groups`` is not changed).  Cost: the members of the server's groups.
    """
    mine = groups.get(server_id, ())
    if not mine:
        return groups
    groups = dict(groups)
    changed = {}
    for group in mine:
        hosts = dict(group.member_hosts)
        hosts[server_id] = destination
        changed[group.id] = dataclasses.replace(group, member_hosts=hosts)
    members = {server_id}
    for group in mine:
        members.update(group.members)
        members.update(group.member_hosts)
    for member in members:
        entry = groups.get(member)
        if entry:
            groups[member] = tuple(changed.get(g.id, g) for g in entry)
    return groups


def asked_elsewhere(snapshot, server, host):
    """Placement classes the server asks beyond :func:`needs`.

    vPMEM namespaces, vGPU / mdev and other ``resources:*`` classes of
    its Placement question (``snapshot.placement``), which the rules read
    from ``HostFacts.inventory`` when Placement's answer filled it.
    """
    answer = snapshot.placement_for(server.id)
    if answer is None:
        return {}
    known = set(needs(server, host)) | set(CPU_CLASSES) | {
        'MEMORY_MB', 'DISK_GB'}
    return {rc: n for rc, n in answer.resources
            if rc not in known and n > 0}


def debit(snapshot, server, destination):
    """The snapshot after ``server`` moved to ``destination``."""
    hosts = dict(snapshot.hosts)
    host = host_after(hosts[destination], server)
    extra = asked_elsewhere(snapshot, server, host)
    if extra and host.inventory is not None:
        inv = dict(host.inventory)
        for rc, amount in extra.items():
            if rc in inv:
                inv[rc] = inv[rc].consume(amount)
        host = dataclasses.replace(host, inventory=inv)
    hosts[destination] = host
    servers = dict(snapshot.servers)
    servers[server.id] = dataclasses.replace(server, host=destination)
    return dataclasses.replace(
        snapshot, hosts=hosts, servers=servers,
        groups=regroup(snapshot.groups, server.id, destination))
