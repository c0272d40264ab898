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

"""cloud.migrations: record shapes, microversion gates, failure reasons.

The fake compute proxy below answers with SDK resources built from Nova's
own API samples (tests/unit/samples/nova, copied from nova's
doc/api_samples); it is shared with the engine tests.
"""


from openstack.compute.v2 import migration as sdk_migration
from openstack.compute.v2 import server_migration as sdk_server_migration
from openstack import exceptions as sdk_exc
import testtools

from migrationclient.cloud import errors
from migrationclient.cloud import migrations as cloud
from migrationclient.cloud import versions
from migrationclient import microversions as mv
from migrationclient.tests.unit import fakes

SAMPLES = fakes.SAMPLES
sample = fakes.sample
os_migration = fakes.os_migration
server_migration = fakes.server_migration
EndpointData = fakes.EndpointData
FakeCompute = fakes.FakeCompute
failed_live_migration_action = fakes.failed_live_migration_action


class TestMigrationRecord(testtools.TestCase):

    def test_from_os_migrations_v280(self):
        rec = sample('os-migrations/v2.80/migrations-get.json')[
            'migrations'][3]
        m = cloud.Migration.from_sdk(
            sdk_migration.Migration.existing(**rec))
        self.assertEqual(1, m.id)
        self.assertEqual('12341d4b-346a-40d0-83c6-5f4f6892b650', m.uuid)
        self.assertEqual('8600d31b-d1a1-4632-b2ff-45c2be1a70ff', m.server_id)
        self.assertEqual('live-migration', m.migration_type)
        self.assertTrue(m.is_live)
        self.assertTrue(m.in_progress)
        self.assertIsNone(m.memory_total_bytes)
        self.assertTrue(m.matches('1'))
        self.assertTrue(m.matches('12341D4B-346a-40d0-83c6-5f4f6892b650'))
        self.assertFalse(m.matches('2'))

    def test_from_os_migrations_v21_has_no_type_nor_uuid(self):
        rec = sample('os-migrations/migrations-get.json')['migrations'][0]
        m = cloud.Migration.from_sdk(
            sdk_migration.Migration.existing(**rec))
        self.assertEqual(1234, m.id)
        self.assertIsNone(m.uuid)
        self.assertIsNone(m.migration_type)
        self.assertEqual('done', m.status)
        self.assertTrue(m.ended)

    def test_from_server_migrations_has_bytes(self):
        rec = sample('server-migrations/v2.23/migrations-index.json')[
            'migrations'][0]
        m = cloud.Migration.from_sdk(
            sdk_server_migration.ServerMigration.existing(
                server_id=rec['server_uuid'], **rec))
        self.assertEqual('4cfba335-03d8-49b2-8c52-e69043d1e8fe', m.server_id)
        self.assertEqual('live-migration', m.migration_type)
        self.assertEqual(123456, m.memory_total_bytes)
        self.assertEqual(111111, m.memory_remaining_bytes)
        self.assertEqual(211111, m.disk_remaining_bytes)

    def test_statuses_partition(self):
        self.assertFalse(cloud.IN_PROGRESS & cloud.ENDED)
        self.assertEqual(cloud.ENDED, cloud.SUCCEEDED | cloud.FAILED |
                         cloud.CANCELLED)


class TestVersions(testtools.TestCase):

    def test_cloud_maximum(self):
        self.assertEqual(mv.Version(2, 104),
                         versions.api_version(FakeCompute('2.104')))

    def test_session_default_wins(self):
        self.assertEqual(mv.Version(2, 23), versions.api_version(
            FakeCompute('2.104', default='2.23')))

    def _m(self, status='running', mtype='live-migration'):
        return cloud.Migration(id=1, server_id='s', status=status,
                               migration_type=mtype)

    def test_abort_gates(self):
        self.assertIsNone(cloud.can_abort(FakeCompute('2.24'), self._m()))
        self.assertIn('2.24', cloud.can_abort(FakeCompute('2.23'),
                                              self._m()))
        why = cloud.can_abort(FakeCompute('2.64'), self._m('queued'))
        self.assertIn('2.65', why)
        self.assertIsNone(cloud.can_abort(FakeCompute('2.65'),
                                          self._m('preparing')))
        self.assertIn('live', cloud.can_abort(
            FakeCompute(), self._m(mtype='migration')))
        self.assertIn('completed', cloud.can_abort(
            FakeCompute(), self._m('completed')))

    def test_force_complete_gates(self):
        self.assertIsNone(cloud.can_force_complete(FakeCompute('2.22'),
                                                   self._m()))
        self.assertIn('2.22', cloud.can_force_complete(
            FakeCompute('2.21'), self._m()))
        self.assertIn('queued', cloud.can_force_complete(
            FakeCompute(), self._m('queued')))

    def test_abort_refused_below_224_raises_cloud_error(self):
        compute = FakeCompute('2.23')
        self.assertRaises(errors.CloudError, cloud.abort, compute,
                          self._m())
        self.assertEqual([], compute.calls)

    def test_abort_and_force_complete_call_sdk(self):
        compute = FakeCompute()
        cloud.abort(compute, self._m())
        cloud.force_complete(compute, self._m())
        self.assertEqual([('abort', 1, 's'), ('force_complete', 1, 's')],
                         compute.calls)

    def test_abort_conflict_is_one_line(self):
        compute = FakeCompute()
        compute.fail_abort = sdk_exc.ConflictException(
            'Conflict\nmigration is not running')
        exc = self.assertRaises(errors.CloudError, cloud.abort,
                                compute, self._m())
        self.assertNotIn('\n', str(exc))


