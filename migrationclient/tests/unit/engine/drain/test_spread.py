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

"""Spread within a feasible plan: a busy planned host is not waited for.

The plan is made the way a job makes it (:mod:`.fleetplan` on a snapshot
of the API samples, ``test_replan.snapshot``); the drain runs on
:class:`FakeNova` (``base.DrainRun``) with a :class:`Replanner` holding
that snapshot (its ``gather`` must never be called: the spread reads no
facts).
"""

from unittest import mock

import testtools

from migrationclient.engine import drain
from migrationclient.engine.drain import fleetplan
from migrationclient.engine.drain import replan
from migrationclient.engine.drain import spread
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit.engine.drain import test_replan as trp
from migrationclient.tests.unit import fakes


def always(action):
    return True


def planned_run(servers, options, can_name=always, hold=2, **host_free):
    """Plan ``servers`` ((id, MB), ...) of compute1, run the drain."""
    snap = trp.snapshot(servers=servers, **host_free)
    items = [base.item(sid) for sid, _ram in servers]
    targets = ['compute2', 'compute3']
    cplan = fleetplan.capacity_plan(snap, ['compute1'], items, options,
                                    targets)
    fleetplan.apply(items, cplan, options, can_name)
    facts = trp.Facts(snap)
    nova = fakes.FakeNova()
    for sid, _ram in servers:
        nova.add(sid, hold=hold)
    run = base.DrainRun(nova, items, options, dest_hosts=targets,
                        replanner=replan.Replanner(facts, ['compute1'], snap,
                                                   options))
    return run, items, facts


def spreads(run):
    return [(sid, t) for sid, t in run.lines if t.startswith('spread: ')]


class TestSpread(testtools.TestCase):

    def test_packed_plan_spreads_over_a_free_host(self):
        # 4 x 400 MB: best fit packs them all on compute2 (2000 free);
        # compute3 (7000 free) has room for any of them.
        servers = tuple(('s%d' % i, 400) for i in range(1, 5))
        options = base.opts(max_parallel=2, max_per_target=1)
        run, items, facts = planned_run(servers, options, compute2=2000,
                                        compute3=7000)
        self.assertEqual(['compute2'] * 4, [i.planned for i in items])
        self.assertEqual(0, run.run())
        self.assertEqual([], facts.calls)       # no new cloud read
        self.assertEqual([drain.DONE] * 4, [i.state for i in items])
        nova = run.nova
        # two at once, on different destinations, the limits hold
        self.assertEqual(2, base.max_overlap(nova.intervals, 'source'))
        self.assertEqual(1, base.max_overlap(nova.intervals, 'dest'))
        self.assertEqual({'compute2', 'compute3'},
                         {i.final_host or i.destination for i in items})
        moved = [i for i in items if i.replanned]
        self.assertTrue(moved)
        for item in moved:
            self.assertEqual(('compute3', ('compute3',), 'compute3'),
                             (item.planned, item.candidates,
                              item.destination))
            [entry] = item.replanned
            self.assertEqual({'why': 'spread: planned host compute2 busy, '
                                     'compute3 keeps the plan feasible',
                              'from': 'compute2', 'to': 'compute3',
                              'spread': True}, entry)
            self.assertEqual(drain.LIVE, item.action)    # live stays live
            # the reason no longer stops at the first plan's host
            self.assertIn('plan: compute2', item.reason)
            self.assertTrue(item.reason.endswith(
                '; then spread: planned host compute2 busy, compute3 keeps '
                'the plan feasible'), item.reason)
        texts = spreads(run)
        self.assertEqual(len(moved), len(texts))
        self.assertIn('compute3 keeps the plan feasible: live to compute3 '
                      '(best fit on MEMORY_MB', texts[0][1])
        # in the report, the way re-plans are
        entries = {e['id']: e for e in run.reports[-1]['servers']}
        for item in moved:
            self.assertTrue(entries[item.id]['replanned'][0]['spread'])

    def test_tight_plan_waits_for_the_planned_host(self):
        # big (3000) is planned on compute3 (3500 free, best fit), the
        # small ones on compute2: on compute3 a small one would leave big
        # without room, so it waits for compute2.
        servers = (('s1', 1000), ('s2', 1000), ('s3', 3000))
        options = base.opts(max_parallel=2, max_per_target=1)
        run, items, facts = planned_run(servers, options, compute2=4000,
                                        compute3=3500)
        self.assertEqual(['compute2', 'compute2', 'compute3'],
                         [i.planned for i in items])
        self.assertEqual(0, run.run())
        self.assertEqual([], spreads(run))
        self.assertEqual(['compute2', 'compute2', 'compute3'],
                         [i.destination for i in items])
        self.assertEqual([[], [], []], [i.replanned for i in items])
        self.assertEqual(1, base.max_overlap(run.nova.intervals, 'dest'))

    def test_without_the_debit_the_small_one_would_go(self):
        # Same facts, the big one gone: both are planned on compute3
        # (best fit), the second one takes compute2 instead of waiting.
        servers = (('s1', 1000), ('s2', 1000))
        options = base.opts(max_parallel=2, max_per_target=1)
        run, items, facts = planned_run(servers, options, compute2=4000,
                                        compute3=3500)
        self.assertEqual(['compute3', 'compute3'],
                         [i.planned for i in items])
        self.assertEqual(0, run.run())
        self.assertEqual(['compute3', 'compute2'],
                         [i.destination for i in items])
        self.assertEqual(1, len(spreads(run)))

    def test_nova_live_limit_of_the_source(self):
        # One live migration at a time from compute1 (Nova's default
        # max_concurrent_live_migrations): no slot to spread into.
        servers = tuple(('s%d' % i, 400) for i in range(1, 5))
        options = base.opts(max_parallel=2, max_per_target=1,
                            max_live_per_source=1)
        run, items, _facts = planned_run(servers, options, compute2=2000,
                                         compute3=7000)
        self.assertEqual(0, run.run())
        self.assertEqual([], spreads(run))
        self.assertEqual(1, base.max_overlap(run.nova.intervals, 'source'))

    def test_deterministic(self):
        servers = tuple(('s%d' % i, 400) for i in range(1, 7))
        options = base.opts(max_parallel=3, max_per_target=1)
        outcomes = []
        for _ in range(3):
            run, items, _facts = planned_run(servers, options, compute2=3000,
                                             compute3=7000)
            self.assertEqual(0, run.run())
            outcomes.append(([(i.id, i.destination, tuple(
                tuple(sorted(r.items())) for r in i.replanned))
                for i in items], spreads(run)))
        self.assertEqual(outcomes[0], outcomes[1])
        self.assertEqual(outcomes[0], outcomes[2])
        self.assertTrue(outcomes[0][1])

    def test_scheduler_picks_nothing_to_spread(self):
        servers = tuple(('s%d' % i, 400) for i in range(1, 4))
        for options, can_name in (
                (base.opts(max_parallel=2, max_per_target=0), always),
                (base.opts(max_parallel=2), lambda action: False)):
            run, items, _facts = planned_run(servers, options, can_name,
                                             compute2=2000, compute3=7000)
            self.assertEqual(0, run.run())
            self.assertEqual([], spreads(run))
            self.assertEqual([[], [], []], [i.replanned for i in items])


