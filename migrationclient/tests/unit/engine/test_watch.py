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

"""The watching engine against a fake compute proxy fed Nova samples."""

import datetime

import testtools

from migrationclient.cloud import errors as cloud_errors
from migrationclient.cloud import migrations as cloud
from migrationclient.engine import watch
from migrationclient import exitcodes
from migrationclient.tests.unit.cloud import test_migrations as fakes

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


class TestServerWatch(WatchTestCase):

    def setUp(self):
        super().setUp()
        # os-migrations 2.80 sample: migration 1 (live, running) and 2
        # (live, error, history) of SERVER; 3 and 4 of another server.
        self.compute.records = [
            fakes.os_migration(),
            fakes.os_migration(id=2, uuid='22341d4b-346a-40d0-83c6-'
                               '5f4f6892b650', status='error',
                               updated_at='2016-01-29T11:00:00.000000'),
        ]
        self.compute.live = {SERVER: [live(remaining=GIB)]}

    def test_lifecycle_one_request_per_poll(self):
        w = self.watcher(server_id=SERVER)
        events = w.start()
        # first byte counters come from the progress request
        self.assertEqual(['new', 'progress'], self.kinds(events))
        self.assertEqual([1], list(w.states))        # 2 is history
        self.assertEqual(2, w.requests)               # list + progress
        self.assertEqual(100.0 * 0, w.states[1].memory.percent)

        for i in range(1, 4):
            self.tick(5)
            self.compute.live[SERVER] = [live(
                remaining=GIB - i * GIB // 4, processed=1 + i * GIB // 4)]
            before = len(self.compute.calls)
            events = w.poll()
            self.assertEqual(['progress'], self.kinds(events))
            # one request per poll: the server migrations list
            self.assertEqual([('server_migrations', SERVER)],
                             self.compute.calls[before:])
        state = w.states[1]
        self.assertEqual(75.0, state.memory.percent)
        self.assertAlmostEqual(GIB / 4 / 5, state.memory.transfer_rate)
        self.assertAlmostEqual(5.0, state.memory.eta)

        # It ends: gone from the server list, completed in os-migrations.
        self.tick(2)
        self.compute.live[SERVER] = []
        self.compute.records[0].update(status='completed',
                                       updated_at='2016-01-29T11:43:00')
        events = w.poll()
        self.assertEqual(['status', 'ended'], self.kinds(events))
        self.assertEqual('running -> completed', events[0].message)
        self.assertEqual('completed', state.outcome)
        self.assertTrue(w.finished)
        # changes-since carried the high-water mark of what was seen
        self.assertEqual('2016-01-29T11:42:02.000000',
                         self.compute.calls[-1][1]['changes_since'])
        self.assertEqual(exitcodes.OK, watch.exit_status(w.states.values()))
        self.assertEqual([(self.clock.wall() - datetime.timedelta(
            seconds=17), 'running'), (self.clock.wall(), 'completed')],
            state.history)

    def test_failed_migration_gets_reason(self):
        listed, full = fakes.failed_live_migration_action(
            SERVER, '2016-01-29T11:42:01.000000')
        self.compute.actions[SERVER] = listed
        self.compute.action_details[full['request_id']] = full
        w = self.watcher(server_id=SERVER)
        w.start()
        self.tick()
        self.compute.live[SERVER] = []
        self.compute.records[0].update(status='error',
                                       updated_at='2016-01-29T11:43:00')
        events = w.poll()
        ended = events[-1]
        self.assertEqual('ended', ended.kind)
        self.assertIn('No valid host was found', ended.message)
        self.assertEqual('failed', w.states[1].outcome)
        self.assertEqual(exitcodes.WATCH_FAILED,
                         watch.exit_status(w.states.values()))
        self.assertEqual('No valid host was found. ',
                         ended.to_dict()['reason']['summary'])

    def test_cancelled(self):
        w = self.watcher(server_id=SERVER)
        w.start()
        self.compute.live[SERVER] = []
        self.compute.records[0].update(status='cancelled',
                                       updated_at='2016-01-29T11:43:00')
        w.poll()
        self.assertEqual(exitcodes.WATCH_CANCELLED,
                         watch.exit_status(w.states.values()))

    def test_stuck_reported_then_timeout_exit(self):
        w = self.watcher(server_id=SERVER)
        w.start()
        stuck = []
        for i in range(1, 20):
            self.tick(2)
            # copying goes on, remaining stays: dirty rate == transfer rate
            self.compute.live[SERVER] = [live(remaining=GIB // 2,
                                              processed=1 + i * 1000)]
            stuck += [e for e in w.poll() if e.kind == 'stuck']
        self.assertEqual(1, len(stuck))
        self.assertIn('no progress for 30s', stuck[0].message)
        self.assertIn('512.0 MiB', stuck[0].message)
        self.assertTrue(w.states[1].stuck)
        self.assertEqual([], [c for c in self.compute.calls
                              if c[0] in ('abort', 'force_complete')])
        self.assertEqual(exitcodes.WATCH_STUCK, watch.exit_status(
            w.states.values(), timed_out=True))

    def test_unstuck(self):
        w = self.watcher(server_id=SERVER)
        w.start()
        self.compute.live[SERVER] = [live(remaining=GIB // 2)]
        w.poll()
        self.tick(31)
        self.assertEqual(['stuck'], self.kinds(w.poll()))
        self.tick(2)
        self.compute.live[SERVER] = [live(remaining=GIB // 4, processed=9)]
        self.assertIn('unstuck', self.kinds(w.poll()))

    def _stall(self, w, seconds=32):
        w.start()
        self.compute.live[SERVER] = [live(remaining=GIB // 2)]
        events = w.poll()
        self.tick(seconds)
        return events + w.poll()

    def test_on_stuck_abort(self):
        w = self.watcher(server_id=SERVER,
                         policy=watch.Policy(on_stuck='abort'))
        events = self._stall(w)
        self.assertEqual(['stuck', 'action'], self.kinds(events)[-2:])
        self.assertEqual([('abort', 1, SERVER)],
                         [c for c in self.compute.calls if c[0] == 'abort'])
        self.assertIn('(stuck)', events[-1].message)
        # only once
        self.tick(2)
        w.poll()
        self.assertEqual(1, self.compute.count('abort'))

    def test_on_stuck_force_complete_warns_about_pause(self):
        w = self.watcher(server_id=SERVER,
                         policy=watch.Policy(on_stuck='force-complete'))
        events = self._stall(w)
        self.assertEqual(1, self.compute.count('force_complete'))
        self.assertIn('pauses the guest', events[-1].message)
        self.assertEqual(['force-complete'], w.states[1].actions)

    def test_abort_after(self):
        w = self.watcher(server_id=SERVER,
                         policy=watch.Policy(abort_after=10))
        w.start()
        self.tick(8)
        w.poll()
        self.assertEqual(0, self.compute.count('abort'))
        self.tick(2)
        events = w.poll()
        self.assertEqual(1, self.compute.count('abort'))
        self.assertIn('--abort-after 10s', events[-1].message)

    def test_force_complete_after_waits_for_running(self):
        self.compute.live[SERVER] = [live(status='queued')]
        self.compute.records[0]['status'] = 'queued'
        w = self.watcher(server_id=SERVER,
                         policy=watch.Policy(force_complete_after=0))
        events = w.start()
        self.assertEqual('warning', events[-1].kind)
        self.assertIn('only a running live migration', events[-1].message)
        self.tick()
        self.assertEqual([], w.poll())          # warned once only
        self.compute.live[SERVER] = [live(status='running')]
        self.tick()
        events = w.poll()
        self.assertEqual(['status', 'action'], self.kinds(events))
        self.assertEqual(1, self.compute.count('force_complete'))

    def test_abort_queued_before_265_waits(self):
        self.compute = fakes.FakeCompute('2.64')
        self.compute.records = [fakes.os_migration(status='queued')]
        self.compute.live = {SERVER: [live(status='queued')]}
        w = self.watcher(server_id=SERVER,
                         policy=watch.Policy(abort_after=0))
        events = w.start()
        self.assertIn('2.65', events[-1].message)
        self.assertEqual(0, self.compute.count('abort'))
        self.compute.live = {SERVER: [live(status='running')]}
        self.tick()
        w.poll()
        self.assertEqual(1, self.compute.count('abort'))

    def test_abort_queued_from_265(self):
        self.compute = fakes.FakeCompute('2.65')
        self.compute.records = [fakes.os_migration(status='queued')]
        self.compute.live = {SERVER: [live(status='queued')]}
        w = self.watcher(server_id=SERVER,
                         policy=watch.Policy(abort_after=0))
        w.start()
        self.assertEqual(1, self.compute.count('abort'))

    def test_manual_abort_refused_is_command_error(self):
        self.compute = fakes.FakeCompute('2.23')
        self.compute.records = [fakes.os_migration()]
        w = self.watcher(server_id=SERVER)
        w.start()
        self.assertRaises(cloud_errors.CloudError, w.abort, w.states[1])

    def test_ended_but_unchanged_since_mark_asks_without_mark(self):
        w = self.watcher(server_id=SERVER)
        w.start()
        self.compute.live[SERVER] = []
        # completed, but its updated_at is older than the mark (clock
        # rounding): the changes-since answer misses it
        self.compute.records[0].update(status='completed',
                                       updated_at='2016-01-29T11:00:00')
        events = w.poll()
        self.assertEqual(['status', 'ended'], self.kinds(events))
        lists = [c[1] for c in self.compute.calls if c[0] == 'migrations']
        self.assertIn('changes_since', lists[-2])
        self.assertEqual({'server_id': SERVER}, lists[-1])

    def test_record_vanished(self):
        w = self.watcher(server_id=SERVER)
        w.start()
        self.compute.live[SERVER] = []
        self.compute.records = []
        events = w.poll()
        self.assertEqual(['ended'], self.kinds(events))
        self.assertIn('gone', events[0].message)
        self.assertEqual(exitcodes.WATCH_FAILED,
                         watch.exit_status(w.states.values()))


class TestAllWatch(WatchTestCase):

    def test_all_lists_without_filter(self):
        self.compute.records = [
            fakes.os_migration(),
            fakes.os_migration(id=4, instance_uuid=OTHER,
                               migration_type='migration',
                               status='migrating'),
        ]
        w = self.watcher(all_migrations=True)
        w.start()
        self.assertEqual([1, 4], sorted(w.states))
        self.assertEqual(('migrations', {}), self.compute.calls[0])


class TestOldCloud(WatchTestCase):

    def test_below_223_os_migrations_only(self):
        self.compute = fakes.FakeCompute('2.22')
        rec = fakes.os_migration()
        for k in ('uuid', 'user_id', 'project_id', 'migration_type'):
            rec.pop(k)
        self.compute.records = [rec]
        w = self.watcher(server_id=SERVER)
        w.start()
        self.tick()
        w.poll()
        self.assertEqual(0, self.compute.count('server_migrations'))
        self.assertEqual(2, self.compute.count('migrations'))
        # no changes-since before 2.59
        self.assertEqual({'server_id': SERVER}, self.compute.calls[-1][1])
        self.assertIsNone(w.states[1].memory)
        rec['status'] = 'completed'
        self.tick()
        self.assertEqual(['status', 'ended'], self.kinds(w.poll()))


class TestHostWatch(WatchTestCase):

    def setUp(self):
        super().setUp()
        # compute1: live migration 1 (running) of SERVER; cold migration 4
        # of OTHER from compute1 (migrating); old error 2 (history).
        self.compute.records = [
            fakes.os_migration(),
            fakes.os_migration(id=4, instance_uuid=OTHER,
                               migration_type='migration',
                               status='migrating',
                               uuid='42341d4b-346a-40d0-83c6-5f4f6892b650'),
            fakes.os_migration(id=2, status='error',
                               updated_at='2016-01-29T11:00:00.000000'),
            fakes.os_migration(id=9, instance_uuid=OTHER,
                               source_compute='compute7',
                               dest_compute='compute8'),
        ]
        self.compute.live = {SERVER: [live()]}

    def test_requests_per_poll(self):
        w = self.watcher(host='compute1')
        events = w.start()
        self.assertEqual(['new', 'new', 'progress'], self.kinds(events))
        self.assertEqual([1, 4], sorted(w.states))
        before = len(self.compute.calls)
        self.tick()
        w.poll()
        calls = self.compute.calls[before:]
        # one os-migrations for the host; the running live migration's
        # record is older than its progress read: no read
        self.assertEqual([('migrations', {
            'host': 'compute1',
            'changes_since': '2016-01-29T11:42:02.000000'})], calls)
        # its record changes: its progress is read
        self.compute.records[0]['updated_at'] = '2016-01-29T11:42:05.000000'
        self.compute.live[SERVER] = [live(
            remaining=GIB // 2, updated='2016-01-29T11:42:05.000000')]
        before = len(self.compute.calls)
        self.tick()
        self.assertEqual(['progress'], self.kinds(w.poll()))
        self.assertEqual(['migrations', 'server_migrations'],
                         [c[0] for c in self.compute.calls[before:]])
        self.assertEqual(50.0, w.states[1].memory.percent)

    def test_new_migration_adopted_even_if_already_ended(self):
        w = self.watcher(host='compute1')
        w.start()
        self.compute.records.append(fakes.os_migration(
            id=5, instance_uuid=OTHER, status='completed',
            uuid='52341d4b-346a-40d0-83c6-5f4f6892b650',
            updated_at='2016-01-29T11:50:00.000000'))
        self.tick()
        events = w.poll()
        self.assertEqual(['new', 'ended'], self.kinds(events))
        self.assertEqual('completed', w.states[5].outcome)
        self.assertIs(w.states[5], w.for_server(OTHER))

    def test_finishes_when_all_ended(self):
        w = self.watcher(host='compute1')
        w.start()
        self.compute.records[0].update(status='completed',
                                       updated_at='2016-01-29T12:00:00')
        self.compute.records[1].update(status='finished',
                                       updated_at='2016-01-29T12:00:00')
        self.compute.live = {}
        self.tick()
        events = w.poll()
        self.assertTrue(w.finished)
        self.assertIn('VERIFY_RESIZE', [e for e in events
                                        if e.kind == 'ended'][-1].message)

    def test_run_loop_timeout(self):
        w = self.watcher(host='compute1')
        seen = []
        sleeps = []

        def sleep(s):
            sleeps.append(s)
            self.tick(s)

        result = w.run(seen.append, interval=2, timeout=5, sleep=sleep)
        self.assertEqual(watch.TIMEOUT, result)
        self.assertEqual([2, 2, 1], sleeps)
        self.assertEqual(4, len(seen))
        self.assertEqual(exitcodes.TIMEOUT,
                         watch.exit_status(w.states.values(), timed_out=True))

    def test_run_loop_finishes(self):
        w = self.watcher(host='compute1')

        def sleep(s):
            self.tick(s)
            for rec in self.compute.records[:2]:
                rec.update(status='completed',
                           updated_at='2016-01-29T12:00:00')
            self.compute.live = {}

        self.assertEqual(watch.FINISHED, w.run(lambda e: None, sleep=sleep))


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


class TestSampledProgress(WatchTestCase):
    """Host / all scopes: one list per poll, byte progress sampled."""

    def poll(self, w):
        before = len(self.compute.calls)
        events = w.poll()
        return events, self.compute.calls[before:]

    def test_ten_running_one_list_and_two_reads_per_poll(self):
        fleet = Fleet(self.compute, self.clock, 10)
        w = self.watcher(host='compute1', progress_interval=10,
                         stuck_window=300)
        w.start()
        # baseline: the list and the first read of each running one
        self.assertEqual(11, w.requests)
        self.assertEqual(list(range(1, 11)),
                         fleet.read_ids(self.compute.calls))
        reads_per_poll = []
        read_times = {i: [] for i in fleet.ids}
        for k in range(1, 21):
            self.tick(2)
            for i in fleet.ids:            # every one progresses
                fleet.save(i, remaining=GIB - k * 1000 - i)
            events, calls = self.poll(w)
            self.assertEqual(1, sum(1 for c in calls
                                    if c[0] == 'migrations'))
            ids = fleet.read_ids(calls)
            reads_per_poll.append(len(ids))
            for i in ids:
                read_times[i].append(k * 2)
        # 20 s: budget ceil(10 x 2 s / 10 s) = 2 reads per poll, oldest
        # read first, so the reads spread over the polls
        self.assertEqual([0] * 4 + [2] * 16, reads_per_poll)
        self.assertEqual(20 + 32, w.requests - 11)
        self.assertEqual(len(self.compute.calls), w.requests)
        for i in fleet.ids:
            gaps = [b - a for a, b in zip(read_times[i], read_times[i][1:])]
            self.assertEqual({10}, set(gaps), i)
        # staggered: each cycle of 10 s reads the 10 on 5 different polls
        self.assertEqual(5, len({read_times[i][0] for i in fleet.ids}))
        # the counters of the last read are shown (10: read at poll 19)
        self.assertEqual(GIB - 19 * 1000 - 10,
                         w.states[10].memory.current.remaining)

    def test_drain_default_samples_one_read_per_poll(self):
        fleet = Fleet(self.compute, self.clock, 10)
        interval = watch.default_progress_interval(2, 300)
        self.assertEqual(50.0, interval)
        w = self.watcher(host='compute1', progress_interval=interval,
                         stuck_window=300)
        w.start()
        reads = []
        for k in range(1, 51):
            self.tick(2)
            for i in fleet.ids:
                fleet.save(i, remaining=GIB - k * 1000 - i)
            reads.append(len(fleet.read_ids(self.poll(w)[1])))
        # due after 50 s, at most ceil(10 x 2 / 50) = 1 per poll: the
        # first cycle spreads the 10 over 10 polls, and they stay spread
        self.assertEqual([0] * 24 + [1] * 10 + [0] * 15 + [1], reads)
        self.assertEqual(50 + 11, w.requests - 11)

    def test_cap_reads_per_poll_oldest_first(self):
        fleet = Fleet(self.compute, self.clock, 10)
        w = self.watcher(host='compute1', progress_reads=3)
        w.start()
        order = []
        for k in range(1, 5):
            self.tick(2)
            for i in fleet.ids:
                fleet.save(i, remaining=GIB - k * 1000)
            order.append(fleet.read_ids(self.poll(w)[1]))
        self.assertEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 2, 10]],
                         [sorted(ids) for ids in order])

    def test_first_read_not_deferred_by_the_cap(self):
        fleet = Fleet(self.compute, self.clock, 3)
        self.compute.records[2]['status'] = 'queued'
        queued = self.compute.live.pop(fleet.servers[3])
        w = self.watcher(host='compute1', progress_reads=1)
        w.start()
        self.assertEqual([1, 2], fleet.read_ids(self.compute.calls))
        self.tick(2)
        fleet.save(1, remaining=GIB // 2)
        fleet.save(2, remaining=GIB // 2)
        self.compute.records[2]['status'] = 'running'
        self.compute.records[2]['updated_at'] = stamp(self.clock)
        self.compute.live[fleet.servers[3]] = queued
        events, calls = self.poll(w)
        # the cap (1) for the sampled ones, plus the new running one
        self.assertEqual([1, 3], sorted(fleet.read_ids(calls)))
        self.assertIsNotNone(w.states[3].memory)

    def _stall_fleet(self, **kw):
        """Three migrations stall at 50 %; counters saved once."""
        fleet = Fleet(self.compute, self.clock, 3)
        for i in fleet.ids:
            fleet.save(i, remaining=GIB // 2)
        return fleet, self.watcher(host='compute1', **kw)

    def test_unchanged_rows_fed_without_request_stuck_on_time(self):
        fleet, w = self._stall_fleet()
        per_poll = self.watcher(server_id=fleet.servers[1])
        w.start()
        per_poll.start()
        t0 = self.clock.t
        stuck_at = {}
        reads = []
        while self.clock.t - t0 < 40:
            self.tick(2)
            before = w.requests
            events, calls = self.poll(w)
            reads.append(len(fleet.read_ids(calls)))
            self.assertEqual(1 + reads[-1], w.requests - before)
            for e in events:
                if e.kind == 'stuck':
                    stuck_at.setdefault(('host', e.state.id),
                                        self.clock.t - t0)
            for e in per_poll.poll():
                if e.kind == 'stuck':
                    stuck_at[('server', 1)] = self.clock.t - t0
            if self.clock.t - t0 == 20:
                # fed at the current time: the stuck window runs on
                self.assertEqual(20.0, w.states[1].memory.stalled_for)
        # the same poll as a watcher that reads every poll (30 s window)
        self.assertEqual({('host', 1): 30, ('host', 2): 30, ('host', 3): 30,
                          ('server', 1): 30}, stuck_at)
        # no read while nothing changed; one read per migration to
        # confirm the verdict, in the poll that reports it
        self.assertEqual([0] * 14 + [3] + [0] * 5, reads)
        self.assertTrue(all(s.stuck for s in w.states.values()))

    def test_unchanged_rows_below_259_without_changes_since(self):
        self.compute = fakes.FakeCompute('2.58')
        fleet, w = self._stall_fleet()
        w.start()
        self.tick(2)
        events, calls = self.poll(w)
        self.assertEqual([('migrations', {'host': 'compute1'})], calls)
        self.assertEqual([], fleet.read_ids(calls))
        self.assertEqual(2.0, w.states[1].memory.stalled_for)

    def test_changed_row_not_due_stuck_confirmed_by_a_read(self):
        fleet = Fleet(self.compute, self.clock, 1)
        fleet.save(1, remaining=GIB // 2, processed=1)
        w = self.watcher(host='compute1', progress_interval=100)
        w.start()
        t0 = self.clock.t
        kinds = []
        reads = 0
        for k in range(1, 16):
            self.tick(2)
            # copying goes on (the record changes), remaining does not
            fleet.save(1, remaining=GIB // 2, processed=1 + k * 1000)
            events, calls = self.poll(w)
            reads += len(fleet.read_ids(calls))
            kinds.append([e.kind for e in events])
        self.assertEqual(30, self.clock.t - t0)
        # the confirmation read brings the new counters, then the verdict
        self.assertEqual(['progress', 'stuck'], kinds[-1])
        self.assertEqual([[]] * 14, kinds[:-1])
        self.assertEqual(1, reads)        # the confirmation
        self.assertEqual(1 + 15 * 1000,
                         w.states[1].memory.current.processed)

    def test_stuck_not_reported_when_the_read_shows_progress(self):
        fleet = Fleet(self.compute, self.clock, 1)
        fleet.save(1, remaining=GIB // 2)
        w = self.watcher(host='compute1', progress_interval=100)
        w.start()
        t0 = self.clock.t
        for k in range(1, 16):
            self.tick(2)
            if k == 10:
                # a new low the watch has not read yet (not due)
                fleet.save(1, remaining=GIB // 4)
            events, calls = self.poll(w)
            self.assertNotIn('stuck', [e.kind for e in events])
        self.assertEqual(30, self.clock.t - t0)
        state = w.states[1]
        self.assertFalse(state.stuck)
        self.assertEqual(GIB // 4, state.memory.current.remaining)
        # the window restarts from the read that saw the new low
        self.assertEqual(0.0, state.memory.stalled_for)

    def test_migration_gone_from_its_server_list(self):
        fleet = Fleet(self.compute, self.clock, 2)
        w = self.watcher(host='compute1')
        w.start()
        self.tick(2)
        fleet.save(1, remaining=GIB // 2)
        fleet.save(2, remaining=GIB // 2)
        # 2 ends between the list and its progress read
        del self.compute.live[fleet.servers[2]]
        events, calls = self.poll(w)
        self.assertEqual([1, 2], fleet.read_ids(calls))
        self.assertEqual(GIB, w.states[2].memory.current.remaining)
        self.tick(2)
        self.compute.records[1].update(status='completed',
                                       updated_at=stamp(self.clock))
        events, calls = self.poll(w)
        self.assertEqual(['status', 'ended'],
                         [e.kind for e in events if e.state.id == 2])
        self.assertEqual([], fleet.read_ids(calls))

    def test_cloud_failing_on_a_reason_loses_no_record(self):
        # The list's answer holds two ended migrations; reading the reason
        # of the first fails (the cloud, after the libraries' retries): the
        # next poll lists both again and ends both.
        from keystoneauth1 import exceptions as ks_exc
        fleet = Fleet(self.compute, self.clock, 2)
        w = self.watcher(host='compute1')
        w.start()
        for rec in self.compute.records:     # 1 ends before 2
            self.tick(1)
            rec.update(status='error', updated_at=stamp(self.clock))
        self.compute.live = {}
        real = self.compute.server_actions
        calls = []

        def broken(server_id):
            calls.append(server_id)
            if len(calls) == 1:
                raise ks_exc.ConnectFailure('connection reset')
            return real(server_id)

        self.compute.server_actions = broken
        exc = self.assertRaises(cloud_errors.CloudError, w.poll)
        self.assertTrue(exc.no_answer)
        self.assertIn('connection reset', str(exc))
        self.assertEqual([], [s.id for s in w.states.values() if s.ended])
        self.tick(2)
        events = w.poll()
        self.assertEqual([(1, 'ended'), (2, 'ended')],
                         [(e.state.id, e.kind) for e in events
                          if e.kind == 'ended'])
        self.assertEqual({'failed'}, {s.outcome for s in w.states.values()})
        self.assertEqual(fleet.servers[1], calls[0])

    def test_bad_sampling_settings(self):
        for value in (-1, float('nan'), float('inf')):
            self.assertRaises(ValueError, self.watcher, host='compute1',
                              progress_interval=value)
        for value in (0, -2, 1.5, True):
            self.assertRaises(ValueError, self.watcher, host='compute1',
                              progress_reads=value)
        self.assertEqual(0.0, self.watcher(host='compute1',
                                           progress_interval=None)
                         .progress_interval)

    def test_default_progress_interval(self):
        self.assertEqual(50.0, watch.default_progress_interval(2, 300))
        self.assertEqual(50.0, watch.default_progress_interval(2, None))
        self.assertEqual(5.0, watch.default_progress_interval(5, 12))
        self.assertEqual(0.5, watch.default_progress_interval(0.5, 3))


class TestExpect(WatchTestCase):

    def test_drain_expects_server(self):
        # A host scope without adoption of strangers: only expected servers
        self.compute.records = []
        w = self.watcher(host='compute1', adopt_new=False)
        w.start()
        w.expect(SERVER)
        self.compute.records = [
            fakes.os_migration(status='completed'),
            fakes.os_migration(id=4, instance_uuid=OTHER,
                               uuid='42341d4b-346a-40d0-83c6-5f4f6892b650'),
        ]
        events = w.poll()
        self.assertEqual([1], list(w.states))
        self.assertEqual(['new', 'ended'], self.kinds(events))
        self.assertEqual('completed', w.for_server(SERVER).outcome)


class TestVerdict(testtools.TestCase):

    def _state(self, status, mtype='live-migration', reason=None):
        m = cloud.Migration(id=1, server_id=SERVER, status=status,
                            migration_type=mtype)
        s = watch.MigrationState(m, 0, None, 30, 10)
        s.outcome = ('completed' if status in cloud.SUCCEEDED else
                     'cancelled' if status in cloud.CANCELLED else 'failed')
        s.reason = reason
        return s

    def test_moved(self):
        v = watch.move_verdict(self._state('completed'), 'compute1',
                               'ACTIVE', {'compute_host': 'compute2',
                                          'status': 'ACTIVE'})
        self.assertTrue(v.moved)
        self.assertEqual('moved', v.verdict)

    def test_completed_but_still_on_source(self):
        v = watch.move_verdict(self._state('completed'), 'compute1',
                               'ACTIVE', {'compute_host': 'compute1',
                                          'status': 'ACTIVE'})
        self.assertFalse(v.moved)
        self.assertEqual('not-moved', v.verdict)

    def test_status_changed(self):
        v = watch.move_verdict(self._state('completed'), 'compute1',
                               'ACTIVE', {'compute_host': 'compute2',
                                          'status': 'ERROR'})
        self.assertEqual('status-changed', v.verdict)

    def test_rolled_back(self):
        v = watch.move_verdict(self._state('failed'), 'compute1', 'ACTIVE',
                               {'compute_host': 'compute1',
                                'status': 'ACTIVE'})
        self.assertFalse(v.moved)
        self.assertEqual('rolled-back', v.verdict)

    def test_cold_awaiting_confirm(self):
        v = watch.move_verdict(self._state('finished', 'migration'),
                               'compute1', 'ACTIVE',
                               {'compute_host': 'compute2',
                                'status': 'VERIFY_RESIZE'})
        self.assertEqual('awaiting-confirm', v.verdict)

    def test_cancelled(self):
        v = watch.move_verdict(self._state('cancelled', 'migration'),
                               'compute1', 'SHUTOFF',
                               {'compute_host': 'compute1',
                                'status': 'SHUTOFF'})
        self.assertEqual('cancelled', v.verdict)

    def test_in_progress(self):
        s = watch.MigrationState(cloud.Migration(
            id=1, server_id=SERVER, status='running'), 0, None, 30, 10)
        self.assertEqual('in-progress', watch.move_verdict(
            s, 'compute1', 'ACTIVE', {}).verdict)


class TestPolicy(testtools.TestCase):

    def test_bad_policy(self):
        self.assertRaises(ValueError, watch.Policy, on_stuck='reboot')
        self.assertRaises(ValueError, watch.Policy, abort_after=-1)

    def test_one_scope(self):
        self.assertRaises(ValueError, watch.Watcher, fakes.FakeCompute(),
                          server_id='x', host='y')
