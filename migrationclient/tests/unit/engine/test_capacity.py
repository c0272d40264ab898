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

"""The drain's capacity planner on facts built from the API samples.

Sample inventory (``base.inventory()``): MEMORY_MB capacity (5825 - 512)
x 1.5 = 7969, 512 used (7457 free); VCPU 4 x 16 = 64, 1 used, max_unit 4;
DISK_GB 35, 1 used.  The sample server (m1.tiny) takes 1 VCPU, 512 MB and
1 GB.
"""

import json
import random

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
import testtools

from migrationclient.constraints import debit
from migrationclient.constraints import evaluate as cengine
from migrationclient.constraints import model as f
from migrationclient.engine import capacity
from migrationclient.tests.unit.constraints import base

CAP = 7969


def mem_host(name, free=None, **kw):
    """A host with ``free`` MB of RAM free (default: the sample's)."""
    used = {'DISK_GB': 1, 'MEMORY_MB': 512, 'VCPU': 1}
    if free is not None:
        used['MEMORY_MB'] = CAP - free
    inv = kw.pop('inv', None) or base.inventory(used=used)
    return base.host(name, inv=inv, **kw)


def srv(i, host='src1', ram=512, **kw):
    return base.server(host=host, flavor=dict({'ram': ram},
                                              **kw.pop('flavor', {})),
                       id='srv-%02d' % i, name='vm%02d' % i, **kw)


