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
"""Functional tests of the test bed itself (real Nova, real CLI)."""

import ipaddress
import json
import os
import signal
import time
import urllib.error
import urllib.request

import testtools

from testbed import client
from testbed import fakecloud

IN_PROGRESS = ('queued', 'preparing', 'running', 'post-migrating')


def _http(url, headers=None):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b'null')
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b'null')


def assert_loopback_host_ips(test):
    """Each hypervisor's host_ip is its own address in 127.0.0.0/8."""
    loopback = ipaddress.ip_network('127.0.0.0/8')
    rows = test.openstack_json('hypervisor', 'list')
    ips = {r['Hypervisor Hostname']: r['Host IP'] for r in rows}
    test.assertEqual(sorted(test.bed.hosts), sorted(ips))
    for host, ip in ips.items():
        test.assertIn(ipaddress.ip_address(ip), loopback, host)
        test.assertEqual(fakecloud.host_ip(host), ip)
        shown = test.openstack_json('hypervisor', 'show', host)
        test.assertEqual(ip, shown['host_ip'])
    test.assertEqual(len(ips), len(set(ips.values())), ips)


class TestBedServices(client.BedTestCase):

    def test_services_listed_by_real_cli(self):
        services = self.openstack_json('compute', 'service', 'list')
        computes = sorted(s['Host'] for s in services
                          if s['Binary'] == 'nova-compute')
        self.assertEqual(['compute1', 'compute2', 'compute3'], computes)
        self.assertEqual({'up'}, {s['State'] for s in services})
        self.assertIn('nova-scheduler', {s['Binary'] for s in services})
        self.assertIn('nova-conductor', {s['Binary'] for s in services})

    def test_placement_has_a_provider_per_compute(self):
        conn = self.connection()
        names = sorted(rp.name for rp in conn.placement.resource_providers())
        self.assertEqual(['compute1', 'compute2', 'compute3'], names)

    def test_images_by_name(self):
        image = self.osc_json('image', 'show', 'cirros')
        self.assertEqual(fakecloud.IMAGE_CIRROS, image['id'])

    def test_hypervisors_report_loopback_host_ips(self):
        assert_loopback_host_ips(self)

    def test_state_file(self):
        state = self.bed.state
        self.assertEqual(self.bed.pid, state['pid'])
        for name in ('compute', 'compute_member', 'placement', 'identity',
                     'image', 'network', 'control'):
            self.assertTrue(state['endpoints'][name].startswith(
                'http://127.0.0.1:'), name)


class TestBedLifecycle(testtools.TestCase):

    def test_sigterm_stops_it_cleanly(self):
        bed = client.Bed(computes=1).start()
        self.addCleanup(bed.stop)
        state_file = os.path.join(bed.state_dir, 'state.json')
        self.assertTrue(os.path.exists(state_file))
        self.assertEqual(bed.pid, bed.state['pid'])
        status, _ = _http(bed.endpoints['compute'] + '/flavors')
        self.assertEqual(200, status)
        os.kill(bed.pid, signal.SIGTERM)
        self.assertEqual(0, bed.proc.wait(60))
        self.assertFalse(os.path.exists(state_file))
        self.assertRaises(urllib.error.URLError, _http,
                          bed.endpoints['compute'] + '/flavors')


class TestServerKinds(client.BedTestCase):

    def test_kinds_on_fake_driver(self):
        expected = {
            'image': 'ACTIVE', 'volume': 'ACTIVE', 'config_drive': 'ACTIVE',
            'shutoff': 'SHUTOFF', 'paused': 'PAUSED', 'error': 'ERROR',
            'locked': 'ACTIVE', 'affinity': 'ACTIVE',
            'anti-affinity': 'ACTIVE',
        }
        for kind, status in expected.items():
            server = self.create_server(kind, host='compute1')
            self.assertEqual(status, server.status, kind)
            self.assertEqual('compute1', server.compute_host, kind)
        locked = self.create_server('locked', host='compute2')
        self.assertTrue(locked.is_locked)
        vol = self.create_server('volume', host='compute2')
        self.assertFalse(getattr(vol.image, 'id', None))

    def test_error_server_with_fault_is_listed(self):
        server = self.create_server('error_fault')
        self.assertEqual('ERROR', server.status)
        self.assertIsNone(server.compute_host)
        listed = self.osc_json('server', 'list', '--all-projects')
        self.assertIn(server.id, [s['ID'] for s in listed])

    def test_libvirt_kinds_need_libvirt_bed(self):
        self.assertRaises(client.BedError, self.create_server, 'pinned')


