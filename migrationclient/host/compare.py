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

"""Compare NUMA placements and host topologies (pure, no I/O).

A comparison is a list of :class:`Row` (aspect, before, after, verdict).
Verdicts:

* ``same``: nothing changed;
* ``moved-equivalent``: different cells or CPUs, same shape (what a good
  migration to an identical host gives);
* ``degraded: <reason>``: the placement got worse (the command exits
  :data:`migrationclient.exitcodes.NUMA_DEGRADED`);
* ``differs: <reason>`` (host comparison only): free memory or free pages
  differ; reported, not judged (they change all the time);
* ``info``: context only (host names).
"""

import collections
import dataclasses
import enum

from migrationclient._i18n import _
from migrationclient.host.topology import format_cpuset


class Verdict(enum.Enum):
    """The kinds of verdict; ``value`` is the word the user sees."""

    SAME = 'same'
    EQUIVALENT = 'moved-equivalent'
    DEGRADED = 'degraded'
    DIFFERS = 'differs'
    INFO = 'info'


@dataclasses.dataclass(frozen=True)
class Judgement:
    """A :class:`Verdict` and, for degraded / differs, the reason."""

    kind: Verdict
    reason: str = ''

    def __str__(self):
        if self.reason:
            return '%s: %s' % (self.kind.value, self.reason)
        return self.kind.value


SAME = Judgement(Verdict.SAME)
EQUIVALENT = Judgement(Verdict.EQUIVALENT)
INFO = Judgement(Verdict.INFO)
# Memory per cell within this fraction counts as equal (kernel reserves).
MEMORY_TOLERANCE = 0.02


@dataclasses.dataclass(frozen=True)
class Row:
    aspect: str
    before: str
    after: str
    judgement: Judgement

    @property
    def verdict(self):
        """The verdict as the user sees it (``degraded: <reason>``)."""
        return str(self.judgement)

    @property
    def degraded(self):
        return self.judgement.kind is Verdict.DEGRADED


def degraded(reason):
    return Judgement(Verdict.DEGRADED, reason)


def differs(reason):
    return Judgement(Verdict.DIFFERS, reason)


def is_degraded(rows):
    return any(row.degraded for row in rows)


def _cells_text(cells):
    return format_cpuset(cells) if cells else '-'


def _by_cell(vcpu_cells):
    """``{vcpu: [cells]}`` -> ``'cell 0: vCPU 0-1; cell 1: vCPU 2'``."""
    groups = collections.defaultdict(set)
    for vcpu, cells in vcpu_cells.items():
        groups[tuple(cells)].add(vcpu)
    parts = []
    for cells, vcpus in sorted(groups.items()):
        label = _('cell %s') % _cells_text(cells) if len(cells) < 2 else \
            _('cells %s') % _cells_text(cells)
        parts.append('%s: vCPU %s' % (label, format_cpuset(vcpus)))
    return '; '.join(parts) or '-'


def _pins_text(placement):
    if not placement.pinned:
        return _('floating (%s)') % format_cpuset(
            {c for cpus in placement.vcpu_pins.values() for c in cpus})
    return ' '.join('%d:%s' % (vcpu, format_cpuset(cpus))
                    for vcpu, cpus in sorted(placement.vcpu_pins.items()))


def cell_mapping(before, after):
    """Before-cell -> after-cell map implied by the vCPUs, or None.

    None when the vCPUs do not map one-to-one (a cell's vCPUs split, or
    two cells' vCPUs merged).
    """
    mapping = {}
    for vcpu, cells in before.vcpu_cells.items():
        new = after.vcpu_cells.get(vcpu)
        if new is None or len(cells) != 1 or len(new) != 1:
            return None
        if mapping.setdefault(cells[0], new[0]) != new[0]:
            return None
    if len(set(mapping.values())) != len(mapping):
        return None
    return mapping


