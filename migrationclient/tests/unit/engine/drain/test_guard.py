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

"""Long drains: unwritable report, API outage, token expiry (guard.py)."""

import datetime

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc
import testtools

from migrationclient.cloud import errors as cloud_errors
from migrationclient.engine import drain
from migrationclient.engine.drain import guard as guard_mod
from migrationclient import exitcodes
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes


class TestReportUnwritable(testtools.TestCase):

    def _run(self, nova, items, broken):
        run = base.DrainRun(nova, items, base.opts(max_parallel=1))
        real = run._write
        count = []

        def write(path, data):
            count.append(1)
            if broken(nova, len(count)):
                raise PermissionError(1, 'Operation not permitted')
            real(path, data)
        run.drain.write = write
        return run

    def test_no_new_start_in_flight_followed_exit_incomplete(self):
        nova = fakes.FakeNova()
        nova.add('a', hold=4)
        nova.add('b')
        items = [base.item('a'), base.item('b')]
        run = self._run(nova, items, lambda n, k: n.t >= 2)
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual((drain.DONE, drain.NOT_STARTED),
                         (items[0].state, items[1].state))
        self.assertIn('report', items[1].error)
        self.assertNotIn(('live', 'b', 'compute2'), nova.calls)
        self.assertEqual([], [c for c in nova.calls if c[:2] == ('live',
                                                                 'b')])
        line = run.drain.guard.closing_line()
        self.assertIn('/nowhere.json', line)

    def test_written_again_keeps_the_stop(self):
        nova = fakes.FakeNova()
        nova.add('a', hold=6)
        nova.add('b')
        items = [base.item('a'), base.item('b')]
        run = self._run(nova, items, lambda n, k: 3 <= k < 5)
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual((drain.DONE, drain.NOT_STARTED),
                         (items[0].state, items[1].state))
        self.assertTrue([t for _i, t in run.lines
                         if t.startswith('report written again')])
        self.assertIsNone(run.drain.guard.closing_line())
        self.assertEqual('incomplete', run.reports[-1]['state'])
        self.assertEqual('not-started', run.reports[-1]['servers'][1][
            'state'])

    def test_unwritable_intent_sends_nothing(self):
        nova = fakes.FakeNova()
        nova.add('a')
        items = [base.item('a')]
        run = self._run(nova, items, lambda n, k: k > 1)
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual([], [c for c in nova.calls if c[0] == 'live'])
        self.assertEqual(drain.NOT_STARTED, items[0].state)


class TestIntentBeforeRequest(testtools.TestCase):

    def test_submitted_is_written_before_the_request(self):
        nova = fakes.FakeNova()
        nova.add('a')
        items = [base.item('a')]
        run = base.DrainRun(nova, items, base.opts())
        seen = []
        real = nova.live_migrate_server

        def live(sid, host=None, block_migration=None):
            seen.append([s['state'] for s in run.reports[-1]['servers']])
            return real(sid, host=host, block_migration=block_migration)
        nova.live_migrate_server = live
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual([['submitted']], seen)
        self.assertIsNotNone(run.reports[1]['servers'][0]['submitted_at'])


