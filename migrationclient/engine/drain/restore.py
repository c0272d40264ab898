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

"""Moving the servers of a drain report back: :class:`RestoreJob`."""

import dataclasses
import time

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.constraints import evaluate as cengine
from migrationclient.engine.drain import claim
from migrationclient.engine.drain.job import Job
from migrationclient.engine.drain.model import COLD
from migrationclient.engine.drain.model import DrainError
from migrationclient.engine.drain.model import Item
from migrationclient.engine.drain.model import LIVE
from migrationclient.engine.drain.model import MOVED
from migrationclient.engine.drain.model import NONE
from migrationclient.engine.drain.model import NOTHING
from migrationclient.engine.drain.model import SKIP
from migrationclient.engine.drain.model import SKIPPED
from migrationclient.engine.drain import policy
from migrationclient.engine.drain.policy import merge_previous
from migrationclient.engine import report as report_mod
from migrationclient import microversions as mv


class RestoreJob(Job):
    """Move the servers of a drain report back to their original hosts.

    Servers the drain moved (``done`` / ``unconfirmed``) go back to their
    ``original_host`` with the same kind of move their status allows now
    (live when ACTIVE / PAUSED, cold when SHUTOFF; cold needs compute 2.56
    to name the host).  The original host's nova-compute must be enabled:
    ``enable_service`` enables it first when the drain disabled it and it
    still carries the drain's claim (:func:`.claim.may_enable`); a host
    disabled by someone else or for another reason refuses the restore.
    """

    kind = 'restore'
    relist = False      # the servers go back to these hosts

    def __init__(self, compute, conn, drain_report, options,
                 report_path=None, enable_service=False, on_event=None,
                 clock=time.monotonic, sleep=time.sleep):
        try:
            self.source_report = report_mod.load(drain_report)
        except report_mod.ReportError as exc:
            raise DrainError(str(exc))
        if self.source_report['kind'] != 'drain':
            raise DrainError(_('%s is not a drain report.') % drain_report)
        hosts = self.source_report['hosts']
        super().__init__(compute, conn, hosts, options,
                         report_path=report_path, on_event=on_event,
                         clock=clock, sleep=sleep)
        self.enable_service = enable_service

    def prepare(self, explicit_report=False):
        svcs = {s.host: s for s in self._services()}
        for host in self.hosts:
            svc = svcs.get(host)
            if svc is None:
                raise DrainError(_('No nova-compute service on host %s.')
                                 % host)
            if not svc.is_up:
                raise DrainError(_('nova-compute on %s is down: bring it '
                                   'up before moving servers back.') % host)
            self.services[host] = svc
            yes, why = claim.may_enable(
                svc, self.source_report.get('id'),
                self.source_report.get('service', {}).get(host))
            if not yes and self.enable_service:
                raise DrainError(
                    _('nova-compute on %(host)s is not enabled again: '
                      '%(why)s. Nothing was changed.') % {
                        'host': host, 'why': why})
            if not svc.is_enabled and not self.enable_service:
                raise DrainError(
                    _('nova-compute on %(host)s is disabled (%(why)s): pass '
                      '--enable-service to enable it and move the servers '
                      'back.') % {'host': host,
                                  'why': svc.disabled_reason or '-'})
        self.previous = self._load_previous(explicit_report)
        items = []
        for entry in self.source_report['servers']:
            if entry['state'] not in MOVED:
                continue
            items.append(self._back(entry))
        self._precheck(items)
        self.items = items
        if self.previous is not None:
            self.items = merge_previous(self.items,
                                        self.previous['servers'])
        self.dest_hosts = tuple(self.hosts)
        self.options.target_hosts = ()
        return self.items

    def _precheck(self, items):
        """Ask the constraint library about each move back.

        The original host is evaluated as it will be when the move starts:
        enabled when ``--enable-service`` enables it first.
        """
        movable = [i for i in items if i.action in (LIVE, COLD)]
        if not movable:
            return
        try:
            gathered = self.actions.gather(
                servers=[i.id for i in movable],
                destinations=list(self.hosts))
        except errors.CloudError as exc:
            raise DrainError(str(exc))
        snapshot = gathered.snapshot
        self.notes.extend(snapshot.cloud.notes)
        if self.enable_service:
            hosts = dict(snapshot.hosts)
            for name in self.hosts:
                if name in hosts:
                    hosts[name] = dataclasses.replace(
                        hosts[name], status='enabled', disabled_reason=None)
            snapshot = dataclasses.replace(snapshot, hosts=hosts)
        for item in movable:
            home = item.candidates[0]
            ev = cengine.evaluate(snapshot, item.id, home)
            if ev.verdict(item.action).allowed:
                continue
            if item.action == LIVE and ev.cold.allowed and \
                    COLD in policy.state_kinds(item.original_status) and \
                    self.can_name_host(COLD):
                item.action = COLD
                item.reason = _('back to %s, cold (cannot go live)') % home
                continue
            blockers = ev.verdict(item.action).blockers
            item.action, item.state = SKIP, SKIPPED
            item.reason = _('cannot go back to %(home)s: %(why)s') % {
                'home': home, 'why': '; '.join(
                    '%s: %s' % (b.rule, b.message) for b in blockers)}

    def _back(self, entry):
        home = entry['original_host']
        try:
            now = self.actions.get_server(entry['id'])
        except errors.CloudError as exc:
            now = None
            gone = str(exc)
        else:
            gone = _('the server no longer exists')
        item = Item(id=entry['id'], name=entry.get('name') or '',
                    project_id=entry.get('project_id'),
                    original_host=now.host if now else '-',
                    original_status=now.status if now else '',
                    action=SKIP, candidates=(home,))
        kinds = policy.state_kinds(now.status) if now else ()
        if now is None:
            item.state, item.reason = SKIPPED, gone
        elif now.host == home:
            item.action, item.state = NONE, NOTHING
            item.reason = _('already on %s') % home
        elif now.task_state:
            item.state = SKIPPED
            item.reason = _('task in progress (%s)') % now.task_state
        elif LIVE in kinds and not self.options.no_live:
            item.action = LIVE
            item.reason = _('back to %s, live') % home
        elif COLD in kinds:
            if self.can_name_host(COLD):
                item.action = COLD
                item.reason = _('back to %s, cold') % home
            else:
                item.state = SKIPPED
                item.reason = _('a cold migration to a named host needs '
                                'compute API %s') % mv.COLD_MIGRATE_HOST
        else:
            item.state = SKIPPED
            item.reason = _('status %s: cannot be moved back') % now.status
        return item

    def _prepare_services(self, report):
        """Enable the original hosts' nova-compute (--enable-service)."""
        for host in self.hosts:
            svc = self.services[host]
            entry = report['service'].setdefault(host, {})
            if svc.is_enabled:
                continue
            try:
                self.services[host] = self.actions.enable_service(svc)
            except errors.CloudError as exc:
                raise DrainError(str(exc))
            entry.update({'enabled_by_restore': True,
                          'enabled_at': report_mod.isotime()})

    def execute(self):
        self.enable_when_done = False
        return super().execute()
