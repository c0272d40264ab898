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
"""Keystone in the test bed: the overcloudrc workflow end to end.

``KeystoneTest``: the bed's Keystone components proven on their own: one
real Keystone (``keystone.Keystone``) and one real Placement behind
``keystone.middleware.placement_app`` (``keystone.standin``), started
once for the class.  ``KeystoneBedTest`` and ``KeystonePluginTest`` share
one bed started with ``--keystone`` (real Nova and Placement, real
tokens); ``KeystonePluginTest`` runs every command of the plugin after
``source overcloudrc`` (admin) or ``overcloudrc-member``.

The ``openstack`` CLI always runs in a clean environment (``env -i``
style: PATH, HOME, LANG only) after ``source`` of the rc file.
``FAKECLOUD_KEYSTONE_STATE_DIR=DIR`` uses a ``--keystone`` bed started by
hand in DIR instead of starting one.
"""

import concurrent.futures
import datetime
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

import requests
import testtools

import testbed
from testbed import keystone
from testbed.keystone import standin

HAVE_KEYSTONE = importlib.util.find_spec('keystone') is not None
with open(os.path.join(testbed.ROOT, 'testbed', 'fakecloud',
                       '__main__.py')) as _f:
    # Not imported: the bed's __main__ monkey-patches with eventlet.
    BED_HAS_KEYSTONE = "'--keystone'" in _f.read()
# The entry-point cache (stevedore) lives here: an empty HOME would lose it
# and cost every CLI call ~0.9 s of CPU; it holds no credentials.
_CACHE = (os.environ.get('XDG_CACHE_HOME') or
          os.path.join(os.path.expanduser('~'), '.cache'))
OPENSTACK = os.path.join(os.path.dirname(sys.executable), 'openstack')
#: Loopback requests never go through an http_proxy from the environment.
HTTP = requests.Session()
HTTP.trust_env = False
UNAUTHORIZED = 'The request you have made requires authentication. (HTTP 401)'
#: What keystoneauth's token plugin gets for a revoked or expired token.
TOKEN_REFUSED = 'Failed to validate token (HTTP 404)'
#: ``--debug``: one request line, with its URL and compute microversion.
REQ_LINE = re.compile(r'^REQ: curl -g -i -X (?P<method>[A-Z]+) '
                      r'"?(?P<url>[^" ]+)"?(?P<rest>.*)$')
COMPUTE_VERSION = re.compile(r'OpenStack-API-Version: compute '
                             r'(?P<version>[0-9.]+)')


def keystone_bed():
    """The ``--keystone`` bed of this test process (one for all classes)."""
    from migrationclient.tests.functional import base
    external = os.environ.get('FAKECLOUD_KEYSTONE_STATE_DIR')
    if external:
        return base.Bed(state_dir=external).attach()
    return base.Bed.get(extra_args=('--keystone',))


def debug_requests(stderr):
    """``(method, url, compute microversion or None)`` of ``--debug``."""
    found = []
    for line in stderr.splitlines():
        match = REQ_LINE.match(line)
        if match:
            version = COMPUTE_VERSION.search(match.group('rest'))
            found.append((match.group('method'), match.group('url'),
                          version.group('version') if version else None))
    return found


def version_tuple(text):
    major, minor = text.split('.')
    return int(major), int(minor)


@testtools.skipUnless(HAVE_KEYSTONE, 'keystone is not installed (see '
                      'testbed/requirements.txt)')
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
               'HOME': self.home, 'LANG': 'C.UTF-8',
               'XDG_CACHE_HOME': _CACHE}
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
        cls.bed = keystone_bed()
        cls.ks_state = cls.bed.state['keystone']
        cls.home = tempfile.mkdtemp(prefix='mc-keystone-home-')

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.home, ignore_errors=True)
        super().tearDownClass()

    def openstack(self, args, rc='overcloudrc', unset=(), timeout=180):
        env = {'PATH': os.path.dirname(sys.executable) + ':/usr/bin:/bin',
               'HOME': self.home, 'LANG': 'C.UTF-8',
               'XDG_CACHE_HOME': _CACHE}
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


