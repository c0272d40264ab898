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

"""A whole drain or restore, as the command runs it: :class:`Job`.

``prepare()`` resolves the hosts, reads the cloud and plans (changes
nothing); ``execute()`` prepares the services, runs the plan
(:class:`~.run.Drain`) and returns the exit status.
"""

import time

from migrationclient._i18n import _
from migrationclient.cloud import actions as cloud_actions
from migrationclient.cloud import errors
from migrationclient.cloud import services as services_mod
from migrationclient.engine.drain import claim
from migrationclient.engine.drain import finish
from migrationclient.engine.drain import fleetplan as plan_mod
from migrationclient.engine.drain import guard
from migrationclient.engine.drain import health
from migrationclient.engine.drain.model import DrainError
from migrationclient.engine.drain.model import NOT_STARTED
from migrationclient.engine.drain.model import PENDING
from migrationclient.engine.drain.model import remaining
from migrationclient.engine.drain.model import ServerInfo
from migrationclient.engine.drain.model import summary
from migrationclient.engine.drain import policy
from migrationclient.engine.drain.policy import merge_previous
from migrationclient.engine.drain.policy import plan
from migrationclient.engine.drain import previous
from migrationclient.engine.drain import replan
from migrationclient.engine.drain.run import Drain
from migrationclient.engine.drain import signals as signals_mod
from migrationclient.engine import report as report_mod
from migrationclient.engine import watch
from migrationclient import exitcodes


def _watcher_factory(compute, options):
    """``host -> watch.Watcher`` for the drain of ``options``."""
    stuck = float(options.stuck_after) if options.stuck_after else 1e9

    progress = options.progress_interval
    if progress is None:
        progress = watch.default_progress_interval(options.poll_interval,
                                                   options.stuck_after)

    def make(host):
        return watch.Watcher(compute, host=host, policy=watch.Policy(),
                             stuck_window=stuck,
                             rate_window=min(10.0, stuck),
                             adopt_new=False, fetch_reasons=True,
                             progress_interval=progress)
    return make