class TestPlacement(testtools.TestCase):

    def test_two_drained_hosts_share_the_pool(self):
        # 5 x 3000 MB onto two hosts with 7457 free each: 4 fit, the
        # debits of src1's servers count for src2's.
        servers = [srv(i, 'src1', 3000) for i in range(3)] + \
            [srv(i, 'src2', 3000) for i in range(3, 5)]
        hosts = [mem_host('src1'), mem_host('src2'), mem_host('dst1'),
                 mem_host('dst2')]
        snap = base.snapshot(servers, hosts)
        plan = capacity.plan_capacity(snap, ['src1', 'src2'])
        self.assertFalse(plan.feasible)
        placed = [p for p in plan.placements if p.placed]
        self.assertEqual(4, len(placed))
        self.assertEqual({'dst1': 2, 'dst2': 2}, {
            d: sum(1 for p in placed if p.destination == d)
            for d in ('dst1', 'dst2')})
        self.assertNotIn('src1', {p.destination for p in placed})
        [left] = plan.unplaced
        self.assertEqual('srv-04', left.server_id)
        self.assertEqual(
            [('dst1', 'MEMORY_MB', 3000, 1457),
             ('dst2', 'MEMORY_MB', 3000, 1457)],
            [(b.host, b.resource, b.need, b.free) for b in left.bindings])
        self.assertEqual([], capacity.replay(snap, plan))

    def test_largest_first_best_fit(self):
        servers = [srv(1, ram=1000), srv(2, ram=3500)]
        hosts = [mem_host('src1'), mem_host('roomy'),
                 mem_host('tight', free=4000)]
        snap = base.snapshot(servers, hosts)
        plan = capacity.plan_capacity(snap, ['src1'])
        self.assertTrue(plan.feasible)
        self.assertEqual(['srv-02', 'srv-01'],
                         [p.server_id for p in plan.placements])
        big, small = plan.placements
        # 3500 MB leaves 500 on "tight": the best fit
        self.assertEqual(('tight', 'live'), (big.destination, big.kind))
        self.assertIn('best fit on MEMORY_MB: 500 of 7969 MB left',
                      big.reason)
        self.assertEqual('roomy', small.destination)
        self.assertTrue(big.certain)

    def test_usage_before_and_after(self):
        servers = [srv(1, ram=3500)]
        hosts = [mem_host('src1'), mem_host('tight', free=4000)]
        plan = capacity.plan_capacity(base.snapshot(servers, hosts),
                                      ['src1'])
        [dest] = plan.destinations
        self.assertEqual(('tight', ('srv-01',)), (dest.host, dest.servers))
        usage = {u.resource: u for u in dest.usage}
        self.assertEqual(['VCPU', 'MEMORY_MB', 'DISK_GB'],
                         [u.resource for u in dest.usage])
        mem = usage['MEMORY_MB']
        self.assertEqual((7969, 3969, 7469), (mem.capacity, mem.before,
                                              mem.after))
        self.assertEqual((49.8, 93.7), (mem.before_pct, mem.after_pct))
        self.assertEqual((64, 1, 2), (usage['VCPU'].capacity,
                                      usage['VCPU'].before,
                                      usage['VCPU'].after))
        self.assertEqual((1, 2), (usage['DISK_GB'].before,
                                  usage['DISK_GB'].after))
        # volume-backed: no disk on the destination
        vb = srv(2, ram=512, image='')
        self.assertTrue(vb.volume_backed)
        plan = capacity.plan_capacity(base.snapshot([vb], hosts), ['src1'])
        usage = {u.resource: u for u in plan.destinations[0].usage}
        self.assertEqual((1, 1), (usage['DISK_GB'].before,
                                  usage['DISK_GB'].after))

    def test_deterministic_and_ties_by_name(self):
        servers = [srv(i, ram=1000) for i in range(6)]
        hosts = [mem_host('src1'), mem_host('b'), mem_host('a'),
                 mem_host('c')]
        snap = base.snapshot(servers, hosts)
        one = capacity.plan_capacity(snap, ['src1']).to_dict()
        shuffled = list(servers)
        random.Random(3).shuffle(shuffled)
        two = capacity.plan_capacity(
            base.snapshot(shuffled, list(reversed(hosts))),
            ['src1']).to_dict()
        self.assertEqual(one, two)
        json.dumps(one)
        # equal servers, equal hosts: by name, best fit keeps filling "a"
        self.assertEqual(['srv-00', 'srv-01', 'srv-02', 'srv-03', 'srv-04',
                          'srv-05'],
                         [p['server_id'] for p in one['placements']])
        self.assertEqual(['a'] * 6,
                         [p['destination'] for p in one['placements']])

    def test_targets_and_aggregate(self):
        servers = [srv(1)]
        agg = base.aggregate('rack2', ['b'], {})
        hosts = [mem_host('src1'), mem_host('a'),
                 mem_host('b', aggregates=[agg])]
        snap = base.snapshot(servers, hosts)
        self.assertEqual('b', capacity.plan_capacity(
            snap, ['src1'], targets=['b']).placements[0].destination)
        self.assertEqual('b', capacity.plan_capacity(
            snap, ['src1'], aggregate='rack2').placements[0].destination)

    def test_never_onto_a_drained_host(self):
        servers = [srv(1, 'src1'), srv(2, 'src2')]
        hosts = [mem_host('src1'), mem_host('src2'), mem_host('z')]
        plan = capacity.plan_capacity(base.snapshot(servers, hosts),
                                      ['src1', 'src2'])
        self.assertEqual(['z', 'z'], [p.destination
                                      for p in plan.placements])


def pcpu_host(name, cells):
    inv = base.inventory(
        used={'DISK_GB': 1, 'MEMORY_MB': 512, 'VCPU': 1, 'PCPU': 0},
        PCPU={'total': 8, 'max_unit': 8})
    side = f.HostSideFacts(numa_cells=tuple(
        f.NumaCell(i, free_cpus=c, free_memory_mb=4096)
        for i, c in enumerate(cells)))
    host = base.host(name, inv=inv)
    return host, side


