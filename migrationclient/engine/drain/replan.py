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

"""Re-planning one server of a drain that follows its capacity plan.

When Nova refuses a server's planned destination (NoValidHost, a failed
migration, a failed pre-check) or that destination has become unusable
(disabled, down, claimed by another drain), :class:`Replanner` reads the
facts again for that server's source (:func:`migrationclient.cloud.
gather.gather`), debits the destinations of the servers still waiting for
their planned move (their hosts must keep the room the plan counts on; a
migration in flight already holds its allocation there) and places the
server alone on the usable hosts that remain
(:func:`migrationclient.engine.capacity.plan_capacity`).  At most
:data:`MAX_REPLANS` times per server; each re-plan is an event and an
entry of the server's ``replanned`` list in the report.
"""

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.constraints import debit as dbt
from migrationclient.engine import capacity
from migrationclient.engine.drain import fleetplan as plan_mod
from migrationclient.engine.drain import model
from migrationclient.engine.drain import policy

#: re-plans of one server before the drain gives up on it
MAX_REPLANS = 2
#: what Nova says (lower case) when it refuses a destination: the
#: scheduler (NoValidHost), the conductor's pre-checks
#: (MigrationPreCheckError), a destination service that went away.  A
#: migration that started and rolled back (the guest, the network) is a
#: failure of the server, not of its destination: not re-planned.
REFUSALS = ('no valid host', 'pre-check', 'precheck',
            'is unavailable', 'not enough')


def destination_refused(why):
    """True when ``why`` says Nova refused the destination itself."""
    text = (why or '').lower()
    return any(r in text for r in REFUSALS)


class Replanner:
    """Re-plan servers of one drain (see the module).

    :param actions: :class:`migrationclient.cloud.actions.Actions`
    :param drained: the hosts being drained
    :param snapshot: the snapshot the plan was made from (server facts of
        the servers still waiting)
    """

    def __init__(self, actions, drained, snapshot, options):
        self.actions = actions
        self.drained = list(drained)
        self.snapshot = snapshot
        self.options = options

    def follows(self, item):
        return bool(item.planned) and item.candidates == (item.planned,)

    def refused(self, drain, item, why, tried=None):
        """Nova refused ``item`` on ``tried``: re-plan it, or False.

        Only for a refusal of the destination (:func:`destination_refused`);
        any other failure stays a failure.
        """
        if not destination_refused(why):
            return False
        return self.replan(drain, item, _(
            'Nova refused %(dest)s: %(why)s') % {
                'dest': tried or item.planned, 'why': why}, tried)

    def replan(self, drain, item, why, tried=None, unusable=None):
        """Give ``item`` a new planned destination; False when none.

        ``why``: what happened to the planned one (said in the event and
        the report); ``tried``: a destination Nova refused (excluded from
        now on); ``unusable``: ``{host: why}`` of the hosts not to use now.
        """
        if not self.follows(item) or drain.stop_reason is not None:
            return False
        done = sum(1 for r in item.replanned if not r.get('spread'))
        if done >= MAX_REPLANS:
            drain.event(item, _('%(why)s: not re-planned again (%(n)d '
                                're-plans already)') % {
                'why': why, 'n': done})
            return False
        old = item.planned
        excluded = set(item.excluded) | {h for h in (tried, old) if h}
        unusable = dict(unusable or {})
        targets = [h for h in drain.dest_hosts
                   if h not in excluded and h not in unusable]
        entry = {'why': why, 'from': old, 'to': None}
        item.replanned.append(entry)
        placement = None
        if targets:
            try:
                placement = self._place(drain, item, targets)
            except errors.CloudError as exc:
                why = _('%(why)s; the facts could not be read again '
                        '(%(err)s)') % {'why': why, 'err': exc}
                entry['why'] = why
        if placement is None or not placement.placed:
            item.excluded = tuple(dict.fromkeys(
                tuple(item.excluded) + tuple(sorted(excluded))))
            text = plan_mod.bindings_text(placement) if placement \
                else _('no usable destination left')
            drain.event(item, _('%(why)s: re-planned, it fits nowhere now '
                                '(%(what)s)') % {'why': why, 'what': text})
            return False
        drain.slots.finish(item.id)
        item.excluded = tuple(dict.fromkeys(
            tuple(item.excluded) + tuple(sorted(excluded))))
        item.planned = placement.destination
        item.candidates = (placement.destination,)
        item.action = model.LIVE if placement.kind == 'live' else model.COLD
        item.state = model.PENDING
        item.error = why
        entry['to'] = placement.destination
        drain.event(item, _('%(why)s: re-planned on fresh facts: %(kind)s '
                            'to %(dest)s (%(reason)s)') % {
            'why': why, 'kind': placement.kind,
            'dest': placement.destination, 'reason': placement.reason})
        return True

    def _place(self, drain, item, targets):
        """The server's placement on fresh facts (a Placement or None)."""
        gathered = self.actions.gather(source_host=item.original_host,
                                       destinations=list(targets))
        snap = gathered.snapshot
        if item.id not in snap.servers:
            return None
        for other in drain.items:
            if other.id == item.id or not other.planned:
                continue
            server = snap.servers.get(other.id) or (
                self.snapshot.servers.get(other.id)
                if self.snapshot is not None else None)
            if server is None or other.planned not in snap.hosts:
                continue
            if other.state == model.PENDING:
                # waiting: its planned host keeps its room
                snap = dbt.debit(snap, server, other.planned)
            elif other.state in model.IN_FLIGHT:
                # the allocation is there already: the group only
                dest = other.destination or other.planned
                snap = type(snap)(cloud=snap.cloud, hosts=snap.hosts,
                                  servers=snap.servers,
                                  groups=dbt.regroup(snap.groups, other.id,
                                                     dest))
        kinds = tuple(str(k) for k in (model.LIVE, model.COLD)
                      if k in policy.state_kinds(item.original_status) and
                      not (k == model.LIVE and self.options.no_live))
        result = capacity.plan_capacity(
            snap, drained=self.drained, servers={item.id: kinds},
            targets=targets, headroom=False)
        return result.placement(item.id)