def _compare_vcpu_cells(before, after, mapping):
    row = lambda verdict: Row(_('vCPU cells'), _by_cell(before.vcpu_cells),  # noqa
                              _by_cell(after.vcpu_cells), verdict)
    if set(before.vcpu_cells) != set(after.vcpu_cells):
        return row(degraded(_('vCPU count changed from %(b)d to %(a)d') % {
            'b': len(before.vcpu_cells), 'a': len(after.vcpu_cells)}))
    if before.vcpu_cells == after.vcpu_cells:
        return row(SAME)
    if mapping is not None:
        return row(EQUIVALENT)
    wider = [v for v in after.vcpu_cells
             if len(after.vcpu_cells[v]) > len(before.vcpu_cells[v])]
    if wider:
        return row(degraded(_('vCPU %(v)s now spans cells %(c)s') % {
            'v': format_cpuset(wider),
            'c': _cells_text(after.vcpu_cells[wider[0]])}))
    if len(after.cells) > len(before.cells):
        return row(degraded(_('guest split over %(a)d cells (was %(b)d)')
                            % {'a': len(after.cells),
                               'b': len(before.cells)}))
    if len(after.cells) < len(before.cells):
        return row(degraded(_('guest NUMA cells squeezed onto %(a)d host '
                              'cells (were %(b)d)')
                            % {'a': len(after.cells),
                               'b': len(before.cells)}))
    return row(EQUIVALENT)


def _compare_pinning(before, after):
    row = lambda verdict: Row(_('vCPU pinning'), _pins_text(before),  # noqa
                              _pins_text(after), verdict)
    if before.pinned and not after.pinned:
        return row(degraded(_('vCPUs are no longer pinned')))
    if before.vcpu_pins == after.vcpu_pins and before.pinned == after.pinned:
        return row(SAME)
    if after.pinned:
        owners = collections.defaultdict(set)
        for vcpu, cpus in after.vcpu_pins.items():
            for cpu in cpus:
                owners[cpu].add(vcpu)
        shared = {cpu: v for cpu, v in owners.items() if len(v) > 1}
        before_shared = sum(
            1 for cpu in {c for cs in before.vcpu_pins.values() for c in cs}
            if sum(cpu in cs for cs in before.vcpu_pins.values()) > 1)
        if len(shared) > before_shared:
            cpu = min(shared)
            return row(degraded(_('vCPUs %(v)s share CPU %(c)d') % {
                'v': format_cpuset(shared[cpu]), 'c': cpu}))
        for vcpu, cpus in sorted(after.vcpu_pins.items()):
            old = before.vcpu_pins.get(vcpu, [])
            if before.pinned and len(cpus) > len(old):
                return row(degraded(_('vCPU %(v)d may run on %(n)d CPUs '
                                      '(was %(o)d)') % {
                    'v': vcpu, 'n': len(cpus), 'o': len(old)}))
    return row(EQUIVALENT)


def _compare_emulator(before, after, mapping):
    row = lambda verdict: Row(  # noqa: E731
        _('emulator pinning'), format_cpuset(before.emulator_cpus) or '-',
        format_cpuset(after.emulator_cpus) or '-', verdict)
    if before.emulator_cpus == after.emulator_cpus:
        return row(SAME)
    if len(after.emulator_cpus) > len(before.emulator_cpus):
        return row(degraded(_('emulator threads may run on %(a)d CPUs '
                              '(were %(b)d)') % {
            'a': len(after.emulator_cpus), 'b': len(before.emulator_cpus)}))
    return row(EQUIVALENT)


