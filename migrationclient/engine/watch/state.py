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

"""What the watching engine knows: :class:`MigrationState`, :class:`Event`.

Pure: no cloud call.  :func:`exit_status` is the documented exit status of
``migration watch`` for a set of states.
"""

import dataclasses
import datetime

from migrationclient._i18n import _
from migrationclient.engine import progress
from migrationclient.engine import render
from migrationclient import exitcodes

FINISHED = 'finished'
TIMEOUT = 'timeout'
STOPPED = 'stopped'


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


def id_key(ident):
    """Sort key of a migration id (numbers first, by value)."""
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
