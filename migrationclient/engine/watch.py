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

"""The watching engine, shared by ``migration watch`` and ``compute drain``.

API for commands (stable; drain uses the same calls)::

    from migrationclient.engine import watch

    w = watch.Watcher(
        compute,                       # client_manager.compute (SDK proxy)
        server_id=None,                # scope: one server ...
        host=None,                     # ... or every migration to/from host
        all_migrations=False,          # ... or the whole cloud (admin)
        policy=watch.Policy(           # what to do on its own (default: none)
            abort_after=None,          #   seconds after first seen
            force_complete_after=None, #   seconds after first seen (pauses
            on_stuck='report'),        #   the guest); 'abort' /
                                       #   'force-complete' / 'report'
        stuck_window=60.0,             # seconds without a new low of
                                       # remaining memory => stuck
        rate_window=10.0,              # seconds of samples for rates
        adopt_new=True,                # track migrations that appear later
        fetch_reasons=True,            # read instance action events on
                                       # failed / cancelled migrations
        progress_interval=0.0,         # seconds between two byte-progress
                                       # reads of one migration (host /
                                       # all scopes; see "Requests per
                                       # poll" below)
        progress_reads=None)           # most sampled progress reads per
                                       # poll (None: no cap)
    events = w.start()                 # baseline poll: adopts in-progress
                                       # migrations of the scope, remembers
                                       # ended ones as history
    w.track(migration)                 # watch a given cloud.migrations.
                                       # Migration, even an ended one
    w.expect(server_id)                # drain: adopt the next migration of
                                       # this server even if it is already
                                       # ended when first seen
    events = w.poll()                  # one poll: list of Event
    w.states                           # {migration id: MigrationState}
    w.active                           # tracked states not ended
    w.finished                         # True when every tracked one ended
    w.for_server(server_id)            # newest MigrationState of a server
    w.abort(state) / w.force_complete(state)   # -> Event; CloudError if
                                       # the microversion / status forbids
    w.requests                         # API requests made so far
    w.run(on_events, timeout=None, stop=None)  # loop poll()/sleep until
                                       # finished, timeout or stop():
                                       # returns FINISHED/TIMEOUT/STOPPED
    watch.exit_status(w.states.values(), timed_out=False)
    watch.move_verdict(state, source_host, status_before, server_after)

``Event`` has ``kind`` (``new``, ``status``, ``progress``, ``stuck``,
``unstuck``, ``action``, ``warning``, ``ended``), ``time`` (UTC, aware
datetime), ``state`` (the MigrationState), ``message`` and ``data``;
``Event.to_dict()`` is the JSON-lines shape.  ``MigrationState`` carries
``migration`` (latest :class:`~migrationclient.cloud.migrations.Migration`),
``status``, ``history`` [(time, status)], ``memory`` / ``disk``
(:class:`~migrationclient.engine.progress.Estimate` or None), ``stuck``,
``actions`` (requested: 'abort' / 'force-complete'), ``outcome``
(``completed`` / ``failed`` / ``cancelled`` or None while in progress),
``reason`` (:class:`~migrationclient.cloud.migrations.Reason` or None) and
``to_dict()``.

Requests per poll (see doc/source/user/watch.rst, "Cost"):

* one server, every tracked migration live (2.23+): one
  ``GET /servers/{id}/migrations`` (status *and* byte progress); when a
  migration leaves that list (it ended) one ``GET /os-migrations`` for its
  final status;
* otherwise: one ``GET /os-migrations`` filtered by ``instance_uuid`` or
  ``host`` (with ``changes-since`` from 2.59, so the answer holds only what
  changed), plus sampled byte-progress reads.  os-migrations carries no
  byte counters; ``GET /servers/{id}/migrations`` does, one server at a
  time, for running live migrations only.  Nova saves the counters on the
  migration record (libvirt: ``save_stats`` every
  ``live_migration_monitor_interval``), which moves its ``updated_at``,
  and an UPDATE that changes nothing does not move it.  So:

  - a running live migration whose record did not change since its last
    progress read (absent from the changes-since answer, or listed with
    the same ``updated_at``) has the same counters: its trackers get them
    again at the current time, without a request (stuck detection runs
    on as if it had been read);
  - a changed one is read when ``progress_interval`` seconds passed since
    its last read, oldest read first, at most
    ``ceil(running x seconds since the last poll / progress_interval)``
    reads per poll (so they spread over the polls instead of landing on
    the same one) and at most ``progress_reads`` when given;
  - never deferred: the first read of a running live migration, and a
    read that confirms a "stuck" verdict before it is reported (stuck is
    never declared from counters that may be stale: Nova's timestamps can
    have a 1 s resolution, so a save in the same second as a read can go
    unseen until the next one).

* on a failed / cancelled migration, two requests once (instance actions).
"""