class TestNuma(testtools.TestCase):

    def test_pinned_guest_on_a_host_with_a_free_cell(self):
        pinned = srv(1, flavor={'vcpus': 4, 'extra_specs': {
            'hw:cpu_policy': 'dedicated'}})
        src, src_side = pcpu_host('src1', (8,))
        a, a_side = pcpu_host('a', (2, 2))       # 4 PCPU, no cell with 4
        b, b_side = pcpu_host('b', (1, 4))
        snap = base.snapshot([pinned], [src, a, b]).with_side_facts(
            {'src1': src_side, 'a': a_side, 'b': b_side})
        plan = capacity.plan_capacity(snap, ['src1'])
        [p] = plan.placements
        self.assertEqual('b', p.destination)
        self.assertIn('best fit on PCPU: 4 of 8 PCPU left', p.reason)
        self.assertIn('a: numa', p.reason)
        cells = plan.hosts_after['b'].host_side.numa_cells
        self.assertEqual([1, 0], [c.free_cpus for c in cells])
        self.assertEqual(4, plan.hosts_after['b'].inventory['PCPU'].used)
        self.assertEqual([], capacity.replay(snap, plan))
        # a second one fits nowhere: no cell with 4 free CPUs left
        second = srv(2, flavor={'vcpus': 4, 'extra_specs': {
            'hw:cpu_policy': 'dedicated'}})
        snap = base.snapshot([pinned, second], [src, a, b]).with_side_facts(
            {'src1': src_side, 'a': a_side, 'b': b_side})
        plan = capacity.plan_capacity(snap, ['src1'])
        [left] = plan.unplaced
        self.assertEqual({('a', 'numa'), ('b', 'numa')},
                         {(x.host, x.rule) for x in left.bindings})


class TestGroups(testtools.TestCase):

    def test_anti_affinity_members_moving_together(self):
        moving = [srv(1), srv(2)]
        stays = srv(3, host='a')
        ids = [s.id for s in moving + [stays]]
        grp = base.group('anti-affinity', ids, {
            'srv-01': 'src1', 'srv-02': 'src1', 'srv-03': 'a'})
        hosts = [mem_host('src1'), mem_host('a'), mem_host('b'),
                 mem_host('c')]
        snap = base.snapshot(moving + [stays], hosts,
                             groups={i: (grp,) for i in ids})
        plan = capacity.plan_capacity(snap, ['src1'])
        dests = sorted(p.destination for p in plan.placements)
        self.assertEqual(['b', 'c'], dests)
        self.assertEqual([], capacity.replay(snap, plan))
        # only one host without a member: the second fits nowhere
        plan = capacity.plan_capacity(snap, ['src1'], targets=['a', 'b'])
        self.assertEqual(1, len(plan.unplaced))
        self.assertIn(('a', 'server-group'), [
            (b.host, b.rule) for b in plan.unplaced[0].bindings])

    def test_affinity_members_move_as_one(self):
        moving = [srv(1, ram=2000), srv(2, ram=2000)]
        ids = [s.id for s in moving]
        grp = base.group('affinity', ids, {i: 'src1' for i in ids})
        hosts = [mem_host('src1'), mem_host('a', free=3000),
                 mem_host('b', free=4500), mem_host('c')]
        snap = base.snapshot(moving, hosts, groups={i: (grp,) for i in ids})
        plan = capacity.plan_capacity(snap, ['src1'])
        self.assertTrue(plan.feasible)
        # "a" cannot take both; "b" is the best fit for the pair
        self.assertEqual(['b', 'b'], [p.destination
                                      for p in plan.placements])
        self.assertEqual({grp.id}, {p.group for p in plan.placements})
        self.assertEqual([], capacity.replay(snap, plan))


