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
"""Real Placement behind ``middleware.placement_app``, until SIGTERM.

    python -m testbed.keystone.standin \\
        --keystone-dir KDIR --state-dir DIR

For proving the Keystone components without the whole bed: Placement's
own code (sqlite database, its default policy) with its keystone pipeline
built by ``middleware.placement_app`` and validating tokens against the
Keystone whose ``keystone.json`` is in KDIR.  Served on two free
127.0.0.1 ports (``public``, ``internal``); each request is logged to
``DIR/placement-access.log`` with the port's interface.  When serving it
writes ``DIR/placement-ready.json``.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from wsgiref import simple_server

from testbed import keystone
from testbed.keystone import middleware
from testbed.keystone import server


def placement_conf(state_dir):
    from oslo_config import cfg
    from placement import conf as placement_conf_mod
    from placement import db_api

    path = os.path.join(state_dir, 'placement.conf')
    with open(path, 'w') as f:
        f.write('[placement_database]\nconnection = sqlite:///%s\n'
                'sync_on_startup = true\n[api]\nauth_strategy = noauth2\n'
                % os.path.join(state_dir, 'placement.db'))
    conf = cfg.ConfigOpts()
    placement_conf_mod.register_opts(conf)
    conf([], project='placement', default_config_files=[path],
         default_config_dirs=[])
    db_api.configure(conf)
    return conf


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument('--keystone-dir', required=True)
    p.add_argument('--state-dir', required=True)
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--parent-pid', type=int, default=None)
    args = p.parse_args(argv)
    state = os.path.abspath(args.state_dir)
    os.makedirs(state, exist_ok=True)
    ready_path = os.path.join(state, 'placement-ready.json')
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())

    from placement import deploy

    info = keystone.load_info(args.keystone_dir)
    conf = placement_conf(state)
    # loadapp: database schema and policy, as the bed's placement app does.
    deploy.loadapp(conf)
    app = middleware.placement_app(conf, info)

    access_log = open(os.path.join(state, 'placement-access.log'), 'a')
    servers = {}
    for interface in ('public', 'internal'):
        srv = simple_server.make_server(
            args.host, 0, app, server_class=server.ThreadingServer,
            handler_class=server.handler_for(interface, access_log))
        servers[interface] = srv
        threading.Thread(target=srv.serve_forever,
                         kwargs={'poll_interval': 0.2}, daemon=True).start()
    server.write_atomic(ready_path, json.dumps({
        'pid': os.getpid(),
        'public_url': 'http://%s:%d' % (args.host,
                                        servers['public'].server_port),
        'internal_url': 'http://%s:%d' % (args.host,
                                          servers['internal'].server_port),
    }))
    while not stop.wait(0.5):
        if args.parent_pid and not server.alive(args.parent_pid):
            break
    for srv in servers.values():
        srv.shutdown()
        srv.server_close()
    os.unlink(ready_path)
    return 0


def start(keystone_dir, state_dir, python=None, timeout=120):
    """Start the stand-in; returns (Popen, ready dict)."""
    import subprocess

    state_dir = os.path.abspath(state_dir)
    os.makedirs(state_dir, exist_ok=True)
    ready_path = os.path.join(state_dir, 'placement-ready.json')
    if os.path.exists(ready_path):
        os.unlink(ready_path)
    env = dict(os.environ, PYTHONWARNINGS='ignore')
    env['PYTHONPATH'] = os.pathsep.join(
        x for x in (keystone._ROOT, env.get('PYTHONPATH')) if x)
    out = open(os.path.join(state_dir, 'placement-standin.out'), 'ab')
    proc = subprocess.Popen(
        [python or sys.executable, '-m', __name__, '--keystone-dir',
         keystone_dir, '--state-dir', state_dir,
         '--parent-pid', str(os.getpid())],
        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        env=env, cwd=state_dir)
    out.close()
    deadline = time.monotonic() + timeout
    while not os.path.exists(ready_path):
        if proc.poll() is not None:
            raise RuntimeError('placement stand-in exited with %s: %s' % (
                proc.returncode, keystone._tail(
                    os.path.join(state_dir, 'placement-standin.out'))))
        if time.monotonic() > deadline:
            raise RuntimeError('placement stand-in not ready')
        time.sleep(0.1)
    with open(ready_path) as f:
        return proc, json.load(f)


if __name__ == '__main__':
    sys.exit(main())
