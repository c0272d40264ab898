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

"""The drain claim (engine/drain/claim.py) and where it is honoured."""

import os
import types

import fixtures
import testtools

from migrationclient.cloud import services as services_mod
from migrationclient.engine import drain
from migrationclient.engine.drain import claim
from migrationclient.engine import report as report_mod
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes


class TestMarker(testtools.TestCase):

    def test_marker_first_operator_text_whole(self):
        text = 'x' * claim.MAX_TEXT_LENGTH
        reason = claim.reason('0123456789ab', text)
        self.assertEqual(services_mod.MAX_REASON_LENGTH, len(reason))
        self.assertTrue(reason.startswith('[drain:0123456789ab] '))
        self.assertTrue(reason.endswith(text))
        self.assertEqual('0123456789ab', claim.owner(reason))

    def test_owner_of_plain_reason_is_none(self):
        self.assertIsNone(claim.owner('hardware fault'))
        self.assertIsNone(claim.owner(None))
        self.assertEqual('abc', claim.owner('RMA [drain:abc] later'))

    def test_report_id_kept_or_given(self):
        report = {'id': 'abc'}
        self.assertEqual('abc', claim.report_id(report))
        old = {}
        rid = claim.report_id(old)
        self.assertEqual(claim.ID_LENGTH, len(rid))
        self.assertEqual(rid, old['id'])


class TestRefuseClaimed(testtools.TestCase):

    def test_other_drain_named(self):
        svc = base.service('compute1', status='disabled',
                           reason='[drain:first1] rack 4')
        exc = self.assertRaises(drain.DrainError, claim.refuse_claimed,
                                [svc], {'second'})
        self.assertIn('claimed by drain first1', str(exc))
        self.assertIn('Nothing was changed', str(exc))

    def test_own_claim_goes_on(self):
        svc = base.service('compute1', status='disabled',
                           reason='[drain:mine] rack 4')
        claim.refuse_claimed([svc], {'mine'})

    def test_disabled_without_claim_goes_on(self):
        svc = base.service('compute1', status='disabled', reason='RMA')
        claim.refuse_claimed([svc], set())


class TestMayEnable(testtools.TestCase):

    def test_only_our_claim_and_our_disable(self):
        ours = base.service('c', status='disabled', reason='[drain:r1] m')
        entry = {'disabled_by_drain': True, 'reason': '[drain:r1] m'}
        self.assertEqual((True, None), claim.may_enable(ours, 'r1', entry))
        other = base.service('c', status='disabled', reason='[drain:r2] m')
        yes, why = claim.may_enable(other, 'r1', entry)
        self.assertFalse(yes)
        self.assertIn('claimed by drain r2', why)
        plain = base.service('c', status='disabled', reason='RMA')
        yes, why = claim.may_enable(plain, 'r1', entry)
        self.assertFalse(yes)
        self.assertIn('another reason (RMA)', why)

    def test_disabled_before_the_drain_never(self):
        svc = base.service('c', status='disabled', reason='[drain:r1] RMA')
        yes, why = claim.may_enable(svc, 'r1', {'disabled_by_drain': False,
                                                'reason': 'RMA'})
        self.assertFalse(yes)
        self.assertIn('disabled before the drain (RMA)', why)

    def test_report_without_id_matches_its_reason(self):
        svc = base.service('c', status='disabled', reason='old drain')
        entry = {'disabled_by_drain': True, 'reason': 'old drain'}
        self.assertTrue(claim.may_enable(svc, None, entry)[0])
        svc = base.service('c', status='disabled', reason='changed')
        self.assertFalse(claim.may_enable(svc, None, entry)[0])


class TestClaimedHostIsNoDestination(testtools.TestCase):

    def test_unusable(self):
        out = drain.unusable_hosts([
            base.service('compute2', status='disabled',
                         reason='[drain:other] rack 4'),
            base.service('compute3')])
        self.assertEqual({'compute2': 'claimed by drain other'}, out)

    def test_named_target_claimed_refused(self):
        nova = fakes.FakeNova()
        nova.disabled['compute2'] = '[drain:other] rack 4'
        job = drain.Job(nova, None, ['compute1'],
                        base.opts(target_hosts=('compute2',)))
        exc = self.assertRaises(drain.DrainError, job.prepare)
        self.assertIn('target compute2 is not usable: claimed by drain '
                      'other', str(exc))

    def test_claimed_host_not_in_pool(self):
        nova = fakes.FakeNova()
        nova.disabled['compute2'] = '[drain:other] rack 4'
        job = drain.Job(nova, None, ['compute1'], base.opts())
        self.assertEqual(('compute3',),
                         job._destinations(job._services()))


