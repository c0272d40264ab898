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
"""The bed's Keystone components, proven on their own.

One real Keystone (``keystone.Keystone``) and one real Placement behind
``keystone.middleware.placement_app`` (``keystone.standin``) are started
once for the class.  The ``openstack`` CLI runs in a clean environment
(``env -i`` style: PATH, HOME, LANG only) after ``source overcloudrc``.
"""

import datetime
import importlib.util
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import requests
import testtools

from migrationclient.tests.functional import keystone
from migrationclient.tests.functional.keystone import standin

HAVE_KEYSTONE = importlib.util.find_spec('keystone') is not None
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'fakecloud', '__main__.py')) as _f:
    # Not imported: the bed's __main__ monkey-patches with eventlet.
    BED_HAS_KEYSTONE = "'--keystone'" in _f.read()
OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')
#: Loopback requests never go through an http_proxy from the environment.
HTTP = requests.Session()
HTTP.trust_env = False
UNAUTHORIZED = 'The request you have made requires authentication. (HTTP 401)'
#: What keystoneauth's token plugin gets for a revoked or expired token.
TOKEN_REFUSED = 'Failed to validate token (HTTP 404)'


@testtools.skipUnless(HAVE_KEYSTONE, 'keystone is not installed (see '
                      'migrationclient/tests/functional/requirements.txt)')