import dataclasses
import datetime
import math
import time


from migrationclient._i18n import _
from migrationclient.cloud import errors as cloud_errors
from migrationclient.cloud import migrations as cloud
from migrationclient.engine import progress
from migrationclient.engine import render
from migrationclient import exitcodes
from migrationclient import microversions as mv

ON_STUCK = ('report', 'abort', 'force-complete')

FINISHED = 'finished'
TIMEOUT = 'timeout'
STOPPED = 'stopped'

FORCE_COMPLETE_WARNING = _(
    'force-complete pauses the guest until the remaining memory is copied: '
    'significant downtime is possible')


@dataclasses.dataclass(frozen=True)
class Policy:
    """What the engine does on its own; nothing by default."""

    abort_after: float | None = None
    force_complete_after: float | None = None
    on_stuck: str = 'report'

    def __post_init__(self):
        if self.on_stuck not in ON_STUCK:
            raise ValueError('on_stuck must be one of %s' % (ON_STUCK,))
        for value in (self.abort_after, self.force_complete_after):
            if value is not None and value < 0:
                raise ValueError('delays must not be negative')


def default_progress_interval(poll_interval, stuck_window=None):
    """The drain's progress sampling period when none is given.

    A sixth of the stuck window (a stuck verdict comes at most that much
    later than with a read on every poll, never earlier), never below the
    poll interval; 300 s (the drain's default ``--stuck-after``) when stuck
    detection is off.
    """
    window = stuck_window if stuck_window else 300.0
    return max(float(poll_interval), float(window) / 6.0)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def isotime(dt):
    return dt.strftime('%Y-%m-%dT%H:%M:%SZ') if dt else None


class MigrationState:
    """What the engine knows about one tracked migration."""

    def __init__(self, migration, t, wall, stuck_window, rate_window):
        self.migration = migration
        self.first_seen = t
        self.first_seen_wall = wall
        self.last_seen = t
        self.history = [(wall, migration.status)]
        self.memory_tracker = progress.Tracker(rate_window, stuck_window)
        self.disk_tracker = progress.Tracker(rate_window, stuck_window)
        self.memory = None
        self.disk = None
        self.stuck = False
        self.was_stuck = False
        self.actions = []
        self.warned = set()
        self.outcome = None
        self.reason = None
        self.ended_at = None
        # Byte-progress sampling (host / all scopes).
        self.read_at = None        # clock time of the last progress read
        self.read_stamp = None     # the record's updated_at at that read
        self.fresh = False         # counters match the record in Nova
        self.confirm = False       # stuck: read before saying so

    @property
    def id(self):
        return self.migration.id

    @property
    def server_id(self):
        return self.migration.server_id

    @property
    def status(self):
        return self.migration.status

    @property
    def ended(self):
        return self.outcome is not None

    def elapsed(self, t):
        return max(0.0, (t if self.ended_at is None else self.ended_at)
                   - self.first_seen)

    def _update_bytes(self, t):
        m = self.migration
        changed = False
        if m.memory_total_bytes is not None:
            changed |= self.memory_tracker.observe(
                t, m.memory_total_bytes, m.memory_processed_bytes,
                m.memory_remaining_bytes)
        if m.disk_total_bytes is not None:
            changed |= self.disk_tracker.observe(
                t, m.disk_total_bytes, m.disk_processed_bytes,
                m.disk_remaining_bytes)
        self.memory = self.memory_tracker.estimate(t) if (
            self.memory_tracker.samples) else None
        self.disk = self.disk_tracker.estimate(t) if (
            self.disk_tracker.samples) else None
        return changed

    def to_dict(self, t=None):
        m = self.migration
        out = {
            'id': m.id,
            'uuid': m.uuid,
            'server_id': m.server_id,
            'type': m.migration_type,
            'source': m.source_compute,
            'dest': m.dest_compute,
            'status': m.status,
            'outcome': self.outcome,
            'elapsed': round(self.elapsed(t if t is not None
                                          else self.last_seen), 1),
            'stuck': self.stuck,
            'actions': list(self.actions),
            'memory': _estimate_dict(self.memory),
            'disk': _estimate_dict(self.disk),
            'reason': self.reason.to_dict() if self.reason else None,
        }
        return out


