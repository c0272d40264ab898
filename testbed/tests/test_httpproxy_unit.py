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
"""Tests of the test bed's counting, fault-injecting proxy.

The first classes test the pure parts (path normalisation, rule matching,
the seeded plan, clouds.yaml rewriting).  :class:`ProxyLoopbackTest` runs
the proxy in front of a small standard-library HTTP server on 127.0.0.1
(free ports, stopped by the test) to check forwarding, keep-alive, faults
and the self-stop; the real bed is used by the functional test.
"""

import http.client
import http.server
import json
import os
import socket
import threading
import time

import fixtures
import testtools

from testbed import httpproxy

UUID = '6f1d3a0e-1f7a-4c8e-9d54-3b6f0b7b2a11'


class NormalisePathTest(testtools.TestCase):

    def test_ids_become_placeholders(self):
        cases = {
            '/v2.1/servers/%s' % UUID: '/v2.1/servers/{id}',
            '/v2.1/servers/%s/action' % UUID: '/v2.1/servers/{id}/action',
            '/v2.1/servers/%s/migrations/17' % UUID:
                '/v2.1/servers/{id}/migrations/{id}',
            '/resource_providers/%s/inventories' % UUID.replace('-', ''):
                '/resource_providers/{id}/inventories',
            '/v2.1/servers/%s/os-instance-actions/req-%s' % (UUID, UUID):
                '/v2.1/servers/{id}/os-instance-actions/{id}',
            '/v2.1/flavors/42/os-extra_specs':
                '/v2.1/flavors/{id}/os-extra_specs',
        }
        for path, expected in cases.items():
            self.assertEqual(expected, httpproxy.normalise_path(path), path)

    def test_query_dropped_and_words_kept(self):
        self.assertEqual(
            '/v2.1/servers/detail',
            httpproxy.normalise_path(
                '/v2.1/servers/detail?all_tenants=1&compute_host=c1'))
        self.assertEqual('/v2.1/os-hypervisors/detail',
                         httpproxy.normalise_path('/v2.1/os-hypervisors/'
                                                  'detail'))
        self.assertEqual('/', httpproxy.normalise_path('/'))
        self.assertEqual('/', httpproxy.normalise_path(''))
        self.assertEqual('/v2.1/', httpproxy.normalise_path('/v2.1/'))

    def test_names_and_versions_are_not_ids(self):
        self.assertEqual('/v2.1/os-hypervisors/compute1',
                         httpproxy.normalise_path(
                             '/v2.1/os-hypervisors/compute1'))
        self.assertEqual('/v2.1/flavors/m1.small',
                         httpproxy.normalise_path('/v2.1/flavors/m1.small'))

    def test_extra_patterns_and_encoding(self):
        normalise = httpproxy.PathNormaliser(extra_patterns=[r'compute\d+'])
        self.assertEqual('/v2.1/os-hypervisors/{id}/servers',
                         normalise('/v2.1/os-hypervisors/compute3/servers'))
        self.assertEqual('/v2.1/os-hypervisors/computeX',
                         normalise('/v2.1/os-hypervisors/computeX'))
        # Percent-encoded ids are recognised too.
        self.assertEqual('/x/{id}', normalise('/x/%s' % UUID.replace(
            '-', '%2D')))


