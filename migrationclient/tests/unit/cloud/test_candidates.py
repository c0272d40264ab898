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

"""cloud.candidates: one allocation candidates query per shape.

The placement endpoint is served by requests-mock with the upstream
placement api-ref samples (samples/placement, see its README); the
openstacksdk connection and keystoneauth adapter are real, so the tests
see the exact requests (path, query, ``OpenStack-API-Version``).
"""

import copy
import json
import os
from urllib import parse

from keystoneauth1 import exceptions as ks_exc
import openstack
import requests_mock
import testtools

from migrationclient.cloud import candidates
from migrationclient.cloud import errors
from migrationclient.constraints import request as rq
from migrationclient import microversions as mv
from migrationclient.tests.unit.constraints import base

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                       'samples', 'placement')
ENDPOINT = 'http://placement.test'
AC = 'allocation_candidates/get-allocation_candidates%s.json'

# provider UUIDs of the allocation candidates samples
SHARED_DISK = 'a99bad54-a275-4c4f-a8a3-ac00d57e5c64'
CN1 = '35791f28-fb45-4717-9ea9-435b3ef7c3b3'
CN2 = '915ef8ed-9b91-4e38-8802-2e4224ad54cd'
CN2_VF = 'f5120cad-67d9-4f20-9210-3092a79a28cf'
NAMES = {CN1: 'compute1', CN2: 'compute2', SHARED_DISK: 'shared-storage'}


def _sample(path):
    with open(os.path.join(SAMPLES, path)) as fp:
        return json.load(fp)


def _root(max_version):
    body = _sample('root/get-root.json')
    body['versions'][0]['max_version'] = max_version
    return body


def _providers(entries):
    """The provider list sample with only uuid / name / tree replaced."""
    template = _sample('resource_providers/get-resource_providers.json'
                       )['resource_providers'][0]
    result = []
    for uuid, name, parent, root in entries:
        prov = copy.deepcopy(template)
        prov.update(uuid=uuid, name=name, parent_provider_uuid=parent,
                    root_provider_uuid=root)
        result.append(prov)
    return {'resource_providers': result}


def _shape(server=None, nova=34, **kw):
    return rq.request_shape(server or base.server(), nova, **kw)


class _Base(testtools.TestCase):

    MAX = '1.39'
    ANSWER = AC % '-1.29'

    def setUp(self):
        super().setUp()
        mocker = requests_mock.Mocker(case_sensitive=True)
        mocker.start()
        self.addCleanup(mocker.stop)
        self.mocker = mocker
        root = _root(self.MAX) if self.MAX else _sample('root/get-root.json')
        mocker.get(ENDPOINT, json=root)
        mocker.get(ENDPOINT + '/', json=root)
        self.candidates = mocker.get(ENDPOINT + '/allocation_candidates',
                                     json=_sample(self.ANSWER))
        self.providers = mocker.get(
            ENDPOINT + '/resource_providers', json=_providers([
                (CN1, 'compute1', None, CN1),
                (CN2, 'compute2', None, CN2),
                (CN2_VF, 'compute2_0000:81:00.1', CN2, CN2),
                (SHARED_DISK, 'shared-storage', None, SHARED_DISK)]))
        self.placement = openstack.connect(
            auth_type='none', placement_endpoint_override=ENDPOINT,
            region_name='', load_yaml_config=False,
            load_envvars=False).placement

    def queries(self):
        return [(r.headers.get('OpenStack-API-Version'),
                 parse.parse_qsl(r.query, keep_blank_values=True))
                for r in self.mocker.request_history
                if r.path == '/allocation_candidates']


