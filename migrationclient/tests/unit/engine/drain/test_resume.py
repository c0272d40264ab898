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

"""Resume after a kill between the request and the report (resume.py)."""

import testtools

from migrationclient.engine import drain
from migrationclient import exitcodes
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes


def _left_submitted(nova, sid, action, dest='compute2'):
    """The entry a run killed right after its request left behind."""
    item = base.item(sid, action=action)
    item.state = drain.SUBMITTED
    item.destination = dest
    item.attempts = 1
    item.submitted_at = nova.wall(0)
    return item


class TestResumeSubmitted(testtools.TestCase):

    def test_cold_in_verify_resize_is_confirmed(self):
        nova = fakes.FakeNova()
        nova.add('a')
        nova.migrate_server('a', host='compute2')
        nova.sleep(3)
        self.assertEqual('VERIFY_RESIZE', nova.servers['a']['status'])
        item = _left_submitted(nova, 'a', drain.COLD)
        run = base.DrainRun(nova, [item], base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(drain.DONE, item.state)
        self.assertIn(('confirm', 'a'), nova.calls)
        self.assertEqual(1, len([c for c in nova.calls if c[0] == 'cold']))
        self.assertEqual('ACTIVE', nova.servers['a']['status'])

    def test_running_live_is_followed_not_started_again(self):
        nova = fakes.FakeNova()
        nova.add('a', hold=5)
        nova.live_migrate_server('a', host='compute2')
        nova.sleep(1)
        item = _left_submitted(nova, 'a', drain.LIVE)
        run = base.DrainRun(nova, [item], base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual((drain.DONE, 1), (item.state, item.migration_id))
        self.assertEqual(1, len([c for c in nova.calls if c[0] == 'live']))

    def test_finished_live_is_verified(self):
        nova = fakes.FakeNova()
        nova.add('a', hold=1)
        nova.live_migrate_server('a', host='compute2')
        nova.sleep(5)
        item = _left_submitted(nova, 'a', drain.LIVE)
        run = base.DrainRun(nova, [item], base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual((drain.DONE, 'compute2'),
                         (item.state, item.final_host))
        self.assertEqual(1, len([c for c in nova.calls if c[0] == 'live']))

    def test_request_that_never_arrived_is_sent(self):
        nova = fakes.FakeNova()
        nova.add('a')
        item = _left_submitted(nova, 'a', drain.LIVE)
        run = base.DrainRun(nova, [item], base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(drain.DONE, item.state)
        self.assertEqual(1, len([c for c in nova.calls if c[0] == 'live']))

    def test_earlier_move_back_is_not_the_request(self):
        # CI, kill matrix run 9: the server left compute1 (confirmed) and
        # came back within CLOCK_SLACK; the killed run's request never
        # reached Nova.  The old record is not this request's.
        nova = fakes.FakeNova()
        nova.add('a')
        nova.migrate_server('a', host='compute2')
        nova.sleep(3)
        nova.confirm_server_resize('a')
        nova.migrate_server('a', host='compute1')
        nova.sleep(3)
        nova.confirm_server_resize('a')
        self.assertEqual('compute1', nova.servers['a']['host'])
        item = _left_submitted(nova, 'a', drain.COLD)
        run = base.DrainRun(nova, [item], base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(drain.DONE, item.state)
        self.assertNotEqual('compute1', item.final_host)
        self.assertEqual(3, len([c for c in nova.calls if c[0] == 'cold']))

    def test_one_list_per_host_not_per_server(self):
        nova = fakes.FakeNova()
        for sid in ('a', 'b', 'c'):
            nova.add(sid, hold=1)
            nova.live_migrate_server(sid, host='compute2')
        nova.sleep(5)
        items = [_left_submitted(nova, s, drain.LIVE) for s in 'abc']
        run = base.DrainRun(nova, items, base.opts(max_parallel=3))
        before = len(nova.calls)
        self.assertEqual(exitcodes.OK, run.run())
        lists = [c for c in nova.calls[before:] if c[0] == 'list']
        self.assertNotIn(('list', 'a'), lists)
        self.assertEqual([drain.DONE] * 3, [i.state for i in items])
