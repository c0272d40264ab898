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

"""When the drain polls, and what it takes off the path to the next start.

Polls are one ``--poll-interval`` apart from start to start (the cadence).
In addition polls come when a migration in flight is expected to end.
Each migration this run sent and saw end well tells how long one takes
from its request: more than until the poll before the one that saw the
end (it was still moving then), less than until the poll that saw it;
its estimate is the middle of the two.  A migration's end is expected
at its request plus the median estimate of the last :data:`LEARN`
migrations of its kind (live, cold); the drain polls there, and
:data:`EARLY_STEP` x ``--poll-interval`` (at least
:data:`EARLY_STEP_MIN` seconds) apart around it (from
:data:`EARLY_BEFORE` steps before to :data:`EARLY_AFTER` steps after),
never closer than half a step to the previous poll.  The closer the
polls that see ends, the better the estimates.  Each poll still lists
each source host once.

A live migration whose record says ``completed`` and names its
destination frees its slot in the poll that sees it: the next migration
starts first, the server is then verified on its destination in the
same poll (it counts as done only once verified).

The report is written once for the lines a poll's lists bring (the
migrations seen running, ending...), not after each: before a request
(the intent is on disk before it goes out, submit.py) or at the end of
the lists.  Killed in between, the next run finds those migrations
where the report left them and follows them again (resume.py).
"""

import contextlib

from migrationclient.engine.drain import model

#: polls around an expected end: a step apart, from this many steps before
EARLY_BEFORE = 2
#: ... to this many after
EARLY_AFTER = 3
#: the step between those polls, as a fraction of ``--poll-interval``
EARLY_STEP = 0.125
#: ... and at least this many seconds
EARLY_STEP_MIN = 0.25
#: the estimate is the median of this many last migrations of a kind
LEARN = 5


class Pace:
    """Poll timing and early slot release of one :class:`~.run.Drain`."""

    def __init__(self, drain):
        self.drain = drain
        self.last_poll = None       # clock() of the last poll's start
        self.prev_poll = None       # ... and of the one before
        self.sent = {}              # item id -> t_submit of this run's
        self.learnt = {}            # action -> last request-to-end times
        self.freed = False          # a slot was freed before the verify
        self._firsts = set()        # first polls of expected ends
        self.held = False           # report writes held (holding())
        self.unsaved = False        # a change not written yet

    # -- what happened ------------------------------------------------------

    def polled(self, start):
        self.prev_poll, self.last_poll = self.last_poll, start

    def submitted(self, item):
        """``item``'s request is about to go out (this run sent it)."""
        self.sent[item.id] = item.t_submit

    def ended(self, item):
        """``item``'s migration was seen to end well: learn its time."""
        t = self.sent.pop(item.id, None)
        if t is None or t != item.t_submit:
            return      # adopted or resumed: its request time is unknown
        # Still moving at the previous poll (if it came after the
        # request), ended by now: the middle of the two.
        before = self.prev_poll
        low = before - t if before is not None and before > t else 0.0
        high = self.drain.clock() - t
        seen = self.learnt.setdefault(item.action, [])
        seen.append((low + high) / 2)
        del seen[:-LEARN]

    def expected(self, action):
        """Request-to-end time of a migration of kind ``action``, or None."""
        seen = sorted(self.learnt.get(action, ()))
        if not seen:
            return None
        mid = len(seen) // 2
        return seen[mid] if len(seen) % 2 else (seen[mid - 1] + seen[mid]) / 2

    # -- when to poll -------------------------------------------------------

    def expected_ends(self):
        """Expected end (clock()) of every migration in flight."""
        out = []
        for item in self.drain.in_flight():
            span = self.expected(item.action)
            t = self.sent.get(item.id)
            if span is None or t is None or item.stage is not None:
                continue
            out.append(t + span)
        return out

    def wait(self, due):
        """Sleep until the next poll: ``due`` by the cadence, or earlier.

        Polls are one ``--poll-interval`` apart from start to start, not
        from the end of the previous cycle's work (its reads, report
        writes and migration requests, a second or more under load), so
        an ended migration is seen and its slot reused no later than that;
        and earlier when a migration is expected to end (:meth:`next_poll`).
        Before the first poll of an expected end, the destinations'
        services are read if a migration could start (off the path from
        the end to the next request; services.py).
        """
        drain = self.drain
        if due is None:
            due = drain.clock() + drain.options.poll_interval
        when = self.next_poll(due)
        if when in self._firsts:
            lead = self.step()
            drain._wait(when - lead - drain.clock())
            if not drain.hard_stop and drain.pending() and drain._startable():
                drain.submitter.services.prefetch()
        drain._wait(when - drain.clock())

    def step(self):
        """Seconds between two polls around an expected end."""
        return max(EARLY_STEP_MIN,
                   self.drain.options.poll_interval * EARLY_STEP)

    def next_poll(self, due):
        """``due`` (the cadence's poll), or earlier when an end is due."""
        if self.drain.guard.outage or self.last_poll is None:
            return due
        step = self.step()
        floor = self.last_poll + step / 2
        best = due
        self._firsts = set()
        for end in self.expected_ends():
            first = end - EARLY_BEFORE * step
            if first >= floor:
                self._firsts.add(first)
            for n in range(EARLY_BEFORE + EARLY_AFTER + 1):
                when = first + n * step
                if when >= floor:
                    best = min(best, when)
                    break
        return best

    # -- the next start before the verify ----------------------------------

    def release_early(self, item, st):
        """Free ``item``'s slot now if its record shows a finished move.

        Only a live migration whose record is ``completed`` and names its
        destination: the server is verified later in the same poll, after
        the next migration started (:meth:`start_freed`).
        """
        if item.action != model.LIVE or st.status != 'completed' or \
                not st.migration.dest_compute:
            return False
        self.drain.slots.finish(item.id)
        self.freed = True
        return True

    def start_freed(self):
        """In a poll, after the lists: start what the freed slots allow."""
        if not self.freed:
            return
        self.freed = False
        drain = self.drain
        if drain.interrupted is None and not drain.hard_stop:
            drain.submitter.submit()

    # -- report writes --------------------------------------------------

    @contextlib.contextmanager
    def holding(self):
        """Write the report once for what happens inside (a poll's lists).

        A request's own write (submit.py) writes everything held so far.
        """
        self.held = True
        try:
            yield
        finally:
            self.held = False
            if self.unsaved:
                self.drain.save()

    def save_or_hold(self):
        """After a change: write the report now, or at the end of holding."""
        if self.held:
            self.unsaved = True
        else:
            self.drain.save()
