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

"""The drain's data: options, servers, report entries, their states.

Item states and move kinds are :class:`enum.StrEnum` members: each *is*
its string (``State.DONE == 'done'``), so the JSON report and the
messages read exactly as with plain strings.
"""

import dataclasses
import enum

from migrationclient._i18n import _
from migrationclient import errors
from migrationclient import exitcodes


__all__ = (
    'Kind',
    'State',
    'LIVE',
    'COLD',
    'NONE',
    'SKIP',
    'PENDING',
    'SUBMITTED',
    'MIGRATING',
    'CONFIRMING',
    'DONE',
    'UNCONFIRMED',
    'FAILED',
    'ABORTED',
    'TIMEOUT',
    'SKIPPED',
    'NOTHING',
    'NOT_STARTED',
    'LEFT_HOST',
    'APPEARED',
    'IN_FLIGHT',
    'MOVED',
    'FAILURES',
    'ON_STUCK',
    'ON_INTERRUPT',
    'RECORD_GRACE',
    'CHECK_POLLS',
    'SUBMIT_THREADS',
    'API_ERROR_POLLS',
    'API_OUTAGE_BUDGET',
    'API_BACKOFF_MAX',
    'TOKEN_MARGIN',
    'REQUEST_TIME',
    'TRANSIENT_STATUSES',
    'FINAL_WRITES',
    'TRANSIENT_REQUEUES',
    'MIGRATION_TASKS',
    'DrainError',
    'Options',
    'ServerInfo',
    'Item',
    'report_item',
    'remaining',
    'exit_status',
    'summary',
)


class Kind(enum.StrEnum):
    """What the drain does with a server."""

    LIVE = 'live'
    COLD = 'cold'
    NONE = 'none'          # nothing to move (shelved offloaded)
    SKIP = 'skip'          # should move but cannot: the operator must act


class State(enum.StrEnum):
    """Where one server of a drain is (its report entry's ``state``)."""

    PENDING = 'pending'            # planned, not submitted
    SUBMITTED = 'submitted'        # request accepted, no record seen yet
    MIGRATING = 'migrating'        # migration record in progress
    CONFIRMING = 'confirming'      # cold: confirm sent
    DONE = 'done'
    UNCONFIRMED = 'unconfirmed'    # cold, --no-confirm: VERIFY_RESIZE
    FAILED = 'failed'
    ABORTED = 'aborted'            # aborted (stuck, timeout, interrupt)
    TIMEOUT = 'timeout'
    SKIPPED = 'skipped'
    NOTHING = 'nothing-to-move'
    NOT_STARTED = 'not-started'    # pending when the drain stopped
    LEFT_HOST = 'left-host'        # resume: moved off the host by others
    APPEARED = 'appeared'          # on the host at the final re-list


LIVE, COLD, NONE, SKIP = Kind.LIVE, Kind.COLD, Kind.NONE, Kind.SKIP

PENDING = State.PENDING
SUBMITTED = State.SUBMITTED
MIGRATING = State.MIGRATING
CONFIRMING = State.CONFIRMING
DONE = State.DONE
UNCONFIRMED = State.UNCONFIRMED
FAILED = State.FAILED
ABORTED = State.ABORTED
TIMEOUT = State.TIMEOUT
SKIPPED = State.SKIPPED
NOTHING = State.NOTHING
NOT_STARTED = State.NOT_STARTED
LEFT_HOST = State.LEFT_HOST
APPEARED = State.APPEARED

IN_FLIGHT = (SUBMITTED, MIGRATING, CONFIRMING)
#: states of a server that is off the source host (as the drain wanted)
MOVED = (DONE, UNCONFIRMED)
#: states that count against --max-failures
FAILURES = (FAILED, ABORTED, TIMEOUT)

ON_STUCK = ('abort', 'force-complete', 'wait')
ON_INTERRUPT = ('abort', 'wait')

