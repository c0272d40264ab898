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

"""Starting migrations: the limits decide, the requests go out together."""

from concurrent import futures

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.engine.drain import model
from migrationclient.engine.drain import policy
from migrationclient.engine.drain.policy import usable_pool
from migrationclient.engine.drain import services
from migrationclient.engine.drain import spread
from migrationclient.engine import report as report_mod


class Submitter:
    """Start the pending items of a :class:`~.run.Drain` the limits allow.

    The destinations' nova-compute services are read when something is
    about to start (:mod:`.services`).
    """

    def __init__(self, drain):
        self.drain = drain
        self.services = services.ServiceView(drain)
        self.spreader = spread.Spreader(drain)

    def submit(self):
        """Start what the limits allow; return how many were acted on.

        Every start is decided first (the slots are taken one by one, so
        the limits hold exactly as with one request at a time), then the
        requests of the round go out together (:meth:`_start_batch`).
        """
        acted = 0
        view = None
        batch = []
        for item in self.drain.pending():
            if self.drain.stop_reason or not self.drain.guard.may_start():
                break
            pool = tuple(h for h in self.drain.dest_hosts
                         if h not in item.excluded)
            cands = item.candidates
            if cands is None and self.drain.options.target_hosts:
                cands = tuple(self.drain.options.target_hosts)
            if cands is not None:
                cands = tuple(h for h in cands if h not in item.excluded)
                if not cands:
                    self.drain.conclude(item, model.FAILED, _(
                        'failed: no destination left to try'),
                        error=item.error or _('no destination left'))
                    acted += 1
                    continue
            if self.drain.ensure_watcher(item.original_host) is None:
                continue
            can_name = policy.can_name_host(
                self.drain.actions.version, item.action)
            live = item.action == model.LIVE
            if self.spreader.spread(item, can_name, self.services.view):
                cands = item.candidates     # a free host keeping the plan
            named = bool(self.drain.options.target_hosts)
            ok, target = self.drain.slots.choose(item.original_host, cands,
                                                 can_name, pool, live=live,
                                                 item_id=item.id, named=named)
            if not ok:
                continue
            # About to submit: are the destinations still usable?
            view = view or self.services.now()
            dropped = {}
            if view is not None:
                pool, cands, dropped = usable_pool(pool, cands, *view)
                if (cands is not None and not cands) or not pool:
                    why = '; '.join('%s: %s' % kv for kv in
                                    sorted(dropped.items()))
                    if self._replanned(item, why, view):
                        acted += 1
                        continue
                    self.drain.conclude(item, model.SKIPPED, _(
                        'not started: no allowed destination is usable now '
                        '(%s); run the drain again when one is back') % why,
                        error=_('no usable destination (%s)') % why)
                    acted += 1
                    continue
                if dropped:
                    ok, target = self.drain.slots.choose(
                        item.original_host, cands, can_name, pool,
                        live=live, item_id=item.id, named=named)
            if ok:
                # The slot is taken now: the next item's choice sees it.
                batch.append((item, target, dropped))
                self._reserve(item, target)
        if batch:
            # The intent is on disk before the requests go out: killed
            # while Nova pre-checks them, the next run looks up their
            # migrations instead of taking them for never sent.
            for item, _target, _dropped in batch:
                item.state = model.SUBMITTED
            if not self.drain.save():
                # Not on disk: send nothing (guard.py stops the starts).
                for item, _target, _dropped in batch:
                    item.state = model.PENDING
                    self._release(item)
                return acted
            self._start_batch(batch)
            acted += len(batch)
        return acted

    def _replanned(self, item, why, view):
        """Re-plan ``item`` whose planned destination is unusable now."""
        rp = self.drain.replanner
        if rp is None or not rp.follows(item):
            return False
        return rp.replan(self.drain, item, _(
            'planned destination unusable (%s)') % why,
            unusable=view[1])

    def _reserve(self, item, target):
        """Take the slot of ``item`` and reset it for a new attempt."""
        w = self.drain.watcher(item.original_host)
        item.attempts += 1
        item.destination = target
        item.migration_id = item.migration_uuid = None
        item.migration_status = item.stage = None
        item.timed_out = item.stuck_handled = False
        item.aborted_why = None
        item.percent = item.eta = None
        item.check_polls = 0
        item.t_submit = self.drain.clock()
        item.submitted_at = report_mod.isotime()
        self.drain.pace.submitted(item)
        self.drain.slots.start(item.id, item.original_host, target)
        w.expect(item.id)

    def _request(self, item, target):
        """The migration request of ``item``: None or its errors.CloudError."""
        try:
            if item.action == model.LIVE:
                self.drain.actions.live_migrate(item.id, target)
            else:
                self.drain.actions.cold_migrate(item.id, target)
        except errors.CloudError as exc:
            return exc
        return None

    def _start_batch(self, batch):
        """Send the requests of ``batch`` (slots taken), then follow them.

        Nova answers a live migration request (microversion 2.30) only
        after the conductor's pre-checks, a second or more per request:
        one at a time, the k-th start of a round would wait for the k-1
        before it.  The requests go out together (at most
        :data:`SUBMIT_THREADS` at once), only the HTTP call in a worker
        thread; the answers are then handled here in the drain's order,
        the accepted ones first (so that a failed request's poll of the
        watcher cannot take the records of the others before they are
        followed), and the report is written after each.
        """
        if len(batch) == 1:
            item, target, _dropped = batch[0]
            errors = [self._request(item, target)]
        else:
            with futures.ThreadPoolExecutor(
                    max_workers=min(len(batch), model.SUBMIT_THREADS),
                    thread_name_prefix='drain-submit') as pool:
                calls = [pool.submit(self._request, item, target)
                         for item, target, _dropped in batch]
                errors = [call.result() for call in calls]
        for (item, target, dropped), exc in zip(batch, errors):
            if exc is None:
                self._submitted(item, target, dropped)
        for (item, target, dropped), exc in zip(batch, errors):
            if exc is not None:
                self._refused(item, target, exc)

    def _refused(self, item, target, exc):
        if exc.maybe_processed and self._accepted_anyway(item, exc, target):
            return
        item.state = model.PENDING     # marked submitted before the request
        self.services.forget()      # read them again before the next start
        if isinstance(exc, errors.AuthFailed) or (
                (exc.no_answer or exc.status in model.TRANSIENT_STATUSES)
                and self.drain.guard.requeue(item)):
            # The API failed, not Nova's decision about this server: it
            # starts again once the API answers (guard.py).
            self._not_sent(item, exc)
            return
        # With a named host the SDK's live migration (2.30) gets the
        # scheduler's NoValidHost back as a synchronous 400, after
        # Nova created a migration record (status "error").  Let the
        # watcher take that record now, while no item is in flight
        # for this server, so a retry follows its own migration.
        self.drain.poll_watcher(item.original_host)
        if self.drain.follower.retry(item, str(exc), target):
            return
        self.drain.conclude(
            item, model.FAILED, _('refused: %s') %
            exc, error=str(exc))

    def _release(self, item):
        self.drain.slots.finish(item.id)
        item.attempts -= 1
        item.destination = item.submitted_at = item.t_submit = None

    def _not_sent(self, item, exc):
        self._release(item)
        self.drain.event(item, _('request failed (%s): the server stays '
                                 'pending') % (
            _('authentication') if isinstance(exc, errors.AuthFailed)
            else errors.one_line(exc)))
        if self.drain.guard.api_failed(exc):
            self.drain.hard_stop = True

    def _submitted(self, item, target, dropped):
        item.state = model.SUBMITTED
        text = _('%(action)s migration to %(dest)s submitted') % {
            'action': item.action,
            'dest': target or _('the scheduler\'s choice')}
        if dropped:
            text += ' (%s)' % _('not to %s') % '; '.join(
                '%s: %s' % kv for kv in sorted(dropped.items()))
        self.drain.event(item, text)

    def _accepted_anyway(self, item, exc, target):
        """After an error that Nova may have acted on: did it start?

        A lost answer (connection reset, after keystoneauth's
        ``connect_retries``), a 5xx, or a 409 because the server is
        already migrating (keystoneauth re-sent a request whose first
        answer was lost): one read of the server says.  When it migrates
        (or already left the host) the drain follows that migration;
        when the server cannot be read after a lost answer, the drain
        waits for a migration record as after any submission.
        """
        try:
            now = self.drain.actions.get_server(item.id)
        except errors.CloudError:
            if not exc.no_answer:
                return False
            now = None      # unknown: wait for a record, as after a 202
        else:
            if now is None or not (
                    now.task_state in model.MIGRATION_TASKS or
                    (now.host and now.host != item.original_host)):
                return False
        item.state = model.SUBMITTED
        self.drain.event(item, _(
            '%(action)s migration to %(dest)s: %(err)s; %(what)s: '
            'following its migration') % {
                'action': item.action,
                'dest': target or _('the scheduler\'s choice'),
                'err': exc,
                'what': (_('the server could not be read') if now is None
                         else _('the server is %(st)s/%(task)s on %(host)s'
                                ) % {'st': now.status,
                                     'task': now.task_state or '-',
                                     'host': now.host})})
        return True
