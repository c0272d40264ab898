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

"""Following migrations: events, stuck, failures, retry, timeout, interrupt."""

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.engine.drain import model
from migrationclient.engine.drain import resume
from migrationclient.engine import watch


class Follower:
    """Apply what the watchers of a :class:`~.run.Drain` see to its items."""

    def __init__(self, drain):
        self.drain = drain
        self._interrupt_aborts_done = False

    def reconcile(self):
        """Apply what the watchers saw in a poll that failed half-way.

        A poll can fail after it observed a migration end (the end is
        recorded in the watcher, its event is lost with the exception):
        follow the watcher's state of each in-flight server instead.
        """
        for item in self.drain.in_flight():
            if item.stage is not None or item.t_submit is None:
                continue
            w = self.drain.watchers.get(item.original_host)
            st = w.for_server(item.id) if w is not None else None
            if st is None or st.first_seen < item.t_submit or (
                    item.migration_id is not None and
                    str(st.id) != str(item.migration_id)):
                continue
            if st.ended:
                self.handle(w, [watch.Event('ended', watch.utcnow(), st,
                                            _('ended %s') % st.status)])
            elif item.migration_id is None:
                self.handle(w, [watch.Event('new', watch.utcnow(), st,
                                            '')])

    def adopt(self):
        """Follow migrations already in flight (resume, rerun)."""
        records = resume.Records(self.drain.actions)
        for item in self.drain.items:
            if item.state not in (model.PENDING,) + model.IN_FLIGHT:
                continue
            w = self.drain.watchers.get(item.original_host)
            st = w.for_server(item.id) if w is not None else None
            if st is not None and not st.ended and \
                    st.migration.source_compute == item.original_host:
                self._follow(item, st, _('following migration %s already '
                                         'in progress') % st.id)
            elif item.state in model.IN_FLIGHT:
                resume.resume_ended(self.drain, item, records)

    def _follow(self, item, st, text):
        item.state = model.MIGRATING
        item.migration_id = st.id
        item.migration_uuid = st.migration.uuid
        item.migration_status = st.status
        if item.t_submit is None:
            item.t_submit = self.drain.clock()
        self.drain.slots.start(item.id, item.original_host,
                               st.migration.dest_compute or item.destination)
        self.drain.event(item, text)

    def handle(self, watcher, events):
        for ev in events:
            item = self.drain.by_server(ev.state.server_id)
            if item is None:
                continue
            st = ev.state
            if item.migration_id is None:
                if st.migration.source_compute not in (
                        None, item.original_host):
                    continue
                item.migration_id = st.id
                item.migration_uuid = st.migration.uuid
                if item.state == model.SUBMITTED:
                    item.state = model.MIGRATING
            elif str(st.id) != str(item.migration_id):
                continue
            dest = st.migration.dest_compute
            if dest:
                self.drain.slots.place(item.id, dest)
            if ev.kind in ('new', 'status'):
                item.migration_status = st.status
                self.drain.event(item, _('migration %(id)s %(status)s%(dest)s')
                                 % {'id': st.id, 'status': st.status,
                                    'dest': (' -> %s' % dest) if dest else ''})
            elif ev.kind == 'stuck':
                self._stuck(watcher, item, st, ev.message)
            elif ev.kind in ('unstuck', 'warning', 'action'):
                self.drain.event(item, ev.message)
            if ev.kind == 'ended':
                self._ended(item, st)

    def _stuck(self, watcher, item, st, message):
        policy = self.drain.options.on_stuck
        if policy == 'wait' or item.stuck_handled:
            self.drain.event(
                item,
                _('%s; waiting (--on-stuck wait)') %
                message)
            return
        item.stuck_handled = True
        try:
            if policy == 'abort':
                watcher.abort(st)
                item.aborted_why = message
                self.drain.event(item, _('%s: abort requested') % message)
            else:
                watcher.force_complete(st)
                self.drain.event(item, _('%s: force-complete requested (the '
                                         'guest pauses until the copy ends)')
                                 % message)
        except errors.CloudError as exc:
            self.drain.event(item, _('%(msg)s: %(policy)s refused: %(err)s')
                             % {'msg': message, 'policy': policy, 'err': exc})

    def _ended(self, item, st):
        item.migration_status = st.status
        if st.outcome == 'completed':
            self.drain.pace.ended(item)
            if item.action == model.COLD and st.status == 'finished':
                item.stage = 'finished'
                self.drain.checker.confirm_step(item)
            else:
                item.stage = 'verify'
                if not self.drain.pace.release_early(item, st):
                    self.drain.checker.verify_step(item)
            return
        reason = st.reason.summary if st.reason else None
        if st.outcome == 'cancelled':
            now = self.server_now(item)
            if now is not None:
                item.final_host = now.host
            why = item.aborted_why or reason or _('migration %(id)s %(st)s'
                                                  ) % {'id': st.id,
                                                       'st': st.status}
            state = model.TIMEOUT if item.timed_out else model.ABORTED
            self.drain.conclude(item, state, _(
                '%(st)s: %(why)s; the server stays on %(host)s') % {
                'st': state, 'why': why,
                'host': item.final_host or item.original_host}, error=why)
            return
        now = self.server_now(item)
        verdict = watch.move_verdict(st, item.original_host,
                                     item.original_status,
                                     now.as_dict() if now else {})
        why = verdict.message
        if now is not None:
            item.final_host = now.host
            if now.status == 'ERROR':
                why = _('%s; the server is now in ERROR') % why
        if (now is None or now.status != 'ERROR') and self.retry(
                item, reason or why,
                st.migration.dest_compute or item.destination):
            return
        self.fail(item, why)

    def fail(self, item, why):
        """``item`` failed for ``why`` (said as "failed: <why>")."""
        self.drain.conclude(item, model.FAILED, _('failed: %s') % why,
                            error=why)

    def retry(self, item, why, tried):
        """Re-plan ``item`` (it follows the plan), or requeue it once.

        A server that follows the capacity plan and whose destination
        Nova refused is re-planned on fresh facts (:mod:`.replan`);
        otherwise ``--retry`` requeues it once on another host after
        NoValidHost.
        """
        rp = self.drain.replanner
        if rp is not None and rp.follows(item):
            return rp.refused(self.drain, item, why, tried)
        if not (self.drain.options.retry and item.attempts < 2
                and 'no valid host' in why.lower()
                and self.drain.stop_reason is None):
            return False
        if tried:
            item.excluded = tuple(item.excluded) + (tried,)
        self.drain.slots.finish(item.id)
        item.state = model.PENDING
        item.error = why
        self.drain.event(item, _('%(why)s: retrying on another host (once, '
                                 '--retry)') % {'why': why})
        return True

    def server_now(self, item):
        try:
            return self.drain.actions.get_server(item.id)
        except errors.CloudError:
            return None

    def no_record(self, item):
        if item.t_submit is None or \
                self.drain.clock() - item.t_submit < model.RECORD_GRACE:
            return
        now = self.server_now(item)
        if now is not None and now.task_state:
            return
        why = _('no migration record appeared within %ds of the request'
                ) % int(model.RECORD_GRACE)
        self.fail(item, why)

    def check_timeout(self, item):
        timeout = self.drain.options.timeout
        if not timeout or item.timed_out or item.t_submit is None or \
                item.state not in model.IN_FLIGHT:
            return
        if self.drain.clock() - item.t_submit < timeout:
            return
        item.timed_out = True
        why = _('--timeout %ds reached') % int(timeout)
        item.aborted_why = why
        w = self.drain.watchers.get(item.original_host)
        st = w.for_server(item.id) if w is not None else None
        if item.action == model.LIVE and st is not None and not st.ended and \
                str(st.id) == str(item.migration_id):
            try:
                w.abort(st)
                self.drain.event(item, _('%s: abort requested') % why)
                return
            except errors.CloudError as exc:
                why = _('%(why)s (abort refused: %(err)s)') % {
                    'why': why, 'err': exc}
        self.drain.conclude(item, model.TIMEOUT, _(
            '%(why)s: no longer waiting; migration %(id)s is %(st)s') % {
            'why': why, 'id': item.migration_id,
            'st': item.migration_status}, error=why)

    def on_interrupt(self):
        if self.drain.options.on_interrupt == 'abort' and \
                not self._interrupt_aborts_done:
            self._interrupt_aborts_done = True
            for item in self.drain.in_flight():
                w = self.drain.watchers.get(item.original_host)
                st = w.for_server(item.id) if w is not None else None
                if item.action != model.LIVE or st is None or st.ended or \
                        str(st.id) != str(item.migration_id):
                    continue
                try:
                    w.abort(st)
                    item.aborted_why = _('interrupted (%s), aborted') % (
                        self.drain.interrupted)
                    self.drain.event(item, _('interrupted: abort requested'))
                except errors.CloudError as exc:
                    self.drain.event(item, _(
                        'interrupted: abort refused (%s); still watching')
                        % exc)
        drain = self.drain
        if drain.clock() - drain.interrupted_at >= (
                drain.options.grace_period):
            self.drain.hard_stop = True