class TestSpreader(testtools.TestCase):
    """The limits of one try (no drain run)."""

    def setUp(self):
        super().setUp()
        self.snap = trp.snapshot(servers=(('s1', 400), ('s2', 400)),
                                 compute2=2000, compute3=7000)
        self.items = [trp.planned('s1', 'compute2'),
                      trp.planned('s2', 'compute2')]
        self.fd = trp.FakeDrain(self.items, dest_hosts=('compute2',
                                                        'compute3'))
        self.fd.options = base.opts()
        self.fd.cycle = 1
        self.fd.replanner = replan.Replanner(
            trp.Facts(None), ['compute1'], self.snap, self.fd.options)
        self.sp = spread.Spreader(self.fd)

    def test_only_when_the_planned_host_is_busy(self):
        s1, s2 = self.items
        self.assertFalse(self.sp.spread(s2, True))      # compute2 free
        self.fd.slots.start('s1', 'compute1', 'compute2')
        s1.state = drain.MIGRATING
        s1.destination = 'compute2'
        self.assertFalse(self.sp.spread(s2, False))     # cannot name
        # a host that is unusable now is not a spread target
        self.assertFalse(self.sp.spread(
            s2, True, (set(), {'compute3': 'disabled'})))
        # nor a host outside the operator's --target-host list
        self.fd.options.target_hosts = ('compute2',)
        self.assertFalse(self.sp.spread(s2, True))
        self.fd.options.target_hosts = ('compute2', 'compute3')
        self.fd.cycle = 2
        self.assertTrue(self.sp.spread(s2, True))
        self.assertEqual(('compute3', ('compute3',)),
                         (s2.planned, s2.candidates))
        # a spread is not a re-plan: both re-plans are left
        self.assertEqual(0, sum(1 for r in s2.replanned
                                if not r.get('spread')))

    def test_once_per_cycle_and_not_when_no_target_is_free(self):
        s1, s2 = self.items
        self.fd.slots.start('s1', 'compute1', 'compute2')
        s1.state = drain.MIGRATING
        s1.destination = 'compute2'
        self.fd.slots.start('x', 'compute9', 'compute3')
        self.assertFalse(self.sp.spread(s2, True))      # nothing free
        self.assertEqual({}, self.sp._tried)
        self.fd.slots.finish('x')
        # compute3 has no room for s2: a try, then no other this cycle
        self.fd.replanner.snapshot = trp.snapshot(
            servers=(('s1', 400), ('s2', 400)), compute2=2000,
            compute3=300)
        real = spread.capacity.plan_capacity
        with mock.patch.object(spread.capacity, 'plan_capacity',
                               side_effect=real) as plan:
            self.assertFalse(self.sp.spread(s2, True))
            self.assertFalse(self.sp.spread(s2, True))
            self.assertEqual(1, plan.call_count)
            # next cycle, nothing changed: no new try
            self.fd.cycle = 2
            self.assertFalse(self.sp.spread(s2, True))
            self.assertEqual(1, plan.call_count)
            # something changed: tried again
            self.fd.cycle = 3
            s1.state = drain.CONFIRMING
            self.assertFalse(self.sp.spread(s2, True))
            self.assertEqual(2, plan.call_count)
        self.assertEqual('compute2', s2.planned)

    def test_source_full_or_stopping(self):
        s1, s2 = self.items
        self.fd.slots = drain.Slots(1, 1)
        self.fd.slots.start('s1', 'compute1', 'compute2')
        self.assertFalse(self.sp.spread(s2, True))      # source full
        self.fd.slots = drain.Slots(2, 1)
        self.fd.slots.start('s1', 'compute1', 'compute2')
        self.fd.stop_reason = 'interrupted'
        self.assertFalse(self.sp.spread(s2, True))
        self.fd.stop_reason = None
        self.fd.replanner = None
        self.assertFalse(self.sp.spread(s2, True))
