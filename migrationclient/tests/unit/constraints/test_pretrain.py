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

"""The ``same-cpus`` rule (pre-Train pinned guests, RHSA-2018:0369), fed
by facts built from recorded virsh outputs (``tests/unit/host/
test_pretrain``).
"""

import dataclasses

import testtools

from migrationclient.constraints import model as f
from migrationclient.constraints import rules
from migrationclient.tests.unit.constraints import base
from migrationclient.tests.unit.host import test_pretrain as recorded

PINNED = {'extra_specs': {'hw:cpu_policy': 'dedicated'}, 'vcpus': 2}


class TestSameCpus(testtools.TestCase):

    def check(self, same_cpus=None, version='2.38', flavor=PINNED,
              side=True):
        server = base.server(flavor=flavor)
        if side:
            server = dataclasses.replace(server, guest_side=f.GuestSideFacts(
                same_cpus={'host2': same_cpus} if same_cpus else {}))
        snap = base.snapshot([server], base.two_hosts(), version=version)
        found = rules.same_cpus(server, snap.hosts['host1'],
                                snap.hosts['host2'], snap)
        return {k: [x for x in found if k in x.applies_to]
                for k in (f.LIVE, f.COLD)}

    def test_train_and_later_or_not_pinned(self):
        found = self.check(version='2.79')
        self.assertEqual(f.OK, found[f.LIVE][0].severity)
        self.assertIn('Train and later re-pin', found[f.LIVE][0].message)
        found = self.check(flavor={'vcpus': 2})
        self.assertIn('not pinned', found[f.LIVE][0].message)

    def test_without_ssh_maybe_naming_the_fact(self):
        found = self.check(side=False)
        live = found[f.LIVE][0]
        self.assertEqual(f.UNKNOWN, live.severity)
        self.assertIn('before Train (this cloud: Newton (OSP 10))',
                      live.message)
        self.assertIn('pinned host CPUs and the destination\'s pinned CPUs '
                      'were not read', live.message)
        self.assertIn('--ssh', live.remedy)
        self.assertIn('cpu_pinning_migration_quick_fail', live.remedy)
        self.assertEqual(f.OK, found[f.COLD][0].severity)
        found = self.check()            # guest read, destination not
        self.assertIn('destination\'s pinned CPUs were not read',
                      found[f.LIVE][0].message)

    def test_taken_is_no_with_the_cpu_ids(self):
        facts = recorded.TestSameCpusFacts('test_taken_on_the_destination')
        found = self.check(facts.facts((recorded.PINNED,)))
        live = found[f.LIVE][0]
        self.assertEqual(f.BLOCKER, live.severity)
        self.assertIn('keeps host CPUs 0,1 (cell 0)', live.message)
        self.assertIn('on the destination: taken: CPU 0 by '
                      'instance-00000001, CPU 1 by instance-00000001',
                      live.message)
        self.assertIn('RHSA-2018:0369', live.message)
        self.assertIn('cpu_pinning_migration_quick_fail', live.remedy)
        # quick fail false on the destination: cold re-pins, fine
        self.assertEqual(f.OK, found[f.COLD][0].severity)

    def test_quick_fail_true_warns_for_cold(self):
        facts = f.SameCpusFacts(cpus=frozenset({2}), cells=(0,),
                                taken={2: ('instance-0000beef',)},
                                quick_fail=True)
        found = self.check(facts)
        self.assertEqual(f.WARNING, found[f.COLD][0].severity)
        self.assertIn('RHBA-2019:0074', found[f.COLD][0].message)
        # CPUs free: nothing for quick fail to refuse
        found = self.check(dataclasses.replace(facts, taken={}))
        self.assertEqual(f.OK, found[f.COLD][0].severity)

    def test_free_is_yes(self):
        facts = recorded.TestSameCpusFacts('test_free_on_an_empty_'
                                           'destination').facts(())
        live = self.check(facts)[f.LIVE][0]
        self.assertEqual(f.OK, live.severity)
        self.assertIn('host CPUs 0,1 (cell 0) are free', live.message)

    def test_not_in_the_pinning_set_and_memory(self):
        facts = f.SameCpusFacts(cpus=frozenset({8}), cells=(1,),
                                not_dedicated=frozenset({8}),
                                cells_short=(1,))
        live = self.check(facts)[f.LIVE][0]
        self.assertIn('CPU 8 not in its pinning set', live.message)
        self.assertIn('not enough free memory on cell 1', live.message)
