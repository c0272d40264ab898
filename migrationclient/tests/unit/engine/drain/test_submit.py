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

"""Starting migrations: rounds, refused and lost requests, usable
destinations."""

import threading

from openstack import exceptions as sdk_exc
import testtools

from migrationclient.engine import drain
from migrationclient.engine.drain import pace
from migrationclient import exitcodes
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes


class TestSubmitErrors(testtools.TestCase):

    def _wrap_live(self, nova, exc, process=True):
        real = nova.live_migrate_server

        def live(sid, host=None, block_migration=None):
            if process:
                real(sid, host=host, block_migration=block_migration)
            else:
                nova.calls.append(('live', sid, host))
            raise exc
        nova.live_migrate_server = live

    def test_lost_answer_of_an_accepted_request_is_followed(self):
        from keystoneauth1 import exceptions as ks_exc
        nova = fakes.FakeNova()
        nova.add('s')
        self._wrap_live(nova, ks_exc.ConnectFailure('Connection reset'))
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual((drain.DONE, 1), (items[0].state,
                                           len(nova.migrations_)))
        self.assertTrue([t for _i, t in run.lines
                         if 'following its migration' in t])

    def test_lost_answer_of_an_unprocessed_request_fails_cleanly(self):
        from keystoneauth1 import exceptions as ks_exc
        nova = fakes.FakeNova()
        nova.add('s')
        self._wrap_live(nova, ks_exc.ConnectFailure('Connection reset'),
                        process=False)
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.FAILED, items[0].state)
        self.assertIn('Connection reset', items[0].error)
        self.assertEqual('ACTIVE', nova.servers['s']['status'])

    def test_conflict_from_a_resent_request_is_followed(self):
        # keystoneauth's connect_retries sent the POST again after its
        # first answer was lost: Nova refuses the copy, the server is
        # migrating.
        nova = fakes.FakeNova()
        nova.add('s')
        self._wrap_live(nova, sdk_exc.ConflictException(
            'Cannot live-migrate instance while it is in task_state '
            'migrating', http_status=409))
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(drain.DONE, items[0].state)

    def test_server_error_500_not_processed_is_refused(self):
        nova = fakes.FakeNova()
        nova.add('s')
        nova.add('t')
        self._wrap_live(nova, sdk_exc.HttpException(
            'Internal Server Error', http_status=500), process=False)
        items = [base.item('s'), base.item('t')]
        run = base.DrainRun(nova, items, base.opts(max_failures=0))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual([drain.FAILED, drain.FAILED],
                         [i.state for i in items])
        self.assertIn('Internal Server Error', items[0].error)


