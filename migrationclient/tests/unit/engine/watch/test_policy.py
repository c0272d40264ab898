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

"""What the watching engine does on its own."""

import testtools

from migrationclient.engine import watch
from migrationclient import microversions as mv
from migrationclient.tests.unit import fakes


class TestPolicy(testtools.TestCase):

    def test_bad_policy(self):
        self.assertRaises(ValueError, watch.Policy, on_stuck='reboot')
        self.assertRaises(ValueError, watch.Policy, abort_after=-1)

    def test_one_scope(self):
        self.assertRaises(ValueError, watch.Watcher, fakes.FakeCompute(),
                          server_id='x', host='y')

    def test_check_policy_against_the_microversion(self):
        old, new = mv.Version(2, 22), mv.Version(2, 80)
        exc = self.assertRaises(watch.PolicyError, watch.check_policy,
                                watch.Policy(abort_after=5), old)
        self.assertIn('Abort is not available', str(exc))
        self.assertEqual([], watch.check_policy(watch.Policy(), new))
        lines = watch.check_policy(watch.Policy(on_stuck='force-complete'),
                                   new)
        self.assertEqual(1, len(lines))
        self.assertTrue(lines[0].startswith('WARNING: force-complete'))
        lines = watch.check_policy(watch.Policy(), mv.Version(2, 21))
        self.assertIn('no byte progress', lines[0])
