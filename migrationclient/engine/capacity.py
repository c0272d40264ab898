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
:class:`~migrationclient.constraints.facts.Snapshot`, the hosts being
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
"""

import bisect
import dataclasses
import gc

from migrationclient.constraints import debit as dbt
from migrationclient.constraints import engine as cengine
from migrationclient.constraints import facts as f
from migrationclient.constraints import rules

LIVE = f.LIVE
COLD = f.COLD
#: resources of the usage table, and the order that breaks ties
RESOURCES = ('PCPU', 'VCPU', 'MEMORY_MB', 'DISK_GB')
UNITS = {'PCPU': 'PCPU', 'VCPU': 'VCPU', 'MEMORY_MB': 'MB', 'DISK_GB': 'GB'}
#: candidates looked at for a live migration after one allowing cold only
LIVE_LOOKAHEAD = 32
ALL_HOSTS = '*'


def _pct(part, whole):
    return round(100.0 * part / whole, 1) if whole else None


@dataclasses.dataclass(frozen=True)
class Binding:
    """Why one candidate host cannot take a server.

    ``rule``: the blocking rule id, or ``None`` when a ``resource`` is
    short (``need`` more than ``free``).  ``host`` is ``*`` for a blocker
    that holds on every host.
    """

    host: str
    rule: str | None
    message: str
    resource: str | None = None
    need: int | None = None
    free: int | None = None

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where one server goes (``destination`` None: nowhere)."""

    server_id: str
    name: str
    source: str | None
    destination: str | None
    kind: str | None
    reason: str
    certain: bool = False
    #: rules whose facts were unknown on the destination (verdict maybe)
    unknowns: tuple = ()
    #: the hard affinity group placed with it as one unit, if any
    group: str | None = None
    #: for a server placed nowhere: what binds on each candidate
    bindings: tuple = ()
    evaluation: cengine.Evaluation | None = dataclasses.field(
        default=None, compare=False, repr=False)

    @property
    def placed(self):
        return self.destination is not None

    def to_dict(self):
        return {'server_id': self.server_id, 'name': self.name,
                'source': self.source, 'destination': self.destination,
                'kind': self.kind, 'reason': self.reason,
                'certain': self.certain, 'unknowns': list(self.unknowns),
                'group': self.group,
                'bindings': [b.to_dict() for b in self.bindings]}


@dataclasses.dataclass(frozen=True)
class Usage:
    """One resource of one host: capacity, used before and after."""

    resource: str
    capacity: int
    before: int
    after: int

    @property
    def before_pct(self):
        return _pct(self.before, self.capacity)

    @property
    def after_pct(self):
        return _pct(self.after, self.capacity)

    def to_dict(self):
        return dict(dataclasses.asdict(self), before_pct=self.before_pct,
                    after_pct=self.after_pct)


@dataclasses.dataclass(frozen=True)
class HostUsage:
    """A destination: the servers planned there and its usage."""

    host: str
    servers: tuple
    usage: tuple                    # of Usage, in RESOURCES order

    def to_dict(self):
        return {'host': self.host, 'servers': list(self.servers),
                'usage': [u.to_dict() for u in self.usage]}


@dataclasses.dataclass(frozen=True)
class Margin:
    """N+1, one resource: the failed host's use against the others' free."""

    resource: str
    needed: int
    free: int
    capacity: int

    @property
    def left(self):
        return self.free - self.needed

    @property
    def left_pct(self):
        return _pct(self.left, self.capacity)

    def to_dict(self):
        return dict(dataclasses.asdict(self), left=self.left,
                    left_pct=self.left_pct)


@dataclasses.dataclass(frozen=True)
class Headroom:
    """N+1 after the drain: could the others absorb the busiest host?

    ``host`` is the remaining host with the most load (the largest sum of
    its shares of the remaining capacity); its known servers (and those
    the plan sends there) are placed by resources on the other remaining
    hosts (best fit, largest first), and its whole usage is compared with
    their free total.  ``first_short``: the resource that runs out
    first (the smallest share left, or a resource a server did not find).
    """

    host: str | None
    servers: int
    placed: int
    ok: bool
    first_short: str | None
    margins: tuple = ()             # of Margin
    message: str = ''

    def to_dict(self):
        return {'host': self.host, 'servers': self.servers,
                'placed': self.placed, 'ok': self.ok,
                'first_short': self.first_short,
                'margins': [m.to_dict() for m in self.margins],
                'message': self.message}


