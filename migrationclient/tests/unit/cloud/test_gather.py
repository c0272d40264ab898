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

"""Parsers of migrationclient.cloud.gather on SDK resources from samples."""

import copy

from openstack.compute.v2 import flavor as sdk_flavor
from openstack.compute.v2 import hypervisor as sdk_hypervisor
from openstack.compute.v2 import server_group as sdk_group
from openstack import exceptions as sdk_exc
from openstack.network.v2 import agent as sdk_agent
import testtools

from migrationclient.cloud import gather as cloud_gather
from migrationclient.tests.unit.constraints import base


class TestCpu(testtools.TestCase):

    def test_cpu_info_object(self):
        hv = base.sample('nova/os-hypervisors/v2.28/hypervisors-detail-resp'
                         '.json')['hypervisors'][0]
        cpu = cloud_gather.cpu_from_cpu_info(hv['cpu_info'])
        self.assertEqual('x86_64', cpu.arch)
        self.assertEqual('Nehalem', cpu.model)
        self.assertEqual(frozenset({'pge', 'clflush'}), cpu.features)
        self.assertIsNone(cpu.numa_cells)

    def test_cpu_info_string_below_228(self):
        hv = base.sample('nova/os-hypervisors/hypervisors-detail-resp.json'
                         )['hypervisors'][0]
        self.assertIsInstance(hv['cpu_info'], str)
        cpu = cloud_gather.cpu_from_cpu_info(hv['cpu_info'])
        self.assertEqual('x86_64', cpu.arch)
        self.assertEqual('cpu_info', cpu.source)

    def test_cells_and_garbage(self):
        cpu = cloud_gather.cpu_from_cpu_info(
            {'arch': 'x86_64', 'topology': {'cells': 2}})
        self.assertEqual(2, cpu.numa_cells)
        self.assertIsNone(cloud_gather.cpu_from_cpu_info('not json'))
        self.assertIsNone(cloud_gather.cpu_from_cpu_info(None))

    def test_traits(self):
        traits = base.sample('placement/resource_provider_traits/'
                             'get-resource_provider-traits.json')['traits']
        cpu = cloud_gather.cpu_from_traits(
            traits + ['HW_CPU_X86_AVX2', 'HW_ARCH_X86_64'])
        self.assertEqual('x86_64', cpu.arch)
        self.assertEqual(frozenset({'HW_CPU_X86_AVX2'}), cpu.features)
        self.assertEqual('traits', cpu.source)


class TestHost(testtools.TestCase):

    def test_v253(self):
        host = base.host('host2')
        self.assertEqual('1bb62a04-c576-402c-8147-9e89757a09e3',
                         host.provider_id)
        self.assertEqual(7680, host.free_ram_mb)
        self.assertTrue(host.is_up and host.is_enabled)
        self.assertEqual(7457, host.inventory['MEMORY_MB'].free)

    def test_v288_without_cpu_info_uses_traits(self):
        body = base.sample('nova/os-hypervisors/v2.88/hypervisors-detail-'
                           'resp.json')['hypervisors'][0]
        hv = sdk_hypervisor.Hypervisor(_synchronized=True, **body)
        host = cloud_gather.host_from_sdk(
            base.service('host2'), hv, traits=['HW_CPU_X86_SSE'])
        self.assertEqual('traits', host.cpu.source)
        self.assertIsNone(host.free_ram_mb)
        self.assertEqual('f6d28711-9c10-470e-8b31-c03f498b0032',
                         host.provider_id)

    def test_integer_ids_have_no_provider(self):
        body = base.sample('nova/os-hypervisors/v2.28/hypervisors-detail-'
                           'resp.json')['hypervisors'][0]
        hv = sdk_hypervisor.Hypervisor(_synchronized=True, **body)
        self.assertIsNone(cloud_gather.host_from_sdk(
            base.service('host1'), hv).provider_id)

    def test_forced_down_and_aggregates(self):
        aggs = [base.aggregate('a', ['host1'], {'pinned': 'true'}),
                base.aggregate('b', ['host9'], {})]
        host = base.host('host1', forced_down=True, aggregates=aggs)
        self.assertFalse(host.is_up)
        self.assertEqual((('a', {'pinned': 'true'}),), host.aggregates)


