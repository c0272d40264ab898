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

"""Placing the units of a drain, and the N+1 headroom."""

import bisect
import dataclasses
import itertools

from migrationclient.constraints import debit as dbt
from migrationclient.constraints.model import BLOCKER
from migrationclient.constraints import rules
from migrationclient.engine.capacity import cache
from migrationclient.engine.capacity import explain
from migrationclient.engine.capacity.model import COLD
from migrationclient.engine.capacity.model import Headroom
from migrationclient.engine.capacity.model import LIVE
from migrationclient.engine.capacity.model import LIVE_LOOKAHEAD
from migrationclient.engine.capacity.model import Margin
from migrationclient.engine.capacity.model import RESOURCES


class Planner(explain.Explainer):

    def __init__(self, snapshot, drained, moving, targets, aggregate):
        self.snapshot = snapshot
        self.drained = drained
        self.moving = moving
        self.hosts = dict(snapshot.hosts)
        self.view = dataclasses.replace(snapshot, hosts=self.hosts,
                                        groups=dict(snapshot.groups))
        # versions of hosts and groups, from one clock: an undone trial
        # (_try_unit) never leaves a version that names other facts
        self.version, self.group_versions = {}, {}
        self.clock = itertools.count(1)
        self.remaining = sorted(
            name for name, h in snapshot.hosts.items()
            if name not in drained and h.is_enabled)
        allowed = set(targets) if targets is not None else None
        self.candidates = [
            name for name in self.remaining
            if (allowed is None or name in allowed)
            and (aggregate is None or any(
                agg == aggregate for agg, _m in self.hosts[name].aggregates))]
        self.pcpu = rules.capacity.pcpu_cloud(snapshot)
        self.index = {rc: [] for rc in RESOURCES}
        self.unknown = []
        # free amounts and max units of the indexed candidates, by host
        self.host_free, self.limits = {}, {}
        self.needs = {}
        self.order_keys = {}
        self.pool_cap = dict.fromkeys(RESOURCES, 0)
        self.pool_free = dict.fromkeys(RESOURCES, 0)
        for name in self.candidates:
            inv = self.hosts[name].inventory
            if inv is None:
                self.unknown.append(name)
                continue
            free = self.host_free[name] = {}
            for rc in RESOURCES:
                cap = inv.get(rc)
                if cap is not None:
                    self.index[rc].append((cap.free, name))
                    free[rc] = cap.free
                    if cap.max_unit is not None:
                        self.limits.setdefault(name, {})[rc] = cap.max_unit
                    self.pool_cap[rc] += cap.capacity
                    self.pool_free[rc] += max(cap.free, 0)
        for entries in self.index.values():
            entries.sort()
        self.rules = cache.Rules(self)
        self.placements = []
        self.received = {}

    # -- facts ------------------------------------------------------------

    def group_version(self, server_id):
        groups = self.view.groups.get(server_id)
        if not groups:
            return None
        return tuple(self.group_versions.get(g.id, 0) for g in groups)

    def _set_host(self, name, host):
        free = self.host_free.get(name)
        if free is not None:
            inv, free = host.inventory, dict(free)
            for rc, old_free in free.items():
                new_free = inv[rc].free
                if new_free == old_free:
                    continue
                entries = self.index[rc]
                del entries[bisect.bisect_left(entries, (old_free, name))]
                bisect.insort(entries, (new_free, name))
                free[rc] = new_free
                self.pool_free[rc] += max(new_free, 0) - max(old_free, 0)
            self.host_free[name] = free
        self.hosts[name] = host
        self.version[name] = next(self.clock)

    def _set_groups(self, groups, server_id):
        self.view = dataclasses.replace(self.view, groups=groups)
        for g in groups.get(server_id, ()):
            self.group_versions[g.id] = next(self.clock)

    def _move(self, server, name):
        """Debit ``name`` and the server's groups for one placement."""
        self._set_host(name, dbt.host_after(self.hosts[name], server))
        if self.view.groups.get(server.id):
            self._set_groups(dbt.regroup(self.view.groups, server.id, name),
                             server.id)

    # -- numbers ----------------------------------------------------------

    def pool_needs(self, server):
        """:func:`debit.needs` on the candidates (PCPU if any has it)."""
        needs = self.needs.get(server.id)
        if needs is None:
            cls = 'PCPU' if server.dedicated_cpus and self.pcpu else 'VCPU'
            wanted = {cls: server.flavor.vcpus,
                      'MEMORY_MB': server.flavor.ram,
                      'DISK_GB': server.local_disk_gb}
            needs = self.needs[server.id] = {
                rc: n for rc, n in wanted.items() if n > 0}
        return needs

    def size(self, needs):
        return max([n / self.pool_cap[rc] for rc, n in needs.items()
                    if self.pool_cap[rc]] or [0])

    def scarcest(self, needs):
        best, share = None, -1.0
        for rc in RESOURCES:
            if rc not in needs:
                continue
            free = self.pool_free[rc]
            s = float('inf') if free <= 0 else needs[rc] / free
            if s > share:
                best, share = rc, s
        return best

    def short(self, server, host, needs=None):
        """``None`` when the server fits by numbers, else (rc, need, free)."""
        inv = host.inventory
        if inv is None:
            return None
        free = self.host_free.get(host.name) if needs is not None else None
        if free is not None:
            return short_indexed(free, self.limits.get(host.name), needs)
        for rc, amount in (needs or dbt.needs(server, host)).items():
            cap = inv.get(rc)
            if cap is None:
                return rc, amount, None
            if not cap.fits(amount):
                return rc, amount, cap.free
        return None

    def walk(self, needs):
        """Candidate names in best-fit order for ``needs`` (a generator)."""
        rc = self.scarcest(needs)
        if rc is not None:
            entries = self.index[rc]
            start = bisect.bisect_left(entries, (needs[rc],))
            for _free, name in entries[start:]:
                yield name
        else:
            for name in self.candidates:
                if self.hosts[name].inventory is not None:
                    yield name
        yield from self.unknown

    # -- placing ----------------------------------------------------------

    def units(self):
        """(size key, [server ids], affinity group id or None) by size."""
        groups = self.snapshot.groups
        seen, units = set(), []
        for sid in sorted(self.moving):
            if sid in seen:
                continue
            unit, gid = [sid], None
            for g in groups.get(sid, ()):
                if g.policy == 'affinity':
                    members = sorted(m for m in g.members
                                     if m in self.moving and m not in seen)
                    if len(members) > 1 and sid in members:
                        unit, gid = members, g.id
                        break
            seen.update(unit)
            servers = [self.snapshot.servers[m] for m in unit]
            if gid is None:     # one server: its own order key and needs
                key = self._order_key(servers[0])
                units.append(((key[0],) + key, unit, None,
                              dict(self.pool_needs(servers[0]))))
                continue
            total = {}
            for s in servers:
                for rc, n in self.pool_needs(s).items():
                    total[rc] = total.get(rc, 0) + n
            largest = min(servers, key=self._order_key)
            units.append(((-self.size(total),) + self._order_key(largest),
                          sorted(unit, key=lambda m: self._order_key(
                              self.snapshot.servers[m])), gid, total))
        units.sort(key=lambda u: u[0])
        return units

    def _order_key(self, server):
        key = self.order_keys.get(server.id)
        if key is None:
            key = self.order_keys[server.id] = (
                -self.size(self.pool_needs(server)), -server.flavor.ram,
                -server.flavor.vcpus, server.name, server.id)
        return key

    def run(self):
        for _key, members, gid, total in self.units():
            if gid is None:
                self.place(self.snapshot.servers[members[0]])
            else:
                self.place_unit(members, gid, total)

    def _kinds(self, server):
        """The server's kinds that no host-independent rule blocks."""
        kinds = self.moving[server.id]
        found = self.rules.findings(server, None, host_free=True)
        blocking = [x for x in found if x.severity == BLOCKER]
        return tuple(k for k in kinds
                     if not any(x.blocks(k) for x in blocking)), found

    def place(self, server):
        kinds, free_findings = self._kinds(server)
        needs = self.pool_needs(server)
        if not kinds:
            return self._nowhere(server, free_findings)
        chosen, cold, refused, seen_after_cold = None, None, [], 0
        for name in self.walk(needs):
            free = self.host_free.get(name)
            if (short_indexed(free, self.limits.get(name), needs)
                    if free is not None else self.short(
                        server, self.hosts[name], needs)) is not None:
                continue
            ev = self.rules.evaluate(server, name, kinds)
            if LIVE in kinds and ev.live.allowed:
                chosen = (name, LIVE, ev)
                break
            if ev.cold.allowed and COLD in kinds and cold is None:
                cold = (name, COLD, ev)
            if cold is not None:
                seen_after_cold += 1
                if seen_after_cold > LIVE_LOOKAHEAD or LIVE not in kinds:
                    break
            if cold is None:
                refused.append((name, ev))
        chosen = chosen or cold
        if chosen is None:
            return self._nowhere(server, free_findings, kinds)
        name, kind, ev = chosen
        before = self.hosts[name]
        self._move(server, name)
        self.placements.append(self._placement(
            server, name, kind, ev, before, needs, refused))

    def place_unit(self, members, gid, total):
        servers = [self.snapshot.servers[m] for m in members]
        kinds = {}
        for s in servers:
            kinds[s.id], _found = self._kinds(s)
        if all(kinds.values()):
            for name in self.walk(total):
                host = self.hosts[name]
                if host.inventory is not None and any(
                        not host.inventory.get(rc) or
                        not host.inventory[rc].fits(n)
                        for rc, n in total.items()):
                    continue
                done = self._try_unit(servers, kinds, name, gid)
                if done:
                    return
        for s in servers:
            self.place_alone_failed(s, gid, len(servers))

    def _try_unit(self, servers, kinds, name, gid):
        saved = (dict(self.hosts), dict(self.version), self.view,
                 dict(self.group_versions), dict(
                     (rc, list(e)) for rc, e in self.index.items()),
                 dict(self.pool_free), dict(self.host_free))
        groups = self.view.groups
        for s in servers:
            groups = dbt.regroup(groups, s.id, name)
        for s in servers:
            self._set_groups(groups, s.id)
        done = []
        for s in servers:
            before = self.hosts[name]
            if self.short(s, before) is not None:
                break
            ev = self.rules.evaluate(s, name, kinds[s.id])
            kind = ev.preferred if ev.preferred in kinds[s.id] else None
            if kind is None:
                break
            self._set_host(name, dbt.host_after(before, s))
            done.append(self._placement(
                s, name, kind, ev, before, self.pool_needs(s), [], gid))
        if len(done) == len(servers):
            self.placements.extend(done)
            return True
        (hosts, self.version, self.view, self.group_versions, index,
         self.pool_free, self.host_free) = saved
        self.hosts.clear()
        self.hosts.update(hosts)
        self.index = index
        self.view = dataclasses.replace(self.view, hosts=self.hosts)
        return False

    # -- results ----------------------------------------------------------

    def headroom(self):
        return headroom(self.snapshot, self.hosts, self.remaining,
                        self.placements)


