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

"""Fleet safety of ``openstack compute drain`` on the fake cloud.

The drain claim (``[drain:<report id>]`` in the disable reason), the
control plane health gate, and "done means re-listed" (issue 16, items 4
to 6), through the real CLI.
"""

import json
import os
import re
import subprocess
import time

from migrationclient import exitcodes
from migrationclient.tests.functional import base
from migrationclient.tests.functional.v1 import test_drain
from testbed import fakecloud

SOURCE = test_drain.SOURCE
REQ_LINE = re.compile(r'^REQ: curl -g -i -X (?P<method>[A-Z]+) '
                      r'"?(?P<url>[^" ]+)"?')


class TestDrainClaim(test_drain.DrainTestCase):

    def set_reason(self, host, reason):
        # By id: with the listed (already disabled) service the SDK sends
        # only the reason, which Nova refuses.
        self.compute.disable_service(self.service(host).id, host=host,
                                     binary='nova-compute',
                                     disabled_reason=reason)

    def test_claim_refuses_second_drain_and_is_never_a_target(self):
        self.server('image')
        self.drain(SOURCE, '--disable-reason', 'rack 4 BIOS',
                   '--poll-interval', '1')
        rid = self.load_report()['id']
        svc = self.service()
        self.assertEqual('disabled', svc.status)
        self.assertEqual('[drain:%s] rack 4 BIOS' % rid,
                         svc.disabled_reason)

        # Another drain of the claimed host (its own report) is refused.
        other = os.path.join(self.state_home, 'other.json')
        res = self.drain(SOURCE, '--report', other, expect=1)
        self.assertIn('%s is claimed by drain %s' % (SOURCE, rid),
                      res.stderr)
        self.assertNotIn('Traceback', res.stderr)
        self.assertFalse(os.path.exists(other))
        self.assertEqual(svc.disabled_reason,
                         self.service().disabled_reason)

        # A claimed host is never a target of another drain.
        res = self.drain('compute2', '--target-host', SOURCE, expect=1)
        self.assertIn('target %s is not usable: claimed by drain %s'
                      % (SOURCE, rid), res.stderr)
        self.assertEqual('enabled', self.service('compute2').status)
        moving = self.create_server('image', host='compute2')
        res = self.drain('compute2', '--poll-interval', '1')
        self.assertEqual('compute3',
                         self.compute.get_server(moving.id).compute_host)

        # The same drain run again (its own report) is not refused.
        self.drain(SOURCE, '--poll-interval', '1')

    def test_enable_and_restore_leave_other_disables_alone(self):
        moved = self.server('image')
        self.drain(SOURCE, '--poll-interval', '1')
        report = self.report_path()
        # Someone disables the host again, for another reason.
        self.set_reason(SOURCE, 'disk failure')
        res = self.drain('--restore', report, '--enable-service',
                         expect=1)
        self.assertIn('not enabled again: disabled by someone else or for '
                      'another reason (disk failure)', res.stderr)
        svc = self.service()
        self.assertEqual(('disabled', 'disk failure'),
                         (svc.status, svc.disabled_reason))
        self.assertNotEqual(SOURCE,
                            self.compute.get_server(moved.id).compute_host)

        # Disabled by someone else before the drain: --enable-when-done
        # claims it but leaves it disabled, the operator's reason kept.
        self._restore_services()            # a disabled host takes no boot
        self.server('image')
        self.set_reason(SOURCE, 'RMA 7')
        fresh = os.path.join(self.state_home, 'fresh.json')
        self.drain(SOURCE, '--report', fresh, '--enable-when-done',
                   '--poll-interval', '1')
        with open(fresh) as stream:
            data = json.load(stream)
        svc = self.service()
        self.assertEqual(('disabled', '[drain:%s] RMA 7' % data['id']),
                         (svc.status, svc.disabled_reason))
        entry = data['service'][SOURCE]
        self.assertEqual((False, False), (entry['disabled_by_drain'],
                                          entry['enabled_when_done']))
        res = self.drain('--restore', fresh, '--enable-service', expect=1)
        self.assertIn('disabled before the drain (RMA 7)', res.stderr)
        self.assertEqual('disabled', self.service().status)


