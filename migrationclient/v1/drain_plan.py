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

"""``compute drain --dry-run``: the capacity plan, through cliff's formatters.

The per-server table is the command's result (one row per server: where
it goes, live / cold, why; for a server that fits nowhere the constraint
that binds on each candidate, column ``Plan``).  With the table formatter
the per-destination table (usage before -> after) follows, then the N+1
headroom line.  With ``-f json`` / ``-f yaml`` the answer is one document
(:func:`document`): the rows under ``servers``, the destinations' usage,
the N+1 headroom and the summary lines; csv / value print the rows (the
summary goes to stderr).
"""

from cliff import columns

from migrationclient._i18n import _

#: formats that print the plan as one document (:func:`document`)
DOCUMENT_FORMATS = ('json', 'yaml')
#: the destination table
DEST_COLUMNS = ('Destination', 'Servers', 'vCPU', 'PCPU', 'RAM (MB)',
                'Disk (GB)')
_RESOURCE_OF = {'vCPU': 'VCPU', 'PCPU': 'PCPU', 'RAM (MB)': 'MEMORY_MB',
                'Disk (GB)': 'DISK_GB'}


class PlacementColumn(columns.FormattableColumn):
    """A server's placement, as a table or json / yaml shows it.

    Table: the binding constraints, one per line (empty when placed);
    json / yaml: the whole placement.
    """

    def human_readable(self):
        if self._value is None:
            return ''
        return '\n'.join(binding_line(b) for b in self._value.bindings)

    def machine_readable(self):
        return self._value.to_dict() if self._value is not None else None


def binding_line(binding):
    """``host: message (rule)`` of one :class:`capacity.Binding`."""
    if binding.rule:
        return '%s: %s (%s)' % (binding.host, binding.message, binding.rule)
    return '%s: %s' % (binding.host, binding.message)


def placement_of(cplan, server_id):
    """The server's :class:`capacity.Placement`, None when not planned."""
    if cplan is None:
        return None
    try:
        return cplan.placement(server_id)
    except KeyError:
        return None


def usage_cell(usage):
    """``12 -> 14 of 64 (18.8% -> 21.9%)`` of one :class:`Usage`."""
    if usage is None:
        return '-'

    def pct(value):
        return '?' if value is None else '%.1f%%' % value
    return '%d -> %d of %d (%s -> %s)' % (
        usage.before, usage.after, usage.capacity, pct(usage.before_pct),
        pct(usage.after_pct))


def destination_rows(cplan):
    """``(columns, rows)`` of the destinations (PCPU only when used)."""
    cols = [c for c in DEST_COLUMNS if c != 'PCPU' or any(
        u.resource == 'PCPU' for d in cplan.destinations for u in d.usage)]
    rows = []
    for dest in cplan.destinations:
        usage = {u.resource: u for u in dest.usage}
        row = []
        for col in cols:
            if col == 'Destination':
                row.append(dest.host)
            elif col == 'Servers':
                row.append(len(dest.servers))
            else:
                row.append(usage_cell(usage.get(_RESOURCE_OF[col])))
        rows.append(tuple(row))
    return tuple(cols), rows


def summary_lines(cplan, scheduler_picks=None):
    """The plan's verdict, the N+1 headroom line, who picks the hosts."""
    placed = sum(1 for p in cplan.placements if p.placed)
    lines = []
    if cplan.feasible:
        lines.append(_('Capacity plan: feasible, %(n)d server(s) on %(d)d '
                       'destination(s)') % {'n': placed,
                                            'd': len(cplan.destinations)})
    else:
        lines.append(_('Capacity plan: NOT feasible, %(n)d of %(t)d '
                       'server(s) fit nowhere (column Plan says what binds '
                       'on each candidate)') % {
            'n': len(cplan.unplaced), 't': len(cplan.placements)})
    if cplan.headroom is not None:
        lines.append(cplan.headroom.message)
    if scheduler_picks:
        lines.append(_('Destinations are the plan\'s forecast: the '
                       'scheduler picks each host (%s)') % scheduler_picks)
    return lines


def emit(formatter, stdout, parsed_args, cplan, scheduler_picks=None):
    """Write the destination table and the summary lines (table format)."""
    if cplan.destinations:
        cols, rows = destination_rows(cplan)
        stdout.write('\n')
        formatter.emit_list(cols, rows, stdout, parsed_args)
    for line in summary_lines(cplan, scheduler_picks):
        stdout.write(line + '\n')


def document(cplan, column_names, rows, scheduler_picks=None,
             selected=None):
    """The dry run as one json / yaml document (a dict).

    ``servers``: the rows (the ``selected`` columns, ``-c``, or every
    column; ``Plan`` is the placement: destination, kind, reason, and for
    a server that fits nowhere the binding constraint per candidate);
    ``destinations``: per receiving host its planned servers and, per
    resource (VCPU or PCPU, MEMORY_MB, DISK_GB), capacity, used before and
    after, and both as % of the capacity; ``headroom``: N+1 after the
    drain (``first_short``: the resource that runs out first;
    ``margins``: per resource the busiest host's use against the others'
    free total); ``summary``: the lines the table prints below it.
    """
    wanted = [c for c in column_names if not selected or c in selected]
    servers = []
    for row in rows:
        one = {}
        for name, value in zip(column_names, row):
            if name in wanted:
                one[name] = (value.machine_readable()
                             if isinstance(value, columns.FormattableColumn)
                             else value)
        servers.append(one)
    doc = cplan.to_dict()
    del doc['placements']           # each server row's Plan
    doc.update(servers=servers, scheduler_picks=scheduler_picks,
               summary=summary_lines(cplan, scheduler_picks))
    return doc