class TestListing(testtools.TestCase):

    def test_changes_since_only_from_259(self):
        compute = FakeCompute('2.58')
        cloud.list_migrations(compute, host='compute1',
                              changes_since='2016-01-29T11:42:02.000000')
        self.assertEqual(('migrations', {'host': 'compute1'}),
                         compute.calls[0])
        compute = FakeCompute('2.59')
        cloud.list_migrations(compute, server_id='x',
                              changes_since='2016-01-29T11:42:02.000000')
        self.assertEqual({'server_id': 'x', 'changes_since':
                          '2016-01-29T11:42:02.000000'},
                         compute.calls[0][1])

    def test_forbidden_is_one_clear_line(self):
        class Forbidden(FakeCompute):
            def migrations(self, **query):
                raise sdk_exc.ForbiddenException(
                    'Policy doesn\'t allow os_compute_api:os-migrations:index'
                    ' to be performed.')
        exc = self.assertRaises(errors.Forbidden,
                                cloud.list_migrations, Forbidden())
        self.assertIn('admin', str(exc))


class TestFailureReason(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.m = cloud.Migration.from_sdk(
            sdk_migration.Migration.existing(**os_migration(
                status='error')))

    def _compute(self, **kw):
        compute = FakeCompute()
        listed, full = failed_live_migration_action(
            self.m.server_id, self.m.created_at, **kw)
        compute.actions[self.m.server_id] = listed
        compute.action_details[full['request_id']] = full
        return compute

    def test_details_first(self):
        reason = cloud.failure_reason(self._compute(), self.m)
        self.assertEqual('live-migration', reason.action)
        self.assertEqual('No valid host was found. ', reason.summary)
        self.assertEqual('nova.exception.NoValidHost: No valid host was '
                         'found. There are not enough hosts available.',
                         reason.events[0].traceback_last_line)

    def test_traceback_last_line_when_no_details(self):
        reason = cloud.failure_reason(self._compute(details=False), self.m)
        self.assertIn('NoValidHost', reason.summary)

    def test_non_admin_without_traceback(self):
        reason = cloud.failure_reason(
            self._compute(details=False, traceback=False), self.m)
        self.assertEqual('Error in conductor_live_migrate_instance',
                         reason.summary)
        self.assertIsNone(reason.to_dict()['events'][0][
            'traceback_last_line'])

    def test_no_action(self):
        self.assertIsNone(cloud.failure_reason(FakeCompute(), self.m))

    def test_pick_action_newest_before_migration(self):
        actions = [
            {'action': 'live-migration', 'request_id': 'old',
             'start_time': '2016-01-29T10:00:00.000000'},
            {'action': 'live-migration', 'request_id': 'right',
             'start_time': '2016-01-29T11:42:01.500000'},
            {'action': 'stop', 'request_id': 'other',
             'start_time': '2016-01-29T11:42:01.900000'},
            {'action': 'live-migration', 'request_id': 'later',
             'start_time': '2016-01-29T12:42:02.000000'},
        ]
        self.assertEqual('right', cloud.pick_action(actions, self.m)[
            'request_id'])

    def test_pick_action_any_move_when_type_unknown(self):
        m = cloud.Migration(id=1, server_id='s', status='error',
                            created_at='2016-01-29T11:42:02.000000')
        actions = [{'action': 'migrate', 'request_id': 'cold',
                    'start_time': '2016-01-29T11:42:01.000000'}]
        self.assertEqual('cold', cloud.pick_action(actions, m)['request_id'])


class TestParseTime(testtools.TestCase):

    def test_naive_is_utc(self):
        dt = cloud.parse_time('2016-01-29T11:42:02.000000')
        self.assertEqual(0, dt.utcoffset().total_seconds())
        self.assertIsNone(cloud.parse_time(None))
        self.assertIsNone(cloud.parse_time('garbage'))


class TestNewestStamp(testtools.TestCase):

    def _m(self, id, created, updated=None):
        return cloud.Migration(id=id, server_id='s', status='running',
                               created_at=created, updated_at=updated)

    def test_latest_change_as_nova_wrote_it(self):
        records = [self._m(1, '2016-01-29T11:00:00.000000',
                           '2016-01-29T11:05:00.000000'),
                   self._m(2, '2016-01-29T11:06:00.000000'),
                   self._m(3, '2016-01-29T10:00:00.000000')]
        self.assertEqual('2016-01-29T11:06:00.000000',
                         cloud.newest_stamp(None, records))

    def test_keeps_a_later_mark(self):
        mark = '2016-01-29T12:00:00.000000'
        records = [self._m(1, '2016-01-29T11:06:00.000000')]
        self.assertIs(mark, cloud.newest_stamp(mark, records))
        self.assertIs(mark, cloud.newest_stamp(mark, []))
        self.assertIsNone(cloud.newest_stamp(None, [self._m(1, None)]))


class TestServerLiveMigrations(testtools.TestCase):

    def test_live_type_even_without_bytes(self):
        compute = FakeCompute()
        rec = server_migration(status='queued', memory_total_bytes=None,
                               memory_processed_bytes=None,
                               memory_remaining_bytes=None)
        compute.live['s1'] = [rec]
        found = cloud.server_live_migrations(compute, 's1')
        self.assertEqual(['live-migration'],
                         [m.migration_type for m in found])
        self.assertEqual('s1', found[0].server_id)

    def test_server_gone(self):
        class Gone(FakeCompute):
            def server_migrations(self, server_id):
                raise sdk_exc.NotFoundException('gone')
        self.assertEqual([], cloud.server_live_migrations(Gone(), 's1'))