class TestVersions(_Base):

    MAX = None          # the sample as it is: 1.28

    def test_max_version_from_root_sample(self):
        self.assertEqual(mv.Version(1, 28),
                         candidates.max_version(self.placement))

    def test_choose_version(self):
        shape = _shape()
        self.assertEqual(rq.FORBIDDEN, shape.min_version)
        self.assertEqual(mv.Version(1, 28),
                         candidates.choose_version(shape, '1.28'))
        self.assertEqual(candidates.KNOWN_MAX,
                         candidates.choose_version(shape, '1.45'))
        self.assertIsNone(candidates.choose_version(shape, '1.17'))
        self.assertIsNone(candidates.choose_version(
            _shape(nova=mv.NEWTON), '1.4'))

    def test_root_traits_asked_in_the_plain_group_below_1_35(self):
        candidates.gather(self.placement, [_shape()], NAMES)
        (header, query), = self.queries()
        self.assertEqual('placement 1.28', header)
        self.assertIn(('required', '!COMPUTE_STATUS_DISABLED'), query)
        self.assertNotIn('root_required', dict(query))
        self.assertNotIn('limit', dict(query))


class TestNested(_Base):
    """1.29 sample: a sharing disk pool, two compute nodes, a VF child."""

    def test_hosts_with_room_and_one_query(self):
        shape = _shape()
        result = candidates.gather(self.placement, [shape, _shape()])
        self.assertEqual([shape], list(result))
        cand = result[shape]
        self.assertEqual(['compute1', 'compute2'], sorted(cand.hosts))
        self.assertTrue(cand.has_room('compute1'))
        self.assertFalse(cand.has_room('shared-storage'))
        self.assertFalse(cand.has_room('compute3'))
        self.assertEqual({}, cand.unnamed)
        (header, query), = self.queries()
        self.assertEqual('placement 1.39', header)
        self.assertEqual(
            [('resources', 'DISK_GB:1,MEMORY_MB:512,VCPU:1'),
             ('root_required', '!COMPUTE_STATUS_DISABLED')], sorted(query))
        # names were not given: one provider list
        self.assertEqual(1, self.providers.call_count)

    def test_summaries(self):
        shape = _shape()
        room = candidates.gather(self.placement, [shape])[shape].hosts[
            'compute2']
        self.assertEqual(CN2, room.root)
        self.assertEqual(candidates.Usage(384, 0), room.usage('VCPU'))
        self.assertEqual(196608, room.usage('MEMORY_MB').free)
        self.assertIsNone(room.usage('PCPU'))
        self.assertEqual(frozenset({'HW_NIC_SRIOV'}), room.traits)
        self.assertEqual(
            {'0000:81:00.1': {'SRIOV_NET_VF': candidates.Usage(8, 0)}},
            room.pci_devices)
        self.assertEqual(8, room.free_pci('SRIOV_NET_VF'))
        self.assertEqual(0, room.free_pci('CUSTOM_PCI_8086_1572'))
        self.assertEqual(8, room.usage('SRIOV_NET_VF').capacity)

    def test_known_names_skip_the_provider_list_without_nesting(self):
        self.mocker.get(ENDPOINT + '/allocation_candidates',
                        json=_sample(AC % '-1.17'))
        shape = _shape()
        result = candidates.gather(self.placement, [shape], NAMES)
        self.assertEqual(['compute1', 'compute2'],
                         sorted(result[shape].hosts))
        self.assertEqual(0, self.providers.call_count)
        # version discovery (once per connection) + the question
        self.assertEqual(['/', '/allocation_candidates'],
                         [r.path for r in self.mocker.request_history])

    def test_unknown_root_stays_unnamed(self):
        self.mocker.get(ENDPOINT + '/resource_providers',
                        json=_providers([]))
        shape = _shape()
        cand = candidates.gather(self.placement, [shape])[shape]
        self.assertEqual({}, cand.hosts)
        self.assertEqual([CN1, CN2], sorted(cand.unnamed))
        self.assertEqual(CN2, cand.room_of_provider(CN2).root)
        self.assertIsNone(cand.room_of_provider(SHARED_DISK))

    def test_distinct_shapes_one_query_each(self):
        tiny = _shape()
        pinned = base.server(flavor={'vcpus': 2, 'extra_specs': {
            'hw:cpu_policy': 'dedicated'}})
        shapes = rq.request_shapes(pinned, 34)
        result = candidates.gather(self.placement,
                                   [tiny, tiny] + list(shapes) + [tiny])
        self.assertEqual(3, len(result))
        self.assertEqual(3, self.candidates.call_count)
        sent = [dict(q)['resources'] for _h, q in self.queries()]
        self.assertIn('DISK_GB:1,MEMORY_MB:512,PCPU:2', sent)
        self.assertIn('DISK_GB:1,MEMORY_MB:512,VCPU:2', sent)