class TestLiveMigration(client.BedTestCase):

    def test_live_migration_by_real_cli(self):
        server = self.create_server(host='compute1')
        self.openstack('server', 'migrate', '--live-migration', server.id)
        mig = self.wait_for_migration(server, ('completed', 'failed',
                                               'error'))
        self.assertEqual('completed', mig.status)
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertNotEqual('compute1', server.compute_host)
        self.assertEqual(server.compute_host, mig.dest_compute)

    def test_live_migration_to_named_host(self):
        server = self.create_server(host='compute1')
        self.osc('--os-compute-api-version', '2.30', 'server', 'migrate',
                 '--live-migration', '--host', 'compute3', server.id)
        self.wait_for_migration(server)
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertEqual('compute3', server.compute_host)

    def test_held_migration_shows_memory_progress(self):
        server = self.create_server(host='compute1', metadata={
            fakecloud.META_HOLD: '6'})
        compute = self.connection().compute
        compute.live_migrate_server(server, host=None,
                                    block_migration='auto')
        seen = []
        listed = False
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            migs = list(compute.server_migrations(server))
            if not migs:
                if listed:
                    break  # finished: no longer listed as in progress
                # Not listed yet ("accepted" is not in progress).
                time.sleep(0.3)
                continue
            listed = True
            mig = migs[0]
            if mig.status == 'running' and mig.memory_processed_bytes:
                seen.append((mig.memory_processed_bytes,
                             mig.memory_remaining_bytes,
                             mig.memory_total_bytes))
            time.sleep(0.3)
        self.assertGreaterEqual(len(seen), 3, seen)
        processed = [s[0] for s in seen]
        self.assertEqual(sorted(processed), processed)
        self.assertLess(processed[0], processed[-1])
        for done, left, total in seen:
            self.assertGreaterEqual(done, 1)
            self.assertGreaterEqual(left, 1)
            self.assertEqual(total, done + left)
        self.assertEqual('completed', self.wait_for_migration(server).status)

    def test_abort_stalled_migration_by_real_cli(self):
        server = self.create_server(host='compute1', metadata={
            fakecloud.META_STALL: '30'})
        compute = self.connection().compute
        compute.live_migrate_server(server, host=None,
                                    block_migration='auto')
        mig = self.wait_for_migration(server, ('running',))
        self.openstack('--os-compute-api-version', '2.24', 'server',
                       'migration', 'abort', server.id, str(mig.id))
        mig = self.wait_for_migration(server, ('cancelled', 'completed',
                                               'failed', 'error'))
        self.assertEqual('cancelled', mig.status)
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertEqual('compute1', server.compute_host)

    def test_force_complete_stalled_migration_by_real_cli(self):
        server = self.create_server(host='compute1', metadata={
            fakecloud.META_STALL: '50'})
        compute = self.connection().compute
        compute.live_migrate_server(server, host=None,
                                    block_migration='auto')
        mig = self.wait_for_migration(server, ('running',))
        time.sleep(1.5)
        stalled = list(compute.server_migrations(server))[0]
        self.assertEqual('running', stalled.status)
        half = stalled.memory_total_bytes // 2
        self.assertEqual(half, stalled.memory_processed_bytes)
        self.openstack('--os-compute-api-version', '2.22', 'server',
                       'migration', 'force', 'complete', server.id,
                       str(mig.id))
        mig = self.wait_for_migration(server, ('completed', 'failed',
                                               'error', 'cancelled'))
        self.assertEqual('completed', mig.status)
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertNotEqual('compute1', server.compute_host)

    def test_failure_rolls_back(self):
        server = self.create_server(host='compute1', metadata={
            fakecloud.META_FAIL: '1', fakecloud.META_HOLD: '1'})
        self.connection().compute.live_migrate_server(
            server, host=None, block_migration='auto')
        mig = self.wait_for_migration(server, ('failed', 'error',
                                               'completed'))
        self.assertEqual('failed', mig.status)
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertEqual('compute1', server.compute_host)

    def test_abort_while_preparing(self):
        server = self.create_server(host='compute1', metadata={
            # Long enough for the abort to arrive on a loaded machine.
            fakecloud.META_PREPARE_HOLD: '15'})
        compute = self.connection().compute
        compute.live_migrate_server(server, host=None,
                                    block_migration='auto')
        mig = self.wait_for_migration(server, ('preparing',))
        self.osc('--os-compute-api-version', '2.65', 'server', 'migration',
                 'abort', server.id, str(mig.id))
        mig = self.wait_for_migration(server, ('cancelled', 'completed',
                                               'failed', 'error'))
        self.assertEqual('cancelled', mig.status)
        self.assertEqual('compute1',
                         self.wait_for_server(server, 'ACTIVE').compute_host)

    def test_migrations_queue_behind_the_concurrency_limit(self):
        # Nova's default max_concurrent_live_migrations = 1 per compute.
        servers = [self.create_server(host='compute2', metadata={
            fakecloud.META_HOLD: '3'}) for _ in range(2)]
        compute = self.connection().compute
        for server in servers:
            compute.live_migrate_server(server, host=None,
                                        block_migration='auto')
        self.wait_for_migration(servers[0], ('running',))
        second = self.wait_for_migration(servers[1], ('queued',))
        self.assertEqual('queued', second.status)
        for server in servers:
            self.assertEqual('completed', self.wait_for_migration(
                server, timeout=60).status)

    def test_the_limit_holds_per_source_host(self):
        # One pool per compute, as one process each has on a real cloud:
        # a live migration from compute2 does not queue behind one from
        # compute1 (the bed's computes share one process, and Nova's
        # pool is process-wide: testbed/fakecloud/livepool.py).
        servers = [self.create_server(host=host, metadata={
            fakecloud.META_HOLD: '6'}) for host in ('compute1', 'compute2')]
        compute = self.connection().compute
        for server in servers:
            compute.live_migrate_server(server, host='compute3',
                                        block_migration='auto')
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = {m.server_id: m.status for m in compute.migrations()
                   if m.server_id in {s.id for s in servers}}
            seen.append(tuple(sorted(now.values())))
            if seen[-1] == ('running', 'running') or \
                    'completed' in now.values():
                break
            time.sleep(0.2)
        self.assertEqual(('running', 'running'), seen[-1],
                         'both from different sources must run at once; '
                         'seen %s' % sorted(set(seen)))
        for server in servers:
            self.assertEqual('completed', self.wait_for_migration(
                server, timeout=60).status)


