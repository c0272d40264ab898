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

"""The capacity plan of ``openstack compute drain`` on the fake cloud.

Issue 16, items 1 and 2: two hosts drained together share the room of the
hosts that stay; ``--dry-run`` shows the plan; an infeasible plan refuses
(exit status 12) before anything is disabled, unless ``--allow-partial``;
the drain sends each server to its planned host.

The bed: four fake-driver computes; compute1 and compute2 (the drained
ones) are large, compute3 and compute4 have 4096 MB of RAM, 3584 MB of it
usable (Nova's default ``reserved_host_memory_mb`` 512, RAM allocation
ratio 1.0): room for exactly three 1024 MB servers each.
"""

import json
import os
import subprocess

from migrationclient import exitcodes
from migrationclient.tests.functional import base
from migrationclient.tests.functional.v1 import test_drain
from testbed import fakecloud

DRAINED = ('compute1', 'compute2')
DESTS = ('compute3', 'compute4')
#: servers of FLAVOR one destination takes
PER_DEST = 3


class PlanTestCase(test_drain.DrainTestCase):

    BED_COMPUTES = 4
    BED_ARGS = ('--host-size', 'compute3=8,4096,100',
                '--host-size', 'compute4=8,4096,100')

    def setUp(self):
        super().setUp()
        self.flavor = self.bed.flavor('fc.plan1g', 1, 1024, 1)
        self.report = os.path.join(self.state_home, 'plan.json')

    def boot(self, host, name, **kw):
        return self.create_server('image', host=host, flavor=self.flavor,
                                  name=name, **kw)

    def boot_fleet(self, per_host):
        """``per_host``: {host: count}; names sort in plan order."""
        servers = []
        for host, count in sorted(per_host.items()):
            for i in range(count):
                servers.append(self.boot(host, 'p-%s-%d' % (host[-1], i)))
        return servers

    def run_drain(self, *args, expect=exitcodes.OK):
        return self.drain(*(DRAINED + args + ('--report', self.report,
                                              '--poll-interval', '1')),
                          expect=expect)

    def dry_run(self, *args, expect=exitcodes.OK):
        res = self.run_drain('--dry-run', *args, expect=expect)
        self.doc = res.json()       # one document (-f json)
        return {r['Server']: r for r in self.doc['servers']}, res

    def entries(self):
        with open(self.report) as stream:
            return {e['id']: e for e in json.load(stream)['servers']}

    def plan_report(self):
        with open(self.report) as stream:
            return json.load(stream)['plan']

    def services(self):
        return {h: self.service(h).status for h in DRAINED}


