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

"""Concurrency limits of a drain."""


import testtools

from migrationclient.engine import drain


class TestSlots(testtools.TestCase):

    def test_per_source_limit(self):
        slots = drain.Slots(2, 0)
        for n in range(2):
            ok, _t = slots.choose('c1', None, True, ('c2', 'c3'))
            self.assertTrue(ok)
            slots.start(str(n), 'c1', None)
        self.assertEqual((False, None),
                         slots.choose('c1', None, True, ('c2', 'c3')))
        self.assertTrue(slots.choose('c4', None, True, ('c2', 'c3'))[0])
        slots.finish('0')
        self.assertTrue(slots.choose('c1', None, True, ('c2', 'c3'))[0])

    def test_per_target_least_busy(self):
        slots = drain.Slots(5, 1)
        ok, target = slots.choose('c1', None, True, ('c2', 'c3'))
        self.assertEqual((True, 'c2'), (ok, target))
        slots.start('a', 'c1', 'c2')
        self.assertEqual((True, 'c3'),
                         slots.choose('c1', None, True, ('c2', 'c3')))
        slots.start('b', 'c1', 'c3')
        self.assertEqual((False, None),
                         slots.choose('c1', None, True, ('c2', 'c3')))
        slots.finish('a')
        # c2 and c3 both received one: the free one is chosen.
        self.assertEqual((True, 'c2'),
                         slots.choose('c1', None, True, ('c2', 'c3')))

    def test_candidates_restrict(self):
        slots = drain.Slots(5, 1)
        slots.start('a', 'c1', 'c3')
        self.assertEqual((False, None),
                         slots.choose('c1', ('c3',), True, ('c2', 'c3')))
        self.assertEqual((False, None),
                         slots.choose('c1', (), True, ('c2', 'c3')))

    def test_scheduler_placement_is_conservative(self):
        slots = drain.Slots(5, 1)
        self.assertEqual((True, None),
                         slots.choose('c1', None, False, ('c2', 'c3')))
        slots.start('a', 'c1', None)
        # Unplaced: nothing else goes to the scheduler.
        self.assertEqual((False, None),
                         slots.choose('c1', None, False, ('c2', 'c3')))
        slots.place('a', 'c2')
        # c2 is busy: the scheduler could pick it.
        self.assertEqual((False, None),
                         slots.choose('c1', None, False, ('c2', 'c3')))
        slots.finish('a')
        self.assertEqual((True, None),
                         slots.choose('c1', None, False, ('c2', 'c3')))

    def test_no_target_limit_lets_scheduler_place(self):
        slots = drain.Slots(5, 0)
        self.assertEqual((True, None),
                         slots.choose('c1', None, True, ('c2', 'c3')))

    def test_no_target_limit_still_names_the_operators_hosts(self):
        # --target-host c2 --max-per-target 0: the pool is c2 alone, but
        # the scheduler would pick among every host of the cloud.
        slots = drain.Slots(5, 0)
        self.assertEqual((True, None),
                         slots.choose('c1', ('c2',), True, ('c2',)))
        self.assertEqual((True, 'c2'),
                         slots.choose('c1', ('c2',), True, ('c2',),
                                      named=True))
        self.assertEqual((True, None),
                         slots.choose('c1', ('c2',), False, ('c2',),
                                      named=True))