class TestColdMigration(client.BedTestCase):

    def test_cold_migration_and_confirm_by_real_cli(self):
        server = self.create_server(host='compute1')
        self.openstack('server', 'migrate', server.id)
        self.wait_for_migration(server, ('migrating', 'post-migrating',
                                         'finished'))
        server = self.wait_for_server(server, 'VERIFY_RESIZE')
        self.assertNotEqual('compute1', server.compute_host)
        self.openstack('server', 'migration', 'confirm', server.id)
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertNotEqual('compute1', server.compute_host)
        self.assertEqual('confirmed',
                         self.wait_for_migration(server, ('confirmed',))
                         .status)

    def test_cold_migration_is_observable(self):
        server = self.create_server(host='compute1', metadata={
            fakecloud.META_COLD_HOLD: '2'})
        self.connection().compute.migrate_server(server)
        mig = self.wait_for_migration(server, ('migrating',))
        self.assertEqual('migration', mig.migration_type)
        self.wait_for_server(server, 'VERIFY_RESIZE')
        self.connection().compute.revert_server_resize(server)
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertEqual('compute1', server.compute_host)


class TestNonAdmin(client.BedTestCase):

    def test_member_cannot_list_services(self):
        result = self.openstack('compute', 'service', 'list',
                                cloud=fakecloud.CLOUD_MEMBER, check=False)
        self.assertNotEqual(0, result.returncode)
        self.assertIn("Policy doesn't allow", result.stderr)

    def test_member_cannot_live_migrate_own_server(self):
        server = self.create_server(cloud=fakecloud.CLOUD_MEMBER)
        self.assertEqual(fakecloud.MEMBER_PROJECT, server.project_id)
        result = self.osc('server', 'migrate', '--live-migration',
                          server.id, cloud=fakecloud.CLOUD_MEMBER,
                          check=False)
        self.assertNotEqual(0, result.returncode)
        self.assertIn('os-migrate-server:migrate_live', result.stderr)


