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

"""The drain engine: move every server off one or more compute hosts.

Seed 8.3 to 8.7 as one job: plan, then run the moves with bounded
concurrency, confirm cold migrations, handle stuck and failed migrations,
keep a report that accounts for every server, resume, restore.

It stands on two libraries and duplicates neither: the constraint library
(:func:`migrationclient.constraints.evaluate.plan` over
:func:`migrationclient.cloud.gather.gather`) says where each server may go
live or cold; the watching engine (:class:`migrationclient.engine.watch.
Watcher`, one per source host: one ``GET /os-migrations`` per poll and
host, byte progress of running live migrations, stuck detection, failure
reasons from instance action events) follows the migrations.  Its own
cloud calls (submit, confirm, read a server) go through :class:`Actions`
over the SDK compute proxy, so the state machine is unit-tested against an
in-memory compute.

API (used by ``openstack compute drain`` and ``tools/demo.py``)::

    from migrationclient.engine import drain

    job = drain.Job(compute, conn, ['compute1'], drain.Options(...),
                    report_path=None, disable_reason=None,
                    enable_when_done=False, target_aggregate=None,
                    resume=None, on_event=drain.ProgressLog(sys.stderr))
    items = job.prepare()          # resolve, health gate, plan; no change
    status = job.execute()         # disable, run, report -> exit status
    drain.RestoreJob(compute, conn, report_file, options,
                     enable_service=True).prepare() / .execute()

Pure parts: :func:`plan_server` / :func:`plan` (drain policy per server),
:class:`Slots` (``max_parallel`` per source, ``max_per_target`` per
destination, global across the drain; least busy allowed destination),
:class:`Item` (one server's report entry), :func:`merge_previous` (resume),
:func:`exit_status`, :func:`summary`.

"Done" for a server (the only success): its migration record reached
``completed`` (live) or ``confirmed`` (cold), its host is no longer the
source and its status is the one it had before.  A live migration that
rolled back (ACTIVE, still on the source) is a failure.
"""

from concurrent import futures
import dataclasses
import os
import signal
import time

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from migrationclient._i18n import _
from migrationclient.cloud import errors as cloud_errors
from migrationclient.cloud import gather as cloud_facts
from migrationclient.cloud import migrations
from migrationclient.cloud import sdkfix
from migrationclient.cloud import services as services_mod
from migrationclient.constraints import evaluate as cengine
from migrationclient.engine import report as report_mod
from migrationclient.engine import watch
from migrationclient import exitcodes
from migrationclient import microversions as mv

# Actions.
LIVE = 'live'
COLD = 'cold'
NONE = 'none'          # nothing to move (shelved offloaded)
SKIP = 'skip'          # should move but cannot: the operator must act

# Item states.
PENDING = 'pending'            # planned, not submitted
SUBMITTED = 'submitted'        # request accepted, no record seen yet
MIGRATING = 'migrating'        # migration record in progress
CONFIRMING = 'confirming'      # cold: confirm sent
DONE = 'done'
UNCONFIRMED = 'unconfirmed'    # cold, --no-confirm: VERIFY_RESIZE on dest
FAILED = 'failed'
ABORTED = 'aborted'            # aborted (stuck, timeout, interrupt)
TIMEOUT = 'timeout'
SKIPPED = 'skipped'
NOTHING = 'nothing-to-move'
NOT_STARTED = 'not-started'    # pending when the drain stopped
LEFT_HOST = 'left-host'        # resume: moved off the host by someone else

IN_FLIGHT = (SUBMITTED, MIGRATING, CONFIRMING)
#: states of a server that is off the source host (as the drain wanted)
MOVED = (DONE, UNCONFIRMED)
#: states that count against --max-failures
FAILURES = (FAILED, ABORTED, TIMEOUT)

ON_STUCK = ('abort', 'force-complete', 'wait')
ON_INTERRUPT = ('abort', 'wait')

LIVE_STATUSES = ('ACTIVE', 'PAUSED')
COLD_STATUSES = ('ACTIVE', 'SHUTOFF')

#: seconds to wait for a migration record to appear after a 202
RECORD_GRACE = 60.0
#: polls a "completed" record may disagree with the server's host
SETTLE_POLLS = 5
#: migration requests of one round sent at the same time (each in a
#: thread while Nova's pre-checks run; the limits decide how many start)
SUBMIT_THREADS = 8
#: polls in a row that may fail (after the libraries' own retries) before
#: the drain stops watching; the migrations keep running in the cloud
API_ERROR_POLLS = 5


class DrainError(ValueError):
    """A drain cannot start or continue: one clear line for the user."""


# ---------------------------------------------------------------------------
# Options and plan
# ---------------------------------------------------------------------------

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
    percent: float | None = None
    # runtime only (not in the report)
    t_submit: float | None = dataclasses.field(default=None, repr=False)
    stage: str | None = dataclasses.field(default=None, repr=False)
    no_destination: bool = dataclasses.field(default=False, repr=False)
    settle: int = dataclasses.field(default=0, repr=False)
    stuck_handled: bool = dataclasses.field(default=False, repr=False)
    timed_out: bool = dataclasses.field(default=False, repr=False)
    aborted_why: str | None = dataclasses.field(default=None, repr=False)
    read_errors: int = dataclasses.field(default=0, repr=False)

    REPORT_KEYS = ('id', 'name', 'project_id', 'original_host',
                   'original_status', 'action', 'reason', 'state',
                   'destination', 'final_host', 'migration_id',
                   'migration_uuid', 'migration_status', 'error', 'attempts',
                   'submitted_at', 'finished_at', 'duration')

    def to_dict(self):
        data = {k: getattr(self, k) for k in self.REPORT_KEYS}
        data['candidates'] = (list(self.candidates)
                              if self.candidates is not None else None)
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
        return cls(**known)

    @property
    def settled(self):
        return self.state not in IN_FLIGHT and self.state != PENDING


def plan_server(server, move, options):
    """Decide what the drain does with one server: an :class:`Item`.

    :param server: :class:`ServerInfo`
    :param move: the constraint library's ``Move`` for this server
        (:func:`migrationclient.constraints.evaluate.plan`: ``kind`` live /
        cold / None, ``candidates`` allowed destinations, ``reason`` why
        none), or None when it was not evaluated (state alone decides and
        the scheduler checks every destination).
    """
    item = Item(id=server.id, name=server.name,
                project_id=server.project_id, original_host=server.host,
                original_status=server.status, action=SKIP)
    status = server.status
    if status == 'SHELVED_OFFLOADED':
        item.action, item.state = NONE, NOTHING
        item.reason = _('shelved offloaded: nothing on the host')
        return item
    if server.task_state:
        item.state = SKIPPED
        item.reason = _('task in progress (%s): wait for it, then run the '
                        'drain again') % server.task_state
        return item
    if status == 'ERROR':
        item.state = SKIPPED
        item.reason = _('server is in ERROR: check it and reset its state, '
                        'then run the drain again')
        return item
    if status not in LIVE_STATUSES + COLD_STATUSES:
        item.state = SKIPPED
        item.reason = _('status %s cannot be migrated (live needs ACTIVE '
                        'or PAUSED, cold ACTIVE or SHUTOFF)') % status
        return item
    if move is None:
        if status in LIVE_STATUSES and not options.no_live:
            item.action = LIVE
            item.reason = _('%s: live migration') % status
        elif status in COLD_STATUSES:
            item.action = COLD
            item.reason = (_('SHUTOFF: cold migration') if status ==
                           'SHUTOFF' else _('--no-live: cold migration, '
                                            'the guest restarts'))
        else:
            item.state = SKIPPED
            item.reason = _('%s: live migration excluded by --no-live, '
                            'cold needs ACTIVE or SHUTOFF') % status
        return item
    if move.kind is None:
        item.state = SKIPPED
        item.no_destination = True
        item.reason = _('no destination can take it: %s') % (
            move.reason or _('no allowed destination'))
        return item
    item.action = LIVE if move.kind == 'live' else COLD
    item.candidates = tuple(move.candidates) or None
    if item.action == LIVE:
        item.reason = _('%s: live migration') % status
    elif status == 'SHUTOFF':
        item.reason = _('SHUTOFF: cold migration')
    elif options.no_live:
        item.reason = _('--no-live: cold migration, the guest restarts')
    else:
        item.reason = _('cannot go live: cold migration, the guest '
                        'restarts')
    return item