class TestNowhere(testtools.TestCase):

    def test_binding_constraint_per_candidate(self):
        server = srv(1, ram=5000)
        hosts = [mem_host('src1'), mem_host('full', free=1000),
                 mem_host('old', version=1)]
        snap = base.snapshot([server], hosts)
        plan = capacity.plan_capacity(snap, ['src1'],
                                      servers={server.id: ('live',)})
        self.assertFalse(plan.feasible)
        [p] = plan.placements
        self.assertIsNone(p.destination)
        by_host = {b.host: b for b in p.bindings}
        self.assertEqual(('MEMORY_MB', 5000, 1000),
                         (by_host['full'].resource, by_host['full'].need,
                          by_host['full'].free))
        self.assertIn('MEMORY_MB: needs 5000, 1000 free',
                      by_host['full'].message)
        self.assertEqual('hypervisor', by_host['old'].rule)
        self.assertIn('older than the source', by_host['old'].message)
        # cold is allowed on "old"
        plan = capacity.plan_capacity(snap, ['src1'])
        self.assertEqual(('old', 'cold'), (plan.placements[0].destination,
                                           plan.placements[0].kind))
        out = plan.to_dict()
        self.assertTrue(out['feasible'])

    def test_host_independent_blocker_once(self):
        server = srv(1, **{'OS-EXT-STS:task_state': 'migrating'})
        hosts = [mem_host('src1'), mem_host('a'), mem_host('b')]
        plan = capacity.plan_capacity(base.snapshot([server], hosts),
                                      ['src1'])
        [p] = plan.placements
        self.assertEqual([('*', 'state')],
                         [(b.host, b.rule) for b in p.bindings])


class TestHeadroom(testtools.TestCase):

    def test_n_plus_one_fits(self):
        servers = [srv(1, ram=3000)]
        hosts = [mem_host('src1'), mem_host('a'), mem_host('b'),
                 mem_host('c')]
        plan = capacity.plan_capacity(base.snapshot(servers, hosts),
                                      ['src1'])
        h = plan.headroom
        self.assertEqual('a', plan.placements[0].destination)
        self.assertEqual('a', h.host)        # the most loaded after
        self.assertTrue(h.ok)
        self.assertEqual((1, 1), (h.servers, h.placed))
        self.assertEqual('MEMORY_MB', h.first_short)
        mem = {m.resource: m for m in h.margins}['MEMORY_MB']
        self.assertEqual((3512, 14914), (mem.needed, mem.free))
        self.assertIn('MEMORY_MB runs out first', h.message)

    def test_n_plus_one_short(self):
        servers = [srv(1, ram=3000)]
        hosts = [mem_host('src1'), mem_host('a'),
                 mem_host('b', free=1000), mem_host('c', free=1000)]
        plan = capacity.plan_capacity(base.snapshot(servers, hosts),
                                      ['src1'])
        h = plan.headroom
        self.assertTrue(plan.feasible)
        self.assertEqual('a', plan.placements[0].destination)
        # b and c hold 6969 MB each (no known server): b fails first, by
        # name; a (4457 free) and c (1000) cannot take 6969 MB
        self.assertEqual('b', h.host)
        self.assertFalse(h.ok)
        self.assertEqual((0, 0), (h.servers, h.placed))
        self.assertEqual('MEMORY_MB', h.first_short)
        mem = {m.resource: m for m in h.margins}['MEMORY_MB']
        self.assertEqual((6969, 5457, -1512), (mem.needed, mem.free,
                                               mem.left))
        self.assertIn('cannot absorb', h.message)


class TestDebit(testtools.TestCase):

    def test_plan_and_capacity_share_the_debit(self):
        server = srv(1, ram=1000)
        host = mem_host('a')
        after = debit.host_after(host, server)
        self.assertEqual(512 + 1000, after.inventory['MEMORY_MB'].used)
        snap = base.snapshot([server], [mem_host('src1'), host])
        self.assertEqual(after, cengine._debit(snap, server,
                                               'a').hosts['a'])

    def test_hugepages_debited_on_the_cell(self):
        server = srv(1, ram=1024, flavor={'extra_specs': {
            'hw:mem_page_size': '2MB'}})
        cells = (f.NumaCell(0, free_hugepages={2048: 100}),
                 f.NumaCell(1, free_hugepages={2048: 1024}))
        after = debit.cells_after(cells, server)
        self.assertEqual([100, 512],
                         [c.free_hugepages[2048] for c in after])


