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

import datetime
import types

from keystoneauth1.identity import generic
from keystoneauth1.identity import v3
import testtools

from migrationclient.cloud import auth


class TestTokenExpiry(testtools.TestCase):

    def test_token_plugins_cannot_renew(self):
        self.assertTrue(auth.cannot_renew(generic.Token('http://k', 't')))
        self.assertTrue(auth.cannot_renew(v3.Token('http://k', 't')))

    def test_password_renews(self):
        self.assertFalse(auth.cannot_renew(generic.Password(
            'http://k', username='u', password='p')))
        self.assertFalse(auth.cannot_renew(v3.Password(
            'http://k', username='u', password='p')))

    def test_expiry_of_a_token_plugin(self):
        when = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
        plugin = generic.Token('http://k', 't')
        plugin.get_access = lambda session: types.SimpleNamespace(
            expires=when)
        session = types.SimpleNamespace(auth=plugin)
        self.assertEqual(when, auth.token_expiry(session))

    def test_no_expiry_for_password(self):
        session = types.SimpleNamespace(auth=generic.Password(
            'http://k', username='u', password='p'))
        self.assertIsNone(auth.token_expiry(session))
        self.assertIsNone(auth.token_expiry(None))
