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

import copy

import testtools

from migrationclient.host import compare
from migrationclient.host import topology


def placement(host='src', pins=None, cells=None, **kw):
    pins = pins or {0: [0], 1: [1]}
    cells = cells or {v: [0 if c[0] < 4 else 1] for v, c in pins.items()}
    values = dict(host=host, domain='instance-00000001', vcpu_pins=pins,
                  vcpu_cells=cells, pinned=True, emulator_cpus=[0, 1],
                  memory_mode='strict', memory_nodeset=[0],
                  page_size_kib=2048, cpu_mode='host-passthrough',
                  nics=[topology.GuestNic('hostdev', '0000:3b:02.1',
                                          'fa:16:3e:00:00:01', 0)],
                  neighbours=[])
    values.update(kw)
    return topology.GuestPlacement(**values)


def moved(**kw):
    values = dict(host='dst', pins={0: [4], 1: [5]}, emulator_cpus=[4, 5],
                  memory_nodeset=[1],
                  nics=[topology.GuestNic('hostdev', '0000:af:02.1',
                                          'fa:16:3e:00:00:01', 1)])
    values.update(kw)
    return placement(**values)


def verdicts(rows):
    return {row.aspect: row.verdict for row in rows}


class TestVerdicts(testtools.TestCase):

    def test_kind_is_an_enum_not_a_prefix(self):
        row = compare.Row('x', '1', '2', compare.degraded('same cell'))
        self.assertIs(compare.Verdict.DEGRADED, row.judgement.kind)
        self.assertEqual('degraded: same cell', row.verdict)
        self.assertTrue(row.degraded)
        row = compare.Row('x', '1', '2', compare.differs('degraded pages'))
        self.assertEqual('differs: degraded pages', row.verdict)
        self.assertFalse(row.degraded)
        self.assertEqual('same', compare.Row('x', '1', '1',
                                             compare.SAME).verdict)


class TestComparePlacements(testtools.TestCase):

    def test_same(self):
        rows = compare.compare_placements(placement(), placement())
        self.assertFalse(compare.is_degraded(rows))
        self.assertEqual({'same'}, set(verdicts(rows).values()))

    def test_moved_equivalent(self):
        rows = compare.compare_placements(placement(), moved())
        self.assertFalse(compare.is_degraded(rows), verdicts(rows))
        v = verdicts(rows)
        self.assertEqual('info', v['host'])
        for aspect in ('vCPU cells', 'vCPU pinning', 'emulator pinning',
                       'memory nodeset', 'NIC fa:16:3e:00:00:01'):
            self.assertEqual('moved-equivalent', v[aspect], aspect)
        self.assertEqual('same', v['page size'])

    def test_nic_on_another_cell(self):
        after = moved(nics=[topology.GuestNic(
            'hostdev', '0000:3b:02.1', 'fa:16:3e:00:00:01', 0)])
        rows = compare.compare_placements(placement(), after)
        self.assertEqual('degraded: NIC on cell 0, vCPUs on cell 1',
                         verdicts(rows)['NIC fa:16:3e:00:00:01'])
        self.assertTrue(compare.is_degraded(rows))

    def test_neighbour_on_destination_cell(self):
        after = moved(neighbours=[topology.Neighbour('instance-9', [6, 7],
                                                     [1])])
        v = verdicts(compare.compare_placements(placement(), after))
        self.assertEqual("degraded: instance-9 is pinned on the guest's "
                         "cell 1", v['pinned neighbours'])

    def test_neighbour_sharing_cpus(self):
        after = moved(neighbours=[topology.Neighbour('instance-9', [5], [1])])
        v = verdicts(compare.compare_placements(placement(), after))
        self.assertEqual('degraded: instance-9 is pinned to the same CPUs 5',
                         v['pinned neighbours'])

    def test_split_across_cells(self):
        after = moved(pins={0: [4], 1: [0]}, memory_nodeset=[0, 1])
        v = verdicts(compare.compare_placements(placement(), after))
        self.assertEqual('degraded: guest split over 2 cells (was 1)',
                         v['vCPU cells'])
        self.assertEqual('degraded: memory spread over 2 cells (was 1)',
                         v['memory nodeset'])

    def test_unpinned_and_remote_memory_and_small_pages(self):
        after = moved(pinned=False, pins={0: [4, 5, 6, 7], 1: [4, 5, 6, 7]},
                      memory_nodeset=[0], memory_mode='preferred',
                      page_size_kib=4, emulator_cpus=[4, 5, 6, 7],
                      cpu_mode='host-model')
        v = verdicts(compare.compare_placements(placement(), after))
        self.assertEqual('degraded: vCPUs are no longer pinned',
                         v['vCPU pinning'])
        self.assertEqual('degraded: memory on cell 0, vCPUs on cell 1',
                         v['memory nodeset'])
        self.assertEqual('degraded: memory policy changed', v['memory mode'])
        self.assertEqual('degraded: smaller pages (more TLB misses)',
                         v['page size'])
        self.assertEqual('degraded: emulator threads may run on 4 CPUs '
                         '(were 2)', v['emulator pinning'])
        self.assertEqual('degraded: CPU mode changed', v['CPU mode'])

    def test_vcpus_sharing_a_cpu(self):
        after = moved(pins={0: [4], 1: [4]})
        v = verdicts(compare.compare_placements(placement(), after))
        self.assertEqual('degraded: vCPUs 0-1 share CPU 4', v['vCPU pinning'])

    def test_nic_numa_unknown_after(self):
        after = moved(nics=[topology.GuestNic(
            'hostdev', '0000:af:02.1', 'fa:16:3e:00:00:01', None)])
        v = verdicts(compare.compare_placements(placement(), after))
        self.assertTrue(v['NIC fa:16:3e:00:00:01'].startswith('degraded'))

    def test_vhostuser_is_context_only(self):
        nic = topology.GuestNic('vhostuser', '/run/vhu1', 'fa:16:3e:00:00:02')
        rows = compare.compare_placements(placement(nics=[nic]),
                                          moved(nics=[nic]))
        self.assertEqual('info', verdicts(rows)['NIC fa:16:3e:00:00:02'])

    def test_describe(self):
        rows = dict(compare.describe_placement(placement()))
        self.assertEqual('cell 0: vCPU 0-1', rows['vCPU cells'])
        self.assertEqual('0:0 1:1', rows['vCPU pinning'])
        self.assertEqual('0000:3b:02.1 (cell 0)',
                         rows['NIC fa:16:3e:00:00:01'])


