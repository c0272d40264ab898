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
"""The bed's nova-api front process (``--api-process``).

The bed runs Nova in one process (in-memory database, in-process RPC), so
Nova's API code cannot live in a process of its own.  With
``--api-process`` the compute endpoint that clients are given is served
by this small process instead: it listens on a fixed 127.0.0.1 port and
relays every request (keep-alive, the client's ``Host`` header kept, so
that the links in Nova's answers point at it) to the bed's Nova WSGI
listener.  The bed records its PID and the control endpoint stops it
(SIGTERM by that PID, SIGKILL after 5 s) and starts it again on the same
port (``POST /api/restart``): to a client this is what a restart of
nova-api is, connections refused while it is down and open keep-alive
connections closed.

    python -m testbed.fakecloud.apiproc --port P --upstream URL \
        --parent-pid PID --ready-file FILE

Standard library only; no eventlet.
"""

import argparse
import http.client
import http.server
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse

HOP_BY_HOP = frozenset((
    'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
    'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
))


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address, upstream):
        self.upstream = upstream
        super().__init__(address, _Handler)

    def handle_error(self, request, client_address):
        pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    timeout = 300

    def log_message(self, format, *args):
        pass

    def _relay(self):
        up = self.server.upstream
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in HOP_BY_HOP}
        conn = getattr(self, '_up', None)
        for attempt in (1, 2):
            if conn is None:
                conn = self._up = http.client.HTTPConnection(
                    up.hostname, up.port, timeout=300)
            try:
                conn.request(self.command, self.path, body=body,
                             headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = self._up = None
                if attempt == 2:
                    self.send_error(502)
                    return
        self.send_response_only(resp.status, resp.reason)
        for key, value in resp.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != \
                    'content-length':
                self.send_header(key, value)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _relay


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv=None):
    p = argparse.ArgumentParser(prog='python -m testbed.fakecloud.apiproc')
    p.add_argument('--bind', default='127.0.0.1')
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--upstream', required=True,
                   help="the bed's Nova listener, http://127.0.0.1:PORT")
    p.add_argument('--parent-pid', type=int, default=None)
    p.add_argument('--ready-file', default=None,
                   help='written (our PID) once listening')
    args = p.parse_args(argv)
    upstream = urllib.parse.urlsplit(args.upstream)
    server = None
    deadline = time.monotonic() + 20
    while server is None:
        try:
            server = _Server((args.bind, args.port), upstream)
        except OSError:
            # The port of the process before us, still in TIME_WAIT or
            # closing: allow_reuse_address covers the first, not a
            # listener that is still there.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    signal.signal(signal.SIGTERM, lambda *a: threading.Thread(
        target=server.shutdown, daemon=True).start())
    if args.ready_file:
        tmp = args.ready_file + '.tmp'
        with open(tmp, 'w') as f:
            f.write(str(os.getpid()))
        os.replace(tmp, args.ready_file)
    if args.parent_pid:
        def watch_parent():
            while _alive(args.parent_pid):
                time.sleep(1)
            server.shutdown()
        threading.Thread(target=watch_parent, daemon=True).start()
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


def free_port(bind='127.0.0.1'):
    sock = socket.socket()
    sock.bind((bind, 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


if __name__ == '__main__':
    sys.exit(main())
