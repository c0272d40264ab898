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

"""The drain's capacity plan: one plan for every host drained together.

Before anything is touched, a :class:`~.job.Job` reads the constraint facts
of each source host (:func:`gather`, the same
:func:`migrationclient.cloud.gather.gather` the per-server checks use),
merges them into one snapshot (:func:`merge`) and places every server that
moves on the hosts that stay with :func:`migrationclient.engine.capacity.
plan_capacity` (:func:`capacity_plan`): the hosts drained together share
one pool, and the servers of one are debited before the next.

:func:`apply` writes the plan into the items: the planned destination
(``Item.planned``), the kind, the reason; a server the plan places nowhere
is ``skipped`` (``no_destination``) with the constraint that binds on each
candidate, and :func:`gate` refuses the drain
(:class:`PlanInfeasible`, exit status :data:`exitcodes.
DRAIN_PLAN_INFEASIBLE`) unless ``--allow-partial``.

The drain follows the plan (:func:`follows`): the planned host is the
server's one candidate, named in the request (Nova's scheduler still
checks it; never forced).  With ``--max-per-target 0``, or a cloud too old
to name a host for the move (:func:`.policy.can_name_host`), the plan is
computed and shown but the scheduler picks.  Re-planning one server when
Nova refuses it or its destination became unusable is
:mod:`.replan`.
"""

import dataclasses

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.constraints import evaluate as cengine
from migrationclient.engine import capacity
from migrationclient.engine.drain import model
from migrationclient.engine.drain.model import COLD
from migrationclient.engine.drain.model import DrainError
from migrationclient.engine.drain.model import LIVE
from migrationclient.engine.drain import policy
from migrationclient.engine import precheck
from migrationclient import exitcodes

#: candidates named in a server's reason when it fits nowhere (the plan
#: in the report and ``--dry-run`` gives all of them)
REASON_BINDINGS = 4


class PlanInfeasible(DrainError):
    """The capacity plan cannot place every server: nothing was changed.

    ``exit_status``: :data:`exitcodes.DRAIN_PLAN_INFEASIBLE`; ``blocked``:
    the items placed nowhere.
    """

    exit_status = exitcodes.DRAIN_PLAN_INFEASIBLE

    def __init__(self, message, blocked=()):
        super().__init__(message)
        self.blocked = list(blocked)


def merge(snapshots):
    """One :class:`~migrationclient.constraints.model.Snapshot` of many.

    ``snapshots``: one per source host, each with every host of the cloud
    and the servers (and their groups) of its source.  A host's facts are
    taken from the snapshot that read its placement inventory, when one
    did; notes are kept once each.
    """
    snapshots = list(snapshots)
    if not snapshots:
        return None
    first = snapshots[0]
    hosts, servers, groups, notes = {}, {}, {}, []
    for snap in snapshots:
        for name, host in snap.hosts.items():
            known = hosts.get(name)
            if known is None or (known.inventory is None and
                                 host.inventory is not None):
                hosts[name] = host
        servers.update(snap.servers)
        groups.update(snap.groups)
        for note in snap.cloud.notes:
            if note not in notes:
                notes.append(note)
    cloud = dataclasses.replace(first.cloud, notes=tuple(notes))
    return dataclasses.replace(first, cloud=cloud, hosts=hosts,
                               servers=servers, groups=groups)


def gather(job, servers):
    """The constraint library's moves and the merged snapshot.

    Reads the facts of each source host once (the destinations are
    ``job.dest_hosts``) and evaluates each movable server on them
    (:func:`migrationclient.constraints.evaluate.plan`).  Returns
    ``({server id: Move}, Snapshot or None)``.
    """
    movable = [s for s in servers if policy.movable(s, job.options)]
    if not movable:
        return {}, None
    if not job.dest_hosts:
        why = _('no enabled and up nova-compute host to move to')
        return {s.id: cengine.Move(s.id, None, None, None, (), why)
                for s in movable}, None
    moves, snapshots = {}, {}
    by_host = {}
    for s in movable:
        by_host.setdefault(s.host, []).append(s)
    for host in sorted(by_host):
        try:
            gathered = job.actions.gather(
                source_host=host, destinations=list(job.dest_hosts))
        except errors.CloudError as exc:
            raise DrainError(str(exc))
        job.notes.extend(n for n in gathered.snapshot.cloud.notes
                         if n not in job.notes)
        snapshots[host] = gathered.snapshot
    snapshots = with_host_facts(snapshots, job)
    for host, group in sorted(by_host.items()):
        snapshot = snapshots[host]
        for kinds in (('live', 'cold'), ('cold',)):
            ids = [s.id for s in group
                   if policy.kinds_for(s, job.options) == kinds and
                   s.id in snapshot.servers]
            if not ids:
                continue
            for move in cengine.plan(snapshot, ids,
                                     destinations=list(job.dest_hosts),
                                     kinds=kinds):
                moves[move.server_id] = move
    return moves, merge(snapshots.values())