def _compare_memory(before, after, mapping):
    rows = []
    mode_verdict = SAME
    if before.memory_mode != after.memory_mode:
        mode_verdict = degraded(_('memory policy changed'))
    rows.append(Row(_('memory mode'), before.memory_mode or '-',
                    after.memory_mode or '-', mode_verdict))
    old, new = before.memory_nodeset, after.memory_nodeset
    row = lambda verdict: Row(_('memory nodeset'), _cells_text(old),  # noqa
                              _cells_text(new), verdict)
    if old and not new:
        rows.append(row(degraded(_('memory no longer bound to a cell'))))
    elif new and after.cells and not set(after.cells) <= set(new):
        rows.append(row(degraded(_('memory on cell %(m)s, vCPUs on cell '
                                   '%(c)s') % {
            'm': _cells_text(new), 'c': _cells_text(after.cells)})))
    elif old == new and before.host == after.host:
        rows.append(row(SAME))
    elif old == new:
        rows.append(row(SAME if before.cells == after.cells
                        else EQUIVALENT))
    elif mapping is not None and sorted(mapping.get(c, -1)
                                        for c in old) == new:
        rows.append(row(EQUIVALENT))
    elif len(new) > len(old):
        rows.append(row(degraded(_('memory spread over %(a)d cells (was '
                                   '%(b)d)') % {'a': len(new),
                                                'b': len(old)})))
    else:
        rows.append(row(EQUIVALENT))
    return rows


def _compare_pages(before, after):
    text = lambda kib: _('%d KiB') % kib  # noqa: E731
    if before.page_size_kib == after.page_size_kib:
        verdict = SAME
    elif after.page_size_kib < before.page_size_kib:
        verdict = degraded(_('smaller pages (more TLB misses)'))
    else:
        verdict = EQUIVALENT
    return Row(_('page size'), text(before.page_size_kib),
               text(after.page_size_kib), verdict)


def _nic_key(nic):
    return nic.mac or (nic.kind, nic.device)


def _nic_text(nic, placement):
    if nic is None:
        return _('absent')
    cell = _('cell %d') % nic.cell if nic.cell is not None else \
        _('cell unknown')
    return '%s (%s)' % (nic.device or nic.kind, cell)


def _compare_nics(before, after):
    rows = []
    old = {_nic_key(n): n for n in before.nics}
    new = {_nic_key(n): n for n in after.nics}
    for key in list(old) + [k for k in new if k not in old]:
        b, a = old.get(key), new.get(key)
        nic = a or b
        aspect = _('NIC %s') % (nic.mac or nic.device or nic.kind)
        if nic.kind in ('vhostuser', 'bridge', 'network', 'ethernet') \
                and (b is None or b.cell is None) \
                and (a is None or a.cell is None):
            verdict = INFO      # no host device behind it to place
        elif a is None:
            verdict = INFO
        elif b is None:
            verdict = INFO
        elif a.cell is None and b.cell is not None:
            verdict = degraded(_('NUMA node of the device unknown after'))
        elif a.cell is not None and after.cells \
                and a.cell not in after.cells \
                and (b.cell is None or b.cell in before.cells
                     or not before.cells):
            verdict = degraded(_('NIC on cell %(n)d, vCPUs on cell %(c)s')
                               % {'n': a.cell,
                                  'c': _cells_text(after.cells)})
        elif a.cell == b.cell and a.device == b.device \
                and before.host == after.host:
            verdict = SAME
        elif a.cell == b.cell and before.cells == after.cells:
            verdict = SAME
        else:
            verdict = EQUIVALENT
        rows.append(Row(aspect, _nic_text(b, before), _nic_text(a, after),
                        verdict))
    return rows


def _neighbours_text(placement):
    if not placement.neighbours:
        return _('none')
    return ', '.join('%s (cell %s)' % (n.domain, _cells_text(n.cells))
                     for n in placement.neighbours)


def _compare_neighbours(before, after):
    row = lambda verdict: Row(_('pinned neighbours'),  # noqa: E731
                              _neighbours_text(before),
                              _neighbours_text(after), verdict)
    own = set(after.pinned_cpus)
    for neighbour in after.neighbours:
        shared = own & set(neighbour.cpus)
        if shared:
            return row(degraded(_('%(d)s is pinned to the same CPUs %(c)s')
                                % {'d': neighbour.domain,
                                   'c': format_cpuset(shared)}))
    if len(after.neighbours) > len(before.neighbours):
        first = after.neighbours[0]
        return row(degraded(_('%(d)s is pinned on the guest\'s cell %(c)s')
                            % {'d': first.domain,
                               'c': _cells_text(first.cells)}))
    if [n.domain for n in before.neighbours] == \
            [n.domain for n in after.neighbours]:
        return row(SAME)
    return row(EQUIVALENT)


