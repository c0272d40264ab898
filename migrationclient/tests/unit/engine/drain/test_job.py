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

"""Jobs: reports to continue from, the gate, services, aggregates."""

import os
import types

import fixtures
from openstack import exceptions as sdk_exc
import testtools

from migrationclient.engine import drain
from migrationclient.engine.drain import previous
from migrationclient.engine import report as report_mod
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes


class TestJobReports(testtools.TestCase):
    """Which report a drain continues from (resume / rerun / archive)."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable('XDG_STATE_HOME',
                                                     self.dir))

    def job(self, hosts=('compute1',), **kw):
        return drain.Job(None, None, list(hosts), base.opts(), **kw)

    def write(self, state='interrupted', hosts=('compute1',), path=None):
        data = report_mod.new_report('drain', list(hosts), {})
        data['state'] = state
        path = path or report_mod.default_path(list(hosts))
        report_mod.write_atomic(path, data)
        return path

    def test_rerun_continues_unfinished_report(self):
        self.write('interrupted')
        job = self.job()
        self.assertEqual('interrupted', job._load_previous(False)['state'])

    def test_complete_report_is_archived(self):
        path = self.write('complete')
        with open(path) as stream:
            before = stream.read()
        job = self.job()
        self.assertIsNone(job._load_previous(False))
        # Planning (--dry-run stops there) changes no file.
        self.assertEqual(['drain-compute1.json'],
                         os.listdir(os.path.dirname(path)))
        with open(path) as stream:
            self.assertEqual(before, stream.read())
        self.assertEqual([], job.notes)
        self.assertEqual([path], job.complete_reports)
        # The job archives it when it runs.
        previous.archive_complete(path, job.notes)
        self.assertFalse(os.path.exists(path))
        self.assertEqual(1, len(job.notes))
        archived = os.listdir(os.path.dirname(path))
        self.assertEqual(1, len(archived))
        self.assertTrue(archived[0].startswith('drain-compute1-'))

    def test_execute_archives_complete_report_first(self):
        path = self.write('complete')
        nova = fakes.FakeNova()

        def disable_service(*args, **kwargs):
            raise sdk_exc.HttpException('Service Unavailable',
                                        http_status=503)
        nova.disable_service = disable_service
        job = drain.Job(nova, None, ['compute1'], base.opts())
        self.assertIsNone(job._load_previous(False))
        job.services = {'compute1': base.service('compute1')}
        job.items = [base.item('a')]
        self.assertRaises(drain.DrainError, job.execute)
        names = sorted(os.listdir(os.path.dirname(path)))
        self.assertEqual(2, len(names))
        self.assertEqual('drain-compute1.json', names[1])
        self.assertTrue(names[0].startswith('drain-compute1-2'))
        self.assertEqual('incomplete', report_mod.load(path)['state'])
        self.assertIn('previous complete report kept as', job.notes[0])

    def test_resume_of_other_hosts_refused(self):
        path = self.write(hosts=('compute2',), path=os.path.join(
            self.dir, 'r.json'))
        job = self.job(resume=path)
        exc = self.assertRaises(drain.DrainError, job._load_previous, False)
        self.assertIn('compute2', str(exc))

    def test_explicit_report_of_other_job_refused(self):
        path = self.write(hosts=('compute2',), path=os.path.join(
            self.dir, 'r.json'))
        job = self.job(report_path=path)
        self.assertRaises(drain.DrainError, job._load_previous, True)

    def test_corrupt_report(self):
        path = os.path.join(self.dir, 'bad.json')
        with open(path, 'w') as stream:
            stream.write('[')
        job = self.job(resume=path)
        exc = self.assertRaises(drain.DrainError, job._load_previous, False)
        self.assertIn('not valid JSON', str(exc))

    def test_gate(self):
        job = self.job()
        blocked = base.item('x', action=drain.SKIP)
        blocked.state, blocked.no_destination = drain.SKIPPED, True
        blocked.reason = 'no destination can take it: sriov'
        job.items = [blocked, base.item('y')]
        exc = self.assertRaises(drain.DrainError, job._gate)
        self.assertIn('--allow-partial', str(exc))
        job.options.allow_partial = True
        job._gate()

    def test_target_aggregate_hosts(self):
        compute = types.SimpleNamespace(
            find_aggregate=lambda name, ignore_missing: types.SimpleNamespace(
                hosts=['compute1', 'compute3']))
        job = drain.Job(compute, None, ['compute1'], base.opts())
        self.assertEqual(['compute3'], job._aggregate_hosts('agg'))

        def missing(name, ignore_missing):
            raise sdk_exc.NotFoundException('no such aggregate')
        job.actions = drain.Actions(
            types.SimpleNamespace(find_aggregate=missing))
        exc = self.assertRaises(drain.DrainError, job._aggregate_hosts,
                                'agg')
        self.assertIn('No aggregate named agg', str(exc))

    def test_unwritable_report_changes_nothing(self):
        path = os.path.join(self.dir, 'plainfile')
        with open(path, 'w') as stream:
            stream.write('x')
        job = self.job(report_path=os.path.join(path, 'r.json'))
        job.items = [base.item('a')]
        # compute is None: any cloud call would raise AttributeError.
        exc = self.assertRaises(drain.DrainError, job.execute)
        self.assertIn('Cannot write the report', str(exc))
        self.assertIn('plainfile', str(exc))


def conn(auth_url='http://ks.example:5000/v3', region='RegionOne'):
    config = types.SimpleNamespace(
        get_auth_args=lambda: {'auth_url': auth_url}, region_name=region,
        name='c')
    return types.SimpleNamespace(config=config)


class TestCloudKeyedReports(testtools.TestCase):
    """The default report is keyed by the cloud; earlier ones still found."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable('XDG_STATE_HOME',
                                                     self.dir))
        self.nova = fakes.FakeNova()
        self.nova.add('a')

    def job(self, **kw):
        return drain.Job(self.nova, kw.pop('conn', conn()), ['compute1'],
                         base.opts(), **kw)

    def write(self, path, state='interrupted', servers=('a',)):
        data = report_mod.new_report('drain', ['compute1'], {})
        data['state'] = state
        data['servers'] = [base.item(s).to_dict() for s in servers]
        report_mod.write_atomic(path, data)

    def test_two_clouds_two_paths(self):
        one, two = self.job(), self.job(conn=conn(region='RegionTwo'))
        self.assertNotEqual(one.report_path, two.report_path)
        for job in (one, two):
            self.assertTrue(job.report_path.startswith(
                os.path.join(self.dir, 'migrationclient', 'clouds',
                             'ks.example_5000-Region')), job.report_path)
            self.assertTrue(job.report_path.endswith('/drain-compute1.json'))
        self.write(one.report_path)
        self.assertIsNotNone(one._load_previous(False))
        self.assertIsNone(two._load_previous(False))
        self.assertEqual([], two.notes)

    def test_continuing_a_default_report_is_said_once(self):
        job = self.job()
        self.write(job.report_path)
        self.assertEqual('interrupted', job._load_previous(False)['state'])
        self.assertEqual(1, len(job.notes))
        self.assertIn('continuing the drain recorded in %s' %
                      job.report_path, job.notes[0])
        # Not for --report FILE or --resume FILE: the user named it.
        named = self.job(report_path=job.report_path)
        named._load_previous(True)
        self.assertEqual([], named.notes)

    def test_report_of_an_earlier_version_is_continued(self):
        legacy = report_mod.legacy_path(['compute1'])
        self.write(legacy)
        job = self.job()
        data = job._load_previous(False)
        self.assertEqual('interrupted', data['state'])
        self.assertEqual(legacy, job.legacy_report)
        self.assertNotEqual(legacy, job.report_path)
        self.assertIn('by an earlier version', job.notes[0])
        self.assertIn(job.report_path, job.notes[0])
        self.assertTrue(os.path.exists(legacy))     # nothing moved yet
        # When it runs: the new report is written, the old one put aside.
        report = {'notes': []}
        previous.retire_legacy(job, report)
        self.assertFalse(os.path.exists(legacy))
        self.assertEqual(1, len(report['notes']))
        kept = [n for n in os.listdir(os.path.dirname(legacy))
                if n.startswith('drain-compute1-')]
        self.assertEqual(1, len(kept))

    def test_earlier_report_of_another_cloud_is_left_alone(self):
        legacy = report_mod.legacy_path(['compute1'])
        self.write(legacy, servers=('elsewhere',))
        job = self.job()
        self.assertIsNone(job._load_previous(False))
        self.assertIsNone(job.legacy_report)
        self.assertEqual([], job.notes)

    def test_no_cloud_known_keeps_the_host_only_path(self):
        job = self.job(conn=None)
        self.assertEqual(report_mod.legacy_path(['compute1']),
                         job.report_path)