def short_indexed(free, limits, needs):
    """:meth:`Planner.short` on an indexed host: its free amounts.

    ``Capacity.fits`` of each need on ``free`` (resource class -> free
    amount) and ``limits`` (resource class -> max unit, or None).
    """
    for rc, amount in needs.items():
        have = free.get(rc)
        if have is None:
            return rc, amount, None
        if amount > have or (limits and amount > limits.get(rc, amount)):
            return rc, amount, have
    return None


def headroom(snapshot, hosts, remaining, placements=()):
    """N+1 (:class:`Headroom`) of ``remaining`` hosts with facts ``hosts``.

    By resources only: the busiest host's known servers are placed best
    fit on the others, and its whole usage per resource is compared with
    the others' free total (:class:`Margin`).
    """
    known = [n for n in remaining if hosts[n].inventory is not None]
    if len(known) < 2:
        return Headroom(None, 0, 0, False, None, (),
                        'N+1: fewer than two remaining hosts with known '
                        'capacity')
    cap_total = dict.fromkeys(RESOURCES, 0)
    for n in known:
        for rc in RESOURCES:
            cap = hosts[n].inventory.get(rc)
            if cap is not None:
                cap_total[rc] += cap.capacity

    def load(n):
        inv = hosts[n].inventory
        return sum(inv[rc].used / cap_total[rc] for rc in RESOURCES
                   if rc in inv and cap_total[rc])

    failed = min(known, key=lambda n: (-load(n), n))
    others = [n for n in known if n != failed]
    moved_there = {p.server_id for p in placements
                   if p.destination == failed}
    on_failed = [s for s in snapshot.servers.values()
                 if (s.host == failed and not any(
                     p.server_id == s.id for p in placements))
                 or s.id in moved_there]
    on_failed.sort(key=lambda s: (-s.flavor.ram, -s.flavor.vcpus, s.name,
                                  s.id))
    free = {n: dict(hosts[n].inventory) for n in others}
    free_before, other_cap = {}, {}
    for rc in RESOURCES:
        caps = [free[n][rc] for n in others if rc in free[n]]
        free_before[rc] = sum(max(c.free, 0) for c in caps)
        other_cap[rc] = sum(c.capacity for c in caps)
    placed, first_short = 0, None
    src = hosts[failed]
    for s in on_failed:
        needs = dbt.needs(s, src)
        best = None
        for n in others:
            inv = free[n]
            if all(rc in inv and inv[rc].fits(a) for rc, a in needs.items()):
                left = min(inv[rc].free - a for rc, a in needs.items())
                if best is None or (left, n) < best:
                    best = (left, n)
        if best is None:
            if first_short is None:
                # the resource the server lacks on the most hosts
                first_short = max(needs, key=lambda rc: (sum(
                    1 for n in others
                    if rc not in free[n] or not free[n][rc].fits(needs[rc])),
                    -RESOURCES.index(rc)))
            continue
        inv = free[best[1]]
        for rc, a in needs.items():
            inv[rc] = inv[rc].consume(a)
        placed += 1
    # needed: the failed host's whole use; free: the others' free total
    # before re-homing anything.
    margins = tuple(Margin(rc, src.inventory[rc].used, free_before[rc],
                           other_cap[rc])
                    for rc in RESOURCES if rc in src.inventory)
    ok = placed == len(on_failed) and all(m.left >= 0 for m in margins)
    if first_short is None and margins:
        first_short = min(margins, key=lambda m: (
            m.left / m.capacity if m.capacity else 0,
            RESOURCES.index(m.resource))).resource
    tight = next((m for m in margins if m.resource == first_short), None)
    if ok:
        message = ('N+1: if %s (the most loaded) fails, its %d known '
                   'server(s) and usage fit on the other %d host(s); %s '
                   'runs out first (%s%% left)') % (
            failed, len(on_failed), len(others), first_short,
            tight.left_pct if tight else '?')
    else:
        message = ('N+1: if %s (the most loaded) fails, the other %d '
                   'host(s) cannot absorb it: %d of %d known server(s) '
                   'placed; %s runs out first') % (
            failed, len(others), placed, len(on_failed), first_short)
    return Headroom(failed, len(on_failed), placed, ok, first_short,
                    tuple(margins), message)
