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
Each migration this run sent and saw end well tells how long one takes,
from its request: at least until the poll before the one that saw the
end (it was still moving then), at most until the poll that saw it.
The drain keeps the tightest bounds over the migrations of each kind
(live, cold) and polls from a migration's request plus the lower bound,
then every :data:`EARLY_STEP` x ``--poll-interval`` until a step past
the upper bound (at most
:data:`EARLY_POLLS` polls per migration), never closer than a step to
the previous poll: the bounds close in to a step, and an end is seen
within a step.  Each poll still lists each source host once.

A live migration whose record says ``completed`` and names its
destination frees its slot in the poll that sees it: the next migration
starts first, the server is then verified on its destination in the
same poll (it counts as done only once verified).
"""

from migrationclient.engine.drain import model

#: at most this many extra polls per migration expected to end
EARLY_POLLS = 6
#: the step between those polls, as a fraction of ``--poll-interval``
EARLY_STEP = 0.25


class Pace:
    """Poll timing and early slot release of one :class:`~.run.Drain`."""

    def __init__(self, drain):
        self.drain = drain
        self.last_poll = None       # clock() of the last poll's start
        self.prev_poll = None       # ... and of the one before
        self.sent = {}              # item id -> t_submit of this run's
        self.bounds = {}            # action -> [low, high] request-to-end
        self.freed = False          # a slot was freed before the verify

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
        # request), ended by now.
        before = self.prev_poll
        low = before - t if before is not None and before > t else 0.0
        high = self.drain.clock() - t
        known = self.bounds.get(item.action)
        if known is None:
            self.bounds[item.action] = [low, high]
        else:
            known[0] = max(known[0], low)
            known[1] = min(known[1], high)

    # -- when to poll -------------------------------------------------------

    def windows(self):
        """``(first, last)`` clock() of the polls for each expected end."""
        out = []
        for item in self.drain.in_flight():
            bounds = self.bounds.get(item.action)
            t = self.sent.get(item.id)
            if bounds is None or t is None or item.stage is not None:
                continue
            low, high = sorted(bounds)  # in order even when spans vary
            out.append((t + low, t + high))
        return out

    def next_poll(self, due):
        """``due`` (the cadence's poll), or earlier when an end is due."""
        if self.drain.guard.outage or self.last_poll is None:
            return due
        step = self.drain.options.poll_interval * EARLY_STEP
        floor = self.last_poll + step
        best = due
        for first, last in self.windows():
            for n in range(EARLY_POLLS):
                when = first + n * step
                if when >= floor:
                    best = min(best, when)
                    break
                if when >= last + step:
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
