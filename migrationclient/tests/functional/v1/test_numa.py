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

"""``numa compare`` against real sshd + real virsh (libvirt test driver).

The cloud side (server -> compute host + libvirt name + address) is the
seam :class:`migrationclient.cloud.servers.ServerLocation`; these tests
build it the way the compute API would fill it and drive everything below
it for real.  ``--hosts`` needs no cloud and runs the command class itself.
"""

import io
import json
import os
import shutil
import tempfile
import time
import types

import testtools

from migrationclient.cloud import servers
from migrationclient.engine import numa as engine_numa
from migrationclient import exitcodes
from migrationclient.host import probe
from migrationclient.host import snapshot as snapshot_file
from migrationclient.host import ssh
from migrationclient.v1 import numa
from testbed import sshhosts
from testbed.sshhosts import render

DOMAIN = 'instance-00000001'
SRC, DST, NONUMA = 'cmp-src', 'cmp-dst', 'cmp-nonuma'
NICS = {'ens1f0': (0, '0000:3b:00.0'), 'ens2f0': (1, '0000:af:00.0')}
VFS = {'0000:3b:02.1': 0, '0000:af:02.1': 1}


def guest(cell, vf=None, direct=None):
    cpus = (0, 1) if cell == 0 else (4, 5)
    return render.Guest(
        DOMAIN, vcpu_pins={0: str(cpus[0]), 1: str(cpus[1])},
        emulator='%d-%d' % cpus, nodeset=str(cell), hugepages_kib=2048,
        vfs=(vf or ('0000:3b:02.1', '0000:af:02.1')[cell],),
        direct=(direct or ('ens1f0', 'ens2f0')[cell],))


def state(*guests, nics=None):
    return render.HostState(nics=nics or NICS, pci=VFS, guests=guests)


NEIGHBOUR = render.Guest('instance-00000009', vcpu_pins={0: '6', 1: '7'},
                         nodeset='1')
FLOATING = render.Guest('instance-0000000a')