def compare_placements(before, after):
    """Rows comparing two :class:`GuestPlacement` of the same guest."""
    mapping = cell_mapping(before, after)
    rows = [Row(_('host'), before.host, after.host,
                SAME if before.host == after.host else INFO),
            _compare_vcpu_cells(before, after, mapping),
            _compare_pinning(before, after),
            _compare_emulator(before, after, mapping)]
    rows += _compare_memory(before, after, mapping)
    rows.append(_compare_pages(before, after))
    rows.append(Row(_('CPU mode'), before.cpu_mode or '-',
                    after.cpu_mode or '-',
                    SAME if before.cpu_mode == after.cpu_mode
                    else degraded(_('CPU mode changed'))))
    rows += _compare_nics(before, after)
    rows.append(_compare_neighbours(before, after))
    return rows


def describe_placement(placement):
    """Rows describing one placement (``--save`` output): aspect, value."""
    rows = [(_('host'), placement.host), (_('domain'), placement.domain),
            (_('vCPU cells'), _by_cell(placement.vcpu_cells)),
            (_('vCPU pinning'), _pins_text(placement)),
            (_('emulator pinning'),
             format_cpuset(placement.emulator_cpus) or '-'),
            (_('memory mode'), placement.memory_mode or '-'),
            (_('memory nodeset'), _cells_text(placement.memory_nodeset)),
            (_('page size'), _('%d KiB') % placement.page_size_kib),
            (_('CPU mode'), placement.cpu_mode or '-')]
    for nic in placement.nics:
        rows.append((_('NIC %s') % (nic.mac or nic.device or nic.kind),
                     _nic_text(nic, placement)))
    rows.append((_('pinned neighbours'), _neighbours_text(placement)))
    return rows


def crosscheck_nova_topology(placement, nova):
    """Row checking the SSH view against ``GET /servers/{id}/topology``.

    Returns None when nova shows no host placement (non-admin view).
    """
    nodes = nova.get('nodes') or []
    if not any('host_node' in n or 'cpu_pinning' in n for n in nodes):
        return None
    problems = []
    nova_cells = set()
    for node in nodes:
        if node.get('host_node') is not None:
            nova_cells.add(int(node['host_node']))
        for vcpu, cpu in (node.get('cpu_pinning') or {}).items():
            actual = placement.vcpu_pins.get(int(vcpu))
            if actual is not None and actual != [int(cpu)]:
                problems.append(_('vCPU %(v)s on CPU %(n)s per nova, %(a)s '
                                  'on the host') % {
                    'v': vcpu, 'n': cpu, 'a': format_cpuset(actual)})
    if nova_cells and placement.cells and \
            nova_cells != set(placement.cells):
        problems.append(_('cells %(n)s per nova, %(a)s on the host') % {
            'n': _cells_text(nova_cells), 'a': _cells_text(placement.cells)})
    page = nova.get('pagesize_kb')
    if page and int(page) != placement.page_size_kib:
        problems.append(_('page size %(n)s KiB per nova, %(a)s KiB on the '
                          'host') % {'n': page, 'a': placement.page_size_kib})
    return Row(_('nova topology'), _('cells %s') % _cells_text(nova_cells),
               _('cells %s') % _cells_text(placement.cells),
               degraded('; '.join(problems)) if problems else SAME)


def _within(a, b, tolerance=MEMORY_TOLERANCE):
    return abs(a - b) <= tolerance * max(a, b, 1)