#: seconds to wait for a migration record to appear after a 202
RECORD_GRACE = 60.0
#: polls in a row a server may disagree with its ended migration (host,
#: status, task) before the drain calls the migration failed
CHECK_POLLS = 5
#: migration requests of one round sent at the same time (each in a
#: thread while Nova's pre-checks run; the limits decide how many start),
#: and servers read together after their migrations ended (check.py);
#: 10, the connections a requests session keeps per host
SUBMIT_THREADS = 10
#: polls in a row that may fail (after the libraries' own retries) before
#: the drain stops watching; the migrations keep running in the cloud
API_ERROR_POLLS = 5
#: seconds the cloud API may fail (every poll, after the libraries' own
#: retries) before the drain stops watching: a restart of Nova's API behind
#: a load balancer lasts seconds to minutes; the migrations keep running
API_OUTAGE_BUDGET = 300
#: longest wait between two polls while the API fails (the wait doubles)
API_BACKOFF_MAX = 30.0
#: token auth: no migration starts this many seconds (at least; longer when
#: a migration of this drain took longer) before the token expires
TOKEN_MARGIN = 60.0
#: token auth: watching ends one poll interval and this many seconds
#: before the token expires (the last poll and report write)
REQUEST_TIME = 5.0
#: HTTP statuses of a request refused by a failing API (a gateway, an API
#: restarting), not by Nova's decision about the server: the server is
#: started again later, at most TRANSIENT_REQUEUES times in a row.  A 500
#: is Nova failing on this server: ``failed``.
TRANSIENT_STATUSES = (429, 502, 503, 504)
TRANSIENT_REQUEUES = 3
#: attempts (1 s apart) to write the final report
FINAL_WRITES = 3

#: task states of a server whose migration Nova accepted
MIGRATION_TASKS = ('migrating', 'resize_prep', 'resize_migrating',
                   'resize_migrated', 'resize_finish')


class DrainError(errors.Error):
    """A drain cannot start or continue: one clear line for the user."""


@dataclasses.dataclass
class Options:
    max_parallel: int = 2
    max_per_target: int = 1
    target_hosts: tuple = ()         # operator's destinations (any order)
    no_live: bool = False
    confirm: bool = True
    stuck_after: float | None = None
    on_stuck: str = 'abort'
    timeout: float | None = None
    max_failures: int = 1            # 0: never stop for failures
    retry: bool = False
    on_interrupt: str = 'abort'
    grace_period: float = 60.0
    poll_interval: float = 2.0
    allow_partial: bool = False
    progress_interval: float | None = None   # None: from stuck_after
    #: live migrations at once per source (Nova's [DEFAULT]
    #: max_concurrent_live_migrations); None: live_limits, else 1
    max_live_per_source: int | None = None
    #: host -> max_concurrent_live_migrations read from its nova.conf
    live_limits: dict = dataclasses.field(default_factory=dict)

    def to_dict(self):
        data = dataclasses.asdict(self)
        data['target_hosts'] = list(self.target_hosts)
        return data


@dataclasses.dataclass
class ServerInfo:
    """The server fields the drain policy reads."""

    id: str
    name: str
    project_id: str | None
    host: str
    status: str
    task_state: str | None = None

    @classmethod
    def from_sdk(cls, server):
        return cls(id=server.id, name=server.name or '',
                   project_id=server.project_id,
                   host=server.compute_host,
                   status=(server.status or '').upper(),
                   task_state=server.task_state)


