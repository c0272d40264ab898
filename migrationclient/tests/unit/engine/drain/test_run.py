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

"""The run loop against the in-memory Nova: limits, failures, stuck,
interrupt."""

import copy
import signal

from openstack import exceptions as sdk_exc
import testtools

from migrationclient.engine import drain
from migrationclient import exitcodes
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes


class TestDrainRun(testtools.TestCase):

    def test_mixed_drain_respects_limits(self):
        nova = fakes.FakeNova()
        items = []
        for n in range(6):
            nova.add('live%d' % n, hold=3)
            items.append(base.item('live%d' % n))
        nova.add('off', status='SHUTOFF')
        items.append(base.item('off', drain.COLD, status='SHUTOFF'))
        run = base.DrainRun(
            nova, items, base.opts(
                max_parallel=2, max_per_target=1))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual({drain.DONE}, {i.state for i in items})
        for sid, srv in nova.servers.items():
            self.assertNotEqual('compute1', srv['host'])
        self.assertEqual('SHUTOFF', nova.servers['off']['status'])
        self.assertIn(('confirm', 'off'), nova.calls)
        self.assertEqual(7, len(nova.intervals))
        self.assertLessEqual(base.max_overlap(nova.intervals, 'source'), 2)
        self.assertLessEqual(base.max_overlap(nova.intervals, 'dest'), 1)
        self.assertEqual(2, base.max_overlap(nova.intervals, 'source'))
        self.assertEqual('complete', run.report['state'])
        # The report was written after every change.
        self.assertGreater(len(run.reports), 14)

    def test_one_list_per_poll_per_source_host(self):
        nova = fakes.FakeNova()
        for n in range(3):
            nova.add('s%d' % n, hold=4)
        items = [base.item('s%d' % n) for n in range(3)]
        run = base.DrainRun(
            nova, items, base.opts(max_parallel=3, max_per_target=0,
                                   stuck_after=None))
        run.run()
        lists = [c for c in nova.calls if c[0] == 'list']
        polls = nova.t / 1.0
        # One os-migrations list per poll for the single source host, plus
        # the baseline; the per-server lists are not per poll.
        self.assertLessEqual(len([c for c in lists if c[1] == 'compute1']),
                             polls + 2)

    def test_rolled_back_live_migration_is_a_failure(self):
        nova = fakes.FakeNova()
        nova.add('bad', hold=1, fail=True)
        nova.add('good')
        items = [base.item('bad'), base.item('good')]
        run = base.DrainRun(
            nova, items, base.opts(
                max_parallel=1, max_failures=1))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        by_id = {i.id: i for i in items}
        self.assertEqual(drain.FAILED, by_id['bad'].state)
        self.assertIn('rolled back', by_id['bad'].error)
        self.assertIn('live migration failed', by_id['bad'].error)
        # --max-failures 1: the second server was not started.
        self.assertEqual(drain.NOT_STARTED, by_id['good'].state)
        self.assertEqual('compute1', nova.servers['good']['host'])
        self.assertEqual('incomplete', run.report['state'])

    def test_max_failures_two_keeps_going(self):
        nova = fakes.FakeNova()
        nova.add('bad', hold=1, fail=True)
        nova.add('good')
        items = [base.item('bad'), base.item('good')]
        run = base.DrainRun(
            nova, items, base.opts(
                max_parallel=1, max_failures=2))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.DONE, items[1].state)

    def test_retry_on_no_valid_host(self):
        nova = fakes.FakeNova()
        nova.add('s', novalid=('compute2',))
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts(retry=True))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual('compute3', nova.servers['s']['host'])
        self.assertEqual(2, items[0].attempts)
        hosts = [c[2] for c in nova.calls if c[0] == 'live']
        self.assertEqual(['compute2', 'compute3'], hosts)

    def test_no_valid_host_without_retry(self):
        nova = fakes.FakeNova()
        nova.add('s', novalid=('compute2',))
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertIn('No valid host', items[0].error)

    def test_refused_request(self):
        nova = fakes.FakeNova()
        nova.add('s')
        nova.servers['s']['task_state'] = 'rebooting'
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.FAILED, items[0].state)
        self.assertIn('Cannot migrate', items[0].error)

    def test_stuck_abort_keeps_guest_on_source(self):
        nova = fakes.FakeNova()
        nova.add('s', stall=True)
        items = [base.item('s')]
        run = base.DrainRun(
            nova, items, base.opts(
                stuck_after=5, on_stuck='abort'))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.ABORTED, items[0].state)
        self.assertIn('stuck', items[0].error)
        self.assertIn(('abort', 1), nova.calls)
        self.assertEqual(('compute1', 'ACTIVE'), (
            nova.servers['s']['host'], nova.servers['s']['status']))

    def test_stuck_force_complete(self):
        nova = fakes.FakeNova()
        nova.add('s', stall=True)
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts(stuck_after=5,
                                                   on_stuck='force-complete'))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertIn(('force', 1), nova.calls)
        self.assertEqual(drain.DONE, items[0].state)

    def test_stuck_wait_then_timeout(self):
        nova = fakes.FakeNova()
        nova.add('s', stall=True)
        items = [base.item('s')]
        run = base.DrainRun(
            nova, items, base.opts(stuck_after=3, on_stuck='wait',
                                   timeout=20))
        self.assertEqual(exitcodes.TIMEOUT, run.run())
        self.assertEqual(drain.TIMEOUT, items[0].state)
        self.assertTrue(any('waiting' in text for _s, text in run.lines))
        self.assertIn(('abort', 1), nova.calls)

    def test_no_confirm(self):
        nova = fakes.FakeNova()
        nova.add('off', status='SHUTOFF')
        items = [base.item('off', drain.COLD, status='SHUTOFF')]
        run = base.DrainRun(nova, items, base.opts(confirm=False))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(drain.UNCONFIRMED, items[0].state)
        self.assertNotIn(('confirm', 'off'), nova.calls)
        self.assertEqual('VERIFY_RESIZE', nova.servers['off']['status'])

    def test_interrupt_aborts_and_stops(self):
        nova = fakes.FakeNova()
        for n in range(4):
            nova.add('s%d' % n, hold=30)
        items = [base.item('s%d' % n) for n in range(4)]
        run = base.DrainRun(
            nova, items, base.opts(max_parallel=2, max_per_target=0,
                                   grace_period=10))
        real_sleep = nova.sleep

        def sleep(seconds):
            real_sleep(seconds)
            if nova.t >= 3 and run.drain.interrupted is None:
                run.drain.request_stop('SIGINT')
        run.drain.sleep = sleep
        self.assertEqual(exitcodes.DRAIN_INTERRUPTED, run.run())
        states = sorted(i.state for i in items)
        self.assertEqual([drain.ABORTED, drain.ABORTED, drain.NOT_STARTED,
                          drain.NOT_STARTED], states)
        self.assertEqual('interrupted', run.report['state'])
        for sid in ('s0', 's1'):
            self.assertEqual('compute1', nova.servers[sid]['host'])

    def test_signal_before_the_drain_exists_is_not_lost(self):
        # A SIGTERM between the first report write and the start of the
        # run (services being disabled) must end the drain "interrupted",
        # starting nothing, not kill it with the service left disabled.
        nova = fakes.FakeNova()
        for n in range(3):
            nova.add('s%d' % n, hold=4)
        items = [base.item('s%d' % n) for n in range(3)]
        run = base.DrainRun(
            nova, items, base.opts(
                max_parallel=2, max_per_target=0))
        signals = drain.Signals()
        signals._handler(signal.SIGTERM, None)
        self.assertEqual(['SIGTERM'], signals.pending)
        signals.attach(run.drain)
        self.assertEqual('SIGTERM', run.drain.interrupted)
        self.assertEqual(exitcodes.DRAIN_INTERRUPTED, run.run())
        self.assertEqual({drain.NOT_STARTED}, {i.state for i in items})
        self.assertEqual('interrupted', run.report['state'])
        self.assertEqual([], nova.intervals)

    def test_interrupt_wait_then_resume(self):
        nova = fakes.FakeNova()
        for n in range(3):
            nova.add('s%d' % n, hold=4)
        items = [base.item('s%d' % n) for n in range(3)]
        run = base.DrainRun(
            nova, items, base.opts(max_parallel=1, max_per_target=0,
                                   on_interrupt='wait',
                                   grace_period=1))
        real_sleep = nova.sleep

        def sleep(seconds):
            real_sleep(seconds)
            if nova.t >= 2 and run.drain.interrupted is None:
                run.drain.request_stop('SIGTERM')
        run.drain.sleep = sleep
        self.assertEqual(exitcodes.DRAIN_INTERRUPTED, run.run())
        first = run.report['servers']
        self.assertEqual([drain.MIGRATING, drain.NOT_STARTED,
                          drain.NOT_STARTED], [e['state'] for e in first])
        # Resume: the in-flight migration is followed, not submitted again.
        previous = copy.deepcopy(first)
        fresh = [base.item('s1'), base.item('s2')]
        merged = drain.merge_previous(fresh, previous)
        run2 = base.DrainRun(nova, merged, base.opts(max_parallel=1,
                                                     max_per_target=0))
        self.assertEqual(exitcodes.OK, run2.run())
        self.assertEqual(3, len([c for c in nova.calls if c[0] == 'live']))
        self.assertEqual({drain.DONE}, {i.state for i in merged})

    def test_second_signal_stops_watching(self):
        nova = fakes.FakeNova()
        nova.add('s', stall=True)
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts(on_interrupt='wait',
                                                   grace_period=1000))
        real_sleep = nova.sleep

        def sleep(seconds):
            real_sleep(seconds)
            if nova.t >= 3:
                run.drain.request_stop('SIGINT')
        run.drain.sleep = sleep
        self.assertEqual(exitcodes.DRAIN_INTERRUPTED, run.run())
        self.assertEqual(drain.MIGRATING, items[0].state)
        self.assertIn('run the drain again', items[0].error)
        self.assertLess(nova.t, 10)

    def test_refusal_does_not_end_the_drain(self):
        nova = fakes.FakeNova()
        nova.add('a')
        nova.servers['a']['task_state'] = 'rebooting'
        nova.add('b')
        items = [base.item('a'), base.item('b')]
        run = base.DrainRun(nova, items, base.opts(max_failures=0))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual([drain.FAILED, drain.DONE],
                         [i.state for i in items])

    def test_no_usable_destination_ends(self):
        nova = fakes.FakeNova()
        nova.add('a')
        items = [base.item('a', candidates=('compute1',))]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.NOT_STARTED, items[0].state)
        self.assertIn('no allowed destination', items[0].error)
        self.assertEqual([], [c for c in nova.calls if c[0] == 'live'])


