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

"""precheck --ssh: the live migration transport and pre-Train pinned CPUs.

The SSH test hosts (``testbed.sshhosts``: one real sshd per host on
127.0.0.x, in its own mount namespace) play the computes.  The transport
check runs the real ``ssh`` client *on the source host* (compute1, as the
test user: the hosts have no ``nova`` user) against the destination's
real sshd, with the scheme, user and port of compute1's nova.conf
(``live_migration_uri``) and the address of the destination's
(``live_migration_inbound_addr``).
"""

import os
import shutil

from migrationclient.tests.functional import base
from migrationclient.tests.functional.v1 import test_precheck


def _findings(row, rule):
    return [x for x in row['Findings'] if x.startswith(rule + ' ')]


class SSHHostsMixin(base.SSHHostsMixin):
    """Three SSH hosts named after the bed's computes (127.0.0.2-4)."""

    def args(self):
        return ['--ssh'] + self.hosts.ssh_args()

    def nova_conf(self, source_port):
        """Each host's nova.conf: migrate over SSH to ``source_port``."""
        for host in self.hosts.hosts.values():
            host.write_nova_conf(
                '[libvirt]\n'
                'live_migration_uri = qemu+ssh://%s@%%s:%d/system\n'
                'live_migration_inbound_addr = %s\n'
                % (self.sshhosts.USER, source_port, host.address))

    def give_key(self, name, known=('compute2',)):
        """The shared migration key and known_hosts of the test user.

        On host ``name``: its ``~/.ssh/id_ed25519`` (the key every host
        authorizes) and a known_hosts with the hosts ``known``.
        """
        home = os.path.join(self.hosts.hosts[name].dir, 'home')
        dot = os.path.join(home, '.ssh')
        os.makedirs(dot, mode=0o700, exist_ok=True)
        key = os.path.join(dot, 'id_ed25519')
        shutil.copyfile(self.hosts.client_key, key)
        with open(os.path.join(dot, 'known_hosts'), 'w') as handle:
            for other in known:
                handle.write(self.hosts.hosts[other].known_hosts_line())
        for path in (home, dot, key, os.path.join(dot, 'known_hosts')):
            os.chown(path, self.sshhosts.UID, self.sshhosts.UID)
        os.chmod(key, 0o600)
        return dot


class TestTransport(SSHHostsMixin, test_precheck.PrecheckMixin,
                    base.FunctionalTestCase):
    """The destination's migration endpoint, checked from the source."""

    def test_endpoint_answers_or_port_closed(self):
        server = self.create_server('image', host='compute1')
        server = self.connection().compute.get_server(server.id)
        self.hosts.hosts['compute1'].write_state(self.render.HostState(
            guests=(self.render.Guest(server.instance_name),)))
        # compute2's sshd port: compute2 answers, nothing listens on that
        # port of compute3's address
        port = self.hosts.hosts['compute2'].port
        self.nova_conf(port)
        dot = self.give_key('compute1', known=('compute2', 'compute3'))
        rows = self.osc_json('migration', 'precheck', server.id, '--long',
                             *self.args())
        by_dest = {r['Destination']: r for r in rows}
        self.assertEqual({'compute2', 'compute3'}, set(by_dest))
        ok = _findings(by_dest['compute2'], 'transport')
        self.assertEqual(1, len(ok), ok)
        self.assertIn('transport [ok, live]: ssh://migtest@127.0.0.3:%d '
                      'answers from compute1' % port, ok[0])
        self.assertIn('cold migration uses its own ssh / rsync', ok[0])
        self.assertEqual(('yes', 'yes'), (by_dest['compute2']['Live'],
                                          by_dest['compute2']['Cold']))
        closed = _findings(by_dest['compute3'], 'transport')
        self.assertEqual(1, len(closed), closed)
        self.assertIn('transport [blocker, live]:', closed[0])
        self.assertIn('nothing listens on port %d at 127.0.0.4' % port,
                      closed[0])
        self.assertIn('Connection refused', closed[0])
        self.assertEqual(('no', 'yes'), (by_dest['compute3']['Live'],
                                         by_dest['compute3']['Cold']))
        # the key gone: "no key" for the user on compute1
        os.unlink(os.path.join(dot, 'id_ed25519'))
        row = self.precheck_row(server.id, 'compute2', '--long',
                                *self.args())
        nokey = _findings(row, 'transport')
        self.assertIn('migtest on compute1 has no SSH key', nokey[0])
        self.assertEqual('no', row['Live'])
        # the key back, compute2's host key unknown
        self.give_key('compute1', known=('compute3',))
        row = self.precheck_row(server.id, 'compute2', '--long',
                                *self.args())
        unknown = _findings(row, 'transport')
        self.assertIn('SSH host key of ssh://migtest@127.0.0.3:%d is '
                      'unknown to migtest on compute1' % port, unknown[0])
        self.assertIn('ssh-keyscan -p %d 127.0.0.3' % port, unknown[0])

    def test_tcp_scheme(self):
        # qemu+tcp to compute2's sshd port: a TCP connect from compute1
        server = self.create_server('image', host='compute1')
        port = self.hosts.hosts['compute2'].port
        for host in self.hosts.hosts.values():
            host.write_nova_conf(
                '[libvirt]\nlive_migration_uri = qemu+tcp://%%s:%d/system\n'
                'live_migration_inbound_addr = %s\n' % (port, host.address))
        rows = self.osc_json('migration', 'precheck', server.id, '--long',
                             *self.args())
        by_dest = {r['Destination']: r for r in rows}
        ok = _findings(by_dest['compute2'], 'transport')
        self.assertIn('transport [ok, live]: tcp://127.0.0.3:%d answers '
                      'from compute1' % port, ok[0])
        refused = _findings(by_dest['compute3'], 'transport')
        self.assertIn('tcp://127.0.0.4:%d refused the connection from '
                      'compute1: nothing listens on port %d at 127.0.0.4'
                      % (port, port), refused[0])
        self.assertIn('make libvirtd listen on tcp port %d' % port,
                      refused[0])
        self.assertEqual(('no', 'yes'), (by_dest['compute3']['Live'],
                                         by_dest['compute3']['Cold']))

    def test_no_nova_conf_is_not_checked(self):
        server = self.create_server('image', host='compute1')
        row = self.precheck_row(server.id, 'compute2', '--long',
                                *self.args())
        found = _findings(row, 'transport')
        self.assertEqual(1, len(found), found)
        self.assertIn('[not-checked, live]', found[0])
        self.assertIn('nova.conf was not read', found[0])
        self.assertEqual('yes', row['Live'])