def _estimate_dict(est):
    if est is None or est.current is None:
        return None
    cur = est.current

    def r(v):
        return None if v is None else round(v, 1)

    return {
        'total': cur.total,
        'processed': cur.processed,
        'remaining': cur.remaining,
        'percent': r(cur.percent),
        'rate': r(est.transfer_rate),
        'dirty_rate': r(est.dirty_rate),
        'eta': r(est.eta),
        'stalled_for': r(est.stalled_for),
    }


@dataclasses.dataclass
class Event:
    """Something that happened to a tracked migration."""

    kind: str
    time: datetime.datetime
    state: MigrationState
    message: str = ''
    data: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        # The state as of this event (the live state moves on).
        self.snapshot = self.state.to_dict()

    def to_dict(self):
        out = {'event': self.kind, 'time': isotime(self.time)}
        out.update(self.snapshot)
        if self.message:
            out['message'] = self.message
        if self.data:
            out.update(self.data)
        return out


class Watcher:
    """Track a set of migrations, poll them, act on a policy."""

    def __init__(self, compute, server_id=None, host=None,
                 all_migrations=False, policy=None, stuck_window=60.0,
                 rate_window=10.0, adopt_new=True, fetch_reasons=True,
                 progress_interval=0.0, progress_reads=None,
                 clock=time.monotonic, wallclock=utcnow):
        if sum(bool(x) for x in (server_id, host, all_migrations)) > 1:
            raise ValueError('one scope: server_id, host or all_migrations')
        progress_interval = float(progress_interval or 0.0)
        if not math.isfinite(progress_interval) or progress_interval < 0:
            raise ValueError('progress_interval must be a finite number of '
                             'seconds, 0 or more')
        if progress_reads is not None and (
                isinstance(progress_reads, bool) or
                not isinstance(progress_reads, int) or progress_reads < 1):
            raise ValueError('progress_reads must be an integer, 1 or more')
        self.compute = compute
        self.server_id = server_id
        self.host = host
        self.all_migrations = all_migrations
        self.policy = policy or Policy()
        self.stuck_window = float(stuck_window)
        self.rate_window = float(rate_window)
        self.adopt_new = adopt_new
        self.fetch_reasons = fetch_reasons
        self.progress_interval = progress_interval
        self.progress_reads = progress_reads
        self.clock = clock
        self.wallclock = wallclock
        self.states = {}
        self.requests = 0
        self._known = set()        # ids seen ended at baseline: history
        self._expected = set()     # server ids whose next migration to adopt
        self._mark = None          # changes-since high-water mark
        self._last_poll = None     # clock time of the previous poll
        self._since = None         # seconds between the last two polls
        self._started = False
        self.version = cloud.api_version(compute)

    # -- scope -------------------------------------------------------------

    @property
    def scoped(self):
        return bool(self.server_id or self.host or self.all_migrations)

    @property
    def active(self):
        return [s for s in self.states.values() if not s.ended]

    @property
    def finished(self):
        return bool(self.states) and not self.active

    def for_server(self, server_id):
        found = [s for s in self.states.values()
                 if s.server_id == server_id]
        if not found:
            return None
        return max(found, key=lambda s: (s.first_seen, _id_key(s.id)))

    def track(self, migration):
        """Watch ``migration`` (a cloud.migrations.Migration); -> Event."""
        if migration.id in self.states:
            return None
        t, wall = self.clock(), self.wallclock()
        state = MigrationState(migration, t, wall, self.stuck_window,
                               self.rate_window)
        self.states[migration.id] = state
        state._update_bytes(t)
        return Event('new', wall, state, _('watching migration %s')
                     % migration.id)

    def expect(self, server_id):
        """Adopt the next migration of ``server_id`` not seen before."""
        self._expected.add(server_id)

    # -- polling -----------------------------------------------------------

    def _list(self, **kw):
        self.requests += 1
        return cloud.list_migrations(self.compute, **kw)

    def _server_live(self, server_id):
        self.requests += 1
        return cloud.server_live_migrations(self.compute, server_id)

    def _scope_filter(self):
        if self.server_id:
            return {'server_id': self.server_id}
        if self.host:
            return {'host': self.host}
        return {}

    def _advance_mark(self, records):
        for m in records:
            stamp = m.changed_at
            if stamp and (self._mark is None or
                          cloud.parse_time(stamp) >
                          cloud.parse_time(self._mark)):
                self._mark = stamp

    def start(self):
        """Baseline poll: adopt in-progress migrations of the scope."""
        self._started = True
        events = []
        if not self.scoped:
            return self.poll()
        self._tick()
        records = self._list(**self._scope_filter())
        self._advance_mark(records)
        for m in sorted(records, key=lambda r: _id_key(r.id)):
            if m.id in self.states:
                continue
            if m.in_progress:
                events.append(self.track(m))
            else:
                self._known.add(m.id)
        events.extend(self._read_progress())
        events.extend(self._apply_policy())
        return [e for e in events if e]

    def poll(self):
        """One poll of the cloud; returns the list of new Events."""
        if not self._started and self.scoped:
            return self.start()
        self._started = True
        self._tick()
        events = []
        single = self._single_server()
        if single:
            events.extend(self._poll_server_list(single))
        else:
            events.extend(self._poll_os_migrations())
            events.extend(self._read_progress())
        events.extend(self._apply_policy())
        return [e for e in events if e]

    def _single_server(self):
        """The server whose live migrations one request can follow."""
        active = self.active
        if self.host or self.all_migrations or not active:
            return None
        if self.version < mv.SERVER_MIGRATIONS:
            return None
        servers = {s.server_id for s in active}
        if len(servers) != 1 or (self.server_id and
                                 servers != {self.server_id}):
            return None
        if all(s.migration.is_live and s.status in cloud.LIVE_IN_PROGRESS
               for s in active):
            return servers.pop()
        return None

    def _poll_server_list(self, server_id):
        events = []
        records = self._server_live(server_id)
        seen = set()
        for m in records:
            seen.add(m.id)
            events.extend(self._observe(m, read=True))
        gone = [s for s in self.active if s.id not in seen]
        if gone:
            # Ended: one os-migrations request for the final statuses.
            final = {m.id: m for m in self._list(
                server_id=server_id, changes_since=self._mark)}
            listed = list(final.values())
            for s in gone:
                m = final.get(s.id)
                if m is None:
                    # Not changed since the mark?  Ask without the mark.
                    final.update({r.id: r for r in self._list(
                        server_id=server_id)})
                    m = final.get(s.id)
                if m is None:
                    events.append(self._end_vanished(s))
                else:
                    events.extend(self._observe(m))
            self._advance_mark(listed)
        return events

    def _poll_os_migrations(self):
        events = []
        kw = self._scope_filter()
        if not self.scoped:
            # Explicitly tracked migrations only: filter by their servers.
            servers = sorted({s.server_id for s in self.active})
            records = []
            for sid in servers:
                records.extend(self._list(server_id=sid,
                                          changes_since=self._mark))
        else:
            records = self._list(changes_since=self._mark, **kw)
        listed = set()
        for m in sorted(records, key=lambda r: _id_key(r.id)):
            listed.add(m.id)
            events.extend(self._observe(m))
        # Only now: should handling a record fail (the cloud failing while
        # the reason of a failure is read), the next poll lists it again.
        self._advance_mark(records)
        events.extend(self._unchanged(listed))
        return events

    def _covered(self, state):
        """Would this poll's list have returned ``state`` had it changed?"""
        if not self.scoped or self.all_migrations or self.server_id:
            return True
        m = state.migration
        return self.host in (m.source_compute, m.dest_compute)

    def _unchanged(self, listed):
        """Active migrations the list did not return: nothing changed.

        A running live one's byte counters are then those already known
        (Nova moves ``updated_at`` whenever it saves new ones): its trackers
        get them again at the current time, with no request, so that the
        stuck window keeps running exactly as if they had been read.
        """
        events = []
        t, wall = self.clock(), self.wallclock()
        for state in self.active:
            if state.id in listed or not self._covered(state):
                continue
            state.last_seen = t
            if state.status == 'running' and state.migration.is_live and (
                    state.memory_tracker.samples or
                    state.disk_tracker.samples):
                state._update_bytes(t)
                events.extend(self._check_stuck(state, t, wall))
        return events

    def _tick(self):
        """Start a poll: remember how long since the previous one."""
        t = self.clock()
        self._since = (None if self._last_poll is None
                       else max(0.0, t - self._last_poll))
        self._last_poll = t

    def _read_budget(self, running):
        """How many sampled progress reads this poll may make."""
        budget = running
        if self.progress_interval > 0 and self._since is not None:
            budget = max(1, min(running, math.ceil(
                running * self._since / self.progress_interval)))
        if self.progress_reads is not None:
            budget = min(budget, self.progress_reads)
        return budget

    def _read_progress(self):
        """Byte progress of running live migrations (2.23+), sampled.

        See "Requests per poll" in the module docstring.
        """
        if self.version < mv.SERVER_MIGRATIONS:
            return []
        running = [s for s in self.active
                   if s.status == 'running' and s.migration.is_live]
        if not running:
            return []
        t = self.clock()
        urgent = [s for s in running if s.read_at is None or s.confirm]
        due = sorted(
            (s for s in running
             if s.read_at is not None and not s.confirm and not s.fresh and
             t - s.read_at >= self.progress_interval),
            key=lambda s: (s.read_at, _id_key(s.id)))
        chosen = urgent + due[:self._read_budget(len(running))]
        events = []
        for sid in sorted({s.server_id for s in chosen}):
            for m in self._server_live(sid):
                state = self.states.get(m.id)
                if state is not None and not state.ended:
                    events.extend(self._observe(m, read=True))
        for s in chosen:
            # Not in its server's list: it left ``running`` since the
            # os-migrations answer; the next list says how.  Do not read it
            # again before that.
            s.confirm = False
            if s.read_at is None or s.read_at < t:
                s.read_at = t
        return events

    def _adoptable(self, m):
        if m.id in self._known:
            return False
        if m.server_id in self._expected:
            return True
        return self.adopt_new and self.scoped

    def _observe(self, m, read=False):
        """Merge a fresh record into its state; return Events.

        ``read``: ``m`` comes from ``GET /servers/{id}/migrations``, with
        the byte counters as of its ``updated_at``; otherwise from
        os-migrations, without counters.
        """
        events = []
        state = self.states.get(m.id)
        if state is None:
            if not self._adoptable(m):
                self._known.add(m.id)
                return events
            self._expected.discard(m.server_id)
            events.append(self.track(m))
            state = self.states[m.id]
            if read:
                self._mark_read(state, m)
            if m.ended:
                events.extend(self._finish(state))
            return events
        if state.ended:
            return events
        t, wall = self.clock(), self.wallclock()
        state.last_seen = t
        if read:
            self._mark_read(state, m)
        elif not _not_after(m.changed_at, state.read_stamp):
            state.fresh = False     # changed since the counters were read
        old = state.migration
        # os-migrations has no byte counters: keep the last known ones.
        if m.memory_total_bytes is None and old.memory_total_bytes:
            for f in ('memory_total_bytes', 'memory_processed_bytes',
                      'memory_remaining_bytes', 'disk_total_bytes',
                      'disk_processed_bytes', 'disk_remaining_bytes'):
                setattr(m, f, getattr(old, f))
        if m.migration_type is None:
            m.migration_type = old.migration_type
        if m.uuid is None:
            m.uuid = old.uuid
        state.migration = m
        if m.status != old.status:
            state.history.append((wall, m.status))
            events.append(Event('status', wall, state,
                                '%s -> %s' % (old.status, m.status),
                                {'previous': old.status}))
        if state._update_bytes(t) and m.status == 'running':
            events.append(Event('progress', wall, state))
        if m.ended:
            events.extend(self._finish(state))
        else:
            events.extend(self._check_stuck(state, t, wall, read=read))
        return events

    def _mark_read(self, state, m):
        state.read_at = self.clock()
        state.read_stamp = m.changed_at
        state.fresh = True

    def _check_stuck(self, state, t, wall, read=False):
        est = state.memory
        stuck = bool(est and est.stuck and state.status == 'running')
        if stuck == state.stuck:
            return []
        if (stuck and not read and state.migration.is_live and
                self.version >= mv.SERVER_MIGRATIONS):
            # Counters not read in this poll: confirm with a read first
            # (this poll's progress reads), never report stuck on a guess.
            state.confirm = True
            return []
        state.stuck = stuck
        if stuck:
            return [Event('stuck', wall, state, stuck_message(est))]
        return [Event('unstuck', wall, state,
                      _('remaining memory shrinks again'))]

    def _finish(self, state):
        status = state.status
        if status in cloud.SUCCEEDED:
            outcome = 'completed'
        elif status in cloud.CANCELLED:
            outcome = 'cancelled'
        else:
            outcome = 'failed'
        if outcome != 'completed' and self.fetch_reasons:
            # First: should the cloud fail here, the state is unchanged
            # and the next poll, which lists the record again (the mark
            # moves only once a list is handled), ends it.
            self.requests += 2
            state.reason = cloud.failure_reason(self.compute,
                                                state.migration)
        t, wall = self.clock(), self.wallclock()
        state.ended_at = t
        state.was_stuck = state.was_stuck or state.stuck
        state.stuck = False
        state.outcome = outcome
        msg = _('ended %s') % status
        if status == 'finished':
            msg = _('ended finished: the server waits in VERIFY_RESIZE for '
                    '"openstack server migration confirm"')
        if state.reason and state.reason.summary:
            msg += ': ' + state.reason.summary
        elif state.outcome == 'failed' and self.fetch_reasons:
            where = state.migration.source_compute or _('the source host')
            msg += ': ' + (_('no error recorded in the instance action '
                             'events%(req)s; see the nova-compute log on '
                             '%(host)s') % {
                'req': (' (%s)' % state.reason.request_id
                        if state.reason else ''),
                'host': where})
        return [Event('ended', wall, state, msg)]

    def _end_vanished(self, state):
        wall = self.wallclock()
        state.ended_at = self.clock()
        state.outcome = 'failed'
        return Event('ended', wall, state,
                     _('the migration record is gone (server deleted?)'))

    # -- actions -----------------------------------------------------------

    def abort(self, state):
        """Abort ``state``'s live migration now; -> Event."""
        cloud.abort(self.compute, state.migration)
        self.requests += 1
        state.actions.append('abort')
        return Event('action', self.wallclock(), state,
                     _('abort requested'), {'action': 'abort'})

    def force_complete(self, state):
        """Force ``state``'s live migration to complete; -> Event.

        Pauses the guest: call only when the operator asked for it.
        """
        cloud.force_complete(self.compute, state.migration)
        self.requests += 1
        state.actions.append('force-complete')
        return Event('action', self.wallclock(), state,
                     _('force-complete requested (%s)')
                     % FORCE_COMPLETE_WARNING,
                     {'action': 'force-complete'})

    def _apply_policy(self):
        events = []
        p = self.policy
        t = self.clock()
        for state in self.active:
            wanted = None
            cause = None
            elapsed = state.elapsed(t)
            if p.abort_after is not None and elapsed >= p.abort_after:
                wanted, cause = 'abort', _('--abort-after %ss') % _num(
                    p.abort_after)
            if (p.force_complete_after is not None and
                    elapsed >= p.force_complete_after and
                    (wanted is None or
                     p.force_complete_after < p.abort_after)):
                wanted, cause = 'force-complete', (
                    _('--force-complete-after %ss') %
                    _num(p.force_complete_after))
            if wanted is None and state.stuck and p.on_stuck != 'report':
                wanted, cause = p.on_stuck, _('stuck')
            if wanted is None or wanted in state.actions:
                continue
            events.extend(self._act(state, wanted, cause))
        return events

    def _act(self, state, action, cause):
        check = (cloud.can_abort if action == 'abort'
                 else cloud.can_force_complete)
        why = check(self.compute, state.migration)
        wall = self.wallclock()
        if why:
            key = (action, why)
            if key in state.warned:
                return []
            state.warned.add(key)
            return [Event('warning', wall, state,
                          _('%(action)s (%(cause)s) not possible now: '
                            '%(why)s') % {'action': action, 'cause': cause,
                                          'why': why},
                          {'action': action})]
        try:
            do = self.abort if action == 'abort' else self.force_complete
            event = do(state)
        except cloud_errors.CloudError as exc:
            state.actions.append(action)   # do not hammer a refusal
            return [Event('warning', wall, state, str(exc),
                          {'action': action})]
        event.message = '%s (%s)' % (event.message, cause)
        return [event]

    # -- loop --------------------------------------------------------------

    def run(self, on_events, interval=2.0, timeout=None, stop=None,
            sleep=time.sleep):
        """Poll until every tracked migration ended, timeout or stop().

        ``on_events(list_of_events)`` is called after every poll (also with
        an empty list, so a TTY renderer can refresh).  Returns FINISHED,
        TIMEOUT or STOPPED.
        """
        begin = self.clock()
        if not self._started:
            on_events(self.poll())
        while True:
            if self.finished or (self._started and not self.states and
                                 not self._expected):
                return FINISHED
            if stop is not None and stop():
                return STOPPED
            if timeout is not None and self.clock() - begin >= timeout:
                return TIMEOUT
            delay = interval
            if timeout is not None:
                delay = max(0.0, min(interval,
                                     timeout - (self.clock() - begin)))
            sleep(delay)
            on_events(self.poll())