class TestSubmitRounds(testtools.TestCase):
    """The starts of a round go out together; polls keep their cadence."""

    def _nova(self, n, **knobs):
        nova = fakes.FakeNova()
        for i in range(n):
            nova.add('s%d' % i, **knobs)
        return nova

    def test_requests_of_a_round_are_in_flight_together(self):
        nova = self._nova(5, hold=3)
        real = nova.live_migrate_server
        # Nova answers a 2.30 live migration after its pre-checks: the
        # three requests of the first round must be waiting together.
        barrier = threading.Barrier(3, timeout=10)
        threads = set()

        def live(sid, host=None, block_migration=None):
            threads.add(threading.current_thread().name)
            if len(nova.calls) < 3:
                barrier.wait()
            return real(sid, host=host, block_migration=block_migration)
        nova.live_migrate_server = live
        items = [base.item('s%d' % i) for i in range(5)]
        run = base.DrainRun(
            nova, items, base.opts(max_parallel=3, max_per_target=0),
            dest_hosts=('compute2', 'compute3'))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual([drain.DONE] * 5, [i.state for i in items])
        self.assertFalse(barrier.broken)
        self.assertGreaterEqual(len(threads), 3)
        # The limit holds: never more than 3 migrations at once.
        self.assertEqual(5, len(nova.intervals))
        self.assertEqual(3, base.max_overlap(nova.intervals, 'source'))
        # The round was written before its requests (issue 19 #3: all
        # three ``submitted``), then again as each was accepted.
        submitted = [sum(1 for e in r['servers'] if e['state'] ==
                         drain.SUBMITTED) for r in run.reports]
        self.assertEqual([3, 3, 3, 3], [n for n in submitted if n][:4])

    def test_accepted_requests_are_followed_before_a_refusal(self):
        # s1's request is refused (NoValidHost as a synchronous 400 after
        # Nova created an error record) in the round of s0 and s2: the
        # refusal's poll must not take the records of s0 and s2.
        nova = self._nova(3, hold=2)
        nova.knobs['s1']['novalid'] = ('compute2',)
        base.refuse_after_record(nova, lambda sid, host: sid == 's1')
        items = [base.item('s%d' % i) for i in range(3)]
        run = base.DrainRun(
            nova, items, base.opts(max_parallel=3, max_per_target=0,
                                   max_failures=0))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        by_id = {i.id: i for i in items}
        self.assertEqual((drain.DONE, drain.FAILED, drain.DONE),
                         tuple(by_id['s%d' % i].state for i in range(3)))
        self.assertIn('No valid host', by_id['s1'].error)
        records = {m['instance_uuid']: m for m in nova.migrations_}
        for sid in ('s0', 's2'):
            self.assertEqual(records[sid]['id'], by_id[sid].migration_id)
            self.assertEqual('compute2', nova.servers[sid]['host'])
        self.assertEqual('compute1', nova.servers['s1']['host'])
        first = {}
        for n, (sid, text) in enumerate(run.lines):
            first.setdefault(sid, (n, text))
        self.assertTrue(first['s0'][1].endswith('submitted'))
        self.assertTrue(first['s2'][1].endswith('submitted'))
        self.assertTrue(first['s1'][1].startswith('refused: No valid host'))
        self.assertLess(max(first['s0'][0], first['s2'][0]), first['s1'][0])

    def test_one_request_at_a_time_with_max_parallel_one(self):
        nova = self._nova(3, hold=1)
        in_flight = []
        real = nova.live_migrate_server

        def live(sid, host=None, block_migration=None):
            in_flight.append(sum(1 for m in nova.migrations_
                                 if m['status'] not in ('completed',)))
            return real(sid, host=host, block_migration=block_migration)
        nova.live_migrate_server = live
        items = [base.item('s%d' % i) for i in range(3)]
        run = base.DrainRun(nova, items, base.opts(max_parallel=1))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual([0, 0, 0], in_flight)
        self.assertEqual(1, base.max_overlap(nova.intervals, 'source'))

    def test_polls_keep_their_cadence_after_a_slow_request(self):
        nova = self._nova(3, hold=3)
        real_live = nova.live_migrate_server
        real_list = nova.migrations
        polls = []
        requests = []

        def live(sid, host=None, block_migration=None):
            requests.append(nova.t)
            nova.t += 1.5       # Nova's pre-checks before it answers
            return real_live(sid, host=host, block_migration=block_migration)

        def migrations(host=None, server_id=None, **query):
            if not server_id:
                # A poll's list: the cloud-wide one (census.py).
                polls.append(nova.t)
            return real_list(host=host, server_id=server_id, **query)
        nova.live_migrate_server = live
        nova.migrations = migrations
        items = [base.item('s%d' % i) for i in range(3)]
        run = base.DrainRun(
            nova, items, base.opts(max_parallel=1, poll_interval=2.0,
                                   stuck_after=None))
        self.assertEqual(exitcodes.OK, run.run())
        # polls[0] is the watcher's baseline, before the first request.
        gaps = [round(b - a, 6) for a, b in zip(polls[1:], polls[2:])]
        self.assertGreater(len(gaps), 5)
        # Start to start, one interval, even after the cycles that sent
        # a 1.5 s request (before: 3.5 s): never further apart.
        self.assertEqual(2.0, max(gaps))
        # Until an end was seen (nothing expected to end): exactly the
        # cadence.
        first_end = nova.intervals[0][4]
        self.assertEqual({2.0}, {round(b - a, 6) for a, b in zip(
            polls[1:], polls[2:]) if b <= first_end})
        # More often only while a migration is expected to end (pace.py):
        # never closer than half a step, around the request plus the
        # time learnt from the migrations before (the middle of the poll
        # before the end and the poll that saw it, from the request).
        step = run.drain.pace.step()
        self.assertGreaterEqual(min(gaps), step / 2)
        self.assertLess(min(gaps), 2.0)
        low = max(p for p in polls if p < first_end) - requests[0]
        high = min(p for p in polls if p >= first_end) - requests[0]
        learnt = run.drain.pace.learnt[drain.LIVE]
        self.assertEqual((low + high) / 2, learnt[0])
        for a, b in zip(polls[1:], polls[2:]):
            if round(b - a, 6) < 2.0:
                self.assertTrue([
                    r for r in requests[1:]
                    if r + min(learnt) - pace.EARLY_BEFORE * step <= b <=
                    r + max(learnt) + pace.EARLY_AFTER * step],
                    (b, requests, learnt))


