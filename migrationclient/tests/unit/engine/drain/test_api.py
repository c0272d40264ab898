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

"""The drain's entry points for non-CLI callers (engine/drain/api.py)."""

from unittest import mock

import fixtures
import testtools

from migrationclient.cloud import errors as cloud_errors
from migrationclient.cloud import services
from migrationclient.engine.drain import api
from migrationclient.engine.drain import model
from migrationclient.engine import report as report_mod


def svc(host, status='enabled', state='up', reason=None):
    return services.ComputeService(id=host, host=host, status=status,
                                   state=state, forced_down=False,
                                   disabled_reason=reason, zone='nova')


class FakeActions:
    """The few :class:`cloud.actions.Actions` calls api.py makes."""

    def __init__(self, svcs, key='c0ffee'):
        self.svcs = {s.host: s for s in svcs}
        self.key = key
        self.enabled = []
        self.lists = 0

    def compute_services(self):
        self.lists += 1
        return list(self.svcs.values())

    @staticmethod
    def service_of(svcs, host):
        for s in svcs:
            if s.host == host:
                return s
        raise cloud_errors.NotFound('No nova-compute service on %s' % host)

    def enable_service(self, service):
        self.enabled.append(service.host)
        self.svcs[service.host] = svc(service.host)
        return self.svcs[service.host]

    def cloud(self):
        return mock.Mock(key=self.key)


class ApiTestCase(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable('XDG_STATE_HOME',
                                                     self.dir))

    def actions(self, *svcs):
        fake = FakeActions(svcs)
        self.useFixture(fixtures.MockPatch(
            'migrationclient.cloud.actions.Actions', return_value=fake))
        return fake

    def drain_report(self, rid, host='compute1', by_drain=True):
        data = report_mod.new_report('drain', [host], {})
        data['id'] = rid
        data['service'] = {host: {'disabled_by_drain': by_drain,
                                  'reason': '[drain:%s] x' % rid}}
        path = report_mod.default_path([host], 'drain', 'c0ffee')
        report_mod.write_atomic(path, data)
        return path


class TestOptions(testtools.TestCase):

    def test_defaults_are_the_drains(self):
        self.assertEqual(model.Options(), api.options())
        opts = api.options(max_parallel=4, target_hosts=['c2'],
                           stuck_after=None, timeout=None)
        self.assertEqual((4, ('c2',), None), (opts.max_parallel,
                                              opts.target_hosts,
                                              opts.stuck_after))

    def test_refusals(self):
        for kw, words in ((dict(max_parallel=0), 'max_parallel'),
                          (dict(max_per_target=-1), 'max_per_target'),
                          (dict(max_failures=-1), 'max_failures'),
                          (dict(on_stuck='pray'), 'on_stuck'),
                          (dict(timeout=0), 'timeout'),
                          (dict(speed=3), 'unknown drain option(s): speed')):
            err = self.assertRaises(model.DrainError, api.options, **kw)
            self.assertIn(words, str(err))

    def test_disable_reason_leaves_room_for_the_claim(self):
        api.check_reason(None)
        api.check_reason('x' * api.claim.MAX_TEXT_LENGTH)
        for text in ('', 'x' * (api.claim.MAX_TEXT_LENGTH + 1)):
            self.assertRaises(model.DrainError, api.check_reason, text)


class TestRows(testtools.TestCase):

    def item(self, sid, state, action=model.LIVE, **kw):
        return model.Item(id=sid, name='n-' + sid, project_id='p',
                          original_host='compute1', original_status='ACTIVE',
                          action=action, state=state, reason='why ' + sid,
                          **kw)

    def test_left_and_plan(self):
        items = [self.item('a', model.DONE),
                 self.item('b', model.FAILED, error='No valid host'),
                 self.item('c', model.SKIPPED, action=model.SKIP),
                 self.item('d', model.NOTHING, action=model.NONE),
                 self.item('e', model.PENDING)]
        self.assertEqual(
            [{'server': 'b', 'name': 'n-b', 'host': 'compute1',
              'state': 'failed', 'reason': 'No valid host'},
             {'server': 'c', 'name': 'n-c', 'host': 'compute1',
              'state': 'skipped', 'reason': 'why c'},
             {'server': 'e', 'name': 'n-e', 'host': 'compute1',
              'state': 'pending', 'reason': 'why e'}],
            api.left_rows(items))
        job = mock.Mock()
        job.label.return_value = 'scheduler'
        rows = api.plan_rows(job, items)
        self.assertEqual(['b', 'c', 'd', 'e'], [r['server'] for r in rows])
        self.assertEqual({'server': 'e', 'name': 'n-e', 'project': 'p',
                          'host': 'compute1', 'action': 'live',
                          'destination': 'scheduler', 'reason': 'why e'},
                         rows[-1])