class TestPreTrainPinned(SSHHostsMixin, test_precheck.PrecheckMixin,
                         base.FunctionalTestCase):
    """OSP 10 (compute 2.38): a pinned guest keeps its host CPUs."""

    BED_MAX_MICROVERSION = '2.38'

    def test_same_cpus_taken_or_free(self):
        compute = self.connection().compute
        flavor = compute.create_flavor(name='pin.private', vcpus=2, ram=256,
                                       disk=1, is_public=False)
        self.addCleanup(compute.delete_flavor, flavor)
        server = self.create_server('image', host='compute1', flavor=flavor)
        server = compute.get_server(server.id)
        # Below 2.47 the precheck reads the flavor as it is now: the fake
        # driver has no NUMA cells to boot a pinned guest on
        compute.create_flavor_extra_specs(flavor,
                                          {'hw:cpu_policy': 'dedicated'})
        pins = {0: '2', 1: '3'}
        self.hosts.hosts['compute1'].write_state(self.render.HostState(
            guests=(self.render.Guest(server.instance_name, vcpu_pins=pins,
                                      nodeset='0'),)))
        # compute2 runs a guest pinned to CPU 3; compute3 holds nothing
        self.hosts.hosts['compute2'].write_state(self.render.HostState(
            guests=(self.render.Guest('instance-0000beef',
                                      vcpu_pins={0: '3', 1: '1'}),)))
        self.hosts.hosts['compute2'].write_nova_conf(
            '[DEFAULT]\nvcpu_pin_set = 0-7\n'
            '[workarounds]\ncpu_pinning_migration_quick_fail = true\n')
        rows = self.osc_json('migration', 'precheck', server.id, '--long',
                             *self.args())
        by_dest = {r['Destination']: r for r in rows}
        taken = _findings(by_dest['compute2'], 'same-cpus')
        self.assertIn('same-cpus [blocker, live]: before Train (Newton '
                      '(OSP 10)) the guest keeps host CPUs 2,3 (cell 0)',
                      taken[0])
        self.assertIn('CPU 3 by instance-0000beef', taken[0])
        self.assertIn('cpu_pinning_migration_quick_fail', taken[0])
        self.assertEqual('no', by_dest['compute2']['Live'])
        self.assertTrue(any('[warning, cold]' in x for x in taken), taken)
        free = _findings(by_dest['compute3'], 'same-cpus')
        self.assertIn('same-cpus [ok, live]: host CPUs 2,3 (cell 0) are '
                      'free on the destination', free[0])
        # without --ssh: maybe, naming what is missing
        row = self.precheck_row(server.id, 'compute3', '--long')
        found = _findings(row, 'same-cpus')
        self.assertIn('[unknown, live]', found[0])
        self.assertIn('were not read', found[0])
        self.assertIn('cpu_pinning_migration_quick_fail', found[0])
        self.assertEqual('maybe', row['Live'])
