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

"""Done means re-listed; --enable-when-done (engine/drain/finish.py)."""

import types

import testtools

from migrationclient.cloud import errors
from migrationclient.engine import drain
from migrationclient.engine.drain import finish
from migrationclient.engine import report as report_mod
from migrationclient import exitcodes
from migrationclient.tests.unit.engine.drain import base


def server(sid, host='compute1', status='ACTIVE'):
    return types.SimpleNamespace(id=sid, name=sid, project_id='p',
                                 compute_host=host, status=status,
                                 task_state=None)


class Actions:

    def __init__(self, on_host, services=(), fail=False):
        self.on_host = on_host
        self.services = list(services)
        self.fail = fail
        self.listed = []
        self.enabled = []

    def servers_on_host(self, host):
        self.listed.append(host)
        if self.fail:
            raise errors.CloudError('Service Unavailable', status=503)
        return self.on_host.get(host, [])

    def compute_services(self):
        return self.services

    service_of = staticmethod(drain.Actions.service_of)

    def enable_service(self, svc):
        self.enabled.append(svc.host)


class FakeJob:

    def __init__(self, actions, items, hosts=('compute1',), enable=False):
        self.actions = actions
        self.hosts = list(hosts)
        self.notes = []
        self.enable_when_done = enable
        self.saved = []
        self.drain = types.SimpleNamespace(
            items=items, save=lambda final_state=None: self.saved.append(
                final_state))


def done_item(sid):
    i = base.item(sid)
    i.state = drain.DONE
    return i


class TestRelist(testtools.TestCase):

    def test_one_request_per_host(self):
        actions = Actions({})
        job = FakeJob(actions, [done_item('a')], hosts=('c1', 'c2'))
        self.assertEqual(exitcodes.OK, finish.done(job, {}, exitcodes.OK))
        self.assertEqual(['c1', 'c2'], actions.listed)

    def test_appeared_server_is_reported_and_status_not_0(self):
        items = [done_item('a')]
        job = FakeJob(Actions({'compute1': [server('new')]}), items)
        report = {'notes': []}
        status = finish.done(job, report, exitcodes.OK)
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, status)
        self.assertEqual(['a', 'new'], [i.id for i in items])
        self.assertEqual(drain.APPEARED, items[1].state)
        self.assertIn('appeared on compute1', items[1].reason)
        self.assertEqual(['incomplete'], job.saved)
        self.assertEqual([items[1]], drain.remaining(items))

    def test_moved_server_back_on_host(self):
        items = [done_item('a')]
        job = FakeJob(Actions({'compute1': [server('a')]}), items)
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE,
                         finish.done(job, {}, exitcodes.OK))
        self.assertEqual(drain.APPEARED, items[0].state)
        self.assertIn('back on compute1', items[0].reason)

    def test_failed_server_still_there_keeps_its_state(self):
        failed = base.item('a')
        failed.state = drain.FAILED
        job = FakeJob(Actions({'compute1': [server('a')]}), [failed])
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE,
                         finish.done(job, {}, exitcodes.DRAIN_INCOMPLETE))
        self.assertEqual(drain.FAILED, failed.state)

    def test_shelved_offloaded_is_not_on_the_host(self):
        job = FakeJob(Actions({'compute1': [
            server('s', status='SHELVED_OFFLOADED')]}), [])
        self.assertEqual(exitcodes.OK, finish.done(job, {}, exitcodes.OK))

    def test_relist_failure_is_not_done(self):
        job = FakeJob(Actions({}, fail=True), [done_item('a')])
        report = {}
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE,
                         finish.done(job, report, exitcodes.OK))
        self.assertIn('cannot list the drained hosts again',
                      report['notes'][0])


class TestEnableWhenDone(testtools.TestCase):

    def run_done(self, reason, entry, on_host=None):
        svc = base.service('compute1', status='disabled', reason=reason)
        actions = Actions(on_host or {}, services=[svc])
        job = FakeJob(actions, [done_item('a')], enable=True)
        report = report_mod.new_report('drain', ['compute1'], {})
        report.update(id='r1', service={'compute1': entry})
        status = finish.done(job, report, exitcodes.OK)
        return status, actions, report

    def test_our_claim_enabled(self):
        status, actions, report = self.run_done(
            '[drain:r1] m', {'disabled_by_drain': True})
        self.assertEqual(exitcodes.OK, status)
        self.assertEqual(['compute1'], actions.enabled)
        self.assertTrue(report['service']['compute1']['enabled_when_done'])

    def test_disabled_again_for_another_reason_left_alone(self):
        status, actions, report = self.run_done(
            'disk failure', {'disabled_by_drain': True})
        self.assertEqual(exitcodes.OK, status)
        self.assertEqual([], actions.enabled)
        self.assertIn('left disabled: disabled by someone else',
                      report['notes'][-1])

    def test_disabled_before_the_drain_left_alone(self):
        status, actions, _r = self.run_done(
            '[drain:r1] RMA', {'disabled_by_drain': False})
        self.assertEqual([], actions.enabled)

    def test_not_empty_left_disabled(self):
        status, actions, _r = self.run_done(
            '[drain:r1] m', {'disabled_by_drain': True},
            on_host={'compute1': [server('new')]})
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, status)
        self.assertEqual([], actions.enabled)