@st.composite
def clouds(draw):
    n_hosts = draw(st.integers(2, 5))
    hosts = [mem_host('src1'), mem_host('src2')]
    for i in range(n_hosts):
        hosts.append(mem_host('h%d' % i, free=draw(st.integers(0, 7457)),
                              version=draw(st.sampled_from((None, 1)))))
    servers = []
    for i in range(draw(st.integers(1, 8))):
        specs = draw(st.sampled_from(({}, {'hw:numa_nodes': '1'},
                                      {'pci_passthrough:alias': 'a:1'})))
        servers.append(srv(i, draw(st.sampled_from(('src1', 'src2'))),
                           draw(st.sampled_from((512, 2000, 4000))),
                           flavor={'extra_specs': specs}))
    groups = {}
    if len(servers) >= 2 and draw(st.booleans()):
        policy = draw(st.sampled_from(('affinity', 'anti-affinity')))
        members = [s.id for s in servers[:2]]
        grp = base.group(policy, members,
                         {s.id: s.host for s in servers[:2]})
        groups = {m: (grp,) for m in members}
    return base.snapshot(servers, hosts, groups=groups)


class TestProperty(testtools.TestCase):

    @settings(max_examples=40, deadline=None)
    @given(clouds())
    def test_every_placement_passes_the_rules(self, snap):
        plan = capacity.plan_capacity(snap, ['src1', 'src2'])
        self.assertEqual([], [(p.server_id, p.destination, [
            b.as_text() for b in ev.blockers])
            for p, ev in capacity.replay(snap, plan)])
        for p in plan.placements:
            self.assertNotIn(p.destination, ('src1', 'src2'))
            if not p.placed:
                self.assertTrue(p.bindings)
        self.assertEqual(len(snap.servers), len(plan.placements))
        json.dumps(plan.to_dict())

    @settings(max_examples=40, deadline=None)
    @given(clouds())
    def test_findings_equal_the_rule_engine(self, snap):
        # The cached rules (host classes, versions, keys as numbers) give
        # each placement the findings the plain rule engine gives on the
        # facts debited by the placements before it.
        plan = capacity.plan_capacity(snap, ['src1', 'src2'])
        placed = [p for p in plan.placements if p.placed]
        grouped = any(p.group for p in placed)
        for p in placed:
            if grouped:
                break   # affinity units: replay() checks the verdicts
            ev = cengine.evaluate(snap, p.server_id, p.destination)
            self.assertEqual([x.as_text() for x in ev.findings],
                             [x.as_text() for x in p.evaluation.findings])
            snap = debit.debit(snap, snap.servers[p.server_id],
                               p.destination)


class TestCache(testtools.TestCase):

    def _rules(self, hosts):
        snap = base.snapshot([srv(1)], hosts)
        planner = capacity._planner.Planner(snap, ('src1',),
                                            {'srv-01': ('live',)}, None,
                                            None)
        return planner

    def test_host_class_ignores_identity_and_debits(self):
        planner = self._rules([mem_host('src1'), mem_host('a'),
                               mem_host('b', free=100),
                               mem_host('c', traits=frozenset({'X'}))])
        cls = {n: planner.rules.host_class(planner.hosts[n])
               for n in ('a', 'b', 'c')}
        self.assertEqual(cls['a'], cls['b'])
        self.assertNotEqual(cls['a'], cls['c'])
        self.assertIsNone(planner.rules.host_class(None))

    def test_versions_are_never_reused_after_an_undone_trial(self):
        planner = self._rules([mem_host('src1'), mem_host('a')])
        server = planner.snapshot.servers['srv-01']
        saved = dict(planner.version)
        planner._move(server, 'a')
        tried = planner.version['a']
        planner.version = saved           # as _try_unit undoes a trial
        planner._move(server, 'a')
        self.assertNotEqual(tried, planner.version['a'])
