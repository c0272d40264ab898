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

"""Polls when an end is due; the next start before the verify read."""

from unittest import mock

import testtools

from migrationclient.engine import drain
from migrationclient.engine.drain import pace
from migrationclient import exitcodes
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes


def _run(n, hold, max_parallel=1, poll_interval=2.0):
    """Drain ``n`` servers held ``hold`` s; (run, polls, seen, nova).

    ``polls``: fake time of each poll's list (the cloud-wide one);
    ``seen``: (time, server id, text) of every line the drain said.
    """
    nova = fakes.FakeNova()
    for i in range(n):
        nova.add('s%d' % i, hold=hold)
    real_list = nova.migrations
    polls, seen = [], []

    def migrations(host=None, server_id=None, **query):
        if not server_id:
            polls.append(nova.t)
        return real_list(host=host, server_id=server_id, **query)
    nova.migrations = migrations
    items = [base.item('s%d' % i) for i in range(n)]
    run = base.DrainRun(nova, items, base.opts(
        max_parallel=max_parallel, poll_interval=poll_interval,
        stuck_after=None))
    said = run.drain.on_event

    def on_event(item, text):
        seen.append((nova.t, item.id, text))
        said(item, text)
    run.drain.on_event = on_event
    return run, polls, seen, nova


def _lateness(seen, nova):
    """Per migration: the drain saw it completed how long after it ended."""
    ends = {mid: end for mid, _s, _d, _b, end in nova.intervals}
    out = []
    for t, _sid, text in seen:
        if text.startswith('migration ') and ' completed' in text:
            mid = int(text.split()[1])
            out.append(round(t - ends[mid], 6))
    return out


class TestEarlyPolls(testtools.TestCase):

    def test_an_early_poll_sees_an_end_sooner(self):
        # Ends fall between cadence polls (hold 3.3 s: 4.4 s a migration).
        run, _polls, seen, nova = _run(5, 3.3)
        self.assertEqual(exitcodes.OK, run.run())
        late = _lateness(seen, nova)
        with mock.patch.object(pace.Pace, 'expected_ends',
                               lambda self: []):    # the cadence only
            run2, _p2, seen2, nova2 = _run(5, 3.3)
            self.assertEqual(exitcodes.OK, run2.run())
        cadence = _lateness(seen2, nova2)
        self.assertEqual(5, len(late))
        # The first end teaches the drain how long one takes; from the
        # third on, the end is seen within a quarter interval.
        self.assertTrue(all(x <= 0.5 for x in late[2:]), late)
        self.assertTrue(all(x >= 1.0 for x in cadence[1:]), cadence)
        self.assertLess(sum(late), sum(cadence) - 2.0)
        self.assertLess(max(e for _m, _s, _d, _b, e in nova.intervals),
                        max(e for _m, _s, _d, _b, e in nova2.intervals))

    def test_no_early_poll_before_an_end_was_seen(self):
        run, polls, _seen, _nova = _run(1, 6)
        self.assertEqual(exitcodes.OK, run.run())
        gaps = {round(b - a, 6) for a, b in zip(polls[1:], polls[2:])}
        self.assertEqual({2.0}, gaps)

    def test_early_polls_are_bounded(self):
        # Ten migrations, one at a time: at most the window's polls per
        # migration with an expected end, never closer than half a step,
        # never further apart than an interval.
        run, polls, _seen, nova = _run(10, 3.3)
        self.assertEqual(exitcodes.OK, run.run())
        gaps = [round(b - a, 6) for a, b in zip(polls[1:], polls[2:])]
        step = run.drain.pace.step()
        self.assertTrue(all(step / 2 <= g <= 2.0 for g in gaps), gaps)
        early = sum(1 for g in gaps if g < 2.0)
        self.assertLessEqual(early, 9 * (
            1 + pace.EARLY_BEFORE + pace.EARLY_AFTER))
        span = max(e for _m, _s, _d, _b, e in nova.intervals)
        self.assertLessEqual(len(polls), span / 2.0 + early + 2)

    def test_adopted_migrations_teach_nothing(self):
        run, _polls, _seen, _nova = _run(1, 3)
        p = run.drain.pace
        item = run.drain.items[0]
        item.t_submit = 1.0     # adopted: its request time is unknown
        p.ended(item)
        self.assertEqual({}, p.learnt)
        p.submitted(item)
        p.polled(3.0)
        p.polled(5.0)
        run.drain.clock = lambda: 5.5
        p.ended(item)
        # Moving at the poll of 3.0, ended by 5.5 (from its request, 1.0)
        self.assertEqual({drain.LIVE: [3.25]}, p.learnt)
        self.assertEqual(3.25, p.expected(drain.LIVE))
        self.assertIsNone(p.expected(drain.COLD))

    def test_the_estimate_is_a_median(self):
        run, _polls, _seen, _nova = _run(1, 3)
        p = run.drain.pace
        p.learnt[drain.LIVE] = [4.0, 9.0, 4.2]
        self.assertEqual(4.2, p.expected(drain.LIVE))
        p.learnt[drain.LIVE] = [4.0, 9.0, 4.2, 4.4]
        self.assertAlmostEqual(4.3, p.expected(drain.LIVE))

    def test_outage_keeps_the_cadence(self):
        run, _polls, _seen, _nova = _run(1, 3)
        p = run.drain.pace
        p.polled(0.0)
        p.learnt[drain.LIVE] = [1.5]
        item = run.drain.items[0]
        item.state, item.t_submit = drain.MIGRATING, 0.0
        p.submitted(item)
        # 1.5 expected, two quarter-interval steps before: 1.0
        self.assertEqual(1.0, p.next_poll(2.0))
        run.drain.guard.outage_since = 0.0
        self.assertEqual(2.0, p.next_poll(2.0))


