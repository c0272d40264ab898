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

"""The watching engine's facade: :class:`Watcher` (see the package doc)."""

import math
import time

from migrationclient._i18n import _
from migrationclient.cloud import actions as cloud_actions
from migrationclient.cloud import migrations
from migrationclient.engine.watch import policy as policy_mod
from migrationclient.engine.watch import poller as poller_mod
from migrationclient.engine.watch import state as state_mod


class Watcher:
    """Track a set of migrations, poll them, act on a policy."""

    def __init__(self, compute, server_id=None, host=None,
                 all_migrations=False, policy=None, stuck_window=60.0,
                 rate_window=10.0, adopt_new=True, fetch_reasons=True,
                 progress_interval=0.0, progress_reads=None,
                 clock=time.monotonic, wallclock=state_mod.utcnow):
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
        self.cloud = cloud_actions.wrap(compute)
        self.server_id = server_id
        self.host = host
        self.all_migrations = all_migrations
        self.policy = policy or policy_mod.Policy()
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
        self.known_ended = set()   # ids seen ended at baseline: history
        self._expected = set()     # server ids whose next migration to adopt
        self._started = False
        self.version = self.cloud.version
        self.poller = poller_mod.Poller(self, progress_interval,
                                        progress_reads)

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
        return max(found, key=lambda s: (s.first_seen, state_mod.id_key(s.id)))

    def track(self, migration):
        """Watch ``migration`` (a cloud.migrations.Migration); -> Event."""
        if migration.id in self.states:
            return None
        t, wall = self.clock(), self.wallclock()
        state = state_mod.MigrationState(migration, t, wall, self.stuck_window,
                                         self.rate_window)
        self.states[migration.id] = state
        state._update_bytes(t)
        return state_mod.Event('new', wall, state, _('watching migration %s')
                               % migration.id)

    def expect(self, server_id):
        """Adopt the next migration of ``server_id`` not seen before."""
        self._expected.add(server_id)

    def follow(self, migration):
        """Watch ``migration``, even an ended one; -> list of Event.

        Its ``new`` event, and its ``ended`` one when it already ended
        (``migration watch <server> <migration>``).
        """
        events = [self.track(migration)]
        if migration.ended:
            events.extend(self._finish(self.states[migration.id]))
        return [e for e in events if e]

    def start(self):
        """Baseline poll: adopt in-progress migrations of the scope."""
        self._started = True
        if not self.scoped:
            return self.poll()
        events = self.poller.baseline()
        events.extend(policy_mod.apply(self))
        return [e for e in events if e]

    def poll(self):
        """One poll of the cloud; returns the list of new Events."""
        if not self._started and self.scoped:
            return self.start()
        self._started = True
        events = self.poller.poll()
        events.extend(policy_mod.apply(self))
        return [e for e in events if e]

    def _adoptable(self, m):
        if m.id in self.known_ended:
            return False
        if m.server_id in self._expected:
            return True
        return self.adopt_new and self.scoped

    def observe(self, m, read=False):
        """Merge a fresh record into its state; return Events.

        ``read``: ``m`` comes from ``GET /servers/{id}/migrations``, with
        the byte counters as of its ``updated_at``; otherwise from
        os-migrations, without counters.
        """
        events = []
        state = self.states.get(m.id)
        if state is None:
            if not self._adoptable(m):
                self.known_ended.add(m.id)
                return events
            self._expected.discard(m.server_id)
            events.append(self.track(m))
            state = self.states[m.id]
            if read:
                self.poller.mark_read(state, m)
            if m.ended:
                events.extend(self._finish(state))
            return events
        if state.ended:
            return events
        t, wall = self.clock(), self.wallclock()
        state.last_seen = t
        if read:
            self.poller.mark_read(state, m)
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
            events.append(state_mod.Event('status', wall, state,
                                          '%s -> %s' % (old.status, m.status),
                                          {'previous': old.status}))
        if state._update_bytes(t) and m.status == 'running':
            events.append(state_mod.Event('progress', wall, state))
        if m.ended:
            events.extend(self._finish(state))
        else:
            events.extend(self.poller.check_stuck(state, t, wall, read=read))
        return events

    def _finish(self, state):
        status = state.status
        if status in migrations.SUCCEEDED:
            outcome = 'completed'
        elif status in migrations.CANCELLED:
            outcome = 'cancelled'
        else:
            outcome = 'failed'
        if outcome != 'completed' and self.fetch_reasons:
            # First: should the cloud fail here, the state is unchanged
            # and the next poll, which lists the record again (the mark
            # moves only once a list is handled), ends it.
            self.requests += 2
            state.reason = self.cloud.failure_reason(state.migration)
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
        return [state_mod.Event('ended', wall, state, msg)]

    def end_vanished(self, state):
        wall = self.wallclock()
        state.ended_at = self.clock()
        state.outcome = 'failed'
        return state_mod.Event(
            'ended', wall, state,
            _('the migration record is gone (server deleted?)'))

    def abort(self, state):
        """Abort ``state``'s live migration now; -> Event."""
        self.cloud.abort(state.migration)
        self.requests += 1
        state.actions.append('abort')
        return state_mod.Event('action', self.wallclock(), state,
                               _('abort requested'), {'action': 'abort'})

    def force_complete(self, state):
        """Force ``state``'s live migration to complete; -> Event.

        Pauses the guest: call only when the operator asked for it.
        """
        self.cloud.force_complete(state.migration)
        self.requests += 1
        state.actions.append('force-complete')
        return state_mod.Event('action', self.wallclock(), state,
                               _('force-complete requested (%s)')
                               % policy_mod.FORCE_COMPLETE_WARNING,
                               {'action': 'force-complete'})

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
                return state_mod.FINISHED
            if stop is not None and stop():
                return state_mod.STOPPED
            if timeout is not None and self.clock() - begin >= timeout:
                return state_mod.TIMEOUT
            delay = interval
            if timeout is not None:
                delay = max(0.0, min(interval,
                                     timeout - (self.clock() - begin)))
            sleep(delay)
            on_events(self.poll())


def _not_after(stamp, other):
    """True when Nova time ``stamp`` is known and not later than ``other``."""
    a, b = migrations.parse_time(stamp), migrations.parse_time(other)
    return a is not None and b is not None and a <= b
