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

"""host.pinning on recorded virsh / numactl outputs (samples/host).

The host: ``capabilities-testdefault.xml`` (cell 0 = CPUs 0-7, cell 1 =
CPUs 8-15), ``freepages-testdefault.txt`` (97 free 2 MiB and 201 free
1 GiB pages per cell), ``numactl-2node.txt`` (1520 / 3900 MB free).  The
domains: ``instance-00000001`` pinned to CPUs 0 and 1 (emulator on 0-1),
``instance-0000000a`` floating over 0-7.
"""

import testtools

from migrationclient.constraints import model as cfacts
from migrationclient.constraints.rules import numa_placement as rules
from migrationclient.host import novaconf
from migrationclient.host import parsers
from migrationclient.host import pinning
from migrationclient.host import probe as facts
from migrationclient import microversions as mv
from migrationclient.tests.unit.host import base

PINNED = 'instance-00000001'
FLOATING = 'instance-0000000a'
BOTH_CELLS = novaconf.parse('[compute]\ncpu_dedicated_set = 0-5,8-13\n'
                            'cpu_shared_set = 6-7,14-15\n')


def _topology(host='compute2'):
    return facts.build_host_topology(
        host, parsers.parse_capabilities(
            base.sample('capabilities-testdefault.xml')),
        parsers.parse_freepages(base.sample('freepages-testdefault.txt')),
        numactl=parsers.parse_numactl(base.sample('numactl-2node.txt')))


def _domains(*names):
    recorded = {
        PINNED: ('vcpupin-pinned.txt', 'emulatorpin-pinned.txt'),
        FLOATING: ('vcpupin-floating.txt', 'emulatorpin-floating.txt'),
    }
    return {name: (parsers.parse_vcpupin(base.sample(recorded[name][0])),
                   parsers.parse_emulatorpin(base.sample(recorded[name][1])))
            for name in names}


def _host(conf=BOTH_CELLS, domains=(PINNED, FLOATING), nova=None):
    return pinning.host_pinning(_topology(), conf, _domains(*domains), nova)


class TestHostPinning(testtools.TestCase):

    def test_cells(self):
        host = _host()
        self.assertTrue(host.dedicated_known)
        cell0, cell1 = host.cells
        self.assertEqual(frozenset(range(0, 6)), cell0.dedicated)
        self.assertEqual(frozenset({0, 1}), cell0.pinned)
        self.assertEqual({PINNED: frozenset({0, 1})}, cell0.pinned_by)
        self.assertEqual(frozenset({2, 3, 4, 5}), cell0.free_pinnable)
        self.assertEqual(frozenset(range(8, 14)), cell1.free_pinnable)
        self.assertEqual({}, cell1.pinned_by)
        self.assertEqual(1520, cell0.free_memory_mb)
        self.assertEqual(3900, cell1.free_memory_mb)
        self.assertEqual(97, cell0.free_pages[2048])
        self.assertEqual(201, cell1.free_pages[1048576])
        self.assertEqual(97 * 2048, cell0.free_memory_kib(2048))
        self.assertEqual(1520 * 1024, cell0.free_memory_kib())
        self.assertEqual((), host.notes)

    def test_floating_guest_takes_nothing(self):
        host = _host(domains=(FLOATING,))
        self.assertEqual(frozenset(), host.cells[0].pinned)
        self.assertEqual(12, len(host.free_pinnable))

    def test_bed_conf_dedicates_cell_0_only(self):
        bed = novaconf.parse(base.sample('novaconf-bed.conf'))
        host = _host(bed)
        self.assertEqual(frozenset({4, 5}), host.cells[0].free_pinnable)
        self.assertEqual(frozenset(), host.cells[1].dedicated)

    def test_without_nova_conf_every_cpu_is_an_upper_bound(self):
        host = _host(None)
        self.assertFalse(host.dedicated_known)
        self.assertEqual(6, len(host.cells[0].free_pinnable))
        self.assertEqual(8, len(host.cells[1].free_pinnable))

    def test_numa_cells_for_the_rules(self):
        cells = _host().numa_cells()
        self.assertEqual(
            cfacts.NumaCell(id=0, free_cpus=4, free_memory_mb=1520,
                            free_hugepages={8: 45, 2048: 97, 1048576: 201}),
            cells[0])
        # the existing rules' fitting reads them as they are
        self.assertTrue(rules._fit_cells(cells, 1, 6, 0, None))
        self.assertFalse(rules._fit_cells(cells, 1, 7, 0, None))

    def test_conflicting_pins_are_noted(self):
        domains = _domains(PINNED)
        domains['instance-00000002'] = domains[PINNED]
        host = pinning.host_pinning(_topology(), BOTH_CELLS, domains)
        self.assertEqual(2, len(host.notes))
        self.assertIn('host CPU 0 is pinned by instance-00000001, '
                      'instance-00000002', host.notes[0])

    def test_floating_guest_on_a_one_cpu_shared_set_is_no_note(self):
        conf = novaconf.parse('[compute]\ncpu_dedicated_set = 2-15\n'
                              'cpu_shared_set = 0-1\n')
        host = _host(conf, domains=(PINNED,))
        self.assertEqual((), host.notes)
        self.assertEqual(frozenset(), host.cells[0].pinned)

    def test_pins_outside_the_dedicated_set_are_noted(self):
        conf = novaconf.parse('[compute]\ncpu_dedicated_set = 8-15\n')
        host = _host(conf)
        self.assertIn('outside the dedicated set: 0,1', host.notes[-1])
        self.assertEqual(frozenset(), host.cells[0].pinned)


