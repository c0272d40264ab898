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

"""Precheck engine: server x destination -> live and cold verdicts.

Pure (no I/O).  Input is a :class:`~migrationclient.constraints.model.
Snapshot` (built by :func:`migrationclient.cloud.gather.gather`, or by hand
in tests).  API for commands (``migration precheck``, ``compute drain``)::

    from migrationclient.constraints import evaluate

    ev = evaluate.evaluate(snapshot, server_id, 'compute2')
    ev.live.allowed, ev.cold.allowed       # bool: no blocker found
    ev.live.certain                        # and nothing decisive unknown
    ev.live.label                          # 'yes' / 'maybe' / 'no' / 'skipped'
    ev.blockers, ev.warnings               # lists of Finding
    ev.command(evaluate.LIVE)                # 'openstack server migrate ...'
    ev.preferred                           # 'live', 'cold' or None

    evs = evaluate.precheck(snapshot, [server_id, ...],
                          destinations=None)   # None: every other host

    moves = evaluate.plan(snapshot, [server_id, ...], destinations=None,
                        kinds=('live', 'cold'))
    # one Move per server: .server_id, .kind ('live' / 'cold' / None),
    # .destination, .candidates (every allowed destination, best first),
    # .evaluation, .reason (why a server cannot move).  Capacity and
    # server group membership taken by earlier moves of the plan are
    # debited before later servers are planned.

Verdict ``maybe`` (``allowed`` but not ``certain``): no blocker, but a fact
that could make Nova refuse was not readable (severity ``unknown``: free
huge pages, per-NUMA-cell capacity, free VFs / PCI devices, placement
down).  Host-side facts (``--ssh``) are plugged in with
``Snapshot.with_side_facts(hosts, guests)``.

:func:`destinations_for` gives the default candidates (enabled nova-compute
hosts other than the source); :func:`server_command` builds the exact
``openstack server migrate`` command line (with
``--os-compute-api-version`` where the option needs it).
"""

import dataclasses
import itertools
import shlex

from migrationclient.constraints import debit
from migrationclient.constraints import model as f
from migrationclient.constraints import rules
from migrationclient import microversions as mv

LIVE = f.LIVE
COLD = f.COLD


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Whether one migration type is allowed, and why not.

    ``label`` is ``yes`` (no blocker, everything that could block was
    checked), ``maybe`` (no blocker, but ``unknowns`` lists facts that could
    make Nova refuse and could not be read), ``no`` or ``skipped``.
    ``allowed`` is true for ``yes`` and ``maybe``; ``certain`` only for
    ``yes``.
    """

    kind: str
    checked: bool
    blockers: tuple = ()
    unknowns: tuple = ()

    @property
    def allowed(self):
        return self.checked and not self.blockers

    @property
    def certain(self):
        return self.allowed and not self.unknowns

    @property
    def label(self):
        if not self.checked:
            return 'skipped'
        if self.blockers:
            return 'no'
        return 'maybe' if self.unknowns else 'yes'


@dataclasses.dataclass(frozen=True)
class Evaluation:
    """Findings and verdicts for one server and one destination."""

    server: f.ServerFacts
    source: str | None
    destination: str
    findings: tuple
    live: Verdict
    cold: Verdict
    cloud: f.CloudFacts

    def verdict(self, kind):
        return self.live if kind == LIVE else self.cold

    @property
    def blockers(self):
        return [x for x in self.findings if x.severity == f.BLOCKER]

    @property
    def warnings(self):
        """Warnings and unknowns (facts that could block, not read)."""
        return [x for x in self.findings
                if x.severity in (f.UNKNOWN, f.WARNING)]

    def relevant_warnings(self):
        """Warnings and unknowns that apply to an allowed migration type."""
        kinds = [k for k in (LIVE, COLD) if self.verdict(k).allowed]
        return [x for x in self.warnings
                if any(k in x.applies_to for k in kinds)]

    @property
    def allowed(self):
        return self.live.allowed or self.cold.allowed

    @property
    def preferred(self):
        if self.live.allowed:
            return LIVE
        if self.cold.allowed:
            return COLD
        return None

    @property
    def block_migration(self):
        """'no' (no local disk) or 'auto' (Nova decides by the storage)."""
        return 'no' if self.server.local_disk_gb <= 0 else 'auto'

    def command(self, kind=None):
        kind = kind or self.preferred
        if kind is None:
            return ''
        return server_command(self.server.id, kind, self.destination,
                              self.cloud)


def server_command(server_id, kind, destination, cloud):
    """The ``openstack server migrate`` line for one move.

    Live with ``--host`` needs compute 2.30 (OSC refuses otherwise), cold
    with ``--host`` 2.56; below 2.56 a cold migration cannot name its
    destination (the scheduler chooses, ``destination`` is dropped).
    """
    words = ['openstack']
    if kind == LIVE:
        args = ['server', 'migrate', '--live-migration']
        if destination:
            words += ['--os-compute-api-version',
                      str(_at_least(cloud, mv.LIVE_HOST_SCHEDULED))]
            args += ['--host', destination]
    else:
        args = ['server', 'migrate']
        if destination and cloud.supports(mv.COLD_MIGRATE_HOST):
            words += ['--os-compute-api-version',
                      str(_at_least(cloud, mv.COLD_MIGRATE_HOST))]
            args += ['--host', destination]
    args += ['--wait', server_id]
    return ' '.join(shlex.quote(w) for w in words + args)


def _at_least(cloud, version):
    """``version``, or the user's requested one when that is higher."""
    requested = cloud.requested_version
    if requested is not None and requested > version and \
            cloud.supports(requested):
        return requested
    return version