class TestOutage(testtools.TestCase):

    def test_503_window_is_ridden_out(self):
        nova = fakes.FakeNova()
        for sid in 'abcd':
            nova.add(sid, hold=2)
        real_list, real_live = nova.migrations, nova.live_migrate_server

        def down():
            return 5 <= nova.t < 40

        def migrations(**query):
            if down():
                raise sdk_exc.HttpException('Service Unavailable',
                                            http_status=503)
            return real_list(**query)

        def live(sid, host=None, block_migration=None):
            if down():
                raise sdk_exc.HttpException('Service Unavailable',
                                            http_status=503)
            return real_live(sid, host=host, block_migration=block_migration)
        nova.migrations, nova.live_migrate_server = migrations, live
        nova.get_server_real = nova.get_server
        items = [base.item(s) for s in 'abcd']
        run = base.DrainRun(nova, items, base.opts(max_parallel=2,
                                                   max_per_target=0))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual([drain.DONE] * 4, [i.state for i in items])
        started = [c for c in nova.calls if c[0] == 'live']
        self.assertEqual(4, len(started))
        self.assertEqual(1, len([t for _i, t in run.lines
                                 if t.startswith('the cloud API fails')]))
        self.assertTrue([t for _i, t in run.lines
                         if t.startswith('the cloud API answers again')])

    def test_transient_refusal_puts_the_server_back(self):
        nova = fakes.FakeNova()
        nova.add('a')
        calls = []
        real_live = nova.live_migrate_server

        def live(sid, host=None, block_migration=None):
            calls.append(nova.t)
            if len(calls) == 1:
                raise sdk_exc.HttpException('Bad Gateway', http_status=502)
            return real_live(sid, host=host, block_migration=block_migration)
        nova.live_migrate_server = live
        items = [base.item('a')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual((drain.DONE, 1), (items[0].state, items[0].attempts))
        self.assertEqual(2, len(calls))

    def test_a_request_refused_every_time_fails_in_the_end(self):
        nova = fakes.FakeNova()
        nova.add('a')
        calls = []

        def live(sid, host=None, block_migration=None):
            calls.append(nova.t)
            raise sdk_exc.HttpException('Unavailable', http_status=503)
        nova.live_migrate_server = live
        items = [base.item('a')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.FAILED, items[0].state)
        self.assertEqual(drain.TRANSIENT_REQUEUES + 1, len(calls))

    def test_500_is_a_refusal(self):
        nova = fakes.FakeNova()
        nova.add('a')

        def live(sid, host=None, block_migration=None):
            raise sdk_exc.HttpException('boom', http_status=500)
        nova.live_migrate_server = live
        items = [base.item('a')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.FAILED, items[0].state)

    def test_backoff_doubles_up_to_the_cap(self):
        nova = fakes.FakeNova()
        run = base.DrainRun(nova, [], base.opts(poll_interval=2.0))
        g = run.drain.guard
        self.assertEqual(2.0, g.poll_delay())
        for _n in range(10):
            g.api_failed(cloud_errors.CloudError('503', status=503))
        self.assertEqual(drain.API_BACKOFF_MAX, g.poll_delay())
        g.api_ok()
        self.assertEqual(2.0, g.poll_delay())


class TestToken(testtools.TestCase):

    def _run(self, nova, items, seconds_left):
        run = base.DrainRun(nova, items, base.opts())
        now = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
        run.drain.guard = guard_mod.Guard(
            run.drain, now + datetime.timedelta(seconds=seconds_left),
            now=now)
        return run

    def test_nothing_starts_within_the_margin(self):
        nova = fakes.FakeNova()
        nova.add('a')
        items = [base.item('a')]
        run = self._run(nova, items, 30)
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.NOT_STARTED, items[0].state)
        self.assertIn('token expires at 00:00:30Z', items[0].error)
        self.assertEqual([], [c for c in nova.calls if c[0] == 'live'])

    def test_stops_starting_then_watching_before_expiry(self):
        nova = fakes.FakeNova()
        nova.add('a', hold=30)
        nova.add('b', hold=200)
        nova.add('c')
        items = [base.item(s) for s in 'abc']
        run = self._run(nova, items, 80)
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual([drain.DONE, drain.MIGRATING, drain.NOT_STARTED],
                         [i.state for i in items])
        self.assertIn('token expired', items[1].error)
        self.assertLess(nova.t, 80)
        line = run.drain.guard.token_line('/r.json', items)
        self.assertIn('token expires at 00:01:20Z', line)
        self.assertIn('--resume /r.json', line)

    def test_auth_failure_ends_the_drain_at_once(self):
        nova = fakes.FakeNova()
        nova.add('a', hold=30)
        nova.add('b')
        real = nova.migrations

        def migrations(**query):
            if nova.t >= 5:
                raise ks_exc.http.NotFound('Failed to validate token')
            return real(**query)
        nova.migrations = migrations
        items = [base.item('a'), base.item('b')]
        run = base.DrainRun(nova, items, base.opts(max_parallel=1))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual((drain.MIGRATING, drain.NOT_STARTED),
                         (items[0].state, items[1].state))
        self.assertLess(nova.t, 8)
        self.assertEqual(1, len([t for _i, t in run.lines
                                 if 'Failed to validate token' in t]))


class TestAuthErrors(testtools.TestCase):

    def test_identity_refusal_is_auth_failed(self):
        for exc in (ks_exc.http.NotFound('Failed to validate token'),
                    ks_exc.http.Unauthorized('no'),
                    sdk_exc.HttpException('x', http_status=401)):
            self.assertIsInstance(cloud_errors.from_call(exc),
                                  cloud_errors.AuthFailed, exc)

    def test_nova_404_is_not_found(self):
        err = cloud_errors.from_call(sdk_exc.NotFoundException('gone'))
        self.assertNotIsInstance(err, cloud_errors.AuthFailed)
        self.assertIsInstance(err, cloud_errors.NotFound)
