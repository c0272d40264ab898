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

"""Which cloud: the key of a drain's default report."""

import types

import testtools

from migrationclient.cloud import actions
from migrationclient.cloud import identity


def conn(auth, region='RegionOne', name='overcloud'):
    config = types.SimpleNamespace(
        get_auth_args=lambda: dict(auth), region_name=region, name=name,
        config={'auth': dict(auth)},
        get_endpoint=lambda service: 'http://nova.example:8774/v2.1')
    return types.SimpleNamespace(config=config)


class TestIdentity(testtools.TestCase):

    def test_normalize_url(self):
        for url in ('http://KS.example:5000', 'http://ks.example:5000/',
                    'http://ks.example:5000/v3', 'http://ks.example:5000/V3/',
                    'http://ks.example:5000/v2.0'):
            self.assertEqual('http://ks.example:5000',
                             identity.normalize_url(url), url)
        self.assertEqual('https://ks.example/identity',
                         identity.normalize_url(
                             'HTTPS://ks.example:443/identity/v3'))
        self.assertEqual('', identity.normalize_url(None))

    def test_overcloudrc_and_clouds_yaml_agree(self):
        # source overcloudrc: OS_AUTH_URL without /v3, cloud "envvars";
        # clouds.yaml: the same cloud under another name, with /v3.
        rc = identity.cloud_of(conn({'auth_url': 'http://192.0.2.10:13000',
                                     'username': 'admin'}, name='envvars'))
        yaml = identity.cloud_of(conn({'auth_url':
                                       'http://192.0.2.10:13000/v3/',
                                       'username': 'other'}))
        self.assertEqual(rc.key, yaml.key)
        self.assertTrue(rc.key.startswith('192.0.2.10_13000-RegionOne-'),
                        rc.key)
        self.assertRegex(rc.key, r'^[A-Za-z0-9._-]+$')

    def test_region_and_url_make_the_key(self):
        a = identity.cloud_of(conn({'auth_url': 'http://ks:5000'}))
        b = identity.cloud_of(conn({'auth_url': 'http://ks:5000'},
                                   region='RegionTwo'))
        c = identity.cloud_of(conn({'auth_url': 'http://ks2:5000'}))
        self.assertEqual(3, len({a.key, b.key, c.key}))
        self.assertEqual('http://ks:5000 (region RegionTwo)', b.describe())

    def test_without_identity_url(self):
        # auth_type none (the test bed): the endpoint, else compute's.
        cid = identity.cloud_of(conn({'endpoint':
                                      'http://127.0.0.1:8774/v2.1'}))
        self.assertEqual('http://127.0.0.1:8774/v2.1', cid.url)
        cid = identity.cloud_of(conn({}, region=None))
        self.assertEqual('http://nova.example:8774/v2.1', cid.url)
        self.assertIsNone(cid.region)
        self.assertNotIn('None', cid.key)
        self.assertIsNone(identity.cloud_of(None))
        self.assertIsNone(identity.cloud_of(types.SimpleNamespace()))

    def test_actions_cloud(self):
        acts = actions.Actions(None, conn({'auth_url': 'http://ks:5000'}),
                               version='2.80')
        self.assertEqual('http://ks:5000', acts.cloud().url)
        self.assertIsNone(actions.Actions(None, None,
                                          version='2.80').cloud())
