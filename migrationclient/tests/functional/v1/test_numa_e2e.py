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

"""``openstack numa compare`` end to end: the Nova test bed + SSH hosts.

A server is booted on ``compute1`` of the fake cloud (real Nova, fake
driver); one real sshd per bed compute (``compute1..3``, 127.0.0.x) shows
a libvirt test-driver domain named after the server's
``OS-EXT-SRV-ATTR:instance_name``.  The real ``openstack`` CLI takes the
snapshot (``--save``), the server is live-migrated on the bed, the
destination's XML is set to the placement under test, and the real CLI
compares (``--before``): rows, verdicts and exit status.
"""

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time

from migrationclient.cloud import servers
from migrationclient.engine import numa as engine_numa
from migrationclient import exitcodes
from migrationclient.host import snapshot as snapshot_file
from migrationclient.host import ssh
from migrationclient.tests.functional import base
from migrationclient.tests.functional.v1 import test_numa
from testbed import sshhosts

SOURCE = 'compute1'
COMPUTES = ('compute1', 'compute2', 'compute3')
# test_numa's neighbour (pinned on CPUs 6-7, cell 1), under a name no Nova
# instance of the bed can have (a shared bed may reach instance-00000009)
NEIGHBOUR = dataclasses.replace(test_numa.NEIGHBOUR, name='neighbour-vm')


