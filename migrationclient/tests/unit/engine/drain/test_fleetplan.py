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

"""The drain's capacity plan: merged facts, applied to items, the gate.

Facts from the API samples (``tests/unit/constraints/base.py``): MEMORY_MB
7969 usable, 512 used on each host unless said; m1.tiny servers.
"""

import dataclasses

import testtools

from migrationclient.constraints import model as f
from migrationclient.engine import drain
from migrationclient.engine.drain import fleetplan
from migrationclient import exitcodes
from migrationclient.tests.unit.constraints import base as cbase
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit.engine import test_capacity as tc


def items_of(snapshot, status='ACTIVE'):
    return [drain.Item(id=s.id, name=s.name, project_id='p',
                       original_host=s.host, original_status=status,
                       action=drain.LIVE, reason='ACTIVE: live migration')
            for s in snapshot.servers.values()]


def fleet(per_host=((('src1', 3000),) * 3 + (('src2', 3000),) * 2)):
    servers = [tc.srv(i, host, ram) for i, (host, ram)
               in enumerate(per_host)]
    hosts = [tc.mem_host('src1'), tc.mem_host('src2'), tc.mem_host('dst1'),
             tc.mem_host('dst2')]
    return cbase.snapshot(servers, hosts)


def always(_action):
    return True


class TestMerge(testtools.TestCase):

    def test_hosts_servers_groups_notes(self):
        snap = fleet()
        one = dataclasses.replace(
            snap, servers={k: v for k, v in snap.servers.items()
                           if v.host == 'src1'},
            hosts=dict(snap.hosts, dst2=dataclasses.replace(
                snap.hosts['dst2'], inventory=None)),
            cloud=dataclasses.replace(snap.cloud, notes=('a', 'b')))
        two = dataclasses.replace(
            snap, servers={k: v for k, v in snap.servers.items()
                           if v.host == 'src2'},
            groups={'srv-03': (f.GroupFacts('g', policy='anti-affinity'),)},
            cloud=dataclasses.replace(snap.cloud, notes=('b', 'c')))
        merged = fleetplan.merge([one, two])
        self.assertEqual(set(snap.servers), set(merged.servers))
        # dst2's inventory: from the snapshot that read it
        self.assertIsNotNone(merged.hosts['dst2'].inventory)
        self.assertEqual(('a', 'b', 'c'), merged.cloud.notes)
        self.assertEqual(['srv-03'], list(merged.groups))
        self.assertIsNone(fleetplan.merge([]))