class TestJobClaims(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable('XDG_STATE_HOME',
                                                     self.dir))
        self.nova = fakes.FakeNova()
        self.put = []

        def disable_service(sid, host=None, binary=None,
                            disabled_reason=None):
            self.put.append((host, disabled_reason))
            self.nova.disabled[host] = disabled_reason
        self.nova.disable_service = disable_service

    def test_second_drain_refused_naming_first(self):
        self.nova.disabled['compute1'] = '[drain:first1] rack 4'
        job = drain.Job(self.nova, None, ['compute1'], base.opts())
        exc = self.assertRaises(drain.DrainError, job.prepare)
        self.assertIn('compute1 is claimed by drain first1', str(exc))
        self.assertEqual([], self.put)

    def test_resume_of_the_claiming_report_goes_on(self):
        path = os.path.join(self.dir, 'r.json')
        data = report_mod.new_report('drain', ['compute1'], {})
        data.update(id='first1', state='interrupted')
        report_mod.write_atomic(path, data)
        self.nova.disabled['compute1'] = '[drain:first1] rack 4'
        job = drain.Job(self.nova, None, ['compute1'], base.opts(),
                        resume=path)
        job._servers_on = lambda host: []
        job.prepare()       # no DrainError

    def test_disable_reason_carries_marker_and_text(self):
        path = os.path.join(self.dir, 'r.json')
        job = drain.Job(self.nova, None, ['compute1'], base.opts(),
                        report_path=path, disable_reason='rack 4 BIOS')
        job.services = {'compute1': base.service('compute1')}
        report = report_mod.new_report('drain', ['compute1'], {})
        job._prepare_services(report)
        rid = report['id']
        self.assertEqual([('compute1', '[drain:%s] rack 4 BIOS' % rid)],
                         self.put)
        self.assertTrue(report['service']['compute1']['disabled_by_drain'])

    def test_already_disabled_source_claimed_not_ours_to_enable(self):
        job = drain.Job(self.nova, None, ['compute1'], base.opts())
        job.services = {'compute1': base.service(
            'compute1', status='disabled', reason='RMA ticket 7')}
        report = report_mod.new_report('drain', ['compute1'], {})
        job._prepare_services(report)
        entry = report['service']['compute1']
        self.assertEqual('[drain:%s] RMA ticket 7' % report['id'],
                         self.put[0][1])
        self.assertFalse(entry['disabled_by_drain'])
        self.assertEqual('RMA ticket 7', entry['reason'])


class TestRestoreLeavesOthersAlone(testtools.TestCase):

    def write(self, rid, entry):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'd.json')
        data = report_mod.new_report('drain', ['compute1'], {})
        data.update(id=rid, state='complete', service={'compute1': entry})
        report_mod.write_atomic(path, data)
        return path

    def test_enable_service_refused_for_another_reason(self):
        nova = fakes.FakeNova()
        nova.disabled['compute1'] = 'hardware fault'
        path = self.write('r1', {'disabled_by_drain': True,
                                 'reason': '[drain:r1] m'})
        job = drain.RestoreJob(nova, None, path, base.opts(),
                               enable_service=True)
        exc = self.assertRaises(drain.DrainError, job.prepare)
        self.assertIn('not enabled again: disabled by someone else or for '
                      'another reason (hardware fault)', str(exc))

    def test_enable_service_refused_when_disabled_before(self):
        nova = fakes.FakeNova()
        nova.disabled['compute1'] = '[drain:r1] RMA'
        path = self.write('r1', {'disabled_by_drain': False,
                                 'reason': 'RMA'})
        job = drain.RestoreJob(nova, None, path, base.opts(),
                               enable_service=True)
        exc = self.assertRaises(drain.DrainError, job.prepare)
        self.assertIn('disabled before the drain (RMA)', str(exc))


class TestOldCloud(testtools.TestCase):

    def test_disable_log_reason_gets_the_marker(self):
        """Below 2.53 the reason goes to PUT disable-log-reason as is."""
        calls = []
        compute = types.SimpleNamespace(
            disable_service=lambda sid, **kw: calls.append(kw))
        svc = base.service('compute1')
        services_mod.disable(compute, svc, claim.reason('r1', 'text'))
        self.assertEqual('[drain:r1] text', calls[0]['disabled_reason'])
        self.assertEqual('compute1', calls[0]['host'])
