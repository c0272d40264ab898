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

"""NUMA placement rules: NUMA topology, CPU pinning, huge pages (seed
sections 8.2 / 8.3; Nova Train NUMA-aware live migration).
"""

from migrationclient._i18n import _
from migrationclient.constraints import model as f
from migrationclient.constraints.rules import allocation as placement
from migrationclient.constraints.rules import base
from migrationclient.constraints.rules import capacity
from migrationclient import microversions as mv


def _cells(host):
    if host.host_side and host.host_side.numa_cells:
        return len(host.host_side.numa_cells)
    if host.cpu and host.cpu.numa_cells:
        return host.cpu.numa_cells
    return None


def _within_limits(cell, mem_mb, shared, page_kb, limits):
    """Nova's limits on a cell (``_numa_fit_instance_cell``).

    ``limits``: ``(ram ratio, cpu ratio)``, the destination's
    allocation ratios (None when not known: not checked).  The NUMA
    guests' memory plus the guest cell's, within the cell's memory x the
    RAM ratio (small pages); their floating vCPUs plus the guest cell's,
    within the cell's shared CPUs x the CPU ratio.
    """
    ram_ratio, cpu_ratio = limits or (None, None)
    if page_kb is None and mem_mb and ram_ratio and \
            cell.memory_used_mb is not None and cell.memory_mb is not None:
        if cell.memory_used_mb + mem_mb > cell.memory_mb * ram_ratio:
            return False
    if shared and cpu_ratio and cell.shared_used is not None and \
            cell.shared_cpus is not None:
        if cell.shared_used + shared > cell.shared_cpus * cpu_ratio:
            return False
    return True


def _cell_memory_fits(cell, mem_mb, page_kb):
    """Memory of one guest node on one host cell.

    Huge pages: free pages of that size (``page_kb`` 0: of any huge
    size), as Nova's ``numa_fit_instance_cell`` checks the cell's
    mempages.  Small pages: the cell's memory when read (Nova checks the
    guest cell against the host cell, not the kernel's free memory), else
    the kernel's free memory.
    """
    if not mem_mb:
        return True
    if page_kb is not None:
        sizes = [page_kb] if page_kb else [
            size for size in cell.free_hugepages if size > 4]
        return any(cell.free_hugepages.get(size, 0) * size >= mem_mb * 1024
                   for size in sizes)
    if cell.memory_mb is not None:
        return cell.memory_mb >= mem_mb
    return cell.free_memory_mb is None or cell.free_memory_mb >= mem_mb


