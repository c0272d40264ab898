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

"""Item states, exit status, summary, resume merge, report entries."""


import json

import testtools

from migrationclient.engine import drain
from migrationclient import exitcodes
from migrationclient.tests.unit.engine.drain import base


class TestStatus(testtools.TestCase):

    def test_exit_status(self):
        done = base.item('a')
        done.state = drain.DONE
        shelved = base.item('b', action=drain.NONE)
        shelved.state = drain.NOTHING
        self.assertEqual(exitcodes.OK, drain.exit_status([done, shelved]))
        failed = base.item('c')
        failed.state = drain.FAILED
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE,
                         drain.exit_status([done, failed]))
        self.assertEqual(exitcodes.DRAIN_INTERRUPTED,
                         drain.exit_status([done, failed], True))
        late = base.item('d')
        late.state = drain.TIMEOUT
        self.assertEqual(exitcodes.TIMEOUT, drain.exit_status([done, late]))
        skipped = base.item('e', action=drain.SKIP)
        skipped.state = drain.SKIPPED
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE,
                         drain.exit_status([skipped]))

    def test_summary(self):
        items = [base.item(str(n)) for n in range(5)]
        items[0].state = items[1].state = drain.DONE
        items[2].state = drain.MIGRATING
        items[3].state = drain.FAILED
        self.assertEqual('2/5 moved, 1 running, 1 failed, 1 waiting',
                         drain.summary(items))

    def test_merge_previous(self):
        done = base.item('done')
        done.state = drain.DONE
        flying = base.item('flying')
        flying.state, flying.migration_id = drain.MIGRATING, 7
        failed = base.item('failed')
        failed.state = drain.FAILED
        gone = base.item('gone')
        gone.state = drain.NOT_STARTED
        previous = [i.to_dict() for i in (done, flying, failed, gone)]
        # Now on the host: flying (task_state set: skipped by the new plan)
        # and failed (planned again); plus a new server.
        new_flying = base.item('flying', action=drain.SKIP)
        new_flying.state = drain.SKIPPED
        merged = drain.merge_previous(
            [new_flying, base.item('failed'), base.item('new')], previous)
        by_id = {i.id: i for i in merged}
        self.assertEqual(drain.DONE, by_id['done'].state)
        self.assertEqual((drain.MIGRATING, 7), (by_id['flying'].state,
                                                by_id['flying'].migration_id))
        self.assertEqual(drain.PENDING, by_id['failed'].state)
        self.assertEqual(drain.LEFT_HOST, by_id['gone'].state)
        self.assertEqual(drain.PENDING, by_id['new'].state)

    def test_item_round_trip(self):
        it = base.item('a', candidates=('c2',))
        it.state, it.migration_id, it.error = drain.FAILED, 3, 'boom'
        back = drain.Item.from_dict(json.loads(json.dumps(it.to_dict())))
        self.assertEqual(it.to_dict(), back.to_dict())