class TestSyncNoValidHost(testtools.TestCase):
    """OSC / SDK live migration at 2.30: NoValidHost is a 400 at once."""

    def test_retry_after_synchronous_refusal(self):
        nova = fakes.FakeNova()
        nova.add('s')
        real = nova.live_migrate_server

        def live(sid, host=None, block_migration=None):
            if host == 'compute2':
                nova.calls.append(('live', sid, host))
                raise sdk_exc.BadRequestException(
                    'No valid host was found. Unable to move instance')
            return real(sid, host=host, block_migration=block_migration)
        nova.live_migrate_server = live
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts(retry=True))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(['compute2', 'compute3'],
                         [c[2] for c in nova.calls if c[0] == 'live'])
        self.assertEqual(drain.DONE, items[0].state)

    def test_retry_after_refusal_that_left_an_error_record(self):
        # Real Nova 34 at 2.30: the 400 NoValidHost comes after the
        # conductor created the migration record (status "error").  The
        # retry must follow its own migration, not that record.
        nova = fakes.FakeNova()
        nova.add('s', novalid=('compute2',))
        base.refuse_after_record(nova, lambda sid, host: host == 'compute2')
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts(retry=True))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(['error', 'completed'],
                         [m['status'] for m in nova.migrations_])
        self.assertEqual((drain.DONE, 'compute3', 2, 2),
                         (items[0].state, items[0].final_host,
                          items[0].attempts, items[0].migration_id))
        self.assertEqual('compute3', nova.servers['s']['host'])


