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

"""The one compute version discovery."""

import testtools

from migrationclient.cloud import errors
from migrationclient.cloud import versions
from migrationclient import microversions as mv
from migrationclient.tests.unit.cloud import test_migrations as fakes


class Unreachable(fakes.FakeCompute):
    def get_endpoint_data(self):
        raise ConnectionError('refused')


class TestVersions(testtools.TestCase):

    def test_lenient(self):
        self.assertEqual(mv.Version(2, 104),
                         versions.api_version(fakes.FakeCompute('2.104')))
        self.assertEqual(mv.Version(2, 60), versions.api_version(
            fakes.FakeCompute('2.104', default='2.60')))
        self.assertEqual(mv.Version(2, 1),
                         versions.api_version(Unreachable()))
        self.assertIsNone(versions.cloud_max_version(Unreachable()))

    def test_checked(self):
        self.assertEqual((mv.Version(2, 104), None),
                         versions.checked(fakes.FakeCompute('2.104')))
        self.assertEqual(
            (mv.Version(2, 104), mv.Version(2, 90)),
            versions.checked(fakes.FakeCompute('2.104', default='2.90')))
        exc = self.assertRaises(errors.Unreachable, versions.checked,
                                Unreachable())
        self.assertIn('compute service unreachable', str(exc))
        exc = self.assertRaises(errors.Unsupported, versions.checked,
                                fakes.FakeCompute('2.37'))
        self.assertIn('older than the oldest supported 2.38', str(exc))
        exc = self.assertRaises(
            errors.Unsupported, versions.checked,
            fakes.FakeCompute('2.60', default='2.61'))
        self.assertIn('the cloud supports up to 2.60', str(exc))
