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

"""Pure arithmetic for migration progress: rate, ETA and stuck detection.

No I/O and no clock here: callers pass the time of each observation
(seconds, any monotonic origin) and the byte counters Nova reports for a
live migration (``memory_total_bytes``, ``memory_processed_bytes``,
``memory_remaining_bytes`` and the ``disk_*`` equivalents, compute API
2.23+).

Definitions (documented in doc/source/user/watch.rst):

* **percent** = (total - remaining) / total.  ``processed`` is not used for
  the percentage: a live migration copies dirtied pages again, so
  ``processed`` can exceed ``total``.
* **transfer rate** = growth of ``processed`` per second over the last
  ``rate_window`` seconds of observations.
* **shrink rate** = decrease of ``remaining`` per second over the same
  window; **dirty rate** = transfer rate - shrink rate (pages the guest
  dirtied again while they were being copied), never below 0.
* **ETA** = remaining / shrink rate, unknown (``None``) while remaining
  does not shrink.
* **stuck**: the migration is copying (``processed`` grows or is known) but
  ``remaining`` has not reached a new low for ``stuck_window`` seconds:
  the guest dirties memory at least as fast as it is copied (this is the
  rule of Nova's own ``live_migration_progress_timeout``).
"""

import collections
import dataclasses


@dataclasses.dataclass(frozen=True)
class Bytes:
    """One observation of a byte counter triple, at time ``t``."""

    t: float
    total: int | None
    processed: int | None
    remaining: int | None

    @property
    def known(self):
        return self.total is not None and self.remaining is not None

    @property
    def percent(self):
        """Done fraction in percent, 0-100, or None when unknown."""
        if not self.known or not self.total:
            return None
        done = max(0, self.total - self.remaining)
        return min(100.0, 100.0 * done / self.total)


@dataclasses.dataclass(frozen=True)
class Estimate:
    """What :class:`Tracker` concludes from its observations."""

    current: Bytes | None
    transfer_rate: float | None   # bytes/s
    shrink_rate: float | None     # bytes/s, remaining decrease
    dirty_rate: float | None      # bytes/s, transfer - shrink, >= 0
    eta: float | None             # seconds
    stalled_for: float            # seconds without a new low of remaining
    stuck: bool

    @property
    def percent(self):
        return self.current.percent if self.current else None


def rate(first, last, attr):
    """Change of ``attr`` per second between two :class:`Bytes`, or None."""
    a = getattr(first, attr)
    b = getattr(last, attr)
    dt = last.t - first.t
    if a is None or b is None or dt <= 0:
        return None
    return (b - a) / dt


def eta(remaining, shrink_rate):
    """Seconds until ``remaining`` reaches 0 at ``shrink_rate``, or None."""
    if remaining is None:
        return None
    if remaining <= 0:
        return 0.0
    if not shrink_rate or shrink_rate <= 0:
        return None
    return remaining / shrink_rate


class Tracker:
    """Rate, ETA and stuck state of one byte counter (memory or disk).

    ``observe(t, total, processed, remaining)`` once per poll; ``estimate(t)``
    at any time.  Observations whose counters did not change are ignored for
    rates (Nova saves the counters every few seconds, not on every poll), but
    time keeps running for the stuck window.
    """

    def __init__(self, rate_window=10.0, stuck_window=60.0):
        if rate_window <= 0 or stuck_window <= 0:
            raise ValueError('windows must be positive')
        self.rate_window = float(rate_window)
        self.stuck_window = float(stuck_window)
        self._samples = collections.deque()
        self._low = None          # lowest remaining seen
        self._low_since = None    # time that low was first seen
        self._first_t = None

    @property
    def samples(self):
        return tuple(self._samples)

    def observe(self, t, total, processed, remaining):
        """Record one observation; return True when the counters changed."""
        sample = Bytes(t, total, processed, remaining)
        if not sample.known:
            return False
        if self._first_t is None:
            self._first_t = t
        last = self._samples[-1] if self._samples else None
        changed = last is None or (
            (last.total, last.processed, last.remaining)
            != (total, processed, remaining))
        if changed:
            self._samples.append(sample)
        if self._low is None or remaining < self._low:
            self._low = remaining
            self._low_since = t
        # Keep one sample older than the window so that a rate over the
        # whole window can still be computed.
        while (len(self._samples) > 2 and
               self._samples[1].t <= t - self.rate_window):
            self._samples.popleft()
        return changed

    def estimate(self, t):
        """Return an :class:`Estimate` as of time ``t``."""
        if not self._samples:
            return Estimate(None, None, None, None, None, 0.0, False)
        current = self._samples[-1]
        first = self._samples[0]
        transfer = shrink = dirty = None
        # Rates from the change points, measured up to the last change:
        # Nova saves the counters every few seconds (libvirt: every
        # live_migration_monitor_interval, 5 s), so the time since the last
        # change does not dilute the rate ... unless no change came for a
        # whole window: then the counters really stand still.
        end = current
        if t - current.t > self.rate_window:
            end = dataclasses.replace(current, t=t)
        if end is not first:
            transfer = rate(first, end, 'processed')
            grow = rate(first, end, 'remaining')
            shrink = -grow if grow is not None else None
            if transfer is not None and shrink is not None:
                dirty = max(0.0, transfer - shrink)
        if current.remaining is not None and current.remaining <= 0:
            stalled = 0.0
        else:
            stalled = max(0.0, t - self._low_since)
        stuck = (stalled >= self.stuck_window and
                 t - self._first_t >= self.stuck_window)
        return Estimate(
            current=current,
            transfer_rate=transfer,
            shrink_rate=shrink,
            dirty_rate=dirty,
            eta=eta(current.remaining, shrink),
            stalled_for=stalled,
            stuck=stuck,
        )