class TestEnabled(ApiTestCase):

    def test_enabled_host_is_not_changed(self):
        fake = self.actions(svc('compute1'))
        out = api.enabled(None, None, ['compute1'])
        self.assertFalse(out.changed)
        self.assertEqual([], fake.enabled)

    def test_own_claim_is_enabled_check_mode_changes_nothing(self):
        path = self.drain_report('abc123abc123')
        fake = self.actions(svc('compute1', 'disabled',
                                reason='[drain:abc123abc123] x'))
        out = api.enabled(None, None, ['compute1'], check=True)
        self.assertTrue(out.changed)
        self.assertEqual(path, out.report_path)
        self.assertEqual([], fake.enabled)
        out = api.enabled(None, None, ['compute1'])
        self.assertTrue(out.changed)
        self.assertEqual(['compute1'], fake.enabled)
        self.assertEqual('abc123abc123', out.report['id'])

    def test_someone_elses_disable_is_refused(self):
        self.drain_report('abc123abc123')
        for reason, words in (
                ('rack 4 power', 'disabled by someone else'),
                ('[drain:fedcba987654] other', 'claimed by drain '
                 'fedcba987654')):
            fake = self.actions(svc('compute1', 'disabled', reason=reason))
            err = self.assertRaises(model.DrainError, api.enabled, None,
                                    None, ['compute1'])
            self.assertIn('nova-compute on compute1 is not enabled: %s'
                          % words, str(err))
            self.assertIn('Nothing was changed', str(err))
            self.assertEqual([], fake.enabled)

    def test_no_report_means_not_ours(self):
        fake = self.actions(svc('compute1', 'disabled', reason='[drain:'
                                'abc123abc123] x'))
        self.assertRaises(model.DrainError, api.enabled, None, None,
                          ['compute1'])
        self.assertEqual([], fake.enabled)

    def test_several_hosts_all_checked_before_any_change(self):
        self.drain_report('abc123abc123', host='compute1+compute2')
        fake = self.actions(
            svc('compute1', 'disabled', reason='[drain:abc123abc123] x'),
            svc('compute2', 'disabled', reason='maintenance'))
        self.assertRaises(model.DrainError, api.enabled, None, None,
                          ['compute1', 'compute2'])
        self.assertEqual([], fake.enabled)


class TestWaitUp(ApiTestCase):

    def test_waits_until_up_then_times_out(self):
        fake = self.actions(svc('compute1', state='down'))
        now = [0.0]

        def sleep(seconds):
            now[0] += seconds
            if now[0] >= 6:
                fake.svcs['compute1'] = svc('compute1')
        api.wait_up(None, None, ['compute1'], 60, interval=2,
                    clock=lambda: now[0], sleep=sleep)
        self.assertEqual(4, fake.lists)

        fake.svcs['compute1'] = svc('compute1', state='down')
        now[0] = -100.0
        err = self.assertRaises(model.DrainError, api.wait_up, None, None,
                                ['compute1'], 10, interval=2,
                                clock=lambda: now[0],
                                sleep=lambda s: now.__setitem__(
                                    0, now[0] + s))
        self.assertEqual('nova-compute on compute1 not up after 10s',
                         str(err))


