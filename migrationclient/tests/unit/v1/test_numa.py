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
import json
import os
import tempfile
from unittest import mock

from openstack.compute.v2 import hypervisor as sdk_hypervisor
from openstack.compute.v2 import server as sdk_server
from openstack import exceptions as sdk_exceptions
from osc_lib import exceptions
import testtools

from migrationclient.host import compare
from migrationclient.tests.unit.host import test_compare
from migrationclient.tests.unit.host import test_probe
from migrationclient.v1 import numa


class TestParser(testtools.TestCase):

    def cmd(self):
        return numa.CompareNuma(mock.Mock(), None)

    def parse(self, *argv):
        return self.cmd().get_parser('numa compare').parse_args(list(argv))

    def test_modes(self):
        args = self.parse('vm1', '--save', '/tmp/x', '--nic', 'ens1f0',
                          '--ssh-user', 'heat-admin')
        self.assertEqual(('vm1', '/tmp/x', ['ens1f0'], 'heat-admin'),
                         (args.server, args.save, args.nic, args.ssh_user))
        args = self.parse('--hosts', 'c1', 'c2')
        self.assertEqual(['c1', 'c2'], args.hosts)
        self.assertRaises(SystemExit, self.parse, 'vm', '--save', 'a',
                          '--before', 'b')
        self.assertRaises(SystemExit, self.parse, '--hosts', 'c1')

    def test_bad_combinations(self):
        for argv, message in (
                (('vm',), 'give --save'),
                ((), 'name a server'),
                (('vm', '--hosts', 'a', 'b'), 'do not name a server')):
            args = self.parse(*argv)
            self.assertRaisesRegex(exceptions.CommandError, message,
                                   self.cmd().take_action, args)

    def test_bad_snapshot_fails_before_any_cloud_call(self):
        app = mock.Mock()
        cmd = numa.CompareNuma(app, None)
        args = self.parse('vm', '--before', '/nonexistent/snap.json')
        self.assertRaisesRegex(exceptions.CommandError,
                               'cannot read snapshot /nonexistent/snap.json',
                               cmd.take_action, args)
        self.assertEqual([], app.client_manager.compute.method_calls)


class TestSnapshotFile(testtools.TestCase):

    def write(self, text):
        handle = tempfile.NamedTemporaryFile('w', suffix='.json',
                                             delete=False)
        self.addCleanup(os.unlink, handle.name)
        with handle:
            handle.write(text)
        return handle.name

    def snapshot(self):
        location = numa.ServerLocation('uuid-1', 'vm1', 'cmp-1',
                                       'instance-00000001')
        return numa.make_snapshot(
            location, test_compare.placement(), test_probe.host_topology(),
            now=datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc))

    def test_round_trip(self):
        path = self.write('')
        numa.write_snapshot(path, self.snapshot())
        data, placement = numa.read_snapshot(path)
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
                exceptions.CommandError,
                'snapshot %s is not a usable NUMA snapshot: %s'
                % (path, reason), numa.read_snapshot, path)

    def test_other_server(self):
        location = numa.ServerLocation('uuid-2', 'vm2', 'cmp-1', 'i-2')
        self.assertRaisesRegex(
            exceptions.CommandError, 'the snapshot is of server uuid-1, not '
            'uuid-2', numa.compare_with_snapshot, None, location,
            self.snapshot(), test_compare.placement())


class FakeCompute:
    """Just the two SDK calls locate_server makes, with SDK resources."""

    def __init__(self, server, hypervisor=None, forbidden=False):
        self.server, self.hypervisor = server, hypervisor
        self.forbidden = forbidden

    def find_server(self, ref, ignore_missing, details, all_projects=False):
        if all_projects and self.forbidden:
            raise sdk_exceptions.ForbiddenException('policy')
        return self.server

    def find_hypervisor(self, name, ignore_missing, details):
        return self.hypervisor


class TestLocate(testtools.TestCase):

    def test_location_from_server_and_hypervisor(self):
        server = sdk_server.Server(
            id='uuid-1', name='vm1', compute_host='cmp-1',
            instance_name='instance-00000001',
            hypervisor_hostname='cmp-1.example')
        hyper = sdk_hypervisor.Hypervisor(host_ip='192.0.2.10')
        location = numa.locate_server(FakeCompute(server, hyper), 'vm1')
        self.assertEqual(numa.ServerLocation(
            'uuid-1', 'vm1', 'cmp-1', 'instance-00000001', '192.0.2.10'),
            location)

    def test_non_admin_view(self):
        server = sdk_server.Server(id='uuid-1', name='vm1')
        self.assertRaisesRegex(exceptions.CommandError, 'admin rights',
                               numa.locate_server,
                               FakeCompute(server, forbidden=True), 'vm1')


class TestOutput(testtools.TestCase):

    def test_degraded_rows_mark_the_command(self):
        cmd = numa.CompareNuma(mock.Mock(), None)
        columns, data = cmd._output(
            [compare.Row('x', '1', '2', compare.degraded('worse')),
             compare.Row('y', '1', '1', compare.SAME)])
        self.assertEqual(numa.COLUMNS, columns)
        self.assertEqual([('x', '1', '2', 'degraded: worse'),
                          ('y', '1', '1', 'same')], data)
        self.assertTrue(cmd._degraded)
        cmd._output([compare.Row('y', '1', '1', compare.SAME)])
        self.assertFalse(cmd._degraded)