class TestNoDestinationAtAll(testtools.TestCase):

    def test_every_movable_server_is_skipped(self):
        job = drain.Job(None, None, ['compute1'],
                        base.opts(allow_partial=True))
        job.dest_hosts = ()
        servers = [drain.ServerInfo('a', 'a', 'p', 'compute1', 'ACTIVE'),
                   drain.ServerInfo('b', 'b', 'p', 'compute1', 'SHUTOFF'),
                   drain.ServerInfo('c', 'c', 'p', 'compute1', 'ERROR')]
        items = drain.plan(servers, job._moves(servers), job.options)
        by_id = {i.id: i for i in items}
        for sid in ('a', 'b'):
            self.assertEqual(drain.SKIPPED, by_id[sid].state)
            self.assertTrue(by_id[sid].no_destination)
            self.assertIn('no enabled and up', by_id[sid].reason)
        self.assertFalse(by_id['c'].no_destination)


class TestDisableFailure(testtools.TestCase):

    def test_report_says_nothing_started(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        nova = fakes.FakeNova()

        def disable_service(*args, **kwargs):
            raise sdk_exc.HttpException('Service Unavailable',
                                        http_status=503)
        nova.disable_service = disable_service
        path = os.path.join(tmp, 'r.json')
        job = drain.Job(nova, None, ['compute1'], base.opts(),
                        report_path=path)
        job.services = {'compute1': base.service('compute1')}
        job.items = [base.item('a')]
        exc = self.assertRaises(drain.DrainError, job.execute)
        self.assertIn('Could not disable nova-compute on compute1', str(exc))
        data = report_mod.load(path)
        self.assertEqual('incomplete', data['state'])
        self.assertEqual([('not-started', str(exc))],
                         [(e['state'], e['error']) for e in data['servers']])


class TestCapacityPlanOfTheJob(testtools.TestCase):
    """prepare(): one plan for every drained host, applied to the items."""

    def test_plan_applied_and_replanner(self):
        from migrationclient.engine.drain import replan
        from migrationclient.tests.unit.engine.drain import test_fleetplan
        job = drain.Job(None, None, ['src1', 'src2'], base.opts())
        self.assertIsNone(job._replanner())         # no plan: no re-plan
        job._plan_capacity()
        self.assertIsNone(job.capacity)
        job.snapshot = test_fleetplan.fleet()
        job.items = test_fleetplan.items_of(job.snapshot)
        job.dest_hosts = ('dst1', 'dst2')
        job.can_name_host = lambda action: True
        job._plan_capacity()
        self.assertFalse(job.capacity.feasible)
        self.assertEqual(['srv-04'], [i.id for i in job.items
                                      if i.no_destination])
        exc = self.assertRaises(drain.PlanInfeasible, job._gate)
        self.assertEqual(12, exc.exit_status)
        self.assertIsInstance(job._replanner(), replan.Replanner)
        self.assertEqual(['src1', 'src2'], job._replanner().drained)