class TestNetworkResponder(client.BedTestCase):

    def test_ports_created_in_the_bed_are_visible(self):
        port = self.create_port(vnic_type='direct')
        conn = self.connection()
        shown = conn.network.get_port(port['id'])
        self.assertEqual('direct', shown.binding_vnic_type)
        listed = [p.id for p in conn.network.ports(
            binding_vnic_type='direct')]
        self.assertIn(port['id'], listed)

    def test_device_id_filter(self):
        conn = self.connection()
        self.assertEqual([], list(conn.network.ports(
            device_id='00000000-0000-0000-0000-000000000000')))


class TestControl(client.BedTestCase):

    def test_stop_and_start_a_compute(self):
        self.stop_compute('compute3')
        self.assertEqual('stopped', self.bed.compute_states()['compute3'])
        compute = self.connection().compute
        down_after = self.bed.state['service_down_time'] + 10
        deadline = time.monotonic() + down_after
        state = None
        while time.monotonic() < deadline:
            svc = [s for s in compute.services(binary='nova-compute')
                   if s.host == 'compute3'][0]
            state = svc.state
            if state == 'down':
                break
            time.sleep(1)
        self.assertEqual('down', state)
        self.bed.start_compute('compute3')
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            svc = [s for s in compute.services(binary='nova-compute')
                   if s.host == 'compute3'][0]
            if svc.state == 'up':
                break
            time.sleep(0.5)
        self.assertEqual('up', svc.state)
        server = self.create_server(host='compute3')
        self.assertEqual('ACTIVE', server.status)


class TestOlderCloud(client.BedTestCase):
    """An OSP 10 (Newton) API surface: real Nova capped at 2.38."""

    # The 2.38 bed of test_drain, test_precheck and test_watch (three
    # computes): one bed less to start for the worker that runs them all.
    BED_MAX_MICROVERSION = '2.38'

    def test_version_discovery_and_enforcement(self):
        root = self.bed.endpoints['compute'].rsplit('/v2.1', 1)[0]
        status, body = _http(root + '/')
        v21 = [v for v in body['versions'] if v['id'] == 'v2.1'][0]
        self.assertEqual('2.38', v21['version'])
        status, body = _http(self.bed.endpoints['compute'] + '/servers',
                             {'OpenStack-API-Version': 'compute 2.60'})
        self.assertEqual(406, status)

    def test_cli_negotiates_down(self):
        services = self.osc_json('compute', 'service', 'list')
        # conductor, scheduler and compute1..3
        self.assertEqual(5, len(services))
        # Integer service ids before 2.53.
        self.assertTrue(all(isinstance(s['ID'], int) for s in services))
        result = self.osc('--os-compute-api-version', '2.65', 'server',
                          'list', check=False)
        self.assertNotEqual(0, result.returncode)