def fit_cells(cells, nodes, cpus, mem_mb, page_kb, shared=0, limits=None):
    """Fit ``nodes`` equal guest cells into distinct host cells.

    Nova (``nova/virt/hardware.py`` ``numa_fit_instance_to_host``) puts
    each guest NUMA node on its own host cell with enough free pinned
    CPUs and memory; the guest nodes are equal here, so counting the host
    cells where one fits is enough.  A cell whose free CPUs are not known
    (None) is not held against the guest: the caller reports that.
    """
    per_cpu = -(-cpus // nodes) if cpus else 0
    per_mem = -(-mem_mb // nodes)
    per_shared = -(-shared // nodes) if shared else 0
    fitting = 0
    for cell in cells:
        if per_cpu and cell.free_cpus is not None \
                and cell.free_cpus < per_cpu:
            continue
        # a floating guest cell needs as many of the cell's shared CPUs
        # (no overcommit of the count: _numa_fit_instance_cell)
        if per_shared and cell.shared_cpus is not None \
                and cell.shared_cpus < per_shared:
            continue
        if not _cell_memory_fits(cell, per_mem, page_kb):
            continue
        if not _within_limits(cell, per_mem, per_shared, page_kb, limits):
            continue
        fitting += 1
    return fitting >= nodes


def page_size_kb(server):
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


@base.depends(lambda server, snapshot: (
    server.numa_nodes, server.dedicated_cpus, server.flavor.vcpus,
    server.flavor.ram, page_size_kb(server)), source=True, dest=True)
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
        return base.ok(rule, _('guest has no NUMA topology'))
    findings = []
    nova = snapshot.cloud.nova
    if nova == mv.STEIN:
        findings.append(base.finding(
            rule, f.BLOCKER,
            _('Stein refuses live migration of NUMA guests by default'),
            _('cold migrate, or set [workarounds]enable_numa_live_migration'),
            (f.LIVE,)))
    elif nova < mv.STEIN:
        findings.append(base.finding(
            rule, f.WARNING,
            _('before Train live migration keeps the guest NUMA pinning '
              'unchanged: the same NUMA cells must be free on the '
              'destination'),
            _('use an empty destination with the same NUMA layout, or cold '
              'migrate'), (f.LIVE,)))
    cells = _cells(dest)
    if cells is None:
        findings.extend(base.unknown(
            rule, _('destination NUMA cells not known: no hypervisor '
                    'cpu_info (compute >= 2.88) and no host-side facts'),
            remedy=_('use --ssh to read the cells on the host')))
        return findings
    if nodes > cells:
        findings.append(base.finding(
            rule, f.BLOCKER,
            _('guest has %(nodes)d NUMA nodes, destination %(cells)d')
            % {'nodes': nodes, 'cells': cells},
            _('choose a destination with at least %d NUMA cells') % nodes))
        return findings
    host_cells = dest.host_side.numa_cells if dest.host_side else ()
    if not host_cells and _empty_twin(source, dest):
        findings.append(base.finding(
            rule, f.OK,
            _('destination has the source\'s NUMA shape and capacity and '
              'runs no guest: the guest cells fit as on the source')))
        return findings
    if not host_cells:
        findings.extend(base.unknown(
            rule, _('%(host)s has %(cells)d NUMA cell(s) for the guest\'s '
                    '%(nodes)d node(s); free CPUs and memory per cell not '
                    'known') % {'host': dest.name, 'cells': cells,
                                'nodes': nodes},
            remedy=_('pass --ssh to read the free CPUs and memory per '
                     'cell of %s') % dest.name))
        return findings
    return findings + _cells_fit(rule, server, dest, host_cells, nodes)


def _limits(dest):
    """(RAM, CPU) allocation ratios of the destination, from Placement."""
    inventory = dest.inventory or {}
    ram, cpu = inventory.get('MEMORY_MB'), inventory.get('VCPU')
    return (ram.allocation_ratio if ram else None,
            cpu.allocation_ratio if cpu else None)


def _cells_fit(rule, server, dest, host_cells, nodes):
    """numa with the destination's cells read (``--ssh``): yes or no.

    Each guest node on a distinct cell with its share of the pinned CPUs
    and of the memory (huge pages of its size), as
    ``numa_fit_instance_to_host`` (Nova Train+; seed 8.3).
    """
    cpus = server.flavor.vcpus if server.dedicated_cpus else 0
    shared = 0 if cpus else server.flavor.vcpus
    page_kb = page_size_kb(server)
    if cpus and any(c.free_cpus is None for c in host_cells):
        unread = ', '.join(dest.host_side.unread) or _('nova.conf')
        return base.unknown(
            rule, _('free dedicated CPUs per NUMA cell of %(host)s not '
                    'known: %(what)s not readable over SSH')
            % {'host': dest.name, 'what': unread},
            remedy=_('let the SSH user read nova.conf and run virsh '
                     '(--ssh-sudo) on %s') % dest.name)
    if not fit_cells(host_cells, nodes, cpus, server.flavor.ram, page_kb,
                     shared, _limits(dest)):
        what = _('%d MB of memory') % -(-server.flavor.ram // nodes)
        if page_kb is not None:
            what = _('%d MB of free huge pages') % -(
                -server.flavor.ram // nodes)
        free = ', '.join(
            _('cell %(id)d: %(cpus)s free dedicated, %(shared)s shared '
              'CPUs, %(mem)s MB (%(used)s MB held by NUMA guests)') % {
                'id': c.id,
                'cpus': '?' if c.free_cpus is None else c.free_cpus,
                'shared': '?' if c.shared_cpus is None else c.shared_cpus,
                'mem': '?' if c.memory_mb is None else c.memory_mb,
                'used': '?' if c.memory_used_mb is None
                else c.memory_used_mb}
            for c in host_cells)
        need = _('%d free dedicated CPUs') % -(-cpus // nodes) if cpus \
            else _('%d shared CPUs') % -(-shared // nodes)
        return [base.finding(
            rule, f.BLOCKER,
            _('no %(nodes)d distinct NUMA cell(s) of %(host)s with '
              '%(need)s and %(what)s each (%(free)s)')
            % {'nodes': nodes, 'host': dest.name, 'need': need,
               'what': what, 'free': free},
            _('free a NUMA cell on the destination or choose another'))]
    return [base.finding(
        rule, f.OK, _('the guest\'s %(nodes)d NUMA node(s) fit distinct '
                      'cells of %(host)s') % {'nodes': nodes,
                                              'host': dest.name})]


def _aggregate_specs(server):
    """``aggregate_instance_extra_specs:*`` of the flavor, sorted."""
    return tuple((key, str(want)) for key, want
                 in sorted(server.flavor.extra_specs.items())
                 if key.startswith('aggregate_instance_extra_specs:'))


def _aggregate_findings(rule, server, dest):
    """AggregateInstanceExtraSpecsFilter (seed 8.2/8.3 ``pinned=true``)."""
    findings = []
    for key, want in _aggregate_specs(server):
        meta_key = key.split(':', 1)[1]
        values = [str(m.get(meta_key)) for _n, m in dest.aggregates
                  if meta_key in m]
        if str(want) not in values:
            findings.append(base.finding(
                rule, f.BLOCKER,
                _('destination is in no aggregate with %(k)s=%(v)s '
                  '(AggregateInstanceExtraSpecsFilter)')
                % {'k': meta_key, 'v': want},
                _('choose a host of the matching aggregate')))
    return findings


def _pcpu_from_placement(rule, server, dest, snapshot):
    """Free ``PCPU`` from Placement's answer (Train+), or None.

    A host found only by the ``VCPU`` fallback question has no free
    ``PCPU``: refused when it reports ``PCPU`` inventory (its dedicated
    CPUs are Placement's), unknown on a host that still pins from
    ``VCPU`` (``vcpu_pin_set``, no ``cpu_dedicated_set``: the per-cell
    free CPUs decide).
    """
    answer, room = placement.answer_room(server, dest, snapshot)
    if answer is None or not answer.pcpu:
        return None
    if room is None or not room.fallback_only:
        return placement.resource_findings(rule, server, dest, snapshot,
                                           ('PCPU',))
    need = answer.amount('PCPU')
    if 'PCPU' in (dest.inventory or {}):
        cap = dest.inventory['PCPU']
        return [base.finding(
            rule, f.BLOCKER,
            _('Placement has no free PCPU for the guest: needs %(need)d, '
              '%(free)d free; only the VCPU fallback question finds the '
              'host, and it reports PCPU inventory')
            % {'need': need, 'free': cap.free},
            _('free dedicated CPUs on the destination or choose another'))]
    free = _free_dedicated(dest)
    if free is not None:
        if free < need:
            return [base.finding(
                rule, f.BLOCKER,
                _('%(host)s pins from VCPU (no PCPU inventory) and has '
                  '%(free)d free dedicated CPUs, the guest needs %(need)d')
                % {'host': dest.name, 'free': free, 'need': need},
                _('free dedicated CPUs on the destination or choose '
                  'another'))]
        return base.ok(rule, _('%(host)s pins from VCPU: %(free)d free '
                               'dedicated CPUs (the numa rule checks '
                               'them per cell)')
                       % {'host': dest.name, 'free': free})
    return base.unknown(
        rule, _('%s pins from VCPU (no PCPU inventory): its free dedicated '
                'CPUs per NUMA cell decide') % dest.name,
        remedy=_('pass --ssh to read the pinned CPUs per cell of %s')
        % dest.name)


def _free_dedicated(dest):
    """Free dedicated CPUs of the host read over SSH, or None."""
    cells = dest.host_side.numa_cells if dest.host_side else ()
    if not cells or any(c.free_cpus is None for c in cells):
        return None
    return sum(c.free_cpus for c in cells)


@base.depends(lambda server, snapshot: (
    server.dedicated_cpus, server.flavor.vcpus, _aggregate_specs(server),
    placement.key(server, snapshot)),
    dest=True)
def pinning(server, source, dest, snapshot):
    """pinning: dedicated CPUs are free on the destination.

    Seed 8.2/8.3 (``hw:cpu_policy=dedicated``; the seed also puts pinned
    hosts in an aggregate matched by
    ``aggregate_instance_extra_specs:pinned=true``, which alone pins
    nothing).  Train+: free ``PCPU`` from Placement's allocation
    candidates (or the ``PCPU`` inventory); before, pinned guests consume
    ``VCPU``.
    """
    rule = 'pinning'
    findings = _aggregate_findings(rule, server, dest)
    if not server.dedicated_cpus:
        if not findings:
            return base.ok(rule, _('guest CPUs are not pinned'))
        return findings
    found = _pcpu_from_placement(rule, server, dest, snapshot)
    if found is not None:
        findings.extend(found)
    elif capacity.pcpu_cloud(snapshot) and dest.inventory is not None:
        found = capacity.resource_check(
            rule, dest, 'PCPU', server.flavor.vcpus,
            _('dedicated CPUs (PCPU)'))
        findings.extend(found)
    elif dest.inventory is not None:
        findings.extend(capacity.resource_check(rule, dest, 'VCPU',
                                                server.flavor.vcpus,
                                                _('pinned vCPUs (VCPU)')))
    else:
        findings.extend(base.unknown(
            rule, _('destination dedicated CPU capacity not known: '
                    'Placement not readable'),
            remedy=_('make Placement reachable for this user (admin)')))
    return findings


@base.depends(lambda server, snapshot: (
    page_size_kb(server), server.numa_nodes, server.flavor.ram), dest=True)
def hugepages(server, source, dest, snapshot):
    """hugepages: the guest's huge pages are free on one destination cell.

    Seed 8.3 (``hw:mem_page_size`` 2MB / 2048 / 1GB).  Free huge pages per
    cell are only visible on the host (--ssh).
    """
    rule = 'hugepages'
    page_kb = page_size_kb(server)
    if page_kb is None:
        return base.ok(rule, _('guest uses small pages'))
    cells = dest.host_side.numa_cells if dest.host_side else ()
    if not cells:
        return base.unknown(
            rule, _('free huge pages per NUMA cell of %s not known: not in '
                    'the API nor in Placement') % dest.name,
            remedy=_('pass --ssh to read them on the host (or run: virsh '
                     'freepages --all on %s)') % dest.name)
    nodes = max(server.numa_nodes, 1)
    sizes = {page_kb} if page_kb else {
        s for c in cells for s in c.free_hugepages if s > 4}
    for size in sorted(sizes):
        if fit_cells(cells, nodes, 0, server.flavor.ram, size):
            return base.ok(rule, _('%(n)d cell(s) with free %(s)d KiB pages')
                           % {'n': nodes, 's': size})
    free = '; '.join(
        _('cell %(id)d: %(pages)s') % {'id': c.id, 'pages': ', '.join(
            '%d x %d KiB' % (n, size)
            for size, n in sorted(c.free_hugepages.items())) or _('none')}
        for c in cells)
    return [base.finding(
        rule, f.BLOCKER,
        _('no %(n)d cell(s) of %(host)s with %(mb)d MB of free huge pages '
          'each (free: %(free)s)')
        % {'n': nodes, 'host': dest.name,
           'mb': -(-server.flavor.ram // nodes), 'free': free},
        _('free huge pages on the destination or choose another'))]