def plan(servers, moves, options):
    """Plan every server: a list of :class:`Item`, in a stable order.

    :param moves: ``{server id: Move}`` from the constraint library.
    Live migrations first (their guests keep running), then cold ones,
    then what is not moved; by name within each group.
    """
    items = [plan_server(s, moves.get(s.id), options) for s in servers]
    order = {LIVE: 0, COLD: 1, SKIP: 2, NONE: 3}
    items.sort(key=lambda i: (order[i.action], i.name, i.id))
    return items


def kinds_for(server, options):
    """Migration types the constraint library may choose for ``server``."""
    if server.status in LIVE_STATUSES and not options.no_live:
        return ('live', 'cold')
    return ('cold',)


def destination_label(item, options, can_name):
    """What ``--dry-run`` prints as the destination of ``item``."""
    if item.action not in (LIVE, COLD):
        return '-'
    if item.destination:
        return item.destination
    if not can_name(item.action) or (options.max_per_target == 0 and
                                     not options.target_hosts):
        return 'scheduler'
    if item.candidates is None:
        return _('scheduler-checked, least busy host')
    if len(item.candidates) == 1:
        return item.candidates[0]
    return _('least busy of: %s') % ', '.join(sorted(item.candidates))


def unusable_hosts(services):
    """``{host: why}`` of the nova-compute services a drain cannot use now.

    A destination must be up (not forced down) and enabled: the scheduler
    refuses a named host that is not (NoValidHost after a 202).

    :param services: list of :class:`services.ComputeService`
    """
    out = {}
    for svc in services:
        if not svc.is_up:
            out[svc.host] = _('nova-compute is %s') % (
                _('forced down') if svc.forced_down else svc.state)
        elif not svc.is_enabled:
            out[svc.host] = _('nova-compute is disabled (%s)') % (
                svc.disabled_reason or '-')
    return out


def usable_pool(pool, candidates, known, unusable):
    """Drop the destinations that are unusable now from one submission.

    :param pool: every destination of the drain (scheduler placement)
    :param candidates: the server's allowed destinations, None for any
    :param known: hosts that have a nova-compute service now
    :param unusable: ``{host: why}`` (:func:`unusable_hosts`)
    :returns: ``(pool, candidates, dropped)``; ``dropped`` is
        ``{host: why}`` of the server's possible destinations taken out
        (its candidates, or the pool when it has none); ``candidates``
        stays None when it was None (the scheduler skips such hosts
        itself).
    """
    def bad(host):
        if host in unusable:
            return unusable[host]
        if known is not None and host not in known:
            return _('no nova-compute service')
        return None

    mine = pool if candidates is None else candidates
    dropped = {h: bad(h) for h in mine if bad(h)}
    pool = tuple(h for h in pool if not bad(h))
    if candidates is not None:
        candidates = tuple(h for h in candidates if not bad(h))
    return pool, candidates, dropped


# ---------------------------------------------------------------------------
# Concurrency
# ---------------------------------------------------------------------------

class Slots:
    """Concurrency limits of one drain (global across its source hosts).

    ``max_parallel`` in-flight migrations per source host and
    ``max_per_target`` per destination (0: no limit).  A migration whose
    destination the scheduler picks is "unplaced" until its record names
    the destination; while one is unplaced, no other scheduler-placed
    migration starts, and one starts only when every candidate host has a
    free slot, so the per-target limit holds whatever the scheduler does.
    """

    def __init__(self, max_parallel, max_per_target):
        self.max_parallel = max_parallel
        self.max_per_target = max_per_target
        self.source = {}      # item id -> source
        self.target = {}      # item id -> target or None (unplaced)
        self.received = {}    # target -> migrations started towards it

    def count_source(self, host):
        return sum(1 for s in self.source.values() if s == host)

    def count_target(self, host):
        return sum(1 for t in self.target.values() if t == host)

    @property
    def unplaced(self):
        return sum(1 for t in self.target.values() if t is None)

    def source_free(self, host):
        return (not self.max_parallel or
                self.count_source(host) < self.max_parallel)

    def target_free(self, host):
        return (not self.max_per_target or
                self.count_target(host) < self.max_per_target)

    def choose(self, source, candidates, can_name, all_hosts):
        """Return ``(ok, target)`` for a migration from ``source``.

        :param candidates: allowed destinations, None for any host
        :param can_name: the cloud accepts a destination for this move
        :param all_hosts: every possible destination (for None candidates)
        """
        if not self.source_free(source):
            return False, None
        pool = list(all_hosts if candidates is None else candidates)
        pool = [h for h in pool if h != source]
        if candidates is not None and not pool:
            return False, None
        if not self.max_per_target:
            if candidates is not None and can_name and \
                    len(pool) < len(all_hosts):
                return True, self._least_busy(pool)
            return True, None
        if can_name and pool:
            free = [h for h in pool if self.target_free(h)]
            if not free:
                return False, None
            return True, self._least_busy(free)
        # Scheduler placement under a per-target limit: be conservative.
        if self.unplaced or not all(self.target_free(h) for h in pool):
            return False, None
        return True, None

    def _least_busy(self, hosts):
        return min(hosts, key=lambda h: (self.count_target(h),
                                         self.received.get(h, 0), h))

    def start(self, item_id, source, target):
        self.source[item_id] = source
        self.target[item_id] = target
        if target:
            self.received[target] = self.received.get(target, 0) + 1

    def place(self, item_id, target):
        if item_id in self.target and self.target[item_id] is None and \
                target:
            self.target[item_id] = target
            self.received[target] = self.received.get(target, 0) + 1

    def finish(self, item_id):
        self.source.pop(item_id, None)
        self.target.pop(item_id, None)


# ---------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------

class CloudError(Exception):
    """A cloud call of the drain was refused or got no answer (one line).

    ``status``: the HTTP status of the refusal, None when there was none;
    ``no_answer``: the connection failed after keystoneauth's own retries
    (``connect_retries``), so the request may or may not have reached
    Nova.
    """

    def __init__(self, message, status=None, no_answer=False):
        super().__init__(message)
        self.status = status
        self.no_answer = no_answer

    @property
    def maybe_processed(self):
        """The cloud may have acted on the request despite the error.

        A lost answer, a 5xx (a gateway or Nova failed after the request
        arrived) or a 409 "the server is migrating" (the answer to a first
        request was lost and keystoneauth sent it again).
        """
        return self.no_answer or self.status == 409 or (
            self.status is not None and self.status >= 500)


def _cloud_error(exc):
    if isinstance(exc, ks_exc.ConnectionError):
        return CloudError(_one_line(exc), no_answer=True)
    return CloudError(_one_line(exc),
                      status=getattr(exc, 'status_code', None))


#: errors of a cloud call after the libraries' own retries: openstacksdk
#: wraps HTTP errors, keystoneauth's connection errors come through as
#: they are.
CALL_ERRORS = (sdk_exc.SDKException, ks_exc.ClientException)

#: task states of a server whose migration Nova accepted
MIGRATION_TASKS = ('migrating', 'resize_prep', 'resize_migrating',
                   'resize_migrated', 'resize_finish')


class Actions:
    """The drain's own cloud calls (submit, confirm, read a server).

    Everything else (following migrations, abort, force-complete, failure
    reasons) is the watching engine's (:mod:`migrationclient.engine.watch`).
    """

    def __init__(self, compute, version=None):
        self.compute = compute
        self.version = version or migrations.api_version(compute)

    def can_name_host(self, action):
        return can_name_host(self.version, action)

    def live_migrate(self, server_id, host):
        self._call(self.compute.live_migrate_server, server_id, host=host,
                   block_migration='auto')

    def cold_migrate(self, server_id, host):
        if host:
            self._call(self.compute.migrate_server, server_id, host=host)
        else:
            self._call(self.compute.migrate_server, server_id)

    def confirm(self, server_id):
        self._call(self.compute.confirm_server_resize, server_id)

    def get_server(self, server_id):
        try:
            server = migrations.get_server(self.compute, server_id)
        except CALL_ERRORS as exc:
            raise _cloud_error(exc)
        if server is None:
            return None
        return ServerNow(status=(server.status or '').upper(),
                         host=server.compute_host,
                         task_state=server.task_state)

    def migration_records(self, server_id):
        try:
            return migrations.list_migrations(self.compute,
                                              server_id=server_id)
        except cloud_errors.CloudError as exc:
            raise CloudError(str(exc))
        except ks_exc.ClientException as exc:
            raise _cloud_error(exc)

    def compute_services(self):
        """Every nova-compute service (:class:`services.ComputeService`)."""
        try:
            return services_mod.list_compute_services(self.compute)
        except services_mod.ServiceError as exc:
            raise CloudError(str(exc))
        except CALL_ERRORS as exc:
            raise _cloud_error(exc)

    @staticmethod
    def _call(func, *args, **kwargs):
        try:
            func(*args, **kwargs)
        except ValueError as exc:
            raise CloudError(_one_line(exc))
        except CALL_ERRORS as exc:
            raise _cloud_error(exc)


