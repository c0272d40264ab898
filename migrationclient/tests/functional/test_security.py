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

"""Security checks: report permissions, no secret in output or reports.

* The drain report (and its directory, and an archived previous report) is
  private: file mode 0600, directory 0700, no temporary file left behind.
* No token, password or private-key material in the drain report, nor in
  what the plugin's commands print, even with ``--debug``, beyond what OSC
  itself prints for a core command (the baseline).  The cloud authenticates
  with ``auth_type: admin_token`` (the token is sent on every request), a
  password sits in ``OS_PASSWORD`` and a fake private key is passed with
  ``--ssh-key``.
* ``bandit -r migrationclient -x migrationclient/tests -ll`` finds nothing
  (skipped when bandit is not installed).
"""

import glob
import os
import shutil
import stat
import subprocess
import sys
import tempfile

import testtools
import yaml

from migrationclient.tests.functional import base
from testbed import fakecloud

TOKEN = 'admin:T0ken-S3cr3t-%s' % os.getpid()
PASSWORD = 'Pa55w0rd-S3cr3t-%s' % os.getpid()
KEY_BODY = ('b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAA'
            'tzc2gtZWQyNTUxOQAAACBLEAKYKEYMATERIALfakefakefakefakeAAAA')
CLOUD = 'fakecloud-secret'
SOURCE = 'compute3'