def _num(v):
    return ('%g' % v)


def _not_after(stamp, other):
    """True when Nova time ``stamp`` is known and not later than ``other``."""
    a, b = cloud.parse_time(stamp), cloud.parse_time(other)
    return a is not None and b is not None and a <= b


def _id_key(ident):
    return (0, ident, '') if isinstance(ident, int) else (1, 0, str(ident))


def stuck_message(est):
    """One line with the numbers behind a 'stuck' verdict."""
    cur = est.current
    if est.transfer_rate is None:
        rates = _('byte counters unchanged')
    else:
        rates = _('transfer %(rate)s, dirty %(dirty)s') % {
            'rate': render.human_rate(est.transfer_rate),
            'dirty': render.human_rate(est.dirty_rate)}
    return _('stuck: %(remaining)s of %(total)s memory remaining, no '
             'progress for %(secs)ds (%(rates)s)'
             ) % {'remaining': render.human_bytes(cur.remaining),
                  'total': render.human_bytes(cur.total),
                  'secs': int(est.stalled_for), 'rates': rates}


def exit_status(states, timed_out=False):
    """The documented exit status for a set of MigrationStates.

    Worst first: failed/error (WATCH_FAILED), stuck and unresolved
    (WATCH_STUCK), timeout (TIMEOUT), cancelled (WATCH_CANCELLED), else OK.
    """
    states = list(states)
    if any(s.outcome == 'failed' for s in states):
        return exitcodes.WATCH_FAILED
    if any(s.stuck and not s.ended for s in states):
        return exitcodes.WATCH_STUCK
    if timed_out and any(not s.ended for s in states):
        return exitcodes.TIMEOUT
    if any(s.outcome == 'cancelled' for s in states):
        return exitcodes.WATCH_CANCELLED
    return exitcodes.OK


