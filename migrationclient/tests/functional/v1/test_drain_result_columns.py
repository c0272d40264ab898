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

"""Issue 18: the drain's result table through the real CLI.

``Destination`` is where the drain sent a server (``-`` when it sent it
nowhere); ``Now on`` is where the server is: the source host for one
that failed or was skipped, never the destination it did not reach.
"""

from migrationclient import exitcodes
from migrationclient.tests.functional.v1 import test_drain

SOURCE = test_drain.SOURCE


class TestResultDestinationNowOn(test_drain.DrainTestCase):

    def test_failed_and_skipped_are_now_on_the_source(self):
        moved = self.server('image', name='a-moves', fakecloud_hold=1)
        failing = self.server('image', name='b-fails', fakecloud_hold=1,
                              fakecloud_fail=1)
        broken = self.server('error', name='c-broken')
        res = self.drain(SOURCE, '--poll-interval', '1', '--max-failures',
                         '0', expect=exitcodes.DRAIN_INCOMPLETE)
        rows = {r['Server']: r for r in res.json()}
        self.assertEqual(3, len(rows), res.stdout)
        for row in rows.values():
            self.assertEqual(SOURCE, row['Host'])

        row = rows[moved.id]
        now = self.compute.get_server(moved.id).compute_host
        self.assertNotEqual(SOURCE, now)
        self.assertEqual(('done', now, now),
                         (row['State'], row['Destination'], row['Now on']))

        row = rows[failing.id]
        self.assertEqual(SOURCE,
                         self.compute.get_server(failing.id).compute_host)
        self.assertEqual(('failed', SOURCE), (row['State'], row['Now on']))
        # where it was sent, not where it is
        self.assertNotEqual(SOURCE, row['Destination'])
        self.assertNotEqual('-', row['Migration'])

        row = rows[broken.id]
        self.assertEqual(('skipped', '-', SOURCE),
                         (row['State'], row['Destination'], row['Now on']))
        self.assertTrue(row['Reason'])