class NumaCompareTest(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        reason = sshhosts.missing_prerequisites()
        if reason:
            raise cls.skipException(reason)
        cls.bed = sshhosts.SSHHosts({SRC: {}, DST: {},
                                     NONUMA: {'missing': ('numactl',)}})
        cls.bed.setUp()

    @classmethod
    def tearDownClass(cls):
        cls.bed.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix='numa-test-')
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.bed.hosts[SRC].write_state(state(guest(0), FLOATING))
        self.bed.hosts[DST].write_state(state())
        self.bed.hosts[NONUMA].write_state(state())

    def host_map(self):
        return {name: '%s:%d' % (host.address, host.port)
                for name, host in self.bed.hosts.items()}

    def options(self, **kw):
        values = dict(user=sshhosts.USER, keys=(self.bed.client_key,),
                      allow_agent=False, config_file=None,
                      known_hosts=self.bed.known_hosts,
                      host_map=self.host_map(), timeout=10)
        values.update(kw)
        return ssh.SSHOptions(**values)

    def pool(self, **kw):
        pool = ssh.HostPool(self.options(**kw))
        self.addCleanup(pool.close)
        return pool

    def location(self, host):
        return servers.ServerLocation('uuid-1', 'vm1', host, DOMAIN)

    def snapshot_then_compare(self, after_host):
        """--save on the source, then --before on ``after_host``."""
        path = os.path.join(self.dir, 'before.json')
        data, placement = engine_numa.take_snapshot(self.pool(),
                                                    self.location(SRC))
        snapshot_file.write_snapshot(path, data)
        snapshot, before = snapshot_file.read_snapshot(path)
        self.assertEqual(placement, before)
        rows = engine_numa.compare_with_snapshot(self.pool(),
                                                 self.location(after_host),
                                                 snapshot, before)
        return {row.aspect: row for row in rows}

    # -- placements -------------------------------------------------------

    def test_snapshot_facts(self):
        pool = self.pool()
        topo = probe.gather_host_facts(pool, SRC)
        self.assertEqual([[0, 1, 2, 3], [4, 5, 6, 7]],
                         [c.cpus for c in topo.cells])
        self.assertEqual({'ens1f0': 0, 'ens2f0': 1}, topo.nics)
        self.assertEqual(512, topo.cells[1].pages_free[2048])
        placement = probe.guest_facts(pool, SRC, DOMAIN)
        self.assertEqual({0: [0], 1: [1]}, placement.vcpu_pins)
        self.assertEqual([0], placement.cells)
        self.assertEqual(('strict', [0], 2048),
                         (placement.memory_mode, placement.memory_nodeset,
                          placement.page_size_kib))
        self.assertEqual([('hostdev', '0000:3b:02.1', 0),
                          ('direct', 'ens1f0', 0)],
                         [(n.kind, n.device, n.cell)
                          for n in placement.nics])
        self.assertEqual([], placement.neighbours)  # FLOATING is unpinned

    def test_same_placement(self):
        rows = self.snapshot_then_compare(SRC)
        self.assertEqual({'same'}, {r.verdict for r in rows.values()},
                         rows)

    def test_moved_equivalent(self):
        self.bed.hosts[DST].write_state(state(guest(1)))
        rows = self.snapshot_then_compare(DST)
        self.assertFalse([r for r in rows.values() if r.degraded], rows)
        self.assertEqual('moved-equivalent', rows['vCPU cells'].verdict)
        self.assertEqual('cell 1: vCPU 0-1', rows['vCPU cells'].after)
        self.assertEqual('moved-equivalent', rows['memory nodeset'].verdict)
        self.assertEqual('same', rows['page size'].verdict)

    def test_nic_on_another_cell(self):
        self.bed.hosts[DST].write_state(state(guest(1, vf='0000:3b:02.1')))
        rows = self.snapshot_then_compare(DST)
        vf = [r for a, r in rows.items() if '3b:02.1 (cell 0)' in r.after]
        self.assertEqual(1, len(vf), rows)
        self.assertEqual('degraded: NIC on cell 0, vCPUs on cell 1',
                         vf[0].verdict)

    def test_neighbour_on_destination_cell(self):
        self.bed.hosts[DST].write_state(state(guest(1), NEIGHBOUR))
        rows = self.snapshot_then_compare(DST)
        self.assertEqual("degraded: instance-00000009 is pinned on the "
                         "guest's cell 1", rows['pinned neighbours'].verdict)
        self.assertEqual('none', rows['pinned neighbours'].before)

    def test_stopped_server(self):
        # a cold-migrated server is compared while shut off
        stopped = guest(1)
        stopped.running = False
        self.bed.hosts[DST].write_state(state(stopped))
        rows = self.snapshot_then_compare(DST)
        self.assertFalse([r for r in rows.values() if r.degraded], rows)
        self.assertEqual('moved-equivalent', rows['vCPU pinning'].verdict)

    def test_hosts_command(self):
        status, out = self.run_command(
            '--hosts', SRC, DST, '-f', 'json')
        self.assertEqual(0, status, out)
        rows = {r['Aspect']: r for r in json.loads(out)}
        self.assertEqual('same', rows['NIC ens1f0']['Verdict'])
        self.assertEqual('same', rows['cell 1 CPUs']['Verdict'])
        nics = dict(NICS, ens1f0=(1, '0000:3b:00.0'))
        self.bed.hosts[DST].write_state(state(nics=nics))
        status, out = self.run_command('--hosts', SRC, DST, '-f', 'json')
        self.assertEqual(exitcodes.NUMA_DEGRADED, status)
        rows = {r['Aspect']: r for r in json.loads(out)}
        self.assertEqual('degraded: ens1f0 on cell 1, not 0',
                         rows['NIC ens1f0']['Verdict'])

    def run_command(self, *argv):
        app = types.SimpleNamespace(
            stdout=io.StringIO(), stderr=io.StringIO(), stdin=io.StringIO(),
            client_manager=None,
            command_manager=types.SimpleNamespace(namespace='openstack.cli'))
        cmd = numa.CompareNuma(app, None, cmd_name='numa compare')
        args = ['--ssh-user', sshhosts.USER, '--ssh-key',
                self.bed.client_key, '--ssh-no-agent', '--ssh-config', '',
                '--ssh-known-hosts', self.bed.known_hosts]
        for name, address in self.host_map().items():
            args += ['--ssh-host', '%s=%s' % (name, address)]
        parsed = cmd.get_parser('openstack numa compare').parse_args(
            list(argv) + args)
        status = cmd.run(parsed)
        return status, app.stdout.getvalue()

    # -- failures: one line naming the host -------------------------------

    def test_unknown_host_key_refused(self):
        known = self.bed.write_known_hosts('kh-unknown', skip=(DST,))
        error = self.assertRaises(ssh.HostKeyUnknown,
                                  probe.gather_host_facts,
                                  self.pool(known_hosts=known), DST)
        self.assertRegex(str(error), r'^host cmp-dst \(127\.0\.0\.\d+'
                         r'(:\d+)?\): unknown host key ssh-ed25519 '
                         r'SHA256:\S+ ')
        self.assertIn('--ssh-accept-new-host-key', str(error))
        self.assertNotIn('\n', str(error))

    def test_accept_new_host_key_saves_it(self):
        known = self.bed.write_known_hosts('kh-accept', skip=(DST,))
        warnings = []
        pool = ssh.HostPool(self.options(known_hosts=known,
                                         accept_new_host_key=True),
                            warn=warnings.append)
        self.addCleanup(pool.close)
        probe.gather_host_facts(pool, DST)
        self.assertEqual(1, len(warnings))
        self.assertIn('accepting NEW host key', warnings[0])
        with open(known) as handle:
            self.assertIn(self.bed.hosts[DST].host_key_pub, handle.read())
        # and the saved key is then verified like any other
        probe.gather_host_facts(self.pool(known_hosts=known), DST)

    def test_changed_host_key_refused(self):
        known = self.bed.write_known_hosts(
            'kh-changed', keys={DST: self.bed.other_key()})
        for accept in (False, True):
            error = self.assertRaises(
                ssh.HostKeyChanged, probe.gather_host_facts,
                self.pool(known_hosts=known, accept_new_host_key=accept),
                DST)
            self.assertIn('host key CHANGED', str(error))

    def test_timeout(self):
        self.bed.hosts[DST].write_state(state(guest(1)), hang=True)
        started = time.monotonic()
        error = self.assertRaises(ssh.CommandTimeout,
                                  probe.gather_host_facts,
                                  self.pool(timeout=1.5), DST)
        self.assertLess(time.monotonic() - started, 10)
        self.assertRegex(str(error), r'^host cmp-dst .*: virsh \S+.* did '
                         r'not finish within 1.5 s')

    def test_command_missing(self):
        error = self.assertRaises(ssh.CommandMissing,
                                  probe.gather_host_facts, self.pool(),
                                  NONUMA)
        self.assertRegex(str(error), r'^host cmp-nonuma .*: numactl is not '
                         r'installed or not in PATH')

    def test_container_engine_missing(self):
        # cmp-nonuma's PATH has only basic tools: no podman there
        error = self.assertRaises(
            ssh.CommandMissing, probe.gather_host_facts,
            self.pool(virsh_container='nova_libvirt'), NONUMA)
        self.assertRegex(str(error), r'^host cmp-nonuma .*: podman is not '
                         r'installed or not in PATH \(virsh capabilities')

    def test_malformed_output(self):
        self.bed.hosts[DST].write_state(state(guest(1)),
                                        corrupt='capabilities.xml')
        error = self.assertRaises(ssh.OutputUnparsable,
                                  probe.gather_host_facts, self.pool(), DST)
        self.assertRegex(str(error), r'^host cmp-dst .*: cannot read the '
                         r'output of virsh capabilities: .*not XML')

    def test_unknown_domain(self):
        error = self.assertRaises(ssh.CommandFailed, probe.guest_facts,
                                  self.pool(), DST, DOMAIN)
        self.assertIn('exited 1', str(error))
        self.assertIn(DOMAIN, str(error))

    def test_wrong_user_and_refused_port(self):
        error = self.assertRaises(ssh.AuthenticationFailed,
                                  probe.gather_host_facts,
                                  self.pool(user='root'), SRC)
        self.assertIn('authentication failed as user root', str(error))
        closed = self.host_map()
        host = self.bed.hosts[SRC]
        closed[SRC] = '%s:%d' % (host.address, sshhosts._free_port(
            host.address))
        error = self.assertRaises(ssh.HostUnreachable,
                                  probe.gather_host_facts,
                                  self.pool(host_map=closed), SRC)
        self.assertIn('cannot connect to port', str(error))

    def test_proxy_jump(self):
        jump = self.bed.hosts[SRC]
        pool = self.pool(proxy_jump='%s@%s:%d' % (sshhosts.USER,
                                                  jump.address, jump.port))
        topo = probe.gather_host_facts(pool, DST)
        self.assertEqual(2, len(topo.cells))

    def test_cli_error_is_one_line(self):
        self.bed.hosts[DST].write_state(state(), hang=True)
        from osc_lib import exceptions
        error = self.assertRaises(exceptions.CommandError, self.run_command,
                                  '--hosts', SRC, DST, '--ssh-timeout', '1')
        self.assertNotIn('\n', str(error))
        self.assertTrue(str(error).startswith('host cmp-dst'))