class FakeJob:
    """A prepared Job / RestoreJob: its items and services, no cloud."""

    made = []
    capacity = None

    def __init__(self, compute, conn, hosts_or_report, opts, **kwargs):
        self.kwargs = kwargs
        self.report_path = kwargs.get('report_path') or '/r/drain.json'
        self.items = list(FakeJob.items)
        self.services = dict(FakeJob.services)
        self.notes = ['a note']
        self.executed = False
        self.drain = None
        self.capacity = FakeJob.capacity
        FakeJob.made.append(self)

    def prepare(self, explicit_report=False):
        return self.items

    def label(self, item):
        return 'scheduler'

    def execute(self):
        self.executed = True
        for item in self.items:
            if item.state == model.PENDING:
                item.state = model.DONE
        self.drain = mock.Mock(items=self.items, report={'id': 'r1'})
        return 0


class TestDesiredStates(ApiTestCase):

    def setUp(self):
        super().setUp()
        FakeJob.made = []
        self.useFixture(fixtures.MockPatchObject(api, 'Job', FakeJob))
        self.useFixture(fixtures.MockPatchObject(api, 'RestoreJob', FakeJob))

    def item(self, state, action=model.LIVE):
        return model.Item(id='s-' + state, name='n', project_id='p',
                          original_host='compute1', original_status='ACTIVE',
                          action=action, state=state, reason='r')

    def drained(self, items, status, check=False, **kw):
        FakeJob.items = items
        FakeJob.services = {'compute1': svc('compute1', status)}
        return api.drained(None, None, ['compute1'], model.Options(),
                           check=check, **kw)

    def test_enabled_host_with_servers_is_drained(self):
        out = self.drained([self.item(model.PENDING)], 'enabled')
        self.assertTrue(out.changed)
        self.assertTrue(FakeJob.made[0].executed)
        self.assertEqual([], out.left)
        self.assertEqual({'id': 'r1'}, out.report)

    def test_check_mode_plans_and_changes_nothing(self):
        out = self.drained([self.item(model.PENDING),
                            self.item(model.SKIPPED, model.SKIP)],
                           'enabled', check=True)
        self.assertTrue(out.changed)
        self.assertFalse(FakeJob.made[0].executed)
        self.assertEqual(['s-pending', 's-skipped'],
                         [r['server'] for r in out.plan])
        self.assertEqual(['s-skipped'], [r['server'] for r in out.left])
        self.assertIsNone(out.report)
        self.assertIsNone(out.capacity)

    def test_check_mode_returns_the_capacity_plan(self):
        plan = mock.Mock()
        plan.to_dict.return_value = {'feasible': True, 'destinations': {}}
        self.useFixture(fixtures.MockPatchObject(FakeJob, 'capacity', plan))
        out = self.drained([self.item(model.PENDING)], 'enabled', check=True)
        self.assertEqual({'feasible': True, 'destinations': {}},
                         out.capacity)
        self.assertEqual(out.capacity, out.to_dict()['capacity'])

    def test_drained_host_is_left_alone(self):
        for items in ([], [self.item(model.DONE)],
                      [self.item(model.NOTHING, model.NONE)]):
            out = self.drained(items, 'disabled')
            self.assertFalse(out.changed)
            self.assertFalse(FakeJob.made[-1].executed)

    def test_disabled_host_with_servers_is_drained(self):
        out = self.drained([self.item(model.PENDING)], 'disabled')
        self.assertTrue(out.changed)
        self.assertTrue(FakeJob.made[0].executed)

    def test_enable_when_done_empty_enabled_host_is_left_alone(self):
        out = self.drained([], 'enabled', enable_when_done=True)
        self.assertFalse(out.changed)
        self.assertFalse(FakeJob.made[0].executed)

    def test_servers_left_are_returned(self):
        out = self.drained([self.item(model.SKIPPED, model.SKIP)],
                           'disabled')
        self.assertTrue(out.changed)
        self.assertEqual(['s-skipped'], [r['server'] for r in out.left])

    def test_restored_only_when_something_to_move_or_enable(self):
        FakeJob.items = [self.item(model.NOTHING, model.NONE)]
        FakeJob.services = {'compute1': svc('compute1')}
        out = api.restored(None, None, '/r/drain.json', model.Options())
        self.assertFalse(out.changed)
        self.assertFalse(FakeJob.made[-1].executed)
        FakeJob.services = {'compute1': svc('compute1', 'disabled')}
        out = api.restored(None, None, '/r/drain.json', model.Options())
        self.assertTrue(out.changed)
        self.assertTrue(FakeJob.made[-1].executed)
        FakeJob.items = [self.item(model.PENDING)]
        FakeJob.services = {'compute1': svc('compute1')}
        out = api.restored(None, None, '/r/drain.json', model.Options(),
                           check=True)
        self.assertTrue(out.changed)
        self.assertFalse(FakeJob.made[-1].executed)


