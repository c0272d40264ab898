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

"""Did the server really move?"""


import testtools

from migrationclient.cloud import migrations as cloud
from migrationclient.engine import watch
from migrationclient.tests.unit.engine.watch import base


class TestVerdict(testtools.TestCase):

    def _state(self, status, mtype='live-migration', reason=None):
        m = cloud.Migration(id=1, server_id=base.SERVER, status=status,
                            migration_type=mtype)
        s = watch.MigrationState(m, 0, None, 30, 10)
        s.outcome = ('completed' if status in cloud.SUCCEEDED else
                     'cancelled' if status in cloud.CANCELLED else 'failed')
        s.reason = reason
        return s

    def test_moved(self):
        v = watch.move_verdict(self._state('completed'), 'compute1',
                               'ACTIVE', {'compute_host': 'compute2',
                                          'status': 'ACTIVE'})
        self.assertTrue(v.moved)
        self.assertEqual('moved', v.verdict)

    def test_completed_but_still_on_source(self):
        v = watch.move_verdict(self._state('completed'), 'compute1',
                               'ACTIVE', {'compute_host': 'compute1',
                                          'status': 'ACTIVE'})
        self.assertFalse(v.moved)
        self.assertEqual('not-moved', v.verdict)

    def test_status_changed(self):
        v = watch.move_verdict(self._state('completed'), 'compute1',
                               'ACTIVE', {'compute_host': 'compute2',
                                          'status': 'ERROR'})
        self.assertEqual('status-changed', v.verdict)

    def test_rolled_back(self):
        v = watch.move_verdict(self._state('failed'), 'compute1', 'ACTIVE',
                               {'compute_host': 'compute1',
                                'status': 'ACTIVE'})
        self.assertFalse(v.moved)
        self.assertEqual('rolled-back', v.verdict)

    def test_cold_awaiting_confirm(self):
        v = watch.move_verdict(self._state('finished', 'migration'),
                               'compute1', 'ACTIVE',
                               {'compute_host': 'compute2',
                                'status': 'VERIFY_RESIZE'})
        self.assertEqual('awaiting-confirm', v.verdict)

    def test_cancelled(self):
        v = watch.move_verdict(self._state('cancelled', 'migration'),
                               'compute1', 'SHUTOFF',
                               {'compute_host': 'compute1',
                                'status': 'SHUTOFF'})
        self.assertEqual('cancelled', v.verdict)

    def test_in_progress(self):
        s = watch.MigrationState(cloud.Migration(
            id=1, server_id=base.SERVER, status='running'), 0, None, 30, 10)
        self.assertEqual('in-progress', watch.move_verdict(
            s, 'compute1', 'ACTIVE', {}).verdict)
