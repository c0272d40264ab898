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
"""The Keystone process: real Keystone on 127.0.0.1, until SIGTERM.

    OS_BOOTSTRAP_PASSWORD=... python -m \\
        testbed.keystone.server --state-dir DIR

It binds two free ports (``public`` and ``internal``: the same Keystone
app on both, so that a client's endpoint interface is visible in
``DIR/keystone-access.log``), writes ``DIR/keystone.conf`` (sqlite, fernet
tokens, fast bcrypt, in-memory cache), runs ``keystone-manage``'s own code
(``keystone.cmd.cli.main``: ``db_sync``, ``fernet_setup``,
``credential_setup``, ``bootstrap`` with region ``regionOne`` and the
identity endpoints) in a child process (``--manage-only``: Keystone loads
its backends once per process), meanwhile imports Keystone's own WSGI app
factory (``keystone.server.flask.core.initialize_application``), then
serves that app with wsgiref and one thread per request.  When serving it
writes ``DIR/keystone-ready.json`` (pid, URLs, seconds).

Keystone runs in its own process on purpose: it keeps its whole
configuration in oslo.config's global ``CONF``, the same object Nova uses,
and the bed process is eventlet-patched; sharing one process would mix the
two services' options (``[database]``, ``[oslo_policy]``...).

Only ``testbed.keystone`` (the parent side) is
meant to start this module; it is a module so that ``python -m`` works
with any interpreter that has ``keystone`` installed.
"""

import argparse
import grp
import json
import os
import pwd
import signal
import socketserver
import subprocess
import sys
import threading
import time
from wsgiref import simple_server

REGION = 'regionOne'

CONF_TEMPLATE = """\
[DEFAULT]
debug = {debug}
use_stderr = false
log_file = {state_dir}/keystone.log

[database]
connection = sqlite:///{state_dir}/keystone.db

[token]
provider = fernet
expiration = {expiration}

[fernet_tokens]
key_repository = {state_dir}/fernet-keys
max_active_keys = 3

[fernet_receipts]
key_repository = {state_dir}/fernet-keys

[credential]
key_repository = {state_dir}/credential-keys

[identity]
# Test speed only: 4 bcrypt rounds (production default 12).
password_hash_algorithm = bcrypt
password_hash_rounds = 4
max_password_length = 72

[cache]
# One process: an in-memory cache is coherent (revocations invalidate it)
# and cuts a token validation from ~300 SQL queries to a few.
enabled = true
backend = dogpile.cache.memory

[oslo_policy]
enforce_scope = true
enforce_new_defaults = true
"""


class ThreadingServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = False


class _Handler(simple_server.WSGIRequestHandler):
    """wsgiref handler that logs one line per request to the access log."""

    access_log = None
    interface = None

    def log_request(self, code='-', size='-'):
        line = '%s %s %s %s %s\n' % (
            time.strftime('%H:%M:%S'), self.interface, self.command,
            self.path, code)
        log = type(self).access_log
        if log is not None:
            with _LOG_LOCK:
                log.write(line)
                log.flush()

    def log_message(self, format, *args):
        pass


_LOG_LOCK = threading.Lock()


def handler_for(interface, access_log):
    return type('_%sHandler' % interface.capitalize(), (_Handler,),
                {'interface': interface, 'access_log': access_log})