class TestDrainFollowsThePlan(PlanTestCase):

    def test_two_hosts_just_enough_room(self):
        servers = self.boot_fleet({'compute1': PER_DEST,
                                   'compute2': PER_DEST})
        rows, res = self.dry_run()
        self.assertIn('Capacity plan: feasible, 6 server(s) on 2 '
                      'destination(s)', res.stderr)
        self.assertIn('N+1:', res.stderr)
        planned = {}
        for s in servers:
            row = rows[s.id]
            self.assertIn(row['Destination'], DESTS, row)
            self.assertIn('best fit on MEMORY_MB', row['Reason'])
            self.assertEqual(row['Destination'],
                             row['Plan']['destination'])
            self.assertEqual('live', row['Plan']['kind'])
            planned[s.id] = row['Destination']
        # just enough room: three on each
        self.assertEqual(sorted([PER_DEST, PER_DEST]), sorted(
            list(planned.values()).count(d) for d in DESTS))
        # the JSON document carries what the table shows below the rows:
        # usage before / after per destination, N+1, the summary
        doc = self.doc
        self.assertEqual((True, 6, 0, list(DRAINED)),
                         (doc['feasible'], doc['placed'], doc['unplaced'],
                          doc['drained']))
        self.assertEqual(list(DESTS),
                         [d['host'] for d in doc['destinations']])
        for dest in doc['destinations']:
            usage = {u['resource']: u for u in dest['usage']}
            mem = usage['MEMORY_MB']
            self.assertEqual((3584, mem['before'] + PER_DEST * 1024),
                             (mem['capacity'], mem['after']))
            self.assertAlmostEqual(100.0 * mem['after'] / 3584,
                                   mem['after_pct'], places=1)
            self.assertIn('VCPU', usage)
            self.assertIn('DISK_GB', usage)
            self.assertEqual(sorted(s.id for s in servers
                                    if planned[s.id] == dest['host']),
                             sorted(dest['servers']))
        self.assertIn(doc['headroom']['first_short'],
                      ('VCPU', 'MEMORY_MB', 'DISK_GB'))
        self.assertTrue(doc['headroom']['message'].startswith('N+1:'))
        self.assertIn('Capacity plan: feasible', doc['summary'][0])
        self.assertEqual({'enabled'}, set(self.services().values()))
        self.assertFalse(os.path.exists(self.report))

        res = self.run_drain()
        self.assertNotIn('re-planned', res.stderr)
        rows = {r['Server']: r for r in res.json()}
        entries = self.entries()
        for s in servers:
            now = self.compute.get_server(s.id)
            self.assertEqual((planned[s.id], 'ACTIVE'),
                             (now.compute_host, now.status), s.name)
            e = entries[s.id]
            self.assertEqual(('done', planned[s.id], planned[s.id], 1, []),
                             (e['state'], e['planned'], e['destination'],
                              e['attempts'], e['replanned']), s.name)
            self.assertEqual('done', rows[s.id]['State'])
        # no refusal from Nova: one migration per server, none in error
        records = self.migrations_of(servers)
        self.assertEqual(len(servers), len(records))
        self.assertEqual(set(), {m.status for m in records} - {'completed'})
        plan = self.plan_report()
        self.assertTrue(plan['feasible'])
        self.assertEqual(sorted(DESTS),
                         [d['host'] for d in plan['destinations']])
        for dest in plan['destinations']:
            mem = [u for u in dest['usage']
                   if u['resource'] == 'MEMORY_MB'][0]
            self.assertEqual(3584, mem['capacity'])
            self.assertEqual(mem['before'] + PER_DEST * 1024, mem['after'])

    def test_anti_affinity_members_end_on_different_hosts(self):
        group = self.create_server_group('anti-affinity')
        a = self.boot('compute1', 'aa-1', group=group)
        b = self.boot('compute2', 'aa-2', group=group)
        rows, _res = self.dry_run()
        self.assertNotEqual(rows[a.id]['Destination'],
                            rows[b.id]['Destination'])
        self.run_drain()
        hosts = {self.compute.get_server(s.id).compute_host for s in (a, b)}
        self.assertEqual(set(DESTS), hosts)
        entries = self.entries()
        for s in (a, b):
            self.assertEqual(rows[s.id]['Destination'],
                             self.compute.get_server(s.id).compute_host)
            self.assertEqual(1, entries[s.id]['attempts'])

    def test_scheduler_picks_with_max_per_target_0(self):
        servers = self.boot_fleet({'compute1': 1, 'compute2': 1})
        rows, res = self.dry_run('--max-per-target', '0')
        self.assertIn('the scheduler picks each host (--max-per-target 0)',
                      res.stderr)
        for s in servers:
            self.assertEqual('scheduler', rows[s.id]['Destination'])
            self.assertIn(rows[s.id]['Plan']['destination'], DESTS)
            self.assertIn('the scheduler picks', rows[s.id]['Reason'])
        self.run_drain('--max-per-target', '0')
        entries = self.entries()
        for s in servers:
            self.assertIsNone(entries[s.id]['destination'])
            self.assertIn(self.compute.get_server(s.id).compute_host, DESTS)


class TestSpread(PlanTestCase):
    """Spread within a feasible plan (issue: packed plans ran serially).

    Cold migrations of stopped servers: live migrations from one source
    run one at a time anyway (Nova's ``max_concurrent_live_migrations``,
    1 on the bed, which the drain respects).
    """

    def test_packed_plan_spreads_over_free_destinations(self):
        # Best fit packs three of the four on one destination; with
        # --max-per-target 1 the second server takes the other one (its
        # planned servers keep their room) instead of waiting.
        servers = [self.create_server('shutoff', host='compute1',
                                      flavor=self.flavor, name='sp-%d' % i,
                                      metadata={fakecloud.META_COLD_HOLD:
                                                '4'})
                   for i in range(4)]
        rows, _res = self.dry_run()
        planned = [rows[s.id]['Destination'] for s in servers]
        self.assertEqual(3, max(planned.count(d) for d in DESTS), planned)
        self.assertEqual({'cold'}, {rows[s.id]['Action'] for s in servers})
        res = self.run_drain('--max-parallel', '2', '--max-per-target', '1')
        self.assertIn('spread: planned host ', res.stderr)
        entries = self.entries()
        spread = []
        for s in servers:
            e = entries[s.id]
            now = self.compute.get_server(s.id)
            self.assertEqual(('done', e['destination'], 1, 'SHUTOFF'),
                             (e['state'], now.compute_host, e['attempts'],
                              now.status), s.name)
            self.assertIn(now.compute_host, DESTS)
            self.assertEqual('cold', e['action'])      # cold stays cold
            for r in e['replanned']:
                self.assertTrue(r['spread'], r)
                self.assertIn('keeps the plan feasible', r['why'])
                self.assertEqual(e['planned'], r['to'])
                spread.append(s.id)
        self.assertTrue(spread)
        records = self.migrations_of(servers)
        self.assertEqual(4, len(records))
        self.assertEqual({'confirmed'}, {m.status for m in records})
        # two at once, on different destinations
        self.assertEqual(2, test_drain.max_overlap(records,
                                                   'source_compute'))
        self.assertEqual(1, test_drain.max_overlap(records, 'dest_compute'))
        self.assertEqual(set(DESTS), {m.dest_compute for m in records})


