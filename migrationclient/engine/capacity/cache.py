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