def write_atomic(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog='python -m testbed.keystone.server')
    p.add_argument('--state-dir', required=True)
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--token-expiration', type=int, default=3600)
    p.add_argument('--parent-pid', type=int, default=None,
                   help='stop when this process is gone')
    p.add_argument('--debug', action='store_true')
    p.add_argument('--manage-only', action='store_true',
                   help=argparse.SUPPRESS)
    p.add_argument('--public-url', help=argparse.SUPPRESS)
    p.add_argument('--internal-url', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.state_dir = os.path.abspath(args.state_dir)
    return args


def _manage(conf_file, *command):
    """Run one keystone-manage command in this process."""
    from keystone.cmd import cli
    import keystone.conf

    keystone.conf.CONF.clear()
    cli.main(['keystone-manage', '--config-file', conf_file] + list(command))


def manage_only(args):
    """keystone-manage db_sync, fernet/credential setup and bootstrap."""
    conf_file = os.path.join(args.state_dir, 'keystone.conf')
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    _manage(conf_file, 'db_sync')
    _manage(conf_file, 'fernet_setup', '--keystone-user', user,
            '--keystone-group', group)
    _manage(conf_file, 'credential_setup', '--keystone-user', user,
            '--keystone-group', group)
    # The password comes from OS_BOOTSTRAP_PASSWORD (not argv: ps shows it).
    _manage(conf_file, 'bootstrap',
            '--bootstrap-username', 'admin',
            '--bootstrap-project-name', 'admin',
            '--bootstrap-role-name', 'admin',
            '--bootstrap-service-name', 'keystone',
            '--bootstrap-region-id', REGION,
            '--bootstrap-public-url', args.public_url,
            '--bootstrap-internal-url', args.internal_url,
            '--bootstrap-admin-url', args.internal_url)
    return 0


def main(argv=None):
    args = parse_args(argv)
    if args.manage_only:
        return manage_only(args)
    state = args.state_dir
    os.makedirs(state, exist_ok=True)
    ready_path = os.path.join(state, 'keystone-ready.json')
    try:
        os.unlink(ready_path)
    except FileNotFoundError:
        pass
    started = time.monotonic()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    signal.signal(signal.SIGINT, lambda *a: stop.set())

    access_log = open(os.path.join(state, 'keystone-access.log'), 'a')
    servers = {}
    for interface in ('public', 'internal'):
        servers[interface] = simple_server.make_server(
            args.host, 0, None, server_class=ThreadingServer,
            handler_class=handler_for(interface, access_log))
    urls = {name: 'http://%s:%d' % (args.host, srv.server_port)
            for name, srv in servers.items()}

    conf_file = os.path.join(state, 'keystone.conf')
    write_atomic(conf_file, CONF_TEMPLATE.format(
        state_dir=state, expiration=args.token_expiration,
        debug='true' if args.debug else 'false'))

    if not os.environ.get('OS_BOOTSTRAP_PASSWORD'):
        sys.exit('OS_BOOTSTRAP_PASSWORD must be set')
    # keystone-manage's steps load Keystone's backends, which may happen
    # once per process (the provider registry locks): run them in a child
    # while this process imports Keystone's WSGI app.
    manage = subprocess.Popen(
        [sys.executable, '-m', 'testbed.keystone.'
         'server', '--state-dir', state, '--manage-only',
         '--public-url', urls['public'], '--internal-url', urls['internal']])
    from keystone.server.flask import core as flask_core
    rc = manage.wait()
    if rc:
        sys.exit('keystone-manage steps failed (%s), see %s' % (
            rc, os.path.join(state, 'keystone.log')))
    setup_seconds = time.monotonic() - started

    # oslo.config reads sys.argv when args is not given.
    sys.argv = sys.argv[:1]
    app = flask_core.initialize_application('public',
                                            config_files=[conf_file])
    threads = []
    for srv in servers.values():
        srv.set_app(app)
        t = threading.Thread(target=srv.serve_forever,
                             kwargs={'poll_interval': 0.2}, daemon=True)
        t.start()
        threads.append(t)

    write_atomic(ready_path, json.dumps({
        'pid': os.getpid(),
        'public_url': urls['public'],
        'internal_url': urls['internal'],
        'region': REGION,
        'conf': conf_file,
        'setup_seconds': round(setup_seconds, 2),
        'ready_seconds': round(time.monotonic() - started, 2),
    }, indent=2, sort_keys=True))
    sys.stdout.write('keystone ready in %.1f s: %s %s\n' % (
        time.monotonic() - started, urls['public'], urls['internal']))
    sys.stdout.flush()

    while not stop.wait(0.5):
        if args.parent_pid and not alive(args.parent_pid):
            break
    for srv in servers.values():
        srv.shutdown()
        srv.server_close()
    access_log.close()
    try:
        os.unlink(ready_path)
    except FileNotFoundError:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