class TestInfeasiblePlan(PlanTestCase):

    def test_one_server_too_many(self):
        servers = self.boot_fleet({'compute1': PER_DEST + 1,
                                   'compute2': PER_DEST})
        rows, res = self.dry_run(expect=exitcodes.DRAIN_PLAN_INFEASIBLE)
        self.assertIn('Capacity plan: NOT feasible, 1 of 7', res.stderr)
        self.assertEqual((False, 1), (self.doc['feasible'],
                                      self.doc['unplaced']))
        self.assertIn('--dry-run: a drain would refuse: The plan cannot '
                      'place 1 server(s)', res.stderr)
        left = [s for s in servers if not rows[s.id]['Plan']['destination']]
        self.assertEqual(1, len(left))
        [left] = left
        row = rows[left.id]
        self.assertEqual('skip', row['Action'])
        self.assertIn('the capacity plan fits it nowhere', row['Reason'])
        bindings = {b['host']: b for b in row['Plan']['bindings']}
        self.assertEqual(set(DESTS), set(bindings))
        for b in bindings.values():
            self.assertEqual(('MEMORY_MB', 1024, 512),
                             (b['resource'], b['need'], b['free']))
            self.assertIn('compute', row['Reason'])
        self.assertIn('MEMORY_MB: needs 1024, 512 free', row['Reason'])

        # A real run refuses before disabling anything.
        res = self.run_drain(expect=exitcodes.DRAIN_PLAN_INFEASIBLE)
        self.assertIn('The plan cannot place 1 server(s): %s' % left.name,
                      res.stderr)
        self.assertIn('Nothing was changed; use --allow-partial',
                      res.stderr)
        self.assertNotIn('Traceback', res.stderr)
        self.assertEqual({'enabled'}, set(self.services().values()))
        self.assertEqual([], self.migrations_of(servers))
        self.assertFalse(os.path.exists(self.report))

        # --allow-partial: the six that fit move, the seventh is skipped.
        res = self.run_drain('--allow-partial',
                             expect=exitcodes.DRAIN_INCOMPLETE)
        entries = self.entries()
        for s in servers:
            now = self.compute.get_server(s.id).compute_host
            if s.id == left.id:
                self.assertEqual(('skipped', rows[s.id]['Host']),
                                 (entries[s.id]['state'], now))
                self.assertIn('fits it nowhere', entries[s.id]['reason'])
            else:
                self.assertEqual(('done', entries[s.id]['planned']),
                                 (entries[s.id]['state'], now), s.name)
        self.assertFalse(self.plan_report()['feasible'])
        self.assertEqual({'disabled'}, set(self.services().values()))


