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

"""Did the server really move?  (:func:`move_verdict`, the drain's "done")."""

import dataclasses

from migrationclient._i18n import _


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