@dataclasses.dataclass(frozen=True)
class CapacityPlan:
    """The result of :func:`plan_capacity`."""

    drained: tuple
    placements: tuple               # of Placement, in plan order
    destinations: tuple             # of HostUsage, by host name
    headroom: Headroom | None
    #: the remaining hosts' facts after the plan (debited HostFacts)
    hosts_after: dict = dataclasses.field(default_factory=dict,
                                          compare=False, repr=False)

    @property
    def feasible(self):
        return all(p.placed for p in self.placements)

    @property
    def unplaced(self):
        return [p for p in self.placements if not p.placed]

    def placement(self, server_id):
        for p in self.placements:
            if p.server_id == server_id:
                return p
        raise KeyError(server_id)

    def to_dict(self):
        return {'drained': list(self.drained), 'feasible': self.feasible,
                'placed': sum(1 for p in self.placements if p.placed),
                'unplaced': len(self.unplaced),
                'placements': [p.to_dict() for p in self.placements],
                'destinations': [d.to_dict() for d in self.destinations],
                'headroom': self.headroom.to_dict() if self.headroom
                else None}


def plan_capacity(snapshot, drained, servers=None, kinds=(LIVE, COLD),
                  targets=None, aggregate=None, headroom=True):
    """Place every moving server of a drain on the hosts that stay.

    :param snapshot: :class:`~migrationclient.constraints.facts.Snapshot`
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
        planner = _Planner(snapshot, drained, moving, targets, aggregate)
        planner.run()
        return CapacityPlan(
            drained, tuple(planner.placements), planner.usage_table(),
            planner.headroom() if headroom else None,
            {name: planner.hosts[name] for name in planner.remaining})
    finally:
        if collecting:
            gc.enable()


#: HostFacts fields a debit changes (:func:`migrationclient.constraints.
#: debit.host_after`)
DEBITED = frozenset(('inventory', 'free_ram_mb', 'running_vms',
                     'vcpus_used', 'host_side.numa_cells'))
#: fields read through a nested proxy
NESTED = frozenset(('host_side',))
_PRESENT = object()


class _Reads:
    """A host's facts that record which of them a rule reads, and what.

    ``host_side`` is read through a nested proxy: a debit changes its NUMA
    cells only, not the CPU model.
    """

    __slots__ = ('_host', 'read', '_prefix')

    def __init__(self, host, read=None, prefix=''):
        self._host = host
        self.read = {} if read is None else read
        self._prefix = prefix

    def __getattr__(self, name):
        value = getattr(self._host, name)
        key = self._prefix + name
        if name in NESTED and value is not None:
            self.read.setdefault(key, _PRESENT)
            return _Reads(value, self.read, key + '.')
        self.read.setdefault(key, value)
        return value

    def items(self):
        return tuple(self.read.items())


class _ServerReads:
    """A server's facts that record what a rule reads (``spec`` too)."""

    __slots__ = ('_server', 'read')

    def __init__(self, server):
        self._server = server
        self.read = {}

    def __getattr__(self, name):
        value = getattr(self._server, name)
        self.read.setdefault(name, value)
        return value

    def spec(self, name):
        value = self._server.spec(name)
        self.read.setdefault(('spec', name), value)
        return value

    def items(self):
        return tuple(self.read.items())


def _server_matches(server, items):
    for name, value in items:
        if name.__class__ is tuple:
            if server.spec(name[1]) != value:
                return False
        elif getattr(server, name) != value:
            return False
    return True


class _Volatile:
    """Findings of one rule input that read debited facts, by versions."""

    __slots__ = ('results',)

    def __init__(self):
        self.results = {}


def _matches(host, items):
    if host is None:
        return not items
    for name, value in items:
        if '.' in name:
            outer, inner = name.split('.', 1)
            parent = getattr(host, outer)
            if parent is None or getattr(parent, inner) != value:
                return False
        elif value is _PRESENT:
            if getattr(host, name) is None:
                return False
        elif getattr(host, name) != value:
            return False
    return True


#: findings kept per rule and server key for hosts with equal facts
MEMO = 16
_BAD = (f.BLOCKER, f.UNKNOWN)