class TestReplan(PlanTestCase):
    """The planned host is filled while the drain runs: re-planned."""

    def test_planned_host_filled_mid_drain(self):
        first = self.boot('compute1', 'a-first',
                          metadata={fakecloud.META_STALL: '60'})
        nxt = self.boot('compute1', 'b-next')
        rows, _res = self.dry_run()
        planned = rows[nxt.id]['Destination']
        # best fit: both on one host, one at a time (--max-per-target 1)
        self.assertEqual(planned, rows[first.id]['Destination'])
        other = [h for h in DESTS if h != planned][0]
        env = dict(self.bed.env(), XDG_STATE_HOME=self.state_home)
        proc = subprocess.Popen(
            [base._openstack_binary(), '--os-cloud', fakecloud.CLOUD_ADMIN,
             'compute', 'drain', 'compute1', '-f', 'json', '--report',
             self.report, '--poll-interval', '1', '--max-parallel', '1'],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        self.addCleanup(test_drain._reap, proc)
        self.wait_report_entry(self.report, first, ('migrating',),
                               timeout=120, interval=0.3)
        mig = self.wait_for_migration(first, ('running',))
        self.assertEqual(planned, mig.dest_compute)
        # 3584 - 1024 (a-first) = 2560 free: leave 256
        fill = self.bed.flavor('fc.plan-fill', 1, 2304, 1)
        self.create_server('image', host=planned, flavor=fill,
                           name='fill-%s' % planned)
        self.compute.force_complete_server_migration(mig.id, first)
        out, err = proc.communicate(timeout=300)
        self.addDetail('drain', test_drain._text(err))
        self.assertEqual(exitcodes.OK, proc.returncode, err[-3000:])
        rows = {r['Server']: r for r in json.loads(out)}
        self.assertEqual(('done', other),
                         (rows[nxt.id]['State'],
                          self.compute.get_server(nxt.id).compute_host))
        self.assertEqual(planned,
                         self.compute.get_server(first.id).compute_host)
        entry = self.entries()[nxt.id]
        self.assertEqual((other, other, 2), (entry['planned'],
                                             entry['final_host'],
                                             entry['attempts']))
        [replanned] = entry['replanned']
        self.assertEqual((planned, other),
                         (replanned['from'], replanned['to']))
        self.assertIn('Nova refused %s: ' % planned, replanned['why'])
        self.assertIn('no valid host', replanned['why'].lower())
        self.assertIn('re-planned on fresh facts: live to %s' % other, err)


class TestPlanLibvirt(test_drain.DrainTestCase):
    """A pinned (NUMA) guest goes to the host the plan chose for it."""

    BED_DRIVER = 'libvirt'

    def test_pinned_guest_goes_to_its_planned_host(self):
        pinned = self.server('pinned', name='a-pinned')
        rows = {r['Server']: r for r in self.drain(
            'compute1', '--dry-run').json()['servers']}
        row = rows[pinned.id]
        planned = row['Plan']['destination']
        self.assertIsNotNone(planned, row)
        self.assertEqual((planned, 'live'), (row['Destination'],
                                             row['Action']))
        self.drain('compute1', '--poll-interval', '1')
        now = self.compute.get_server(pinned.id)
        self.assertEqual((planned, 'ACTIVE'), (now.compute_host, now.status))
        entry = [e for e in self.load_report()['servers']
                 if e['id'] == pinned.id][0]
        self.assertEqual((planned, 1, []), (entry['planned'],
                                            entry['attempts'],
                                            entry['replanned']))

    def test_ssh_plan_rests_on_the_hosts_facts(self):
        # issue 15 item 2 / issue 16 item 1: without --ssh free huge pages
        # per cell are not known (the plan's choice is not certain); with
        # --ssh the drain reads the hosts as "migration precheck --ssh"
        # does: compute3 has no huge pages, compute2 has them free, the
        # plan is certain and the guest goes there, first time.
        from testbed import sshhosts
        reason = sshhosts.missing_prerequisites()
        if reason:
            self.skipTest(reason)
        hosts = self.useFixture(sshhosts.SSHHosts.from_bed(
            self.bed.endpoints['control']))
        ssh_args = ['--ssh'] + hosts.ssh_args()
        guest = self.server('hugepages', name='a-hugepages')

        def plan_of(*args):
            rows = {r['Server']: r for r in self.drain(
                'compute1', '--dry-run', *args).json()['servers']}
            return rows[guest.id]['Plan']

        blind = plan_of()
        self.assertFalse(blind['certain'], blind)
        self.assertTrue(blind['unknowns'], blind)
        seen = plan_of(*ssh_args)
        self.assertEqual(('compute2', 'live', True, []),
                         (seen['destination'], seen['kind'],
                          seen['certain'], seen['unknowns']), seen)
        self.drain('compute1', '--poll-interval', '1', *ssh_args)
        now = self.compute.get_server(guest.id)
        self.assertEqual(('compute2', 'ACTIVE'),
                         (now.compute_host, now.status))
        entry = [e for e in self.load_report()['servers']
                 if e['id'] == guest.id][0]
        self.assertEqual(('compute2', 1, []), (entry['planned'],
                                               entry['attempts'],
                                               entry['replanned']))