class FaultRuleTest(testtools.TestCase):

    def test_match_by_method_path_service(self):
        rule = httpproxy.FaultRule(method='POST|PUT', path=r'/action$',
                                   service='compute')
        self.assertTrue(rule.matches('compute', 'POST',
                                     '/v2.1/servers/%s/action' % UUID))
        self.assertTrue(rule.matches('compute', 'put', '/x/action'))
        self.assertFalse(rule.matches('compute', 'GET', '/x/action'))
        self.assertFalse(rule.matches('placement', 'POST', '/x/action'))
        self.assertFalse(rule.matches('compute', 'POST', '/x/action/y'))
        # The method regex must match the whole method.
        self.assertFalse(httpproxy.FaultRule(method='GET').matches(
            None, 'GETX', '/'))

    def test_path_regex_sees_query(self):
        rule = httpproxy.FaultRule(path=r'compute_host=compute1\b')
        self.assertTrue(rule.matches(
            'compute', 'GET', '/v2.1/servers/detail?compute_host=compute1'))
        self.assertFalse(rule.matches(
            'compute', 'GET', '/v2.1/servers/detail?compute_host=compute2'))

    def test_invalid_rules_refused(self):
        self.assertRaises(ValueError, httpproxy.FaultRule, action='explode')
        self.assertRaises(ValueError, httpproxy.FaultRule, probability=1.5)
        self.assertRaises(ValueError, httpproxy.FaultRule, times=-1)
        self.assertRaises(ValueError, httpproxy.FaultRule.from_dict,
                          {'action': 'status', 'colour': 'red'})

    def test_from_dict_round_trip(self):
        rule = httpproxy.FaultRule.from_dict(
            {'action': 'status', 'status': 409, 'times': 2,
             'path': '/action$'})
        data = rule.to_dict()
        self.assertEqual(409, data['status'])
        self.assertEqual(0, data['fired'])
        self.assertEqual('409 .* /action$', data['name'])
        data.pop('seen')
        data.pop('fired')
        self.assertEqual(rule.name, httpproxy.FaultRule.from_dict(data).name)

    def test_helpers(self):
        self.assertEqual((503, 3, 'status'), (
            httpproxy.burst().status, httpproxy.burst().times,
            httpproxy.burst().action))
        self.assertEqual(409, httpproxy.conflict().status)
        self.assertEqual('reset', httpproxy.reset().action)
        spike = httpproxy.latency(2.5, times=None, method='GET')
        self.assertEqual(('delay', 2.5, None),
                         (spike.action, spike.delay, spike.times))

    def test_fault_body_is_nova_shaped(self):
        body = json.loads(httpproxy.fault_body(httpproxy.conflict()))
        self.assertEqual(['conflict'], list(body))
        self.assertEqual(409, body['conflict']['code'])
        body = json.loads(httpproxy.fault_body(httpproxy.burst(503)))
        self.assertEqual(503, body['serviceUnavailable']['code'])


class FaultPlanTest(testtools.TestCase):

    def _run(self, plan, n, path='/v2.1/servers/detail'):
        fired = []
        for _i in range(n):
            rule = plan.decide('compute', 'GET', path)
            fired.append(rule.name if rule is not None else None)
        return fired

    def test_burst_fires_times_then_passes(self):
        plan = httpproxy.FaultPlan([httpproxy.burst(503, 3)])
        fired = self._run(plan, 5)
        self.assertEqual(3, sum(1 for f in fired if f))
        self.assertEqual([None, None], fired[3:])

    def test_after_lets_requests_through_first(self):
        plan = httpproxy.FaultPlan([httpproxy.burst(500, 2, after=2)])
        self.assertEqual([False, False, True, True, False],
                         [f is not None for f in self._run(plan, 5)])

    def test_first_armed_rule_wins(self):
        first = httpproxy.burst(503, 1, path='/servers')
        second = httpproxy.conflict(times=None, path='/servers')
        plan = httpproxy.FaultPlan([first, second])
        self.assertEqual([first.name, second.name, second.name],
                         self._run(plan, 3))

    def test_non_matching_requests_do_not_consume(self):
        rule = httpproxy.burst(503, 1, method='POST')
        plan = httpproxy.FaultPlan([rule])
        self.assertEqual([None, None], self._run(plan, 2))
        self.assertEqual((0, 0), (rule.seen, rule.fired))
        self.assertIs(rule, plan.decide('compute', 'POST', '/x'))

    def test_probability_is_seeded_and_repeatable(self):
        def draws(seed):
            plan = httpproxy.FaultPlan(
                [httpproxy.burst(503, None, probability=0.3)], seed=seed)
            return [f is not None for f in self._run(plan, 400)]
        first = draws(7)
        self.assertEqual(first, draws(7))
        self.assertNotEqual(first, draws(8))
        # 400 draws at p = 0.3: far from 0 and from 400.
        self.assertTrue(60 < sum(first) < 180, sum(first))

    def test_clear_restarts_the_rng(self):
        plan = httpproxy.FaultPlan(seed=3)
        plan.add(httpproxy.burst(503, None, probability=0.5))
        first = self._run(plan, 50)
        plan.clear()
        self.assertEqual([], plan.rules)
        plan.add(httpproxy.burst(503, None, probability=0.5))
        self.assertEqual(first, self._run(plan, 50))


