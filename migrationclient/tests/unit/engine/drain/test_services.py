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

"""The destinations' services: read ahead of an expected end, not after."""

import testtools

from migrationclient.engine import drain
from migrationclient import exitcodes
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes


def _drain(n, hold, **kw):
    nova = fakes.FakeNova()
    for i in range(n):
        nova.add('s%d' % i, hold=hold)
    real = nova.services
    reads = []

    def services(*a, **q):
        reads.append(nova.t)
        return real(*a, **q)
    nova.services = services
    items = [base.item('s%d' % i) for i in range(n)]
    kw.setdefault('max_parallel', 1)
    kw.setdefault('poll_interval', 2.0)
    run = base.DrainRun(nova, items, base.opts(stuck_after=None, **kw))
    return run, nova, reads


class TestServicesAhead(testtools.TestCase):

    def test_read_while_waiting_for_an_expected_end(self):
        run, nova, reads = _drain(5, 3.3)
        starts = []
        real_live = nova.live_migrate_server

        def live(sid, host=None, block_migration=None):
            starts.append(nova.t)
            return real_live(sid, host=host, block_migration=block_migration)
        nova.live_migrate_server = live
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(5, len(starts))
        kinds = [c[0] for c in nova.calls
                 if c[0] in ('services', 'list', 'live')]
        lives = [n for n, k in enumerate(kinds) if k == 'live']
        # From the third start on (two ends seen: the bounds are
        # learnt), the services were read before the poll that saw the
        # end: the request follows the lists directly.
        for n in lives[2:]:
            self.assertEqual('list', kinds[n - 1], kinds)
        # Each start used a view not older than one interval.
        for t in starts:
            self.assertLess(t - max(r for r in reads if r <= t), 2.0)
        # No more reads than starts.
        self.assertLessEqual(len(reads), len(starts))

    def test_read_again_after_a_refusal(self):
        run, nova, reads = _drain(2, 1, max_parallel=2)
        real_live = nova.live_migrate_server
        refused = []

        def live(sid, host=None, block_migration=None):
            if sid == 's0' and not refused:
                refused.append(sid)
                from openstack import exceptions as sdk_exc
                raise sdk_exc.BadRequestException('host is busy')
            return real_live(sid, host=host, block_migration=block_migration)
        nova.live_migrate_server = live
        run.drain.submitter.submit()
        self.assertEqual([0.0], reads)
        self.assertEqual(drain.FAILED, run.drain.items[0].state)
        # Same cycle, same instant: read again all the same.
        self.assertIsNone(run.drain.submitter.services._read_at)
        run.drain.submitter.services.now()
        self.assertEqual([0.0, 0.0], reads)
        run.drain.submitter.services.now()
        self.assertEqual([0.0, 0.0], reads)     # fresh now

    def test_stale_after_one_interval(self):
        run, nova, reads = _drain(1, 1)
        view = run.drain.submitter.services
        view.now()
        nova.t = 1.9
        run.drain.cycle += 1
        view.now()
        self.assertEqual([0.0], reads)
        nova.t = 2.0
        view.now()
        self.assertEqual([0.0, 2.0], reads)
        view.prefetch()                 # read just now: nothing
        nova.t = 3.0
        view.prefetch()                 # half an interval old: read
        self.assertEqual([0.0, 2.0, 3.0], reads)