class SecurityTest(base.FunctionalTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix='security-')
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.compute = self.connection().compute
        self.addCleanup(self._enable_services)
        with open(self.bed.clouds_yaml) as f:
            config = yaml.safe_load(f)
        admin = dict(config['clouds'][fakecloud.CLOUD_ADMIN])
        admin['auth_type'] = 'admin_token'
        admin['auth'] = {'endpoint': admin['auth']['endpoint'],
                         'token': TOKEN}
        config['clouds'][CLOUD] = admin
        self.clouds_yaml = os.path.join(self.tmp, 'clouds.yaml')
        with open(self.clouds_yaml, 'w') as f:
            yaml.safe_dump(config, f)
        self.key = os.path.join(self.tmp, 'id_fake')
        with open(self.key, 'w') as f:
            f.write('-----BEGIN OPENSSH PRIVATE KEY-----\n%s\n'
                    '-----END OPENSSH PRIVATE KEY-----\n' % KEY_BODY)
        os.chmod(self.key, 0o600)
        self.xdg = os.path.join(self.tmp, 'xdg')

    def _enable_services(self):
        for svc in self.compute.services(binary='nova-compute'):
            if svc.status != 'enabled':
                self.compute.enable_service(svc, host=svc.host,
                                            binary='nova-compute')

    def run_cli(self, *args):
        return self.bed.openstack(*args, cloud=CLOUD, check=False, env={
            'OS_CLIENT_CONFIG_FILE': self.clouds_yaml,
            'OS_PASSWORD': PASSWORD, 'XDG_STATE_HOME': self.xdg},
            timeout=300)

    @staticmethod
    def secrets_in(text):
        return [s for s in (TOKEN, TOKEN.split(':', 1)[1], PASSWORD,
                            KEY_BODY) if s in text]

    # -- report ----------------------------------------------------------

    def test_drain_report_private_and_secret_free(self):
        server = self.create_server('image', host=SOURCE)
        res = self.run_cli('compute', 'drain', SOURCE, '--enable-when-done',
                           '--poll-interval', '0.5', '-f', 'json')
        self.addDetail('drain', _text('exit %d\n%s\n%s' % (
            res.returncode, res.stderr, res.stdout)))
        self.assertEqual(0, res.returncode, res.stderr[-2000:])
        self.assertNotEqual(SOURCE, self.compute.get_server(
            server.id).compute_host)
        top = os.path.join(self.xdg, 'migrationclient')
        # The default report is keyed by the cloud: clouds/<cloud>/.
        found = glob.glob(os.path.join(top, '**', 'drain-%s.json' % SOURCE),
                          recursive=True)
        self.assertEqual(1, len(found), found)
        path = found[0]
        directory = os.path.dirname(path)
        private = [directory]
        while private[-1] != top:
            private.append(os.path.dirname(private[-1]))
        problems = []
        for p, want in [(d, 0o700) for d in private] + [(path, 0o600)]:
            mode = stat.S_IMODE(os.stat(p).st_mode)
            if mode != want:
                problems.append('%s: mode %o, expected %o' % (p, mode, want))
        with open(path) as f:
            text = f.read()
        problems += ['report holds %r' % s for s in self.secrets_in(text)]
        problems += ['drain output holds %r' % s for s in self.secrets_in(
            res.stdout + res.stderr)]

        # Same drain again: the complete report is archived, a new one
        # written; both stay private; no temporary file is left.
        res = self.run_cli('compute', 'drain', SOURCE, '--enable-when-done',
                           '--poll-interval', '0.5', '-f', 'json')
        self.addDetail('drain again', _text('exit %d\n%s' % (
            res.returncode, res.stderr)))
        self.assertEqual(0, res.returncode, res.stderr[-2000:])
        names = sorted(os.listdir(directory))
        self.assertGreaterEqual(len(names), 2, names)
        for name in names:
            full = os.path.join(directory, name)
            mode = stat.S_IMODE(os.stat(full).st_mode)
            if name.endswith('.tmp') or name.startswith('.'):
                problems.append('temporary file left: %s' % name)
            elif mode != 0o600:
                problems.append('%s: mode %o, expected 600' % (name, mode))
        self.assertEqual([], problems)

    # -- --debug output ----------------------------------------------------

    def test_debug_output_has_no_secret(self):
        """The plugin prints no secret OSC itself does not print."""
        baseline = self.run_cli('--debug', 'compute', 'service', 'list')
        self.assertEqual(0, baseline.returncode, baseline.stderr[-2000:])
        allowed = set(self.secrets_in(baseline.stdout + baseline.stderr))
        commands = [
            ('migration', 'precheck', '--source-host', 'compute1'),
            ('compute', 'drain', SOURCE, '--dry-run'),
            ('migration', 'watch', '--all', '--timeout', '5'),
            ('numa', 'compare', '--hosts', 'compute1', 'compute2',
             '--ssh-key', self.key, '--ssh-timeout', '3', '--ssh-config',
             '/dev/null', '--ssh-no-agent'),
            ('migration', 'precheck', '--source-host', 'compute1', '--ssh',
             '--ssh-key', self.key, '--ssh-timeout', '3', '--ssh-config',
             '/dev/null', '--ssh-no-agent'),
        ]
        problems = []
        for argv in commands:
            res = self.run_cli('--debug', *argv)
            self.addDetail(' '.join(argv[:3]), _text('exit %d\n%s' % (
                res.returncode, res.stderr[-4000:])))
            # (--debug makes cliff print the traceback of any error: that
            # is OSC's behaviour, not checked here.)
            for secret in self.secrets_in(res.stdout + res.stderr):
                if secret not in allowed:
                    lines = [line for line in (res.stdout + res.stderr)
                             .splitlines() if secret in line]
                    problems.append('%s prints %r: %s' % (
                        ' '.join(argv), secret, lines[0][:300]))
        self.assertEqual([], problems)


class BanditTest(testtools.TestCase):
    """Static security scan of the plugin (not of its tests); no bed."""

    def test_bandit_medium_and_high(self):
        bandit = os.path.join(os.path.dirname(sys.executable), 'bandit')
        if not os.path.exists(bandit):
            self.skipTest('bandit is not installed')
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.dirname(os.path.abspath(__file__)))))
        res = subprocess.run(
            [bandit, '-q', '-r', 'migrationclient', '-x',
             'migrationclient/tests', '-ll', '-f', 'txt'],
            cwd=root, capture_output=True, text=True, timeout=600)
        self.addDetail('bandit', _text(res.stdout + res.stderr))
        self.assertEqual(0, res.returncode, res.stdout[-4000:])


def _text(text):
    from testtools import content
    return content.text_content(text)
