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

"""The drain policy: what happens to each server, and where it may go.

Pure: no cloud call.  Which states can go live or cold is the constraint
library's state rule (:func:`migrationclient.constraints.rules.state`),
not a copy of it.
"""

import functools
import types

from migrationclient._i18n import _
from migrationclient.constraints import rules
from migrationclient.engine.drain import claim
from migrationclient.engine.drain import model
from migrationclient.engine.drain.model import COLD
from migrationclient.engine.drain.model import Item
from migrationclient.engine.drain.model import LIVE
from migrationclient.engine.drain.model import NONE
from migrationclient.engine.drain.model import SKIP
from migrationclient import microversions as mv


@functools.lru_cache(maxsize=None)
def state_kinds(status):
    """The kinds of move (``'live'``, ``'cold'``) ``status`` allows.

    Asks the constraint library's state rule about a server in
    ``status`` with no task running.
    """
    server = types.SimpleNamespace(status=status, vm_state=None,
                                   task_state=None, locked=False)
    findings = rules.state(server, None, None, None)
    return tuple(kind for kind in (LIVE, COLD)
                 if not any(f.blocks(str(kind)) for f in findings))


def plan_server(server, move, options):
    """Decide what the drain does with one server: an :class:`Item`.

    :param server: :class:`ServerInfo`
    :param move: the constraint library's ``Move`` for this server
        (:func:`migrationclient.constraints.evaluate.plan`: ``kind`` live /
        cold / None, ``candidates`` allowed destinations, ``reason`` why
        none), or None when it was not evaluated (state alone decides and
        the scheduler checks every destination).
    """
    item = Item(id=server.id, name=server.name,
                project_id=server.project_id, original_host=server.host,
                original_status=server.status, action=SKIP)
    status = server.status
    kinds = state_kinds(status)
    if status == 'SHELVED_OFFLOADED':
        item.action, item.state = NONE, model.NOTHING
        item.reason = _('shelved offloaded: nothing on the host')
        return item
    if server.task_state:
        item.state = model.SKIPPED
        item.reason = _('task in progress (%s): wait for it, then run the '
                        'drain again') % server.task_state
        return item
    if status == 'ERROR':
        item.state = model.SKIPPED
        item.reason = _('server is in ERROR: check it and reset its state, '
                        'then run the drain again')
        return item
    if not kinds:
        item.state = model.SKIPPED
        item.reason = _('status %s cannot be migrated (live needs ACTIVE '
                        'or PAUSED, cold ACTIVE or SHUTOFF)') % status
        return item
    if move is None:
        if LIVE in kinds and not options.no_live:
            item.action = LIVE
            item.reason = _('%s: live migration') % status
        elif COLD in kinds:
            item.action = COLD
            item.reason = (_('SHUTOFF: cold migration') if status ==
                           'SHUTOFF' else _('--no-live: cold migration, '
                                            'the guest restarts'))
        else:
            item.state = model.SKIPPED
            item.reason = _('%s: live migration excluded by --no-live, '
                            'cold needs ACTIVE or SHUTOFF') % status
        return item
    if move.kind is None:
        item.state = model.SKIPPED
        item.no_destination = True
        item.reason = _('no destination can take it: %s') % (
            move.reason or _('no allowed destination'))
        return item
    item.action = LIVE if move.kind == 'live' else COLD
    item.candidates = tuple(move.candidates) or None
    if item.action == LIVE:
        item.reason = _('%s: live migration') % status
    elif status == 'SHUTOFF':
        item.reason = _('SHUTOFF: cold migration')
    elif options.no_live:
        item.reason = _('--no-live: cold migration, the guest restarts')
    else:
        item.reason = _('cannot go live: cold migration, the guest '
                        'restarts')
    return item


def plan(servers, moves, options):
    """Plan every server: a list of :class:`Item`, in a stable order.

    :param moves: ``{server id: Move}`` from the constraint library.
    Live migrations first (their guests keep running), then cold ones,
    then what is not moved; by name within each group.
    """
    items = [plan_server(s, moves.get(s.id), options) for s in servers]
    order = {LIVE: 0, COLD: 1, SKIP: 2, NONE: 3}
    items.sort(key=lambda i: (order[i.action], i.name, i.id))
    return items