class TestLibvirtBed(client.BedTestCase):
    """Nova's libvirt driver on fakelibvirt: real NUMA and PCI decisions."""

    BED_DRIVER = 'libvirt'

    def _topology(self, server):
        resp = self.connection().compute.get(
            '/servers/%s/topology' % server.id, microversion='2.78')
        self.assertEqual(200, resp.status_code)
        return resp.json()

    def test_host_shapes(self):
        conn = self.connection()
        cells = {}
        hypervisors = conn.compute.get(
            '/os-hypervisors/detail', microversion='2.87').json()
        for hyp in hypervisors['hypervisors']:
            cells[hyp['hypervisor_hostname']] = \
                hyp['cpu_info']['topology']['cells']
        self.assertEqual({'compute1': 2, 'compute2': 2, 'compute3': 1},
                         cells)
        for rp in conn.placement.resource_providers():
            inv = {i.resource_class: i.total for i in
                   conn.placement.resource_provider_inventories(rp)}
            self.assertEqual(4, inv['PCPU'], rp.name)
            self.assertEqual(4, inv['VCPU'], rp.name)
            self.assertEqual(16384, inv['MEMORY_MB'], rp.name)
        described = self.bed.state['libvirt']
        self.assertEqual(['compute1', 'compute2'],
                         described['aggregates']['pinned'])

    def test_pinned_guest_live_migrates_to_one_node_host(self):
        server = self.create_server('pinned', host='compute1')
        topo = self._topology(server)
        self.assertEqual(1, len(topo['nodes']))
        self.assertEqual(2, len(topo['nodes'][0]['cpu_pinning']))
        self.openstack('server', 'migrate', '--live-migration', '--host',
                       'compute3', server.id)
        mig = self.wait_for_migration(server, ('completed', 'error',
                                               'failed'))
        self.assertEqual('completed', mig.status)
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertEqual('compute3', server.compute_host)
        pins = set(self._topology(server)['nodes'][0]['cpu_pinning']
                   .values())
        self.assertTrue(pins <= {0, 1, 4, 5}, pins)

    def test_hypervisors_report_loopback_host_ips(self):
        assert_loopback_host_ips(self)

    def _wait_periodic_runs(self, count):
        runs = self.bed.control('GET', '/periodic')['runs']
        deadline = time.monotonic() + 60
        while self.bed.control('GET', '/periodic')['runs'] < runs + count:
            self.assertLess(time.monotonic(), deadline,
                            'no periodic run in 60 s')
            time.sleep(0.5)

    def test_periodic_frees_pinned_cpus_of_a_migrated_guest(self):
        """The resource tracker runs every ``--periodic-interval`` (1 s).

        compute2 has 4 dedicated CPUs, 2 per NUMA cell: two 2-CPU pinned
        guests fill it.  A pinned guest that live-migrated onto compute2
        and was deleted there keeps its pins in compute2's NUMA topology
        until the resource tracker's periodic runs (Placement is freed at
        once): until then the second of two pinned boots onto compute2
        fails its claim there and goes ERROR.
        """
        periodic = self.bed.control('GET', '/periodic')
        self.assertEqual(1, periodic['interval'])
        moved = self.create_server('pinned', host='compute1')
        self.openstack('server', 'migrate', '--live-migration', '--host',
                       'compute2', moved.id)
        mig = self.wait_for_migration(moved, ('completed', 'error',
                                              'failed'))
        self.assertEqual('completed', mig.status)
        self.wait_for_server(moved, 'ACTIVE')
        self._wait_periodic_runs(2)
        self.bed.delete_server(moved)
        self._wait_periodic_runs(2)
        for _ in range(2):
            server = self.create_server('pinned', host='compute2')
            self.assertEqual('ACTIVE', server.status)
            self.assertEqual('compute2', server.compute_host)

    def test_pinned_aggregate_flavor_on_member_hosts(self):
        """The bed's aggregate ``pinned`` is one the scheduler knows.

        A flavor with ``aggregate_instance_extra_specs:pinned=true`` is
        scheduled (no host given) onto a member host and live-migrates,
        scheduled again, to the other member, never to compute3.
        """
        members = set(self.bed.state['libvirt']['aggregates']['pinned'])
        self.assertEqual({'compute1', 'compute2'}, members)
        server = self.create_server('pinned_aggregate')
        self.assertIn(server.compute_host, members)
        source = server.compute_host
        self.openstack('server', 'migrate', '--live-migration', server.id)
        mig = self.wait_for_migration(server, ('completed', 'error',
                                               'failed'))
        self.assertEqual('completed', mig.status)
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertEqual(members - {source}, {server.compute_host})
        aggs = self.openstack_json('aggregate', 'show', 'pinned')
        self.assertEqual(sorted(members), sorted(aggs['hosts']))

    def _live_migrate_refused(self, server, *host):
        # openstacksdk live-migrates with microversion 2.30 (< 2.34): the
        # scheduler's NoValidHost comes back synchronously as a 400; with
        # 2.34+ it is a 202 and a migration in 'error'.
        result = self.osc('server', 'migrate', '--live-migration', *(
            list(host) + [server.id]), check=False)
        if result.returncode:
            self.assertIn('No valid host', result.stderr)
        else:
            mig = self.wait_for_migration(server, ('completed', 'error',
                                                   'failed'))
            self.assertEqual('error', mig.status)
        return self.wait_for_server(server, 'ACTIVE')

    def test_two_node_guest_does_not_fit_one_node_host(self):
        server = self.create_server('numa', host='compute1')
        self.assertEqual(2, len(self._topology(server)['nodes']))
        server = self._live_migrate_refused(server, '--host', 'compute3')
        self.assertEqual('compute1', server.compute_host)
        # Nova 2.34+: accepted, then the migration fails asynchronously.
        before = self.last_migration(server)
        resp = self.connection().compute.post(
            '/servers/%s/action' % server.id, microversion='2.104',
            json={'os-migrateLive': {'host': 'compute3',
                                     'block_migration': 'auto'}})
        self.assertEqual(202, resp.status_code)
        mig = self.wait_for_migration(server, ('completed', 'error',
                                               'failed'), newer_than=before)
        self.assertEqual('error', mig.status)

    def test_hugepages_only_where_the_host_has_them(self):
        server = self.create_server('hugepages', host='compute2')
        self.assertEqual('ACTIVE', server.status)
        refused = self.create_server('hugepages', host='compute3',
                                     wait=False)
        refused = self.wait_for_server(refused, 'ERROR')
        # nova:HOST forces the host, so the filters are skipped and the
        # compute's claim refuses it.
        self.assertIn('NUMA topology cannot fit', refused.fault['message'])

    def test_pci_guest_live_migration_refused(self):
        server = self.create_server('pci', host='compute1')
        server = self._live_migrate_refused(server)
        self.assertEqual('compute1', server.compute_host)
        # A cold migration goes to the other host with free devices.
        self.osc('server', 'migrate', server.id)
        server = self.wait_for_server(server, 'VERIFY_RESIZE')
        self.assertEqual('compute2', server.compute_host)
        self.osc('server', 'migration', 'confirm', server.id)
        self.wait_for_server(server, 'ACTIVE')

    def test_sriov_port_visible_through_neutron_responder(self):
        server = self.create_server('sriov', host='compute1')
        ports = self.osc_json('port', 'list', '--device-id', server.id,
                              '--long')
        self.assertEqual(1, len(ports))
        port = self.osc_json('port', 'show', ports[0]['ID'])
        self.assertEqual('direct', port['binding_vnic_type'])
        self.assertEqual('compute1', port['binding_host_id'])
        self.assertEqual('physnet4',
                         port['binding_profile']['physical_network'])

    def test_held_libvirt_migration_progress_and_abort(self):
        server = self.create_server(host='compute1', metadata={
            fakecloud.META_STALL: '40'})
        compute = self.connection().compute
        compute.live_migrate_server(server, host=None,
                                    block_migration='auto')
        deadline = time.monotonic() + 30
        mig = None
        while time.monotonic() < deadline:
            migs = list(compute.server_migrations(server))
            if migs and migs[0].memory_processed_bytes:
                mig = migs[0]
                break
            time.sleep(0.5)
        self.assertIsNotNone(mig)
        self.assertEqual('running', mig.status)
        self.assertGreater(mig.memory_remaining_bytes, 0)
        self.assertIsNone(mig.disk_total_bytes)
        compute.abort_server_migration(mig.id, server)
        mig = self.wait_for_migration(server, ('cancelled', 'completed',
                                               'error', 'failed'))
        self.assertEqual('cancelled', mig.status)
        self.assertEqual('compute1',
                         self.wait_for_server(server, 'ACTIVE').compute_host)