def destinations_for(snapshot, server_id):
    """Default candidates: enabled nova-compute hosts but the source."""
    server = snapshot.servers[server_id]
    return sorted(name for name, host in snapshot.hosts.items()
                  if name != server.host and host.is_enabled)


def evaluate(snapshot, server_id, destination, kinds=(LIVE, COLD)):
    """Run every rule for one server and one destination host name."""
    server = snapshot.servers[server_id]
    source = snapshot.hosts.get(server.host)
    dest = snapshot.hosts[destination]
    findings = []
    for _rule_id, rule in rules.RULES:
        findings.extend(rule(server, source, dest, snapshot))
    for note in snapshot.cloud.notes:
        findings.append(f.Finding('cloud', f.WARNING, note, '', f.BOTH))

    def verdict(kind):
        return Verdict(kind, kind in kinds,
                       tuple(x for x in findings if x.blocks(kind)),
                       tuple(x for x in findings if x.leaves_open(kind)))

    return Evaluation(server, server.host, destination, tuple(findings),
                      verdict(LIVE), verdict(COLD), snapshot.cloud)


class _Shared:
    """Rule results of one snapshot, shared between (server, host) pairs.

    A rule's findings depend only on what its
    :class:`~migrationclient.constraints.rules.Depends` declares: some
    server facts (its key), the source and/or the destination host, and
    the snapshot.  Each distinct (rule, key, source, destination) is
    computed once, and findings are immutable, so evaluations share them:

    * consecutive rules that read no host are run and joined once per
      server (a fixed segment);
    * consecutive rules that read a host form a run, joined once per
      distinct (keys, source) and destination;
    * servers whose segments are equal share one signature, and each
      (signature, destination) is joined into findings and verdicts once.

    A pair then costs one look-up and an :class:`Evaluation`.  The result
    equals :func:`evaluate` pair by pair
    (``tests/unit/constraints/test_shared.py`` checks it on random facts).
    """

    def __init__(self, snapshot, kinds):
        self.snapshot = snapshot
        self.kinds = kinds
        # Consecutive rules that read the same hosts: (reads a host,
        # rules).  Rules that read both hosts mostly have server keys
        # with few values (host, zone), rules that read the destination
        # only mostly flavor keys: apart, the former stay shared when
        # every server has a flavor of its own.
        self.layout = []
        previous = None
        for rule_id, rule in rules.RULES:
            dep = getattr(rule, 'depends', rules.EVERYTHING)
            reads = (dep.source, dep.dest)
            if reads != previous:
                self.layout.append((dep.source or dep.dest, []))
                previous = reads
            self.layout[-1][1].append((rule_id, rule, dep))
        self.rule_results = {}      # (rule, key, source, dest): findings
        self.interned = {}          # findings: the same (one object)
        self.entries = {}           # ids of rule results: entry
        self.run_ids = {}           # run signature: run id
        self.run_results = {}       # (run id, dest): entry
        self.signatures = {}        # server signature: id
        self.made = {}              # (signature id, dest): joined
        self.verdicts = {}          # ids of open parts: verdicts
        cloud = tuple(f.Finding('cloud', f.WARNING, note, '', f.BOTH)
                      for note in snapshot.cloud.notes)
        self.cloud_findings = cloud     # alive: its id is a key
        self.cloud = self._entry([cloud])
        # The verdicts of a pair without a blocker or an unknown.
        self.clear = (Verdict(LIVE, LIVE in kinds),
                      Verdict(COLD, COLD in kinds))

    def _entry(self, parts):
        """(findings, None or their blockers and unknowns by kind).

        ``parts``: rule results (interned by :meth:`_rule`); the same
        parts give the same entry object.
        """
        key = tuple(map(id, parts))
        entry = self.entries.get(key)
        if entry is not None:
            return entry
        findings = tuple(itertools.chain.from_iterable(parts))
        if not any(x.severity in (f.BLOCKER, f.UNKNOWN) for x in findings):
            entry = findings, None
        else:
            entry = findings, tuple(
                (tuple(x for x in findings if x.blocks(kind)),
                 tuple(x for x in findings if x.leaves_open(kind)))
                for kind in (LIVE, COLD))
        self.entries[key] = entry
        return entry

    def _rule(self, rule_id, rule, key, server, reads_source, dest):
        """One rule's findings (``dest`` None: the rule reads none).

        Equal findings are one tuple object.
        """
        full = (rule_id, key, server.host if reads_source else None,
                dest.name if dest is not None else None)
        found = self.rule_results.get(full)
        if found is None:
            source = self.snapshot.hosts.get(server.host) \
                if reads_source else None
            found = tuple(rule(server, source, dest, self.snapshot))
            found = self.rule_results[full] = self.interned.setdefault(
                found, found)
        return found

    def prepare(self, server):
        """``(signature id, segments)`` of one server.

        A segment is ``(entry, None)`` for consecutive rules that read no
        host or ``(None, (run id, members))`` for consecutive rules that
        read the source or the destination.
        """
        snapshot = self.snapshot
        segments = []
        for reads_host, layout in self.layout:
            members = [(rule_id, rule,
                        dep.server(server, snapshot) if dep.server else None,
                        dep.source, dep.dest)
                       for rule_id, rule, dep in layout]
            if reads_host:
                signature = tuple(
                    (rule_id, key, server.host if reads_source else None)
                    for rule_id, _rule, key, reads_source, _d in members)
                run_id = self.run_ids.setdefault(signature,
                                                 len(self.run_ids))
                segments.append((None, (run_id, members)))
            else:
                segments.append((self._entry([
                    self._rule(rule_id, rule, key, server, False, None)
                    for rule_id, rule, key, _s, _d in members]), None))
        segments.append((self.cloud, None))
        signature = tuple(run[0] if entry is None else id(entry)
                          for entry, run in segments)
        return (self.signatures.setdefault(signature, len(self.signatures)),
                segments)

    def evaluate(self, server, prepared, destination):
        signature, segments = prepared
        made = self.made.get((signature, destination))
        if made is None:
            made = self.made[signature, destination] = self._join(
                [self._run_entry(server, run, destination)
                 if entry is None else entry for entry, run in segments])
        findings, live, cold = made
        return Evaluation(server, server.host, destination, findings,
                          live, cold, self.snapshot.cloud)

    def _run_entry(self, server, run, destination):
        run_id, members = run
        entry = self.run_results.get((run_id, destination))
        if entry is None:
            dest = self.snapshot.hosts[destination]
            entry = self.run_results[run_id, destination] = self._entry([
                self._rule(rule_id, rule, key, server, reads_source,
                           dest if reads_dest else None)
                for rule_id, rule, key, reads_source, reads_dest
                in members])
        return entry

    def _join(self, entries):
        """(findings, live verdict, cold verdict) of entries, in order."""
        findings = tuple(itertools.chain.from_iterable(e[0]
                                                       for e in entries))
        open_ = [e[1] for e in entries if e[1] is not None]
        if not open_:
            return (findings,) + self.clear
        key = tuple(map(id, open_))
        verdicts = self.verdicts.get(key)
        if verdicts is None:
            join = itertools.chain.from_iterable
            verdicts = self.verdicts[key] = tuple(
                Verdict(kind, kind in self.kinds,
                        tuple(join(o[i][0] for o in open_)),
                        tuple(join(o[i][1] for o in open_)))
                for i, kind in enumerate((LIVE, COLD)))
        return (findings,) + verdicts


