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

"""The drain's run loop: submit, poll, follow, end (:class:`Drain`).

One :class:`Drain` runs the planned items of a drain with its three
collaborators, each over the same state (the items, the limits, the
watchers, the report): :class:`~.submit.Submitter` starts what the limits
allow, :class:`~.follow.Follower` follows the migrations (stuck, timeout,
interrupt, failure, retry) and :class:`~.check.Checker` checks a server
after its migration ended (confirm, verify).
"""

import time

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.engine.drain import census as census_mod
from migrationclient.engine.drain import check
from migrationclient.engine.drain import follow
from migrationclient.engine.drain import guard as guard_mod
from migrationclient.engine.drain import model
from migrationclient.engine.drain.model import exit_status
from migrationclient.engine.drain.model import summary
from migrationclient.engine.drain import observe
from migrationclient.engine.drain import pace as pace_mod
from migrationclient.engine.drain import submit
from migrationclient.engine import report as report_mod
from migrationclient import exitcodes


class Drain:
    """Run planned items: submit with bounded concurrency, follow, end.

    :param actions: :class:`migrationclient.cloud.actions.Actions` (or an
        object with its methods)
    :param watcher_for: ``callable(host) -> watch.Watcher`` scoped to one
        source host (one ``os-migrations`` list per poll and host)
    :param items: planned :class:`Item` list (ended ones are kept)
    :param report: report dict (:func:`report.new_report`), rewritten to
        ``report_path`` after every state change
    :param on_event: ``callback(item, text)`` for each state change
    :param dest_hosts: every possible destination host (for items whose
        candidates are not known)
    :param events: ``--events``: an :class:`events.EventSink`, or None
    :param metrics_file: ``--metrics-file``: a
        :class:`metrics.MetricsFile`, or None
    :param replanner: :class:`~.replan.Replanner` of the servers that
        follow the capacity plan, or None
    """

    def __init__(self, actions, watcher_for, items, options, report,
                 report_path=None, on_event=None, dest_hosts=(),
                 clock=time.monotonic, sleep=time.sleep,
                 write=report_mod.write_atomic, events=None,
                 metrics_file=None, token_expires=None, replanner=None):
        self.actions = actions
        self.watcher_for = watcher_for
        self.items = items
        self.options = options
        self.report = report
        self.report_path = report_path
        self.on_event = on_event or (lambda item, text: None)
        self.dest_hosts = tuple(dest_hosts)
        self.replanner = replanner
        self.clock = clock
        self.sleep = sleep
        self.write = write
        # Limits counted from the cloud's records (census.py).
        self.census, self.slots = census_mod.for_drain(self)
        self.watchers = {}
        self.failures = 0
        self.stop_reason = None
        self.interrupted = None
        self.interrupted_at = None
        self.hard_stop = False
        self.cycle = 0              # poll cycles so far
        self.api_errors = 0         # failed polls in a row
        self.guard = guard_mod.Guard(self, token_expires)
        self._poll_due = None       # clock() of the next poll, if any
        self.pace = pace_mod.Pace(self)     # early polls (pace.py)
        self.submitter = submit.Submitter(self)
        self.follower = follow.Follower(self)
        self.checker = check.Checker(self)
        self.observer = observe.Observer(self, events, metrics_file)

    def request_stop(self, why='SIGINT'):
        """Stop submitting; a second call stops watching too."""
        if self.interrupted is None:
            self.interrupted = why
            self.interrupted_at = self.clock()
            if self.stop_reason is None:
                self.stop_reason = _('interrupted (%s)') % why
        else:
            self.hard_stop = True

    def save(self, final_state=None):
        self.pace.unsaved = False
        self.report['servers'] = [i.to_dict() for i in self.items]
        self.report['updated_at'] = report_mod.isotime()
        self.report['summary'] = summary(self.items)
        if final_state:
            self.report['state'] = final_state
            self.report['finished_at'] = report_mod.isotime()
        if self.report_path:
            try:
                self.write(self.report_path, self.report)
            except OSError as exc:
                # Follow what runs, start nothing more (guard.py).
                self.guard.write_failed(exc)
                return False
            self.guard.written(self.report['updated_at'])
        return True

    def event(self, item, text):
        """Tell the log and the events file, rewrite the report."""
        self.observer.say(item, text)
        self.pace.save_or_hold()

    def in_flight(self):
        return [i for i in self.items if i.state in model.IN_FLIGHT]

    def pending(self):
        return [i for i in self.items if i.state == model.PENDING]

    def by_server(self, server_id):
        for item in self.items:
            if item.id == server_id and item.state in model.IN_FLIGHT:
                return item
        return None

    def conclude(self, item, state, text, error=None):
        """End ``item`` in ``state`` (done, failed...): free its slot."""
        item.state = state
        item.stage = None
        if error is not None:
            item.error = error
        item.finished_at = report_mod.isotime()
        if item.t_submit is not None:
            item.duration = round(self.clock() - item.t_submit, 1)
        self.slots.finish(item.id)
        if state in model.FAILURES:
            self.failures += 1
            limit = self.options.max_failures
            if limit and self.failures >= limit and not self.stop_reason:
                self.stop_reason = _('%d failure(s): --max-failures '
                                     'reached') % self.failures
        self.event(item, text)

    def watcher(self, host):
        """The watcher of source ``host`` (started on first use)."""
        w = self.watchers.get(host)
        if w is None:
            w = self.census.attach(self.watcher_for(host))
            events = w.start()      # kept only once its baseline is read
            self.watchers[host] = w
            self.follower.handle(w, events)
        return w

    def ensure_watcher(self, host):
        """The watcher of ``host``, or None when the cloud failed."""
        try:
            return self.watcher(host)
        except errors.CloudError as exc:
            self.cloud_failed(host, exc)
            return None

    def run(self):
        """Run until every item ended or the drain stops.

        Returns the exit status (:mod:`migrationclient.exitcodes`).
        """
        self.observer.start()
        self.save()
        for host in sorted({i.original_host for i in self.items
                            if i.state == model.PENDING or
                            i.state in model.IN_FLIGHT}):
            self.ensure_watcher(host)
        self.follower.adopt()
        self.observer.publish()
        while not self.hard_stop:
            if self.guard.watch_over():
                break
            progressed = 0
            if self.interrupted is not None:
                self.follower.on_interrupt()
            else:
                progressed = self.submitter.submit()
            if not self.in_flight():
                if self.interrupted is not None or not self._startable():
                    break
                if progressed:
                    continue
                if self.guard.outage:
                    # The cloud fails: poll (backed off) until it answers.
                    self._wait(self.guard.poll_delay())
                    self._poll()
                    continue
                if self.census.blocked_by_others(self):
                    # The limits wait for others' migrations (census.py).
                    self._wait(self.guard.poll_delay())
                    self.census.poll_alone(self)
                    continue
                # Nothing runs and nothing could start: no destination.
                self.stop_reason = _('no allowed destination is usable')
                break
            self._wait_poll()
            if self.hard_stop:
                break
            self._poll()
        return self._finish()

    def _wait_poll(self):
        """Sleep until the next poll is due (pace.py)."""
        self.pace.wait(self._poll_due)

    def _startable(self):
        return bool(self.pending()) and self.stop_reason is None and (
            self.guard.outage or self.guard.may_start())

    def _wait(self, seconds):
        end = self.clock() + seconds
        while not self.hard_stop:
            left = end - self.clock()
            if left <= 0:
                return
            self.sleep(min(left, 0.2))

    def _poll(self):
        self.cycle += 1
        start = self.clock()
        self.pace.polled(start)
        if self.guard.write_error is not None:
            self.save()     # retried at every poll
        with self.pace.holding():   # one report write (pace.py)
            if not self._list(start):
                return      # nothing is checked while the API fails
        self.checker.read_together(self.in_flight())
        for item in self.in_flight():
            if item.stage == 'finished':
                self.checker.confirm_step(item)
            elif item.stage in ('confirming', 'verify'):
                self.checker.verify_step(item)
            elif item.state == model.SUBMITTED:
                self.follower.no_record(item)
            self.follower.check_timeout(item)
        self.observer.refresh_all()
        self.observer.publish()

    def _list(self, start):
        """The poll's lists, then the starts they allow; False: failed."""
        hosts = sorted({i.original_host for i in self.in_flight()} or (
            {i.original_host for i in self.pending()}
            if self.guard.outage else ()))
        failed = None
        with self.census.cycle():   # one cloud-wide list (census.py)
            for host in hosts:
                if not self.poll_watcher(host):
                    failed = True
                    break
        self._poll_due = start + self.guard.poll_delay()
        if failed:
            self.follower.reconcile()
            self.observer.publish()
            return False
        if hosts:
            self.api_errors = 0
            self.guard.api_ok()
        self.pace.start_freed()     # before the verify reads (pace.py)
        return True

    def poll_watcher(self, host):
        """Poll the watcher of ``host``; False when the cloud failed.

        keystoneauth / openstacksdk have already retried the request as
        clouds.yaml says (``status_code_retries``, ``connect_retries``);
        the drain does not retry it again but polls at the next cycle,
        backing off, and stops watching when the outage outlasts its
        budget (:mod:`~migrationclient.engine.drain.guard`).
        """
        try:
            w = self.watcher(host)
            self.follower.handle(w, w.poll())
        except errors.CloudError as exc:
            self.cloud_failed(host, exc)
            return False
        return True

    def cloud_failed(self, host, exc):
        self.api_errors += 1
        if self.api_errors == 1 and not isinstance(exc, errors.AuthFailed):
            self.observer.note(_('cloud'), _(
                'cannot poll the migrations of %(host)s: %(err)s') % {
                    'host': host, 'err': errors.one_line(exc)})
        if self.guard.api_failed(exc):
            self.hard_stop = True

    def _finish(self):
        self.census.close()
        for item in self.items:
            if item.state == model.PENDING:
                item.state = model.NOT_STARTED
                item.error = self.stop_reason or _('not started')
            elif item.state in model.IN_FLIGHT:
                # Still moving: the next run follows the migration.
                item.error = self.guard.in_flight_error(item) or _(
                    'still in flight when the drain stopped (migration %s): '
                    'run the drain again to follow it') % item.migration_id
        status = exit_status(self.items, self.interrupted is not None)
        if status == exitcodes.OK:
            state = 'complete'
        elif self.interrupted is not None:
            state = 'interrupted'
        else:
            state = 'incomplete'
        for _attempt in range(model.FINAL_WRITES):
            if self.save(final_state=state):
                break
            self.sleep(1)
        if self.guard.write_error is not None:
            status = status or exitcodes.DRAIN_INCOMPLETE
        self.observer.end(state, status)
        self.observer.publish(state)
        return status
