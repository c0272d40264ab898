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

"""The Placement question of constraints.request, on servers from samples.

Expected query strings follow nova's own ``ResourceRequest.to_querystring``
(``nova/scheduler/utils.py``) for the same flavors, minus ``limit``.
"""

import dataclasses

import testtools

from migrationclient.constraints import request as rq
from migrationclient import microversions as mv
from migrationclient.tests.unit.constraints import base

NEWTON, QUEENS, TRAIN, XENA = mv.NEWTON, mv.QUEENS, mv.TRAIN, mv.XENA
LATEST = 34


def _server(specs=None, volume_backed=False, image_properties=None,
            **flavor):
    fields = {}
    if volume_backed:
        fields['image'] = ''
    flavor = dict(flavor)
    if specs is not None:
        flavor['extra_specs'] = specs
    server = base.server(flavor=flavor or None, **fields)
    if image_properties is not None:
        server = dataclasses.replace(server,
                                     image_properties=image_properties)
    return server


def _query(shape, version='1.39'):
    return '&'.join('%s=%s' % p for p in shape.params(version))


class TestFlavorResources(testtools.TestCase):

    def test_sample_flavor(self):
        # m1.tiny of the 2.100 sample: 1 vCPU, 512 MB, 1 GB root disk
        shape = rq.request_shape(_server(), LATEST)
        self.assertEqual({'VCPU': 1, 'MEMORY_MB': 512, 'DISK_GB': 1},
                         shape.resources)
        self.assertEqual(
            'resources=DISK_GB:1,MEMORY_MB:512,VCPU:1&'
            'root_required=!COMPUTE_STATUS_DISABLED', _query(shape))

    def test_volume_backed_takes_no_root_disk(self):
        shape = rq.request_shape(_server(volume_backed=True), LATEST)
        self.assertNotIn('DISK_GB', shape.resources)

    def test_volume_backed_still_takes_ephemeral_and_swap(self):
        shape = rq.request_shape(
            _server(volume_backed=True, ephemeral=5, swap=1536), LATEST)
        # swap 1536 MB rounds up to 2 GB (convert_mb_to_ceil_gb)
        self.assertEqual(7, shape.resources['DISK_GB'])

    def test_resources_extra_spec_overrides_flavor(self):
        shape = rq.request_shape(_server(
            {'resources:VCPU': '0', 'resources:MEMORY_MB': '2048',
             'resources:DISK_GB': '0', 'resources:CUSTOM_BAREMETAL': '1'}),
            LATEST)
        # zeros are stripped (strip_zeros), overrides win
        self.assertEqual({'MEMORY_MB': 2048, 'CUSTOM_BAREMETAL': 1},
                         shape.resources)

    def test_bad_resource_values_are_skipped_as_nova_does(self):
        shape = rq.request_shape(_server(
            {'resources:VCPU': 'two', 'resources:lower_case': '1',
             'resources:MEMORY_MB': '-1'}), LATEST)
        self.assertEqual({'VCPU': 1, 'MEMORY_MB': 512, 'DISK_GB': 1},
                         shape.resources)

    def test_granular_groups(self):
        shape = rq.request_shape(_server(
            {'resources1:VGPU': '1', 'trait1:CUSTOM_FAST': 'required',
             'resources_GPU:CUSTOM_MDEV_A': '2', 'group_policy': 'isolate'}),
            LATEST)
        query = _query(shape)
        self.assertIn('resources1=VGPU:1', query)
        self.assertIn('required1=CUSTOM_FAST', query)
        self.assertIn('resources_GPU=CUSTOM_MDEV_A:2', query)
        self.assertIn('group_policy=isolate', query)
        self.assertEqual(rq.STRING_SUFFIX, shape.min_version)
        self.assertEqual(('CUSTOM_MDEV_A', 'VGPU'), shape.mdev_resources)

    def test_numbered_groups_need_1_25(self):
        shape = rq.request_shape(_server({'resources1:VGPU': '1'}), QUEENS)
        self.assertEqual(rq.GRANULAR, shape.min_version)


