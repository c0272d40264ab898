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

"""The constraint rules on the planner's debited facts, cached."""

import dataclasses

from migrationclient.constraints import evaluate as cengine
from migrationclient.constraints import model as f
from migrationclient.constraints import rules
from migrationclient.engine.capacity.model import COLD
from migrationclient.engine.capacity.model import LIVE


#: HostFacts fields a debit changes (:func:`migrationclient.constraints.
#: debit.host_after`)
DEBITED = frozenset(('inventory', 'free_ram_mb', 'running_vms',
                     'vcpus_used', 'host_side.numa_cells'))
#: fields read through a nested proxy
NESTED = frozenset(('host_side',))
#: HostFacts fields that name one host: findings that read one are not
#: shared by a host class (:meth:`Rules.host_class`)
IDENTITY = frozenset(('name', 'nodename', 'service_id', 'host_ip',
                      'provider_id'))
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


def _freeze(value):
    """A hashable value equal for equal values (type included)."""
    if isinstance(value, dict):
        return (dict, tuple(sorted((k, _freeze(v))
                                   for k, v in value.items())))
    if isinstance(value, list):
        return (list, tuple(_freeze(v) for v in value))
    if isinstance(value, tuple):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, set):
        return (set, frozenset(value))
    return value


def _fingerprint(host, prefix=''):
    """The host's facts but :data:`IDENTITY` and :data:`DEBITED`."""
    values = []
    for field in dataclasses.fields(host):
        name = prefix + field.name
        if name in IDENTITY or name in DEBITED:
            continue
        value = getattr(host, field.name)
        if name in NESTED and value is not None:
            value = (value.__class__, _fingerprint(value, name + '.'))
        values.append((field.name, _freeze(value)))
    return (host.__class__, tuple(values))


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
    """Findings of one rule input that read debited facts, at versions.

    Only the last run is kept: versions are drawn from one clock and a
    host's facts change with its version, so the findings of an older
    version are asked again only after a trial placement was undone (then
    they are run again: a miss, never a wrong answer).
    """

    __slots__ = ('versions', 'result')

    def __init__(self, versions, result):
        self.versions = versions
        self.result = result


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