class TestApply(testtools.TestCase):

    def plan(self, options, snap=None, can_name=always):
        snap = snap or fleet()
        items = items_of(snap)
        cplan = fleetplan.capacity_plan(snap, ['src1', 'src2'], items,
                                        options, ['dst1', 'dst2'])
        blocked = fleetplan.apply(items, cplan, options, can_name)
        return {i.id: i for i in items}, cplan, blocked

    def test_two_hosts_one_pool_and_the_gate(self):
        # 5 x 3000 MB from two hosts onto two with 7457 free each: 4 fit.
        options = base.opts()
        items, cplan, blocked = self.plan(options)
        self.assertFalse(cplan.feasible)
        self.assertEqual(['srv-04'], [i.id for i in blocked])
        left = items['srv-04']
        self.assertEqual((drain.SKIPPED, drain.SKIP, True, None),
                         (left.state, left.action, left.no_destination,
                          left.planned))
        self.assertIn('the capacity plan fits it nowhere: dst1: MEMORY_MB: '
                      'needs 3000, 1457 free; dst2: MEMORY_MB: needs 3000, '
                      '1457 free', left.reason)
        placed = [i for i in items.values() if i.id != 'srv-04']
        for item in placed:
            self.assertEqual(drain.PENDING, item.state)
            self.assertIn(item.planned, ('dst1', 'dst2'))
            # the drain names the planned host: its one candidate
            self.assertEqual((item.planned,), item.candidates)
            self.assertIn('; plan: %s, best fit on MEMORY_MB' % item.planned,
                          item.reason)
        self.assertEqual({'dst1': 2, 'dst2': 2}, {
            d: sum(1 for i in placed if i.planned == d)
            for d in ('dst1', 'dst2')})
        exc = self.assertRaises(drain.PlanInfeasible, fleetplan.gate,
                                list(items.values()), options)
        self.assertEqual(exitcodes.DRAIN_PLAN_INFEASIBLE, exc.exit_status)
        self.assertEqual(12, exc.exit_status)
        self.assertIsInstance(exc, drain.DrainError)
        self.assertEqual([left], exc.blocked)
        self.assertIn('The plan cannot place 1 server(s): vm04 (srv-04)',
                      str(exc))
        self.assertIn('--allow-partial', str(exc))
        self.assertNotIn('\n', str(exc))
        options.allow_partial = True
        fleetplan.gate(list(items.values()), options)

    def test_scheduler_picks(self):
        for options, can_name, why in (
                (base.opts(max_per_target=0), always, '--max-per-target 0'),
                (base.opts(), lambda action: False, 'compute API too old')):
            items, cplan, blocked = self.plan(
                options, fleet((('src1', 1000), ('src2', 1000))), can_name)
            self.assertEqual([], blocked)
            for item in items.values():
                self.assertIn(item.planned, ('dst1', 'dst2'))
                self.assertIsNone(item.candidates)
                self.assertIn('the scheduler picks', item.reason)
                self.assertIn(why, item.reason)
                self.assertFalse(fleetplan.follows(options, can_name,
                                                   item.action))

    def test_kinds(self):
        snap = fleet((('src1', 1000),))
        items = items_of(snap)
        self.assertEqual({'srv-00': ('live', 'cold')},
                         fleetplan.to_plan(items, snap, base.opts()))
        self.assertEqual({'srv-00': ('cold',)},
                         fleetplan.to_plan(items, snap,
                                           base.opts(no_live=True)))
        items[0].original_status = 'SHUTOFF'
        self.assertEqual({'srv-00': ('cold',)},
                         fleetplan.to_plan(items, snap, base.opts()))
        # the plan's kind wins: cold only -> a cold migration
        cplan = fleetplan.capacity_plan(snap, ['src1'], items, base.opts(),
                                        ['dst1'])
        fleetplan.apply(items, cplan, base.opts(), always)
        self.assertEqual((drain.COLD, 'dst1'),
                         (items[0].action, items[0].planned))
        # servers that are not pending are not planned
        items[0].state = drain.DONE
        self.assertEqual({}, fleetplan.to_plan(items, snap, base.opts()))

    def test_bindings_text(self):
        snap = fleet((('src1', 9000),))
        items = items_of(snap)
        cplan = fleetplan.capacity_plan(snap, ['src1'], items, base.opts(),
                                        ['dst1', 'dst2'])
        [p] = cplan.placements
        self.assertEqual('dst1: MEMORY_MB: needs 9000, 7457 free; dst2: '
                         'MEMORY_MB: needs 9000, 7457 free',
                         fleetplan.bindings_text(p))
        self.assertEqual('dst1: MEMORY_MB: needs 9000, 7457 free; 1 more '
                         'candidate(s)', fleetplan.bindings_text(p, limit=1))


class TestItemReport(testtools.TestCase):

    def test_planned_and_replanned_round_trip(self):
        item = base.item('s1')
        item.planned = 'compute3'
        item.replanned = [{'why': 'Nova refused compute2: No valid host',
                           'from': 'compute2', 'to': 'compute3'}]
        data = item.to_dict()
        self.assertEqual('compute3', data['planned'])
        back = drain.Item.from_dict(data)
        self.assertEqual(('compute3', item.replanned),
                         (back.planned, back.replanned))
        # a report of an earlier version
        del data['planned'], data['replanned']
        back = drain.Item.from_dict(data)
        self.assertEqual((None, []), (back.planned, back.replanned))