class KeystoneTest(testtools.TestCase):

    ks = None
    placement_proc = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix='mc-keystone-')
        cls.home = os.path.join(cls.tmp, 'home')
        os.makedirs(cls.home)
        try:
            cls._start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _start(cls):
        ks_dir = os.path.join(cls.tmp, 'keystone')
        cls.ks = keystone.Keystone(ks_dir).start()
        cls.ks.wait_ready()
        cls.ks.provision()
        cls.placement_proc, cls.placement = standin.start(
            ks_dir, os.path.join(cls.tmp, 'placement'))
        pub = cls.placement['public_url']
        internal = cls.placement['internal_url']
        cls.ks.register_services({
            'placement': {'public': pub, 'internal': internal},
            # Catalog-only entries: nothing serves these paths here (the
            # bed registers its real compute, network and image URLs).
            'compute': {'public': pub + '/compute/v2.1',
                        'internal': internal + '/compute/v2.1'},
            'network': {'public': pub + '/network',
                        'internal': internal + '/network'},
            'image': {'public': pub + '/image',
                      'internal': internal + '/image'},
        })
        cls.rc = cls.ks.write_rc_files(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        if cls.placement_proc is not None:
            cls.placement_proc.terminate()
            try:
                cls.placement_proc.wait(15)
            except subprocess.TimeoutExpired:
                cls.placement_proc.kill()
                cls.placement_proc.wait(15)
            cls.placement_proc = None
        if cls.ks is not None:
            cls.ks.stop()
            cls.ks = None
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    # -- helpers -----------------------------------------------------------

    def openstack(self, args, rc_user=keystone.ADMIN_USER, extra_env=None,
                  unset=(), timeout=120):
        """``source RC; openstack ARGS`` in a clean environment."""
        rc_file = self.rc[rc_user]
        env = {'PATH': os.path.dirname(sys.executable) + ':/usr/bin:/bin',
               'HOME': self.home, 'LANG': 'C.UTF-8'}
        exports = ''.join('unset %s; ' % name for name in unset)
        exports += ''.join('export %s=%s; ' % (k, shlex.quote(v))
                           for k, v in (extra_env or {}).items())
        cmd = 'source %s && %s%s %s' % (
            shlex.quote(rc_file), exports, shlex.quote(OPENSTACK),
            ' '.join(shlex.quote(a) for a in args))
        return subprocess.run(['bash', '-c', cmd], env=env, timeout=timeout,
                              capture_output=True, text=True)

    def assertOneCleanError(self, result, text):
        self.assertEqual(1, result.returncode, result.stdout + result.stderr)
        self.assertIn(text, result.stderr)
        self.assertNotIn('Traceback', result.stderr)

    def placement_get(self, token, interface='public'):
        url = self.placement[interface + '_url'] + '/resource_providers'
        headers = {'X-Auth-Token': token} if token else {}
        return HTTP.get(url, headers=headers, timeout=60)

    def access_log(self, path):
        with open(path) as f:
            return f.read().splitlines()

    def new_log_lines(self, path, before, until, timeout=20):
        """Access log lines after line ``before``, once ``until(lines)``.

        wsgiref logs a request just after its response went out, so a
        client can be faster than the log.  Each line: interface, method,
        path, status.
        """
        deadline = time.monotonic() + timeout
        while True:
            lines = [line.split()[1:]
                     for line in self.access_log(path)[before:]]
            if until(lines) or time.monotonic() > deadline:
                return lines
            time.sleep(0.2)

    def openstack_with_token(self, token, args):
        """``openstack --os-auth-type v3token`` after the rc.

        The rc's password variables are unset: the token plugin rejects them.
        """
        return self.openstack(
            ['--os-auth-type', 'v3token', '--os-token', token] + args,
            unset=('OS_USERNAME', 'OS_PASSWORD', 'OS_USER_DOMAIN_NAME'))

    def issue_token(self, rc_user=keystone.ADMIN_USER):
        result = self.openstack(['token', 'issue', '-f', 'json'],
                                rc_user=rc_user)
        self.assertEqual(0, result.returncode, result.stderr)
        return json.loads(result.stdout)

    # -- overcloudrc -------------------------------------------------------

    def test_overcloudrc_has_tripleo_variables(self):
        env = {'PATH': '/usr/bin:/bin'}
        out = subprocess.run(
            ['bash', '-c', 'source %s && env' % self.rc['admin']],
            env=env, capture_output=True, text=True, check=True).stdout
        got = dict(line.split('=', 1) for line in out.splitlines()
                   if '=' in line)
        self.assertEqual('3', got['OS_IDENTITY_API_VERSION'])
        self.assertEqual('1.1', got['COMPUTE_API_VERSION'])
        self.assertEqual('1.1', got['NOVA_VERSION'])
        self.assertEqual('password', got['OS_AUTH_TYPE'])
        self.assertEqual('admin', got['OS_USERNAME'])
        self.assertEqual('admin', got['OS_PROJECT_NAME'])
        self.assertEqual('Default', got['OS_USER_DOMAIN_NAME'])
        self.assertEqual('Default', got['OS_PROJECT_DOMAIN_NAME'])
        self.assertEqual('regionOne', got['OS_REGION_NAME'])
        self.assertEqual(self.ks.public_url, got['OS_AUTH_URL'])
        self.assertEqual(self.ks.passwords['admin'], got['OS_PASSWORD'])

    # -- admin -------------------------------------------------------------

    def test_token_issue_as_admin(self):
        token = self.issue_token()
        self.assertEqual(self.ks.ids['projects']['admin'],
                         token['project_id'])
        self.assertTrue(token['id'].startswith('gAAAAA'), 'not fernet')
        self.assertEqual(200, self.placement_get(token['id']).status_code)

    def test_catalog_list_has_public_and_internal(self):
        result = self.openstack(['catalog', 'list', '-f', 'json'])
        self.assertEqual(0, result.returncode, result.stderr)
        catalog = {entry['Type']: entry['Endpoints']
                   for entry in json.loads(result.stdout)}
        for service_type in ('identity', 'compute', 'placement', 'network',
                             'image'):
            self.assertIn(service_type, catalog)
            endpoints = {(e['region'], e['interface']): e['url']
                         for e in catalog[service_type]}
            self.assertIn(('regionOne', 'public'), endpoints)
            self.assertIn(('regionOne', 'internal'), endpoints)
        placement = {e['interface']: e['url'] for e in catalog['placement']}
        self.assertEqual(self.placement['public_url'], placement['public'])
        self.assertEqual(self.placement['internal_url'],
                         placement['internal'])

    # -- member ------------------------------------------------------------

    def test_member_token_has_member_role_only(self):
        sess = self.ks.session(keystone.MEMBER_USER)
        access = sess.auth.get_access(sess)
        # member implies reader; nothing else.
        self.assertEqual({'member', 'reader'}, set(access.role_names))
        self.assertEqual(self.ks.ids['projects']['demo'], access.project_id)
        token = self.issue_token(rc_user=keystone.MEMBER_USER)
        self.assertEqual(self.ks.ids['projects']['demo'],
                         token['project_id'])
        # Placement's real policy refuses a member; no token at all: 401.
        resp = self.placement_get(token['id'])
        self.assertEqual(403, resp.status_code)
        self.assertIn('placement:resource_providers:list', resp.text)
        self.assertEqual(401, self.placement_get(None).status_code)

    def test_member_admin_only_identity_call_is_refused(self):
        # Keystone's real policy (``project list`` would fall back to the
        # user's own projects, ``user list`` does not).
        result = self.openstack(['user', 'list'],
                                rc_user=keystone.MEMBER_USER)
        self.assertOneCleanError(
            result, 'You are not authorized to perform the requested '
                    'action: identity:list_users')
        self.assertIn('403', result.stderr)

    # -- errors ------------------------------------------------------------

    def test_wrong_password(self):
        result = self.openstack(['token', 'issue'],
                                extra_env={'OS_PASSWORD': 'wrong'})
        self.assertOneCleanError(result, UNAUTHORIZED)

    def test_revoked_token(self):
        token = self.issue_token()['id']
        self.assertEqual(200, self.placement_get(token).status_code)
        result = self.openstack_with_token(token, ['catalog', 'list'])
        self.assertEqual(0, result.returncode, result.stderr)
        result = self.openstack(['token', 'revoke', token])
        self.assertEqual(0, result.returncode, result.stderr)
        # keystonemiddleware (no token cache) asks Keystone: refused.
        self.assertEqual(401, self.placement_get(token).status_code)
        result = self.openstack_with_token(token, ['catalog', 'list'])
        self.assertOneCleanError(result, TOKEN_REFUSED)

    def test_expired_token(self):
        # An application credential that expires in a few seconds caps
        # the expiry of the tokens made from it (keystone.token.provider).
        from keystoneauth1.identity import v3
        from keystoneauth1 import session as ks_session

        admin = self.ks.session()
        user_id = admin.get_user_id()
        expires = (datetime.datetime.now(datetime.timezone.utc) +
                   datetime.timedelta(seconds=20))
        resp = admin.post(
            self.ks.public_url + '/v3/users/%s/application_credentials' %
            user_id, json={'application_credential': {
                'name': 'short-lived-%d' % os.getpid(),
                'expires_at': expires.strftime('%Y-%m-%dT%H:%M:%S')}})
        cred = resp.json()['application_credential']
        auth = v3.ApplicationCredential(
            auth_url=self.ks.public_url,
            application_credential_id=cred['id'],
            application_credential_secret=cred['secret'])
        sess = ks_session.Session(auth=auth, session=HTTP)
        access = auth.get_access(sess)
        token = access.auth_token
        self.assertLessEqual(access.expires, expires)
        self.assertEqual(200, self.placement_get(token).status_code)
        time.sleep(max(0.0, (access.expires - datetime.datetime.now(
            datetime.timezone.utc)).total_seconds()) + 1.5)
        self.assertEqual(401, self.placement_get(token).status_code)
        result = self.openstack_with_token(token, ['catalog', 'list'])
        self.assertOneCleanError(result, TOKEN_REFUSED)

    # -- region and interface ----------------------------------------------

    def test_region_name_is_honoured(self):
        # With the rc's OS_REGION_NAME, openstacksdk checks the name.
        result = self.openstack(['--os-region-name', 'regionTwo',
                                 'user', 'list'])
        self.assertOneCleanError(result, 'Region regionTwo is not a valid '
                                         'region name')
        # Without it, the catalog decides: no identity in regionTwo.
        result = self.openstack(['--os-region-name', 'regionTwo',
                                 'user', 'list'], unset=('OS_REGION_NAME',))
        self.assertOneCleanError(result, 'regionTwo')
        self.assertIn('not found', result.stderr)
        result = self.openstack(['--os-region-name', 'regionOne',
                                 'user', 'list', '-f', 'value',
                                 '-c', 'Name'])
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('demo', result.stdout.split())

    def test_interface_internal_is_honoured(self):
        log = self.ks.access_log_path
        before = len(self.access_log(log))
        result = self.openstack(['--os-interface', 'internal', 'user',
                                 'list', '-f', 'value', '-c', 'Name'])
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertIn('demo', result.stdout.split())
        # The CLI's own requests: auth (public auth_url), then the catalog's
        # internal identity endpoint for GET /v3/users.
        lines = [line[:3] for line in self.new_log_lines(
            log, before, lambda ls: any('/v3/users' in x for x in ls))]
        self.assertIn(['internal', 'GET', '/v3/users'], lines)
        self.assertNotIn(['public', 'GET', '/v3/users'], lines)
        # Placement through keystoneauth, endpoint chosen from the catalog.
        from keystoneauth1 import adapter
        plog = os.path.join(self.tmp, 'placement', 'placement-access.log')
        before = len(self.access_log(plog))
        sess = self.ks.session()
        for interface in ('internal', 'public'):
            resp = adapter.Adapter(
                sess, service_type='placement', interface=interface,
                region_name=keystone.REGION).get('/resource_providers')
            self.assertEqual(200, resp.status_code)
        lines = [line[:2] for line in self.new_log_lines(
            plog, before, lambda ls: len(ls) >= 2)]
        self.assertEqual([['internal', 'GET'], ['public', 'GET']], lines)


@testtools.skipUnless(HAVE_KEYSTONE and BED_HAS_KEYSTONE,
                      'needs keystone installed and the bed\'s --keystone')
class KeystoneBedTest(testtools.TestCase):
    """The bed with ``--keystone``: real Nova and Placement, real tokens."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        from migrationclient.tests.functional import base
        cls.bed = base.Bed.get(extra_args=('--keystone',))
        cls.ks_state = cls.bed.state['keystone']
        cls.home = tempfile.mkdtemp(prefix='mc-keystone-home-')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.home, ignore_errors=True)
        super().tearDownClass()

    def openstack(self, args, rc='overcloudrc', unset=(), timeout=180):
        env = {'PATH': os.path.dirname(sys.executable) + ':/usr/bin:/bin',
               'HOME': self.home, 'LANG': 'C.UTF-8'}
        cmd = 'source %s && %s%s %s' % (
            shlex.quote(os.path.join(self.bed.state_dir, rc)),
            ''.join('unset %s; ' % name for name in unset),
            shlex.quote(OPENSTACK), ' '.join(shlex.quote(a) for a in args))
        return subprocess.run(['bash', '-c', cmd], env=env, timeout=timeout,
                              capture_output=True, text=True)

    def assertOneCleanError(self, result, text):
        self.assertEqual(1, result.returncode, result.stdout + result.stderr)
        self.assertIn(text, result.stderr)
        self.assertNotIn('Traceback', result.stderr)

    def token(self, rc='overcloudrc'):
        result = self.openstack(['token', 'issue', '-f', 'value', '-c',
                                 'id'], rc=rc)
        self.assertEqual(0, result.returncode, result.stderr)
        return result.stdout.strip()

    def test_admin_nova_commands(self):
        result = self.openstack(['compute', 'service', 'list', '-f', 'json'])
        self.assertEqual(0, result.returncode, result.stderr)
        hosts = {s['Host'] for s in json.loads(result.stdout)
                 if s['Binary'] == 'nova-compute'}
        self.assertEqual(set(self.bed.hosts), hosts)

    def test_member_gets_nova_policy_refusal(self):
        result = self.openstack(['compute', 'service', 'list'],
                                rc='overcloudrc-member')
        self.assertOneCleanError(
            result, "Policy doesn't allow os_compute_api:os-services:list "
                    "to be performed")
        # ... and a member may list its own (no) servers.
        result = self.openstack(['server', 'list', '-f', 'json'],
                                rc='overcloudrc-member')
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual([], json.loads(result.stdout))

    def test_plugin_precheck_admin_and_member(self):
        # COMPUTE_API_VERSION=1.1 / NOVA_VERSION=1.1 come from the rc.
        result = self.openstack(['migration', 'precheck', '--source-host',
                                 self.bed.hosts[0], '-f', 'json'])
        self.assertIn(result.returncode, (0, 3), result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        result = self.openstack(['migration', 'precheck', '--source-host',
                                 self.bed.hosts[0]],
                                rc='overcloudrc-member')
        self.assertOneCleanError(result, 'needs admin')
        self.assertEqual(1, len(result.stderr.strip().splitlines()),
                         result.stderr)

    def test_revoked_token_refused_by_nova_and_placement(self):
        token = self.token()
        compute = self.bed.endpoints['compute'] + '/servers'
        placement = self.bed.endpoints['placement'] + '/resource_providers'
        headers = {'X-Auth-Token': token}
        self.assertEqual(200, HTTP.get(compute, headers=headers,
                                       timeout=60).status_code)
        self.assertEqual(200, HTTP.get(placement, headers=headers,
                                       timeout=60).status_code)
        result = self.openstack(['token', 'revoke', token])
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertEqual(401, HTTP.get(compute, headers=headers,
                                       timeout=60).status_code)
        self.assertEqual(401, HTTP.get(placement, headers=headers,
                                       timeout=60).status_code)

    def test_wrong_password(self):
        env_rc = os.path.join(self.home, 'wrong-rc')
        with open(os.path.join(self.bed.state_dir, 'overcloudrc')) as f:
            text = f.read()
        with open(env_rc, 'w') as f:
            f.write(text + 'export OS_PASSWORD=wrong\n')
        result = self.openstack(['server', 'list'], rc=env_rc)
        self.assertOneCleanError(result, UNAUTHORIZED)

    def test_interface_internal(self):
        for interface, endpoint in (('internal', 'compute_internal'),
                                    ('public', 'compute')):
            result = self.openstack(['--debug', '--os-interface', interface,
                                     'compute', 'service', 'list'])
            self.assertEqual(0, result.returncode, result.stderr[-2000:])
            requests_made = [line for line in result.stderr.splitlines()
                             if line.startswith('REQ: curl') and
                             '/os-services' in line]
            self.assertEqual(1, len(requests_made), requests_made)
            self.assertIn(self.bed.endpoints[endpoint] + '/os-services',
                          requests_made[0])

    def test_region(self):
        result = self.openstack(['--os-region-name', 'regionOne',
                                 'compute', 'service', 'list'])
        self.assertEqual(0, result.returncode, result.stderr)
        result = self.openstack(['--os-region-name', 'regionTwo',
                                 'compute', 'service', 'list'],
                                unset=('OS_REGION_NAME',))
        self.assertOneCleanError(result, 'regionTwo')