class TestNovaCrossCheck(testtools.TestCase):
    # nova/os-server-topology/v2.78/servers-topology-resp.json (admin)
    ADMIN = {'nodes': [{'cpu_pinning': {'0': 0, '1': 5}, 'host_node': 0,
                        'memory_mb': 1024, 'siblings': [[0, 1]],
                        'vcpu_set': [0, 1]},
                       {'cpu_pinning': {'2': 1, '3': 8}, 'host_node': 1,
                        'memory_mb': 2048, 'siblings': [[2, 3]],
                        'vcpu_set': [2, 3]}],
             'pagesize_kb': 4}
    USER = {'nodes': [{'memory_mb': 1024, 'siblings': [[0, 1]],
                       'vcpu_set': [0, 1]}], 'pagesize_kb': 4}

    def test_consistent(self):
        p = placement(pins={0: [0], 1: [5], 2: [1], 3: [8]},
                      cells={0: [0], 1: [0], 2: [1], 3: [1]},
                      page_size_kib=4)
        row = compare.crosscheck_nova_topology(p, self.ADMIN)
        self.assertEqual('same', row.verdict)

    def test_inconsistent(self):
        row = compare.crosscheck_nova_topology(placement(), self.ADMIN)
        self.assertTrue(row.degraded)
        self.assertIn('vCPU 1 on CPU 5 per nova, 1 on the host', row.verdict)
        self.assertIn('page size 4 KiB per nova, 2048 KiB', row.verdict)

    def test_user_view_has_nothing_to_check(self):
        self.assertIsNone(compare.crosscheck_nova_topology(placement(),
                                                           self.USER))


def host(name='a', nics=None, cell_kw=None):
    cells = []
    for cid, cpus in enumerate(([0, 1, 2, 3], [4, 5, 6, 7])):
        values = dict(id=cid, cpus=cpus, memory_kib=8 << 20,
                      free_memory_kib=4 << 20,
                      pages_total={2048: 1024}, pages_free={2048: 512})
        values.update((cell_kw or {}).get(cid, {}))
        cells.append(topology.HostCell(**values))
    return topology.HostTopology(host=name, cells=cells,
                                 page_sizes_kib=[4, 2048],
                                 nics=nics or {'ens1f0': 0})


class TestCompareHosts(testtools.TestCase):

    def test_same(self):
        rows = compare.compare_hosts(host('a'), host('b'))
        self.assertFalse(compare.is_degraded(rows))
        self.assertEqual({'same', 'info'}, set(verdicts(rows).values()))

    def test_differences(self):
        b = host('b', nics={'ens1f0': 1},
                 cell_kw={1: {'cpus': [4, 5, 6], 'memory_kib': 4 << 20,
                              'free_memory_kib': 1 << 20,
                              'pages_total': {2048: 1024},
                              'pages_free': {2048: 3}}})
        b.page_sizes_kib = [4]
        v = verdicts(compare.compare_hosts(host('a'), b))
        self.assertEqual('degraded: ens1f0 on cell 1, not 0', v['NIC ens1f0'])
        self.assertEqual('degraded: 3 CPUs instead of 4', v['cell 1 CPUs'])
        self.assertEqual('degraded: less memory', v['cell 1 memory'])
        self.assertEqual('differs: free pages (not topology)',
                         v['cell 1 2048 KiB pages'])
        self.assertEqual('differs: free memory (not topology)',
                         v['cell 1 free memory'])
        self.assertEqual('degraded: missing 2048K', v['page sizes'])
        self.assertEqual('same', v['cell 0 CPUs'])

    def test_renumbered_cpus_are_equivalent(self):
        b = copy.deepcopy(host('b'))
        b.cells[1].cpus = [8, 9, 10, 11]
        v = verdicts(compare.compare_hosts(host('a'), b))
        self.assertEqual('moved-equivalent', v['cell 1 CPUs'])

    def test_missing_cell(self):
        b = host('b')
        b.cells = b.cells[:1]
        v = verdicts(compare.compare_hosts(host('a'), b))
        self.assertEqual('degraded: cell count differs', v['NUMA cells'])
        self.assertEqual('degraded: no cell 1', v['cell 1'])