class TestDestinationRecheck(testtools.TestCase):

    def test_target_down_mid_drain_next_goes_elsewhere(self):
        nova = fakes.FakeNova()
        nova.add('a', hold=3)
        nova.add('b')
        real_sleep = nova.sleep

        def sleep(seconds):
            real_sleep(seconds)
            if nova.t >= 2:
                nova.down.add('compute3')
        nova.sleep = sleep
        items = [base.item('a'), base.item('b')]
        run = base.DrainRun(nova, items, base.opts(max_parallel=1))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual([('live', 'a', 'compute2'),
                          ('live', 'b', 'compute2')],
                         [c for c in nova.calls if c[0] == 'live'])
        # Read once per submission, never while nothing could start.
        self.assertEqual(2, nova.calls.count(('services',)))
        texts = [t for _i, t in run.lines]
        self.assertIn('compute3 is not used as a destination: nova-compute '
                      'is down', texts)
        self.assertIn('live migration to compute2 submitted (not to '
                      'compute3: nova-compute is down)', texts)
        self.assertTrue([n for n in run.report['notes']
                         if 'compute3 is not used' in n])

    def test_disabled_target_is_left_out_and_back_again(self):
        nova = fakes.FakeNova()
        nova.disabled['compute2'] = 'other maintenance'
        for sid in ('a', 'b'):
            nova.add(sid, hold=1)
        items = [base.item('a'), base.item('b')]
        real_sleep = nova.sleep

        def sleep(seconds):
            real_sleep(seconds)
            if nova.t >= 2:
                nova.disabled.clear()
        nova.sleep = sleep
        run = base.DrainRun(nova, items, base.opts(max_parallel=1))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(['compute3', 'compute2'],
                         [c[2] for c in nova.calls if c[0] == 'live'])
        texts = [t for _i, t in run.lines]
        self.assertIn('compute2 is usable again as a destination', texts)

    def test_every_candidate_unusable_skips_with_reason(self):
        nova = fakes.FakeNova()
        nova.add('a')
        nova.add('b')
        nova.down.add('compute3')
        items = [base.item('a', candidates=('compute3',)), base.item('b')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual((drain.SKIPPED, drain.DONE),
                         (items[0].state, items[1].state))
        self.assertIn('compute3: nova-compute is down', items[0].error)
        self.assertEqual([('live', 'b', 'compute2')],
                         [c for c in nova.calls if c[0] == 'live'])

    def test_no_services_request_while_polling_only(self):
        nova = fakes.FakeNova()
        nova.add('a', hold=8)
        items = [base.item('a')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(1, nova.calls.count(('services',)))

    def test_services_unreadable_keeps_going(self):
        nova = fakes.FakeNova()
        nova.add('a')

        def broken(binary=None):
            raise sdk_exc.HttpException('Service Unavailable',
                                        http_status=503)
        nova.services = broken
        items = [base.item('a')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertTrue([t for _i, t in run.lines
                         if t.startswith('cannot list the compute services')])


class TestNamedTargets(testtools.TestCase):

    def test_target_host_without_a_limit_is_named(self):
        # --target-host compute3 --max-per-target 0: every request names
        # compute3 (FakeNova's scheduler would pick compute2).
        nova = fakes.FakeNova()
        for sid in ('a', 'b'):
            nova.add(sid)
        items = [base.item('a'), base.item('b')]
        run = base.DrainRun(nova, items, base.opts(
            max_parallel=2, max_per_target=0, target_hosts=('compute3',)),
            dest_hosts=('compute3',))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(
            [('live', 'a', 'compute3'), ('live', 'b', 'compute3')],
            sorted(c for c in nova.calls if c[0] == 'live'))
        self.assertEqual({'compute3'},
                         {nova.servers[s]['host'] for s in ('a', 'b')})