class Job:
    """A drain of one or more hosts, from checks to report.

    ``prepare()`` reads the cloud and plans (changes nothing: ``--dry-run``
    stops there); ``execute()`` disables the services, runs the plan and
    returns the exit status.  Raises :class:`DrainError` for anything the
    user must fix (one line).
    """

    kind = 'drain'
    relist = True       # done means re-listed (finish.done)

    def __init__(self, compute, conn, hosts, options, report_path=None,
                 disable_reason=None, enable_when_done=False,
                 target_aggregate=None, resume=None, on_event=None,
                 clock=time.monotonic, sleep=time.sleep, events=None,
                 metrics_file=None):
        self.hosts = list(dict.fromkeys(hosts))
        self.options = options
        self.actions = cloud_actions.Actions(compute, conn)
        self.cloud = self.actions.cloud()
        self.default_report = not report_path
        self.report_path = report_path or report_mod.default_path(
            self.hosts, self.kind, self.cloud.key if self.cloud else None)
        #: ``--events`` / ``--metrics-file`` (set by the command after
        #: ``prepare()``; never opened for ``--dry-run``)
        self.events = events
        self.metrics_file = metrics_file
        self.legacy_report = None   # an earlier version's report, adopted
        self.complete_reports = []  # to archive when the job runs
        self.disable_reason = disable_reason
        self.enable_when_done = enable_when_done
        self.target_aggregate = target_aggregate
        self.resume = resume
        self.on_event = on_event
        self.clock = clock
        self.sleep = sleep
        self.items = []
        self.dest_hosts = ()
        self.services = {}
        self.everything = []        # every service (health gate)
        self.previous = None
        self.notes = []
        self.drain = None
        self.snapshot = None        # the sources' constraint facts, merged
        self.capacity = None        # the CapacityPlan (fleetplan.py)
        self.ssh_options = None     # --ssh: host facts for the plan
        self.host_confs = {}        # --ssh: nova.conf per host read
        self.ssh_reach = ((), ())   # --ssh: hosts (to read, read)

    # -- prepare -----------------------------------------------------------

    def _services(self):
        try:
            self.everything = self.actions.all_services()
        except errors.CloudError as exc:
            raise DrainError(str(exc))
        return [s for s in self.everything
                if s.binary == services_mod.BINARY]

    def _load_previous(self, explicit):
        """The report to continue from, or None (see README)."""
        return previous.continue_from(self, explicit)

    def prepare(self, explicit_report=False):
        svcs = self._services()
        sources = []
        for host in self.hosts:
            try:
                svc = self.actions.service_of(svcs, host)
            except errors.CloudError as exc:
                raise DrainError(str(exc))
            if not svc.is_up:
                raise DrainError(
                    _('nova-compute on %(host)s is %(state)s: a drain needs '
                      'it up (live and cold migrations run on the source); '
                      'evacuate the servers instead.') % {
                        'host': host, 'state': _('forced down')
                        if svc.forced_down else svc.state})
            sources.append(svc)
        self.services = {s.host: s for s in sources}
        self.dest_hosts = self._destinations(svcs)
        own = claim.own_ids(self.resume or self.report_path)
        self.previous = self._load_previous(explicit_report)
        if self.previous is not None and self.previous.get('id'):
            own.add(self.previous['id'])    # e.g. adopted from an old path
        claim.refuse_claimed(sources, own)
        servers = []
        for host in self.hosts:
            servers.extend(self._servers_on(host))
        moves = self._moves(servers)
        self.items = plan(servers, moves, self.options)
        if self.previous is not None:
            self.items = merge_previous(self.items,
                                        self.previous['servers'])
        self._plan_capacity()
        health.check(self.actions, self.everything)
        self._gate()
        return self.items

    def _destinations(self, svcs):
        by_host = {s.host: s for s in svcs}
        wanted = list(self.options.target_hosts)
        if self.target_aggregate:
            wanted += self._aggregate_hosts(self.target_aggregate)
        if wanted:
            dests = []
            for host in dict.fromkeys(wanted):
                if host in self.hosts:
                    raise DrainError(_('%s is being drained: it cannot be a '
                                       'target.') % host)
                svc = by_host.get(host)
                if svc is None:
                    try:
                        self.actions.service_of(svcs, host)
                    except errors.CloudError as exc:
                        raise DrainError(str(exc))
                why = policy.unusable_hosts([svc]).get(host)
                if why:
                    raise DrainError(_('target %(host)s is not usable: '
                                       '%(why)s.') % {'host': host,
                                                      'why': why})
                dests.append(host)
            self.options.target_hosts = tuple(dests)
        else:
            dests = [s.host for s in svcs if s.host not in self.hosts
                     and s.is_up and s.is_enabled]
        dests = tuple(sorted(dests))
        if not dests and not self.options.allow_partial:
            raise DrainError(
                _('No destination: every other nova-compute service is '
                  'down or disabled (use --allow-partial to disable %s '
                  'anyway).') % ', '.join(self.hosts))
        return dests

    def _aggregate_hosts(self, name):
        try:
            hosts = self.actions.aggregate_hosts(name)
        except errors.CloudError as exc:
            raise DrainError(str(exc))
        hosts = [h for h in hosts if h not in self.hosts]
        if not hosts:
            raise DrainError(_('Aggregate %s has no host other than the '
                               'drained ones.') % name)
        return hosts

    def _servers_on(self, host):
        try:
            found = self.actions.servers_on_host(host)
        except errors.CloudError as exc:
            raise DrainError(str(exc))
        return [ServerInfo.from_sdk(s) for s in found]

    def _moves(self, servers):
        """The constraint library's moves for servers that can move.

        Keeps the merged snapshot of the sources for the capacity plan
        (:func:`.fleetplan.gather`).
        """
        moves, self.snapshot = plan_mod.gather(self, servers)
        return moves

    def _plan_capacity(self):
        """The capacity plan of every host drained together, applied."""
        if self.snapshot is None:
            return
        self.capacity = plan_mod.capacity_plan(
            self.snapshot, self.hosts, self.items, self.options,
            self.dest_hosts)
        plan_mod.apply(self.items, self.capacity, self.options,
                       self.can_name_host)

    def _gate(self):
        plan_mod.gate(self.items, self.options)

    def label(self, item):
        return policy.destination_label(item, self.options,
                                        self.can_name_host)

    def can_name_host(self, action):
        return policy.can_name_host(self.actions.version, action)

    # -- execute -----------------------------------------------------------

    def _new_report(self):
        if self.previous is not None:
            data = self.previous
            data['state'] = 'running'
            data['finished_at'] = None
            data.setdefault('resumed_at', []).append(report_mod.isotime())
            data['options'] = self.options.to_dict()
            return data
        return report_mod.new_report(self.kind, self.hosts,
                                     self.options.to_dict())

    def _prepare_services(self, report):
        """Disable the source hosts' nova-compute (unless already)."""
        rid = claim.report_id(report)
        reason = claim.reason(rid, self.disable_reason or
                              services_mod.default_reason())
        for host in self.hosts:
            svc = self.services[host]
            entry = report['service'].setdefault(host, {})
            try:
                if not svc.is_enabled:
                    entry.setdefault('disabled_by_drain', False)
                    entry.setdefault('reason', svc.disabled_reason)
                    claim.claim_disabled(self.actions, svc, rid, entry)
                    continue
                self.actions.disable_service(svc, reason)
            except errors.CloudError as exc:
                raise DrainError(str(exc))
            entry.update({'disabled_by_drain': True, 'reason': reason,
                          'disabled_at': report_mod.isotime()})

    def execute(self):
        report = self._new_report()
        claim.report_id(report)         # before the first write
        report['service'] = report.get('service') or {}
        report['servers'] = [i.to_dict() for i in self.items]
        if self.capacity is not None:
            report['plan'] = self.capacity.to_dict()
        with signals_mod.Signals() as signals:
            # The report must be writable before anything changes.
            try:
                for path in self.complete_reports:
                    previous.archive_complete(path, self.notes)
                report['notes'] = list(self.notes)
                report_mod.write_atomic(self.report_path, report)
            except OSError as exc:
                raise DrainError(
                    _('Cannot write the report %(path)s: %(err)s')
                    % {'path': self.report_path,
                       'err': exc.strerror or exc})
            previous.retire_legacy(self, report)
            try:
                self._prepare_services(report)
            except DrainError as exc:
                self._not_started(report, str(exc))
                raise
            self.drain = Drain(self.actions,
                               _watcher_factory(self.actions, self.options),
                               self.items, self.options, report,
                               report_path=self.report_path,
                               on_event=self.on_event,
                               dest_hosts=self.dest_hosts, clock=self.clock,
                               sleep=self.sleep, events=self.events,
                               metrics_file=self.metrics_file,
                               token_expires=self.actions.token_expiry(),
                               replanner=self._replanner())
            signals.attach(self.drain)
            status = self.drain.run()
        if self.relist and status != exitcodes.DRAIN_INTERRUPTED:
            status = finish.done(self, report, status)
        return status

    def _replanner(self):
        if self.capacity is None:
            return None
        return replan.Replanner(self.actions, self.hosts, self.snapshot,
                                self.options)

    def _not_started(self, report, why):
        """The drain stops before its first migration: say so, finally.

        The report keeps what was done to the services (a drain of several
        hosts may have disabled some) and every server as not started.
        """
        for item in self.items:
            if item.state == PENDING:
                item.state = NOT_STARTED
                item.error = why
        report['servers'] = [i.to_dict() for i in self.items]
        report['summary'] = summary(self.items)
        report['state'] = 'incomplete'
        report['finished_at'] = report['updated_at'] = report_mod.isotime()
        try:
            report_mod.write_atomic(self.report_path, report)
        except OSError:
            pass        # it was writable a moment ago; the error says why

    def closing_lines(self):
        """Lines the command prints last: a stale report, a token."""
        return guard.closing_lines(self.drain, self.report_path, self.items)

    @property
    def remaining(self):
        return remaining(self.items)
