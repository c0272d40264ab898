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

"""The NUMA snapshot file (moved from v1/test_numa)."""

import datetime
import json
import os
import tempfile

import testtools

from migrationclient.cloud import servers
from migrationclient.host import snapshot as snapshot_file
from migrationclient.tests.unit.host import test_compare
from migrationclient.tests.unit.host import test_probe


class TestSnapshotFile(testtools.TestCase):

    def write(self, text):
        handle = tempfile.NamedTemporaryFile('w', suffix='.json',
                                             delete=False)
        self.addCleanup(os.unlink, handle.name)
        with handle:
            handle.write(text)
        return handle.name

    def snapshot(self):
        location = servers.ServerLocation('uuid-1', 'vm1', 'cmp-1',
                                          'instance-00000001')
        return snapshot_file.make_snapshot(
            location, test_compare.placement(), test_probe.host_topology(),
            now=datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc))

    def test_round_trip(self):
        path = self.write('')
        snapshot_file.write_snapshot(path, self.snapshot())
        data, placement = snapshot_file.read_snapshot(path)
        self.assertEqual('2026-01-02T00:00:00+00:00', data['taken_at'])
        self.assertEqual(test_compare.placement(), placement)

    def test_corrupt(self):
        good = self.snapshot()
        wrong_version = dict(good, version=99)
        bad_field = dict(good, placement=dict(good['placement'],
                                              vcpu_pins='x'))
        no_server = {k: v for k, v in good.items() if k != 'server'}
        for text, reason in (
                ('{"format": ', 'not JSON'),
                ('\xff\xfe', 'not JSON'),
                ('[]', 'no "format"'),
                ('{"format": "other"}', 'no "format"'),
                (json.dumps(wrong_version), 'version 99'),
                (json.dumps(bad_field), 'missing or invalid field'),
                (json.dumps(no_server), 'missing or invalid field')):
            path = self.write(text)
            self.assertRaisesRegex(
                snapshot_file.SnapshotError,
                'snapshot %s is not a usable NUMA snapshot: %s'
                % (path, reason), snapshot_file.read_snapshot, path)