class _Rules:
    """The constraint rules on the planner's live (debited) facts.

    A rule's findings are cached under its ``@depends`` declaration: its
    server key, the hosts it reads and the versions of the server's
    groups.  A rule run is handed the hosts through a proxy that records
    which facts it reads, and their values.  The rules are pure, so:

    * a run that read no debited fact (:data:`DEBITED`: capacity, NUMA
      cells) gives the same findings whatever the debits: kept for good;
      otherwise kept for the hosts' current versions (a host's version
      grows with each debit);
    * another host pair whose facts equal every value the run read gets
      the same findings without a run (hosts with the same CPU, hypervisor
      and state share the results of the rules that do not name the
      host; up to :data:`MEMO` such runs are kept per rule and key).

    Findings and verdicts are joined as :func:`migrationclient.
    constraints.engine.evaluate` joins them.
    """

    def __init__(self, planner):
        self.planner = planner
        self.layout = [(rule_id, rule,
                        getattr(rule, 'depends', rules.EVERYTHING))
                       for rule_id, rule in rules.RULES]
        self.cache = {}
        self.memo = {}
        self.items = {}
        self.notes = tuple(f.Finding('cloud', f.WARNING, note, '', f.BOTH)
                           for note in planner.view.cloud.notes)
        self.clear = {}

    def _items(self, server):
        """Per rule: (rule id, rule, reads source, reads dest, key)."""
        items = self.items.get(server.id)
        if items is None:
            view = self.planner.view
            items = self.items[server.id] = [
                (rule_id, rule, bool(dep.source), bool(dep.dest),
                 dep.server(server, view) if dep.server else None)
                for rule_id, rule, dep in self.layout]
        return items

    def findings(self, server, dest_name, host_free=None):
        """Findings of the rules, in order.

        ``host_free``: True for the rules that read no host only (then
        ``dest_name`` may be None), False for those that read one.
        """
        p = self.planner
        gv = p.group_version(server.id)
        version = p.version
        cache = self.cache
        found = []
        src_name = server.host
        for rule_id, rule, reads_src, reads_dest, key in self._items(server):
            if host_free is not None and \
                    (reads_src or reads_dest) == host_free:
                continue
            base = (rule_id, key, src_name if reads_src else None,
                    dest_name if reads_dest else None, gv)
            entry = cache.get(base)
            if entry.__class__ is tuple:
                found.extend(entry)
                continue
            versions = (version.get(src_name, 0) if reads_src else None,
                        version.get(dest_name, 0) if reads_dest else None)
            if entry is not None:
                result = entry.results.get(versions)
                if result is not None:
                    found.extend(result)
                    continue
            found.extend(self._run(server, rule_id, rule, reads_src,
                                   reads_dest, key, base, entry, versions,
                                   dest_name, gv))
        return found

    def _run(self, server, rule_id, rule, reads_src, reads_dest, key, base,
             entry, versions, dest_name, gv):
        p = self.planner
        if not (reads_src or reads_dest):
            return self._run_host_free(server, rule_id, rule, base, gv)
        source = p.hosts.get(server.host) if reads_src else None
        dest = p.hosts[dest_name] if reads_dest else None
        memo = self.memo.setdefault((rule_id, key, gv), [])
        if entry is None:
            for src_items, dest_items, result in memo:
                if _matches(source, src_items) and \
                        _matches(dest, dest_items):
                    self.cache[base] = result
                    return result
        src_proxy = _Reads(source) if source is not None else None
        dest_proxy = _Reads(dest) if dest is not None else None
        result = tuple(rule(server, src_proxy, dest_proxy, p.view))
        src_items = src_proxy.items() if src_proxy is not None else ()
        dest_items = dest_proxy.items() if dest_proxy is not None else ()
        read = [name for name, _v in src_items + dest_items]
        if entry is None and not any(name in DEBITED for name in read):
            self.cache[base] = result
            # a result that read a host's name is that host's only
            if len(memo) < MEMO and 'name' not in read:
                memo.append((src_items, dest_items, result))
        else:
            if entry is None:
                entry = self.cache[base] = _Volatile()
            entry.results[versions] = result
        return result

    def _run_host_free(self, server, rule_id, rule, base, gv):
        """A rule that reads no host: shared by servers of equal reads."""
        memo = self.memo.setdefault((rule_id, gv), [])
        for items, result in memo:
            if _server_matches(server, items):
                self.cache[base] = result
                return result
        proxy = _ServerReads(server)
        result = self.cache[base] = tuple(rule(proxy, None, None,
                                               self.planner.view))
        if len(memo) < MEMO:
            memo.append((proxy.items(), result))
        return result

    def evaluate(self, server, dest_name, kinds):
        findings = tuple(self.findings(server, dest_name)) + self.notes
        bad = [x for x in findings if x.severity in _BAD]

        def verdict(kind):
            if not bad:
                return cengine.Verdict(kind, kind in kinds)
            return cengine.Verdict(
                kind, kind in kinds,
                tuple(x for x in bad if x.blocks(kind)),
                tuple(x for x in bad if x.leaves_open(kind)))

        return cengine.Evaluation(server, server.host, dest_name, findings,
                                  verdict(LIVE), verdict(COLD),
                                  self.planner.view.cloud)


