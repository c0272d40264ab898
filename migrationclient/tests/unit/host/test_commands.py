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

import shlex

from hypothesis import given
from hypothesis import HealthCheck
from hypothesis import settings
from hypothesis import strategies as st
import testtools

from migrationclient.host import commands


class TestTemplates(testtools.TestCase):

    def test_guest_command_is_fixed_template(self):
        cmd = commands.guest_command('vcpupin', 'instance-0000002a')
        self.assertEqual(
            'env LC_ALL=C virsh vcpupin --domain instance-0000002a',
            cmd.render())
        self.assertEqual(
            'sudo -n env LC_ALL=C virsh vcpupin --domain instance-0000002a',
            cmd.render(sudo=True))
        self.assertEqual('virsh', cmd.program)

    def test_virsh_in_a_container(self):
        cmd = commands.guest_command('numatune', 'instance-1')
        self.assertEqual(
            'sudo -n podman exec --env LC_ALL=C nova_libvirt virsh '
            'numatune --domain instance-1',
            cmd.render(sudo=True, container='nova_libvirt'))
        self.assertEqual(
            'docker exec --env LC_ALL=C nova_libvirt virsh numatune '
            '--domain instance-1',
            cmd.render(container='nova_libvirt', engine='docker'))
        # only virsh goes into the container
        self.assertEqual(commands.LSCPU.render(),
                         commands.LSCPU.render(container='nova_libvirt'))
        self.assertRaises(commands.InvalidName, cmd.render,
                          container='x;reboot')
        self.assertRaises(commands.InvalidName, cmd.render,
                          container='nova_libvirt', engine='sh')

    def test_unknown_template_refused(self):
        self.assertRaises(commands.InvalidName, commands.guest_command,
                          'destroy', 'instance-1')

    def test_sudo_not_used_for_unprivileged_reads(self):
        self.assertTrue(commands.LSCPU.render(sudo=True).startswith('env '))
        self.assertTrue(commands.NET_NUMA.render(sudo=True).startswith(
            'env '))
        self.assertTrue(commands.CAPABILITIES.render(sudo=True).startswith(
            'sudo -n '))

    def test_pci_addresses_are_arguments_not_script(self):
        cmd = commands.pci_numa(['0000:3B:02.1', '0000:af:00.0'])
        argv = shlex.split(cmd.render())
        self.assertEqual(['0000:3b:02.1', '0000:af:00.0'], argv[-2:])
        self.assertEqual(commands.pci_numa([]).argv[2], argv[4])

    def test_bad_pci_refused(self):
        for bad in ('0000:3b:02.1;reboot', '../../etc', '', None,
                    '0000:3b:02.8'):
            self.assertRaises(commands.InvalidName, commands.pci_numa, [bad])

    def test_nic_names(self):
        self.assertEqual('ens1f0', commands.validate_nic('ens1f0'))
        for bad in ('..', 'a/b', 'x' * 16, 'a b', '-rf', ''):
            self.assertRaises(commands.InvalidName, commands.validate_nic,
                              bad)

    def test_typical_nova_names_accepted(self):
        for name in ('instance-00000001', 'instance-deadbeef',
                     'vm_1.example:a+b'):
            self.assertEqual(name, commands.validate_domain(name))


HOSTILE = st.one_of(
    st.text(min_size=0, max_size=200),
    st.sampled_from(['$(reboot)', '`id`', 'a;rm -rf /', "a' b", 'a\nb',
                     '-c', '--domain=x', 'a|b', '&&', '~root', '*',
                     'instance-1 --all', '\x00', 'é', '${IFS}', '"'
                     ]),
    st.builds(lambda a, b: a + b,
              st.sampled_from(['instance-', '']),
              st.text(alphabet=';|&$`\'"\\ \t\n()<>*?[]{}!#~=-_.:+a0',
                      max_size=30)))


# The build machine is shared: no timing-based health checks.
RELAXED = settings(deadline=None, max_examples=200,
                   suppress_health_check=[HealthCheck.too_slow])


