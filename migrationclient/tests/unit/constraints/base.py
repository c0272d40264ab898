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

"""Facts for rule tests, built from real API samples.

Each builder starts from a sample copied from upstream (see
migrationclient/tests/unit/samples) and changes only the fields a test is
about, then goes through the same openstacksdk resources and parsers
(:mod:`migrationclient.cloud.gather`) as a real precheck.
"""

import copy
import json
import os

from openstack.compute.v2 import aggregate as sdk_aggregate
from openstack.compute.v2 import hypervisor as sdk_hypervisor
from openstack.compute.v2 import server as sdk_server
from openstack.compute.v2 import server_group as sdk_group
from openstack.compute.v2 import service as sdk_service
from openstack.network.v2 import port as sdk_port
from openstack.placement.v1 import resource_provider_inventory as sdk_inv

from migrationclient.cloud import gather as cloud_gather
from migrationclient.constraints import model as f
from migrationclient import microversions as mv

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                       'samples')


def sample(path):
    with open(os.path.join(SAMPLES, path)) as fp:
        return json.load(fp)


def server_body(host='host1', flavor=None, **fields):
    """A compute 2.100 server (admin view) from the API sample."""
    body = copy.deepcopy(
        sample('nova/servers/v2.100/servers-details-resp.json')
        ['servers'][0])
    body.update({'OS-EXT-SRV-ATTR:host': host,
                 'OS-EXT-SRV-ATTR:hypervisor_hostname': host,
                 'OS-EXT-AZ:availability_zone': 'nova',
                 'pinned_availability_zone': None})
    if flavor:
        body['flavor'] = dict(body['flavor'], **flavor)
    body.update(fields)
    return body


def sdk_server_from(body):
    return sdk_server.Server(_synchronized=True, **body)


def server(host='host1', flavor=None, ports=(), **fields):
    return cloud_gather.server_from_sdk(
        sdk_server_from(server_body(host, flavor, **fields)), ports=ports)


def service(host, **fields):
    body = dict(
        [s for s in sample('nova/os-services/v2.53/services-list-get-resp'
                           '.json')['services']
         if s['binary'] == 'nova-compute'][0],
        host=host, state='up', status='enabled', disabled_reason=None)
    body.update(fields)
    return sdk_service.Service(_synchronized=True, **body)


def hypervisor(host, cpu_info=None, version=None, **fields):
    body = copy.deepcopy(
        sample('nova/os-hypervisors/v2.53/hypervisors-detail-resp.json')
        ['hypervisors'][0])
    body['service'] = dict(body['service'], host=host)
    body['hypervisor_hostname'] = host
    if cpu_info is not None:
        body['cpu_info'] = dict(body['cpu_info'], **cpu_info)
    if version is not None:
        body['hypervisor_version'] = version
    body.update(fields)
    return sdk_hypervisor.Hypervisor(_synchronized=True, **body)


def inventory(used=None, **changes):
    """Placement inventories + usages from the samples.

    ``changes`` maps a resource class to field changes, e.g.
    ``MEMORY_MB={'total': 1024}``; ``used`` replaces usages.
    """
    invs = copy.deepcopy(
        sample('placement/inventories/get-inventories.json')['inventories'])
    for rc, fields in changes.items():
        invs[rc] = dict(invs.get(rc, {'allocation_ratio': 1.0,
                                      'max_unit': None, 'reserved': 0,
                                      'min_unit': 1, 'step_size': 1}),
                        **fields)
    usages = sample('placement/resource_provider_usages/'
                    'get-resource_provider_usages.json')['usages']
    if used is not None:
        usages = used
    resources = [sdk_inv.ResourceProviderInventory(
        _synchronized=True, resource_class=rc, **fields)
        for rc, fields in invs.items()]
    return cloud_gather.inventory_from_sdk(resources, usages)


def host(name, inv=None, cpu_info=None, version=None, aggregates=(),
         traits=None, hv=True, **service_fields):
    return cloud_gather.host_from_sdk(
        service(name, **service_fields),
        hypervisor(name, cpu_info, version) if hv else None,
        aggregates, inv if inv is not None else inventory(), traits)


def aggregate(name, hosts, metadata):
    return sdk_aggregate.Aggregate(_synchronized=True, name=name,
                                   hosts=list(hosts), metadata=metadata)


def port(vnic_type='direct', vif_type='hw_veb'):
    body = copy.deepcopy(sample(
        'neutron/derived/port-sriov-direct-show-response.json')['port'])
    body['binding:vnic_type'] = vnic_type
    body['binding:vif_type'] = vif_type
    return cloud_gather.port_from_sdk(
        sdk_port.Port(_synchronized=True, **body))


def group(policy, members, member_hosts, rules=None):
    body = copy.deepcopy(sample(
        'nova/os-server-groups/v2.64/server-groups-list-resp.json')
        ['server_groups'][0])
    body.update(policy=policy, members=list(members), rules=rules or {})
    return cloud_gather.group_from_sdk(
        sdk_group.ServerGroup(_synchronized=True, **body), member_hosts)


def snapshot(servers, hosts, version='2.104', groups=None, **cloud):
    cloud_facts_ = f.CloudFacts(max_version=mv.Version.parse(version),
                                **cloud)
    return f.Snapshot(cloud=cloud_facts_,
                      hosts={h.name: h for h in hosts},
                      servers={s.id: s for s in servers},
                      groups=groups or {})


def two_hosts(**dest):
    return [host('host1'), host('host2', **dest)]