class CloudsYamlTest(testtools.TestCase):

    CONFIG = {'clouds': {'fakecloud': {
        'auth_type': 'none',
        'auth': {'endpoint': 'http://127.0.0.1:5000/v3'},
        'compute_endpoint_override': 'http://127.0.0.1:8774/v2.1',
        'placement_endpoint_override': 'http://127.0.0.1:8778',
        'image_endpoint_override': 'http://127.0.0.1:9292',
        'identity_endpoint_override': 'http://127.0.0.1:5000/v3',
        'region_name': 'RegionOne',
    }, 'other': {'auth': {}}}}

    def test_cloud_endpoints(self):
        self.assertEqual({
            'compute': 'http://127.0.0.1:8774/v2.1',
            'placement': 'http://127.0.0.1:8778',
            'image': 'http://127.0.0.1:9292',
            'identity': 'http://127.0.0.1:5000/v3',
        }, httpproxy.cloud_endpoints(self.CONFIG))
        self.assertRaises(ValueError, httpproxy.cloud_endpoints, self.CONFIG,
                          'missing')
        self.assertRaises(ValueError, httpproxy.cloud_endpoints, self.CONFIG,
                          'other')

    def test_proxied_config_rewrites_every_url(self):
        proxy = httpproxy.CountingProxy(
            httpproxy.cloud_endpoints(self.CONFIG), idle_timeout=5,
            max_lifetime=10).start()
        self.addCleanup(proxy.stop)
        config = httpproxy.proxied_cloud_config(
            self.CONFIG, proxy, settings={'status_code_retries': 2})
        cloud = config['clouds']['fakecloud']
        self.assertEqual(proxy.url_for('compute'),
                         cloud['compute_endpoint_override'])
        self.assertEqual(proxy.url_for('identity'), cloud['auth']['endpoint'])
        self.assertEqual(2, cloud['status_code_retries'])
        self.assertEqual('RegionOne', cloud['region_name'])
        for key in ('compute', 'placement', 'image', 'identity'):
            self.assertNotIn(
                self.CONFIG['clouds']['fakecloud'][key + '_endpoint_override'],
                cloud[key + '_endpoint_override'])
        # Four upstream ports: four listeners; the original is untouched.
        self.assertEqual(4, len(set(
            u.rsplit(':', 1)[1].split('/')[0]
            for u in proxy.endpoints.values())))
        self.assertNotIn('status_code_retries',
                         self.CONFIG['clouds']['fakecloud'])

    def test_services_sharing_a_port_are_told_apart_by_path(self):
        upstream = httpproxy._Upstream('http', '127.0.0.1', 80)
        upstream.add('compute', '/compute/v2.1')
        upstream.add('placement', '/placement')
        upstream.add('root', '/')
        self.assertEqual('compute', upstream.service_for(
            '/compute/v2.1/servers?x=/placement'))
        self.assertEqual('placement',
                         upstream.service_for('/placement/traits'))
        self.assertEqual('root', upstream.service_for('/'))
        self.assertEqual('root', upstream.service_for('/placementx'))


class _Upstream(http.server.BaseHTTPRequestHandler):
    """Echo server: answers with what it received."""

    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def _answer(self, status, body):
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        if self.path.endswith('/unsized'):
            # No Content-Length: body until close (HTTP/1.0 style).
            self.send_header('Connection', 'close')
            self.close_connection = True
        else:
            self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.server.hits.append((self.command, self.path))
        self._answer(200, json.dumps({
            'path': self.path, 'host': self.headers['Host'],
            'connection': self.headers.get('Connection')}).encode())

    def do_POST(self):
        self.server.hits.append((self.command, self.path))
        data = self.rfile.read(int(self.headers['Content-Length']))
        self._answer(201, data)

    def do_DELETE(self):
        self.server.hits.append((self.command, self.path))
        self.send_response(204)
        self.end_headers()

    def do_HEAD(self):
        self.server.hits.append((self.command, self.path))
        self.send_response(200)
        self.send_header('Content-Length', '1234')
        self.end_headers()


