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
"""The SSH test hosts themselves (testbed.sshhosts), no Nova bed needed."""

import json
import os
import re
import shutil
import subprocess  # nosec B404: the real virsh on a test driver file
import xml.etree.ElementTree as ElementTree  # nosec B405: our own files

import fixtures
import testtools

from migrationclient.host import commands
from migrationclient.host import novaconf
from migrationclient.host import parsers
from testbed import sshhosts
from testbed.sshhosts import bedview

PACKAGE_CONF = """[DEFAULT]
max_concurrent_live_migrations = 3

[compute]
cpu_dedicated_set = 0-1,4-5
cpu_shared_set = 2-3,6-7
"""

OSP13_CONF = """[DEFAULT]
max_concurrent_live_migrations=2
vcpu_pin_set=4-7

[libvirt]
live_migration_uri=qemu+ssh://nova_migration@%s:2022/system
"""


class TestSSHHostsNovaConf(testtools.TestCase):
    """nova.conf inside each host's mount namespace, nowhere else."""

    def setUp(self):
        super().setUp()
        reason = sshhosts.missing_prerequisites()
        if reason:
            self.skipTest(reason)
        self.existed = {p: os.path.lexists(p) for p in (
            '/etc/nova', '/var/lib/config-data', '/etc/kolla')}
        self.hosts = self.useFixture(sshhosts.SSHHosts({
            'compute1': {'nova_conf': PACKAGE_CONF},
            'compute2': {'nova_conf': OSP13_CONF,
                         'nova_conf_path': 'osp13'},
            'compute3': {},
        }))

    def read(self, name):
        """The product's own nova.conf command, over the real ssh."""
        result = self.hosts.ssh(name, commands.NOVA_CONF.render())
        return result

    def test_paths_are_the_products(self):
        self.assertEqual(commands.NOVA_CONF_PATHS, sshhosts.NOVA_CONF_PATHS)

    def test_nova_conf_per_host_and_path(self):
        result = self.read('compute1')
        self.assertEqual(0, result.returncode, result.stderr)
        conf = novaconf.from_output(result.stdout)
        self.assertEqual('/etc/nova/nova.conf', conf.path)
        self.assertEqual(3, conf.max_concurrent_live_migrations)
        self.assertEqual(frozenset({0, 1, 4, 5}),
                         frozenset(conf.cpu_dedicated_set))

        result = self.read('compute2')
        self.assertEqual(0, result.returncode, result.stderr)
        conf = novaconf.from_output(result.stdout)
        self.assertEqual(sshhosts.NOVA_CONF_PATHS[1], conf.path)
        self.assertEqual(2, conf.max_concurrent_live_migrations)
        # only the containerised path exists there
        result = self.hosts.ssh('compute2', 'test -e /etc/nova/nova.conf')
        self.assertEqual(1, result.returncode)

        # a host without nova.conf: none of the paths is readable
        result = self.read('compute3')
        self.assertEqual(3, result.returncode)
        self.assertIn('no readable nova.conf', result.stderr)

    def test_rewritten_from_the_next_command(self):
        host = self.hosts.hosts['compute3']
        host.write_nova_conf(PACKAGE_CONF, 'kolla')
        conf = novaconf.from_output(self.read('compute3').stdout)
        self.assertEqual('/etc/kolla/nova-compute/nova.conf', conf.path)
        self.assertEqual(3, conf.max_concurrent_live_migrations)
        host.write_nova_conf(None)
        self.assertEqual(3, self.read('compute3').returncode)
        self.assertRaises(ValueError, host.write_nova_conf, 'x', '/etc/x')

    def test_the_machine_is_untouched(self):
        # the hosts see the machine's /etc and /var/lib (overlay lower)
        result = self.hosts.ssh('compute1', 'cat /etc/hostname; '
                                'ls -d /var/lib/dpkg /etc/ssh; hostname')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('/etc/ssh', result.stdout)
        self.assertEqual('compute1', result.stdout.split()[-1])
        for path, existed in self.existed.items():
            self.assertEqual(existed, os.path.lexists(path), path)


SAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), 'migrationclient', 'tests', 'unit',
    'samples', 'host')
HOSTVIEW = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        'samples', 'hostview-compute1.json')


def _shapes(text):
    """Line shapes: numbers -> '#', lists of numbers -> one '#'."""
    shapes = set()
    for line in text.splitlines():
        line = re.sub(r'\d+', '#', line)
        shapes.add(re.sub(r'#( #)+', '#', line).rstrip())
    return shapes


def _sample(name):
    with open(os.path.join(SAMPLES, name)) as handle:
        return handle.read()


class TestBedViewFormats(testtools.TestCase):
    """bedview's files: the recorded formats, read by the product parsers.

    ``samples/hostview-compute1.json``: what the libvirt bed's control
    endpoint returned for compute1 (``GET /hosts/compute1``, metadata and
    sysinfo of the domains trimmed) with six guests Nova booted there:
    pinned (vCPUs on CPUs 4, 5), 2 MiB huge pages (cell 1), a 2-cell NUMA
    guest, a PCI passthrough guest (0000:81:00.0), an SR-IOV port guest
    (VF 0000:81:02.4) and an image guest, shut off here.
    """

    def setUp(self):
        super().setUp()
        with open(HOSTVIEW) as handle:
            self.view = json.load(handle)
        self.facts = self.view['facts']
        self.files = bedview.files(self.facts)

    def test_usage_from_the_running_domains(self):
        used = bedview.usage(self.facts)
        gib = 1024 * 1024
        # node 0: the NUMA guest's cell 0 (1 GiB), half of each floating
        # running guest (PCI, SR-IOV: 512 MiB each); the shut off one: none
        self.assertEqual({4: gib + gib // 2}, used['cells'][0]['used_kib'])
        self.assertEqual({4: 2 * gib + gib // 2, 2048: gib},
                         used['cells'][1]['used_kib'])
        self.assertEqual(1024 - 512, used['cells'][1]['free_pages'][2048])
        self.assertEqual(1024, used['cells'][0]['free_pages'][2048])
        self.assertEqual(6144 - 1536, used['cells'][0]['free_mb'])
        self.assertEqual({4: ['instance-00000001'],
                          5: ['instance-00000001']},
                         used['cells'][1]['pinned'])
        self.assertEqual({}, used['cells'][0]['pinned'])
        self.assertEqual('instance-00000004', used['pci']['0000:81:00.0'])
        self.assertEqual('instance-00000005', used['pci']['0000:81:02.4'])
        self.assertIsNone(used['pci']['0000:81:02.3'])

    def test_host_files_parse(self):
        caps = parsers.parse_capabilities(self.files['capabilities.xml'])
        self.assertEqual([0, 1], [c['id'] for c in caps['cells']])
        cell0 = caps['cells'][0]
        self.assertEqual([0, 1, 2, 3], sorted(cell0['cpus']))
        self.assertEqual([0, 1], cell0['cpus'][1]['siblings'])
        self.assertEqual(1024, cell0['pages'][2048])
        self.assertEqual([4, 2048, 1048576], caps['page_sizes_kib'])
        free = parsers.parse_freepages(self.files['freepages.txt'])
        self.assertEqual(512, free[1][2048])
        self.assertEqual(1024, free[0][2048])
        numactl = parsers.parse_numactl(self.files['numactl.txt'])
        self.assertEqual(frozenset({4, 5, 6, 7}), numactl[1]['cpus'])
        self.assertEqual(8192, numactl[1]['size_mb'])
        self.assertEqual(free[1][4] * 4 // 1024, numactl[1]['free_mb'])
        lscpu = parsers.parse_lscpu(self.files['lscpu.json'])
        self.assertEqual(8, len(lscpu))
        self.assertEqual({'node': 1, 'socket': 0, 'core': 2,
                          'online': True}, lscpu[4])
        conf = novaconf.parse(self.view['nova_conf'])
        self.assertEqual(frozenset({0, 1, 4, 5}), conf.cpu_dedicated_set)
        self.assertEqual(frozenset({2, 3, 6, 7}), conf.cpu_shared_set)
        self.assertEqual(('fc-pci', 'fc-vf'),
                         tuple(a.name for a in conf.pci_aliases))
        self.assertEqual((), conf.notes)

    def test_line_formats_are_the_recorded_ones(self):
        for name, sample in (('freepages.txt', 'freepages-testdefault.txt'),
                             ('numactl.txt', 'numactl-2node.txt'),
                             ('lscpu.json', 'lscpu-local.json')):
            self.assertEqual(set(), _shapes(self.files[name]) - _shapes(
                _sample(sample)), name)
        # capabilities: the recorded <host> element's structure
        ours = ElementTree.fromstring(self.files['capabilities.xml'])
        recorded = ElementTree.fromstring(_sample(
            'capabilities-testdefault.xml'))
        for path in ('host/topology/cells/cell', 'host/topology/cells/cell/'
                     'cpus/cpu', 'host/topology/cells/cell/pages',
                     'host/topology/cells/cell/memory', 'host/cpu/pages'):
            self.assertEqual(
                {tuple(sorted(e.attrib)) for e in recorded.findall(path)},
                {tuple(sorted(e.attrib)) for e in ours.findall(path)}, path)

    def test_real_virsh_on_novas_domains(self):
        if shutil.which('virsh') is None:
            self.skipTest('no virsh (apt-get install libvirt-clients)')
        tmp = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(tmp, 'host.xml')
        with open(path, 'w') as handle:
            handle.write(self.files['host.xml'])

        def virsh(command):
            argv = ['virsh', '-c', 'test://' + path] + list(
                command.argv[1:])
            done = subprocess.run(argv, capture_output=True, text=True,
                                  env=dict(os.environ, LC_ALL='C'))
            self.assertEqual(0, done.returncode, done.stderr)
            return done.stdout

        names = parsers.parse_domain_names(virsh(commands.LIST_RUNNING))
        self.assertEqual(['instance-0000000%d' % i for i in range(1, 6)],
                         names)
        used = bedview.usage(self.facts)
        for domain in self.facts['domains']:
            name = domain['name']
            xml = parsers.parse_domain_xml(virsh(commands.guest_command(
                'dumpxml', name)))
            pins = parsers.parse_vcpupin(virsh(commands.guest_command(
                'vcpupin', name)))
            emulator = parsers.parse_emulatorpin(virsh(
                commands.guest_command('emulatorpin', name)))
            parsers.parse_numatune(virsh(commands.guest_command(
                'numatune', name)))
            parsers.parse_vcpuinfo(virsh(commands.guest_command(
                'vcpuinfo', name)))
            want_pins, want_emulator = bedview.guest_cpus(domain['xml'],
                                                          range(8))
            self.assertEqual(want_pins, {k: set(v) for k, v in pins.items()},
                             name)
            self.assertEqual(want_emulator, set(emulator), name)
            self.assertEqual(bedview.guest_pci(domain['xml']), [
                n['device'] for n in xml['nics'] if n['kind'] == 'hostdev']
                + xml['hostdevs'], name)
        pinned = parsers.parse_vcpupin(virsh(commands.guest_command(
            'vcpupin', 'instance-00000001')))
        self.assertEqual({0: frozenset({4}), 1: frozenset({5})}, pinned)
        self.assertEqual(['instance-00000001'], used['cells'][1]['pinned'][4])
        huge = parsers.parse_domain_xml(virsh(commands.guest_command(
            'dumpxml', 'instance-00000002')))
        self.assertEqual(2048, huge['hugepages_kib'])
        self.assertEqual(frozenset({1}), huge['memory_nodeset'])
