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

"""Spread within a feasible plan: a busy planned host need not be waited for.

The capacity plan packs best fit, so it may put many servers on one
destination; with ``--max-per-target`` they would then move one after
another while other destinations sit idle.  When a pending server's
planned host has no free per-target slot but its source has a free slot,
:class:`Spreader` tries to give the server one of the hosts that do have a
free target slot, *without making the rest of the plan infeasible*: on
the snapshot the plan was made from (in memory: no cloud read), the
servers still waiting keep the room the plan counts on at their planned
hosts and the servers moved (or moving) since the drain started take
theirs at their destinations (:func:`migrationclient.constraints.debit.
debit`, the re-planner's idea, :mod:`.replan`); the server alone is then
placed on the free hosts (:func:`migrationclient.engine.capacity.
plan_capacity`) with its own kind only (a live migration stays live).

At most one try per server and poll cycle, none while no host has a free
target slot, none again while nothing changed since a try that found no
host.  Deterministic (hosts in name order, the planner's best fit).
Nothing to do with ``--max-per-target 0`` or a cloud too old to name a
host (the scheduler picks).  A spread is an event and an entry of the
server's ``replanned`` list with ``'spread': True`` (not counted against
:data:`.replan.MAX_REPLANS`).
"""

from migrationclient._i18n import _
from migrationclient.constraints import debit as dbt
from migrationclient.engine import capacity
from migrationclient.engine.drain import model


class Spreader:
    """Spread the pending servers of one :class:`~.run.Drain`."""

    def __init__(self, drain):
        self.drain = drain
        # Servers that move during this run: the snapshot (read before
        # the run) does not hold them on their destination yet.
        self._moving = {i.id for i in drain.items
                        if i.state == model.PENDING}
        self._tried = {}        # item id -> cycle of its last try
        self._nothing = {}      # item id -> signature of a try that failed

    def spread(self, item, can_name, services=None):
        """Move ``item`` to a free host keeping the plan; True when moved.

        ``can_name``: the cloud names a host for this move; ``services``:
        the submitter's last ``(known hosts, {host: why unusable})``
        view, or None (no new read here).
        """
        drain = self.drain
        rp = drain.replanner
        slots = drain.slots
        if (rp is None or rp.snapshot is None or not can_name or
                not slots.max_per_target or drain.stop_reason is not None
                or not rp.follows(item) or slots.target_free(item.planned)
                or not slots.source_free(item.original_host,
                                         item.action == model.LIVE) or
                self._tried.get(item.id) == drain.cycle):
            return False
        free = self._free_hosts(item, rp, services)
        if not free:
            return False
        self._tried[item.id] = drain.cycle
        sign = self._signature(free)
        if self._nothing.get(item.id) == sign:
            return False
        placement = self._place(item, rp, free)
        if placement is None:
            self._nothing[item.id] = sign
            return False
        self._moved(item, placement)
        return True

    def _free_hosts(self, item, rp, services):
        """Hosts with a free target slot ``item`` may go to, by name."""
        drain = self.drain
        allowed = set(drain.dest_hosts)
        if drain.options.target_hosts:
            allowed &= set(drain.options.target_hosts)
        unusable = services[1] if services else {}
        skip = set(item.excluded) | set(rp.drained) | {
            item.original_host, item.planned}
        return sorted(h for h in allowed
                      if h not in skip and h not in unusable and
                      h in rp.snapshot.hosts and drain.slots.target_free(h))

    def _signature(self, free):
        """What a failed try depends on: the free hosts, the others."""
        return (tuple(free), tuple(
            (i.id, str(i.state), i.planned, i.destination, i.final_host)
            for i in self.drain.items if i.id in self._moving))

    def _place(self, item, rp, free):
        """The item's placement on ``free`` keeping the plan, or None."""
        snap = rp.snapshot
        if item.id not in snap.servers:
            return None
        for other in self.drain.items:
            if other.id == item.id or other.id not in self._moving:
                continue
            if other.state == model.PENDING:
                host = other.planned       # keeps the room it counts on
            elif other.state in model.IN_FLIGHT:
                host = other.destination or other.planned
            elif other.state in model.MOVED:
                host = other.final_host or other.destination
            else:
                continue
            server = rp.snapshot.servers.get(other.id)
            if server is None or host not in snap.hosts:
                continue
            snap = dbt.debit(snap, server, host)
        kind = str(item.action)
        result = capacity.plan_capacity(
            snap, drained=list(rp.drained), servers={item.id: (kind,)},
            targets=list(free), headroom=False)
        placement = next((p for p in result.placements
                          if p.server_id == item.id), None)
        if placement is None or not placement.placed or \
                placement.kind != kind or placement.destination not in free:
            return None
        return placement

    def _moved(self, item, placement):
        old, new = item.planned, placement.destination
        why = _('spread: planned host %(old)s busy, %(new)s keeps the plan '
                'feasible') % {'old': old, 'new': new}
        item.planned = new
        item.candidates = (new,)
        # the reason named the first plan's host: say where it goes now
        item.reason = _('%(reason)s; then %(why)s') % {
            'reason': item.reason, 'why': why} if item.reason else why
        item.replanned.append({'why': why, 'from': old, 'to': new,
                               'spread': True})
        self.drain.event(item, _('%(why)s: %(kind)s to %(new)s (%(reason)s)'
                                 ) % {'why': why, 'kind': placement.kind,
                                      'new': new,
                                      'reason': placement.reason})