class TestTraits(testtools.TestCase):

    def test_flavor_required_and_forbidden(self):
        shape = rq.request_shape(_server(
            {'trait:HW_CPU_X86_AVX2': 'required',
             'trait:CUSTOM_SLOW': 'forbidden',
             'trait:CUSTOM_IGNORED': 'maybe'}), LATEST)
        self.assertIn('required=HW_CPU_X86_AVX2,!CUSTOM_SLOW',
                      _query(shape))
        self.assertNotIn('CUSTOM_IGNORED', _query(shape))
        self.assertEqual(rq.FORBIDDEN, shape.min_version)

    def test_image_required_traits(self):
        shape = rq.request_shape(_server(image_properties={
            'trait:HW_CPU_X86_AVX512F': 'required',
            'trait:CUSTOM_X': 'forbidden'}), LATEST)
        self.assertEqual(frozenset({'HW_CPU_X86_AVX512F'}),
                         shape.required_traits)

    def test_disabled_compute_forbidden_from_train(self):
        train = rq.request_shape(_server(), TRAIN)
        self.assertEqual(frozenset({'COMPUTE_STATUS_DISABLED'}),
                         train.root_forbidden)
        older = rq.request_shape(_server(), mv.STEIN)
        self.assertEqual(frozenset(), older.root_forbidden)
        self.assertEqual(rq.CANDIDATES, older.min_version)

    def test_root_traits_below_1_35_go_to_the_plain_group(self):
        shape = rq.request_shape(_server(), TRAIN)
        self.assertEqual(
            'required=!COMPUTE_STATUS_DISABLED&'
            'resources=DISK_GB:1,MEMORY_MB:512,VCPU:1',
            _query(shape, '1.29'))
        self.assertRaises(ValueError, shape.params, '1.17')

    def test_vtpm_and_secure_boot(self):
        shape = rq.request_shape(_server(
            {'hw:tpm_version': '2.0', 'hw:tpm_model': 'tpm-crb',
             'os:secure_boot': 'required'}), LATEST)
        self.assertEqual(frozenset({'COMPUTE_SECURITY_TPM_CRB',
                                    'COMPUTE_SECURITY_TPM_2_0',
                                    'COMPUTE_SECURITY_UEFI_SECURE_BOOT'}),
                         shape.required_traits - shape.root_required)
        # tpm_secret_security_filter (2026.1+), default 'user'
        self.assertIn('COMPUTE_SECURITY_TPM_SECRET_SECURITY_USER',
                      shape.root_required)


class TestPinning(testtools.TestCase):

    def test_dedicated_asks_pcpu_from_train(self):
        server = _server({'hw:cpu_policy': 'dedicated'}, vcpus=4)
        first, fallback = rq.request_shapes(server, TRAIN)
        self.assertEqual(4, first.resources['PCPU'])
        self.assertNotIn('VCPU', first.resources)
        self.assertFalse(first.pcpu_fallback)
        # select_destinations' second query: VCPU instead of PCPU
        self.assertEqual(4, fallback.resources['VCPU'])
        self.assertNotIn('PCPU', fallback.resources)
        self.assertTrue(fallback.pcpu_fallback)
        self.assertNotEqual(first.key, fallback.key)

    def test_dedicated_asks_vcpu_before_train(self):
        server = _server({'hw:cpu_policy': 'dedicated'}, vcpus=4)
        shapes = rq.request_shapes(server, QUEENS)
        self.assertEqual(1, len(shapes))
        self.assertEqual(4, shapes[0].resources['VCPU'])

    def test_aggregate_pinned_alone_is_not_pcpu(self):
        server = _server({'aggregate_instance_extra_specs:pinned': 'true'},
                         vcpus=4)
        shapes = rq.request_shapes(server, LATEST)
        self.assertEqual(1, len(shapes))
        self.assertEqual(4, shapes[0].resources['VCPU'])

    def test_image_cpu_policy(self):
        server = _server(vcpus=2, image_properties={
            'hw_cpu_policy': 'dedicated'})
        self.assertEqual(2, rq.request_shape(server, LATEST)
                         .resources['PCPU'])

    def test_isolated_emulator_thread_and_thread_policy(self):
        server = _server({'hw:cpu_policy': 'dedicated',
                          'hw:emulator_threads_policy': 'isolate',
                          'hw:cpu_thread_policy': 'isolate'}, vcpus=4)
        shape = rq.request_shape(server, LATEST)
        self.assertEqual(5, shape.resources['PCPU'])
        self.assertIn('HW_CPU_HYPERTHREADING', shape.forbidden_traits)
        fallback = rq.request_shape(server, LATEST, pinning=False)
        self.assertNotIn('HW_CPU_HYPERTHREADING', fallback.forbidden_traits)

    def test_mixed_policy_splits_by_mask(self):
        server = _server({'hw:cpu_policy': 'mixed',
                          'hw:cpu_dedicated_mask': '^0-1'}, vcpus=6)
        shape = rq.request_shape(server, LATEST)
        self.assertEqual(4, shape.resources['PCPU'])
        self.assertEqual(2, shape.resources['VCPU'])
        server = _server({'hw:cpu_policy': 'mixed',
                          'hw:cpu_dedicated_mask': '2-3'}, vcpus=6)
        shape = rq.request_shape(server, LATEST)
        self.assertEqual({'PCPU': 2, 'VCPU': 4},
                         {k: v for k, v in shape.resources.items()
                          if 'CPU' in k})