class TestPinningSet(testtools.TestCase):

    ALL = range(16)

    def _set(self, text, nova=None):
        return pinning.pinning_set(novaconf.parse(text), self.ALL, nova)

    def test_train_and_later(self):
        self.assertEqual((frozenset({0, 1}), True),
                         self._set('[compute]\ncpu_dedicated_set = 0-1\n'))
        # shared set only: no PCPU inventory, nothing to pin to
        self.assertEqual((frozenset(), True),
                         self._set('[compute]\ncpu_shared_set = 0-1\n'))
        # nothing set: the legacy mode, every CPU
        self.assertEqual((frozenset(self.ALL), True), self._set(''))
        self.assertEqual((frozenset({2, 3}), True),
                         self._set('[DEFAULT]\nvcpu_pin_set = 2-3\n'))

    def test_before_train(self):
        text = '[compute]\ncpu_dedicated_set = 0-1\ncpu_shared_set = 2\n'
        self.assertEqual((frozenset(self.ALL), True),
                         self._set(text, mv.QUEENS))
        self.assertEqual((frozenset({4}), True), self._set(
            '[DEFAULT]\nvcpu_pin_set = 4\n', mv.NEWTON))


class TestDomainPins(testtools.TestCase):

    def test_isolated_emulator_thread_counts(self):
        self.assertEqual(frozenset({2, 3, 9}), pinning.domain_pins(
            {0: frozenset({2}), 1: frozenset({3})}, frozenset({9})))

    def test_shared_emulator_thread_does_not(self):
        self.assertEqual(frozenset({2, 3}), pinning.domain_pins(
            {0: frozenset({2}), 1: frozenset({3})}, frozenset({6, 7})))

    def test_floating(self):
        vcpupin = parsers.parse_vcpupin(base.sample('vcpupin-floating.txt'))
        self.assertEqual(frozenset(), pinning.domain_pins(
            vcpupin, parsers.parse_emulatorpin(
                base.sample('emulatorpin-floating.txt'))))


class TestFit(testtools.TestCase):

    def test_one_node(self):
        host = _host()
        self.assertEqual({0: 1}, pinning.fit(
            host, pinning.guest_cells(1, 6, 512)))
        self.assertIsNone(pinning.fit(host, pinning.guest_cells(1, 7, 512)))

    def test_each_guest_node_on_its_own_cell(self):
        host = _host()
        placed = pinning.fit(host, pinning.guest_cells(2, 8, 1024))
        self.assertEqual({0, 1}, set(placed.values()))
        # 5 + 5: cell 0 has only 4 free
        self.assertIsNone(pinning.fit(host, pinning.guest_cells(2, 10, 64)))
        # more guest nodes than host cells
        self.assertIsNone(pinning.fit(host, pinning.guest_cells(3, 3, 64)))

    def test_uneven_guest_cells_are_matched(self):
        host = _host()
        cells = [pinning.GuestCell(5, 64), pinning.GuestCell(4, 64)]
        self.assertEqual({0: 1, 1: 0}, pinning.fit(host, cells))

    def test_memory(self):
        host = _host()
        self.assertEqual({0: 1}, pinning.fit(
            host, [pinning.GuestCell(0, 2048)]))
        self.assertIsNone(pinning.fit(host, [pinning.GuestCell(0, 4000)]))

    def test_huge_pages(self):
        host = _host()
        # 97 free 2 MiB pages per cell = 194 MiB
        self.assertIsNotNone(pinning.fit(
            host, pinning.guest_cells(1, 2, 194), page_kb=2048))
        self.assertIsNone(pinning.fit(
            host, pinning.guest_cells(1, 2, 196), page_kb=2048))
        # "large": any huge page size, here the 1 GiB pages
        self.assertIsNotNone(pinning.fit(
            host, pinning.guest_cells(2, 2, 4096), page_kb=0))
        # a size the host has none of
        self.assertIsNone(pinning.fit(
            host, pinning.guest_cells(1, 0, 64), page_kb=16384))


class TestSameCpus(testtools.TestCase):
    """Pre-Train (RHSA-2018:0369): the very same CPUs must be free."""

    def test_taken_on_the_destination(self):
        result = pinning.same_cpus_free(_host(), {0, 1}, {0: 512})
        self.assertFalse(result.ok)
        self.assertEqual({0: (PINNED,), 1: (PINNED,)}, result.taken)
        self.assertEqual(frozenset(), result.not_dedicated)

    def test_free_destination(self):
        result = pinning.same_cpus_free(_host(domains=()), {0, 1}, {0: 512})
        self.assertTrue(result.ok)

    def test_not_in_the_pinning_set(self):
        conf = novaconf.parse('[DEFAULT]\nvcpu_pin_set = 4-7\n')
        dest = _host(conf, domains=(), nova=mv.QUEENS)
        result = pinning.same_cpus_free(dest, {0, 1})
        self.assertEqual(frozenset({0, 1}), result.not_dedicated)

    def test_memory_of_the_same_cell(self):
        result = pinning.same_cpus_free(_host(domains=()), {8},
                                        {1: 256}, page_kb=2048)
        self.assertEqual((1,), result.cells_short)
        result = pinning.same_cpus_free(_host(domains=()), {8}, {2: 1})
        self.assertEqual((2,), result.cells_short)
