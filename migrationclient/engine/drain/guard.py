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

"""What a long drain meets: an unwritable report, an outage, a token.

:class:`Guard` keeps, for one :class:`~.run.Drain`, the three conditions
under which the drain must start nothing new while it keeps following
what runs:

* the report cannot be written (the drain would decide things nobody can
  see): no new start for the rest of the run, the write retried at every
  poll;
* the cloud API fails (a restart behind a load balancer): no new start
  while it fails, polls backed off, for at most
  :data:`~.model.API_OUTAGE_BUDGET` seconds (time, not a number of polls);
* the token cannot be renewed (token auth) and expires soon: no new start
  once a migration could outlive it, watching ends shortly before it.
"""

import datetime

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.engine.drain import model


def _hhmmss(when):
    return when.astimezone(datetime.timezone.utc).strftime('%H:%M:%SZ')


class Guard:
    """The fault state of one drain (see the module's doc).

    :param expires: the token's expiry (an aware datetime) when the auth
        plugin cannot renew it, else None
    """

    def __init__(self, drain, expires=None, now=None):
        self.drain = drain
        self.write_error = None     # the last report write error, if any
        self.last_written = None    # wall time of the last good write
        self.outage_since = None    # clock() of the first failed poll
        self.outage_failures = 0
        self._requeued = {}         # server id -> transient refusals
        self.expires = expires
        self.deadline = None        # clock() at which the token expires
        self.auth_error = None      # the cloud refused our credentials
        self.token_stopped = False
        if expires is not None:
            now = now or datetime.datetime.now(datetime.timezone.utc)
            self.deadline = drain.clock() + (expires - now).total_seconds()

    # -- the report --------------------------------------------------------

    def write_failed(self, exc):
        """A report write failed: stop starting, say it once."""
        first = self.write_error is None
        self.write_error = getattr(exc, 'strerror', None) or str(exc)
        if not first:
            return
        why = _('the report %(path)s could not be written (%(err)s)') % {
            'path': self.drain.report_path, 'err': self.write_error}
        if self.drain.stop_reason is None:
            self.drain.stop_reason = _('not started: %s') % why
        self.drain.observer.note(_('report'), _(
            'cannot write the report %(path)s: %(err)s; no new migration '
            'starts, the ones in flight are followed, the write is retried '
            'at every poll') % {'path': self.drain.report_path, 'err': exc})

    def written(self, wall):
        self.last_written = wall
        if self.write_error is not None:
            self.write_error = None
            self.drain.observer.note(_('report'), _(
                'report written again: %s') % self.drain.report_path)

    def closing_line(self):
        """The last line of the command when the report is stale."""
        if self.write_error is None:
            return None
        return _('The report %(path)s could not be written (%(err)s): its '
                 'last written state is from %(when)s; the result above is '
                 'the only complete record') % {
                     'path': self.drain.report_path, 'err': self.write_error,
                     'when': self.last_written or _('before the drain')}

    # -- the cloud API -----------------------------------------------------

    def api_failed(self, exc):
        """A poll / request failed after the libraries' retries.

        Returns True when the drain must stop: the outage lasted longer
        than :data:`~.model.API_OUTAGE_BUDGET`, or the cloud refused the
        credentials (:meth:`auth_failed`).
        """
        if isinstance(exc, errors.AuthFailed):
            self.auth_failed(exc)
            return True
        now = self.drain.clock()
        self.outage_failures += 1
        if self.outage_since is None:
            self.outage_since = now
            self.drain.observer.note(_('cloud'), _(
                'the cloud API fails (%(err)s): no new migration starts; '
                'waiting up to %(n)d s for it') % {
                    'err': errors.one_line(exc),
                    'n': model.API_OUTAGE_BUDGET})
        if now - self.outage_since >= model.API_OUTAGE_BUDGET:
            if self.drain.stop_reason is None:
                self.drain.stop_reason = _(
                    'the cloud API failed for more than %d s') % (
                        model.API_OUTAGE_BUDGET)
            return True
        return False

    def requeue(self, item):
        """May ``item``, refused by a failing API, wait for another try?

        At most :data:`~.model.TRANSIENT_REQUEUES` times per server: an API
        that answers the polls but refuses this request every time fails it.
        """
        count = self._requeued.get(item.id, 0) + 1
        self._requeued[item.id] = count
        return count <= model.TRANSIENT_REQUEUES

    def api_ok(self):
        if self.outage_since is not None:
            self.drain.observer.note(_('cloud'), _(
                'the cloud API answers again (after %d s)') % (
                    self.drain.clock() - self.outage_since))
        self.outage_since = None
        self.outage_failures = 0

    @property
    def outage(self):
        return self.outage_since is not None

    def poll_delay(self):
        """Seconds to the next poll: doubling while the API fails."""
        interval = self.drain.options.poll_interval
        if not self.outage_failures:
            return interval
        return max(interval, min(model.API_BACKOFF_MAX,
                                 interval * 2 ** self.outage_failures))

    # -- the token ---------------------------------------------------------

    def auth_failed(self, exc):
        if self.auth_error is not None:
            return
        self.auth_error = errors.one_line(exc)
        self.drain.observer.note(_('cloud'), _(
            'authentication failed: %s') % self.auth_error)
        why = _('the cloud refused the credentials')
        if self.expires is not None:
            why = _('the token expired at %s (token auth cannot renew '
                    'it)') % _hhmmss(self.expires)
        self.drain.stop_reason = self.drain.stop_reason or why
        self.drain.hard_stop = True

    def margin(self):
        """Seconds before the token's expiry at which nothing may start.

        A migration started must end (and its server be checked) while the
        token still works: the longest migration of this drain so far, at
        least :data:`~.model.TOKEN_MARGIN` s and 3 polls.
        """
        longest = max([i.duration or 0 for i in self.drain.items] + [0])
        return max(model.TOKEN_MARGIN, 3 * self.drain.options.poll_interval,
                   longest)

    def may_start(self):
        """False while nothing may start (outage, token near its end)."""
        if self.outage or self.auth_error is not None:
            return False
        if self.deadline is None:
            return True
        if self.drain.clock() + self.margin() < self.deadline:
            return True
        if not self.token_stopped:
            self.token_stopped = True
            if self.drain.stop_reason is None:
                self.drain.stop_reason = self.token_text(
                    _('no new migration started'))
            self.drain.observer.note(_('token'), self.drain.stop_reason)
        return False

    def token_text(self, what):
        return _('the token expires at %(when)s and token auth cannot '
                 'renew it: %(what)s') % {'when': _hhmmss(self.expires),
                                          'what': what}

    def watch_over(self):
        """True when watching must end now: the token is about to expire.

        Watching ends one poll interval and :data:`~.model.REQUEST_TIME`
        before the expiry, so that the last requests (the poll, the report)
        are made with a valid token.
        """
        if self.deadline is None:
            return False
        left = self.deadline - self.drain.clock()
        if left > self.drain.options.poll_interval + model.REQUEST_TIME:
            return False
        if self.auth_error is None:
            self.auth_error = _('token about to expire')
            self.drain.stop_reason = self.drain.stop_reason or \
                self.token_text(_('no new migration started'))
            self.drain.observer.note(
                _('token'), self.token_text(_('stopped watching')))
        return True

    def in_flight_error(self, item):
        """The report error of an item still in flight at the stop, or None."""
        if self.auth_error is None:
            return None
        return _('still in flight when the token expired (migration %s): '
                 'resume with a fresh token') % item.migration_id

    def token_line(self, path, items):
        """The closing line of a drain the token ended, or None."""
        if self.auth_error is None:
            return None
        running = sum(1 for i in items if i.state in model.IN_FLIGHT)
        waiting = sum(1 for i in items if i.state == model.NOT_STARTED)
        if self.expires is not None:
            head = _('The token expires at %s (token auth cannot renew '
                     'it)') % _hhmmss(self.expires)
        else:
            head = _('The cloud refused the credentials')
        return _('%(head)s: %(running)d migration(s) still running, '
                 '%(waiting)d not started; resume with a fresh token: '
                 'openstack compute drain --resume %(path)s') % {
                     'head': head, 'running': running, 'waiting': waiting,
                     'path': path}


def closing_lines(drain, report_path, items):
    """Lines the command prints last: a stale report, an expired token."""
    if drain is None:
        return []
    lines = [drain.guard.token_line(report_path, items),
             drain.guard.closing_line()]
    return [line for line in lines if line]
