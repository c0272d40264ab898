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

"""Sampled byte-progress reads of a poll (host / all scopes)."""


from migrationclient.cloud import errors as cloud_errors
from migrationclient.engine import watch
from migrationclient.tests.unit.engine.watch import base
from migrationclient.tests.unit import fakes


class TestSampledProgress(base.WatchTestCase):
    """Host / all scopes: one list per poll, byte progress sampled."""

    def poll(self, w):
        before = len(self.compute.calls)
        events = w.poll()
        return events, self.compute.calls[before:]

    def test_ten_running_one_list_and_two_reads_per_poll(self):
        fleet = base.Fleet(self.compute, self.clock, 10)
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
                fleet.save(i, remaining=base.GIB - k * 1000 - i)
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
        self.assertEqual(base.GIB - 19 * 1000 - 10,
                         w.states[10].memory.current.remaining)

    def test_drain_default_samples_one_read_per_poll(self):
        fleet = base.Fleet(self.compute, self.clock, 10)
        interval = watch.default_progress_interval(2, 300)
        self.assertEqual(50.0, interval)
        w = self.watcher(host='compute1', progress_interval=interval,
                         stuck_window=300)
        w.start()
        reads = []
        for k in range(1, 51):
            self.tick(2)
            for i in fleet.ids:
                fleet.save(i, remaining=base.GIB - k * 1000 - i)
            reads.append(len(fleet.read_ids(self.poll(w)[1])))
        # due after 50 s, at most ceil(10 x 2 / 50) = 1 per poll: the
        # first cycle spreads the 10 over 10 polls, and they stay spread
        self.assertEqual([0] * 24 + [1] * 10 + [0] * 15 + [1], reads)
        self.assertEqual(50 + 11, w.requests - 11)

    def test_cap_reads_per_poll_oldest_first(self):
        fleet = base.Fleet(self.compute, self.clock, 10)
        w = self.watcher(host='compute1', progress_reads=3)
        w.start()
        order = []
        for k in range(1, 5):
            self.tick(2)
            for i in fleet.ids:
                fleet.save(i, remaining=base.GIB - k * 1000)
            order.append(fleet.read_ids(self.poll(w)[1]))
        self.assertEqual([[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 2, 10]],
                         [sorted(ids) for ids in order])

    def test_first_read_not_deferred_by_the_cap(self):
        fleet = base.Fleet(self.compute, self.clock, 3)
        self.compute.records[2]['status'] = 'queued'
        queued = self.compute.live.pop(fleet.servers[3])
        w = self.watcher(host='compute1', progress_reads=1)
        w.start()
        self.assertEqual([1, 2], fleet.read_ids(self.compute.calls))
        self.tick(2)
        fleet.save(1, remaining=base.GIB // 2)
        fleet.save(2, remaining=base.GIB // 2)
        self.compute.records[2]['status'] = 'running'
        self.compute.records[2]['updated_at'] = base.stamp(self.clock)
        self.compute.live[fleet.servers[3]] = queued
        events, calls = self.poll(w)
        # the cap (1) for the sampled ones, plus the new running one
        self.assertEqual([1, 3], sorted(fleet.read_ids(calls)))
        self.assertIsNotNone(w.states[3].memory)

    def _stall_fleet(self, **kw):
        """Three migrations stall at 50 %; counters saved once."""
        fleet = base.Fleet(self.compute, self.clock, 3)
        for i in fleet.ids:
            fleet.save(i, remaining=base.GIB // 2)
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
        fleet = base.Fleet(self.compute, self.clock, 1)
        fleet.save(1, remaining=base.GIB // 2, processed=1)
        w = self.watcher(host='compute1', progress_interval=100)
        w.start()
        t0 = self.clock.t
        kinds = []
        reads = 0
        for k in range(1, 16):
            self.tick(2)
            # copying goes on (the record changes), remaining does not
            fleet.save(1, remaining=base.GIB // 2, processed=1 + k * 1000)
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
        fleet = base.Fleet(self.compute, self.clock, 1)
        fleet.save(1, remaining=base.GIB // 2)
        w = self.watcher(host='compute1', progress_interval=100)
        w.start()
        t0 = self.clock.t
        for k in range(1, 16):
            self.tick(2)
            if k == 10:
                # a new low the watch has not read yet (not due)
                fleet.save(1, remaining=base.GIB // 4)
            events, calls = self.poll(w)
            self.assertNotIn('stuck', [e.kind for e in events])
        self.assertEqual(30, self.clock.t - t0)
        state = w.states[1]
        self.assertFalse(state.stuck)
        self.assertEqual(base.GIB // 4, state.memory.current.remaining)
        # the window restarts from the read that saw the new low
        self.assertEqual(0.0, state.memory.stalled_for)

    def test_migration_gone_from_its_server_list(self):
        fleet = base.Fleet(self.compute, self.clock, 2)
        w = self.watcher(host='compute1')
        w.start()
        self.tick(2)
        fleet.save(1, remaining=base.GIB // 2)
        fleet.save(2, remaining=base.GIB // 2)
        # 2 ends between the list and its progress read
        del self.compute.live[fleet.servers[2]]
        events, calls = self.poll(w)
        self.assertEqual([1, 2], fleet.read_ids(calls))
        self.assertEqual(base.GIB, w.states[2].memory.current.remaining)
        self.tick(2)
        self.compute.records[1].update(status='completed',
                                       updated_at=base.stamp(self.clock))
        events, calls = self.poll(w)
        self.assertEqual(['status', 'ended'],
                         [e.kind for e in events if e.state.id == 2])
        self.assertEqual([], fleet.read_ids(calls))

    def test_cloud_failing_on_a_reason_loses_no_record(self):
        # The list's answer holds two ended migrations; reading the reason
        # of the first fails (the cloud, after the libraries' retries): the
        # next poll lists both again and ends both.
        from keystoneauth1 import exceptions as ks_exc
        fleet = base.Fleet(self.compute, self.clock, 2)
        w = self.watcher(host='compute1')
        w.start()
        for rec in self.compute.records:     # 1 ends before 2
            self.tick(1)
            rec.update(status='error', updated_at=base.stamp(self.clock))
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
