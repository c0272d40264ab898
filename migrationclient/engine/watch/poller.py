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

"""The requests of one poll (see "Requests per poll" in the package doc).

:class:`Poller` decides which requests a poll of a :class:`~.watcher.
Watcher` makes (one list of the scope, byte-progress reads sampled within
a budget, a final-status list when a migration leaves its server's list)
and hands every record to the watcher (``observe``).
"""

import math

from migrationclient._i18n import _
from migrationclient.cloud import migrations
from migrationclient.engine.watch import state as state_mod
from migrationclient import microversions as mv


class Poller:
    """The polling of one :class:`~.watcher.Watcher`."""

    def __init__(self, watcher, progress_interval=0.0, progress_reads=None):
        self.watcher = watcher
        self.progress_interval = progress_interval
        self.progress_reads = progress_reads
        self._mark = None          # changes-since high-water mark
        self._last_poll = None     # clock time of the previous poll
        self._since = None         # seconds between the last two polls

    def baseline(self):
        """The first poll of a scoped watch: adopt what is in progress."""
        events = []
        self._tick()
        records = self._list(**self._scope_filter())
        self._advance_mark(records)
        for m in sorted(records, key=lambda r: state_mod.id_key(r.id)):
            if m.id in self.watcher.states:
                continue
            if m.in_progress:
                events.append(self.watcher.track(m))
            else:
                self.watcher.known_ended.add(m.id)
        events.extend(self._read_progress())
        return events

    def poll(self):
        """One poll: the requests, the records observed; -> Events."""
        self._tick()
        single = self._single_server()
        if single:
            return self._poll_server_list(single)
        events = self._poll_os_migrations()
        events.extend(self._read_progress())
        return events

    def _list(self, **kw):
        self.watcher.requests += 1
        return self.watcher.cloud.migration_records(**kw)

    def _server_live(self, server_id):
        self.watcher.requests += 1
        return self.watcher.cloud.server_live_migrations(server_id)

    def _scope_filter(self):
        if self.watcher.server_id:
            return {'server_id': self.watcher.server_id}
        if self.watcher.host:
            return {'host': self.watcher.host}
        return {}

    def _advance_mark(self, records):
        self._mark = migrations.newest_stamp(self._mark, records)

    def _single_server(self):
        """The server whose live migrations one request can follow."""
        active = self.watcher.active
        if self.watcher.host or self.watcher.all_migrations or not active:
            return None
        if self.watcher.version < mv.SERVER_MIGRATIONS:
            return None
        servers = {s.server_id for s in active}
        if len(servers) != 1 or (self.watcher.server_id and
                                 servers != {self.watcher.server_id}):
            return None
        if all(s.migration.is_live and s.status in migrations.LIVE_IN_PROGRESS
               for s in active):
            return servers.pop()
        return None

    def _poll_server_list(self, server_id):
        events = []
        records = self._server_live(server_id)
        seen = set()
        for m in records:
            seen.add(m.id)
            events.extend(self.watcher.observe(m, read=True))
        gone = [s for s in self.watcher.active if s.id not in seen]
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
                    events.append(self.watcher.end_vanished(s))
                else:
                    events.extend(self.watcher.observe(m))
            self._advance_mark(listed)
        return events

    def _poll_os_migrations(self):
        events = []
        kw = self._scope_filter()
        if not self.watcher.scoped:
            # Explicitly tracked migrations only: filter by their servers.
            servers = sorted({s.server_id for s in self.watcher.active})
            records = []
            for sid in servers:
                records.extend(self._list(server_id=sid,
                                          changes_since=self._mark))
        else:
            records = self._list(changes_since=self._mark, **kw)
        listed = set()
        for m in sorted(records, key=lambda r: state_mod.id_key(r.id)):
            listed.add(m.id)
            events.extend(self.watcher.observe(m))
        # Only now: should handling a record fail (the cloud failing while
        # the reason of a failure is read), the next poll lists it again.
        self._advance_mark(records)
        events.extend(self._unchanged(listed))
        return events

    def _covered(self, state):
        """Would this poll's list have returned ``state`` had it changed?"""
        w = self.watcher
        if not w.scoped or w.all_migrations or w.server_id:
            return True
        m = state.migration
        return self.watcher.host in (m.source_compute, m.dest_compute)

    def _unchanged(self, listed):
        """Active migrations the list did not return: nothing changed.

        A running live one's byte counters are then those already known
        (Nova moves ``updated_at`` whenever it saves new ones): its trackers
        get them again at the current time, with no request, so that the
        stuck window keeps running exactly as if they had been read.
        """
        events = []
        t, wall = self.watcher.clock(), self.watcher.wallclock()
        for state in self.watcher.active:
            if state.id in listed or not self._covered(state):
                continue
            state.last_seen = t
            if state.status == 'running' and state.migration.is_live and (
                    state.memory_tracker.samples or
                    state.disk_tracker.samples):
                state._update_bytes(t)
                events.extend(self.check_stuck(state, t, wall))
        return events

    def _tick(self):
        """Start a poll: remember how long since the previous one."""
        t = self.watcher.clock()
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
        if self.watcher.version < mv.SERVER_MIGRATIONS:
            return []
        running = [s for s in self.watcher.active
                   if s.status == 'running' and s.migration.is_live]
        if not running:
            return []
        t = self.watcher.clock()
        urgent = [s for s in running if s.read_at is None or s.confirm]
        due = sorted(
            (s for s in running
             if s.read_at is not None and not s.confirm and not s.fresh and
             t - s.read_at >= self.progress_interval),
            key=lambda s: (s.read_at, state_mod.id_key(s.id)))
        chosen = urgent + due[:self._read_budget(len(running))]
        events = []
        for sid in sorted({s.server_id for s in chosen}):
            for m in self._server_live(sid):
                state = self.watcher.states.get(m.id)
                if state is not None and not state.ended:
                    events.extend(self.watcher.observe(m, read=True))
        for s in chosen:
            # Not in its server's list: it left ``running`` since the
            # os-migrations answer; the next list says how.  Do not read it
            # again before that.
            s.confirm = False
            if s.read_at is None or s.read_at < t:
                s.read_at = t
        return events

    def mark_read(self, state, m):
        state.read_at = self.watcher.clock()
        state.read_stamp = m.changed_at
        state.fresh = True

    def check_stuck(self, state, t, wall, read=False):
        est = state.memory
        stuck = bool(est and est.stuck and state.status == 'running')
        if stuck == state.stuck:
            return []
        if (stuck and not read and state.migration.is_live and
                self.watcher.version >= mv.SERVER_MIGRATIONS):
            # Counters not read in this poll: confirm with a read first
            # (this poll's progress reads), never report stuck on a guess.
            state.confirm = True
            return []
        state.stuck = stuck
        if stuck:
            return [state_mod.Event(
                'stuck', wall, state, state_mod.stuck_message(est))]
        return [state_mod.Event('unstuck', wall, state,
                                _('remaining memory shrinks again'))]
