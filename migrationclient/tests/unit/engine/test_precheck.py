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

"""engine.precheck: the verdict summary of a precheck."""

import testtools

from migrationclient.constraints import evaluate
from migrationclient.engine import precheck as engine_precheck
from migrationclient.tests.unit.constraints import base


class TestSummarize(testtools.TestCase):

    def test_counts(self):
        ok = base.server()
        bad = base.server(id='bad', name='bad', status='ERROR',
                          **{'OS-EXT-STS:vm_state': 'error'})
        snap = base.snapshot([ok, bad], [base.host('host1'),
                                         base.host('host2')])
        evs = evaluate.precheck(snap, [ok.id, 'bad'])
        summary = engine_precheck.summarize(evs)
        self.assertEqual(2, summary.pairs)
        self.assertEqual({'yes': 1, 'no': 1}, summary.counts['live'])
        self.assertEqual(0, summary.maybes)
        self.assertEqual({}, summary.missing)
        only_live = engine_precheck.summarize(evs, (evaluate.LIVE,))
        self.assertEqual(['live'], list(only_live.counts))


class TestGuestSide(testtools.TestCase):
    """A guest's --ssh facts come from its source host's reading."""

    def test_from_the_source_reading(self):
        from migrationclient.host import probe
        from migrationclient.tests.unit.host import test_probe
        reading = probe.read_host(
            test_probe.FakePool(test_probe.reading_outputs()), 'host1')
        srv = base.server(**{'OS-EXT-SRV-ATTR:instance_name':
                             'instance-00000001'})
        self.assertEqual('instance-00000001', srv.instance_name)
        notes = []
        side = engine_precheck._guest_side(srv, {'host1': reading}, notes)
        self.assertEqual('host-passthrough', side.cpu_mode)
        self.assertEqual([], notes)
        # a domain the host does not define: a note, no facts
        gone = base.server(**{'OS-EXT-SRV-ATTR:instance_name':
                              'instance-000000ff'})
        self.assertIsNone(engine_precheck._guest_side(
            gone, {'host1': reading}, notes))
        self.assertIn('no libvirt domain instance-000000ff', notes[0])
        # the host not read: nothing to say
        self.assertIsNone(engine_precheck._guest_side(srv, {}, notes))
        self.assertEqual(1, len(notes))
