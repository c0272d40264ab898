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


import testtools

from migrationclient.constraints import evaluate
from migrationclient.constraints import model as f
from migrationclient.tests.unit.constraints import base


def three_hosts(**host3):
    return [base.host('host1'), base.host('host2'), base.host('host3',
                                                              **host3)]


class TestEvaluate(testtools.TestCase):

    def test_every_rule_reports(self):
        srv = base.server()
        snap = base.snapshot([srv], three_hosts())
        ev = evaluate.evaluate(snap, srv.id, 'host2')
        rules = {x.rule for x in ev.findings}
        self.assertEqual(set(evaluate.rules.RULE_IDS), rules)
        self.assertTrue(ev.live.allowed)
        self.assertTrue(ev.cold.allowed)
        self.assertEqual('live', ev.preferred)
        self.assertEqual('auto', ev.block_migration)

    def test_shutoff_goes_cold(self):
        srv = base.server(status='SHUTOFF',
                          **{'OS-EXT-STS:vm_state': 'stopped'})
        snap = base.snapshot([srv], three_hosts())
        ev = evaluate.evaluate(snap, srv.id, 'host2')
        self.assertFalse(ev.live.allowed)
        self.assertEqual('no', ev.live.label)
        self.assertEqual('cold', ev.preferred)
        self.assertEqual(
            'openstack --os-compute-api-version 2.56 server migrate --host '
            'host2 --wait %s' % srv.id, ev.command())

    def test_kinds_skip(self):
        srv = base.server()
        snap = base.snapshot([srv], three_hosts())
        ev = evaluate.evaluate(snap, srv.id, 'host2', kinds=(evaluate.COLD,))
        self.assertEqual('skipped', ev.live.label)
        self.assertFalse(ev.live.allowed)
        self.assertEqual('cold', ev.preferred)

    def test_cloud_notes_are_warnings(self):
        srv = base.server()
        snap = base.snapshot([srv], three_hosts(),
                             notes=('placement not read',))
        ev = evaluate.evaluate(snap, srv.id, 'host2')
        self.assertIn('placement not read',
                      [w.message for w in ev.warnings])


class TestCommand(testtools.TestCase):

    def cloud(self, version, requested=None):
        return f.CloudFacts(
            max_version=evaluate.mv.Version.parse(version),
            requested_version=evaluate.mv.Version.parse(requested)
            if requested else None)

    def test_live(self):
        self.assertEqual(
            'openstack --os-compute-api-version 2.30 server migrate '
            '--live-migration --host h2 --wait abc',
            evaluate.server_command('abc', 'live', 'h2', self.cloud('2.104')))

    def test_cold_before_256_cannot_name_host(self):
        self.assertEqual(
            'openstack server migrate --wait abc',
            evaluate.server_command('abc', 'cold', 'h2', self.cloud('2.38')))

    def test_requested_higher_version_kept(self):
        self.assertEqual(
            'openstack --os-compute-api-version 2.90 server migrate '
            '--live-migration --host h2 --wait abc',
            evaluate.server_command('abc', 'live', 'h2',
                                    self.cloud('2.104', '2.90')))

    def test_quoting(self):
        cmd = evaluate.server_command('abc', 'live', 'h;2',
                                      self.cloud('2.104'))
        self.assertIn("--host 'h;2'", cmd)


class TestPrecheck(testtools.TestCase):

    def test_default_destinations(self):
        srv = base.server()
        snap = base.snapshot([srv], three_hosts(status='disabled'))
        self.assertEqual(['host2'], evaluate.destinations_for(snap, srv.id))
        evs = evaluate.precheck(snap, [srv.id])
        self.assertEqual(['host2'], [e.destination for e in evs])
        evs = evaluate.precheck(snap, [srv.id], ['host3'])
        self.assertFalse(evs[0].allowed)
        self.assertTrue(evaluate.server_allowed(
            evaluate.precheck(snap, [srv.id]), srv.id))


class TestPlan(testtools.TestCase):

    def _servers(self, n, ram=512):
        result = []
        for i in range(n):
            srv = base.server(flavor={'ram': ram}, id='srv-%d' % i,
                              name='vm%d' % i)
            result.append(srv)
        return result

    def test_capacity_is_debited(self):
        # host2 / host3: 7969 MB capacity, 512 used -> 7457 free each;
        # 3 servers of 3000 MB: two fit on one host only once each.
        servers = self._servers(3, ram=3000)
        snap = base.snapshot(servers, three_hosts())
        moves = evaluate.plan(snap, [s.id for s in servers])
        dests = [m.destination for m in moves]
        self.assertEqual(['host2', 'host3', 'host2'], dests)
        self.assertEqual(['live'] * 3, [m.kind for m in moves])
        servers = self._servers(5, ram=3000)
        snap = base.snapshot(servers, three_hosts())
        moves = evaluate.plan(snap, [s.id for s in servers])
        self.assertIsNone(moves[4].kind)
        self.assertIn('does not fit', moves[4].reason)

    def test_anti_affinity_spreads(self):
        servers = self._servers(2)
        ids = [s.id for s in servers]
        grp = base.group('anti-affinity', ids, {i: 'host1' for i in ids})
        snap = base.snapshot(servers, three_hosts(),
                             groups={i: (grp,) for i in ids})
        moves = evaluate.plan(snap, ids)
        self.assertEqual({'host2', 'host3'},
                         {m.destination for m in moves})


class TestMaybe(testtools.TestCase):

    def test_unknown_makes_maybe(self):
        srv = base.server(flavor={'extra_specs': {'hw:mem_page_size': '2MB'}})
        snap = base.snapshot([srv], three_hosts())
        ev = evaluate.evaluate(snap, srv.id, 'host2')
        self.assertEqual(('maybe', 'maybe'), (ev.live.label, ev.cold.label))
        self.assertTrue(ev.live.allowed)
        self.assertFalse(ev.live.certain)
        self.assertIn('hugepages', {x.rule for x in ev.live.unknowns})
        self.assertIn('hugepages', {x.rule for x in ev.relevant_warnings()})
        side = f.HostSideFacts(numa_cells=(
            f.NumaCell(0, free_hugepages={2048: 1024}),))
        ev = evaluate.evaluate(snap.with_side_facts({'host2': side}), srv.id,
                               'host2')
        self.assertEqual('yes', ev.live.label)

    def test_plan_prefers_certain(self):
        srv = base.server(flavor={'extra_specs': {'hw:mem_page_size': '2MB'}})
        snap = base.snapshot([srv], three_hosts())
        side = f.HostSideFacts(numa_cells=(
            f.NumaCell(0, free_hugepages={2048: 1024}),))
        # host2 comes first by name, but only host3's huge pages are known
        snap = snap.with_side_facts({'host3': side})
        moves = evaluate.plan(snap, [srv.id])
        self.assertEqual('host3', moves[0].destination)
        self.assertEqual(('host3', 'host2'), moves[0].candidates)