class TestPrefilters(testtools.TestCase):

    def test_availability_zone_aggregates_from_xena(self):
        shape = rq.request_shape(_server(), XENA,
                                 az_aggregates=['b', 'a'])
        self.assertIn('member_of=in:a,b', _query(shape))
        # the forbidden disabled-compute trait needs more than member_of
        self.assertEqual(rq.FORBIDDEN, shape.min_version)
        only_az = rq.RequestShape(groups=(rq.RequestGroup(
            resources=(('VCPU', 1),), member_of=(('a',),)),))
        self.assertEqual(rq.MEMBER_OF, only_az.min_version)
        older = rq.request_shape(_server(), mv.WALLABY, az_aggregates=['a'])
        self.assertNotIn('member_of', _query(older))

    def test_accelerators(self):
        shape = rq.request_shape(
            _server({'accel:device_profile': 'fpga'}), LATEST)
        self.assertIn('COMPUTE_ACCELERATORS', shape.root_required)

    def test_vpmem(self):
        shape = rq.request_shape(
            _server({'hw:pmem': '4GB,4GB,SMALL'}), LATEST)
        self.assertEqual(2, shape.resources['CUSTOM_PMEM_NAMESPACE_4GB'])
        self.assertEqual(1, shape.resources['CUSTOM_PMEM_NAMESPACE_SMALL'])
        self.assertEqual((), shape.mdev_resources)

    def test_devices_only_from_their_release(self):
        # a Newton cloud never asks vPMEM (Train), vTPM (Victoria) or the
        # secure boot trait (Wallaby): Placement would refuse the classes
        server = _server({'hw:pmem': '1GB', 'hw:tpm_version': '2.0',
                          'os:secure_boot': 'required'})
        shape = rq.request_shape(server, mv.NEWTON)
        self.assertEqual({'VCPU', 'MEMORY_MB', 'DISK_GB'},
                         set(shape.resources))
        self.assertEqual(frozenset(), shape.required_traits)
        shape = rq.request_shape(server, mv.TRAIN)
        self.assertIn('CUSTOM_PMEM_NAMESPACE_1GB', shape.resources)
        self.assertEqual(frozenset(), shape.required_traits)

    def test_no_limit_and_no_image_type_trait(self):
        # image type support and image metadata prefilters are off by
        # default in nova 34 (nova/conf/scheduler.py)
        query = _query(rq.request_shape(_server(image_properties={
            'hw_disk_bus': 'scsi'}), LATEST))
        self.assertNotIn('limit', query)
        self.assertNotIn('COMPUTE_IMAGE_TYPE', query)
        self.assertNotIn('COMPUTE_STORAGE_BUS', query)


class TestShapeKey(testtools.TestCase):

    def test_same_flavor_same_shape(self):
        a = rq.request_shape(_server(), LATEST)
        b = rq.request_shape(base.server(host='host2'), LATEST)
        self.assertEqual(a, b)
        self.assertEqual(hash(a), hash(b))
        self.assertEqual(1, len({a, b}))
        self.assertEqual(a.key, b.key)

    def test_other_flavor_other_shape(self):
        a = rq.request_shape(_server(), LATEST)
        b = rq.request_shape(_server(ram=1024), LATEST)
        self.assertNotEqual(a.key, b.key)

    def test_non_resource_specs_do_not_split_shapes(self):
        a = rq.request_shape(_server({'hw:numa_nodes': '2'}), LATEST)
        b = rq.request_shape(_server({'quota:cpu_shares': '10'}), LATEST)
        self.assertEqual(a, b)
