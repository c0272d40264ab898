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

"""Helpers of the drain unit tests: items, options, a drain on FakeNova."""

import copy

from openstack import exceptions as sdk_exc

from migrationclient.cloud import services
from migrationclient.engine import drain
from migrationclient.engine import report as report_mod
from migrationclient.engine import watch


def item(sid, action=drain.LIVE, host='compute1', status='ACTIVE',
         candidates=None):
    return drain.Item(id=sid, name=sid, project_id='p',
                      original_host=host, original_status=status,
                      action=action, candidates=candidates)


class DrainRun:
    """Run a drain on a FakeNova; keep the events and reports written."""

    def __init__(self, nova, items, options,
                 dest_hosts=('compute2', 'compute3'), **kw):
        self.nova = nova
        self.lines = []
        self.reports = []
        self.report = report_mod.new_report('drain', ['compute1'], {})
        self.drain = drain.Drain(
            drain.Actions(nova), self._watcher, items, options, self.report,
            report_path='/nowhere.json', on_event=self._event,
            dest_hosts=dest_hosts, clock=nova.clock, sleep=nova.sleep,
            write=self._write, **kw)

    def _watcher(self, host):
        stuck = self.drain.options.stuck_after or 1e9
        return watch.Watcher(self.nova, host=host, policy=watch.Policy(),
                             stuck_window=stuck,
                             rate_window=min(10.0, stuck), adopt_new=False,
                             clock=self.nova.clock)

    def _event(self, item, text):
        self.lines.append((item.id, text))

    def _write(self, path, data):
        self.reports.append(copy.deepcopy(data))

    def run(self):
        return self.drain.run()


def opts(**kw):
    kw.setdefault('poll_interval', 1.0)
    # FakeNova runs live migrations from one host side by side: a cloud
    # whose max_concurrent_live_migrations is 0 (no limit).
    kw.setdefault('max_live_per_source', 0)
    return drain.Options(**kw)


def refuse_after_record(nova, refused):
    """Make ``nova`` refuse live migrations the way real Nova 34 does.

    At 2.30 a request the scheduler refuses is answered 400 NoValidHost
    *after* the conductor created the migration record (status "error").
    ``refused(sid, host)`` picks the refused requests.
    """
    real = nova.live_migrate_server

    def live(sid, host=None, block_migration=None):
        real(sid, host=host, block_migration=block_migration)
        if refused(sid, host):
            raise sdk_exc.BadRequestException(
                'No valid host was found. Unable to move instance')
    nova.live_migrate_server = live


def max_overlap(intervals, key):
    """Highest number of intervals sharing ``key`` at one instant."""
    best = 0
    for _mid, src, dst, start, end in intervals:
        k = src if key == 'source' else dst
        at = sum(1 for _m, s2, d2, b, e in intervals
                 if (s2 if key == 'source' else d2) == k and
                 b <= start < e)
        best = max(best, at)
    return best


def service(host, status='enabled', state='up', forced_down=False,
            reason=None):
    return services.ComputeService(id='svc-' + host, host=host,
                                   status=status, state=state,
                                   forced_down=forced_down,
                                   disabled_reason=reason, zone='nova')
