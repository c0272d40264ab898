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

"""The drain's view of the destinations' nova-compute services."""

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.engine.drain import model
from migrationclient.engine.drain.policy import unusable_hosts
from migrationclient.engine import report as report_mod


class ServiceView:
    """Which destinations are usable, read only when something may start.

    The view is read when a migration is about to start and the last
    read is older than one ``--poll-interval`` (or older than this poll
    cycle), or ahead of time, while the drain waits for a migration
    expected to end (:meth:`prefetch`, pace.py), so that the read is not
    between the end and the next request.  After a refused request it is
    read again before the next start (:meth:`forget`).  Polling costs
    nothing more while nothing starts.
    """

    def __init__(self, drain):
        self.drain = drain
        self.view = None            # (known hosts, {host: why}) or None
        self._cycle = None          # poll cycle of the last read
        self._read_at = None        # clock() of the last read
        self._announced = {}        # destinations reported unusable

    def _fresh(self):
        if self._read_at is None:
            return False
        return self._cycle == self.drain.cycle or (
            self.drain.clock() - self._read_at <
            self.drain.options.poll_interval)

    def forget(self):
        """Read the services again before the next start."""
        self._cycle = self._read_at = None

    def prefetch(self):
        """Read now if the view would be stale at a start soon."""
        if self._read_at is None or self.drain.clock() - self._read_at >= (
                self.drain.options.poll_interval / 2):
            self._read()

    def now(self):
        """``(known hosts, {host: why unusable})``, or None if unknown.

        A failed read keeps the last view.
        """
        if not self._fresh():
            self._read()
        return self.view

    def _read(self):
        lister = getattr(self.drain.actions, 'compute_services', None)
        if lister is None:
            return
        self._cycle = self.drain.cycle
        self._read_at = self.drain.clock()
        try:
            services = lister()
        except errors.CloudError as exc:
            self.drain.observer.note(_('destinations'), _(
                'cannot list the compute services (%s): using what was '
                'known') % exc)
            return
        unusable = unusable_hosts(services)
        self.view = ({s.host for s in services}, unusable)
        watched = set(
            self.drain.dest_hosts) | set(
            self.drain.options.target_hosts)
        for host in sorted(watched):
            why = unusable.get(host)
            if why == self._announced.get(host):
                continue
            if why:
                text = _('%(host)s is not used as a destination: %(why)s'
                         ) % {'host': host, 'why': why}
            else:
                text = _('%s is usable again as a destination') % host
            self._announced[host] = why
            self.drain.report.setdefault('notes', []).append(
                '%s %s' % (report_mod.isotime(), text))
            self.drain.event(model.report_item(_('destinations')), text)