def kinds_for(server, options):
    """Migration types the constraint library may choose for ``server``."""
    if LIVE in state_kinds(server.status) and not options.no_live:
        return ('live', 'cold')
    return ('cold',)


def movable(server, options):
    """True when the state rule lets ``server`` move as ``options`` say."""
    kinds = state_kinds(server.status)
    return not server.task_state and (
        COLD in kinds or (LIVE in kinds and not options.no_live))


def can_name_host(version, action):
    """True when a destination host can be named for ``action``.

    Live: from 2.30 the scheduler checks a named host (below it would be
    forced, which the drain never does).  Cold: from 2.56.
    """
    if action == LIVE:
        return mv.supports(version, mv.LIVE_HOST_SCHEDULED)
    return mv.supports(version, mv.COLD_MIGRATE_HOST)


def destination_label(item, options, can_name):
    """What ``--dry-run`` prints as the destination of ``item``."""
    if item.action not in (LIVE, COLD):
        return '-'
    if item.destination:
        return item.destination
    if not can_name(item.action) or (options.max_per_target == 0 and
                                     not options.target_hosts):
        return 'scheduler'
    if item.candidates is None:
        return _('scheduler-checked, least busy host')
    if len(item.candidates) == 1:
        return item.candidates[0]
    return _('least busy of: %s') % ', '.join(sorted(item.candidates))


def unusable_hosts(services):
    """``{host: why}`` of the nova-compute services a drain cannot use now.

    A destination must be up (not forced down), enabled and not claimed by
    a drain (:mod:`.claim`): the scheduler refuses a named host that is
    disabled (NoValidHost after a 202).

    :param services: list of :class:`services.ComputeService`
    """
    out = {}
    for svc in services:
        if not svc.is_up:
            out[svc.host] = _('nova-compute is %s') % (
                _('forced down') if svc.forced_down else svc.state)
        elif claim.owner(svc.disabled_reason):
            out[svc.host] = _('claimed by drain %s') % claim.owner(
                svc.disabled_reason)
        elif not svc.is_enabled:
            out[svc.host] = _('nova-compute is disabled (%s)') % (
                svc.disabled_reason or '-')
    return out


def usable_pool(pool, candidates, known, unusable):
    """Drop the destinations that are unusable now from one submission.

    :param pool: every destination of the drain (scheduler placement)
    :param candidates: the server's allowed destinations, None for any
    :param known: hosts that have a nova-compute service now
    :param unusable: ``{host: why}`` (:func:`unusable_hosts`)
    :returns: ``(pool, candidates, dropped)``; ``dropped`` is
        ``{host: why}`` of the server's possible destinations taken out
        (its candidates, or the pool when it has none); ``candidates``
        stays None when it was None (the scheduler skips such hosts
        itself).
    """
    def bad(host):
        if host in unusable:
            return unusable[host]
        if known is not None and host not in known:
            return _('no nova-compute service')
        return None

    mine = pool if candidates is None else candidates
    dropped = {h: bad(h) for h in mine if bad(h)}
    pool = tuple(h for h in pool if not bad(h))
    if candidates is not None:
        candidates = tuple(h for h in candidates if not bad(h))
    return pool, candidates, dropped


def merge_previous(items, previous):
    """Carry a previous report's entries into a new plan (resume).

    ``items``: the new plan (servers found on the host now); ``previous``:
    the old report's server entries.  Servers the previous run moved stay
    as they were (not redone); in-flight ones keep their migration id so
    the drain follows them; the rest take the new plan.  Returns the merged
    list: previous entries of servers no longer on the host come first.
    """
    by_id = {i.id: i for i in items}
    merged = []
    for entry in previous:
        old = Item.from_dict(entry)
        new = by_id.pop(old.id, None)
        if new is None:
            if old.state not in model.MOVED + model.IN_FLIGHT + (
                    model.NOTHING,):
                old.state = model.LEFT_HOST
                old.reason = _('no longer on %s') % old.original_host
            merged.append(old)
            continue
        if old.state in model.IN_FLIGHT:
            # Its migration runs (task_state set, so the new plan would
            # skip it): follow it as the previous run planned it.
            merged.append(old)
            continue
        merged.append(new)
    merged.extend(i for i in items if i.id in by_id)
    return merged
