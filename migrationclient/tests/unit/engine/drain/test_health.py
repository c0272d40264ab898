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

"""The control plane health gate (engine/drain/health.py)."""

import types

import testtools

from migrationclient.cloud import errors
from migrationclient.engine import drain
from migrationclient.engine.drain import health
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes


def svc(binary, state='up', host='controller'):
    return types.SimpleNamespace(binary=binary, host=host,
                                 is_up=state == 'up')


class Placement:

    def __init__(self, fail=None):
        self.fail = fail
        self.calls = 0

    def placement_answers(self):
        self.calls += 1
        if self.fail:
            raise errors.CloudError(self.fail, status=503)


class TestGate(testtools.TestCase):

    def test_healthy(self):
        actions = Placement()
        health.check(actions, [svc('nova-conductor'), svc('nova-scheduler')])
        self.assertEqual(1, actions.calls)

    def test_one_scheduler_of_three_up_is_enough(self):
        health.check(Placement(), [
            svc('nova-conductor'), svc('nova-scheduler', 'down', 'c1'),
            svc('nova-scheduler', 'up', 'c2')])

    def test_scheduler_down(self):
        exc = self.assertRaises(
            drain.DrainError, health.check, Placement(),
            [svc('nova-conductor'), svc('nova-scheduler', 'down')])
        self.assertEqual('Health gate: nova-scheduler is down on '
                         'controller. Nothing was changed.', str(exc))

    def test_every_problem_on_one_line(self):
        exc = self.assertRaises(drain.DrainError, health.check,
                                Placement('Service Unavailable'),
                                [svc('nova-scheduler')])
        self.assertIn('no nova-conductor service is listed', str(exc))
        self.assertIn('Placement does not answer (Service Unavailable)',
                      str(exc))
        self.assertNotIn('\n', str(exc))


class TestJobGate(testtools.TestCase):

    def test_refused_by_prepare_before_any_change(self):
        nova = fakes.FakeNova()
        nova.down.add('nova-conductor')
        nova.disable_service = lambda *a, **k: self.fail('disabled')
        job = drain.Job(nova, None, ['compute1'], base.opts(),
                        report_path='/nonexistent/dir/r.json')
        job._servers_on = lambda host: []
        exc = self.assertRaises(drain.DrainError, job.prepare)
        self.assertIn('nova-conductor is down on controller', str(exc))

    def test_one_services_request(self):
        nova = fakes.FakeNova()
        job = drain.Job(nova, None, ['compute1'], base.opts())
        job._servers_on = lambda host: []
        job.prepare()
        self.assertEqual(1, nova.count('services'))