class ProxyLoopbackTest(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.upstream = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                        _Upstream)
        self.upstream.daemon_threads = True
        self.upstream.hits = []
        thread = threading.Thread(target=self.upstream.serve_forever,
                                  kwargs={'poll_interval': 0.1}, daemon=True)
        thread.start()
        self.addCleanup(self.upstream.server_close)
        self.addCleanup(self.upstream.shutdown)
        self.base = 'http://127.0.0.1:%d/v2.1' % (
            self.upstream.server_address[1])
        self.proxy = httpproxy.CountingProxy(
            {'compute': self.base}, seed=1, idle_timeout=30, max_lifetime=60)
        self.proxy.start()
        self.addCleanup(self.proxy.stop)
        self.port = int(self.proxy.url_for('compute').split(':')[2]
                        .split('/')[0])

    def _conn(self):
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
        self.addCleanup(conn.close)
        return conn

    def _get(self, conn, path):
        conn.request('GET', path)
        resp = conn.getresponse()
        return resp.status, resp.read(), resp

    def test_forwards_keeps_host_and_counts(self):
        conn = self._conn()
        for _i in range(3):
            status, body, _resp = self._get(conn, '/v2.1/servers/%s?a=1'
                                            % UUID)
            self.assertEqual(200, status)
        data = json.loads(body)
        self.assertEqual('/v2.1/servers/%s?a=1' % UUID, data['path'])
        # Links built from Host point back at the proxy.
        self.assertEqual('127.0.0.1:%d' % self.port, data['host'])
        # Hop-by-hop headers are not forwarded.
        self.assertIsNone(data['connection'])
        self.assertEqual({('compute', 'GET', '/v2.1/servers/{id}'): 3},
                         self.proxy.counts())
        self.assertEqual(3, self.proxy.total(method='GET', path='servers'))
        self.assertEqual(0, self.proxy.total(service='placement'))
        self.proxy.reset()
        self.assertEqual({}, self.proxy.counts())
        self.assertEqual([], self.proxy.events())

    def test_streams_large_post_bodies_and_unsized_responses(self):
        conn = self._conn()
        payload = os.urandom(300 * 1024)
        conn.request('POST', '/v2.1/servers', body=payload)
        resp = conn.getresponse()
        self.assertEqual((201, payload), (resp.status, resp.read()))
        # An upstream answer without Content-Length is re-chunked, and the
        # client connection stays usable.
        status, body, resp = self._get(conn, '/v2.1/unsized')
        self.assertEqual(200, status)
        self.assertEqual('chunked', resp.getheader('Transfer-Encoding'))
        self.assertEqual('/v2.1/unsized', json.loads(body)['path'])
        status, _body, _resp = self._get(conn, '/v2.1/after')
        self.assertEqual(200, status)

    def test_bodiless_answers_keep_the_connection_usable(self):
        conn = self._conn()
        conn.request('DELETE', '/v2.1/servers/%s' % UUID)
        resp = conn.getresponse()
        self.assertEqual((204, b''), (resp.status, resp.read()))
        conn.request('HEAD', '/v2.1/images/%s' % UUID)
        resp = conn.getresponse()
        self.assertEqual((200, '1234', b''), (
            resp.status, resp.getheader('Content-Length'), resp.read()))
        self.assertEqual(200, self._get(conn, '/v2.1/servers')[0])
        self.assertEqual(3, len(self.upstream.hits))
        self.assertEqual(1, self.proxy.total(method='DELETE',
                                             path=r'/servers/\{id\}$'))

    def test_burst_then_success_on_one_connection(self):
        self.proxy.faults.add(httpproxy.burst(503, 2, path='/detail',
                                              retry_after='0'))
        conn = self._conn()
        results = [self._get(conn, '/v2.1/servers/detail') for _i in range(3)]
        self.assertEqual([503, 503, 200], [r[0] for r in results])
        self.assertEqual('0', results[0][2].getheader('Retry-After'))
        self.assertEqual(503, json.loads(results[0][1])[
            'serviceUnavailable']['code'])
        # Faults answered by the proxy never reached the upstream.
        self.assertEqual(1, len(self.upstream.hits))
        self.assertEqual({'200': 1, '503': 2},
                         self.proxy.snapshot()['statuses'])

    def test_conflict_after_forward_reaches_upstream(self):
        self.proxy.faults.add(httpproxy.conflict(method='POST',
                                                 forward=True))
        conn = self._conn()
        conn.request('POST', '/v2.1/servers/%s/action' % UUID, body=b'{}')
        resp = conn.getresponse()
        self.assertEqual(409, resp.status)
        resp.read()
        self.assertEqual([('POST', '/v2.1/servers/%s/action' % UUID)],
                         self.upstream.hits)
        event = self.proxy.events()[0]
        self.assertEqual((409, 201), (event.status, event.upstream))

    def test_reset(self):
        self.proxy.faults.add(httpproxy.reset(path='/os-services'))
        conn = self._conn()
        conn.request('GET', '/v2.1/os-services')
        self.assertRaises((ConnectionError, http.client.HTTPException),
                          conn.getresponse)
        conn.close()
        status, _body, _resp = self._get(self._conn(), '/v2.1/os-services')
        self.assertEqual(200, status)
        events = self.proxy.events()
        self.assertEqual([0, 200], [e.status for e in events])
        self.assertEqual('reset .* /os-services', events[0].fault)
        # The reset request never reached the upstream.
        self.assertEqual(1, len(self.upstream.hits))

    def test_latency_spike(self):
        self.proxy.faults.add(httpproxy.latency(0.3, path='/slow'))
        conn = self._conn()
        start = time.monotonic()
        self.assertEqual(200, self._get(conn, '/v2.1/slow')[0])
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.assertGreaterEqual(self.proxy.events()[0].elapsed, 0.3)

    def test_upstream_down_is_a_502(self):
        proxy = httpproxy.CountingProxy(
            {'compute': 'http://127.0.0.1:%d' % _free_port()},
            idle_timeout=10, max_lifetime=10).start()
        self.addCleanup(proxy.stop)
        url = proxy.url_for('compute')
        conn = http.client.HTTPConnection('127.0.0.1',
                                          int(url.rsplit(':', 1)[1]),
                                          timeout=10)
        self.addCleanup(conn.close)
        conn.request('GET', '/')
        resp = conn.getresponse()
        self.assertEqual(502, resp.status)
        self.assertIn('badGateway', json.loads(resp.read()))

    def test_json_dump(self):
        self._get(self._conn(), '/v2.1/flavors/detail')
        path = os.path.join(self.useFixture(fixtures.TempDir()).path, 'c.json')
        self.proxy.dump_json(path, events=True)
        with open(path) as f:
            data = json.load(f)
        self.assertEqual(1, data['total'])
        self.assertEqual([{'service': 'compute', 'method': 'GET',
                           'path': '/v2.1/flavors/detail', 'count': 1}],
                         data['counts'])
        self.assertEqual('/v2.1/flavors/detail',
                         data['events'][0]['raw_path'])
        self.assertEqual(1, data['seed'])

    def test_stops_when_idle(self):
        proxy = httpproxy.CountingProxy({'compute': self.base},
                                        idle_timeout=0.5, max_lifetime=30)
        proxy.start()
        self.addCleanup(proxy.stop)
        self.assertTrue(proxy.running)
        self.assertTrue(proxy.wait_stopped(5))
        self.assertIn('idle', proxy.stop_reason)
        self.assertFalse(proxy.running)
        port = int(proxy.url_for('compute').rsplit(':', 1)[1].split('/')[0])
        self.assertRaises(ConnectionError, socket.create_connection,
                          ('127.0.0.1', port), 2)

    def test_stops_at_max_lifetime_even_when_busy(self):
        proxy = httpproxy.CountingProxy({'compute': self.base},
                                        idle_timeout=30, max_lifetime=1.0)
        proxy.start()
        self.addCleanup(proxy.stop)
        url = proxy.url_for('compute')
        conn = http.client.HTTPConnection(
            '127.0.0.1', int(url.rsplit(':', 1)[1].split('/')[0]), timeout=5)
        self.addCleanup(conn.close)
        deadline = time.monotonic() + 5
        while proxy.running and time.monotonic() < deadline:
            try:
                conn.request('GET', '/v2.1/busy')
                conn.getresponse().read()
            except (OSError, http.client.HTTPException):
                break
            time.sleep(0.05)
        self.assertTrue(proxy.wait_stopped(5))
        self.assertIn('max lifetime', proxy.stop_reason)


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