def _one_line(exc):
    text = getattr(exc, 'details', None) or str(exc)
    return ' '.join(str(text).split())


@dataclasses.dataclass
class ServerNow:
    """A server as the drain checks it around a migration."""

    status: str
    host: str | None
    task_state: str | None

    def as_dict(self):
        return {'compute_host': self.host, 'status': self.status}


class Drain:
    """Run planned items: submit with bounded concurrency, follow, settle.

    :param actions: :class:`Actions` (or an object with its methods)
    :param watcher_for: ``callable(host) -> watch.Watcher`` scoped to one
        source host (one ``os-migrations`` list per poll and host)
    :param items: planned :class:`Item` list (settled ones are kept)
    :param report: report dict (:func:`report.new_report`), rewritten to
        ``report_path`` after every state change
    :param on_event: ``callback(item, text)`` for each state change
    :param dest_hosts: every possible destination host (for items whose
        candidates are not known)
    """

    def __init__(self, actions, watcher_for, items, options, report,
                 report_path=None, on_event=None, dest_hosts=(),
                 clock=time.monotonic, sleep=time.sleep,
                 write=report_mod.write_atomic):
        self.actions = actions
        self.watcher_for = watcher_for
        self.items = items
        self.options = options
        self.report = report
        self.report_path = report_path
        self.on_event = on_event or (lambda item, text: None)
        self.dest_hosts = tuple(dest_hosts)
        self.clock = clock
        self.sleep = sleep
        self.write = write
        self.slots = Slots(options.max_parallel, options.max_per_target)
        self.watchers = {}
        self.failures = 0
        self.write_error = None
        self.stop_reason = None
        self.interrupted = None
        self.interrupted_at = None
        self.hard_stop = False
        self._interrupt_aborts_done = False
        self.cycle = 0              # poll cycles so far
        self.api_errors = 0         # failed polls in a row
        self._poll_due = None       # clock() of the next poll, if any
        self._services_cycle = None
        self._services_view = None  # (known hosts, {host: why}) or None
        self._announced = {}        # destinations reported unusable

    # -- control -----------------------------------------------------------

    def request_stop(self, why='SIGINT'):
        """Stop submitting; a second call stops watching too."""
        if self.interrupted is None:
            self.interrupted = why
            self.interrupted_at = self.clock()
            if self.stop_reason is None:
                self.stop_reason = _('interrupted (%s)') % why
        else:
            self.hard_stop = True

    # -- bookkeeping -------------------------------------------------------

    def save(self, final_state=None):
        self.report['servers'] = [i.to_dict() for i in self.items]
        self.report['updated_at'] = report_mod.isotime()
        self.report['summary'] = summary(self.items)
        if final_state:
            self.report['state'] = final_state
            self.report['finished_at'] = report_mod.isotime()
        if self.report_path:
            try:
                self.write(self.report_path, self.report)
            except OSError as exc:
                # Keep draining (the migrations run anyway); say it once.
                if self.write_error is None:
                    self.write_error = str(exc)
                    self.on_event(self._report_item(), _(
                        'cannot write the report %(path)s: %(err)s') % {
                            'path': self.report_path, 'err': exc})

    def _report_item(self, name=None):
        return Item(id='-', name=name or _('report'), project_id=None,
                    original_host='-', original_status='', action='-')

    def _event(self, item, text):
        self.on_event(item, text)
        self.save()

    def in_flight(self):
        return [i for i in self.items if i.state in IN_FLIGHT]

    def pending(self):
        return [i for i in self.items if i.state == PENDING]

    def _by_server(self, server_id):
        for item in self.items:
            if item.id == server_id and item.state in IN_FLIGHT:
                return item
        return None

    def _settle(self, item, state, text, error=None):
        item.state = state
        item.stage = None
        if error is not None:
            item.error = error
        item.finished_at = report_mod.isotime()
        if item.t_submit is not None:
            item.duration = round(self.clock() - item.t_submit, 1)
        self.slots.finish(item.id)
        if state in FAILURES:
            self.failures += 1
            limit = self.options.max_failures
            if limit and self.failures >= limit and not self.stop_reason:
                self.stop_reason = _('%d failure(s): --max-failures '
                                     'reached') % self.failures
        self._event(item, text)

    def _watcher(self, host):
        w = self.watchers.get(host)
        if w is None:
            w = self.watcher_for(host)
            events = w.start()      # kept only once its baseline is read
            self.watchers[host] = w
            self._handle(w, events)
        return w

    def _ensure_watcher(self, host):
        """The watcher of ``host``, or None when the cloud failed."""
        try:
            return self._watcher(host)
        except POLL_ERRORS as exc:
            self._cloud_failed(host, exc)
            return None

    # -- main loop ---------------------------------------------------------

    def run(self):
        """Run until every item settled or the drain stops.

        Returns the exit status (:mod:`migrationclient.exitcodes`).
        """
        self.save()
        for host in sorted({i.original_host for i in self.items
                            if i.state == PENDING or i.state in IN_FLIGHT}):
            self._ensure_watcher(host)
        self._adopt()
        while not self.hard_stop:
            progressed = 0
            if self.interrupted is not None:
                self._on_interrupt()
            else:
                progressed = self._submit()
            if not self.in_flight():
                if self.interrupted is not None or not self._startable():
                    break
                if progressed:
                    continue
                if 0 < self.api_errors < API_ERROR_POLLS:
                    # The cloud failed: try again at the next cycle.
                    self._wait(self.options.poll_interval)
                    self._poll_due = None
                    self.cycle += 1
                    continue
                if self.api_errors:
                    self.stop_reason = _('the cloud API failed %d polls in '
                                         'a row') % self.api_errors
                    break
                # Nothing runs and nothing could start: no destination.
                self.stop_reason = _('no allowed destination is usable')
                break
            self._wait_poll()
            if self.hard_stop:
                break
            self._poll()
        return self._finish()

    def _wait_poll(self):
        """Sleep until the next poll is due.

        Polls are one ``--poll-interval`` apart from start to start, not
        from the end of the previous cycle's work (its reads, report
        writes and migration requests, a second or more under load), so
        an ended migration is seen and its slot reused no later than that;
        the poll rate stays at most one per interval.
        """
        due = self._poll_due
        if due is None:
            due = self.clock() + self.options.poll_interval
        self._wait(due - self.clock())

    def _startable(self):
        return bool(self.pending()) and self.stop_reason is None

    def _wait(self, seconds):
        end = self.clock() + seconds
        while not self.hard_stop:
            left = end - self.clock()
            if left <= 0:
                return
            self.sleep(min(left, 0.2))

    def _poll(self):
        self.cycle += 1
        self._poll_due = self.clock() + self.options.poll_interval
        hosts = sorted({i.original_host for i in self.in_flight()})
        failed = None
        for host in hosts:
            if not self._poll_watcher(host):
                failed = True
        if failed:
            self._reconcile()
            if self.api_errors >= API_ERROR_POLLS:
                self.stop_reason = self.stop_reason or _(
                    'the cloud API failed %d polls in a row') % (
                        self.api_errors)
                self.hard_stop = True
                return
        elif hosts:
            self.api_errors = 0
        for item in self.in_flight():
            if item.stage == 'finished':
                self._confirm_step(item)
            elif item.stage in ('confirming', 'verify'):
                self._verify_step(item)
            elif item.state == SUBMITTED:
                self._no_record(item)
            self._check_timeout(item)

    def _poll_watcher(self, host):
        """Poll the watcher of ``host``; False when the cloud failed.

        keystoneauth / openstacksdk have already retried the request as
        clouds.yaml says (``status_code_retries``, ``connect_retries``);
        the drain does not retry it again but polls at the next cycle,
        and stops watching after :data:`API_ERROR_POLLS` failures in a
        row.
        """
        try:
            w = self._watcher(host)
            self._handle(w, w.poll())
        except POLL_ERRORS as exc:
            self._cloud_failed(host, exc)
            return False
        return True

    def _cloud_failed(self, host, exc):
        self.api_errors += 1
        self.on_event(self._report_item(_('cloud')), _(
            'cannot poll the migrations of %(host)s (%(n)d/%(max)d in a '
            'row): %(err)s') % {'host': host, 'n': self.api_errors,
                                'max': API_ERROR_POLLS,
                                'err': _one_line(exc)})

    def _reconcile(self):
        """Apply what the watchers saw in a poll that failed half-way.

        A poll can fail after it observed a migration end (the end is
        recorded in the watcher, its event is lost with the exception):
        follow the watcher's state of each in-flight server instead.
        """
        for item in self.in_flight():
            if item.stage is not None or item.t_submit is None:
                continue
            w = self.watchers.get(item.original_host)
            st = w.for_server(item.id) if w is not None else None
            if st is None or st.first_seen < item.t_submit or (
                    item.migration_id is not None and
                    str(st.id) != str(item.migration_id)):
                continue
            if st.ended:
                self._handle(w, [watch.Event('ended', watch.utcnow(), st,
                                             _('ended %s') % st.status)])
            elif item.migration_id is None:
                self._handle(w, [watch.Event('new', watch.utcnow(), st,
                                             '')])

    def _adopt(self):
        """Follow migrations already in flight (resume, rerun)."""
        for item in self.items:
            if item.state not in (PENDING,) + IN_FLIGHT:
                continue
            w = self.watchers.get(item.original_host)
            st = w.for_server(item.id) if w is not None else None
            if st is not None and not st.ended and \
                    st.migration.source_compute == item.original_host:
                self._follow(item, st, _('following migration %s already '
                                         'in progress') % st.id)
            elif item.state in IN_FLIGHT:
                self._resume_ended(item)

    def _follow(self, item, st, text):
        item.state = MIGRATING
        item.migration_id = st.id
        item.migration_uuid = st.migration.uuid
        item.migration_status = st.status
        if item.t_submit is None:
            item.t_submit = self.clock()
        self.slots.start(item.id, item.original_host,
                         st.migration.dest_compute or item.destination)
        self._event(item, text)

    def _resume_ended(self, item):
        """An item a previous run left in flight whose migration ended."""
        item.t_submit = self.clock()
        self.slots.start(item.id, item.original_host, item.destination)
        try:
            recs = [r for r in self.actions.migration_records(item.id)
                    if r.source_compute == item.original_host]
        except CloudError:
            recs = []
        rec = max(recs, key=lambda r: _int(r.id)) if recs else None
        if rec is None:
            self.slots.finish(item.id)
            item.state = PENDING
            return
        item.migration_id, item.migration_uuid = rec.id, rec.uuid
        item.migration_status = rec.status
        if rec.status == 'finished':
            item.stage = 'finished'
        elif rec.status in ('confirming', 'confirmed', 'completed'):
            item.stage = 'verify'
        else:
            self.slots.finish(item.id)
            item.state = PENDING

    # -- submission --------------------------------------------------------

    def _submit(self):
        """Start what the limits allow; return how many were acted on.

        Every start is decided first (the slots are taken one by one, so
        the limits hold exactly as with one request at a time), then the
        requests of the round go out together (:meth:`_start_batch`).
        """
        acted = 0
        view = None
        batch = []
        for item in self.pending():
            if self.stop_reason:
                break
            pool = tuple(h for h in self.dest_hosts
                         if h not in item.excluded)
            cands = item.candidates
            if cands is None and self.options.target_hosts:
                cands = tuple(self.options.target_hosts)
            if cands is not None:
                cands = tuple(h for h in cands if h not in item.excluded)
                if not cands:
                    self._settle(item, FAILED, _(
                        'failed: no destination left to try'),
                        error=item.error or _('no destination left'))
                    acted += 1
                    continue
            if self._ensure_watcher(item.original_host) is None:
                continue
            can_name = self.actions.can_name_host(item.action)
            ok, target = self.slots.choose(item.original_host, cands,
                                           can_name, pool)
            if not ok:
                continue
            # About to submit: are the destinations still usable?
            view = view or self._services_now()
            dropped = {}
            if view is not None:
                pool, cands, dropped = usable_pool(pool, cands, *view)
                if (cands is not None and not cands) or not pool:
                    why = '; '.join('%s: %s' % kv for kv in
                                    sorted(dropped.items()))
                    self._settle(item, SKIPPED, _(
                        'not started: no allowed destination is usable now '
                        '(%s); run the drain again when one is back') % why,
                        error=_('no usable destination (%s)') % why)
                    acted += 1
                    continue
                if dropped:
                    ok, target = self.slots.choose(item.original_host, cands,
                                                   can_name, pool)
            if ok:
                # The slot is taken now: the next item's choice sees it.
                batch.append((item, target, dropped))
                self._reserve(item, target)
        if batch:
            self._start_batch(batch)
            acted += len(batch)
        return acted

    def _services_now(self):
        """``(known hosts, {host: why unusable})``, or None if unknown.

        Read at most once per poll cycle, and only when a migration is
        about to start (polling costs nothing more while nothing starts).
        A failed read keeps the last view.
        """
        lister = getattr(self.actions, 'compute_services', None)
        if lister is None:
            return None
        if self._services_cycle == self.cycle:
            return self._services_view
        self._services_cycle = self.cycle
        try:
            services = lister()
        except CloudError as exc:
            self.on_event(self._report_item(_('destinations')), _(
                'cannot list the compute services (%s): using what was '
                'known') % exc)
            return self._services_view
        unusable = unusable_hosts(services)
        self._services_view = ({s.host for s in services}, unusable)
        watched = set(self.dest_hosts) | set(self.options.target_hosts)
        for host in sorted(watched):
            why = unusable.get(host)
            if why == self._announced.get(host):
                continue
            if why:
                text = _('%(host)s is not used as a destination: %(why)s'
                         ) % {'host': host, 'why': why}
            else:
                text = _('%s is usable again as a destination') % host
            self._announced[host] = why
            self.report.setdefault('notes', []).append(
                '%s %s' % (report_mod.isotime(), text))
            self._event(self._report_item(_('destinations')), text)
        return self._services_view

    def _reserve(self, item, target):
        """Take the slot of ``item`` and reset it for a new attempt."""
        w = self._watcher(item.original_host)
        item.attempts += 1
        item.destination = target
        item.migration_id = item.migration_uuid = None
        item.migration_status = item.stage = None
        item.timed_out = item.stuck_handled = False
        item.aborted_why = None
        item.settle = 0
        item.t_submit = self.clock()
        item.submitted_at = report_mod.isotime()
        self.slots.start(item.id, item.original_host, target)
        w.expect(item.id)

    def _request(self, item, target):
        """The migration request of ``item``: None or its CloudError."""
        try:
            if item.action == LIVE:
                self.actions.live_migrate(item.id, target)
            else:
                self.actions.cold_migrate(item.id, target)
        except CloudError as exc:
            return exc
        return None

    def _start_batch(self, batch):
        """Send the requests of ``batch`` (slots taken), then follow them.

        Nova answers a live migration request (microversion 2.30) only
        after the conductor's pre-checks, a second or more per request:
        one at a time, the k-th start of a round would wait for the k-1
        before it.  The requests go out together (at most
        :data:`SUBMIT_THREADS` at once), only the HTTP call in a worker
        thread; the answers are then handled here in the drain's order,
        the accepted ones first (so that a failed request's poll of the
        watcher cannot take the records of the others before they are
        followed), and the report is written after each.
        """
        if len(batch) == 1:
            item, target, _dropped = batch[0]
            errors = [self._request(item, target)]
        else:
            with futures.ThreadPoolExecutor(
                    max_workers=min(len(batch), SUBMIT_THREADS),
                    thread_name_prefix='drain-submit') as pool:
                calls = [pool.submit(self._request, item, target)
                         for item, target, _dropped in batch]
                errors = [call.result() for call in calls]
        for (item, target, dropped), exc in zip(batch, errors):
            if exc is None:
                self._submitted(item, target, dropped)
        for (item, target, dropped), exc in zip(batch, errors):
            if exc is not None:
                self._refused(item, target, exc)

    def _refused(self, item, target, exc):
        if exc.maybe_processed and self._accepted_anyway(item, exc, target):
            return
        # With a named host the SDK's live migration (2.30) gets the
        # scheduler's NoValidHost back as a synchronous 400, after
        # Nova created a migration record (status "error").  Let the
        # watcher take that record now, while no item is in flight
        # for this server, so a retry follows its own migration.
        self._poll_watcher(item.original_host)
        if self._retry(item, str(exc), target):
            return
        self._settle(item, FAILED, _('refused: %s') % exc, error=str(exc))

    def _submitted(self, item, target, dropped):
        item.state = SUBMITTED
        text = _('%(action)s migration to %(dest)s submitted') % {
            'action': item.action,
            'dest': target or _('the scheduler\'s choice')}
        if dropped:
            text += ' (%s)' % _('not to %s') % '; '.join(
                '%s: %s' % kv for kv in sorted(dropped.items()))
        self._event(item, text)

    def _accepted_anyway(self, item, exc, target):
        """After an error that Nova may have acted on: did it start?

        A lost answer (connection reset, after keystoneauth's
        ``connect_retries``), a 5xx, or a 409 because the server is
        already migrating (keystoneauth re-sent a request whose first
        answer was lost): one read of the server says.  When it migrates
        (or already left the host) the drain follows that migration;
        when the server cannot be read after a lost answer, the drain
        waits for a migration record as after any submission.
        """
        try:
            now = self.actions.get_server(item.id)
        except CloudError:
            if not exc.no_answer:
                return False
            now = None      # unknown: wait for a record, as after a 202
        else:
            if now is None or not (
                    now.task_state in MIGRATION_TASKS or
                    (now.host and now.host != item.original_host)):
                return False
        item.state = SUBMITTED
        self._event(item, _(
            '%(action)s migration to %(dest)s: %(err)s; %(what)s: '
            'following its migration') % {
                'action': item.action,
                'dest': target or _('the scheduler\'s choice'),
                'err': exc,
                'what': (_('the server could not be read') if now is None
                         else _('the server is %(st)s/%(task)s on %(host)s'
                                ) % {'st': now.status,
                                     'task': now.task_state or '-',
                                     'host': now.host})})
        return True

    # -- following ---------------------------------------------------------

    def _handle(self, watcher, events):
        for ev in events:
            item = self._by_server(ev.state.server_id)
            if item is None:
                continue
            st = ev.state
            if item.migration_id is None:
                if st.migration.source_compute not in (
                        None, item.original_host):
                    continue
                item.migration_id = st.id
                item.migration_uuid = st.migration.uuid
                if item.state == SUBMITTED:
                    item.state = MIGRATING
            elif str(st.id) != str(item.migration_id):
                continue
            dest = st.migration.dest_compute
            if dest:
                self.slots.place(item.id, dest)
            if st.memory is not None and st.memory.percent is not None:
                item.percent = round(st.memory.percent, 1)
            if ev.kind in ('new', 'status'):
                item.migration_status = st.status
                self._event(item, _('migration %(id)s %(status)s%(dest)s')
                            % {'id': st.id, 'status': st.status,
                               'dest': (' -> %s' % dest) if dest else ''})
            elif ev.kind == 'stuck':
                self._stuck(watcher, item, st, ev.message)
            elif ev.kind in ('unstuck', 'warning', 'action'):
                self._event(item, ev.message)
            if ev.kind == 'ended':
                self._ended(item, st)

    def _stuck(self, watcher, item, st, message):
        policy = self.options.on_stuck
        if policy == 'wait' or item.stuck_handled:
            self._event(item, _('%s; waiting (--on-stuck wait)') % message)
            return
        item.stuck_handled = True
        try:
            if policy == 'abort':
                watcher.abort(st)
                item.aborted_why = message
                self._event(item, _('%s: abort requested') % message)
            else:
                watcher.force_complete(st)
                self._event(item, _('%s: force-complete requested (the '
                                    'guest pauses until the copy ends)')
                            % message)
        except cloud_errors.CloudError as exc:
            self._event(item, _('%(msg)s: %(policy)s refused: %(err)s')
                        % {'msg': message, 'policy': policy, 'err': exc})

    def _ended(self, item, st):
        item.migration_status = st.status
        if st.outcome == 'completed':
            if item.action == COLD and st.status == 'finished':
                item.stage = 'finished'
                self._confirm_step(item)
            else:
                item.stage = 'verify'
                self._verify_step(item)
            return
        reason = st.reason.summary if st.reason else None
        if st.outcome == 'cancelled':
            now = self._server(item)
            if now is not None:
                item.final_host = now.host
            why = item.aborted_why or reason or _('migration %(id)s %(st)s'
                                                  ) % {'id': st.id,
                                                       'st': st.status}
            state = TIMEOUT if item.timed_out else ABORTED
            self._settle(item, state, _('%(st)s: %(why)s; the server stays '
                                        'on %(host)s') % {
                'st': state, 'why': why,
                'host': item.final_host or item.original_host}, error=why)
            return
        now = self._server(item)
        verdict = watch.move_verdict(st, item.original_host,
                                     item.original_status,
                                     now.as_dict() if now else {})
        why = verdict.message
        if now is not None:
            item.final_host = now.host
            if now.status == 'ERROR':
                why = _('%s; the server is now in ERROR') % why
        if (now is None or now.status != 'ERROR') and self._retry(
                item, reason or why,
                st.migration.dest_compute or item.destination):
            return
        self._settle(item, FAILED, _('failed: %s') % why, error=why)

    def _retry(self, item, why, tried):
        """Requeue ``item`` once on another host after NoValidHost."""
        if not (self.options.retry and item.attempts < 2
                and 'no valid host' in why.lower()
                and self.stop_reason is None):
            return False
        if tried:
            item.excluded = tuple(item.excluded) + (tried,)
        self.slots.finish(item.id)
        item.state = PENDING
        item.error = why
        self._event(item, _('%(why)s: retrying on another host (once, '
                            '--retry)') % {'why': why})
        return True

    def _server(self, item):
        try:
            return self.actions.get_server(item.id)
        except CloudError:
            return None

    def _no_record(self, item):
        if item.t_submit is None or \
                self.clock() - item.t_submit < RECORD_GRACE:
            return
        now = self._server(item)
        if now is not None and now.task_state:
            return
        why = _('no migration record appeared within %ds of the request'
                ) % int(RECORD_GRACE)
        self._settle(item, FAILED, _('failed: %s') % why, error=why)

    def _confirm_step(self, item):
        now = self._server(item)
        if now is None:
            return
        if now.status != 'VERIFY_RESIZE' or now.task_state or \
                now.host == item.original_host:
            item.settle += 1
            if item.settle >= SETTLE_POLLS * 6 and now.status not in (
                    'VERIFY_RESIZE', 'RESIZE'):
                why = _('cold migration finished but the server is %s on '
                        '%s') % (now.status, now.host)
                self._settle(item, FAILED, _('failed: %s') % why, error=why)
            return
        item.final_host = now.host
        if not self.options.confirm:
            self._settle(item, UNCONFIRMED, _(
                'on %s in VERIFY_RESIZE: left for the operator to confirm '
                '(--no-confirm)') % now.host)
            return
        try:
            self.actions.confirm(item.id)
        except CloudError as exc:
            self._settle(item, FAILED, _('confirm refused: %s') % exc,
                         error=str(exc))
            return
        item.stage = 'confirming'
        item.settle = 0
        self._event(item, _('healthy on %s (VERIFY_RESIZE): confirmed')
                    % now.host)

    def _verify_step(self, item):
        try:
            now = self.actions.get_server(item.id)
        except CloudError as exc:
            item.read_errors += 1
            if item.read_errors < API_ERROR_POLLS:
                self._event(item, _('cannot read the server (%s): checking '
                                    'again at the next poll') % exc)
                return
            why = _('cannot read the server after its migration %(id)s '
                    'ended (%(err)s)') % {'id': item.migration_id,
                                          'err': exc}
            self._settle(item, FAILED, _('failed: %s') % why, error=why)
            return
        item.read_errors = 0
        if now is None:
            self._settle(item, FAILED, _('failed: the server is gone'),
                         error=_('the server is gone'))
            return
        item.final_host = now.host
        item.settle += 1
        if now.task_state or now.host == item.original_host or \
                now.status != item.original_status:
            if item.settle < SETTLE_POLLS:
                return
            if now.host == item.original_host:
                why = _('migration %(id)s is %(st)s but the server is still '
                        'on %(host)s') % {'id': item.migration_id,
                                          'st': item.migration_status,
                                          'host': now.host}
            else:
                why = _('on %(host)s but %(st)s%(task)s, was %(was)s') % {
                    'host': now.host, 'st': now.status,
                    'task': ' (%s)' % now.task_state if now.task_state
                    else '', 'was': item.original_status}
            self._settle(item, FAILED, _('failed: %s') % why, error=why)
            return
        if item.action == COLD:
            recs = []
            try:
                recs = self.actions.migration_records(item.id)
            except CloudError:
                pass
            rec = [r for r in recs if str(r.id) == str(item.migration_id)]
            if rec and rec[0].status != 'confirmed':
                if item.settle < SETTLE_POLLS:
                    return
            if rec:
                item.migration_status = rec[0].status
        self._settle(item, DONE, _('done: on %(host)s, %(st)s') % {
            'host': now.host, 'st': now.status})

    def _check_timeout(self, item):
        timeout = self.options.timeout
        if not timeout or item.timed_out or item.t_submit is None or \
                item.state not in IN_FLIGHT:
            return
        if self.clock() - item.t_submit < timeout:
            return
        item.timed_out = True
        why = _('--timeout %ds reached') % int(timeout)
        item.aborted_why = why
        w = self.watchers.get(item.original_host)
        st = w.for_server(item.id) if w is not None else None
        if item.action == LIVE and st is not None and not st.ended and \
                str(st.id) == str(item.migration_id):
            try:
                w.abort(st)
                self._event(item, _('%s: abort requested') % why)
                return
            except cloud_errors.CloudError as exc:
                why = _('%(why)s (abort refused: %(err)s)') % {
                    'why': why, 'err': exc}
        self._settle(item, TIMEOUT, _('%(why)s: no longer waiting; migration '
                                      '%(id)s is %(st)s') % {
            'why': why, 'id': item.migration_id,
            'st': item.migration_status}, error=why)

    # -- interruption ------------------------------------------------------

    def _on_interrupt(self):
        if self.options.on_interrupt == 'abort' and \
                not self._interrupt_aborts_done:
            self._interrupt_aborts_done = True
            for item in self.in_flight():
                w = self.watchers.get(item.original_host)
                st = w.for_server(item.id) if w is not None else None
                if item.action != LIVE or st is None or st.ended or \
                        str(st.id) != str(item.migration_id):
                    continue
                try:
                    w.abort(st)
                    item.aborted_why = _('interrupted (%s), aborted') % (
                        self.interrupted)
                    self._event(item, _('interrupted: abort requested'))
                except cloud_errors.CloudError as exc:
                    self._event(item, _('interrupted: abort refused (%s); '
                                        'still watching') % exc)
        if self.clock() - self.interrupted_at >= self.options.grace_period:
            self.hard_stop = True

    # -- end ---------------------------------------------------------------

    def _finish(self):
        for item in self.items:
            if item.state == PENDING:
                item.state = NOT_STARTED
                item.error = self.stop_reason or _('not started')
            elif item.state in IN_FLIGHT:
                # Still moving: the next run follows the migration.
                item.error = _('still in flight when the drain stopped '
                               '(migration %s): run the drain again to '
                               'follow it') % item.migration_id
        status = exit_status(self.items, self.interrupted is not None)
        if status == exitcodes.OK:
            state = 'complete'
        elif self.interrupted is not None:
            state = 'interrupted'
        else:
            state = 'incomplete'
        self.save(final_state=state)
        return status


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
                          (_('waiting'), (PENDING,))):
        count = sum(1 for i in todo if i.state in states)
        if count:
            parts.append('%d %s' % (count, label))
    return ', '.join(parts)