def precheck(snapshot, server_ids, destinations=None, kinds=(LIVE, COLD)):
    """Evaluate each server against each destination (default: all).

    Returns a list of :class:`Evaluation`, servers in the given order,
    destinations sorted by name; each equal to what :func:`evaluate`
    returns for that pair.  A rule result is computed once per distinct
    input (see :class:`_Shared`): the cost grows with servers x
    destinations, but the rules run about once per flavor, state and host
    pair.
    """
    shared = _Shared(snapshot, kinds)
    result = []
    for server_id in server_ids:
        server = snapshot.servers[server_id]
        if destinations is None:
            dests = destinations_for(snapshot, server_id)
        else:
            dests = list(destinations)
        prepared = shared.prepare(server)
        for dest in dests:
            result.append(shared.evaluate(server, prepared, dest))
    return result


def server_allowed(evaluations, server_id):
    """True when some evaluation of ``server_id`` allows a migration."""
    return any(e.allowed for e in evaluations if e.server.id == server_id)


@dataclasses.dataclass(frozen=True)
class Move:
    """One planned move of :func:`plan`."""

    server_id: str
    kind: str | None
    destination: str | None
    evaluation: Evaluation | None
    candidates: tuple = ()
    reason: str = ''


def _debit(snapshot, server, destination):
    """The snapshot after ``server`` moved to ``destination``."""
    return debit.debit(snapshot, server, destination)


