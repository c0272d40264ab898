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

"""The capacity plan of a drain: every moving server on a host that stays.

Pure (no I/O).  Input: a constraints
:class:`~migrationclient.constraints.model.Snapshot`, the hosts being
drained (one or many), the servers that move (with the migration kinds the
drain allows each) and optional restrictions (target hosts, an
aggregate)::

    from migrationclient.engine import capacity

    result = capacity.plan_capacity(
        snapshot, drained=['compute1', 'compute2'],
        servers={server_id: ('live', 'cold'), ...},   # default: every
        targets=None, aggregate=None)                 # server on them
    result.feasible                  # every server placed
    result.placements                # Placement per server, plan order
    result.destinations              # HostUsage per receiving host
    result.headroom                  # Headroom: N+1 after the drain
    result.to_dict()                 # JSON-serialisable

How it places:

* Units in order of size, largest first: a server, or the moving members
  of a hard ``affinity`` group (placed together on one host).  Size is the
  largest share of the candidates' total capacity the unit takes, of any
  resource (ties: name, id).
* Candidates: the enabled hosts that are not drained (and in
  ``targets`` / ``aggregate`` when given).  Numeric fit first (placement
  ``Capacity.fits`` of :func:`migrationclient.constraints.debit.needs`),
  in best-fit order on the unit's scarcest resource (the largest share of
  the candidates' free total), ties by host name; hosts whose placement
  inventory is unknown come last, by name.
* The first candidate, in that order, where the constraint rules (the
  ones ``migration precheck`` runs, :data:`migrationclient.constraints.
  rules.RULES`) allow a migration wins: live is preferred (a host allowing
  only cold is taken when none of the next :data:`LIVE_LOOKAHEAD`
  candidates allows live).  The rules read the facts as debited by the
  earlier placements (:mod:`migrationclient.constraints.debit`): capacity,
  NUMA cells and huge pages when known, server group member hosts.
* Rule results are cached per rule, the rule's ``@depends`` key and the
  hosts it reads, and invalidated when one of those hosts (or a server
  group of the server) is debited: a rule runs about once per flavor shape
  and host state, not once per pair.

A server that fits nowhere gets, for each candidate, what binds there:
the resource that is short (numbers) or the blocking rules (id and
message); a blocker that does not depend on the host (server state, ...)
is given once, for host ``*``.

Modules: :mod:`.model` (the result dataclasses), :mod:`.planner` (placing,
N+1 headroom), :mod:`.cache` (the rules on debited facts, cached); the
debits themselves are :mod:`migrationclient.constraints.debit`.
"""

import dataclasses
import gc

from migrationclient.constraints import debit as dbt
from migrationclient.constraints import evaluate as cengine
from migrationclient.engine.capacity.model import ALL_HOSTS  # noqa: F401
from migrationclient.engine.capacity.model import Binding  # noqa: F401
from migrationclient.engine.capacity.model import CapacityPlan
from migrationclient.engine.capacity.model import COLD
from migrationclient.engine.capacity.model import Headroom  # noqa: F401
from migrationclient.engine.capacity.model import HostUsage  # noqa: F401
from migrationclient.engine.capacity.model import LIVE
from migrationclient.engine.capacity.model import Margin  # noqa: F401
from migrationclient.engine.capacity.model import Placement  # noqa: F401
from migrationclient.engine.capacity.model import RESOURCES  # noqa: F401
from migrationclient.engine.capacity.model import Usage  # noqa: F401
from migrationclient.engine.capacity import planner as _planner


def plan_capacity(snapshot, drained, servers=None, kinds=(LIVE, COLD),
                  targets=None, aggregate=None, headroom=True):
    """Place every moving server of a drain on the hosts that stay.

    :param snapshot: :class:`~migrationclient.constraints.model.Snapshot`
        with the drained hosts, the candidates and the moving servers.
    :param drained: host names being drained (never a destination).
    :param servers: the moving servers: ``None`` (every server of the
        snapshot on a drained host), an iterable of ids, or a mapping of
        id to the kinds (``'live'``, ``'cold'``) the drain allows for it.
    :param kinds: kinds for servers given without their own.
    :param targets: host names the servers may go to (default: every
        enabled host that is not drained).
    :param aggregate: an aggregate name the destinations must be in.
    :param headroom: compute the N+1 headroom.
    :returns: :class:`CapacityPlan`.
    """
    drained = tuple(sorted(set(drained)))
    if servers is None:
        moving = {sid: tuple(kinds) for sid, s in snapshot.servers.items()
                  if s.host in drained}
    elif isinstance(servers, dict):
        moving = {sid: tuple(k) for sid, k in servers.items()}
    else:
        moving = {sid: tuple(kinds) for sid in servers}
    # The plan allocates many small objects and frees none until the end:
    # the cyclic collector's passes would only re-scan them.
    collecting = gc.isenabled()
    gc.disable()
    try:
        planner = _planner.Planner(snapshot, drained, moving, targets,
                                   aggregate)
        planner.run()
        plan = CapacityPlan(
            drained, tuple(planner.placements), planner.usage_table(),
            planner.headroom() if headroom else None,
            {name: planner.hosts[name] for name in planner.remaining})
        # the rule cache and its planner refer to each other: without
        # that cycle both go now, by reference counting, instead of
        # waiting for the collector's next pass
        planner.rules = None
        del planner
        return plan
    finally:
        if collecting:
            gc.enable()


def replay(snapshot, plan):
    """Check a plan with the plain rule engine: the placements it refuses.

    Replays ``plan`` in order on ``snapshot``: each placement is evaluated
    by :func:`migrationclient.constraints.evaluate.evaluate` on the facts
    debited by the earlier ones (:func:`migrationclient.constraints.
    debit.debit`; the members of an affinity unit are on its destination
    from the first one on).  Returns ``[(Placement, Evaluation)]`` of the
    placements whose kind is not allowed (empty: every one passes).
    """
    failures = []
    grouped = set()
    for p in plan.placements:
        if not p.placed:
            continue
        if p.group and p.group not in grouped:
            grouped.add(p.group)
            groups = snapshot.groups
            for q in plan.placements:
                if q.group == p.group and q.placed:
                    groups = dbt.regroup(groups, q.server_id, q.destination)
            snapshot = dataclasses.replace(snapshot, groups=groups)
        ev = cengine.evaluate(snapshot, p.server_id, p.destination,
                              (p.kind,))
        if not ev.verdict(p.kind).allowed:
            failures.append((p, ev))
        snapshot = dbt.debit(snapshot, snapshot.servers[p.server_id],
                             p.destination)
    return failures