class _Planner:

    def __init__(self, snapshot, drained, moving, targets, aggregate):
        self.snapshot = snapshot
        self.drained = drained
        self.moving = moving
        self.hosts = dict(snapshot.hosts)
        self.view = dataclasses.replace(snapshot, hosts=self.hosts,
                                        groups=dict(snapshot.groups))
        self.version = {}
        self.group_versions = {}
        self.remaining = sorted(
            name for name, h in snapshot.hosts.items()
            if name not in drained and h.is_enabled)
        allowed = set(targets) if targets is not None else None
        self.candidates = [
            name for name in self.remaining
            if (allowed is None or name in allowed)
            and (aggregate is None or any(
                agg == aggregate for agg, _m in self.hosts[name].aggregates))]
        self.pcpu = rules._pcpu_cloud(snapshot)
        self.index = {rc: [] for rc in RESOURCES}
        self.unknown = []
        self.free = {rc: {} for rc in RESOURCES}
        self.max_unit = {rc: {} for rc in RESOURCES}
        self.needs = {}
        self.order_keys = {}
        self.pool_cap = dict.fromkeys(RESOURCES, 0)
        self.pool_free = dict.fromkeys(RESOURCES, 0)
        for name in self.candidates:
            inv = self.hosts[name].inventory
            if inv is None:
                self.unknown.append(name)
                continue
            for rc in RESOURCES:
                cap = inv.get(rc)
                if cap is not None:
                    self.index[rc].append((cap.free, name))
                    self.free[rc][name] = cap.free
                    if cap.max_unit is not None:
                        self.max_unit[rc][name] = cap.max_unit
                    self.pool_cap[rc] += cap.capacity
                    self.pool_free[rc] += max(cap.free, 0)
        for entries in self.index.values():
            entries.sort()
        self.rules = _Rules(self)
        self.placements = []
        self.received = {}

    # -- facts ------------------------------------------------------------

    def group_version(self, server_id):
        groups = self.view.groups.get(server_id)
        if not groups:
            return None
        return tuple(self.group_versions.get(g.id, 0) for g in groups)

    def _set_host(self, name, host):
        old = self.hosts[name]
        if old.inventory is not None and name in self._indexed():
            for rc in RESOURCES:
                cap = old.inventory.get(rc)
                if cap is None:
                    continue
                entries = self.index[rc]
                old_free = self.free[rc][name]
                del entries[bisect.bisect_left(entries, (old_free, name))]
                new_free = self.free[rc][name] = host.inventory[rc].free
                bisect.insort(entries, (new_free, name))
                self.pool_free[rc] += max(new_free, 0) - max(old_free, 0)
        self.hosts[name] = host
        self.version[name] = self.version.get(name, 0) + 1

    def _indexed(self):
        cands = getattr(self, '_cand_set', None)
        if cands is None:
            cands = self._cand_set = set(self.candidates)
        return cands

    def _set_groups(self, groups, server_id):
        self.view = dataclasses.replace(self.view, groups=groups)
        for g in groups.get(server_id, ()):
            self.group_versions[g.id] = self.group_versions.get(g.id, 0) + 1

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
        if needs is not None and host.name in self._indexed():
            # Capacity.fits on the free amounts the index keeps
            for rc, amount in needs.items():
                free = self.free[rc].get(host.name)
                if free is None:
                    return rc, amount, None
                limit = self.max_unit[rc].get(host.name)
                if amount > free or (limit is not None and amount > limit):
                    return rc, amount, free
            return None
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
        return tuple(k for k in kinds
                     if not any(x.blocks(k) for x in found)), found

    def place(self, server):
        kinds, free_findings = self._kinds(server)
        needs = self.pool_needs(server)
        if not kinds:
            return self._nowhere(server, free_findings)
        chosen, cold, refused, seen_after_cold = None, None, [], 0
        for name in self.walk(needs):
            host = self.hosts[name]
            if self.short(server, host, needs) is not None:
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
                 dict(self.pool_free))
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
         self.pool_free) = saved
        self.hosts.clear()
        self.hosts.update(hosts)
        self.index = index
        self.view = dataclasses.replace(self.view, hosts=self.hosts)
        return False

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

    # -- results ----------------------------------------------------------

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

    def headroom(self):
        return headroom(self.snapshot, self.hosts, self.remaining,
                        self.placements)


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


def replay(snapshot, plan):
    """Check a plan with the plain rule engine: the placements it refuses.

    Replays ``plan`` in order on ``snapshot``: each placement is evaluated
    by :func:`migrationclient.constraints.engine.evaluate` on the facts
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
