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

"""NUMA comparisons below the command (moved from v1/test_numa)."""

import testtools

from migrationclient.cloud import servers
from migrationclient.engine import numa
from migrationclient.tests.unit.host import test_compare
from migrationclient.tests.unit.host import test_snapshot


class TestCompareWithSnapshot(testtools.TestCase):

    def test_other_server(self):
        location = servers.ServerLocation('uuid-2', 'vm2', 'cmp-1', 'i-2')
        self.assertRaisesRegex(
            numa.NumaError, 'the snapshot is of server uuid-1, not '
            'uuid-2', numa.compare_with_snapshot, None, location,
            test_snapshot.TestSnapshotFile.snapshot(None),
            test_compare.placement())