class TestNovaConf(testtools.TestCase):

    def test_a_fixed_text_with_constant_paths(self):
        argv = commands.NOVA_CONF.argv
        self.assertEqual(('sh', '-c'), argv[:2])
        self.assertEqual(('sh',) + commands.NOVA_CONF_PATHS, argv[3:])
        self.assertNotIn('/etc/', argv[2])     # the paths are arguments
        line = commands.NOVA_CONF.render(sudo=True)
        self.assertTrue(line.startswith('sudo -n env LC_ALL=C sh -c '))
        self.assertEqual(list(argv), shlex.split(line)[4:])
        self.assertEqual('cat', commands.NOVA_CONF.program)


class TestHostileNames(testtools.TestCase):

    @RELAXED
    @given(HOSTILE, st.sampled_from(sorted(commands._GUEST_TEMPLATES)),
           st.booleans())
    def test_name_is_refused_or_one_quoted_word(self, name, kind, sudo):
        try:
            cmd = commands.guest_command(kind, name)
        except commands.InvalidName:
            return
        line = cmd.render(sudo=sudo)
        argv = shlex.split(line)
        prefix = (['sudo', '-n'] if sudo else []) + [
            'env', 'LC_ALL=C', 'virsh', kind, '--domain']
        # the shell sees exactly the template plus the name as one word
        self.assertEqual(prefix + [name], argv)
        self.assertFalse(name.startswith('-'))
        for char in ';|&$`\'"\\ \t\n()<>*?[]{}!#~':
            self.assertNotIn(char, name)

    @RELAXED
    @given(HOSTILE)
    def test_nic_and_pci_validation_never_lets_metacharacters(self, name):
        for validate in (commands.validate_nic, commands.validate_pci,
                         commands.validate_domain,
                         commands.validate_container):
            try:
                value = validate(name)
            except commands.InvalidName:
                continue
            self.assertEqual([value], shlex.split(shlex.quote(value)))
            self.assertRegex(value, r'\A[A-Za-z0-9_.:@+-]+\Z')


class TestHostScripts(testtools.TestCase):
    """The fixed scripts of the --ssh precheck's host reading."""

    def test_domains_script_gets_virsh_as_arguments(self):
        argv = shlex.split(commands.DOMAINS_XML.render())
        self.assertEqual(['env', 'LC_ALL=C', 'sh', '-c'], argv[:4])
        self.assertEqual(['sh', 'virsh'], argv[5:])
        argv = shlex.split(commands.DOMAINS_XML.render(
            sudo=True, container='nova_libvirt', engine='docker'))
        self.assertEqual(['sudo', '-n', 'env', 'LC_ALL=C', 'sh', '-c'],
                         argv[:6])
        self.assertEqual(['sh', 'docker', 'exec', '--env', 'LC_ALL=C',
                          'nova_libvirt', 'virsh'], argv[7:])
        # plain virsh templates keep their container form
        self.assertEqual(
            "podman exec --env LC_ALL=C nova_libvirt virsh capabilities",
            commands.CAPABILITIES.render(container='nova_libvirt'))

    def test_domains_script_runs(self):
        import os
        import subprocess  # nosec B404: runs the fixed script locally
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            virsh = os.path.join(tmp, 'virsh')
            with open(virsh, 'w') as handle:
                handle.write(
                    '#!/bin/sh\n'
                    'if [ "$1" = list ]; then printf "a\\n\\nb c\\ngone\\n";'
                    ' exit 0; fi\n'
                    '[ "$3" = gone ] && exit 1\n'
                    'echo "<domain><name>$3</name></domain>"\n')
            os.chmod(virsh, 0o755)
            argv = list(commands.DOMAINS_XML.argv) + [virsh]
            out = subprocess.run(argv, capture_output=True, text=True,
                                 check=True).stdout  # nosec B603
        from migrationclient.host import parsers
        domains = parsers.parse_domains_xml(out)
        self.assertEqual(['a', 'b c'], sorted(domains))
        self.assertEqual('b c', domains['b c']['name'])

    def test_pci_devices_script_is_fixed(self):
        argv = shlex.split(commands.PCI_DEVICES.render(sudo=True))
        self.assertEqual(['env', 'LC_ALL=C', 'sh', '-c'], argv[:4])
        self.assertEqual(5, len(argv))
