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

"""Checking servers after their migrations ended: reads made together."""

import threading

from openstack import exceptions as sdk_exc
import testtools

from migrationclient.engine import drain
from migrationclient import exitcodes
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes


def _nova(n, hold=2):
    nova = fakes.FakeNova()
    for i in range(n):
        nova.add('s%d' % i, hold=hold)
    real = nova.get_server
    reads = []

    def get_server(sid):
        reads.append((sid, threading.current_thread().name))
        return real(sid)
    nova.get_server = get_server
    return nova, reads


class TestReadTogether(testtools.TestCase):

    def test_servers_that_ended_together_are_read_together(self):
        nova, reads = _nova(4)
        items = [base.item('s%d' % i) for i in range(4)]
        run = base.DrainRun(nova, items, base.opts(max_parallel=4,
                                                   max_per_target=0))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual([drain.DONE] * 4, [i.state for i in items])
        together = {sid for sid, name in reads
                    if name.startswith('drain-verify')}
        self.assertEqual({'s0', 's1', 's2', 's3'}, together)

    def test_a_failed_read_is_tried_at_the_next_poll(self):
        nova, reads = _nova(2)
        real = nova.get_server
        failed = []

        def get_server(sid):
            if sid == 's1' and not failed:
                failed.append(sid)
                raise sdk_exc.HttpException('boom', http_status=503)
            return real(sid)
        nova.get_server = get_server
        items = [base.item('s0'), base.item('s1')]
        run = base.DrainRun(nova, items, base.opts(max_parallel=2,
                                                   max_per_target=0))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual([drain.DONE] * 2, [i.state for i in items])
        self.assertEqual(['s1'], failed)
        self.assertTrue([t for sid, t in run.lines if sid == 's1' and
                         t.startswith('cannot read the server')])
        self.assertEqual({}, run.drain.checker._read)

    def test_one_server_is_read_in_the_drains_thread(self):
        nova, reads = _nova(1)
        items = [base.item('s0')]
        run = base.DrainRun(nova, items, base.opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertFalse([n for _s, n in reads
                          if n.startswith('drain-verify')])