@dataclasses.dataclass
class Item:
    """One server of a drain, as planned and as it went: a report entry."""

    id: str
    name: str
    project_id: str | None
    original_host: str
    original_status: str
    action: str
    reason: str = ''
    candidates: tuple | None = None       # allowed destinations
    #: the capacity plan's destination (the drain names it unless the
    #: scheduler picks: --max-per-target 0, an old cloud)
    planned: str | None = None
    #: re-plans of this server: ``{'why', 'from', 'to'}`` each
    replanned: list = dataclasses.field(default_factory=list)
    state: str = PENDING
    destination: str | None = None        # host asked for, None: scheduler
    final_host: str | None = None
    migration_id: object = None
    migration_uuid: str | None = None
    migration_status: str | None = None
    error: str | None = None
    attempts: int = 0
    excluded: tuple = ()
    submitted_at: str | None = None
    finished_at: str | None = None
    duration: float | None = None
    # runtime only (not in the report)
    t_submit: float | None = dataclasses.field(default=None, repr=False)
    stage: str | None = dataclasses.field(default=None, repr=False)
    no_destination: bool = dataclasses.field(default=False, repr=False)
    #: polls since the migration ended whose server check disagreed
    check_polls: int = dataclasses.field(default=0, repr=False)
    stuck_handled: bool = dataclasses.field(default=False, repr=False)
    timed_out: bool = dataclasses.field(default=False, repr=False)
    aborted_why: str | None = dataclasses.field(default=None, repr=False)
    read_errors: int = dataclasses.field(default=0, repr=False)
    #: memory copied (0-100) and seconds left of a live migration, from
    #: the watcher's byte counters (None: unknown, cold migrations)
    percent: float | None = dataclasses.field(default=None, repr=False)
    eta: float | None = dataclasses.field(default=None, repr=False)

    REPORT_KEYS = ('id', 'name', 'project_id', 'original_host',
                   'original_status', 'action', 'reason', 'planned',
                   'state',
                   'destination', 'final_host', 'migration_id',
                   'migration_uuid', 'migration_status', 'error', 'attempts',
                   'submitted_at', 'finished_at', 'duration')

    def to_dict(self):
        data = {k: getattr(self, k) for k in self.REPORT_KEYS}
        data['candidates'] = (list(self.candidates)
                              if self.candidates is not None else None)
        data['replanned'] = [dict(r) for r in self.replanned]
        return data

    @classmethod
    def from_dict(cls, data):
        known = {k: data.get(k) for k in cls.REPORT_KEYS if k in data}
        known.setdefault('name', '')
        known.setdefault('project_id', None)
        known.setdefault('original_status', '')
        known['attempts'] = int(known.get('attempts') or 0)
        known['reason'] = known.get('reason') or ''
        cands = data.get('candidates')
        known['candidates'] = tuple(cands) if cands is not None else None
        known['replanned'] = [dict(r) for r in data.get('replanned') or ()]
        return cls(**known)


def report_item(name):
    """A pseudo item for events about the drain itself (report, cloud)."""
    return Item(id='-', name=name, project_id=None, original_host='-',
                original_status='', action='-')


def remaining(items):
    """Items whose server is still on its source host and should move."""
    return [i for i in items if i.action != NONE and
            i.state not in MOVED + (LEFT_HOST,)]


def exit_status(items, interrupted=False):
    """The drain's exit status (documented in exitcodes)."""
    left = remaining(items)
    if not left:
        return exitcodes.OK
    if interrupted:
        return exitcodes.DRAIN_INTERRUPTED
    if all(i.state == TIMEOUT for i in left):
        return exitcodes.TIMEOUT
    return exitcodes.DRAIN_INCOMPLETE


def summary(items):
    """'4/12 moved, 2 running, 1 failed' (counts that are not 0)."""
    todo = [i for i in items if i.action != NONE]
    moved = sum(1 for i in todo if i.state in MOVED)
    parts = ['%d/%d %s' % (moved, len(todo), _('moved'))]
    for label, states in ((_('running'), IN_FLIGHT),
                          (_('failed'), FAILURES),
                          (_('skipped'), (SKIPPED,)),
                          (_('not started'), (NOT_STARTED,)),
                          (_('appeared'), (APPEARED,)),
                          (_('waiting'), (PENDING,))):
        count = sum(1 for i in todo if i.state in states)
        if count:
            parts.append('%d %s' % (count, label))
    return ', '.join(parts)