class TestServer(testtools.TestCase):

    def test_embedded_flavor(self):
        srv = base.server(flavor={'extra_specs': {'hw:numa_nodes': '2'}})
        self.assertEqual('m1.tiny', srv.flavor.name)
        self.assertEqual(512, srv.flavor.ram)
        self.assertEqual(2, srv.numa_nodes)
        self.assertFalse(srv.volume_backed)
        self.assertEqual(1, srv.local_disk_gb)

    def test_old_server_flavor_from_list(self):
        body = copy.deepcopy(base.sample(
            'nova/servers/servers-details-resp.json')['servers'][0])
        server = base.sdk_server_from(body)
        self.assertFalse(cloud_gather.embeds_flavor(server))
        flavors = base.sample('nova/flavors/flavors-detail-resp.json')
        flavor = [fl for fl in flavors['flavors']
                  if fl['id'] == server.flavor.id][0]
        specs = base.sample('nova/flavor-extra-specs/'
                            'flavor-extra-specs-list-resp.json')
        facts = cloud_gather.server_from_sdk(
            server, cloud_gather.flavor_from_sdk(
                sdk_flavor.Flavor(_synchronized=True, **flavor),
                specs['extra_specs']))
        self.assertEqual('m1.tiny', facts.flavor.name)
        self.assertEqual(specs['extra_specs'], facts.flavor.extra_specs)
        self.assertEqual(body['OS-EXT-SRV-ATTR:host'], facts.host)

    def test_volume_backed_and_config_drive(self):
        srv = base.server(image='', config_drive='True')
        self.assertTrue(srv.volume_backed)
        self.assertTrue(srv.config_drive)
        self.assertEqual(0, srv.local_disk_gb)

    def test_image_properties(self):
        body = base.server_body()
        body['image']['properties']['hw_cpu_policy'] = 'dedicated'
        srv = cloud_gather.server_from_sdk(base.sdk_server_from(body))
        self.assertEqual({'hw_cpu_policy': 'dedicated'},
                         srv.image_properties)
        self.assertTrue(srv.dedicated_cpus)
        self.assertEqual(1, srv.numa_nodes)

    def test_ports(self):
        port = base.port()
        self.assertEqual('direct', port.vnic_type)
        self.assertEqual('physnet2', port.physical_network)


class TestGroup(testtools.TestCase):

    def test_v21_policies(self):
        body = base.sample('nova/os-server-groups/server-groups-list-resp'
                           '.json')['server_groups'][0]
        body = dict(body, members=['a', 'b'])
        grp = cloud_gather.group_from_sdk(
            sdk_group.ServerGroup(_synchronized=True, **body), {'a': 'h1'})
        self.assertEqual(body['policies'][0], grp.policy)
        self.assertEqual({'a': 'h1'}, grp.member_hosts)

    def test_v264_policy(self):
        grp = base.group('anti-affinity', ['a'], {},
                         {'max_server_per_host': 3})
        self.assertEqual('anti-affinity', grp.policy)
        self.assertEqual({'max_server_per_host': 3}, grp.rules)


class TestInventoryHosts(testtools.TestCase):
    """Which hosts' placement inventory a precheck reads."""

    def test_plain_servers_skip_the_source(self):
        servers = [base.server(), base.server(id='b')]
        self.assertEqual({'c2', 'c3'}, cloud_gather.inventory_hosts(
            {'c2', 'c3'}, {'c1'}, servers))

    def test_numa_server_needs_the_source(self):
        # the numa rule's "empty twin" check compares with the source
        servers = [base.server(), base.server(
            id='b', flavor={'extra_specs': {'hw:cpu_policy': 'dedicated'}})]
        self.assertEqual({'c1', 'c2', 'c3'}, cloud_gather.inventory_hosts(
            {'c2', 'c3'}, {'c1'}, servers))

    def test_source_that_is_a_destination(self):
        # named servers on two hosts: each is a destination of the other
        self.assertEqual({'c1', 'c2'}, cloud_gather.inventory_hosts(
            {'c1', 'c2'}, {'c1', 'c2'}, [base.server()]))