def compare_hosts(a, b):
    """Rows comparing two :class:`HostTopology` (``a`` = before)."""
    rows = []
    same_count = len(a.cells) == len(b.cells)
    rows.append(Row(_('host'), a.host, b.host, INFO))
    rows.append(Row(_('NUMA cells'), str(len(a.cells)), str(len(b.cells)),
                    SAME if same_count else degraded(_('cell count differs'))))
    cells_b = {c.id: c for c in b.cells}
    for ca in a.cells:
        cb = cells_b.get(ca.id)
        if cb is None:
            rows.append(Row(_('cell %d') % ca.id, _('present'), _('absent'),
                            degraded(_('no cell %d') % ca.id)))
            continue
        rows.extend(_compare_cell(ca, cb))
    for cb in b.cells:
        if cb.id not in {c.id for c in a.cells}:
            rows.append(Row(_('cell %d') % cb.id, _('absent'), _('present'),
                            degraded(_('extra cell %d') % cb.id)))
    sizes_a, sizes_b = set(a.page_sizes_kib), set(b.page_sizes_kib)
    rows.append(Row(_('page sizes'),
                    ' '.join('%dK' % s for s in sorted(sizes_a)),
                    ' '.join('%dK' % s for s in sorted(sizes_b)),
                    SAME if sizes_a == sizes_b else degraded(
                        _('missing %s') % ' '.join(
                            '%dK' % s for s in sorted(sizes_a - sizes_b)))
                    if sizes_a - sizes_b else EQUIVALENT))
    for name in sorted(set(a.nics) | set(b.nics)):
        na, nb = a.nics.get(name), b.nics.get(name)
        text = lambda n: _('absent') if n is None else _('cell %d') % n  # noqa
        if na == nb:
            verdict = SAME
        elif nb is None:
            verdict = degraded(_('%s missing') % name)
        elif na is None:
            verdict = EQUIVALENT
        else:
            verdict = degraded(_('%(n)s on cell %(b)d, not %(a)d') % {
                'n': name, 'b': nb, 'a': na})
        rows.append(Row(_('NIC %s') % name, text(na), text(nb), verdict))
    return rows


def _compare_cell(ca, cb):
    rows = []
    label = _('cell %d') % ca.id
    if ca.cpus == cb.cpus:
        verdict = SAME
    elif len(ca.cpus) == len(cb.cpus):
        verdict = EQUIVALENT
    else:
        verdict = degraded(_('%(b)d CPUs instead of %(a)d') % {
            'a': len(ca.cpus), 'b': len(cb.cpus)})
    rows.append(Row(_('%s CPUs') % label,
                    '%d (%s)' % (len(ca.cpus), format_cpuset(ca.cpus)),
                    '%d (%s)' % (len(cb.cpus), format_cpuset(cb.cpus)),
                    verdict))
    mib = lambda kib: _('%d MiB') % (kib // 1024)  # noqa: E731
    if _within(ca.memory_kib, cb.memory_kib):
        verdict = SAME
    elif cb.memory_kib < ca.memory_kib:
        verdict = degraded(_('less memory'))
    else:
        verdict = EQUIVALENT
    rows.append(Row(_('%s memory') % label, mib(ca.memory_kib),
                    mib(cb.memory_kib), verdict))
    if ca.free_memory_kib is not None or cb.free_memory_kib is not None:
        fa, fb = ca.free_memory_kib, cb.free_memory_kib
        verdict = SAME if fa == fb else differs(
            _('free memory (not topology)'))
        rows.append(Row(_('%s free memory') % label,
                        mib(fa) if fa is not None else '-',
                        mib(fb) if fb is not None else '-', verdict))
    for size in sorted(set(ca.pages_total) | set(cb.pages_total)):
        ta, tb = ca.pages_total.get(size), cb.pages_total.get(size)
        fa, fb = ca.pages_free.get(size), cb.pages_free.get(size)
        if not ta and not tb:
            continue            # no pages of that size on either host
        if ta == tb and fa == fb:
            verdict = SAME
        elif tb is None or (ta or 0) > tb:
            verdict = degraded(_('fewer %d KiB pages') % size)
        elif ta == tb:
            verdict = differs(_('free pages (not topology)'))
        else:
            verdict = EQUIVALENT
        text = lambda t, f: '-' if t is None else _(  # noqa: E731
            '%(f)s free of %(t)d') % {'f': '?' if f is None else f, 't': t}
        rows.append(Row(_('%(c)s %(s)d KiB pages') % {'c': label, 's': size},
                        text(ta, fa), text(tb, fb), verdict))
    return rows
