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

Pure (no I/O).  Input is a :class:`~migrationclient.constraints.facts.
Snapshot` (built by :func:`migrationclient.cloud.facts.gather`, or by hand
in tests).  API for commands (``migration precheck``, ``compute drain``)::

    from migrationclient.constraints import engine

    ev = engine.evaluate(snapshot, server_id, 'compute2')
    ev.live.allowed, ev.cold.allowed       # bool: no blocker found
    ev.live.certain                        # and nothing decisive unknown
    ev.live.label                          # 'yes' / 'maybe' / 'no' / 'skipped'
    ev.blockers, ev.warnings               # lists of Finding
    ev.command(engine.LIVE)                # 'openstack server migrate ...'
    ev.preferred                           # 'live', 'cold' or None

    evs = engine.precheck(snapshot, [server_id, ...],
                          destinations=None)   # None: every other host

    moves = engine.plan(snapshot, [server_id, ...], destinations=None,
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
import shlex

from migrationclient.constraints import facts as f
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


def precheck(snapshot, server_ids, destinations=None, kinds=(LIVE, COLD)):
    """Evaluate each server against each destination (default: all).

    Returns a list of :class:`Evaluation`, servers in the given order,
    destinations sorted by name.
    """
    result = []
    for server_id in server_ids:
        if destinations is None:
            dests = destinations_for(snapshot, server_id)
        else:
            dests = list(destinations)
        for dest in dests:
            result.append(evaluate(snapshot, server_id, dest, kinds))
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
    host = snapshot.hosts[destination]
    hosts = dict(snapshot.hosts)
    if host.inventory is not None:
        inv = dict(host.inventory)
        needs = {'MEMORY_MB': server.flavor.ram,
                 'DISK_GB': server.local_disk_gb}
        cpu_class = 'PCPU' if (server.dedicated_cpus and 'PCPU' in inv) \
            else 'VCPU'
        needs[cpu_class] = server.flavor.vcpus
        for rc, amount in needs.items():
            if rc in inv and amount:
                inv[rc] = inv[rc].consume(amount)
        host = dataclasses.replace(host, inventory=inv)
    if host.free_ram_mb is not None:
        host = dataclasses.replace(
            host, free_ram_mb=host.free_ram_mb - server.flavor.ram)
    hosts[destination] = host
    servers = dict(snapshot.servers)
    servers[server.id] = dataclasses.replace(server, host=destination)
    groups = {}
    for sid, glist in snapshot.groups.items():
        new = []
        for g in glist:
            if server.id in g.member_hosts:
                mh = dict(g.member_hosts)
                mh[server.id] = destination
                g = dataclasses.replace(g, member_hosts=mh)
            new.append(g)
        groups[sid] = tuple(new)
    return dataclasses.replace(snapshot, hosts=hosts, servers=servers,
                               groups=groups)


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
        evs = precheck(snapshot, [server_id], destinations, kinds)
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
