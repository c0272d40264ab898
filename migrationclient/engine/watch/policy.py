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

"""What the watching engine does on its own: :class:`Policy`, :func:`apply`.

Nothing by default; ``--abort-after``, ``--force-complete-after`` and
``--on-stuck`` of ``migration watch`` (the drain acts on stuck migrations
itself, with an empty policy).
"""

import dataclasses

from migrationclient._i18n import _
from migrationclient.cloud import errors as cloud_errors
from migrationclient.engine.watch import state as state_mod
from migrationclient import errors
from migrationclient import microversions as mv

ON_STUCK = ('report', 'abort', 'force-complete')

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


class PolicyError(errors.Error):
    """The cloud cannot do what the policy asks (one line)."""


def check_policy(policy, version):
    """Can compute API ``version`` do what ``policy`` asks?

    :raises PolicyError: it cannot abort / force-complete as asked
    :returns: lines to show the user first (warnings, limits)
    """
    wants_abort = (policy.abort_after is not None or
                   policy.on_stuck == 'abort')
    wants_force = (policy.force_complete_after is not None or
                   policy.on_stuck == 'force-complete')
    if wants_abort and version < mv.ABORT:
        raise PolicyError(
            _('Abort is not available: it needs compute API %(need)s, '
              'this cloud / --os-compute-api-version gives %(have)s')
            % {'need': mv.ABORT, 'have': version})
    if wants_force and version < mv.FORCE_COMPLETE:
        raise PolicyError(
            _('Force-complete is not available: it needs compute API '
              '%(need)s, this cloud / --os-compute-api-version gives '
              '%(have)s') % {'need': mv.FORCE_COMPLETE, 'have': version})
    lines = []
    if wants_force:
        lines.append(_('WARNING: %s') % FORCE_COMPLETE_WARNING)
    if version < mv.SERVER_MIGRATIONS:
        lines.append(
            _('Note: compute API %(have)s < %(need)s: no byte progress, '
              'statuses from os-migrations only')
            % {'have': version, 'need': mv.SERVER_MIGRATIONS})
    return lines


def apply(watcher):
    """Act on ``watcher.policy`` for its active migrations; -> Events."""
    events = []
    p = watcher.policy
    t = watcher.clock()
    for state in watcher.active:
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
        events.extend(_act(watcher, state, wanted, cause))
    return events


def _act(watcher, state, action, cause):
    check = (watcher.cloud.can_abort if action == 'abort'
             else watcher.cloud.can_force_complete)
    why = check(state.migration)
    wall = watcher.wallclock()
    if why:
        key = (action, why)
        if key in state.warned:
            return []
        state.warned.add(key)
        text = _('%(action)s (%(cause)s) not possible now: %(why)s') % {
            'action': action, 'cause': cause, 'why': why}
        return [state_mod.Event('warning', wall, state, text,
                                {'action': action})]
    try:
        do = watcher.abort if action == 'abort' else watcher.force_complete
        event = do(state)
    except cloud_errors.CloudError as exc:
        state.actions.append(action)   # do not hammer a refusal
        return [state_mod.Event('warning', wall, state, str(exc),
                                {'action': action})]
    event.message = '%s (%s)' % (event.message, cause)
    return [event]


def _num(v):
    return ('%g' % v)