class TestSSHHostsFromBed(client.BedTestCase):
    """``SSHHosts.from_bed``: the SSH hosts show what Nova did on the bed.

    Through the real ssh client and sshd as the test user, with the
    product's own command templates and parsers: a pinned guest on 2 MiB
    huge pages booted on compute1, live-migrated to compute2, deleted.
    """

    BED_DRIVER = 'libvirt'
    FLAVOR = ('fc.pinned.huge', 2, 1024, 1, {
        'hw:cpu_policy': 'dedicated', 'hw:mem_page_size': '2048'})

    def setUp(self):
        super().setUp()
        from testbed import sshhosts
        reason = sshhosts.missing_prerequisites()
        if reason:
            self.skipTest(reason)
        self.hosts = self.useFixture(sshhosts.SSHHosts.from_bed(
            self.bed.endpoints['control'], ['compute1', 'compute2']))

    def run_parsed(self, host, command, parse):
        result = self.hosts.ssh(host, command.render())
        self.assertEqual(0, result.returncode, '%s on %s: %s' % (
            command.label, host, result.stderr))
        return parse(result.stdout)

    def seen(self, host):
        """What ``--ssh`` reads on ``host``: domains, pins, free pages."""
        from migrationclient.host import commands
        from migrationclient.host import novaconf
        from migrationclient.host import parsers
        conf = self.run_parsed(host, commands.NOVA_CONF,
                               novaconf.from_output)
        domains = self.run_parsed(host, commands.LIST_RUNNING,
                                  parsers.parse_domain_names)
        pins = {d: self.run_parsed(host, commands.guest_command('vcpupin', d),
                                   parsers.parse_vcpupin) for d in domains}
        pinned = {cpu for vcpus in pins.values() for cpus in vcpus.values()
                  if len(cpus) == 1 for cpu in cpus}
        return {'domains': domains, 'pins': pins, 'conf': conf,
                'free_dedicated': conf.cpu_dedicated_set - pinned,
                'freepages': self.run_parsed(host, commands.FREEPAGES,
                                             parsers.parse_freepages)}

    def topology(self, server):
        resp = self.connection().compute.get(
            '/servers/%s/topology' % server.id, microversion='2.78')
        self.assertEqual(200, resp.status_code)
        nodes = resp.json()['nodes']
        self.assertEqual(1, len(nodes))
        return nodes[0]['host_node'], set(nodes[0]['cpu_pinning'].values())

    def wait_gone(self, host, domain, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            seen = self.seen(host)
            if domain not in seen['domains']:
                return seen
            self.assertLess(time.monotonic(), deadline,
                            '%s still on %s' % (domain, host))
            time.sleep(0.5)

    def test_pins_and_pages_follow_nova(self):
        from migrationclient.host import parsers
        before = {h: self.seen(h) for h in ('compute1', 'compute2')}
        described = self.bed.state['libvirt']
        for host, seen in before.items():
            # nova.conf as the bed's Nova runs it
            self.assertEqual(parsers.parse_cpuset(
                described['cpu_dedicated_set']),
                seen['conf'].cpu_dedicated_set)
            self.assertEqual(frozenset({0, 1, 4, 5}),
                             seen['conf'].cpu_dedicated_set)
            self.assertEqual(frozenset({2, 3, 6, 7}),
                             seen['conf'].cpu_shared_set)
            self.assertEqual(self.bed.state['max_concurrent_live_migrations'],
                             seen['conf'].max_concurrent_live_migrations)
            self.assertEqual('/etc/nova/nova.conf', seen['conf'].path)

        flavor = self.bed.flavor(*self.FLAVOR)
        server = self.create_server('pinned', host='compute1',
                                    flavor=flavor)
        domain = self.connection().compute.get_server(
            server.id).instance_name
        node, cpus = self.topology(server)
        self.assertEqual(2, len(cpus))
        on1 = self.seen('compute1')
        self.assertIn(domain, on1['domains'])
        self.assertEqual(cpus, set().union(*on1['pins'][domain].values()))
        self.assertEqual(before['compute1']['free_dedicated'] - cpus,
                         on1['free_dedicated'])
        self.assertEqual(before['compute1']['freepages'][node][2048] - 512,
                         on1['freepages'][node][2048])

        self.openstack('server', 'migrate', '--live-migration', '--host',
                       'compute2', server.id)
        mig = self.wait_for_migration(server, ('completed', 'error',
                                               'failed'))
        self.assertEqual('completed', mig.status)
        server = self.wait_for_server(server, 'ACTIVE')
        self.assertEqual('compute2', server.compute_host)
        node2, cpus2 = self.topology(server)
        on1 = self.wait_gone('compute1', domain)
        self.assertEqual(before['compute1']['free_dedicated'],
                         on1['free_dedicated'])
        self.assertEqual(before['compute1']['freepages'],
                         on1['freepages'])
        on2 = self.seen('compute2')
        self.assertIn(domain, on2['domains'])
        self.assertEqual(cpus2, set().union(*on2['pins'][domain].values()))
        self.assertEqual(before['compute2']['free_dedicated'] - cpus2,
                         on2['free_dedicated'])
        self.assertEqual(before['compute2']['freepages'][node2][2048] - 512,
                         on2['freepages'][node2][2048])

        self.bed.delete_server(server)
        on2 = self.wait_gone('compute2', domain)
        self.assertEqual(before['compute2']['free_dedicated'],
                         on2['free_dedicated'])
        self.assertEqual(before['compute2']['freepages'], on2['freepages'])

    def states(self, host):
        """``virsh list --all``: {domain: state}."""
        result = self.hosts.ssh(host, 'env LC_ALL=C virsh list --all')
        self.assertEqual(0, result.returncode, result.stderr)
        rows = [line.split(None, 2) for line in
                result.stdout.splitlines()[2:] if line.strip()]
        return {row[1]: row[2].strip() for row in rows}

    def test_cold_migration_shuts_the_source_off(self):
        before = {h: self.seen(h) for h in ('compute1', 'compute2')}
        flavor = self.bed.flavor(*self.FLAVOR)
        server = self.create_server('pinned', host='compute1',
                                    flavor=flavor)
        domain = self.connection().compute.get_server(
            server.id).instance_name
        self.assertEqual('running', self.states('compute1')[domain])
        self.osc('--os-compute-api-version', '2.56', 'server', 'migrate',
                 '--host', 'compute2', server.id)
        server = self.wait_for_server(server, 'VERIFY_RESIZE')
        self.assertEqual('compute2', server.compute_host)
        # the source domain is defined, shut off, and uses nothing
        self.assertEqual('shut off', self.states('compute1')[domain])
        on1 = self.seen('compute1')
        self.assertNotIn(domain, on1['domains'])
        self.assertEqual(before['compute1']['free_dedicated'],
                         on1['free_dedicated'])
        self.assertEqual(before['compute1']['freepages'], on1['freepages'])
        node2, cpus2 = self.topology(server)
        on2 = self.seen('compute2')
        self.assertEqual(cpus2, set().union(*on2['pins'][domain].values()))
        self.assertEqual(before['compute2']['freepages'][node2][2048] - 512,
                         on2['freepages'][node2][2048])
        self.osc('server', 'migration', 'confirm', server.id)
        self.wait_for_server(server, 'ACTIVE')
        deadline = time.monotonic() + 30
        while domain in self.states('compute1'):
            self.assertLess(time.monotonic(), deadline,
                            '%s still defined on compute1' % domain)
            time.sleep(0.5)


class TestSSHHostsFromFakeBed(client.BedTestCase):
    """``SSHHosts.from_bed`` on the fake-driver bed: nova.conf only."""

    def test_nova_conf_of_the_bed(self):
        from migrationclient.host import commands
        from migrationclient.host import novaconf
        from migrationclient.host import parsers
        from testbed import sshhosts
        reason = sshhosts.missing_prerequisites()
        if reason:
            self.skipTest(reason)
        hosts = self.useFixture(sshhosts.SSHHosts.from_bed(
            self.bed.endpoints['control'], ['compute1', 'compute3'],
            specs={'compute3': {'nova_conf_path': 'osp13'}}))
        for name, host in hosts.hosts.items():
            self.assertEqual(fakecloud.host_ip(name), host.address)
            result = hosts.ssh(name, commands.NOVA_CONF.render())
            self.assertEqual(0, result.returncode, result.stderr)
            conf = novaconf.from_output(result.stdout)
            self.assertEqual(
                self.bed.state['max_concurrent_live_migrations'],
                conf.max_concurrent_live_migrations)
            self.assertEqual((), conf.notes)
        self.assertEqual(sshhosts.NOVA_CONF_PATHS[1], conf.path)
        # virsh: the hand-written state (the fake driver has no libvirt)
        result = hosts.ssh('compute1', commands.CAPABILITIES.render())
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual(2, len(parsers.parse_capabilities(
            result.stdout)['cells']))
        # a test's own nova.conf stays, whatever the host runs next
        hosts.hosts['compute1'].write_nova_conf(
            '[DEFAULT]\nmax_concurrent_live_migrations = 7\n')
        self.assertEqual(0, hosts.ssh('compute1', 'virsh list').returncode)
        result = hosts.ssh('compute1', commands.NOVA_CONF.render())
        self.assertEqual(7, novaconf.from_output(
            result.stdout).max_concurrent_live_migrations)