class TestRooms(_Base):

    def test_pcpu_answer_then_fallback(self):
        pinned = base.server(flavor={'vcpus': 2, 'extra_specs': {
            'hw:cpu_policy': 'dedicated'}})
        first, fallback = rq.request_shapes(pinned, 34)
        # placement: only the VCPU fallback finds compute1 and compute2
        # (the 1.17 sample), the PCPU question finds nothing
        self.mocker.get(ENDPOINT + '/allocation_candidates', [
            {'json': {'allocation_requests': [], 'provider_summaries': {}}},
            {'json': _sample(AC % '-1.17')}])
        result = candidates.gather(self.placement, [first, fallback], NAMES)
        found = candidates.rooms(result, [first, fallback])
        self.assertEqual(['compute1', 'compute2'], sorted(found))
        self.assertTrue(all(only for _room, only in found.values()))
        self.assertEqual({}, candidates.rooms(result, [first]))
        self.assertEqual({}, candidates.rooms({}, [first, fallback]))


class TestNumaTree(_Base):
    """1.34 sample: a host whose VCPU sits on a NUMA child provider."""

    ANSWER = AC % '-1.34'

    def test_root_is_the_host(self):
        self.mocker.get(ENDPOINT + '/resource_providers', json=_providers([
            ('be99627d-e848-44ef-8341-683e2e557c58', 'compute9', None,
             'be99627d-e848-44ef-8341-683e2e557c58')]))
        shape = _shape()
        cand = candidates.gather(self.placement, [shape])[shape]
        self.assertEqual(['compute9'], list(cand.hosts))
        room = cand.hosts['compute9']
        self.assertEqual(5, len(room.providers))
        self.assertEqual(candidates.Usage(4, 0), room.usage('VCPU'))
        self.assertEqual(30000, room.usage('NET_BW_EGR_KILOBIT_PER_SEC')
                         .capacity)
        self.assertEqual({}, room.pci_devices)


class TestOldFormats(_Base):

    MAX = '1.12'
    ANSWER = AC % '-1.12'

    def test_sharing_provider_without_traits(self):
        # 1.12: no traits, no roots: the DISK_GB-only pool is not a host
        shape = _shape(nova=mv.STEIN)
        cand = candidates.gather(self.placement, [shape], NAMES)[shape]
        self.assertEqual(['compute1', 'compute2'], sorted(cand.hosts))
        self.assertIsNone(cand.hosts['compute1'].traits)
        (header, _q), = self.queries()
        self.assertEqual('placement 1.12', header)

    def test_list_allocation_requests_of_1_10(self):
        self.mocker.get(ENDPOINT + '/allocation_candidates',
                        json=_sample(AC % ''))
        shape = _shape(nova=mv.STEIN)
        node = '30742363-f65e-4012-a60a-43e0bec38f0e'
        cand = candidates.gather(self.placement, [shape],
                                 {node: 'compute1'})[shape]
        room = cand.hosts['compute1']
        self.assertEqual(candidates.Usage(11206, 256),
                         room.usage('MEMORY_MB'))
        self.assertEqual(10950, room.usage('MEMORY_MB').free)

    def test_shape_needing_more_than_the_cloud(self):
        shape = _shape()        # forbidden trait: 1.22
        ex = self.assertRaises(errors.Unsupported, candidates.gather,
                               self.placement, [shape])
        self.assertIn('needs 1.22', str(ex))
        self.assertEqual(0, self.candidates.call_count)