class TestDrainRelist(test_drain.DrainTestCase):

    def test_server_booted_onto_the_host_during_the_drain(self):
        slow = self.server('image', name='a-slow', fakecloud_hold=15)
        late = self.create_server('image', host='compute2', name='b-late')
        env = dict(self.bed.env(), XDG_STATE_HOME=self.state_home)
        cmd = [base._openstack_binary(), '--os-cloud',
               fakecloud.CLOUD_ADMIN, 'compute', 'drain', SOURCE,
               '--poll-interval', '1', '-f', 'json']
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(test_drain._reap, proc)
        deadline = time.monotonic() + 120
        while self.service().status != 'disabled':
            self.assertLess(time.monotonic(), deadline)
            self.assertIsNone(proc.poll())
            time.sleep(0.3)
        # The host is disabled: no boot reaches it (Nova's placement
        # prefilter excludes COMPUTE_STATUS_DISABLED, even for nova:HOST);
        # a forced live migration (compute 2.30 to 2.67, no scheduler)
        # still does, as a boot scheduled just before the disable would.
        self.compute.post(
            '/servers/%s/action' % late.id, microversion='2.30',
            json={'os-migrateLive': {'host': SOURCE, 'force': True,
                                     'block_migration': 'auto'}})
        self.wait_for_migration(late)
        out, err = proc.communicate(timeout=180)
        self.addDetail('drain', test_drain._text(err))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, proc.returncode, err)
        self.assertEqual(SOURCE, self.compute.get_server(late.id).compute_host)
        self.assertNotEqual(SOURCE,
                            self.compute.get_server(slow.id).compute_host)
        rows = {r['Server']: r for r in json.loads(out)}
        self.assertEqual('appeared', rows[late.id]['State'])
        report = self.load_report()
        self.assertEqual('incomplete', report['state'])
        entry = [e for e in report['servers'] if e['id'] == late.id][0]
        self.assertEqual('appeared', entry['state'])
        self.assertIn('appeared on %s' % SOURCE, entry['reason'])
        self.assertIn('b-late', err)


class TestDrainHealthGate(test_drain.DrainTestCase):

    def test_scheduler_down_refuses(self):
        self.server('image')
        self.stop_control_service('scheduler')
        deadline = time.monotonic() + 60
        while not [s for s in self.compute.services(binary='nova-scheduler')
                   if s.state == 'down']:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(1)
        res = self.drain(SOURCE, expect=1)
        self.assertIn('Health gate: nova-scheduler is down on controller',
                      res.stderr)
        self.assertEqual(1, len(res.stderr.strip().splitlines()),
                         res.stderr)
        self.assertEqual('enabled', self.service().status)
        self.assertFalse(os.path.exists(self.report_path()))


class TestDrainRequests(test_drain.DrainTestCase):

    def test_what_the_gate_and_the_relist_cost(self):
        """One os-services list, one Placement GET /, one re-list per host.

        The gate reads conductor and scheduler from the services list the
        drain makes anyway (no binary filter); Placement costs one
        ``GET /``; the re-list one ``GET /servers/detail`` per host.
        """
        self.server('image')
        res = self.openstack('--debug', 'compute', 'drain', SOURCE,
                             '--poll-interval', '1', check=False,
                             env={'XDG_STATE_HOME': self.state_home})
        self.assertEqual(0, res.returncode, res.stderr[-3000:])
        made = [(m.group('method'), m.group('url'))
                for m in map(REQ_LINE.match, res.stderr.splitlines()) if m]
        compute = self.bed.endpoints['compute']
        placement = self.bed.endpoints['placement']
        # One list of every service (the plan and the gate); the lists of
        # nova-compute before each submission cycle are as before.
        services = [u for m, u in made if m == 'GET' and
                    u.startswith(compute + '/os-services')]
        self.assertEqual(compute + '/os-services', services[0])
        self.assertEqual(
            [compute + '/os-services?binary=nova-compute'] *
            (len(services) - 1), services[1:])
        # The gate's GET / (the bare endpoint before it is the SDK's
        # version discovery, made for the plan's Placement reads anyway).
        roots = [u for m, u in made if m == 'GET' and
                 u == placement.rstrip('/') + '/']
        self.assertEqual(1, len(roots), made)
        # The drain's listing, the constraint library's (gather), and the
        # final re-list, after the last migration.
        listed = [u for m, u in made if m == 'GET' and
                  u.startswith(compute + '/servers/detail') and
                  SOURCE in u]
        self.assertEqual(3, len(listed), listed)
        self.assertEqual(listed[-1], made[-1][1])
        self.addDetail('requests', test_drain._text(
            '%d requests\n%s' % (len(made), '\n'.join(
                '%s %s' % r for r in made))))
