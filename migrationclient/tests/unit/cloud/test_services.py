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

"""services: exact host resolution, disable / enable per microversion.

The compute endpoint is served by requests-mock with the upstream
``os-services`` samples; the openstacksdk code is real, so the tests show
the requests each microversion sends (2.38-era ``disable-log-reason`` with
host and binary, ``PUT /os-services/{uuid}`` from 2.53).
"""

import datetime
import json
import os

import openstack
import requests_mock
import testtools

from migrationclient.cloud import errors
from migrationclient.cloud import services

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                       'samples', 'nova', 'os-services')
ENDPOINT = 'http://nova.test/v2.1'


def _sample(path):
    with open(os.path.join(SAMPLES, path)) as fp:
        return json.load(fp)


class _Base(testtools.TestCase):

    VERSION = None
    LIST = None

    def setUp(self):
        super().setUp()
        mocker = requests_mock.Mocker()
        mocker.start()
        self.addCleanup(mocker.stop)
        self.mocker = mocker
        version = {'version': {
            'id': 'v2.1', 'status': 'CURRENT', 'version': '2.104',
            'min_version': '2.1', 'links': [
                {'rel': 'self', 'href': ENDPOINT + '/'}]}}
        mocker.get(ENDPOINT, json=version)
        mocker.get(ENDPOINT + '/', json=version)
        mocker.get(ENDPOINT + '/os-services', json=_sample(self.LIST))
        self.compute = openstack.connect(
            auth_type='none', compute_endpoint_override=ENDPOINT,
            compute_api_version=self.VERSION, region_name='',
            load_yaml_config=False, load_envvars=False).compute

    def _compute1(self):
        return services.resolve_exact(
            services.list_compute_services(self.compute), 'host1')


class TestResolve(_Base):

    VERSION = '2.53'
    LIST = 'v2.53/services-list-get-resp.json'

    def test_only_nova_compute(self):
        svcs = services.list_compute_services(self.compute)
        self.assertEqual(['host1', 'host2'], [s.host for s in svcs])
        self.assertEqual({'nova-compute'}, {
            r.qs.get('binary', [''])[0] for r in self.mocker.request_history
            if r.path.endswith('/os-services')})

    def test_exact_match(self):
        svc = self._compute1()
        self.assertEqual('e81d66a4-ddd3-4aba-8a84-171d1cb4d339', svc.id)
        self.assertTrue(svc.is_up)
        self.assertFalse(svc.is_enabled)
        self.assertEqual('test2', svc.disabled_reason)

    def test_substring_is_never_a_match(self):
        svcs = services.list_compute_services(self.compute)
        exc = self.assertRaises(errors.NotFound,
                                services.resolve_exact, svcs, 'host')
        self.assertIn('exact match', str(exc))
        self.assertIn('host1, host2', str(exc))
        exc = self.assertRaises(errors.NotFound,
                                services.resolve_exact, svcs, 'compute9')
        self.assertIn('known compute hosts: host1, host2', str(exc))

    def test_down_service(self):
        svcs = services.list_compute_services(self.compute)
        self.assertFalse(services.resolve_exact(svcs, 'host2').is_up)

    def test_forbidden(self):
        self.mocker.get(ENDPOINT + '/os-services', status_code=403,
                        json={'forbidden': {'code': 403, 'message':
                                            'Policy does not allow'}})
        exc = self.assertRaises(errors.Forbidden,
                                services.list_compute_services, self.compute)
        self.assertIn('admin', str(exc))


class TestDisableEnable253(_Base):

    VERSION = '2.53'
    LIST = 'v2.53/services-list-get-resp.json'

    def test_disable_sends_uuid_put(self):
        svc = self._compute1()
        url = ENDPOINT + '/os-services/' + svc.id
        self.mocker.put(url, json=_sample(
            'v2.53/service-disable-log-put-resp.json'))
        out = services.disable(self.compute, svc, 'maintenance')
        req = self.mocker.request_history[-1]
        self.assertEqual(('PUT', url), (req.method, req.url))
        self.assertEqual(_sample('v2.53/service-disable-log-put-req.json'),
                         req.json())
        self.assertEqual(('disabled', 'maintenance'),
                         (out.status, out.disabled_reason))

    def test_enable(self):
        svc = self._compute1()
        url = ENDPOINT + '/os-services/' + svc.id
        self.mocker.put(url, json=_sample(
            'v2.53/service-enable-put-resp.json'))
        out = services.enable(self.compute, svc)
        req = self.mocker.request_history[-1]
        self.assertEqual(_sample('v2.53/service-enable-put-req.json'),
                         req.json())
        self.assertEqual('enabled', out.status)
        self.assertIsNone(out.disabled_reason)

    def test_refused(self):
        svc = self._compute1()
        self.mocker.put(ENDPOINT + '/os-services/' + svc.id,
                        status_code=409, json={'conflictingRequest': {
                            'code': 409, 'message': 'Service is busy'}})
        exc = self.assertRaises(errors.CloudError, services.disable,
                                self.compute, svc, 'x')
        self.assertIn('Could not disable nova-compute on host1', str(exc))


class TestDisableEnable238(_Base):
    """OSP 10: integer ids, PUT /os-services/disable-log-reason."""

    VERSION = '2.38'
    LIST = 'v2.11/services-list-get-resp.json'

    def test_disable_log_reason(self):
        svc = self._compute1()
        self.assertEqual(2, svc.id)
        url = ENDPOINT + '/os-services/disable-log-reason'
        self.mocker.put(url, json=_sample(
            'service-disable-log-put-resp.json'))
        out = services.disable(self.compute, svc, 'test2')
        req = self.mocker.request_history[-1]
        self.assertEqual(('PUT', url), (req.method, req.url))
        self.assertEqual(_sample('service-disable-log-put-req.json'),
                         req.json())
        self.assertEqual('2.38', req.headers['OpenStack-API-Version']
                         .split()[-1])
        self.assertEqual('disabled', out.status)

    def test_enable(self):
        svc = self._compute1()
        url = ENDPOINT + '/os-services/enable'
        self.mocker.put(url, json=_sample('service-enable-put-resp.json'))
        out = services.enable(self.compute, svc)
        req = self.mocker.request_history[-1]
        self.assertEqual(_sample('service-enable-put-req.json'), req.json())
        self.assertEqual('enabled', out.status)


class TestDefaultReason(testtools.TestCase):

    def test_names_tool_and_time(self):
        when = datetime.datetime(2026, 11, 27, 10, 0, 5,
                                 tzinfo=datetime.timezone.utc)
        self.assertEqual('migrationclient drain 2026-11-27T10:00:05Z',
                         services.default_reason(when))
