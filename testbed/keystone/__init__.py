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
"""A real Keystone for the functional test bed.

Keystone (the ``keystone`` package, same release series as Nova) runs in
its own process (``server.py``: why there), on two free 127.0.0.1 ports,
the *public* and the *internal* identity endpoint.  This module is the
parent side; it imports nothing of Keystone's, so the eventlet-patched bed
process and plain test processes can both use it::

    from testbed import keystone

    ks = keystone.Keystone(state_dir).start()    # returns at once
    ...                                           # set up Nova meanwhile
    ks.wait_ready()                               # db_sync, keys, bootstrap
    ks.provision()                                # member + service users
    ks.register_services({
        'compute': {'public': 'http://127.0.0.1:P/v2.1',
                    'internal': 'http://127.0.0.1:I/v2.1'},
        'placement': ..., 'network': ..., 'image': ...})
    ks.write_rc_files(state_dir)   # overcloudrc, overcloudrc-member
    ks.clouds()                    # clouds.yaml entries, password auth
    ...
    ks.stop()                      # SIGTERM to its pid only

``ks.info()`` (also written to ``DIR/keystone.json``) is what
``keystone.middleware`` needs to validate tokens for Nova and Placement.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.parse

import testbed
from testbed.keystone import rc

SERVER_MODULE = 'testbed.keystone.server'

REGION = 'regionOne'
DOMAIN = 'Default'
ADMIN_USER = 'admin'
ADMIN_PROJECT = 'admin'
#: A plain project member (role ``member``, which implies ``reader``).
MEMBER_USER = 'demo'
MEMBER_PROJECT = 'demo'
#: Service users validate tokens (role ``service`` in project ``service``,
#: plus ``admin`` there as TripleO gives its service users).
SERVICE_PROJECT = 'service'
SERVICE_USERS = ('nova', 'placement')
#: Cloud names of ``Keystone.clouds()``.
CLOUD_ADMIN = 'overcloud'
CLOUD_MEMBER = 'overcloud-member'

#: Service type -> (service name, description) as TripleO registers them.
SERVICES = {
    'compute': ('nova', 'OpenStack Compute Service'),
    'placement': ('placement', 'OpenStack Placement Service'),
    'network': ('neutron', 'OpenStack Networking Service'),
    'image': ('glance', 'OpenStack Image Service'),
}

_ROOT = testbed.ROOT


class KeystoneError(Exception):
    """Keystone did not start, or refused a provisioning request."""


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def _write_private(path, text):
    tmp = path + '.tmp'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def _tail(path, lines=30):
    try:
        with open(path, errors='replace') as f:
            return ''.join(f.readlines()[-lines:])
    except OSError:
        return ''


class Keystone:
    """One real Keystone process, owned by whoever called ``start()``.

    :param state_dir: where ``keystone.conf``, the sqlite db, the key
        repositories, logs and ``keystone.json`` go.
    :param python: interpreter with ``keystone`` installed (default: this
        one).
    :param token_expiration: ``[token] expiration`` in seconds.
    :param parent_pid: the Keystone process stops when this pid is gone
        (default: this process).
    """

    def __init__(self, state_dir, python=None, host='127.0.0.1',
                 token_expiration=3600, parent_pid=None, debug=False):
        self.state_dir = os.path.abspath(state_dir)
        self.python = python or sys.executable
        self.host = host
        self.token_expiration = token_expiration
        self.parent_pid = parent_pid or os.getpid()
        self.debug = debug
        self.proc = None
        self.ready = None
        self.passwords = {}
        self.ids = {}
        self.catalog = {}
        self.started_at = None
        self.ready_seconds = None

    # -- files -------------------------------------------------------------

    @property
    def info_path(self):
        return os.path.join(self.state_dir, 'keystone.json')

    @property
    def ready_path(self):
        return os.path.join(self.state_dir, 'keystone-ready.json')

    @property
    def output_path(self):
        return os.path.join(self.state_dir, 'keystone-server.out')

    @property
    def log_path(self):
        return os.path.join(self.state_dir, 'keystone.log')

    @property
    def access_log_path(self):
        return os.path.join(self.state_dir, 'keystone-access.log')

    # -- process -----------------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self):
        """Start the Keystone process; returns without waiting."""
        if self.proc is not None:
            raise KeystoneError('already started')
        os.makedirs(self.state_dir, exist_ok=True)
        for path in (self.ready_path, self.info_path):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        self.passwords = {
            name: secrets.token_urlsafe(12)
            for name in (ADMIN_USER, MEMBER_USER) + SERVICE_USERS}
        env = dict(os.environ)
        env['OS_BOOTSTRAP_PASSWORD'] = self.passwords[ADMIN_USER]
        env['PYTHONPATH'] = os.pathsep.join(
            p for p in (_ROOT, env.get('PYTHONPATH')) if p)
        env['PYTHONWARNINGS'] = 'ignore'
        for name in ('OS_TEST_TIMEOUT', 'OS_STDOUT_CAPTURE',
                     'OS_STDERR_CAPTURE', 'OS_LOG_CAPTURE'):
            env.pop(name, None)
        cmd = [self.python, '-m', SERVER_MODULE,
               '--state-dir', self.state_dir, '--host', self.host,
               '--token-expiration', str(self.token_expiration),
               '--parent-pid', str(self.parent_pid)]
        if self.debug:
            cmd.append('--debug')
        self.started_at = time.monotonic()
        with open(self.output_path, 'ab') as out:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=env, cwd=self.state_dir,
                close_fds=True)
        with open(os.path.join(self.state_dir, 'keystone.pid'), 'w') as f:
            f.write('%d\n' % self.proc.pid)
        return self

    def wait_ready(self, timeout=180):
        """Wait until Keystone serves (after db_sync, keys, bootstrap)."""
        deadline = time.monotonic() + timeout
        while True:
            if os.path.exists(self.ready_path):
                ready = _read_json(self.ready_path)
                if ready.get('pid') == self.proc.pid:
                    break
            if self.proc.poll() is not None:
                raise KeystoneError(
                    'keystone exited with %s before it was ready:\n%s\n%s' % (
                        self.proc.returncode, _tail(self.output_path),
                        _tail(self.log_path)))
            if time.monotonic() > deadline:
                raise KeystoneError(
                    'keystone not ready after %ss:\n%s' % (
                        timeout, _tail(self.output_path)))
            time.sleep(0.1)
        self.ready = ready
        self.ready_seconds = time.monotonic() - self.started_at
        self._write_info()
        return self

    def stop(self, timeout=15):
        """SIGTERM the Keystone process (its pid only), SIGKILL if stuck."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    # -- endpoints and credentials -------------------------------------------

    @property
    def public_url(self):
        return self.ready['public_url']

    @property
    def internal_url(self):
        return self.ready['internal_url']

    #: What ``OS_AUTH_URL`` says (unversioned, as TripleO writes it).
    auth_url = public_url

    def credentials(self, user=ADMIN_USER):
        """Password-auth arguments for ``user`` (admin, demo, nova...)."""
        if user == ADMIN_USER:
            project = ADMIN_PROJECT
        elif user == MEMBER_USER:
            project = MEMBER_PROJECT
        else:
            project = SERVICE_PROJECT
        return {
            'auth_url': self.public_url,
            'username': user,
            'password': self.passwords[user],
            'project_name': project,
            'user_domain_name': DOMAIN,
            'project_domain_name': DOMAIN,
        }

    def info(self):
        """JSON-able facts for other processes and for the middleware."""
        return {
            'pid': self.pid,
            'public_url': self.public_url,
            'internal_url': self.internal_url,
            'region': REGION,
            'domain': DOMAIN,
            'users': {name: self.credentials(name)
                      for name in self.passwords},
            'ids': dict(self.ids),
            'catalog': dict(self.catalog),
            'state_dir': self.state_dir,
            'access_log': self.access_log_path,
            'log': self.log_path,
            'ready_seconds': (round(self.ready_seconds, 2)
                              if self.ready_seconds else None),
        }

    def _write_info(self):
        _write_private(self.info_path,
                       json.dumps(self.info(), indent=2, sort_keys=True))

    # -- provisioning (real Keystone API calls, as admin) ---------------------

    def session(self, user=ADMIN_USER):
        """A keystoneauth1 session authenticated as ``user``."""
        from keystoneauth1.identity import v3
        from keystoneauth1 import session as ks_session
        import requests

        auth = v3.Password(**self.credentials(user))
        http = requests.Session()
        http.trust_env = False  # loopback: never through http_proxy
        return ks_session.Session(auth=auth, session=http)

    def _api(self, sess, method, path, body=None, ok=(200, 201, 204)):
        resp = sess.request(self.public_url + '/v3' + path, method,
                            json=body, raise_exc=False)
        if resp.status_code not in ok:
            raise KeystoneError('%s %s: HTTP %s %s' % (
                method, path, resp.status_code, resp.text[:300]))
        return resp.json() if resp.content else {}

    def _find(self, sess, kind, name, **query):
        query = dict(query, name=name)
        qs = urllib.parse.urlencode(sorted(query.items()))
        items = self._api(sess, 'GET', '/%s?%s' % (kind, qs))[kind]
        return items[0] if items else None

    def _ensure(self, sess, kind, name, body):
        found = self._find(sess, kind + 's', name)
        if found:
            return found
        return self._api(sess, 'POST', '/%ss' % kind,
                         {kind: dict(body, name=name)})[kind]

    def provision(self):
        """The member user and project, and the service users."""
        sess = self.session()
        domain = self._api(sess, 'GET', '/domains?name=%s' % DOMAIN)
        domain_id = domain['domains'][0]['id']
        roles = {r['name']: r['id']
                 for r in self._api(sess, 'GET', '/roles')['roles']}
        for needed in ('admin', 'member', 'reader', 'service'):
            if needed not in roles:
                raise KeystoneError('bootstrap made no %r role' % needed)
        projects = {}
        for name, desc in ((MEMBER_PROJECT, 'Member project'),
                           (SERVICE_PROJECT, 'Service users')):
            projects[name] = self._ensure(sess, 'project', name, {
                'domain_id': domain_id, 'description': desc,
                'enabled': True})['id']
        users = {}
        grants = [(MEMBER_USER, MEMBER_PROJECT, 'member')]
        for name in SERVICE_USERS:
            grants += [(name, SERVICE_PROJECT, 'service'),
                       (name, SERVICE_PROJECT, 'admin')]
        for name in (MEMBER_USER,) + SERVICE_USERS:
            project = MEMBER_PROJECT if name == MEMBER_USER else (
                SERVICE_PROJECT)
            body = {'domain_id': domain_id, 'enabled': True,
                    'default_project_id': projects[project],
                    'password': self.passwords[name]}
            user = self._find(sess, 'users', name)
            if user:
                # A reused state dir: this run's password wins.
                self._api(sess, 'PATCH', '/users/%s' % user['id'],
                          {'user': body})
            else:
                user = self._api(sess, 'POST', '/users',
                                 {'user': dict(body, name=name)})['user']
            users[name] = user['id']
        for user, project, role in grants:
            self._api(sess, 'PUT', '/projects/%s/users/%s/roles/%s' % (
                projects[project], users[user], roles[role]))
        admin_project = self._find(sess, 'projects', ADMIN_PROJECT)
        self.ids = {
            'domain': domain_id,
            'projects': dict(projects, **{ADMIN_PROJECT:
                                          admin_project['id']}),
            'users': users,
            'roles': roles,
        }
        self._write_info()
        return self

    def register_services(self, endpoints):
        """Catalog entries in ``regionOne``.

        :param endpoints: service type (``compute``, ``placement``,
            ``network``, ``image``, ...) -> URL, or -> ``{'public': URL,
            'internal': URL}``.  A service's old endpoints are replaced.
        """
        sess = self.session()
        for service_type, urls in sorted(endpoints.items()):
            if isinstance(urls, str):
                urls = {'public': urls, 'internal': urls}
            name, desc = SERVICES.get(service_type,
                                      (service_type, service_type))
            services = self._api(sess, 'GET', '/services?type=%s' %
                                 service_type)['services']
            if services:
                service = services[0]
            else:
                service = self._api(sess, 'POST', '/services', {'service': {
                    'type': service_type, 'name': name,
                    'description': desc, 'enabled': True}})['service']
            old = self._api(sess, 'GET', '/endpoints?service_id=%s' %
                            service['id'])['endpoints']
            for endpoint in old:
                self._api(sess, 'DELETE', '/endpoints/%s' % endpoint['id'])
            for interface, url in sorted(urls.items()):
                self._api(sess, 'POST', '/endpoints', {'endpoint': {
                    'service_id': service['id'], 'interface': interface,
                    'url': url, 'region_id': REGION, 'enabled': True}})
            self.catalog[service_type] = dict(urls)
        self._write_info()
        return self

    # -- client configuration ----------------------------------------------

    def overcloudrc(self, user=ADMIN_USER):
        """Text of a TripleO-shaped ``overcloudrc`` for ``user``."""
        return rc.overcloudrc(self.credentials(user), REGION)

    def write_rc_files(self, directory):
        """Write ``overcloudrc`` (admin) and ``overcloudrc-member``."""
        paths = {}
        for user, fname in ((ADMIN_USER, 'overcloudrc'),
                            (MEMBER_USER, 'overcloudrc-member')):
            path = os.path.join(directory, fname)
            _write_private(path, self.overcloudrc(user))
            paths[user] = path
        return paths

    def clouds(self):
        """``clouds.yaml`` entries (password auth) for admin and member."""
        return {
            CLOUD_ADMIN: rc.cloud_entry(self.credentials(ADMIN_USER),
                                        REGION),
            CLOUD_MEMBER: rc.cloud_entry(self.credentials(MEMBER_USER),
                                         REGION),
        }


def load_info(state_dir):
    """``keystone.json`` of a running Keystone (as written by its owner)."""
    return _read_json(os.path.join(state_dir, 'keystone.json'))