class SSHJob(FakeJob):
    """A FakeJob whose plan read hosts over SSH (``job.ssh_reach``)."""

    reach = ((), ())

    def prepare(self, explicit_report=False):
        # what fleetplan.with_host_facts leaves on a job with ssh_options
        self.prepared_with = self.ssh_options
        self.ssh_reach = SSHJob.reach
        return self.items


class TestDrainedWithHostFacts(ApiTestCase):
    """``ssh_options``: ``compute drain --ssh`` for the collection."""

    item = TestDesiredStates.item

    def setUp(self):
        super().setUp()
        FakeJob.made = []
        self.useFixture(fixtures.MockPatchObject(api, 'Job', SSHJob))
        self.useFixture(fixtures.MockPatchObject(SSHJob, 'reach', ((), ())))
        self.ssh = mock.Mock(name='SSHOptions')
        self.limits = []

    def read_limits(self, job, ssh_options):
        self.limits.append((job, ssh_options))
        return ['compute1: nova.conf: no max_concurrent_live_migrations'], [
            'compute1: 1 live migration(s) at a time (nova.conf)']

    def drained(self, items, status, check=False, **kw):
        FakeJob.items = items
        FakeJob.services = {'compute1': svc('compute1', status)}
        return api.drained(None, None, ['compute1'], model.Options(),
                           check=check, read_limits=self.read_limits, **kw)

    def test_the_plan_rests_on_host_facts_and_the_live_limits(self):
        SSHJob.reach = (('compute1', 'compute2'), ('compute1',))
        out = self.drained([self.item(model.PENDING)], 'enabled',
                           check=True, ssh_options=self.ssh)
        job = FakeJob.made[0]
        self.assertIs(self.ssh, job.prepared_with)
        self.assertEqual([(job, self.ssh)], self.limits)
        self.assertFalse(job.executed)
        self.assertEqual(['s-pending'], [r['server'] for r in out.plan])
        self.assertIn('compute1: 1 live migration(s) at a time (nova.conf)',
                      out.notes)
        self.assertIn('compute1: nova.conf: no '
                      'max_concurrent_live_migrations', out.notes)

    def test_no_host_read_changes_nothing(self):
        SSHJob.reach = (('compute1', 'compute2'), ())
        for check in (True, False):
            err = self.assertRaises(
                api.NoHostFacts, self.drained, [self.item(model.PENDING)],
                'enabled', check=check, ssh_options=self.ssh)
            self.assertIsInstance(err, model.DrainError)
            self.assertEqual(
                'SSH: none of the 2 compute host(s) could be read '
                '(compute1, compute2); nothing changed (ssh.optional drains '
                'on the API facts alone)', str(err))
            self.assertEqual(11, err.exit_status)
            self.assertFalse(FakeJob.made[-1].executed)
        self.assertEqual([], self.limits)

    def test_optional_drains_on_the_api_facts(self):
        SSHJob.reach = (('compute1', 'compute2'), ())
        out = self.drained([self.item(model.PENDING)], 'enabled',
                           ssh_options=self.ssh, ssh_optional=True)
        self.assertTrue(FakeJob.made[0].executed)
        self.assertTrue(out.changed)
        self.assertIn('SSH: none of the 2 compute host(s) could be read; the '
                      'plan rests on the API facts alone', out.notes)

    def test_without_ssh_nothing_is_read(self):
        SSHJob.reach = (('compute1',), ())
        self.drained([self.item(model.PENDING)], 'enabled', check=True)
        self.assertIsNone(FakeJob.made[0].prepared_with)
        self.assertEqual([], self.limits)
