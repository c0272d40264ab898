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
"""The counting, fault-injecting proxy in front of the real test bed.

The real ``openstack`` CLI and openstacksdk go through the proxy (a
clouds.yaml written by ``write_proxied_clouds_yaml``); the proxy counts
their requests and injects faults, and keystoneauth's retry settings from
clouds.yaml (``status_code_retries``, ``connect_retries``, their
``*_retry_delay`` and ``retriable_status_codes``, unprefixed or
``compute_``-prefixed) are shown at work.
"""

import json
import os
import time

import fixtures
from keystoneauth1 import exceptions as ks_exceptions
import openstack.config
import openstack.connection
import openstack.exceptions

from testbed import client
from testbed import fakecloud
from testbed import httpproxy

SERVERS_DETAIL = ('compute', 'GET', '/v2.1/servers/detail')
#: keystoneauth's default delay is 0.5 s, doubling; keep the tests short.
FAST = {'status_code_retry_delay': 0.05, 'connect_retry_delay': 0.05}


class ProxyBedTest(client.BedTestCase):

    def setUp(self):
        super().setUp()
        self.proxy = httpproxy.CountingProxy.for_cloud(
            self.bed.clouds_yaml, fakecloud.CLOUD_ADMIN, seed=42,
            max_lifetime=600, idle_timeout=300)
        self.proxy.start()
        self.addCleanup(self.proxy.stop)
        self.tmp = self.useFixture(fixtures.TempDir()).path

    def clouds_yaml(self, name='clouds.yaml', **settings):
        return httpproxy.write_proxied_clouds_yaml(
            self.bed.clouds_yaml, os.path.join(self.tmp, name), self.proxy,
            fakecloud.CLOUD_ADMIN, settings)

    def connection(self, **settings):
        config = openstack.config.OpenStackConfig(
            config_files=[self.clouds_yaml('sdk.yaml', **settings)])
        conn = openstack.connection.Connection(
            config=config.get_one(cloud=fakecloud.CLOUD_ADMIN))
        self.addCleanup(conn.close)
        return conn

    def cli(self, clouds_yaml, *args, check=True):
        return self.bed.openstack(
            *args, check=check, env={'OS_CLIENT_CONFIG_FILE': clouds_yaml})

    def api_counts(self):
        """Counts without version discovery (``/``, ``/v2.1/``...)."""
        return {k: v for k, v in self.proxy.counts().items()
                if k[2].rstrip('/') not in ('', '/v2.1', '/v3', '/v2')}

    def test_cli_server_list_is_counted(self):
        server = self.create_server('image', host='compute1')
        clouds = self.clouds_yaml()
        result = self.cli(clouds, 'server', 'list', '--all-projects',
                          '--no-name-lookup', '-f', 'json')
        self.assertIn(server.id, [s['ID'] for s in result.json()])
        self.assertEqual({SERVERS_DETAIL: 1}, self.api_counts())
        # Every endpoint of the cloud was reached through the proxy,
        # version discovery included.
        services = {k[0] for k in self.proxy.counts()}
        self.assertIn('compute', services)
        self.assertEqual({'200'}, set(self.proxy.snapshot()['statuses'])
                         - {'300'})
        dump = self.proxy.dump_json(os.path.join(self.tmp, 'counts.json'))
        with open(dump) as f:
            data = json.load(f)
        self.assertIn({'service': 'compute', 'method': 'GET',
                       'path': '/v2.1/servers/detail', 'count': 1},
                      data['counts'])
        self.assertEqual(sum(self.proxy.counts().values()), data['total'])
        self.proxy.reset()
        self.assertEqual(0, self.proxy.total())

    def test_cli_503_burst_retried_when_configured(self):
        self.proxy.faults.add(httpproxy.burst(
            503, 2, method='GET', path=r'/servers/detail'))
        clouds = self.clouds_yaml(compute_status_code_retries=3, **FAST)
        result = self.cli(clouds, 'server', 'list', '--no-name-lookup',
                          '-f', 'json')
        self.assertEqual(0, result.returncode)
        self.assertEqual({SERVERS_DETAIL: 3}, self.api_counts())
        statuses = [e.status for e in self.proxy.events()
                    if e.path == SERVERS_DETAIL[2]]
        self.assertEqual([503, 503, 200], statuses)
        self.assertIn('Retriable status code 503', result.stderr)

    def test_sdk_503_burst_fails_without_retries(self):
        self.proxy.faults.add(httpproxy.burst(503, 2, path=r'/servers/detail'))
        conn = self.connection()
        exc = self.assertRaises(openstack.exceptions.HttpException, list,
                                conn.compute.servers())
        self.assertEqual(503, exc.status_code)
        self.assertEqual({SERVERS_DETAIL: 1}, self.api_counts())
        # The same burst, now with retries: the second fault, then success.
        conn = self.connection(status_code_retries=2, **FAST)
        self.proxy.reset()
        list(conn.compute.servers())
        self.assertEqual([503, 200], [
            e.status for e in self.proxy.events()
            if e.path == SERVERS_DETAIL[2]])

    def test_sdk_connection_reset_needs_connect_retries(self):
        self.proxy.faults.add(httpproxy.reset(
            times=2, method='GET', path=r'/os-services'))
        conn = self.connection()
        # openstacksdk lets keystoneauth's exception through, and
        # keystoneauth calls a reset "Unable to establish connection".
        exc = self.assertRaises(ks_exceptions.ConnectFailure, list,
                                conn.compute.services())
        self.assertIn('reset', str(exc))
        conn = self.connection(connect_retries=2, **FAST)
        hosts = {s.host for s in conn.compute.services()
                 if s.binary == 'nova-compute'}
        self.assertEqual(set(self.bed.hosts), hosts)
        statuses = [e.status for e in self.proxy.events()
                    if e.path == '/v2.1/os-services']
        # reset (no retry), then reset + success (one retry used).
        self.assertEqual([0, 0, 200], statuses)

    def test_sdk_conflict_is_not_retried(self):
        server = self.create_server('image', host='compute1')
        self.proxy.faults.add(httpproxy.conflict(
            method='POST', path=r'/servers/[^/]+/action$'))
        # 409 is not in keystoneauth's retriable codes (429, 503), so even
        # with retries configured the conflict reaches the caller at once.
        conn = self.connection(status_code_retries=3, **FAST)
        self.assertRaises(openstack.exceptions.ConflictException,
                          conn.compute.live_migrate_server, server.id,
                          host=None, block_migration='auto')
        self.assertEqual(1, self.proxy.total(method='POST'))
        # Answered by the proxy: Nova never saw the request.
        self.assertEqual([], list(conn.compute.migrations(
            instance_uuid=server.id)))
        self.assertEqual('compute1', conn.compute.get_server(
            server.id).compute_host)

    def test_connect_retries_resend_a_post_whose_answer_was_lost(self):
        # The live-migrate POST reaches Nova (202), then the connection is
        # reset before the answer gets back.  With connect_retries,
        # keystoneauth sends the POST again: Nova refuses it (409, the
        # server is migrating) and the caller sees a failure for a
        # migration that is in fact running.  Commands that act must not
        # rely on connect retries for non-idempotent requests.
        server = self.create_server(
            'image', host='compute1',
            metadata={fakecloud.META_HOLD: '4'})
        self.proxy.faults.add(httpproxy.reset(
            method='POST', path=r'/servers/[^/]+/action$', forward=True))
        conn = self.connection(connect_retries=1, **FAST)
        self.assertRaises(openstack.exceptions.ConflictException,
                          conn.compute.live_migrate_server, server.id,
                          host=None, block_migration='auto')
        posts = [(e.status, e.upstream) for e in self.proxy.events()
                 if e.method == 'POST']
        self.assertEqual([(0, 202), (409, 409)], posts)
        migration = self.wait_for_migration(
            server, ('running', 'completed'), timeout=60)
        self.assertEqual('live-migration', migration.migration_type)
        self.wait_for_migration(server, ('completed',), timeout=60)

    def test_sdk_latency_spike(self):
        self.proxy.faults.add(httpproxy.latency(
            1.0, method='GET', path=r'/os-hypervisors'))
        conn = self.connection()
        start = time.monotonic()
        names = [h.name for h in conn.compute.hypervisors()]
        self.assertGreaterEqual(time.monotonic() - start, 1.0)
        self.assertEqual(len(self.bed.hosts), len(names))
        spike = [e for e in self.proxy.events() if e.fault]
        self.assertEqual(1, len(spike))
        self.assertGreaterEqual(spike[0].elapsed, 1.0)
        self.assertEqual(200, spike[0].status)