@testtools.skipUnless(HAVE_KEYSTONE and BED_HAS_KEYSTONE,
                      'needs keystone installed and the bed\'s --keystone')
class KeystonePluginTest(testtools.TestCase):
    """Each plugin command after ``source overcloudrc`` on the bed.

    Two servers of the admin project, made once: ``web`` (ACTIVE on the
    second host) and ``stall`` (live migration from the first host stalled
    at 40 %, aborted at the end).  Exit statuses: 1 for every error here
    (``migrationclient.exitcodes.ERROR``: cliff's status for a
    ``CommandError``), 9 for a watch that reached ``--timeout``.
    """

    #: Seconds an application credential (and so its tokens) lives.
    SHORT_LIVED = 20

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.bed = keystone_bed()
        cls.home = tempfile.mkdtemp(prefix='mc-keystone-plugin-')
        cls.conn = cls.bed.connection()
        cls.servers = []
        try:
            cls._make_servers()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def _make_servers(cls):
        hosts = cls.bed.hosts
        cls.web = cls.bed.create_server(
            'image', host=hosts[1], name='ks-web-%d' % os.getpid())
        cls.servers.append(cls.web)
        cls.stall = cls.bed.create_server(
            'image', host=hosts[0], name='ks-stall-%d' % os.getpid(),
            metadata={'fakecloud:stall': '40'})
        cls.servers.append(cls.stall)
        compute = cls.conn.compute
        compute.live_migrate_server(cls.stall, host=None,
                                    block_migration='auto')
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            running = [m for m in compute.server_migrations(cls.stall)
                       if m.status == 'running']
            if running:
                cls.stall_migration = running[0]
                return
            time.sleep(1)
        raise AssertionError('live migration of %s not running after '
                             '120 s' % cls.stall.id)

    @classmethod
    def tearDownClass(cls):
        import openstack.exceptions
        compute = cls.conn.compute
        migration = getattr(cls, 'stall_migration', None)
        if migration is not None:
            try:
                compute.abort_server_migration(migration, cls.stall)
            except openstack.exceptions.SDKException:
                pass
        for server in cls.servers:
            try:
                compute.delete_server(server)
            except openstack.exceptions.SDKException:
                pass
        shutil.rmtree(cls.home, ignore_errors=True)
        super().tearDownClass()

    # -- helpers -----------------------------------------------------------

    def openstack(self, args, rc='overcloudrc', unset=(), extra_env=None,
                  timeout=240):
        """``source RC; openstack ARGS`` in a clean environment."""
        env = {'PATH': os.path.dirname(sys.executable) + ':/usr/bin:/bin',
               'HOME': self.home, 'LANG': 'C.UTF-8',
               'XDG_CACHE_HOME': _CACHE}
        cmd = 'source %s && %s%s%s %s' % (
            shlex.quote(os.path.join(self.bed.state_dir, rc)),
            ''.join('unset %s; ' % name for name in unset),
            ''.join('export %s=%s; ' % (k, shlex.quote(v))
                    for k, v in (extra_env or {}).items()),
            shlex.quote(OPENSTACK), ' '.join(shlex.quote(a) for a in args))
        return subprocess.run(['bash', '-c', cmd], env=env, timeout=timeout,
                              capture_output=True, text=True)

    def openstack_parallel(self, runs):
        """Several ``openstack`` runs at once: ``{key: (args, kwargs)}``."""
        with concurrent.futures.ThreadPoolExecutor(len(runs)) as pool:
            futures = {key: pool.submit(self.openstack, args, **kwargs)
                       for key, (args, kwargs) in runs.items()}
            return {key: f.result() for key, f in futures.items()}

    def assertOneLineError(self, result, *texts):
        """Exit status 1, one stderr line holding ``texts``, no traceback."""
        detail = 'exit %s\nstdout: %s\nstderr: %s' % (
            result.returncode, result.stdout, result.stderr)
        self.assertEqual(1, result.returncode, detail)
        self.assertNotIn('Traceback', result.stderr, detail)
        self.assertEqual(1, len(result.stderr.strip().splitlines()), detail)
        for text in texts:
            self.assertIn(text, result.stderr, detail)

    def expected_compute_version(self, resource):
        """The microversion a request for ``resource`` should carry.

        The lower of the cloud's maximum and openstacksdk's maximum for
        that resource.
        """
        cloud_max = version_tuple(self.bed.state['max_microversion'])
        return '%d.%d' % min(cloud_max,
                             version_tuple(resource._max_microversion))

    def compute_requests(self, stderr, endpoint='compute'):
        base = self.bed.endpoints[endpoint]
        return [r for r in debug_requests(stderr) if r[1].startswith(base)]

    # -- admin: each command -----------------------------------------------

    def test_precheck_admin_negotiates_cloud_maximum(self):
        # The rc exports COMPUTE_API_VERSION=1.1 and NOVA_VERSION=1.1
        # (legacy novaclient variables): they must not pin the plugin.
        from openstack.compute.v2 import server
        with open(os.path.join(self.bed.state_dir, 'overcloudrc')) as f:
            rc_lines = f.read().splitlines()
        self.assertIn('export COMPUTE_API_VERSION=1.1', rc_lines)
        self.assertIn('export NOVA_VERSION=1.1', rc_lines)
        result = self.openstack(['--debug', '--os-region-name', 'regionOne',
                                 'migration', 'precheck', self.web.id,
                                 '-f', 'json'])
        self.assertEqual(0, result.returncode, result.stderr[-3000:])
        self.assertNotIn('Traceback', result.stderr)
        rows = json.loads(result.stdout)
        self.assertEqual({self.web.id}, {r['Server'] for r in rows})
        self.assertEqual({'yes'}, {r['Live'] for r in rows})
        self.assertNotIn(self.bed.hosts[1], {r['Destination'] for r in rows})
        versions = {url.split('?')[0][len(self.bed.endpoints['compute']):]:
                    version for _, url, version in
                    self.compute_requests(result.stderr) if version}
        server_versions = {version for path, version in versions.items()
                           if path in ('/servers/detail',
                                       '/servers/' + self.web.id)}
        self.assertEqual({self.expected_compute_version(server.Server)},
                         server_versions, versions)
        for path, version in versions.items():
            self.assertGreater(version_tuple(version), (2, 1),
                               (path, versions))

    def test_watch_admin_negotiates_cloud_maximum(self):
        from openstack.compute.v2 import server_migration
        result = self.openstack(['--debug', 'migration', 'watch',
                                 self.stall.id, '--timeout', '4',
                                 '--interval', '1'])
        # 9: --timeout reached (exitcodes.TIMEOUT); the migration goes on.
        self.assertEqual(9, result.returncode, result.stderr[-3000:])
        self.assertNotIn('Traceback', result.stderr)
        self.assertIn('running', result.stdout)
        self.assertIn('40.0%', result.stdout)
        # Below 2.23 the watch would say so: no byte progress.
        self.assertNotIn('Note: compute API', result.stderr)
        path = '/servers/%s/migrations' % self.stall.id
        versions = {version for _, url, version in
                    self.compute_requests(result.stderr)
                    if url.endswith(path)}
        self.assertEqual(
            {self.expected_compute_version(server_migration.ServerMigration)},
            versions)

    def test_watch_pinned_to_2_1_would_show(self):
        # Control for the two tests above: a real 2.1 pin is visible.
        result = self.openstack(['migration', 'watch', self.stall.id,
                                 '--timeout', '2', '--interval', '1'],
                                extra_env={'OS_COMPUTE_API_VERSION': '2.1'})
        self.assertEqual(9, result.returncode, result.stderr)
        self.assertIn('Note: compute API 2.1 < 2.23', result.stderr)

    def test_drain_dry_run_admin(self):
        host = self.bed.hosts[1]
        result = self.openstack(['compute', 'drain', host, '--dry-run',
                                 '-f', 'json'])
        self.assertEqual(0, result.returncode, result.stderr)
        self.assertNotIn('Traceback', result.stderr)
        plan = {row['Server']: row
                for row in json.loads(result.stdout)['servers']}
        self.assertIn(self.web.id, plan)
        self.assertEqual(host, plan[self.web.id]['Host'])
        self.assertEqual('live', plan[self.web.id]['Action'])
        # --dry-run changes nothing: the service stays enabled.
        services = [s for s in self.conn.compute.services()
                    if s.binary == 'nova-compute' and s.host == host]
        self.assertEqual(['enabled'], [s.status for s in services])

    def test_numa_compare_admin_reaches_ssh(self):
        # No sshd on the bed's hosts: authenticated, the server found,
        # then one clear SSH error for the address given.
        closed_port = str(free_closed_port())
        snapshot = os.path.join(self.home, 'numa-%s.json' % self.web.id)
        result = self.openstack([
            'numa', 'compare', self.web.id, '--save', snapshot,
            '--ssh-host', '%s=127.0.0.1:%s' % (self.bed.hosts[1],
                                               closed_port),
            '--ssh-timeout', '10'])
        self.assertOneLineError(result, 'host %s' % self.bed.hosts[1],
                                '127.0.0.1', 'cannot connect')
        self.assertFalse(os.path.exists(snapshot))

    # -- member: each admin-only command -----------------------------------

    def test_member_admin_only_commands_need_admin(self):
        host = self.bed.hosts[1]
        member = {'rc': 'overcloudrc-member'}
        results = self.openstack_parallel({
            'precheck': (['migration', 'precheck', '--source-host', host],
                         member),
            'drain': (['compute', 'drain', host, '--dry-run'], member),
            'watch-all': (['migration', 'watch', '--all', '--timeout', '2'],
                          member),
            'watch-host': (['migration', 'watch', '--host', host,
                            '--timeout', '2'], member),
        })
        self.assertOneLineError(results['precheck'], 'needs admin')
        self.assertOneLineError(results['drain'], 'needs an admin role')
        self.assertOneLineError(results['watch-all'],
                                'admin rights are needed')
        self.assertOneLineError(results['watch-host'], 'admin')

    def test_member_watch_host_error_names_the_watch(self):
        # The watch shares the service listing with the drain: its refusal
        # must not talk about a drain.
        result = self.openstack(['migration', 'watch', '--host',
                                 self.bed.hosts[1], '--timeout', '2'],
                                rc='overcloudrc-member')
        self.assertOneLineError(result, 'admin')
        self.assertNotIn('drain', result.stderr)

    def test_member_numa_compare_hosts_says_admin(self):
        # The member cannot read host addresses (os-hypervisors is
        # admin-only); the command tries the bare host name, and when that
        # does not connect, says why it had no address and what to give.
        result = self.openstack(['numa', 'compare', '--hosts',
                                 self.bed.hosts[0], self.bed.hosts[1],
                                 '--ssh-timeout', '10'],
                                rc='overcloudrc-member')
        self.assertOneLineError(result, self.bed.hosts[0])
        self.assertIn('needs the admin role', result.stderr)
        self.assertIn('--ssh-host %s=<address>' % self.bed.hosts[0],
                      result.stderr)

    def test_member_cannot_see_admin_server(self):
        result = self.openstack(['migration', 'precheck', self.web.id],
                                rc='overcloudrc-member')
        self.assertOneLineError(result)

    # -- tokens ------------------------------------------------------------

    def _short_lived_token(self):
        from keystoneauth1.identity import v3
        from keystoneauth1 import session as ks_session

        auth_url = self.bed.state['keystone']['auth_url']
        expires = (datetime.datetime.now(datetime.timezone.utc) +
                   datetime.timedelta(seconds=self.SHORT_LIVED))
        resp = self.conn.session.post(
            auth_url + '/v3/users/%s/application_credentials' %
            self.conn.current_user_id,
            json={'application_credential': {
                'name': 'ks-plugin-%d-%d' % (os.getpid(), time.time()),
                'expires_at': expires.strftime('%Y-%m-%dT%H:%M:%S')}})
        cred = resp.json()['application_credential']
        auth = v3.ApplicationCredential(
            auth_url=auth_url, application_credential_id=cred['id'],
            application_credential_secret=cred['secret'])
        access = auth.get_access(ks_session.Session(auth=auth,
                                                    session=HTTP))
        self.assertLessEqual(access.expires, expires)
        return access

    def openstack_token_to_nova(self, token, args):
        """The plugin with a bare token sent straight to Nova.

        ``admin_token`` skips Keystone (``v3token`` would have Keystone
        refuse the token first): Nova's auth_token middleware decides.
        """
        return self.openstack(
            ['--os-auth-type', 'admin_token', '--os-endpoint',
             self.bed.endpoints['compute'], '--os-token', token] + args,
            unset=('OS_USERNAME', 'OS_PASSWORD', 'OS_USER_DOMAIN_NAME',
                   'OS_PROJECT_NAME', 'OS_PROJECT_DOMAIN_NAME',
                   'OS_AUTH_URL', 'OS_AUTH_TYPE'))

    def test_expired_token_refused_by_nova(self):
        access = self._short_lived_token()
        token = access.auth_token
        servers = self.bed.endpoints['compute'] + '/servers'
        headers = {'X-Auth-Token': token}
        self.assertEqual(200, HTTP.get(servers, headers=headers,
                                       timeout=60).status_code)
        time.sleep(max(0.0, (access.expires - datetime.datetime.now(
            datetime.timezone.utc)).total_seconds()) + 1.5)
        self.assertEqual(401, HTTP.get(servers, headers=headers,
                                       timeout=60).status_code)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            futures = {key: pool.submit(self.openstack_token_to_nova,
                                        token, args)
                       for key, args in (
                           ('precheck', ['migration', 'precheck',
                                         '--source-host',
                                         self.bed.hosts[1]]),
                           ('watch', ['migration', 'watch', '--all',
                                      '--timeout', '2']),
                           ('drain', ['compute', 'drain', self.bed.hosts[1],
                                      '--dry-run']))}
            results = {key: f.result() for key, f in futures.items()}
        for result in results.values():
            self.assertOneLineError(result, 'requires authentication')
        self.assertIn('cannot list compute services',
                      results['precheck'].stderr)
        self.assertIn('Cannot list migrations', results['watch'].stderr)

    # -- region and interface ----------------------------------------------

    def test_interface_internal_precheck(self):
        result = self.openstack(['--debug', '--os-interface', 'internal',
                                 'migration', 'precheck', self.web.id])
        self.assertEqual(0, result.returncode, result.stderr[-3000:])
        made = debug_requests(result.stderr)
        internal = [u for _, u, _ in made if
                    u.startswith(self.bed.endpoints['compute_internal'])]
        placement = [u for _, u, _ in made if
                     u.startswith(self.bed.endpoints['placement_internal'])]
        self.assertIn(self.bed.endpoints['compute_internal'] +
                      '/os-services?binary=nova-compute', internal)
        self.assertTrue(placement, made)
        public = [u for _, u, _ in made if
                  u.startswith(self.bed.endpoints['compute']) or
                  u.startswith(self.bed.endpoints['placement'] + '/')]
        self.assertEqual([], public)

    def test_region_precheck(self):
        results = self.openstack_parallel({
            'one': (['--os-region-name', 'regionOne', 'migration',
                     'precheck', self.web.id, '-f', 'value', '-c',
                     'Server'], {}),
            'two': (['--os-region-name', 'regionTwo', 'migration',
                     'precheck', self.web.id],
                    {'unset': ('OS_REGION_NAME',)}),
        })
        self.assertEqual(0, results['one'].returncode,
                         results['one'].stderr)
        self.assertIn(self.web.id, results['one'].stdout.split())
        self.assertOneLineError(results['two'], 'regionTwo')


def free_closed_port():
    """A loopback TCP port nothing listens on (bound, then released)."""
    import socket
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]
