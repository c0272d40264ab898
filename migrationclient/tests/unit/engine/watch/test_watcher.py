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

"""The Watcher against a fake compute proxy fed Nova samples."""

import datetime


from migrationclient.cloud import errors as cloud_errors
from migrationclient.engine import watch
from migrationclient import exitcodes
from migrationclient.tests.unit.engine.watch import base
from migrationclient.tests.unit import fakes


class TestServerWatch(base.WatchTestCase):

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
        self.compute.live = {base.SERVER: [base.live(remaining=base.GIB)]}

    def test_lifecycle_one_request_per_poll(self):
        w = self.watcher(server_id=base.SERVER)
        events = w.start()
        # first byte counters come from the progress request
        self.assertEqual(['new', 'progress'], self.kinds(events))
        self.assertEqual([1], list(w.states))        # 2 is history
        self.assertEqual(2, w.requests)               # list + progress
        self.assertEqual(100.0 * 0, w.states[1].memory.percent)

        for i in range(1, 4):
            self.tick(5)
            gib = base.GIB
            self.compute.live[base.SERVER] = [base.live(
                remaining=gib - i * gib // 4, processed=1 + i * gib // 4)]
            before = len(self.compute.calls)
            events = w.poll()
            self.assertEqual(['progress'], self.kinds(events))
            # one request per poll: the server migrations list
            self.assertEqual([('server_migrations', base.SERVER)],
                             self.compute.calls[before:])
        state = w.states[1]
        self.assertEqual(75.0, state.memory.percent)
        self.assertAlmostEqual(base.GIB / 4 / 5, state.memory.transfer_rate)
        self.assertAlmostEqual(5.0, state.memory.eta)

        # It ends: gone from the server list, completed in os-migrations.
        self.tick(2)
        self.compute.live[base.SERVER] = []
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
            base.SERVER, '2016-01-29T11:42:01.000000')
        self.compute.actions[base.SERVER] = listed
        self.compute.action_details[full['request_id']] = full
        w = self.watcher(server_id=base.SERVER)
        w.start()
        self.tick()
        self.compute.live[base.SERVER] = []
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
        w = self.watcher(server_id=base.SERVER)
        w.start()
        self.compute.live[base.SERVER] = []
        self.compute.records[0].update(status='cancelled',
                                       updated_at='2016-01-29T11:43:00')
        w.poll()
        self.assertEqual(exitcodes.WATCH_CANCELLED,
                         watch.exit_status(w.states.values()))

    def test_stuck_reported_then_timeout_exit(self):
        w = self.watcher(server_id=base.SERVER)
        w.start()
        stuck = []
        for i in range(1, 20):
            self.tick(2)
            # copying goes on, remaining stays: dirty rate == transfer rate
            self.compute.live[base.SERVER] = [base.live(
                remaining=base.GIB // 2, processed=1 + i * 1000)]
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
        w = self.watcher(server_id=base.SERVER)
        w.start()
        self.compute.live[base.SERVER] = [base.live(remaining=base.GIB // 2)]
        w.poll()
        self.tick(31)
        self.assertEqual(['stuck'], self.kinds(w.poll()))
        self.tick(2)
        self.compute.live[base.SERVER] = [
            base.live(remaining=base.GIB // 4, processed=9)]
        self.assertIn('unstuck', self.kinds(w.poll()))

    def _stall(self, w, seconds=32):
        w.start()
        self.compute.live[base.SERVER] = [base.live(remaining=base.GIB // 2)]
        events = w.poll()
        self.tick(seconds)
        return events + w.poll()

    def test_on_stuck_abort(self):
        w = self.watcher(server_id=base.SERVER,
                         policy=watch.Policy(on_stuck='abort'))
        events = self._stall(w)
        self.assertEqual(['stuck', 'action'], self.kinds(events)[-2:])
        self.assertEqual([('abort', 1, base.SERVER)],
                         [c for c in self.compute.calls if c[0] == 'abort'])
        self.assertIn('(stuck)', events[-1].message)
        # only once
        self.tick(2)
        w.poll()
        self.assertEqual(1, self.compute.count('abort'))

    def test_on_stuck_force_complete_warns_about_pause(self):
        w = self.watcher(server_id=base.SERVER,
                         policy=watch.Policy(on_stuck='force-complete'))
        events = self._stall(w)
        self.assertEqual(1, self.compute.count('force_complete'))
        self.assertIn('pauses the guest', events[-1].message)
        self.assertEqual(['force-complete'], w.states[1].actions)

    def test_abort_after(self):
        w = self.watcher(server_id=base.SERVER,
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
        self.compute.live[base.SERVER] = [base.live(status='queued')]
        self.compute.records[0]['status'] = 'queued'
        w = self.watcher(server_id=base.SERVER,
                         policy=watch.Policy(force_complete_after=0))
        events = w.start()
        self.assertEqual('warning', events[-1].kind)
        self.assertIn('only a running live migration', events[-1].message)
        self.tick()
        self.assertEqual([], w.poll())          # warned once only
        self.compute.live[base.SERVER] = [base.live(status='running')]
        self.tick()
        events = w.poll()
        self.assertEqual(['status', 'action'], self.kinds(events))
        self.assertEqual(1, self.compute.count('force_complete'))

    def test_abort_queued_before_265_waits(self):
        self.compute = fakes.FakeCompute('2.64')
        self.compute.records = [fakes.os_migration(status='queued')]
        self.compute.live = {base.SERVER: [base.live(status='queued')]}
        w = self.watcher(server_id=base.SERVER,
                         policy=watch.Policy(abort_after=0))
        events = w.start()
        self.assertIn('2.65', events[-1].message)
        self.assertEqual(0, self.compute.count('abort'))
        self.compute.live = {base.SERVER: [base.live(status='running')]}
        self.tick()
        w.poll()
        self.assertEqual(1, self.compute.count('abort'))

    def test_abort_queued_from_265(self):
        self.compute = fakes.FakeCompute('2.65')
        self.compute.records = [fakes.os_migration(status='queued')]
        self.compute.live = {base.SERVER: [base.live(status='queued')]}
        w = self.watcher(server_id=base.SERVER,
                         policy=watch.Policy(abort_after=0))
        w.start()
        self.assertEqual(1, self.compute.count('abort'))

    def test_manual_abort_refused_is_command_error(self):
        self.compute = fakes.FakeCompute('2.23')
        self.compute.records = [fakes.os_migration()]
        w = self.watcher(server_id=base.SERVER)
        w.start()
        self.assertRaises(cloud_errors.CloudError, w.abort, w.states[1])

    def test_ended_but_unchanged_since_mark_asks_without_mark(self):
        w = self.watcher(server_id=base.SERVER)
        w.start()
        self.compute.live[base.SERVER] = []
        # completed, but its updated_at is older than the mark (clock
        # rounding): the changes-since answer misses it
        self.compute.records[0].update(status='completed',
                                       updated_at='2016-01-29T11:00:00')
        events = w.poll()
        self.assertEqual(['status', 'ended'], self.kinds(events))
        lists = [c[1] for c in self.compute.calls if c[0] == 'migrations']
        self.assertIn('changes_since', lists[-2])
        self.assertEqual({'server_id': base.SERVER}, lists[-1])

    def test_record_vanished(self):
        w = self.watcher(server_id=base.SERVER)
        w.start()
        self.compute.live[base.SERVER] = []
        self.compute.records = []
        events = w.poll()
        self.assertEqual(['ended'], self.kinds(events))
        self.assertIn('gone', events[0].message)
        self.assertEqual(exitcodes.WATCH_FAILED,
                         watch.exit_status(w.states.values()))


class TestAllWatch(base.WatchTestCase):

    def test_all_lists_without_filter(self):
        self.compute.records = [
            fakes.os_migration(),
            fakes.os_migration(id=4, instance_uuid=base.OTHER,
                               migration_type='migration',
                               status='migrating'),
        ]
        w = self.watcher(all_migrations=True)
        w.start()
        self.assertEqual([1, 4], sorted(w.states))
        self.assertEqual(('migrations', {}), self.compute.calls[0])


class TestOldCloud(base.WatchTestCase):

    def test_below_223_os_migrations_only(self):
        self.compute = fakes.FakeCompute('2.22')
        rec = fakes.os_migration()
        for k in ('uuid', 'user_id', 'project_id', 'migration_type'):
            rec.pop(k)
        self.compute.records = [rec]
        w = self.watcher(server_id=base.SERVER)
        w.start()
        self.tick()
        w.poll()
        self.assertEqual(0, self.compute.count('server_migrations'))
        self.assertEqual(2, self.compute.count('migrations'))
        # no changes-since before 2.59
        self.assertEqual({'server_id': base.SERVER}, self.compute.calls[-1][1])
        self.assertIsNone(w.states[1].memory)
        rec['status'] = 'completed'
        self.tick()
        self.assertEqual(['status', 'ended'], self.kinds(w.poll()))


class TestHostWatch(base.WatchTestCase):

    def setUp(self):
        super().setUp()
        # compute1: live migration 1 (running) of SERVER; cold migration 4
        # of OTHER from compute1 (migrating); old error 2 (history).
        self.compute.records = [
            fakes.os_migration(),
            fakes.os_migration(id=4, instance_uuid=base.OTHER,
                               migration_type='migration',
                               status='migrating',
                               uuid='42341d4b-346a-40d0-83c6-5f4f6892b650'),
            fakes.os_migration(id=2, status='error',
                               updated_at='2016-01-29T11:00:00.000000'),
            fakes.os_migration(id=9, instance_uuid=base.OTHER,
                               source_compute='compute7',
                               dest_compute='compute8'),
        ]
        self.compute.live = {base.SERVER: [base.live()]}

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
        self.compute.live[base.SERVER] = [base.live(
            remaining=base.GIB // 2, updated='2016-01-29T11:42:05.000000')]
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
            id=5, instance_uuid=base.OTHER, status='completed',
            uuid='52341d4b-346a-40d0-83c6-5f4f6892b650',
            updated_at='2016-01-29T11:50:00.000000'))
        self.tick()
        events = w.poll()
        self.assertEqual(['new', 'ended'], self.kinds(events))
        self.assertEqual('completed', w.states[5].outcome)
        self.assertIs(w.states[5], w.for_server(base.OTHER))

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


class TestExpect(base.WatchTestCase):

    def test_drain_expects_server(self):
        # A host scope without adoption of strangers: only expected servers
        self.compute.records = []
        w = self.watcher(host='compute1', adopt_new=False)
        w.start()
        w.expect(base.SERVER)
        self.compute.records = [
            fakes.os_migration(status='completed'),
            fakes.os_migration(id=4, instance_uuid=base.OTHER,
                               uuid='42341d4b-346a-40d0-83c6-5f4f6892b650'),
        ]
        events = w.poll()
        self.assertEqual([1], list(w.states))
        self.assertEqual(['new', 'ended'], self.kinds(events))
        self.assertEqual('completed', w.for_server(base.SERVER).outcome)