def merge_previous(items, previous):
    """Carry a previous report's entries into a new plan (resume).

    ``items``: the new plan (servers found on the host now); ``previous``:
    the old report's server entries.  Servers the previous run moved stay
    as they were (not redone); in-flight ones keep their migration id so
    the drain follows them; the rest take the new plan.  Returns the merged
    list: previous entries of servers no longer on the host come first.
    """
    by_id = {i.id: i for i in items}
    merged = []
    for entry in previous:
        old = Item.from_dict(entry)
        new = by_id.pop(old.id, None)
        if new is None:
            if old.state not in MOVED + IN_FLIGHT + (NOTHING,):
                old.state = LEFT_HOST
                old.reason = _('no longer on %s') % old.original_host
            merged.append(old)
            continue
        if old.state in IN_FLIGHT:
            # Its migration runs (task_state set, so the new plan would
            # skip it): follow it as the previous run planned it.
            merged.append(old)
            continue
        merged.append(new)
    merged.extend(i for i in items if i.id in by_id)
    return merged


#: a failed poll of the watching engine (after the libraries' retries)
POLL_ERRORS = (cloud_errors.CloudError, CloudError) + CALL_ERRORS


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


# ---------------------------------------------------------------------------
# Version gates
# ---------------------------------------------------------------------------