def plan(snapshot, server_ids, destinations=None, kinds=(LIVE, COLD)):
    """Choose a migration type and destination for each server.

    Live is preferred over cold.  Among allowed destinations, certain
    ones (verdict ``yes``) before ``maybe`` ones, then the one with the
    most free RAM wins (ties: name).  Each chosen move
    debits the destination's capacity and updates server group member
    hosts before the next server is planned.  Returns a list of
    :class:`Move`; ``kind`` is ``None`` for a server that cannot move.
    """
    moves = []
    for server_id in server_ids:
        server = snapshot.servers[server_id]
        # One server per snapshot (each move debits it): nothing to share,
        # the plain path is the cheaper one.
        dests = destinations_for(snapshot, server_id) \
            if destinations is None else list(destinations)
        evs = [evaluate(snapshot, server_id, dest, kinds) for dest in dests]
        chosen = None
        for kind in (LIVE, COLD):
            if kind not in kinds:
                continue
            ok = [e for e in evs if e.verdict(kind).allowed]
            if ok:
                ok.sort(key=lambda e: (not e.verdict(kind).certain,
                                       -_free_ram(snapshot, e.destination),
                                       e.destination))
                chosen = Move(server_id, kind, ok[0].destination, ok[0],
                              tuple(e.destination for e in ok))
                break
        if chosen is None:
            reasons = sorted({b.message for e in evs for b in e.blockers})
            moves.append(Move(server_id, None, None, None, (),
                              '; '.join(reasons) or 'no destination'))
            continue
        moves.append(chosen)
        snapshot = _debit(snapshot, server, chosen.destination)
    return moves


def _free_ram(snapshot, name):
    host = snapshot.hosts[name]
    if host.inventory and 'MEMORY_MB' in host.inventory:
        return host.inventory['MEMORY_MB'].free
    if host.free_ram_mb is not None:
        return host.free_ram_mb
    return 0
