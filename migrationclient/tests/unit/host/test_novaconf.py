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

"""host.novaconf on the nova.conf samples (samples/host/README.rst)."""

import os

import fixtures
import testtools

from migrationclient.host import commands
from migrationclient.host import novaconf
from migrationclient.host import ssh
from migrationclient.tests.unit.host import base


def _conf(name):
    return novaconf.parse(base.sample(name), path='/etc/nova/nova.conf')


class TestDefaults(testtools.TestCase):
    """An empty file: nova 34's defaults (nova/conf/*.py)."""

    def test_defaults(self):
        conf = novaconf.parse('')
        self.assertIsNone(conf.cpu_dedicated_set)
        self.assertIsNone(conf.cpu_shared_set)
        self.assertIsNone(conf.vcpu_pin_set)
        self.assertIsNone(conf.pinning_set)
        self.assertEqual('host-model', conf.effective_cpu_mode)
        self.assertEqual((), conf.cpu_models)
        self.assertEqual((), conf.pci_aliases)
        self.assertFalse(conf.pci_report_in_placement)
        self.assertFalse(conf.live_migration_permit_post_copy)
        self.assertFalse(conf.live_migration_permit_auto_converge)
        self.assertEqual(800, conf.live_migration_completion_timeout)
        self.assertEqual('abort', conf.live_migration_timeout_action)
        self.assertEqual(1, conf.max_concurrent_live_migrations)
        self.assertFalse(conf.live_migration_with_native_tls)
        self.assertEqual('tcp', conf.migration_scheme)
        self.assertEqual(16509, conf.migration_port)
        self.assertIsNone(conf.migration_user)
        self.assertEqual('qemu+tcp://compute2/system',
                         conf.migration_uri('compute2'))
        self.assertFalse(conf.workaround('enable_numa_live_migration'))
        self.assertIsNone(conf.workaround('cpu_pinning_migration_quick_fail'))
        self.assertEqual((), conf.notes)

    def test_paths_in_order(self):
        self.assertEqual('/etc/nova/nova.conf', novaconf.PATHS[0])
        self.assertIn('/var/lib/config-data/puppet-generated/nova_libvirt/'
                      'etc/nova/nova.conf', novaconf.PATHS)
        self.assertIn('/etc/kolla/nova-compute/nova.conf', novaconf.PATHS)

    def test_other_virt_type(self):
        conf = novaconf.parse('[libvirt]\nvirt_type = parallels\n')
        self.assertEqual('none', conf.effective_cpu_mode)
        self.assertEqual('parallels+tcp://h/system', conf.migration_uri('h'))


