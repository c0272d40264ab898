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


class HypervisorsCompute:
    """``hypervisors(details=True)``: a list, or a refusal."""

    def __init__(self, hypervisors=(), error=None):
        self.list, self.error = list(hypervisors), error

    def hypervisors(self, details):
        if self.error is not None:
            raise self.error
        return iter(self.list)


class TestHostAddress(testtools.TestCase):

    def test_address_of_the_service_host(self):
        hyper = sdk_hypervisor.Hypervisor(
            name='cmp-1.example', host_ip='192.0.2.10',
            service_details={'host': 'cmp-1', 'id': 7})
        self.assertEqual('192.0.2.10', servers.host_address(
            HypervisorsCompute([hyper]), 'cmp-1'))
        self.assertIsNone(servers.host_address(
            HypervisorsCompute([hyper]), 'cmp-2'))

    def test_policy_refusal_says_admin(self):
        compute = HypervisorsCompute(error=sdk_exceptions.ForbiddenException(
            'Policy does not allow os_compute_api:os-hypervisors:list'))
        self.assertRaisesRegex(errors.Forbidden, 'needs the admin role',
                               servers.host_address, compute, 'cmp-1')

    def test_other_failures_fall_back_to_the_name(self):
        compute = HypervisorsCompute(
            error=sdk_exceptions.HttpException('boom'))
        self.assertIsNone(servers.host_address(compute, 'cmp-1'))


class LookupCompute:
    """``find_server`` as openstacksdk answers it, per project scope."""

    def __init__(self, mine=(), everyone=(), forbidden=False):
        self.mine, self.everyone = list(mine), list(everyone)
        self.forbidden = forbidden
        self.calls = []

    def find_server(self, ref, ignore_missing, details, all_projects=False):
        self.calls.append(all_projects)
        if all_projects and self.forbidden:
            raise sdk_exceptions.ForbiddenException('policy')
        found = [s for s in (self.everyone if all_projects else self.mine)
                 if ref in (s.id, s.name)]
        if len(found) > 1:
            raise sdk_exceptions.DuplicateResource('two')
        return found[0] if found else None


def _server(ident, name='vm1'):
    return sdk_server.Server(id=ident, name=name)


class TestFindServer(testtools.TestCase):

    def test_admin_sees_every_project(self):
        compute = LookupCompute(everyone=[_server('uuid-9')])
        self.assertEqual('uuid-9', servers.find_server(compute, 'vm1').id)
        self.assertEqual([True], compute.calls)

    def test_not_admin_sees_their_own(self):
        compute = LookupCompute(mine=[_server('uuid-1')], forbidden=True)
        self.assertEqual('uuid-1', servers.find_server(compute, 'vm1').id)
        self.assertEqual([True, False], compute.calls)

    def test_one_family_of_messages(self):
        exc = self.assertRaises(errors.NotFound, servers.find_server,
                                LookupCompute(), 'nosuch')
        self.assertEqual('No server with a name or ID of nosuch exists',
                         str(exc))
        exc = self.assertRaises(
            errors.Ambiguous, servers.find_server,
            LookupCompute(everyone=[_server('a'), _server('b')]), 'vm1')
        self.assertEqual('More than one server is named vm1; use its ID',
                         str(exc))

    def test_failure_is_one_line(self):
        class Broken(LookupCompute):
            def find_server(self, *args, **kwargs):
                raise sdk_exceptions.HttpException('bad\ngateway')
        exc = self.assertRaises(errors.CloudError, servers.find_server,
                                Broken(), 'vm1')
        self.assertEqual('Cannot find server vm1: bad gateway', str(exc))

    def test_find_servers_drops_duplicates(self):
        compute = LookupCompute(everyone=[_server('uuid-1')])
        self.assertEqual(['uuid-1'], [s.id for s in servers.find_servers(
            compute, ['vm1', 'uuid-1'])])


class TestNovaTopology(testtools.TestCase):
    """``GET /servers/{id}/topology`` names microversion 2.78 itself."""

    ENDPOINT = 'http://compute.test/v2.1'

    def setUp(self):
        super().setUp()
        import openstack
        import requests_mock

        from migrationclient.tests.unit.constraints import base
        self.mocker = requests_mock.Mocker()
        self.mocker.start()
        self.addCleanup(self.mocker.stop)
        versions = base.sample('nova/versions/versions-get-resp.json')
        v21 = [v for v in versions['versions'] if v['id'] == 'v2.1'][0]
        self.mocker.get(self.ENDPOINT, json={'version': v21})
        self.body = base.sample(
            'nova/os-server-topology/v2.78/servers-topology-resp.json')
        self.compute = openstack.connect(
            auth_type='none', compute_endpoint_override=self.ENDPOINT,
            region_name='', load_yaml_config=False,
            load_envvars=False).compute

    def test_sends_2_78(self):
        self.mocker.get(self.ENDPOINT + '/servers/uuid-1/topology',
                        json=self.body)
        self.assertEqual(self.body,
                         servers.nova_topology(self.compute, 'uuid-1'))
        request = self.mocker.request_history[-1]
        self.assertEqual('compute 2.78',
                         request.headers['OpenStack-API-Version'])

    def test_refused_is_none(self):
        self.mocker.get(self.ENDPOINT + '/servers/uuid-1/topology',
                        status_code=404, json={'itemNotFound': {
                            'message': 'x', 'code': 404}})
        self.assertIsNone(servers.nova_topology(self.compute, 'uuid-1'))
