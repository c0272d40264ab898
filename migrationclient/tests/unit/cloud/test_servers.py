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

"""The one server lookup (locate tests moved from v1/test_numa)."""

from openstack.compute.v2 import hypervisor as sdk_hypervisor
from openstack.compute.v2 import server as sdk_server
from openstack import exceptions as sdk_exceptions
import testtools

from migrationclient.cloud import errors
from migrationclient.cloud import servers


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
        location = servers.locate_server(FakeCompute(server, hyper), 'vm1')
        self.assertEqual(servers.ServerLocation(
            'uuid-1', 'vm1', 'cmp-1', 'instance-00000001', '192.0.2.10'),
            location)

    def test_non_admin_view(self):
        server = sdk_server.Server(id='uuid-1', name='vm1')
        self.assertRaisesRegex(errors.Forbidden, 'admin rights',
                               servers.locate_server,
                               FakeCompute(server, forbidden=True), 'vm1')
