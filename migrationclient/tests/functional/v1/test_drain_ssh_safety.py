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

"""Issue 18 items 2, 3 and 5 for what came later: ``compute drain --ssh``.

Through the real ``openstack`` executable on the bed:

* a bad ``--ssh-*`` option of ``compute drain --ssh``: one line, exit 1,
  not one request to compute or placement (as ``migration precheck``);
* ``compute drain --ssh`` that can read no host at all: exit 11 and
  nothing changed (no service, no server, no file), ``--dry-run`` too;
  ``--ssh-optional`` drains on the API facts, as in ``migration precheck
  --ssh-optional``;
* ``compute drain --dry-run --ssh`` against real sshd hosts writes no
  file (state directory, known_hosts, --events, --metrics-file);
* on a terminal, the drain's live block shows each migration's percent
  and ETA.
"""

import os
import pty
import shutil
import socket
import subprocess
import tempfile

from migrationclient import exitcodes
from migrationclient.tests.functional import base
from migrationclient.tests.functional.v1 import test_drain
from migrationclient.tests.functional.v1 import test_drain_output
from testbed import fakecloud

SOURCE = test_drain.SOURCE
HOSTS = ('compute1', 'compute2', 'compute3')


def closed_port():
    """A loopback TCP port nothing listens on (connections refused)."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class TestDrainSSHOptionsContactNothing(test_drain.DrainTestCase):
    """Bad --ssh-* of compute drain: one line, exit 1, no request."""

    def test_no_request_before_the_error(self):
        tmp = tempfile.mkdtemp(prefix='drain-ssh-bad-')
        self.addCleanup(shutil.rmtree, tmp, True)
        key_dir = os.path.join(tmp, 'keys')
        os.mkdir(key_dir)
        server = self.server('image', name='a-plain')
        proxy, clouds = self.counting_proxy(tmp)
        drain = ('compute', 'drain', SOURCE, '--ssh')
        cases = {
            'key missing': (drain + ('--ssh-key', os.path.join(tmp, 'no')),
                            '--ssh-key'),
            'key unreadable': (drain + ('--ssh-key', key_dir), '--ssh-key'),
            'port': (drain + ('--ssh-host', 'compute1=h:22x'),
                     '--ssh-host'),
            'known_hosts': (drain + ('--ssh-known-hosts', key_dir),
                            '--ssh-known-hosts'),
            'config': (drain + ('--ssh-config', os.path.join(tmp, 'no')),
                       '--ssh-config'),
            'optional alone': (('compute', 'drain', SOURCE,
                                '--ssh-optional'), '--ssh-optional'),
        }
        for name, (argv, option) in cases.items():
            res = self.openstack(*argv, check=False, env={
                'OS_CLIENT_CONFIG_FILE': clouds,
                'XDG_STATE_HOME': self.state_home})
            lines = res.stderr.strip().splitlines()
            self.assertEqual((1, 1), (res.returncode, len(lines)),
                             '%s: %s' % (name, res.stderr))
            self.assertTrue(lines[0].startswith(option), (name, lines))
            self.assertEqual('', res.stdout, name)
        self.assertEqual([], [(e.service, e.method, e.path)
                              for e in proxy.events()
                              if e.service != 'identity'])
        self.assertEqual('enabled', self.service().status)
        self.assertEqual([], self.migrations_of([server]))
        self.assertEqual({}, test_drain_output.tree(self.state_home))


class TestDrainSSHNoHostRead(test_drain.DrainTestCase):
    """--ssh that reads no host: exit 11, nothing changed."""

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix='drain-ssh-none-')
        self.addCleanup(shutil.rmtree, self.tmp, True)
        key = os.path.join(self.tmp, 'key')
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '',
                        '-f', key], check=True, stdin=subprocess.DEVNULL)
        known = os.path.join(self.tmp, 'known_hosts')
        open(known, 'w').close()
        self.ssh_args = ['--ssh', '--ssh-key', key, '--ssh-no-agent',
                         '--ssh-config', '', '--ssh-known-hosts', known,
                         '--ssh-timeout', '5']
        for host in HOSTS:
            self.ssh_args += ['--ssh-host',
                              '%s=127.0.0.1:%d' % (host, closed_port())]

    def test_refuses_unless_optional(self):
        server = self.server('image', name='a-plain')
        out = os.path.join(self.tmp, 'out')
        os.mkdir(out)
        refusal = ('SSH: none of the 3 compute host(s) could be read; '
                   'nothing changed (exit status 11')

        res = self.drain(SOURCE, '--dry-run', *self.ssh_args,
                         expect=exitcodes.DRAIN_NO_SSH_FACTS)
        # the plan on the API facts is still the answer
        self.assertEqual([server.id],
                         [s['Server'] for s in res.json()['servers']])
        said = [ln for ln in res.stderr.splitlines() if refusal in ln]
        self.assertEqual(1, len(said), res.stderr)
        self.assertTrue(said[0].startswith('--dry-run: a drain would '
                                           'refuse: '), said)
        self.assertNotIn('Traceback', res.stderr)

        res = self.drain(SOURCE, '--events', os.path.join(out, 'e.jsonl'),
                         '--metrics-file', os.path.join(out, 'm.prom'),
                         *self.ssh_args,
                         expect=exitcodes.DRAIN_NO_SSH_FACTS)
        said = [ln for ln in res.stderr.splitlines() if refusal in ln]
        self.assertEqual(1, len(said), res.stderr)
        self.assertNotIn('Traceback', res.stderr)
        # nothing changed: service, server, files
        self.assertEqual('enabled', self.service().status)
        self.assertEqual([], self.migrations_of([server]))
        self.assertEqual({}, test_drain_output.tree(self.state_home))
        self.assertEqual([], os.listdir(out))

        # --ssh-optional: the drain goes on with the API facts, warned
        res = self.drain(SOURCE, '--poll-interval', '1', '--ssh-optional',
                         *self.ssh_args)
        self.assertNotIn(refusal, res.stderr)
        self.assertIn('SSH: ', res.stderr)
        self.assertIn('1/1 moved', res.stderr)
        self.assertEqual('complete', self.load_report()['state'])


class TestDrainDryRunSSHWritesNothing(base.SSHHostsMixin,
                                      test_drain.DrainTestCase):
    """--dry-run --ssh reads the hosts over SSH and writes no file."""

    def ssh_files(self):
        """The client side of the SSH test hosts: names, known_hosts."""
        with open(self.hosts.known_hosts, 'rb') as stream:
            known = stream.read()
        return (sorted(os.listdir(self.hosts.dir)), known,
                os.stat(self.hosts.known_hosts).st_mtime_ns)

    def test_dry_run_ssh_writes_no_file(self):
        self.server('image', name='a-plain')
        self.server('shutoff', name='b-stopped')
        out = os.path.join(self.state_home, 'out')
        os.mkdir(out)
        ev = os.path.join(out, 'e.jsonl')
        prom = os.path.join(out, 'm.prom')
        state_before = test_drain_output.tree(self.state_home)
        ssh_before = self.ssh_files()
        res = self.drain(SOURCE, '--dry-run', '--ssh', '--events', ev,
                         '--metrics-file', prom, *self.hosts.ssh_args())
        self.assertEqual(2, len(res.json()['servers']))
        # the hosts were read (no SSH warning for them)
        self.assertNotIn('could be read', res.stderr)
        self.assertEqual(state_before, test_drain_output.tree(
            self.state_home))
        self.assertEqual(ssh_before, self.ssh_files())
        self.assertEqual([], os.listdir(out))
        self.assertEqual('enabled', self.service().status)


class TestDrainTtyProgress(test_drain.DrainTestCase):
    """On a terminal the drain shows each migration's percent and ETA."""

    def test_percent_and_eta_on_a_terminal(self):
        self.server('image', name='a-held', fakecloud_hold=8)
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        env = dict(self.bed.env(), XDG_STATE_HOME=self.state_home)
        proc = subprocess.Popen(
            [base._openstack_binary(), '--os-cloud', fakecloud.CLOUD_ADMIN,
             'compute', 'drain', SOURCE, '--poll-interval', '0.5',
             '--progress-interval', '0', '-f', 'value', '-c', 'State'],
            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL,
            env=env)
        self.addCleanup(test_drain._reap, proc)
        os.close(slave)
        data = base.read_terminal(master)
        stdout, _err = proc.communicate(timeout=120)
        err = data.decode(errors='replace')
        self.addDetail('tty', test_drain._text(err))
        self.assertEqual(exitcodes.OK, proc.returncode, err[-2000:])
        self.assertEqual(b'done\n', stdout)
        # a line per migration in flight, redrawn: bar, percent, ETA
        self.assertRegex(err, r'a-held live compute1->compute\d '
                              r'\[[#.]+\] +\d+\.\d% ETA \S+')
        self.assertIn('1/1 moved', err)
        self.assertNotIn('Traceback', err)
