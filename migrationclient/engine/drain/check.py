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

"""After a migration ended: check the server, confirm a cold migration."""

from concurrent import futures

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.engine.drain import model


class Checker:
    """Decide whether an item whose migration ended is done.

    "Done" (the only success): the migration record reached ``completed``
    (live) or ``confirmed`` (cold), the server's host is no longer the
    source and its status is the one it had before.
    """

    def __init__(self, drain):
        self.drain = drain
        self._read = {}     # server id -> (server or None, error or None)

    def read_together(self, items):
        """Read the servers ``items`` verify in this poll, together.

        Each read in a worker thread (at most :data:`SUBMIT_THREADS`),
        only the HTTP call; :meth:`verify_step` then takes its answer.
        Many migrations that ended in one poll are checked in the time
        of one read, not one after the other.
        """
        ids = [i.id for i in items if i.stage == 'verify']
        self._read = {}
        if len(ids) < 2:
            return
        with futures.ThreadPoolExecutor(
                max_workers=min(len(ids), model.SUBMIT_THREADS),
                thread_name_prefix='drain-verify') as pool:
            calls = {sid: pool.submit(self._get, sid) for sid in ids}
        self._read = {sid: call.result() for sid, call in calls.items()}

    def _get(self, server_id):
        try:
            return self.drain.actions.get_server(server_id), None
        except errors.CloudError as exc:
            return None, exc

    def confirm_step(self, item):
        now = self.drain.follower.server_now(item)
        if now is None:
            return
        if now.status != 'VERIFY_RESIZE' or now.task_state or \
                now.host == item.original_host:
            item.check_polls += 1
            if item.check_polls >= model.CHECK_POLLS * 6 and (
                    now.status not in ('VERIFY_RESIZE', 'RESIZE')):
                why = _('cold migration finished but the server is %s on '
                        '%s') % (now.status, now.host)
                self.drain.conclude(
                    item, model.FAILED, _('failed: %s') %
                    why, error=why)
            return
        item.final_host = now.host
        if not self.drain.options.confirm:
            self.drain.conclude(item, model.UNCONFIRMED, _(
                'on %s in VERIFY_RESIZE: left for the operator to confirm '
                '(--no-confirm)') % now.host)
            return
        try:
            self.drain.actions.confirm(item.id)
        except errors.CloudError as exc:
            self.drain.conclude(item, model.FAILED,
                                _('confirm refused: %s') % exc,
                                error=str(exc))
            return
        item.stage = 'confirming'
        item.check_polls = 0
        self.drain.event(item, _('healthy on %s (VERIFY_RESIZE): confirmed')
                         % now.host)

    def verify_step(self, item):
        now, exc = self._read.pop(item.id, None) or self._get(item.id)
        if exc is not None:
            item.read_errors += 1
            if item.read_errors < model.API_ERROR_POLLS:
                self.drain.event(item, _(
                    'cannot read the server (%s): checking again at the '
                    'next poll') % exc)
                return
            why = _('cannot read the server after its migration %(id)s '
                    'ended (%(err)s)') % {'id': item.migration_id,
                                          'err': exc}
            self.drain.conclude(
                item, model.FAILED, _('failed: %s') %
                why, error=why)
            return
        item.read_errors = 0
        if now is None:
            self.drain.conclude(item, model.FAILED,
                                _('failed: the server is gone'),
                                error=_('the server is gone'))
            return
        item.final_host = now.host
        item.check_polls += 1
        if now.task_state or now.host == item.original_host or \
                now.status != item.original_status:
            if item.check_polls < model.CHECK_POLLS:
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
            self.drain.conclude(
                item, model.FAILED, _('failed: %s') %
                why, error=why)
            return
        if item.action == model.COLD:
            recs = []
            try:
                recs = self.drain.actions.migration_records(item.id)
            except errors.CloudError:
                pass
            rec = [r for r in recs if str(r.id) == str(item.migration_id)]
            if rec and rec[0].status != 'confirmed':
                if item.check_polls < model.CHECK_POLLS:
                    return
            if rec:
                item.migration_status = rec[0].status
        self.drain.conclude(item, model.DONE, _(
            'done: on %(host)s, %(st)s') % {'host': now.host,
                                            'st': now.status})
