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

"""The drain policy: what happens to each server, where it may go."""


import testtools

from migrationclient.constraints import evaluate as cengine
from migrationclient.engine import drain
from migrationclient.tests.unit.engine.drain import base


class TestPlanServer(testtools.TestCase):

    def _server(self, status='ACTIVE', task=None):
        return drain.ServerInfo(id='s1', name='vm', project_id='p',
                                host='compute1', status=status,
                                task_state=task)

    def _move(self, kind, cands=('compute2',), reason=''):
        return cengine.Move('s1', kind, cands[0] if cands else None, None,
                            cands, reason)

    def test_states_without_verdict(self):
        cases = {
            'ACTIVE': (drain.LIVE, drain.PENDING),
            'PAUSED': (drain.LIVE, drain.PENDING),
            'SHUTOFF': (drain.COLD, drain.PENDING),
            'SHELVED_OFFLOADED': (drain.NONE, drain.NOTHING),
            'ERROR': (drain.SKIP, drain.SKIPPED),
            'SUSPENDED': (drain.SKIP, drain.SKIPPED),
            'RESCUE': (drain.SKIP, drain.SKIPPED),
        }
        for status, (action, state) in cases.items():
            it = drain.plan_server(self._server(status), None, base.opts())
            self.assertEqual((action, state), (it.action, it.state), status)
            self.assertTrue(it.reason, status)

    def test_task_in_progress_skipped_with_reason(self):
        it = drain.plan_server(
            self._server(
                task='rebooting'),
            None,
            base.opts())
        self.assertEqual(drain.SKIPPED, it.state)
        self.assertIn('rebooting', it.reason)

    def test_no_live(self):
        it = drain.plan_server(self._server('ACTIVE'), None,
                               base.opts(no_live=True))
        self.assertEqual(drain.COLD, it.action)
        it = drain.plan_server(self._server('PAUSED'), None,
                               base.opts(no_live=True))
        self.assertEqual(drain.SKIPPED, it.state)

    def test_move_from_constraint_library(self):
        it = drain.plan_server(self._server(), self._move(
            'cold', ('compute3',)), base.opts())
        self.assertEqual(drain.COLD, it.action)
        self.assertEqual(('compute3',), it.candidates)
        self.assertIn('cannot go live', it.reason)

    def test_no_destination(self):
        it = drain.plan_server(self._server(), self._move(
            None, (), 'sriov: SR-IOV port'), base.opts())
        self.assertEqual(drain.SKIPPED, it.state)
        self.assertTrue(it.no_destination)
        self.assertIn('SR-IOV', it.reason)

    def test_plan_order(self):
        servers = [drain.ServerInfo('a', 'z-off', 'p', 'c1', 'SHUTOFF'),
                   drain.ServerInfo('b', 'b-err', 'p', 'c1', 'ERROR'),
                   drain.ServerInfo('c', 'y-on', 'p', 'c1', 'ACTIVE')]
        items = drain.plan(servers, {}, base.opts())
        self.assertEqual(['c', 'a', 'b'], [i.id for i in items])

    def test_kinds_for(self):
        self.assertEqual(('live', 'cold'), drain.kinds_for(
            self._server('ACTIVE'), base.opts()))
        self.assertEqual(('cold',), drain.kinds_for(
            self._server('ACTIVE'), base.opts(no_live=True)))
        self.assertEqual(('cold',), drain.kinds_for(
            self._server('SHUTOFF'), base.opts()))

    def test_destination_label(self):
        it = base.item('x', candidates=('compute2', 'compute3'))
        self.assertIn('compute2, compute3', drain.destination_label(
            it, base.opts(), lambda a: True))
        self.assertEqual('scheduler', drain.destination_label(
            it, base.opts(), lambda a: False))
        self.assertEqual('scheduler', drain.destination_label(
            base.item('y'), base.opts(max_per_target=0), lambda a: True))


class TestUsableDestinations(testtools.TestCase):

    def test_unusable_hosts(self):
        found = drain.unusable_hosts([
            base.service('c1', status='disabled', reason='maintenance'),
            base.service('c2', state='down'),
            base.service('c3', forced_down=True),
            base.service('c4')])
        self.assertEqual({
            'c1': 'nova-compute is disabled (maintenance)',
            'c2': 'nova-compute is down',
            'c3': 'nova-compute is forced down'}, found)

    def test_named_candidates_lose_unusable_hosts(self):
        pool, cands, dropped = drain.usable_pool(
            ('c2', 'c3', 'c4'), ('c2', 'c3'), {'c2', 'c3', 'c4'},
            {'c3': 'nova-compute is down'})
        self.assertEqual((('c2', 'c4'), ('c2',)), (pool, cands))
        self.assertEqual({'c3': 'nova-compute is down'}, dropped)

    def test_scheduler_placement_keeps_none(self):
        pool, cands, dropped = drain.usable_pool(
            ('c2', 'c3'), None, {'c2', 'c3'}, {'c2': 'down'})
        self.assertEqual((('c3',), None, {'c2': 'down'}),
                         (pool, cands, dropped))

    def test_host_without_service_is_unusable(self):
        pool, cands, dropped = drain.usable_pool(
            ('c2', 'gone'), ('gone',), {'c2'}, {})
        self.assertEqual(((('c2',)), ()), (pool, cands))
        self.assertEqual({'gone': 'no nova-compute service'}, dropped)


class TestStateRule(testtools.TestCase):
    """The drain asks the constraint library's state rule."""

    def test_state_kinds(self):
        kinds = drain.policy.state_kinds
        self.assertEqual(('live', 'cold'), kinds('ACTIVE'))
        self.assertEqual(('live',), kinds('PAUSED'))
        self.assertEqual(('cold',), kinds('SHUTOFF'))
        for status in ('ERROR', 'SUSPENDED', 'SHELVED_OFFLOADED',
                       'VERIFY_RESIZE'):
            self.assertEqual((), kinds(status))