class TestAnswersFrom(testtools.TestCase):
    """Placement's answers into the snapshot (upstream 1.29 sample)."""

    def build(self, server, data):
        from migrationclient.cloud import candidates
        from migrationclient.constraints import request as rq
        from migrationclient.tests.unit.cloud import test_candidates as tc
        shapes = rq.request_shapes(server, 34)
        names = dict(tc.NAMES)
        names[tc.CN2_VF] = 'compute2_0000:81:00.1'
        result = {shape: candidates.build(shape, '1.39', data, names)
                  for shape in shapes}
        return shapes, result

    def sample(self):
        from migrationclient.tests.unit.cloud import test_candidates as tc
        return tc._sample(tc.AC % '-1.29')

    def test_rooms_usage_traits_and_pci(self):
        server = base.server()
        shapes, result = self.build(server, self.sample())
        host_of = {'compute1': 'host1', 'compute2': 'host2'}
        answers, asked = cloud_gather.answers_from(
            result, {server.id: shapes}, host_of)
        answer = answers[server.id]
        self.assertEqual({'host1', 'host2'}, set(answer.rooms))
        self.assertEqual({'host1', 'host2'}, set(asked))
        room = answer.rooms['host2']
        self.assertEqual(196608, room.usage['MEMORY_MB'].free)
        self.assertEqual(frozenset({'HW_NIC_SRIOV'}), room.traits)
        self.assertEqual({'SRIOV_NET_VF': 8}, room.pci_free)
        self.assertFalse(room.fallback_only)
        self.assertEqual('DISK_GB:1, MEMORY_MB:512, VCPU:1, '
                         '!COMPUTE_STATUS_DISABLED', answer.asked)
        self.assertIsNone(answer.refused)
        usage, traits = asked['host2']
        self.assertEqual(room.usage, usage)

    def test_servers_of_one_shape_share_one_answer(self):
        a, b = base.server(), base.server()
        b = b.__class__(**dict(b.__dict__, id='other'))
        shapes, result = self.build(a, self.sample())
        answers, _asked = cloud_gather.answers_from(
            result, {a.id: shapes, b.id: shapes}, {'compute1': 'host1'})
        self.assertIs(answers[a.id], answers[b.id])
        self.assertEqual({'host1'}, set(answers[a.id].rooms))

    def test_pinned_guest_found_by_the_fallback_only(self):
        server = base.server(flavor={'vcpus': 2, 'extra_specs': {
            'hw:cpu_policy': 'dedicated'}})
        shapes, result = self.build(server, self.sample())
        from migrationclient.cloud import candidates
        result[shapes[0]] = candidates.build(
            shapes[0], '1.39', {'allocation_requests': [],
                                'provider_summaries': {}})
        answers, _asked = cloud_gather.answers_from(
            result, {server.id: shapes}, {'compute1': 'host1'})
        answer = answers[server.id]
        self.assertTrue(answer.pcpu)
        self.assertTrue(answer.rooms['host1'].fallback_only)
        self.assertEqual(2, answer.amount('PCPU'))

    def test_image_traits_kept(self):
        # the Placement question asks image traits (trait:X=required)
        body = base.server_body()
        props = body['image']['properties']
        props.update({'trait:CUSTOM_GOLD': 'required',
                      'os_secure_boot': 'required', 'os_distro': 'x'})
        srv = cloud_gather.server_from_sdk(base.sdk_server_from(body))
        self.assertEqual('required',
                         srv.image_properties['trait:CUSTOM_GOLD'])
        self.assertEqual('required', srv.image_properties['os_secure_boot'])
        self.assertNotIn('os_distro', srv.image_properties)