def with_host_facts(snapshots, job):
    """``snapshots`` (source host -> Snapshot) with the hosts' own facts.

    ``compute drain --ssh`` (``job.ssh_options``): the drained hosts and
    every destination are read once over SSH, as ``migration precheck
    --ssh`` reads them (:func:`migrationclient.engine.precheck
    .read_side_facts`: free pinnable CPUs, memory and huge pages per
    cell, free PCI devices and VFs, nova.conf, the guests' domain XML),
    so that the moves and the capacity plan rest on the same facts as
    the precheck's verdicts; the nova.conf files read go to
    ``job.host_confs`` (the live limits take them from there), and
    ``job.ssh_reach`` is ``(tried, read)``: the compute hosts SSH was to
    read and those it did read (``compute drain --ssh`` refuses when it
    read none).  Without --ssh: unchanged.
    """
    ssh_options = getattr(job, 'ssh_options', None)
    if ssh_options is None or not snapshots:
        return snapshots
    merged = merge(snapshots.values())
    hosts, guests, notes = precheck.read_side_facts(
        merged, sorted(merged.servers), list(job.dest_hosts), ssh_options,
        confs=job.host_confs)
    job.notes.extend(n for n in notes if n not in job.notes)
    tried = set(job.dest_hosts) | {
        s.host for s in merged.servers.values() if s.host in merged.hosts}
    job.ssh_reach = (tuple(sorted(tried)), tuple(sorted(hosts)))
    return {name: snap.with_side_facts(hosts, guests)
            for name, snap in snapshots.items()}


def none_read(job):
    """The hosts --ssh was to read when it read none of them, else ().

    ``compute drain --ssh`` and the Ansible ``compute_drain`` refuse then
    (nothing changed) unless asked to drain on the API facts alone.
    """
    tried, read = getattr(job, 'ssh_reach', ((), ()))
    return tried if tried and not read else ()


def to_plan(items, snapshot, options):
    """``{server id: kinds}`` of the items the capacity plan places."""
    out = {}
    for item in items:
        if item.id not in snapshot.servers:
            continue
        planned = (item.state == model.PENDING and
                   item.action in (LIVE, COLD))
        if planned or (item.state == model.SKIPPED and item.no_destination):
            status = item.original_status
            kinds = policy.state_kinds(status)
            out[item.id] = tuple(
                str(k) for k in (LIVE, COLD)
                if k in kinds and not (k == LIVE and options.no_live))
            if not out[item.id]:
                del out[item.id]
    return out


def capacity_plan(snapshot, drained, items, options, targets):
    """The :class:`~migrationclient.engine.capacity.CapacityPlan` of a drain.

    ``targets``: the drain's destinations (usable hosts, or the
    operator's ``--target-host`` / ``--target-aggregate``).
    """
    return capacity.plan_capacity(
        snapshot, drained=list(drained),
        servers=to_plan(items, snapshot, options),
        targets=list(targets))


def follows(options, can_name, action):
    """True when the drain names the planned host for ``action``."""
    return bool(options.max_per_target) and can_name(action)


def bindings_text(placement, limit=REASON_BINDINGS):
    """What binds on the candidates of a server placed nowhere (a line)."""
    parts = ['%s: %s' % (b.host, b.message if b.rule is None
                         else '%s (%s)' % (b.message, b.rule))
             for b in placement.bindings]
    more = len(parts) - limit
    parts = parts[:limit]
    if more > 0:
        parts.append(_('%d more candidate(s)') % more)
    return '; '.join(parts) or _('no candidate')


def apply(items, cplan, options, can_name):
    """Write the plan into the items (destination, kind, reason).

    Returns the items placed nowhere (now ``skipped``, ``no_destination``).
    """
    by_id = {p.server_id: p for p in cplan.placements}
    blocked = []
    for item in items:
        p = by_id.get(item.id)
        if p is None:
            continue
        if not p.placed:
            why = _('the capacity plan fits it nowhere: %s') % (
                bindings_text(p))
            if item.state == model.SKIPPED and item.no_destination:
                item.reason = '%s; %s' % (item.reason, why)
            else:
                item.state = model.SKIPPED
                item.action = model.SKIP
                item.no_destination = True
                item.reason = why
            blocked.append(item)
            continue
        if item.state != model.PENDING:
            continue
        kind = LIVE if p.kind == 'live' else COLD
        if kind != item.action:
            item.action = kind
            item.reason = (_('the plan: cold migration, the guest '
                             'restarts') if kind == COLD
                           else _('the plan: live migration'))
        item.planned = p.destination
        if follows(options, can_name, kind):
            item.candidates = (p.destination,)
            item.reason = _('%(reason)s; plan: %(dest)s, %(why)s') % {
                'reason': item.reason, 'dest': p.destination,
                'why': p.reason}
        else:
            item.reason = _('%(reason)s; plan: %(dest)s (%(why)s), the '
                            'scheduler picks: %(because)s') % {
                'reason': item.reason, 'dest': p.destination,
                'why': p.reason, 'because': scheduler_picks(
                    options, can_name, kind)}
    return blocked


def scheduler_picks(options, can_name, action):
    """Why the drain leaves the destination to the scheduler."""
    if not can_name(action):
        return _('the cloud cannot name a host for a %s migration (compute '
                 'API too old)') % action
    return _('--max-per-target 0')


def gate(items, options):
    """Refuse a drain whose servers cannot all be placed.

    Raises :class:`PlanInfeasible` naming them, unless ``--allow-partial``
    (then they are skipped and reported).
    """
    blocked = [i for i in items if i.no_destination]
    if blocked and not options.allow_partial:
        lines = '; '.join('%s (%s): %s' % (i.name or i.id, i.id, i.reason)
                          for i in blocked)
        raise PlanInfeasible(
            _('The plan cannot place %(n)d server(s): %(lines)s. Nothing '
              'was changed; use --allow-partial to drain the rest (exit '
              'status %(status)d).') % {
                'n': len(blocked), 'lines': lines,
                'status': exitcodes.DRAIN_PLAN_INFEASIBLE}, blocked)