@dataclasses.dataclass(frozen=True)
class Verdict:
    moved: bool
    verdict: str     # moved / rolled-back / failed / cancelled / not-moved
    #                  / status-changed / awaiting-confirm / in-progress
    message: str


def move_verdict(state, source_host, status_before, server_after):
    """Did the server really move?  (drain's definition of done)

    Done = the migration completed / confirmed AND the server's host
    changed AND its status is as before.  A live migration that rolled
    back ends ACTIVE on the source: that is a failure, whatever the
    migration record says.  ``server_after`` is an SDK Server (or a dict
    with ``compute_host`` and ``status``) read after the migration ended.
    """
    get = server_after.get if isinstance(server_after, dict) else (
        lambda k, d=None: getattr(server_after, k, d))
    host = get('compute_host')
    status = get('status')
    if state is None or not state.ended:
        return Verdict(False, 'in-progress', _('migration in progress'))
    on_source = host == source_host
    if state.outcome == 'completed':
        if state.status == 'finished' or status == 'VERIFY_RESIZE':
            return Verdict(False, 'awaiting-confirm', _(
                'cold migration finished; the server waits in '
                'VERIFY_RESIZE for confirmation'))
        if on_source:
            return Verdict(False, 'not-moved', _(
                'migration %(status)s but the server is still on '
                '%(host)s') % {'status': state.status, 'host': host})
        if status != status_before:
            return Verdict(False, 'status-changed', _(
                'server moved to %(host)s but is %(now)s (was %(then)s)')
                % {'host': host, 'now': status, 'then': status_before})
        return Verdict(True, 'moved', _('moved to %s') % host)
    why = state.reason.summary if state.reason else None
    if on_source and status == 'ACTIVE' and state.migration.is_live:
        msg = _('live migration rolled back: server ACTIVE on %s') % host
        if why:
            msg += ': ' + why
        return Verdict(False, 'rolled-back', msg)
    text = _('migration %s') % state.status
    if why:
        text += ': ' + why
    return Verdict(False, state.outcome, text)
