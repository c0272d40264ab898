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

"""The scheduler's Placement question, checked against real Nova / Placement.

* :class:`TestShapesAsNova`: ``constraints.request`` builds the same
  ``GET /allocation_candidates`` query as nova 34's own
  ``ResourceRequest.from_request_spec`` + default request filters, flavor
  by flavor (no bed: nova's code only).
* :class:`TestCandidatesOnBed`: ``cloud.candidates`` against the bed's real
  Placement: hosts with room, usage, and the disabled-compute prefilter.
"""

import time
from urllib import parse

import testtools

from migrationclient.cloud import candidates
from migrationclient.constraints import model as f
from migrationclient.constraints import request as rq
from migrationclient.tests.functional import base

NOVA = 34

FLAVORS = [
    dict(vcpus=1, ram=512, disk=1),
    dict(vcpus=2, ram=2048, disk=20, ephemeral=5, swap=1536),
    dict(vcpus=2, ram=2048, disk=20, bfv=True),
    dict(vcpus=4, ram=4096, disk=10, specs={'hw:cpu_policy': 'dedicated'}),
    dict(vcpus=4, ram=4096, disk=10, specs={
        'hw:cpu_policy': 'dedicated', 'hw:emulator_threads_policy': 'isolate',
        'hw:cpu_thread_policy': 'isolate'}),
    dict(vcpus=4, ram=4096, disk=10, specs={
        'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'require'}),
    dict(vcpus=6, ram=4096, disk=10, specs={
        'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0-1'}),
    dict(vcpus=2, ram=1024, disk=10, specs={
        'resources:VCPU': '0', 'resources:PCPU': '2'}),
    dict(vcpus=2, ram=1024, disk=10, specs={
        'resources1:VGPU': '1', 'trait1:CUSTOM_FAST': 'required',
        'group_policy': 'isolate'}),
    dict(vcpus=2, ram=1024, disk=10, specs={
        'resources_GPU:CUSTOM_MDEV_A': '2', 'group_policy': 'none'}),
    dict(vcpus=2, ram=1024, disk=10, specs={
        'trait:HW_CPU_X86_AVX2': 'required',
        'trait:CUSTOM_SLOW': 'forbidden'}),
    dict(vcpus=2, ram=1024, disk=10, image={
        'trait:HW_CPU_X86_AVX512F': 'required'}),
    dict(vcpus=2, ram=1024, disk=10, specs={
        'hw:tpm_version': '2.0', 'hw:tpm_model': 'tpm-crb'}),
    dict(vcpus=2, ram=1024, disk=10, specs={'os:secure_boot': 'required'}),
    dict(vcpus=2, ram=1024, disk=10, specs={'hw:pmem': '4GB,4GB,SMALL'}),
    dict(vcpus=2, ram=1024, disk=10, specs={
        'resources:DISK_GB': '0', 'resources:CUSTOM_BAREMETAL': '1',
        'resources:MEMORY_MB': '0', 'resources:VCPU': '0'}),
    dict(vcpus=2, ram=1024, disk=10, specs={
        'aggregate_instance_extra_specs:pinned': 'true'}),
    dict(vcpus=2, ram=1024, disk=10, specs={'accel:device_profile': 'dp1'}),
]


def _server(case):
    flavor = f.FlavorFacts(
        vcpus=case['vcpus'], ram=case['ram'], disk=case['disk'],
        ephemeral=case.get('ephemeral', 0), swap=case.get('swap', 0),
        extra_specs=dict(case.get('specs', {})))
    return f.ServerFacts(id='s', flavor=flavor,
                         image_properties=dict(case.get('image', {})),
                         volume_backed=case.get('bfv', False))


class TestShapesAsNova(testtools.TestCase):

    def _nova_query(self, case, pinning):
        from nova import objects
        from nova.scheduler import request_filter
        from nova.scheduler import utils
        objects.register_all()
        flavor = objects.Flavor(
            vcpus=case['vcpus'], memory_mb=case['ram'], root_gb=case['disk'],
            ephemeral_gb=case.get('ephemeral', 0), swap=case.get('swap', 0),
            extra_specs=dict(case.get('specs', {})))
        spec = objects.RequestSpec(
            flavor=flavor, is_bfv=case.get('bfv', False),
            image=objects.ImageMeta.from_dict(
                {'properties': dict(case.get('image', {}))}),
            request_level_params=objects.RequestLevelParams(),
            availability_zone=None, requested_resources=[])
        # the default-on filters that need no database
        for name in ('compute_status_filter', 'accelerators_filter',
                     'tpm_secret_security_filter'):
            getattr(request_filter, name)(None, spec)
        res = utils.ResourceRequest.from_request_spec(
            spec, enable_pinning_translate=pinning)
        return sorted(p for p in parse.parse_qsl(res.to_querystring())
                      if p[0] != 'limit')

    def test_every_flavor_and_its_fallback(self):
        for case in FLAVORS:
            for pinning in (True, False):
                ours = sorted(rq.request_shape(
                    _server(case), NOVA, pinning=pinning).params('1.39'))
                self.assertEqual(self._nova_query(case, pinning), ours,
                                 '%s pinning=%s' % (case, pinning))

    def test_fallback_only_for_pinned_guests(self):
        for case in FLAVORS:
            shapes = rq.request_shapes(_server(case), NOVA)
            policy = case.get('specs', {}).get('hw:cpu_policy')
            self.assertEqual(2 if policy else 1, len(shapes), case)


class TestCandidatesOnBed(base.FunctionalTestCase):

    def _ask(self, **flavor):
        case = dict(vcpus=1, ram=512, disk=1)
        case.update(flavor)
        shape = rq.request_shape(_server(case), NOVA)
        placement = candidates.placement_of(self.connection())
        return candidates.gather(placement, [shape])[shape]

    def _enabled_nodes(self):
        compute = self.connection().compute
        enabled = {s.host for s in compute.services(binary='nova-compute')
                   if s.status == 'enabled'}
        return {hv.name for hv in compute.hypervisors(details=True)
                if (hv.service_details or {}).get('host') in enabled}

    def test_every_enabled_host_has_room_for_a_tiny_server(self):
        cand = self._ask()
        self.assertEqual(self._enabled_nodes(), set(cand.hosts))
        self.assertEqual({}, cand.unnamed)
        for room in cand.hosts.values():
            self.assertGreaterEqual(room.usage('MEMORY_MB').free, 512)
            self.assertIsNotNone(room.traits)

    def test_no_host_has_room_for_a_huge_server(self):
        cand = self._ask(ram=10 ** 8)
        self.assertEqual({}, cand.hosts)
        self.assertEqual({}, cand.unnamed)

    def test_unknown_trait_is_no_room_anywhere(self):
        cand = self._ask(specs={'trait:CUSTOM_NEVER_SEEN': 'required'})
        self.assertEqual({}, cand.hosts)
        self.assertIn('No such trait(s): CUSTOM_NEVER_SEEN', cand.refused)

    def test_usage_counts_a_running_server(self):
        host = self.bed.hosts[0]
        before = self._ask().hosts[host].usage('MEMORY_MB').used
        self.create_server('image', host=host)
        after = self._ask().hosts[host].usage('MEMORY_MB').used
        self.assertGreaterEqual(after - before, 512)

    def test_disabled_compute_is_no_candidate(self):
        compute = self.connection().compute
        host = self.bed.hosts[-1]
        service, = [s for s in compute.services(binary='nova-compute')
                    if s.host == host]
        if service.status != 'enabled':
            self.skipTest('%s is disabled by another test' % host)
        compute.disable_service(service, host=host, binary='nova-compute',
                                disabled_reason='candidates test')
        self.addCleanup(compute.enable_service, service, host=host,
                        binary='nova-compute')
        deadline = time.monotonic() + 30
        while host in self._ask().hosts and time.monotonic() < deadline:
            time.sleep(0.5)     # the compute sets COMPUTE_STATUS_DISABLED
        self.assertNotIn(host, self._ask().hosts)


class TestCandidatesLibvirt(base.FunctionalTestCase):
    """The libvirt bed reports PCPU (cpu_dedicated_set = 0-1,4-5): 4 each."""

    BED_DRIVER = 'libvirt'

    def _pinned(self, vcpus):
        return rq.request_shapes(_server(dict(
            vcpus=vcpus, ram=512, disk=1,
            specs={'hw:cpu_policy': 'dedicated'})), NOVA)

    def test_pcpu_and_the_vcpu_fallback(self):
        # a 2-vCPU pinned guest on compute1 leaves it 2 free PCPU
        self.create_server('pinned', host='compute1')
        four, five = self._pinned(4), self._pinned(5)
        self.assertEqual(2, len(four))
        placement = candidates.placement_of(self.connection())
        result = candidates.gather(placement, list(four) + list(five))
        rooms = candidates.rooms(result, four)
        self.assertIn('compute1', rooms)
        for host, (room, fallback_only) in rooms.items():
            pcpu = room.usage('PCPU')
            self.assertEqual(4, pcpu.capacity, host)
            # found by the PCPU question exactly when 4 PCPU are free
            self.assertEqual(pcpu.free >= 4, not fallback_only, host)
        room, fallback_only = rooms['compute1']
        self.assertTrue(fallback_only)
        self.assertLessEqual(room.usage('PCPU').free, 2)
        # 5 vCPUs: more than any host's PCPU or VCPU max_unit (4)
        self.assertEqual({}, candidates.rooms(result, five))