class TestDocsSample(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = _conf('novaconf-docs.conf')

    def test_cpu_sets(self):
        self.assertEqual(frozenset(range(2, 18)), self.conf.cpu_dedicated_set)
        self.assertEqual(frozenset(range(18, 48)), self.conf.cpu_shared_set)
        self.assertEqual(self.conf.cpu_dedicated_set, self.conf.pinning_set)

    def test_cpu_model(self):
        self.assertEqual('custom', self.conf.effective_cpu_mode)
        self.assertEqual(('Cascadelake-Server-noTSX',
                          'Icelake-Server-noTSX'), self.conf.cpu_models)

    def test_aliases(self):
        names = [a.name for a in self.conf.pci_aliases]
        self.assertEqual(['a1', 'vf_live', 'vf_no_migrate', 'QuickAssist-1'],
                         names)
        a1, = self.conf.alias('a1')
        self.assertEqual(('8086', '154d', 'type-PF', 'preferred'),
                         (a1.vendor_id, a1.product_id, a1.device_type,
                          a1.numa_policy))
        self.assertIsNone(a1.live_migratable)
        self.assertEqual('CUSTOM_PCI_8086_154D', a1.placement_class)
        self.assertTrue(self.conf.alias('vf_live')[0].live_migratable)
        self.assertFalse(self.conf.alias('vf_no_migrate')[0].live_migratable)
        # the multi-line alias of nova/conf/pci.py's help
        qa, = self.conf.alias('QuickAssist-1')
        self.assertEqual('required', qa.numa_policy)

    def test_python_quoted_alias_is_a_note(self):
        # nova's jsonutils.loads refuses the docs' Python-quoted dict
        self.assertEqual(1, len(self.conf.notes))
        self.assertIn('[pci] alias: not JSON', self.conf.notes[0])

    def test_device_specs(self):
        specs = self.conf.pci_device_specs
        self.assertEqual(2, len(specs))
        self.assertIs(False, specs[1]['live_migratable'])
        self.assertTrue(self.conf.pci_report_in_placement)

    def test_live_migration(self):
        conf = self.conf
        self.assertTrue(conf.live_migration_with_native_tls)
        self.assertEqual('tls', conf.migration_scheme)
        self.assertEqual(16514, conf.migration_port)
        self.assertEqual('qemu+tls://192.0.2.7/system',
                         conf.migration_uri('compute2', '192.0.2.7'))
        self.assertEqual('qemu+tls://[2001:db8::7]/system',
                         conf.migration_uri('compute2', '2001:db8::7'))
        self.assertTrue(conf.live_migration_permit_post_copy)
        self.assertEqual('force_complete', conf.live_migration_timeout_action)
        self.assertEqual(500, conf.live_migration_downtime)
        self.assertEqual(2, conf.max_concurrent_live_migrations)

    def test_workarounds(self):
        self.assertTrue(self.conf.workaround('skip_cpu_compare_on_dest'))
        self.assertFalse(self.conf.workaround('enable_numa_live_migration'))


class TestOsp13Sample(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.conf = _conf('novaconf-osp13.conf')

    def test_legacy_pin_set(self):
        self.assertIsNone(self.conf.cpu_dedicated_set)
        expected = frozenset(set(range(4, 16)) - {8})
        self.assertEqual(expected, self.conf.vcpu_pin_set)
        self.assertEqual(expected, self.conf.pinning_set)

    def test_legacy_pci_names(self):
        gpu, = self.conf.alias('gpu')
        self.assertEqual('10de', gpu.vendor_id)
        # passthrough_whitelist as a JSON list of two specs
        self.assertEqual(2, len(self.conf.pci_device_specs))
        self.assertEqual('ens2f0', self.conf.pci_device_specs[0]['devname'])

    def test_ssh_transport(self):
        conf = self.conf
        self.assertEqual('ssh', conf.migration_scheme)
        self.assertEqual(2022, conf.migration_port)
        self.assertEqual('nova_migration', conf.migration_user)
        self.assertEqual(
            'qemu+ssh://nova_migration@compute2:2022/system?keyfile='
            '/etc/nova/migration/identity', conf.migration_uri('compute2'))
        self.assertEqual('host-passthrough', conf.effective_cpu_mode)
        self.assertEqual((), conf.cpu_model_extra_flags)

    def test_downstream_quick_fail(self):
        self.assertIs(True, self.conf.workaround(
            'cpu_pinning_migration_quick_fail'))


class TestBedSample(testtools.TestCase):

    def test_bed(self):
        conf = _conf('novaconf-bed.conf')
        self.assertEqual(frozenset({0, 1, 4, 5}), conf.cpu_dedicated_set)
        self.assertEqual(frozenset({2, 3, 6, 7}), conf.cpu_shared_set)
        self.assertEqual(['fc-pci', 'fc-vf'],
                         [a.name for a in conf.pci_aliases])
        self.assertEqual('CUSTOM_PCI_8086_1515',
                         conf.alias('fc-vf')[0].placement_class)
        self.assertEqual(3, len(conf.pci_device_specs))


class TestSyntax(testtools.TestCase):

    def test_last_value_wins_multi_values_all_kept(self):
        conf = novaconf.parse(
            '[DEFAULT]\nmax_concurrent_live_migrations = 3\n'
            'max_concurrent_live_migrations = 0\n'
            '[pci]\nalias = {"name": "x"}\nalias = {"name": "y"}\n')
        self.assertEqual(0, conf.max_concurrent_live_migrations)
        self.assertEqual(['x', 'y'], [a.name for a in conf.pci_aliases])

    def test_quotes_colon_comments_and_section_case(self):
        conf = novaconf.parse(
            '# comment\n; other\n[LIBVIRT]\ncpu_mode: "host-model"\n'
            "live_migration_inbound_addr = '10.0.0.5'\n")
        self.assertEqual('host-model', conf.cpu_mode)
        self.assertEqual('10.0.0.5', conf.live_migration_inbound_addr)

    def test_bad_values_are_notes(self):
        conf = novaconf.parse(
            '[compute]\ncpu_dedicated_set = 0-3,x\n'
            '[libvirt]\nlive_migration_timeout_action = pause\n'
            'live_migration_completion_timeout = soon\n'
            '[pci]\nalias = {"vendor_id": "8086"}\n'
            'alias = {"name": "z", "live_migratable": "perhaps"}\n'
            'device_spec = [1]\n')
        self.assertIsNone(conf.cpu_dedicated_set)
        self.assertEqual('abort', conf.live_migration_timeout_action)
        self.assertEqual(800, conf.live_migration_completion_timeout)
        self.assertIsNone(conf.alias('z')[0].live_migratable)
        self.assertEqual(5, len(conf.notes))
        for note in conf.notes:
            self.assertNotIn('\n', note)

    def test_not_ini(self):
        for text in ('key = value\n', '[DEFAULT]\njust words\n',
                     '[DEFAULT\n', '  indented first\n', '[DEFAULT]\n= x\n'):
            self.assertRaises(novaconf.NovaConfError, novaconf.parse, text)


class TestAgainstOsloConfig(testtools.TestCase):
    """parse_ini reads the samples as oslo.config's own parser does."""

    def test_samples(self):
        try:
            from oslo_config import cfg
        except ImportError:     # not a dependency of this package
            self.skipTest('oslo.config not installed')
        tmp = self.useFixture(fixtures.TempDir()).path
        for name in ('novaconf-docs.conf', 'novaconf-osp13.conf',
                     'novaconf-bed.conf'):
            text = base.sample(name)
            path = os.path.join(tmp, name)
            with open(path, 'w', encoding='utf-8') as handle:
                handle.write(text)
            sections = {}
            cfg.ConfigParser(path, sections).parse()
            ours = novaconf.parse_ini(text)
            for section, values in sections.items():
                name_ = section if section == 'DEFAULT' else section.lower()
                self.assertEqual(
                    {k: v for k, v in values.items()},
                    {k: v for k, v in ours[name_].items()},
                    '%s [%s]' % (name, section))


class TestReadOverSSH(testtools.TestCase):
    """The NOVA_CONF command's output and the drain's live limits."""

    def test_output_names_the_file(self):
        conf = novaconf.from_output(
            '# path /etc/kolla/nova-compute/nova.conf\n'
            '[DEFAULT]\nmax_concurrent_live_migrations = 3\n')
        self.assertEqual('/etc/kolla/nova-compute/nova.conf', conf.path)
        self.assertEqual(3, conf.max_concurrent_live_migrations)
        self.assertEqual(1, novaconf.from_output('[DEFAULT]\n')
                         .max_concurrent_live_migrations)

    def test_live_limits_per_host_unreadable_is_a_note(self):
        class Pool:
            def __init__(self):
                self.ran = []

            def run_parsed(self, host, command, parser):
                self.ran.append((host, command))
                if host == 'c2':
                    raise ssh.CommandFailed(host, 'cat nova.conf exited 3',
                                            '127.0.0.3')
                return parser('# path /etc/nova/nova.conf\n[DEFAULT]\n'
                              'max_concurrent_live_migrations = 0\n')
        pool = Pool()
        found, notes = novaconf.live_limits(pool, ['c1', 'c2'])
        self.assertEqual({'c1': 0}, found)
        self.assertEqual(1, len(notes))
        self.assertIn('c2: nova.conf not read', notes[0])
        self.assertEqual({commands.NOVA_CONF}, {c for _h, c in pool.ran})
        self.assertEqual(novaconf.PATHS, commands.NOVA_CONF_PATHS)