class TestPollErrors(testtools.TestCase):

    def _fail_lists(self, nova, when):
        real = nova.migrations

        def migrations(**query):
            if when(nova):
                nova.calls.append(('list-failed',))
                raise sdk_exc.HttpException('Service Unavailable',
                                            http_status=503)
            return real(**query)
        nova.migrations = migrations

    def test_a_few_failed_polls_are_survived(self):
        nova = fakes.FakeNova()
        nova.add('s', hold=4)
        self._fail_lists(nova, lambda n: 2 <= n.t < 4)
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(drain.DONE, items[0].state)
        self.assertIn(('list-failed',), nova.calls)
        self.assertTrue([t for _i, t in run.lines
                         if t.startswith('cannot poll the migrations of '
                                         'compute1: ')])
        self.assertTrue([t for _i, t in run.lines
                         if t.startswith('the cloud API answers again')])

    def test_persistent_failure_stops_watching_with_a_report(self):
        nova = fakes.FakeNova()
        nova.add('a', hold=30)
        nova.add('b')
        self._fail_lists(nova, lambda n: n.t >= 3)
        items = [base.item('a'), base.item('b')]
        run = base.DrainRun(nova, items, base.opts(max_parallel=1))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual((drain.MIGRATING, drain.NOT_STARTED),
                         (items[0].state, items[1].state))
        self.assertIn('still in flight', items[0].error)
        self.assertIn('the cloud API failed for more than 300 s',
                      items[1].error)
        self.assertEqual('incomplete', run.report['state'])

    def test_end_seen_by_a_poll_that_failed_later_is_applied(self):
        # The os-migrations list shows a completed; the progress read of
        # b (still running) fails: a's end must not be lost.
        nova = fakes.FakeNova()
        nova.add('a', hold=1)
        nova.add('b', hold=10)
        real = nova.server_migrations
        state = {'failed': False}

        def server_migrations(sid):
            done = [m for m in nova.migrations_ if m['instance_uuid'] == 'a'
                    and m['status'] == 'completed']
            if done and sid == 'b' and not state['failed']:
                state['failed'] = True
                raise sdk_exc.HttpException('Service Unavailable',
                                            http_status=503)
            return real(sid)
        nova.server_migrations = server_migrations
        items = [base.item('a'), base.item('b')]
        run = base.DrainRun(
            nova, items, base.opts(
                max_parallel=2, max_per_target=0))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertTrue(state['failed'])
        self.assertEqual([drain.DONE, drain.DONE], [i.state for i in items])

    def test_unreadable_server_after_the_end_is_not_gone(self):
        nova = fakes.FakeNova()
        nova.add('s', hold=1)
        real = nova.get_server
        failures = []

        def get_server(sid):
            if nova.servers[sid]['host'] != 'compute1' and len(failures) < 2:
                failures.append(sid)
                raise sdk_exc.HttpException('Bad Gateway', http_status=502)
            return real(sid)
        nova.get_server = get_server
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(2, len(failures))
        self.assertEqual(drain.DONE, items[0].state)