class NumaCompareEndToEndTest(base.FunctionalTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reason = sshhosts.missing_prerequisites()
        if reason:
            raise cls.skipException(reason)
        cls.hosts = sshhosts.SSHHosts({name: {} for name in COMPUTES})
        cls.hosts.setUp()

    @classmethod
    def tearDownClass(cls):
        cls.hosts.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix='numa-e2e-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.snapshot = os.path.join(self.dir, 'before.json')
        for host in self.hosts.hosts.values():
            host.write_state(test_numa.state())

    # -- helpers ----------------------------------------------------------

    def guest(self, domain, cell, vf=None):
        """test_numa's pinned guest (VF + macvtap NIC), named ``domain``."""
        return dataclasses.replace(test_numa.guest(cell, vf=vf), name=domain)

    def numa(self, *args, known_hosts=None):
        """The real CLI: ``openstack numa compare ARGS -f json`` + SSH."""
        argv = ['numa', 'compare'] + list(args) + [
            '-f', 'json', '--ssh-user', sshhosts.USER,
            '--ssh-key', self.hosts.client_key, '--ssh-no-agent',
            '--ssh-config', '', '--ssh-timeout', '15',
            '--ssh-known-hosts', known_hosts or self.hosts.known_hosts]
        for name, host in sorted(self.hosts.hosts.items()):
            argv += ['--ssh-host', '%s=%s:%d' % (name, host.address,
                                                 host.port)]
        return self.openstack(*argv, check=False)

    def boot(self):
        """Boot on compute1 and show its domain there; (server, domain)."""
        server = self.create_server(host=SOURCE)
        server = self.connection().compute.get_server(server.id)
        domain = server.instance_name
        self.assertTrue(domain, 'no OS-EXT-SRV-ATTR:instance_name')
        self.assertEqual(SOURCE, server.compute_host)
        self.hosts.hosts[SOURCE].write_state(test_numa.state(
            self.guest(domain, 0), test_numa.FLOATING))
        return server, domain

    def boot_and_save(self):
        """Boot on compute1, snapshot with the CLI; (server, domain)."""
        server, domain = self.boot()
        res = self.numa(server.id, '--save', self.snapshot)
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        saved = {r['Aspect']: r['Value'] for r in res.json()}
        self.assertEqual(SOURCE, saved['host'])
        self.assertEqual(domain, saved['domain'])
        self.assertEqual('cell 0: vCPU 0-1', saved['vCPU cells'])
        self.assertEqual('0', saved['memory nodeset'])
        self.assertEqual('none', saved['pinned neighbours'])
        with open(self.snapshot) as handle:
            data = json.load(handle)
        self.assertEqual(server.id, data['server']['id'])
        self.assertEqual(SOURCE, data['placement']['host'])
        return server, domain

    def live_migrate(self, server, destination):
        """Live-migrate on the bed; wait for ``completed`` + the new host."""
        compute = self.connection().compute
        compute.live_migrate_server(server, host=destination,
                                    block_migration='auto')
        migration = self.wait_for_migration(
            server, ('completed', 'failed', 'error'),
            migration_type='live-migration')
        self.assertEqual('completed', migration.status)
        self.assertEqual(destination, migration.dest_compute)
        deadline = time.monotonic() + 60
        while True:
            current = self.wait_for_server(server, 'ACTIVE')
            if current.compute_host == destination:
                return current
            self.assertLess(time.monotonic(), deadline,
                            'server still on %s' % current.compute_host)
            time.sleep(0.2)

    def migrate_and_compare(self, destination, *after_guests):
        """Save on compute1, migrate, show ``after_guests``, --before."""
        server, domain = self.boot_and_save()
        self.live_migrate(server, destination)
        guests = [self.guest(domain, *g) if isinstance(g, tuple) else g
                  for g in after_guests]
        self.hosts.hosts[destination].write_state(test_numa.state(*guests))
        res = self.numa(server.name, '--before', self.snapshot)
        self.assertNotIn('Traceback', res.stderr)
        rows = {r['Aspect']: r for r in (res.json() or [])}
        self.assertEqual((SOURCE, destination),
                         (rows['host']['Before'], rows['host']['After']),
                         res.stdout)
        return res, rows

    def degraded(self, rows):
        return {a: r['Verdict'] for a, r in rows.items()
                if r['Verdict'].startswith('degraded')}

    # -- tests ------------------------------------------------------------

    def test_equivalent_placement_exits_0(self):
        res, rows = self.migrate_and_compare('compute2', (1,))
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        self.assertEqual({}, self.degraded(rows), res.stdout)
        self.assertEqual('info', rows['host']['Verdict'])
        cells = rows['vCPU cells']
        self.assertEqual(('cell 0: vCPU 0-1', 'cell 1: vCPU 0-1',
                          'moved-equivalent'),
                         (cells['Before'], cells['After'], cells['Verdict']))
        self.assertEqual(('0', '1', 'moved-equivalent'),
                         (rows['memory nodeset']['Before'],
                          rows['memory nodeset']['After'],
                          rows['memory nodeset']['Verdict']))
        self.assertEqual('same', rows['page size']['Verdict'])
        self.assertEqual('same', rows['pinned neighbours']['Verdict'])
        nics = {r['Before']: r for a, r in rows.items()
                if a.startswith('NIC ')}
        self.assertEqual({'0000:3b:02.1 (cell 0)', 'ens1f0 (cell 0)'},
                         set(nics), res.stdout)
        self.assertEqual('0000:af:02.1 (cell 1)',
                         nics['0000:3b:02.1 (cell 0)']['After'])
        self.assertEqual('ens2f0 (cell 1)',
                         nics['ens1f0 (cell 0)']['After'])
        self.assertNotIn('degraded', res.stderr)

    def test_nic_on_another_cell_is_degraded(self):
        # vCPUs and memory on cell 1, the VF still on cell 0
        res, rows = self.migrate_and_compare(
            'compute2', (1, '0000:3b:02.1'))
        self.assertEqual(exitcodes.NUMA_DEGRADED, res.returncode,
                         res.stderr)
        vf = [a for a, r in rows.items()
              if r['After'] == '0000:3b:02.1 (cell 0)']
        self.assertEqual(1, len(vf), res.stdout)
        self.assertEqual(
            {vf[0]: 'degraded: NIC on cell 0, vCPUs on cell 1'},
            self.degraded(rows))
        self.assertIn('NUMA placement degraded: %s: NIC on cell 0' % vf[0],
                      res.stderr)

    def test_neighbour_on_the_same_cell_is_degraded(self):
        res, rows = self.migrate_and_compare(
            'compute3', (1,), NEIGHBOUR)
        self.assertEqual(exitcodes.NUMA_DEGRADED, res.returncode,
                         res.stderr)
        neighbour = NEIGHBOUR.name
        self.assertEqual(
            {'pinned neighbours': "degraded: %s is pinned on the guest's "
                                  "cell 1" % neighbour},
            self.degraded(rows))
        self.assertEqual(('none', '%s (cell 1)' % neighbour),
                         (rows['pinned neighbours']['Before'],
                          rows['pinned neighbours']['After']))

    def test_unknown_destination_host_key_fails_in_one_line(self):
        # --save through the CLI is covered above: take the snapshot
        # through the command's seam (same bed lookup, same SSH) instead
        server, domain = self.boot()
        compute = self.connection().compute
        options = ssh.SSHOptions(
            user=sshhosts.USER, keys=(self.hosts.client_key,),
            allow_agent=False, config_file=None,
            known_hosts=self.hosts.known_hosts, timeout=15,
            host_map={n: '%s:%d' % (h.address, h.port)
                      for n, h in self.hosts.hosts.items()})
        with ssh.HostPool(options) as pool:
            location = servers.locate_server(compute, server.id)
            self.assertEqual((SOURCE, domain),
                             (location.host, location.domain))
            data, _placement = engine_numa.take_snapshot(pool, location)
        snapshot_file.write_snapshot(self.snapshot, data)
        self.live_migrate(server, 'compute2')
        self.hosts.hosts['compute2'].write_state(
            test_numa.state(self.guest(domain, 1)))
        known = self.hosts.write_known_hosts('kh-no-compute2',
                                             skip=('compute2',))
        res = self.numa(server.id, '--before', self.snapshot,
                        known_hosts=known)
        self.assertNotIn(res.returncode, (exitcodes.OK,
                                          exitcodes.NUMA_DEGRADED))
        self.assertEqual('', res.stdout)
        self.assertNotIn('Traceback', res.stderr)
        lines = [line for line in res.stderr.splitlines() if line.strip()]
        self.assertEqual(1, len(lines), res.stderr)
        host = self.hosts.hosts['compute2']
        self.assertRegex(lines[0], r'^host compute2 \(%s\): unknown host '
                         r'key ssh-ed25519 SHA256:\S+ for \[%s\]:%d '
                         % ((re.escape(host.address),) * 2 + (host.port,)))
        self.assertIn('--ssh-accept-new-host-key', lines[0])