class Rules:
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
    constraints.evaluate.evaluate` joins them.
    """

    def __init__(self, planner):
        self.planner = planner
        self.layout = [(rule_id, rule,
                        getattr(rule, 'depends', rules.EVERYTHING))
                       for rule_id, rule in rules.RULES]
        self.cache = {}
        self.parts = [()] * len(self.layout)
        #: (server id, group versions, findings per rule) of the last
        #: host-free findings
        self.last_free = (None, None, None)
        self.memo = {}
        # host name -> class number; fingerprint -> class number; findings
        # by (key, source class, destination class, group versions)
        self.classes, self.class_ids, self.by_class = {}, {}, {}
        #: the verdicts without a blocker or an unknown, shared
        self.plain = {}
        self.items = {}
        self.notes = tuple(f.Finding('cloud', f.WARNING, note, '', f.BOTH)
                           for note in planner.view.cloud.notes)
        #: (rule position, server key) -> its number in the cache's keys
        self.key_ids = {}
        #: per rule: position, id, rule, reads source, reads dest, key
        #: function, key when it reads no server fact, host rule (0 / 1),
        #: reads the server groups (its results are kept per version of
        #: the server's groups, which change as members are placed)
        self.compiled = []
        for pos, (rule_id, rule, dep) in enumerate(self.layout):
            fn = dep.server
            const = None if fn else self.key_ids.setdefault(
                (pos, None), len(self.key_ids))
            self.compiled.append((pos, rule_id, rule, bool(dep.source),
                                  bool(dep.dest), fn, const,
                                  int(bool(dep.source or dep.dest)),
                                  bool(dep.groups)))
        #: (key number, group versions) whose runs read debited facts
        self.debited = set()
        #: (key, source name or None, group versions) -> the findings of a
        #: run that read no fact of its destination: every destination's
        self.no_dest = {}

    def _items(self, server):
        """``(host-free rules, host rules)`` of the server, with keys.

        Each: (position, rule id, rule, reads source, reads dest, key,
        reads groups);
        the keys are computed once per server and stand for (rule
        position, key) as a number (cheap to hash in the cache's keys), or
        (position, server id) for the rules keyed by the server's id.
        """
        sid = server.id
        items = self.items.get(sid)
        if items is None:
            view = self.planner.view
            ids = self.key_ids
            items = self.items[sid] = ([], [])
            by_id = rules.server_id
            for pos, rule_id, rule, src, dst, fn, key, hosted, grp in \
                    self.compiled:
                if key is not None:
                    pass
                elif fn is by_id:
                    key = (pos, sid)
                else:
                    key = ids.setdefault((pos, fn(server, view)), len(ids))
                items[hosted].append((pos, rule_id, rule, src, dst, key,
                                      grp))
        return items

    def findings(self, server, dest_name, host_free=None):
        """Findings of the rules, in order.

        ``host_free``: True for the rules that read no host only (then
        ``dest_name`` may be None), False for those that read one.
        """
        p = self.planner
        gv = p.group_version(server.id)
        cache = self.cache
        free, hosted = self._items(server)
        last = self.last_free
        if host_free is False:
            parts = self.parts[:]
        elif last[0] == server.id and last[1] == gv:
            # the host-free findings just computed for this server
            parts = last[2][:]
        else:
            parts = self.parts[:]
            for pos, rule_id, rule, _s, _d, key, grp in free:
                g = gv if grp else None
                base = (key, None, None, g)
                entry = cache.get(base)
                if entry is None:
                    entry = self._run_host_free(server, rule_id, rule, base,
                                                g)
                parts[pos] = entry
            self.last_free = (server.id, gv, parts[:])
        if host_free:
            return [x for part in parts for x in part]
        version = p.version
        src_name = server.host
        for pos, rule_id, rule, reads_src, reads_dest, key, grp in hosted:
            g = gv if grp else None
            base = (key, src_name if reads_src else None,
                    dest_name if reads_dest else None, g)
            entry = cache.get(base)
            if entry.__class__ is not tuple:
                versions = (
                    version.get(src_name, 0) if reads_src else None,
                    version.get(dest_name, 0) if reads_dest else None)
                if entry is not None and entry.versions == versions:
                    entry = entry.result
                else:
                    entry = self._run(server, rule_id, rule, reads_src,
                                      reads_dest, key, base, entry,
                                      versions, dest_name, g)
            parts[pos] = entry
        return [x for part in parts for x in part]

    def _run(self, server, rule_id, rule, reads_src, reads_dest, key, base,
             entry, versions, dest_name, gv):
        p = self.planner
        source = p.hosts.get(server.host) if reads_src else None
        dest = p.hosts[dest_name] if reads_dest else None
        if entry is not None or (key, gv) in self.debited:
            # This input read debited facts before (on this or another
            # host): run it plainly, kept for the hosts' versions only.
            result = tuple(rule(server, source, dest, p.view))
            if entry is None:
                self.cache[base] = _Volatile(versions, result)
            else:
                entry.versions, entry.result = versions, result
            return result
        if reads_dest:
            # a run from this source that read nothing of its destination
            found = self.no_dest.get((key, base[1], gv))
            if found is not None:
                self.cache[base] = found
                return found
        # hosts of one class (equal facts but their identity and debits)
        # share the findings that read neither
        by_class = (key, self.host_class(source), self.host_class(dest), gv)
        result = self.by_class.get(by_class)
        if result is not None:
            self.cache[base] = result
            return result
        memo = self.memo.setdefault((key, gv), [])
        for src_items, dest_items, result in memo:
            if _matches(source, src_items) and _matches(dest, dest_items):
                self.cache[base] = result
                if reads_dest and not dest_items:
                    self.no_dest[key, base[1], gv] = result
                if not any(name in IDENTITY
                           for name, _v in src_items + dest_items):
                    self.by_class[by_class] = result
                return result
        src_proxy = _Reads(source) if source is not None else None
        dest_proxy = _Reads(dest) if dest is not None else None
        result = tuple(rule(server, src_proxy, dest_proxy, p.view))
        src_items = src_proxy.items() if src_proxy is not None else ()
        dest_items = dest_proxy.items() if dest_proxy is not None else ()
        read = [name for name, _v in src_items + dest_items]
        if not any(name in DEBITED for name in read):
            self.cache[base] = result
            if reads_dest and not dest_items:
                # the same for every destination of this source
                self.no_dest[key, base[1], gv] = result
            # a result that read a host's name is that host's only
            if len(memo) < MEMO and 'name' not in read:
                memo.append((src_items, dest_items, result))
            if not any(name in IDENTITY for name in read):
                self.by_class[by_class] = result
        else:
            self.debited.add((key, gv))
            self.cache[base] = _Volatile(versions, result)
        return result

    def host_class(self, host):
        """A number shared by hosts with equal facts (``None``: no host).

        Equal in every fact but :data:`IDENTITY` and :data:`DEBITED` (a
        debit changes no other fact); a host whose facts do not freeze
        into a hashable value is a class of its own.
        """
        if host is None:
            return None
        found = self.classes.get(host.name)
        if found is None:
            try:
                fingerprint = _fingerprint(host)
                hash(fingerprint)
            except TypeError:
                fingerprint = ('host', host.name)
            found = self.classes[host.name] = self.class_ids.setdefault(
                fingerprint, len(self.class_ids))
        return found

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
        plain = self.plain

        def verdict(kind):
            if not bad:
                # immutable: one per kind and checked
                found = plain.get((kind, kind in kinds))
                if found is None:
                    found = plain[kind, kind in kinds] = cengine.Verdict(
                        kind, kind in kinds)
                return found
            return cengine.Verdict(
                kind, kind in kinds,
                tuple(x for x in bad if x.blocks(kind)),
                tuple(x for x in bad if x.leaves_open(kind)))

        return cengine.Evaluation(server, server.host, dest_name, findings,
                                  verdict(LIVE), verdict(COLD),
                                  self.planner.view.cloud)