class TestStartBeforeVerify(testtools.TestCase):

    def test_next_start_goes_before_the_verify_read(self):
        run, _polls, seen, _nova = _run(3, 3)
        self.assertEqual(exitcodes.OK, run.run())
        texts = [(sid, text) for _t, sid, text in seen]
        for prev, nxt in (('s0', 's1'), ('s1', 's2')):
            done = [n for n, (sid, text) in enumerate(texts)
                    if sid == prev and text.startswith('done:')][0]
            start = [n for n, (sid, text) in enumerate(texts)
                     if sid == nxt and text.endswith('submitted')][0]
            ended = [n for n, (sid, text) in enumerate(texts)
                     if sid == prev and ' completed' in text][0]
            self.assertLess(ended, start)
            self.assertLess(start, done)
        self.assertEqual([drain.DONE] * 3,
                         [i.state for i in run.drain.items])
        self.assertEqual(1, base.max_overlap(_nova.intervals, 'source'))

    def test_server_still_on_the_source_fails_after_the_next_start(self):
        run, _polls, seen, nova = _run(2, 3)
        real_end = nova._end

        def end(m, status):
            real_end(m, status)
            if m['instance_uuid'] == 's0':
                nova.servers['s0']['host'] = 'compute1'
        nova._end = end
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        items = {i.id: i for i in run.drain.items}
        self.assertEqual(drain.FAILED, items['s0'].state)
        self.assertIn('still on compute1', items['s0'].error)
        self.assertEqual(drain.DONE, items['s1'].state)

    def test_cold_migrations_keep_their_slot_until_confirmed(self):
        nova = fakes.FakeNova()
        for sid in ('a', 'b'):
            nova.add(sid)
        items = [base.item(sid, action=drain.COLD) for sid in ('a', 'b')]
        run = base.DrainRun(nova, items, base.opts(max_parallel=1))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(1, base.max_overlap(nova.intervals, 'source'))
        self.assertFalse(run.drain.pace.freed)


class TestStep(testtools.TestCase):

    def test_an_eighth_of_the_interval_at_least_a_quarter_second(self):
        run, _polls, _seen, _nova = _run(1, 3)
        self.assertEqual(0.25, run.drain.pace.step())
        run.drain.options.poll_interval = 1.0
        self.assertEqual(0.25, run.drain.pace.step())
        run.drain.options.poll_interval = 10.0
        self.assertEqual(1.25, run.drain.pace.step())
