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

"""The openstacksdk bugs sdkfix works around, shown on API samples.

The compute endpoint is served by requests-mock with the upstream API
samples; the SDK code under test is real.
"""

import json
import os

import openstack
import requests_mock
import testtools

from migrationclient.cloud import sdkfix

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                       'samples')
ENDPOINT = 'http://nova.test/v2.1'


def _sample(path):
    with open(os.path.join(SAMPLES, path)) as fp:
        return json.load(fp)


class TestServersOnHost(testtools.TestCase):

    def setUp(self):
        super().setUp()
        mocker = requests_mock.Mocker()
        mocker.start()
        self.addCleanup(mocker.stop)
        self.mocker = mocker
        versions = _sample('nova/versions/versions-get-resp.json')
        v21 = [v for v in versions['versions'] if v['id'] == 'v2.1'][0]
        mocker.get(ENDPOINT, json={'version': v21})
        servers = _sample('nova/servers/servers-details-resp.json')
        servers.pop('servers_links', None)     # one page
        mocker.get(ENDPOINT + '/servers/detail', json=servers)
        self.host = servers['servers'][0]['OS-EXT-SRV-ATTR:host']
        self.compute = openstack.connect(
            auth_type='none', compute_endpoint_override=ENDPOINT,
            region_name='', load_yaml_config=False,
            load_envvars=False).compute

    def test_sdk_host_filter_loses_every_server(self):
        # The bug: Nova returns the server, the SDK filters it out.
        found = list(self.compute.servers(all_projects=True, host=self.host))
        self.assertIn('host=%s' % self.host,
                      self.mocker.request_history[-1].url)
        self.assertEqual([], found)

    def test_servers_on_host(self):
        found = list(sdkfix.servers_on_host(self.compute, self.host))
        url = self.mocker.request_history[-1].url
        self.assertIn('host=%s' % self.host, url)
        self.assertIn('all_tenants=True', url)
        self.assertEqual(['f5dc173b-6804-445a-a6d8-c705dad5b5eb'],
                         [s.id for s in found])
        self.assertEqual(self.host, found[0].compute_host)