def can_name_host(version, action):
    """True when a destination host can be named for ``action``.

    Live: from 2.30 the scheduler checks a named host (below it would be
    forced, which the drain never does).  Cold: from 2.56.
    """
    if action == LIVE:
        return mv.supports(version, mv.LIVE_HOST_SCHEDULED)
    return mv.supports(version, mv.COLD_MIGRATE_HOST)


# ---------------------------------------------------------------------------
# Jobs: the whole drain / restore, as the command runs them
# ---------------------------------------------------------------------------

class ProgressLog:
    """One line per state change; on a TTY also a live summary line."""

    def __init__(self, stream, tty=None, clock=None):
        self.stream = stream
        if tty is None:
            isatty = getattr(stream, 'isatty', None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self.items = []
        self._drawn = False

    def __call__(self, item, text):
        stamp = time.strftime('%H:%M:%S')
        line = '%s %s %s (%s) %s: %s' % (
            stamp, item.name or '-', item.id, item.original_host,
            item.action, text)
        if self.tty and self._drawn:
            self.stream.write('\r\033[K')
        self.stream.write(line + '\n')
        if self.tty and self.items:
            self.stream.write(summary(self.items))
            self._drawn = True
        self.stream.flush()

    def close(self):
        if self.tty and self._drawn:
            self.stream.write('\n')
            self.stream.flush()
        self._drawn = False


def _watcher_factory(compute, options):
    stuck = float(options.stuck_after) if options.stuck_after else 1e9

    progress = options.progress_interval
    if progress is None:
        progress = watch.default_progress_interval(options.poll_interval,
                                                   options.stuck_after)

    def make(host):
        return watch.Watcher(compute, host=host, policy=watch.Policy(),
                             stuck_window=stuck,
                             rate_window=min(10.0, stuck),
                             adopt_new=False, fetch_reasons=True,
                             progress_interval=progress)
    return make


class _Signals:
    """SIGINT / SIGTERM -> ``drain.request_stop`` from the first write on.

    The handlers are installed before the report is first written, so a
    signal that arrives while the services are being disabled is not lost:
    it is kept and handed to the drain as soon as it exists, and the drain
    then starts nothing and ends "interrupted" with its report.
    """

    def __init__(self, drain=None):
        self.drain = drain
        self.pending = []
        self.saved = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.saved[sig] = signal.signal(sig, self._handler)
            except ValueError:      # not the main thread
                pass
        return self

    def attach(self, drain):
        self.drain = drain
        for why in self.pending:
            drain.request_stop(why)
        self.pending = []

    def _handler(self, signum, frame):
        why = signal.Signals(signum).name
        if self.drain is None:
            self.pending.append(why)
        else:
            self.drain.request_stop(why)

    def __exit__(self, *exc):
        for sig, old in self.saved.items():
            signal.signal(sig, old)
        return False


class Job:
    """A drain of one or more hosts, from checks to report.

    ``prepare()`` reads the cloud and plans (changes nothing: ``--dry-run``
    stops there); ``execute()`` disables the services, runs the plan and
    returns the exit status.  Raises :class:`DrainError` for anything the
    user must fix (one line).
    """

    kind = 'drain'

    def __init__(self, compute, conn, hosts, options, report_path=None,
                 disable_reason=None, enable_when_done=False,
                 target_aggregate=None, resume=None, on_event=None,
                 clock=time.monotonic, sleep=time.sleep):
        self.compute = compute
        self.conn = conn
        self.hosts = list(dict.fromkeys(hosts))
        self.options = options
        self.report_path = report_path or report_mod.default_path(
            self.hosts, self.kind)
        self.disable_reason = disable_reason
        self.enable_when_done = enable_when_done
        self.target_aggregate = target_aggregate
        self.resume = resume
        self.on_event = on_event
        self.clock = clock
        self.sleep = sleep
        self.actions = Actions(compute)
        self.items = []
        self.dest_hosts = ()
        self.services = {}
        self.previous = None
        self.notes = []
        self.drain = None

    # -- prepare -----------------------------------------------------------

    def _services(self):
        try:
            return services_mod.list_compute_services(self.compute)
        except services_mod.ServiceError as exc:
            raise DrainError(str(exc))

    def _load_previous(self, explicit):
        """The report to continue from, or None (see README)."""
        path = self.resume or self.report_path
        if not os.path.exists(path):
            if self.resume:
                raise DrainError(_('Report %s does not exist.') % path)
            return None
        try:
            data = report_mod.load(path)
        except report_mod.ReportError as exc:
            raise DrainError(str(exc))
        if data['kind'] != self.kind or sorted(data['hosts']) != sorted(
                self.hosts):
            if self.resume:
                raise DrainError(
                    _('%(path)s is a %(kind)s report of %(hosts)s, not of '
                      'this %(mine)s of %(me)s.') % {
                        'path': path, 'kind': data['kind'],
                        'hosts': ', '.join(data['hosts']),
                        'mine': self.kind, 'me': ', '.join(self.hosts)})
            if explicit:
                raise DrainError(
                    _('--report %(path)s holds a report of another job '
                      '(%(kind)s of %(hosts)s); choose another file.') % {
                        'path': path, 'kind': data['kind'],
                        'hosts': ', '.join(data['hosts'])})
            return None
        if data['state'] == 'complete' and not self.resume:
            archived = report_mod.archive_path(path)
            os.replace(path, archived)
            self.notes.append(_('previous complete report kept as %s')
                              % archived)
            return None
        if self.resume:
            self.report_path = path
        return data

    def prepare(self, explicit_report=False):
        svcs = self._services()
        sources = []
        for host in self.hosts:
            try:
                svc = services_mod.resolve_exact(svcs, host)
            except services_mod.ServiceError as exc:
                raise DrainError(str(exc))
            if not svc.is_up:
                raise DrainError(
                    _('nova-compute on %(host)s is %(state)s: a drain needs '
                      'it up (live and cold migrations run on the source); '
                      'evacuate the servers instead.') % {
                        'host': host, 'state': _('forced down')
                        if svc.forced_down else svc.state})
            sources.append(svc)
        self.services = {s.host: s for s in sources}
        self.dest_hosts = self._destinations(svcs)
        self.previous = self._load_previous(explicit_report)
        servers = []
        for host in self.hosts:
            servers.extend(self._servers_on(host))
        moves = self._moves(servers)
        self.items = plan(servers, moves, self.options)
        if self.previous is not None:
            self.items = merge_previous(self.items,
                                        self.previous['servers'])
        self._gate()
        return self.items

    def _destinations(self, svcs):
        by_host = {s.host: s for s in svcs}
        wanted = list(self.options.target_hosts)
        if self.target_aggregate:
            wanted += self._aggregate_hosts(self.target_aggregate)
        if wanted:
            dests = []
            for host in dict.fromkeys(wanted):
                if host in self.hosts:
                    raise DrainError(_('%s is being drained: it cannot be a '
                                       'target.') % host)
                svc = by_host.get(host)
                if svc is None:
                    try:
                        services_mod.resolve_exact(svcs, host)
                    except services_mod.ServiceError as exc:
                        raise DrainError(str(exc))
                if not svc.is_up or not svc.is_enabled:
                    raise DrainError(
                        _('target %(host)s is not usable: nova-compute is '
                          '%(state)s and %(status)s.') % {
                            'host': host, 'state': svc.state,
                            'status': svc.status})
                dests.append(host)
            self.options.target_hosts = tuple(dests)
        else:
            dests = [s.host for s in svcs if s.host not in self.hosts
                     and s.is_up and s.is_enabled]
        dests = tuple(sorted(dests))
        if not dests and not self.options.allow_partial:
            raise DrainError(
                _('No destination: every other nova-compute service is '
                  'down or disabled (use --allow-partial to disable %s '
                  'anyway).') % ', '.join(self.hosts))
        return dests

    def _aggregate_hosts(self, name):
        try:
            agg = self.compute.find_aggregate(name, ignore_missing=False)
        except sdk_exc.NotFoundException:
            raise DrainError(_('No aggregate named %s.') % name)
        except sdk_exc.SDKException as exc:
            raise DrainError(_('Cannot read aggregate %(name)s: %(err)s')
                             % {'name': name, 'err': _one_line(exc)})
        hosts = [h for h in (agg.hosts or []) if h not in self.hosts]
        if not hosts:
            raise DrainError(_('Aggregate %s has no host other than the '
                               'drained ones.') % name)
        return hosts

    def _servers_on(self, host):
        try:
            found = list(sdkfix.servers_on_host(self.compute, host))
        except sdk_exc.SDKException as exc:
            raise DrainError(_('Cannot list the servers of %(host)s: '
                               '%(err)s') % {'host': host,
                                             'err': _one_line(exc)})
        # Exact host match (the filter is exact in Nova; keep it so).
        return [ServerInfo.from_sdk(s) for s in found
                if s.compute_host == host]

    def _moves(self, servers):
        """The constraint library's moves for servers that can move."""
        movable = [s for s in servers if not s.task_state and (
            s.status in COLD_STATUSES or (s.status in LIVE_STATUSES and
                                          not self.options.no_live))]
        if not movable:
            return {}
        if not self.dest_hosts:
            why = _('no enabled and up nova-compute host to move to')
            return {s.id: cengine.Move(s.id, None, None, None, (), why)
                    for s in movable}
        moves = {}
        by_host = {}
        for s in movable:
            by_host.setdefault(s.host, []).append(s)
        for host, group in sorted(by_host.items()):
            try:
                gathered = cloud_facts.gather(
                    self.compute, self.conn, source_host=host,
                    destinations=list(self.dest_hosts))
            except cloud_errors.CloudError as exc:
                raise DrainError(str(exc))
            self.notes.extend(gathered.snapshot.cloud.notes)
            snapshot = gathered.snapshot
            for kinds in (('live', 'cold'), ('cold',)):
                ids = [s.id for s in group
                       if kinds_for(s, self.options) == kinds and
                       s.id in snapshot.servers]
                if not ids:
                    continue
                for move in cengine.plan(snapshot, ids,
                                         destinations=list(self.dest_hosts),
                                         kinds=kinds):
                    moves[move.server_id] = move
        return moves

    def _gate(self):
        blocked = [i for i in self.items if i.no_destination]
        if blocked and not self.options.allow_partial:
            lines = '; '.join('%s (%s): %s' % (i.name or i.id, i.id,
                                               i.reason) for i in blocked)
            raise DrainError(
                _('No destination can take %(n)d server(s): %(lines)s. '
                  'Nothing was changed; use --allow-partial to drain the '
                  'rest.') % {'n': len(blocked), 'lines': lines})

    def label(self, item):
        return destination_label(item, self.options,
                                 self.actions.can_name_host)

    # -- execute -----------------------------------------------------------

    def _new_report(self):
        if self.previous is not None:
            data = self.previous
            data['state'] = 'running'
            data['finished_at'] = None
            data.setdefault('resumed_at', []).append(report_mod.isotime())
            data['options'] = self.options.to_dict()
            return data
        return report_mod.new_report(self.kind, self.hosts,
                                     self.options.to_dict())

    def _disable_sources(self, report):
        reason = self.disable_reason or services_mod.default_reason()
        for host in self.hosts:
            svc = self.services[host]
            entry = report['service'].setdefault(host, {})
            if not svc.is_enabled:
                entry.setdefault('disabled_by_drain', False)
                entry.setdefault('reason', svc.disabled_reason)
                continue
            try:
                services_mod.disable(self.compute, svc, reason)
            except services_mod.ServiceError as exc:
                raise DrainError(str(exc))
            entry.update({'disabled_by_drain': True, 'reason': reason,
                          'disabled_at': report_mod.isotime()})

    def execute(self):
        report = self._new_report()
        report['notes'] = list(self.notes)
        report['service'] = report.get('service') or {}
        report['servers'] = [i.to_dict() for i in self.items]
        with _Signals() as signals:
            # The report must be writable before anything changes.
            try:
                report_mod.write_atomic(self.report_path, report)
            except OSError as exc:
                raise DrainError(
                    _('Cannot write the report %(path)s: %(err)s')
                    % {'path': self.report_path,
                       'err': exc.strerror or exc})
            try:
                self._disable_sources(report)
            except DrainError as exc:
                self._not_started(report, str(exc))
                raise
            self.drain = Drain(self.actions,
                               _watcher_factory(self.compute, self.options),
                               self.items, self.options, report,
                               report_path=self.report_path,
                               on_event=self.on_event,
                               dest_hosts=self.dest_hosts, clock=self.clock,
                               sleep=self.sleep)
            signals.attach(self.drain)
            status = self.drain.run()
        if status == exitcodes.OK and self.enable_when_done:
            self._enable_if_empty(report)
        return status

    def _not_started(self, report, why):
        """The drain stops before its first migration: say so, finally.

        The report keeps what was done to the services (a drain of several
        hosts may have disabled some) and every server as not started.
        """
        for item in self.items:
            if item.state == PENDING:
                item.state = NOT_STARTED
                item.error = why
        report['servers'] = [i.to_dict() for i in self.items]
        report['summary'] = summary(self.items)
        report['state'] = 'incomplete'
        report['finished_at'] = report['updated_at'] = report_mod.isotime()
        try:
            report_mod.write_atomic(self.report_path, report)
        except OSError:
            pass        # it was writable a moment ago; the error says why

    def _enable_if_empty(self, report):
        for host in self.hosts:
            left = [s for s in self._servers_on(host)
                    if s.status != 'SHELVED_OFFLOADED']
            entry = report['service'].setdefault(host, {})
            if left:
                entry['enabled_when_done'] = False
                self.notes.append(_('%(host)s still holds %(n)d server(s): '
                                    'left disabled') % {'host': host,
                                                        'n': len(left)})
                continue
            try:
                services_mod.enable(self.compute, self.services[host])
            except services_mod.ServiceError as exc:
                raise DrainError(str(exc))
            entry['enabled_when_done'] = True
        self.drain.save()

    @property
    def remaining(self):
        return remaining(self.items)


class RestoreJob(Job):
    """Move the servers of a drain report back to their original hosts.

    Servers the drain moved (``done`` / ``unconfirmed``) go back to their
    ``original_host`` with the same kind of move their status allows now
    (live when ACTIVE / PAUSED, cold when SHUTOFF; cold needs compute 2.56
    to name the host).  The original host's nova-compute must be enabled:
    ``enable_service`` enables it first when the drain disabled it.
    """

    kind = 'restore'

    def __init__(self, compute, conn, drain_report, options,
                 report_path=None, enable_service=False, on_event=None,
                 clock=time.monotonic, sleep=time.sleep):
        try:
            self.source_report = report_mod.load(drain_report)
        except report_mod.ReportError as exc:
            raise DrainError(str(exc))
        if self.source_report['kind'] != 'drain':
            raise DrainError(_('%s is not a drain report.') % drain_report)
        hosts = self.source_report['hosts']
        super().__init__(compute, conn, hosts, options,
                         report_path=report_path, on_event=on_event,
                         clock=clock, sleep=sleep)
        self.enable_service = enable_service

    def prepare(self, explicit_report=False):
        svcs = {s.host: s for s in self._services()}
        for host in self.hosts:
            svc = svcs.get(host)
            if svc is None:
                raise DrainError(_('No nova-compute service on host %s.')
                                 % host)
            if not svc.is_up:
                raise DrainError(_('nova-compute on %s is down: bring it '
                                   'up before moving servers back.') % host)
            self.services[host] = svc
            if not svc.is_enabled and not self.enable_service:
                raise DrainError(
                    _('nova-compute on %(host)s is disabled (%(why)s): pass '
                      '--enable-service to enable it and move the servers '
                      'back.') % {'host': host,
                                  'why': svc.disabled_reason or '-'})
        self.previous = self._load_previous(explicit_report)
        items = []
        for entry in self.source_report['servers']:
            if entry['state'] not in MOVED:
                continue
            items.append(self._back(entry))
        self._precheck(items)
        self.items = items
        if self.previous is not None:
            self.items = merge_previous(self.items,
                                        self.previous['servers'])
        self.dest_hosts = tuple(self.hosts)
        self.options.target_hosts = ()
        return self.items

    def _precheck(self, items):
        """Ask the constraint library about each move back.

        The original host is evaluated as it will be when the move starts:
        enabled when ``--enable-service`` enables it first.
        """
        movable = [i for i in items if i.action in (LIVE, COLD)]
        if not movable:
            return
        try:
            gathered = cloud_facts.gather(
                self.compute, self.conn, servers=[i.id for i in movable],
                destinations=list(self.hosts))
        except cloud_errors.CloudError as exc:
            raise DrainError(str(exc))
        snapshot = gathered.snapshot
        self.notes.extend(snapshot.cloud.notes)
        if self.enable_service:
            hosts = dict(snapshot.hosts)
            for name in self.hosts:
                if name in hosts:
                    hosts[name] = dataclasses.replace(
                        hosts[name], status='enabled', disabled_reason=None)
            snapshot = dataclasses.replace(snapshot, hosts=hosts)
        for item in movable:
            home = item.candidates[0]
            ev = cengine.evaluate(snapshot, item.id, home)
            if ev.verdict(item.action).allowed:
                continue
            if item.action == LIVE and ev.cold.allowed and \
                    item.original_status in COLD_STATUSES and \
                    can_name_host(self.actions.version, COLD):
                item.action = COLD
                item.reason = _('back to %s, cold (cannot go live)') % home
                continue
            blockers = ev.verdict(item.action).blockers
            item.action, item.state = SKIP, SKIPPED
            item.reason = _('cannot go back to %(home)s: %(why)s') % {
                'home': home, 'why': '; '.join(
                    '%s: %s' % (b.rule, b.message) for b in blockers)}

    def _back(self, entry):
        home = entry['original_host']
        try:
            now = self.actions.get_server(entry['id'])
        except CloudError as exc:
            now = None
            gone = str(exc)
        else:
            gone = _('the server no longer exists')
        item = Item(id=entry['id'], name=entry.get('name') or '',
                    project_id=entry.get('project_id'),
                    original_host=now.host if now else '-',
                    original_status=now.status if now else '',
                    action=SKIP, candidates=(home,))
        if now is None:
            item.state, item.reason = SKIPPED, gone
        elif now.host == home:
            item.action, item.state = NONE, NOTHING
            item.reason = _('already on %s') % home
        elif now.task_state:
            item.state = SKIPPED
            item.reason = _('task in progress (%s)') % now.task_state
        elif now.status in LIVE_STATUSES and not self.options.no_live:
            item.action = LIVE
            item.reason = _('back to %s, live') % home
        elif now.status in COLD_STATUSES:
            if can_name_host(self.actions.version, COLD):
                item.action = COLD
                item.reason = _('back to %s, cold') % home
            else:
                item.state = SKIPPED
                item.reason = _('a cold migration to a named host needs '
                                'compute API %s') % mv.COLD_MIGRATE_HOST
        else:
            item.state = SKIPPED
            item.reason = _('status %s: cannot be moved back') % now.status
        return item

    def _disable_sources(self, report):
        for host in self.hosts:
            svc = self.services[host]
            entry = report['service'].setdefault(host, {})
            if svc.is_enabled:
                continue
            try:
                self.services[host] = services_mod.enable(self.compute, svc)
            except services_mod.ServiceError as exc:
                raise DrainError(str(exc))
            entry.update({'enabled_by_restore': True,
                          'enabled_at': report_mod.isotime()})

    def execute(self):
        self.enable_when_done = False
        return super().execute()
