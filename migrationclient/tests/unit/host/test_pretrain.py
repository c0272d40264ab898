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

"""host.pretrain on recorded virsh outputs (samples/host).

The guest: ``instance-00000001`` pinned to host CPUs 0 and 1 (emulator on
0-1), strict nodeset 0, 2 MiB pages.  The destination: the same recorded
2-cell host (``capabilities-testdefault.xml``: cell 0 = CPUs 0-7), with
or without a running domain pinned like it.
"""

import testtools

from migrationclient.host import novaconf
from migrationclient.host import parsers
from migrationclient.host import pinning
from migrationclient.host import pretrain
from migrationclient.host import probe
from migrationclient import microversions as mv
from migrationclient.tests.unit.host import base
from migrationclient.tests.unit.host import test_pinning

PINNED = test_pinning.PINNED
QUICK = novaconf.parse('[DEFAULT]\nvcpu_pin_set = 0-13\n'
                       '[workarounds]\n'
                       'cpu_pinning_migration_quick_fail = False\n')


def _placement():
    return probe.build_guest_placement(
        'compute1', PINNED, test_pinning._topology('compute1'),
        parsers.parse_domain_xml(base.sample('dumpxml-pinned.xml')),
        parsers.parse_vcpupin(base.sample('vcpupin-pinned.txt')),
        parsers.parse_numatune(base.sample('numatune-pinned.txt')),
        parsers.parse_emulatorpin(base.sample('emulatorpin-pinned.txt')))


def _dest(domains, conf=QUICK):
    return pinning.host_pinning(test_pinning._topology(), conf,
                                test_pinning._domains(*domains),
                                nova=mv.NEWTON)


class TestGuestNeeds(testtools.TestCase):

    def test_pinned_guest(self):
        cpus, memory, page_kb = pretrain.guest_needs(_placement(), 512)
        self.assertEqual((frozenset({0, 1}), {0: 512}, 2048),
                         (cpus, memory, page_kb))


class TestSameCpusFacts(testtools.TestCase):

    def facts(self, domains, conf=QUICK, memory_mb=128):
        cpus, memory, page_kb = pretrain.guest_needs(_placement(),
                                                     memory_mb)
        return pretrain.same_cpus_facts(_dest(domains, conf), cpus, memory,
                                        page_kb, conf)

    def test_taken_on_the_destination(self):
        facts = self.facts((PINNED,))
        self.assertFalse(facts.free)
        self.assertEqual({0: (PINNED,), 1: (PINNED,)}, facts.taken)
        self.assertEqual((frozenset({0, 1}), (0,), False, True),
                         (facts.cpus, facts.cells, facts.quick_fail,
                          facts.dedicated_known))

    def test_free_on_an_empty_destination(self):
        facts = self.facts(())
        self.assertTrue(facts.free)
        self.assertIsNone(pretrain.same_cpus_facts(
            _dest(()), {0}, {}, None).quick_fail)

    def test_outside_the_pinning_set(self):
        conf = novaconf.parse('[DEFAULT]\nvcpu_pin_set = 4-7\n')
        facts = self.facts((), conf)
        self.assertEqual(frozenset({0, 1}), facts.not_dedicated)
        self.assertIsNone(facts.quick_fail)

    def test_huge_pages_short_on_the_cell(self):
        # 97 free 2 MiB pages on cell 0: 194 MiB
        facts = self.facts((), memory_mb=1024)
        self.assertEqual((0,), facts.cells_short)
        self.assertFalse(facts.free)

    def test_without_nova_conf(self):
        facts = self.facts((), conf=None)
        self.assertTrue(facts.free)
        self.assertFalse(facts.dedicated_known)
