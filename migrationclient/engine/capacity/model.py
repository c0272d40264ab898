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

"""The capacity plan's results: dataclasses, JSON-serialisable."""

import dataclasses
import functools

from migrationclient.constraints import evaluate as cengine
from migrationclient.constraints import model as f

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

    @functools.cached_property
    def _by_server(self):
        return {p.server_id: p for p in self.placements}

    def placement(self, server_id):
        """The server's :class:`Placement` (``KeyError``: not planned)."""
        return self._by_server[server_id]

    def to_dict(self):
        return {'drained': list(self.drained), 'feasible': self.feasible,
                'placed': sum(1 for p in self.placements if p.placed),
                'unplaced': len(self.unplaced),
                'placements': [p.to_dict() for p in self.placements],
                'destinations': [d.to_dict() for d in self.destinations],
                'headroom': self.headroom.to_dict() if self.headroom
                else None}