class _Network:
    """The network proxy part that _ovs_datapaths reads; counts calls."""

    def __init__(self, agents, error=None):
        self._agents = agents
        self._error = error
        self.calls = []

    def agents(self, **query):
        self.calls.append(query)
        if self._error is not None:
            raise self._error
        return iter(self._agents)


class _Conn:

    def __init__(self, network, has_network=True):
        self.network = network
        self._has = has_network

    def has_service(self, name):
        return self._has and name == 'network'


class TestOvsAgents(testtools.TestCase):
    """Neutron's Open vSwitch agents (issue 15 item 2, seed 8.2 DPDK)."""

    @staticmethod
    def _agents(**ovs_conf):
        body = copy.deepcopy(base.sample(
            'neutron/agents/agents-list-response.json'))['agents']
        body[0]['configurations'].update(ovs_conf)
        return [sdk_agent.Agent(_synchronized=True, **a) for a in body]

    @staticmethod
    def _dpdk_conf():
        return {'datapath_type': 'netdev', 'ovs_capabilities': {
            'datapath_types': ['netdev', 'system'],
            'iface_types': ['dpdk', 'dpdkvhostuser', 'dpdkvhostuserclient',
                            'internal', 'system', 'vxlan']}}

    def test_sample_kernel_ovs(self):
        # the upstream sample: one OVS agent (system) and three others
        self.assertEqual({'agenthost1': 'system'},
                         cloud_gather.ovs_datapaths_from_sdk(self._agents()))

    def test_netdev_with_vhostuser(self):
        self.assertEqual({'agenthost1': 'netdev'},
                         cloud_gather.ovs_datapaths_from_sdk(
                             self._agents(**self._dpdk_conf())))

    def test_netdev_without_vhostuser_iface(self):
        # the sample's iface_types hold no dpdkvhostuser type
        self.assertEqual({'agenthost1': 'netdev without dpdkvhostuser'},
                         cloud_gather.ovs_datapaths_from_sdk(
                             self._agents(datapath_type='netdev')))

    def test_read_once_only_with_vhostuser(self):
        vhu = base.server(ports=(base.port('normal', 'vhostuser'),))
        plain = base.server(ports=(base.port('normal', 'ovs'),))
        unknown = base.server(ports=None)
        network = _Network(self._agents(**self._dpdk_conf()))
        notes = []
        self.assertIsNone(cloud_gather._ovs_datapaths(
            _Conn(network), [plain, unknown], notes))
        self.assertEqual([], network.calls)
        found = cloud_gather._ovs_datapaths(
            _Conn(network), [plain, vhu, vhu], notes)
        self.assertEqual({'agenthost1': 'netdev'}, found)
        self.assertEqual([{'agent_type': 'Open vSwitch agent'}],
                         network.calls)
        self.assertEqual([], notes)

    def test_forbidden_is_a_note(self):
        vhu = base.server(ports=(base.port('normal', 'vhostuser'),))
        network = _Network([], sdk_exc.ForbiddenException(
            'Policy does not allow get_agent to be performed.'))
        notes = []
        self.assertIsNone(cloud_gather._ovs_datapaths(
            _Conn(network), [vhu], notes))
        self.assertEqual(1, len(network.calls))
        self.assertEqual(1, len(notes))
        self.assertIn('network agents not read', notes[0])
        self.assertIn('Policy does not allow', notes[0])

    def test_no_network_service(self):
        vhu = base.server(ports=(base.port('normal', 'vhostuser'),))
        network = _Network([])
        self.assertIsNone(cloud_gather._ovs_datapaths(
            _Conn(network, has_network=False), [vhu], []))
        self.assertEqual([], network.calls)

    def test_host_facts_carry_datapath(self):
        host = base.host('host2')
        self.assertIsNone(host.ovs_datapath)
        service = base.service('host2')
        self.assertEqual('netdev', cloud_gather.host_from_sdk(
            service, ovs_datapath='netdev').ovs_datapath)
