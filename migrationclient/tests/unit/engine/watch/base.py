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

"""Helpers of the watching engine's unit tests."""

import datetime

import testtools

from migrationclient.engine import watch
from migrationclient.tests.unit import fakes

SERVER = '8600d31b-d1a1-4632-b2ff-45c2be1a70ff'
OTHER = '9128d044-7b61-403e-b766-7547076ff6c1'
GIB = 1024 ** 3


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t

    def wall(self):
        return datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc) + (
            datetime.timedelta(seconds=self.t))


def live(status='running', remaining=GIB, processed=1, total=GIB,
         updated='2016-01-29T11:42:03.000000'):
    """Server-migrations record of the running live migration (id 1)."""
    return fakes.server_migration(
        server_uuid=SERVER, status=status, memory_total_bytes=total,
        memory_processed_bytes=processed, memory_remaining_bytes=remaining,
        updated_at=updated)


class WatchTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.clock = Clock()
        self.compute = fakes.FakeCompute()

    def watcher(self, **kw):
        kw.setdefault('stuck_window', 30)
        return watch.Watcher(self.compute, clock=self.clock,
                             wallclock=self.clock.wall, **kw)

    def tick(self, seconds=2):
        self.clock.t += seconds

    def kinds(self, events):
        return [e.kind for e in events]


def stamp(clock):
    """Nova's ``updated_at`` (naive UTC) for the test clock's now."""
    return clock.wall().strftime('%Y-%m-%dT%H:%M:%S.%f')


class Fleet:
    """``n`` running live migrations from compute1, one per server.

    Migration ``i`` (1..n) belongs to server ``servers[i]``.  :meth:`save`
    is what Nova's driver does when it saves new byte counters: the
    record's ``updated_at`` moves in both APIs.
    """

    def __init__(self, compute, clock, n):
        self.compute = compute
        self.clock = clock
        self.ids = list(range(1, n + 1))
        self.servers = {i: '%08x-0000-4000-8000-%012x' % (i, i)
                        for i in self.ids}
        compute.records = [fakes.os_migration(
            id=i, instance_uuid=self.servers[i],
            uuid='%08x-1111-4000-8000-000000000000' % i) for i in self.ids]
        compute.live = {}
        for i in self.ids:
            self.save(i, remaining=GIB)

    def save(self, i, remaining, processed=None):
        now = stamp(self.clock)
        self.compute.records[i - 1]['updated_at'] = now
        self.compute.live[self.servers[i]] = [fakes.server_migration(
            id=i, server_uuid=self.servers[i],
            uuid='%08x-1111-4000-8000-000000000000' % i,
            memory_total_bytes=GIB,
            memory_processed_bytes=(processed if processed is not None
                                    else GIB - remaining + 1),
            memory_remaining_bytes=remaining, disk_total_bytes=None,
            disk_processed_bytes=None, disk_remaining_bytes=None,
            updated_at=now)]

    def read_ids(self, calls):
        """Migration ids whose progress ``calls`` read."""
        by_server = {sid: i for i, sid in self.servers.items()}
        return [by_server[c[1]] for c in calls
                if c[0] == 'server_migrations']