class TestFallback(_Base):
    """OSP 10 (Newton) placement: 1.0 - 1.4, no allocation candidates."""

    MAX = '1.4'

    def test_unsupported_without_a_query(self):
        ex = self.assertRaises(errors.Unsupported, candidates.gather,
                               self.placement, [_shape(nova=mv.NEWTON)])
        self.assertIn('no allocation candidates', str(ex))
        self.assertEqual(0, self.candidates.call_count)
        self.assertIsInstance(ex, errors.CloudError)

    def test_nothing_to_ask(self):
        self.assertEqual({}, candidates.gather(self.placement, []))


class TestFailures(_Base):

    def _fail(self, **kwargs):
        self.mocker.get(ENDPOINT + '/allocation_candidates', **kwargs)
        return self.assertRaises(errors.CloudError, candidates.gather,
                                 self.placement, [_shape()], NAMES)

    def test_bad_request_is_unsupported(self):
        ex = self._fail(status_code=400, json={'errors': [
            {'status': 400, 'title': 'Bad Request',
             'detail': 'Invalid query string parameters'}]})
        self.assertIsInstance(ex, errors.Unsupported)
        self.assertIn('Invalid query string parameters', str(ex))

    def test_unknown_trait_means_no_host_as_in_nova(self):
        # placement/handlers/allocation_candidate.py: TraitNotFound -> 400;
        # nova's report client then returns no candidates: NoValidHost
        self.mocker.get(ENDPOINT + '/allocation_candidates', status_code=400,
                        json={'errors': [{
                            'status': 400, 'title': 'Bad Request',
                            'detail': 'The server could not comply with the '
                                      'request since it is either malformed '
                                      'or otherwise incorrect.\n\n No such '
                                      'trait(s): CUSTOM_NEVER.  '}]})
        shape = _shape(base.server(flavor={'extra_specs': {
            'trait:CUSTOM_NEVER': 'required'}}))
        cand = candidates.gather(self.placement, [shape], NAMES)[shape]
        self.assertEqual({}, cand.hosts)
        self.assertEqual({}, cand.unnamed)
        self.assertIn('No such trait(s): CUSTOM_NEVER', cand.refused)
        self.assertNotIn('\n', cand.refused)
        self.assertFalse(cand.has_room('compute1'))

    def test_forbidden(self):
        ex = self._fail(status_code=403, text='Policy does not allow')
        self.assertIsInstance(ex, errors.Forbidden)

    def test_server_error(self):
        ex = self._fail(status_code=503, text='down')
        self.assertEqual(503, ex.status)
        self.assertNotIn('\n', str(ex))

    def test_no_answer(self):
        ex = self._fail(exc=ks_exc.ConnectFailure('refused'))
        self.assertTrue(ex.no_answer)

    def test_not_json(self):
        ex = self._fail(text='<html>')
        self.assertIn('not JSON', str(ex))

    def test_discovery_failure(self):
        self.mocker.get(ENDPOINT, exc=ks_exc.ConnectFailure('refused'))
        self.mocker.get(ENDPOINT + '/', exc=ks_exc.ConnectFailure('refused'))
        conn = openstack.connect(
            auth_type='none', placement_endpoint_override=ENDPOINT,
            region_name='', load_yaml_config=False, load_envvars=False)
        ex = self.assertRaises(errors.CloudError, candidates.placement_of,
                               conn)
        self.assertTrue(str(ex).startswith('placement: '))
        self.assertEqual(0, self.candidates.call_count)

    def test_placement_of(self):
        conn = openstack.connect(
            auth_type='none', placement_endpoint_override=ENDPOINT,
            region_name='', load_yaml_config=False, load_envvars=False)
        self.assertEqual(mv.Version(1, 39), candidates.max_version(
            candidates.placement_of(conn)))
