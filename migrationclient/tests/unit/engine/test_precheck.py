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
