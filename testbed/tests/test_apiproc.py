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

"""The nova-api front process of ``--api-process``, without a bed.

A real ``python -m testbed.fakecloud.apiproc`` in front of a small HTTP
server of this test: it relays (method, path, body, the client's Host),
and a new process on the same port serves again after the first one was
stopped by its PID.
"""

import http.client
import http.server
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import testtools

import testbed
from testbed.fakecloud import apiproc


class _Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def _answer(self):
        length = int(self.headers.get('Content-Length') or 0)
        body = json.dumps({
            'method': self.command, 'path': self.path,
            'host': self.headers.get('Host'),
            'body': self.rfile.read(length).decode() if length else '',
        }).encode()
        self.send_response(201 if self.command == 'POST' else 200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


class TestApiProcess(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.upstream = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                        _Echo)
        threading.Thread(target=self.upstream.serve_forever,
                         daemon=True).start()
        self.addCleanup(self.upstream.server_close)
        self.addCleanup(self.upstream.shutdown)
        self.port = apiproc.free_port()
        self.tmp = tempfile.mkdtemp(prefix='apiproc-')

    def start(self):
        ready = os.path.join(self.tmp, 'pid')
        if os.path.exists(ready):
            os.unlink(ready)
        proc = subprocess.Popen(
            [sys.executable, '-m', 'testbed.fakecloud.apiproc', '--port',
             str(self.port), '--upstream', 'http://127.0.0.1:%d' %
             self.upstream.server_address[1], '--parent-pid',
             str(os.getpid()), '--ready-file', ready],
            env=dict(os.environ, PYTHONPATH=testbed.ROOT))
        self.addCleanup(self._stop, proc)
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            self.assertIsNone(proc.poll())
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        with open(ready) as f:
            self.assertEqual(proc.pid, int(f.read()))
        return proc

    @staticmethod
    def _stop(proc):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)     # our child, by its PID
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)

    def request(self, conn, method, path, body=None):
        conn.request(method, path, body=body,
                     headers={'Content-Type': 'application/json'})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())

    def test_relays_and_restarts_on_the_same_port(self):
        first = self.start()
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
        status, seen = self.request(conn, 'GET', '/v2.1/servers?x=1')
        self.assertEqual(200, status)
        self.assertEqual(('GET', '/v2.1/servers?x=1', '127.0.0.1:%d'
                          % self.port), (seen['method'], seen['path'],
                                         seen['host']))
        status, seen = self.request(conn, 'POST', '/v2.1/a', b'{"k": 1}')
        self.assertEqual((201, '{"k": 1}'), (status, seen['body']))
        # Stopped by its PID: the port refuses, the open connection fails.
        self._stop(first)
        self.assertIsNotNone(first.returncode)
        self.assertRaises(OSError, self.request, conn, 'GET', '/v2.1')
        fresh = http.client.HTTPConnection('127.0.0.1', self.port,
                                           timeout=10)
        self.assertRaises(ConnectionRefusedError, self.request, fresh,
                          'GET', '/v2.1')
        second = self.start()
        self.assertNotEqual(first.pid, second.pid)
        conn = http.client.HTTPConnection('127.0.0.1', self.port, timeout=10)
        self.assertEqual(200, self.request(conn, 'GET', '/v2.1')[0])
