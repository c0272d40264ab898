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

"""Why a server goes where it goes, or nowhere: the planner's explanations.

:class:`Explainer` is the part of :class:`~migrationclient.engine.capacity.
planner.Planner` that turns its decisions into what the operator reads: the
reason of a placement, the constraint that binds on each candidate of a
server that fits nowhere, and the usage table of the destinations.
"""

from migrationclient.engine.capacity.model import ALL_HOSTS
from migrationclient.engine.capacity.model import Binding
from migrationclient.engine.capacity.model import HostUsage
from migrationclient.engine.capacity.model import Placement
from migrationclient.engine.capacity.model import RESOURCES
from migrationclient.engine.capacity.model import UNITS
from migrationclient.engine.capacity.model import Usage


class Explainer:
    """Explanations of a :class:`Planner` (a mixin: reads its state)."""

    def place_alone_failed(self, server, gid, n):
        kinds, found = self._kinds(server)
        extra = Binding(ALL_HOSTS, 'server-group', (
            'affinity group %s: no candidate takes its %d moving members '
            'together' % (gid, n)))
        self._nowhere(server, found, kinds or None, extra, gid)

    def _placement(self, server, name, kind, ev, before, needs, refused,
                   gid=None):
        verdict = ev.verdict(kind)
        unknowns = tuple(sorted({x.rule for x in verdict.unknowns}))
        after = self.hosts[name]
        rc = self.scarcest(needs) if before.inventory is not None else None
        if rc is not None and rc not in (after.inventory or {}):
            rc = next((r for r in RESOURCES if r in needs
                       and r in after.inventory), None)
        if rc is None:
            reason = 'placement inventory unknown; the rules allow it'
        else:
            cap = after.inventory[rc]
            reason = 'best fit on %s: %d of %d %s left' % (
                rc, cap.free, cap.capacity, UNITS[rc])
        if gid:
            reason += '; affinity group %s moves as one' % gid
        if refused:
            reason += '; %d tighter host(s) refused (%s)' % (
                len(refused), ', '.join(
                    '%s: %s' % (n, ','.join(sorted({b.rule
                                                    for b in e.blockers})))
                    for n, e in refused[:3]))
        if unknowns:
            reason += '; maybe: not known %s' % ', '.join(unknowns)
        self.received.setdefault(name, []).append(server.id)
        return Placement(server.id, server.name, server.host, name, kind,
                         reason, verdict.certain, unknowns, gid,
                         evaluation=ev)

    def _nowhere(self, server, free_findings, kinds=None, extra=None,
                 gid=None):
        bindings = [extra] if extra else []
        if not kinds:
            wanted = self.moving[server.id]
            for x in free_findings:
                if any(x.blocks(k) for k in wanted):
                    bindings.append(Binding(ALL_HOSTS, x.rule, x.message))
            if not bindings:
                bindings.append(Binding(ALL_HOSTS, None,
                                        'no migration kind allowed'))
        else:
            for name in self.candidates:
                host = self.hosts[name]
                short = self.short(server, host)
                if short is not None:
                    rc, need, free = short
                    msg = ('%s: needs %d, %s free' % (
                        rc, need, free) if free is not None else
                        '%s: no inventory' % rc)
                    bindings.append(Binding(name, None, msg, rc, need, free))
                    continue
                ev = self.rules.evaluate(server, name, kinds)
                blockers = []
                for k in kinds:
                    for b in ev.verdict(k).blockers:
                        if b not in blockers:
                            blockers.append(b)
                for b in blockers:
                    bindings.append(Binding(name, b.rule, b.message))
            if not self.candidates:
                bindings.append(Binding(ALL_HOSTS, None,
                                        'no candidate host'))
        self.placements.append(Placement(
            server.id, server.name, server.host, None, None,
            'fits nowhere', bindings=tuple(bindings), group=gid))

    def usage_table(self):
        table = []
        for name in sorted(self.received):
            before = self.snapshot.hosts[name].inventory or {}
            after = self.hosts[name].inventory or {}
            usage = tuple(Usage(rc, before[rc].capacity, before[rc].used,
                                after[rc].used)
                          for rc in RESOURCES if rc in before)
            table.append(HostUsage(name, tuple(self.received[name]), usage))
        return tuple(table)
