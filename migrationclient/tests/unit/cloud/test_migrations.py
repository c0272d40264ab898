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

import copy
import json
import os

from openstack.compute.v2 import migration as sdk_migration
from openstack.compute.v2 import server_action as sdk_action
from openstack.compute.v2 import server_migration as sdk_server_migration
from openstack.compute.v2 import service as sdk_service
from openstack import exceptions as sdk_exc
import testtools

from migrationclient.cloud import errors
from migrationclient.cloud import migrations as cloud
from migrationclient import microversions as mv

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                       'samples', 'nova')


def sample(path):
    """A Nova API sample (path below doc/api_samples), parsed."""
    with open(os.path.join(SAMPLES, path)) as f:
        return json.load(f)


def os_migration(**changes):
    """The running live migration of os-migrations 2.80, changed."""
    rec = copy.deepcopy(sample('os-migrations/v2.80/migrations-get.json')
                        ['migrations'][3])
    rec.pop('links', None)
    rec.update(changes)
    return rec


def server_migration(**changes):
    """The running live migration of server-migrations 2.80, changed."""
    rec = copy.deepcopy(sample('server-migrations/v2.80/migrations-index.json')
                        ['migrations'][0])
    rec.update(changes)
    return rec


class EndpointData:
    def __init__(self, max_version):
        self.max_microversion = tuple(int(x) for x in max_version.split('.'))
        self.min_microversion = (2, 1)


class FakeCompute:
    """Stands in for client_manager.compute; data from Nova samples.

    ``records`` holds os-migrations records (dicts) and ``live`` the
    server-migrations records per server; tests change them between polls.
    Every call is appended to ``calls``.
    """

    def __init__(self, max_version='2.104', default=None):
        self._endpoint = EndpointData(max_version)
        self.default_microversion = default
        self.records = []
        self.live = {}
        self.actions = {}          # server id -> [action list dicts]
        self.action_details = {}   # request id -> action dict with events
        self.calls = []
        self.fail_abort = None
        self.servers = {}          # id -> SDK Server
        self.services_list = []    # os-services records (dicts)

    def get_endpoint_data(self):
        return self._endpoint

    def migrations(self, **query):
        self.calls.append(('migrations', query))
        out = []
        for rec in self.records:
            if 'server_id' in query and (
                    rec['instance_uuid'] != query['server_id']):
                continue
            if 'host' in query and query['host'] not in (
                    rec.get('source_compute'), rec.get('dest_compute')):
                continue
            if 'status' in query and rec['status'] != query['status']:
                continue
            since = query.get('changes_since')
            if since and (rec.get('updated_at') or '') < since:
                continue
            out.append(sdk_migration.Migration.existing(**rec))
        return iter(out)

    def server_migrations(self, server_id):
        self.calls.append(('server_migrations', server_id))
        return iter([sdk_server_migration.ServerMigration.existing(
            server_id=server_id, **rec)
            for rec in self.live.get(server_id, [])])

    def abort_server_migration(self, mid, server, ignore_missing=True):
        self.calls.append(('abort', mid, server))
        if self.fail_abort:
            raise self.fail_abort

    def force_complete_server_migration(self, mid, server=None):
        self.calls.append(('force_complete', mid, server))

    def server_actions(self, server_id):
        self.calls.append(('server_actions', server_id))
        return iter([sdk_action.ServerAction.existing(server_id=server_id,
                                                      **a)
                     for a in self.actions.get(server_id, [])])

    def get_server_action(self, request_id, server_id, ignore_missing=True):
        self.calls.append(('get_server_action', request_id))
        a = self.action_details.get(request_id)
        if a is None:
            return None
        return sdk_action.ServerAction.existing(server_id=server_id, **a)

    def find_server(self, name_or_id, ignore_missing=True, **query):
        self.calls.append(('find_server', name_or_id))
        for server in self.servers.values():
            if name_or_id in (server.id, server.name):
                return server
        return None

    def services(self, **query):
        self.calls.append(('services', query))
        return iter([sdk_service.Service.existing(**rec)
                     for rec in self.services_list
                     if rec['binary'] == query.get('binary',
                                                   rec['binary'])])

    def count(self, name):
        return sum(1 for c in self.calls if c[0] == name)


def failed_live_migration_action(server_id, created_at, traceback=True,
                                 details=True):
    """An instance action for a failed live migration, in sample shape."""
    listed = copy.deepcopy(sample(
        'os-instance-actions/v2.84/instance-actions-list-resp.json')
        ['instanceActions'])
    listed[0].update(action='live-migration', instance_uuid=server_id,
                     start_time=created_at, message='Error')
    full = copy.deepcopy(sample(
        'os-instance-actions/v2.84/instance-action-get-resp.json')
        ['instanceAction'])
    full.update(action='live-migration', instance_uuid=server_id,
                request_id=listed[0]['request_id'], message='Error',
                start_time=created_at)
    ev = full['events'][0]
    ev.update(event='conductor_live_migrate_instance', result='Error',
              details='No valid host was found. ' if details else None,
              traceback=(
                  'Traceback (most recent call last):\n  File "x.py"\n'
                  'nova.exception.NoValidHost: No valid host was found. '
                  'There are not enough hosts available.\n')
              if traceback else None)
    return listed, full


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
                         cloud.api_version(FakeCompute('2.104')))

    def test_session_default_wins(self):
        self.assertEqual(mv.Version(2, 23), cloud.api_version(
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
