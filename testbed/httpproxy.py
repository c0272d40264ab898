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
"""A counting, fault-injecting reverse proxy for the functional test bed.

:class:`CountingProxy` listens on 127.0.0.1 (one free port per upstream
``host:port``) and forwards every request to the bed's real Nova, Placement
and helper endpoints.  On the way it

* counts requests by ``(service, method, normalised path)``, ids in the
  path replaced by ``{id}`` (:func:`normalise_path`); the counts are
  queryable in-process (:meth:`CountingProxy.counts`,
  :meth:`CountingProxy.total`), as a JSON document
  (:meth:`CountingProxy.snapshot`, :meth:`CountingProxy.dump_json`) and can
  be reset (:meth:`CountingProxy.reset`);
* injects faults chosen by :class:`FaultRule` s (a ``N x 503`` burst, a
  ``409``, a connection reset, a latency spike), matched by service,
  method and path regex, limited in count and drawn with a probability
  from one seeded RNG (:class:`FaultPlan`), so a run is repeatable;
* stops by itself after ``max_lifetime`` seconds, or ``idle_timeout``
  seconds without a request.

:func:`write_proxied_clouds_yaml` copies the bed's ``clouds.yaml`` with
every endpoint pointing at the proxy, so that the real ``openstack`` CLI and
openstacksdk go through it.  It can also add keystoneauth's retry settings
(``status_code_retries``, ``connect_retries``, ...; see
doc/source/performance.rst).

The proxy keeps the client's ``Host`` header, so the links Nova and
Placement put in their responses (version discovery, pagination) point at
the proxy, not past it.  Only the standard library is used for the proxy
itself (``yaml`` is imported by the ``clouds.yaml`` helpers only).

Run on its own::

    python -m testbed.httpproxy \\
        --clouds-yaml BED/clouds.yaml --out-dir /tmp/proxy \\
        [--rules rules.json] [--seed 0] [--idle-timeout 300]

writes ``/tmp/proxy/clouds.yaml`` and, on exit and on ``SIGUSR1``,
``/tmp/proxy/counts.json``.
"""

import argparse
import collections
import copy
import dataclasses
import http.client
import http.server
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.parse

#: Headers that belong to one hop and are not forwarded (RFC 9110 7.6.1).
HOP_BY_HOP = frozenset((
    'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
    'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
))

CHUNK = 64 * 1024

# -- path normalisation (pure) ----------------------------------------------

_ID_PATTERNS = (
    # UUID, with or without dashes (Nova, Placement, Keystone ids).
    r'[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?'
    r'[0-9a-fA-F]{12}',
    # Request ids (instance actions).
    r'req-[0-9a-fA-F-]{36}',
    # Integer ids (migrations, legacy services and hypervisors, flavors).
    r'[0-9]+',
)


class PathNormaliser:
    """Turn a request path into a countable one: ids become ``{id}``.

    A segment is an id when it matches one of the built-in patterns (UUID
    with or without dashes, ``req-<uuid>``, an integer) or one of
    ``extra_patterns`` (regexes that must match the whole segment, for
    example host names: ``r'compute\\d+'``).  The query string is dropped;
    percent-encoded segments are compared decoded.
    """

    def __init__(self, extra_patterns=(), placeholder='{id}'):
        patterns = list(_ID_PATTERNS) + list(extra_patterns)
        self._id = re.compile('|'.join('(?:%s)' % p for p in patterns))
        self.placeholder = placeholder

    def __call__(self, path):
        path = urllib.parse.urlsplit(path).path or '/'
        segments = path.split('/')
        out = []
        for segment in segments:
            decoded = urllib.parse.unquote(segment)
            if decoded and self._id.fullmatch(decoded):
                out.append(self.placeholder)
            else:
                out.append(segment)
        return '/'.join(out)


normalise_path = PathNormaliser()


# -- fault rules (pure but for the RNG they are given) ----------------------

ACTIONS = ('status', 'reset', 'delay')

_REASONS = {
    409: 'Conflict',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
}


@dataclasses.dataclass
class FaultRule:
    """One fault and the requests it applies to.

    :param action: ``'status'`` (answer ``status`` instead of the
        upstream), ``'reset'`` (close the client connection with a TCP RST,
        no response) or ``'delay'`` (sleep ``delay`` seconds, then forward).
    :param method: regex, matched case-insensitively against the whole
        HTTP method (``'GET'``, ``'POST|PUT'``; default any).
    :param path: regex searched in the raw request path, query included
        (``r'/servers/detail'``, ``r'/action$'``; default any).
    :param service: the service name the request is for (``'compute'``,
        ``'placement'``...), or None for any.
    :param times: how many times the rule fires at most; None: no limit.
    :param after: let this many matching requests through first.
    :param probability: chance that a matching, armed request gets the
        fault (drawn from the plan's seeded RNG).
    :param status: the status code of a ``'status'`` fault.
    :param delay: seconds to wait before acting (every action).
    :param forward: forward the request upstream first, then replace the
        response (``'status'``) or reset (``'reset'``): the request *was*
        processed but its answer is lost, the case that makes blind retries
        of non-idempotent requests dangerous.
    :param retry_after: value of a ``Retry-After`` header on the fault
        response (keystoneauth honours it as the retry delay).
    :param message: the fault body's message.
    """

    action: str = 'status'
    method: str = '.*'
    path: str = '.*'
    service: str = None
    times: int = 1
    after: int = 0
    probability: float = 1.0
    status: int = 503
    delay: float = 0.0
    forward: bool = False
    retry_after: str = None
    message: str = 'Injected by migrationclient httpproxy'
    name: str = ''

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise ValueError('unknown fault action %r' % (self.action,))
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError('probability must be in [0, 1]')
        if self.times is not None and self.times < 0:
            raise ValueError('times must be >= 0 or None')
        if self.after < 0 or self.delay < 0:
            raise ValueError('after and delay must be >= 0')
        self._method_re = re.compile(self.method, re.IGNORECASE)
        self._path_re = re.compile(self.path)
        if not self.name:
            what = {'status': str(self.status), 'reset': 'reset',
                    'delay': '+%gs' % self.delay}[self.action]
            self.name = '%s %s %s' % (what, self.method, self.path)
        self.seen = 0     # matching requests
        self.fired = 0    # faults injected

    @classmethod
    def from_dict(cls, data):
        """Build a rule from a JSON-style mapping (unknown keys refused)."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields
        if unknown:
            raise ValueError('unknown fault rule keys: %s'
                             % ', '.join(sorted(unknown)))
        return cls(**data)

    def to_dict(self):
        data = dataclasses.asdict(self)
        data.update(seen=self.seen, fired=self.fired)
        return data

    def matches(self, service, method, path):
        """True when the request is one this rule is about."""
        if self.service is not None and self.service != service:
            return False
        return bool(self._method_re.fullmatch(method)
                    and self._path_re.search(path))

    @property
    def exhausted(self):
        return self.times is not None and self.fired >= self.times


def burst(status=503, times=3, **match):
    """``times`` consecutive ``status`` answers to matching requests."""
    return FaultRule(action='status', status=status, times=times, **match)


def conflict(times=1, **match):
    """A Nova-style ``409 Conflict`` (e.g. a server in a task state)."""
    match.setdefault('message', 'Cannot migrate instance while it is in '
                     'task_state migrating (injected)')
    return FaultRule(action='status', status=409, times=times, **match)


def reset(times=1, **match):
    """Connection resets (TCP RST, no response)."""
    return FaultRule(action='reset', times=times, **match)


def latency(seconds, times=1, **match):
    """A latency spike of ``seconds`` before forwarding."""
    return FaultRule(action='delay', delay=seconds, times=times, **match)


class FaultPlan:
    """An ordered list of :class:`FaultRule` and the RNG that drives them.

    For each request the first rule that matches, is not exhausted, has let
    its ``after`` requests pass, and wins its probability draw, fires.  The
    RNG is drawn only for rules whose probability is below 1, so adding a
    certain rule does not change the draws of the others.
    """

    def __init__(self, rules=(), seed=0):
        self.rules = list(rules)
        self.seed = seed
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def add(self, rule):
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self, seed=None):
        with self._lock:
            self.rules = []
            if seed is not None:
                self.seed = seed
            self._rng = random.Random(self.seed)

    def decide(self, service, method, path):
        """Return the rule that fires for this request, or None."""
        with self._lock:
            for rule in self.rules:
                if rule.exhausted or not rule.matches(service, method, path):
                    continue
                rule.seen += 1
                if rule.seen <= rule.after:
                    continue
                if (rule.probability < 1.0
                        and self._rng.random() >= rule.probability):
                    continue
                rule.fired += 1
                return rule
            return None

    def to_list(self):
        with self._lock:
            return [rule.to_dict() for rule in self.rules]


def fault_body(rule):
    """The JSON body of a ``'status'`` fault, shaped like Nova's errors."""
    reason = _REASONS.get(rule.status, 'Error')
    key = reason[0].lower() + reason.title().replace(' ', '')[1:]
    return json.dumps({key: {'code': rule.status,
                             'message': rule.message}}).encode()


# -- counting ---------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Event:
    """One request as the proxy saw it."""

    time: float
    service: str
    method: str
    path: str           # normalised
    raw_path: str
    status: int         # sent to the client; 0: none (reset)
    fault: str          # name of the rule that fired, '' if none
    elapsed: float
    upstream: int = 0   # the upstream's status; 0: not forwarded / failed


class _Stats:
    def __init__(self, log_size):
        self.lock = threading.Lock()
        self.counts = collections.Counter()
        self.statuses = collections.Counter()
        self.events = collections.deque(maxlen=log_size)

    def count(self, key):
        # At arrival: once a client has its answer, the count includes it.
        with self.lock:
            self.counts[key] += 1

    def record(self, event):
        with self.lock:
            self.statuses[event.status] += 1
            self.events.append(event)

    def reset(self):
        with self.lock:
            self.counts.clear()
            self.statuses.clear()
            self.events.clear()


# -- the proxy ---------------------------------------------------------------

class _Upstream:
    """An upstream ``host:port`` and the services (base paths) behind it."""

    def __init__(self, scheme, host, port):
        if scheme != 'http':
            raise ValueError('only http upstreams are supported, not %r'
                             % (scheme,))
        self.host = host
        self.port = port
        self.services = []      # (base path, service), longest first

    def add(self, service, base_path):
        self.services.append((base_path.rstrip('/'), service))
        self.services.sort(key=lambda item: len(item[0]), reverse=True)

    def service_for(self, path):
        path = urllib.parse.urlsplit(path).path
        for base, service in self.services:
            if not base or path == base or path.startswith(base + '/'):
                return service
        return self.services[-1][1]


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, proxy, upstream):
        self.proxy = proxy
        self.upstream = upstream
        super().__init__(('127.0.0.1', 0), _Handler)

    def handle_error(self, request, client_address):
        # A client that goes away mid-request is not an error of ours.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, socket.timeout, OSError)):
            return
        super().handle_error(request, client_address)


class _Reset(Exception):
    """Raised inside the handler to drop the client connection (RST)."""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'migrationclient-httpproxy/1'
    timeout = 60            # idle keep-alive client connections

    def setup(self):
        super().setup()
        self._upconn = None
        self.server.proxy._connection_opened(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            self._close_upstream()
            self.server.proxy._connection_closed(self.connection)

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self._proxy()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    # -- request body -------------------------------------------------------
    def _body_chunks(self):
        """Yield the request body as it arrives (length or chunked)."""
        if 'chunked' in self.headers.get('Transfer-Encoding', '').lower():
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b';', 1)[0].strip() or b'0', 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b'\r\n', b'\n',
                                                             b''):
                        pass
                    return
                data = self.rfile.read(size)
                self.rfile.readline(3)
                yield data
        else:
            remaining = int(self.headers.get('Content-Length') or 0)
            while remaining > 0:
                data = self.rfile.read(min(CHUNK, remaining))
                if not data:
                    raise ConnectionError('client closed mid-body')
                remaining -= len(data)
                yield data

    def _drain_body(self):
        for _chunk in self._body_chunks():
            pass

    # -- upstream -----------------------------------------------------------
    def _close_upstream(self):
        if self._upconn is not None:
            self._upconn.close()
            self._upconn = None

    def _send_upstream(self, chunked):
        upstream = self.server.upstream
        if self._upconn is None:
            self._upconn = http.client.HTTPConnection(
                upstream.host, upstream.port,
                timeout=self.server.proxy.upstream_timeout)
        conn = self._upconn
        conn.putrequest(self.command, self.path, skip_host=True,
                        skip_accept_encoding=True)
        for key, value in self.headers.items():
            if key.lower() not in HOP_BY_HOP:
                conn.putheader(key, value)
        if chunked:
            conn.putheader('Transfer-Encoding', 'chunked')
        conn.endheaders()

    def _forward(self):
        """Send the request upstream; return the upstream response."""
        chunked = 'chunked' in self.headers.get('Transfer-Encoding',
                                                '').lower()
        body = None
        if not chunked and int(self.headers.get('Content-Length') or 0) \
                <= CHUNK:
            # Small bodies are read first so that a stale keep-alive
            # upstream connection can be retried without losing them.
            body = b''.join(self._body_chunks())
        for attempt in (1, 2):
            reused = self._upconn is not None
            try:
                self._send_upstream(chunked)
                if body is not None:
                    if body:
                        self._upconn.send(body)
                else:
                    for data in self._body_chunks():
                        if chunked:
                            self._upconn.send(b'%x\r\n%s\r\n'
                                              % (len(data), data))
                        else:
                            self._upconn.send(data)
                    if chunked:
                        self._upconn.send(b'0\r\n\r\n')
                return self._upconn.getresponse()
            except (ConnectionError, http.client.RemoteDisconnected,
                    http.client.BadStatusLine):
                self._close_upstream()
                if attempt == 2 or not reused or body is None:
                    raise

    # -- responses ----------------------------------------------------------
    def _reset_client(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack('ii', 1, 0))
        except OSError:
            pass
        self.close_connection = True
        raise _Reset()

    def _send_fault(self, rule):
        body = fault_body(rule)
        self.send_response(rule.status, _REASONS.get(rule.status))
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('X-Injected-Fault', rule.name)
        if rule.retry_after is not None:
            self.send_header('Retry-After', str(rule.retry_after))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def _send_upstream_response(self, resp):
        self.send_response_only(resp.status, resp.reason)
        length = resp.getheader('Content-Length')
        no_body = (self.command == 'HEAD' or resp.status in (204, 304)
                   or 100 <= resp.status < 200)
        for key, value in resp.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        rechunk = False
        if not no_body and length is None:
            if self.request_version == 'HTTP/1.1':
                rechunk = True
                self.send_header('Transfer-Encoding', 'chunked')
            else:
                self.close_connection = True
        if self.close_connection:
            self.send_header('Connection', 'close')
        self.end_headers()
        if no_body:
            resp.read()
        else:
            while True:
                data = resp.read1(CHUNK) if hasattr(resp, 'read1') \
                    else resp.read(CHUNK)
                if not data:
                    break
                if rechunk:
                    self.wfile.write(b'%x\r\n%s\r\n' % (len(data), data))
                else:
                    self.wfile.write(data)
            if rechunk:
                self.wfile.write(b'0\r\n\r\n')
        # Fully read: lets http.client reuse the upstream connection.
        resp.close()
        if resp.will_close:
            self._close_upstream()

    def _send_bad_gateway(self, exc):
        body = json.dumps({'badGateway': {
            'code': 502, 'message': 'httpproxy: upstream failed: %s'
            % (exc,)}}).encode()
        self.close_connection = True
        self.send_response(502)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Connection', 'close')
        self.end_headers()
        self.wfile.write(body)

    def _proxy(self):
        proxy = self.server.proxy
        start = time.monotonic()
        proxy._touch(+1)
        service = self.server.upstream.service_for(self.path)
        path = proxy.normalise(self.path)
        proxy._stats.count((service, self.command, path))
        rule = proxy.faults.decide(service, self.command, self.path)
        status = upstream = 0
        try:
            if rule is not None and rule.delay:
                time.sleep(rule.delay)
            if rule is not None and rule.action != 'delay' \
                    and not rule.forward:
                if rule.action == 'reset':
                    self._reset_client()
                self._drain_body()
                self._send_fault(rule)
                status = rule.status
                return
            try:
                resp = self._forward()
            except (OSError, http.client.HTTPException) as exc:
                self._close_upstream()
                self._send_bad_gateway(exc)
                status = 502
                return
            upstream = resp.status
            if rule is not None and rule.action == 'reset':
                resp.read()
                self._reset_client()
            if rule is not None and rule.action == 'status':
                resp.read()
                if resp.will_close:
                    self._close_upstream()
                self._send_fault(rule)
                status = rule.status
                return
            status = resp.status
            self._send_upstream_response(resp)
        except _Reset:
            status = 0
            self._abort()
        finally:
            proxy._stats.record(Event(
                time=time.time(), service=service, method=self.command,
                path=path, raw_path=self.path,
                status=status, fault=rule.name if rule is not None else '',
                elapsed=time.monotonic() - start, upstream=upstream))
            proxy._touch(-1)

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, socket.timeout, ValueError):
            # ValueError: I/O on the socket files after a reset.
            self.close_connection = True

    def _abort(self):
        try:
            self.connection.close()
        except OSError:
            pass


class CountingProxy:
    """A reverse proxy in front of a set of HTTP endpoints.

    :param upstreams: ``{service: base URL}``, e.g.
        ``{'compute': 'http://127.0.0.1:8774/v2.1'}``.  Services on the
        same ``host:port`` share one listener and are told apart by the
        longest matching base path.
    :param faults: a :class:`FaultPlan` (default: an empty one).
    :param seed: seed of the default plan's RNG.
    :param max_lifetime: seconds after :meth:`start` when the proxy stops.
    :param idle_timeout: seconds without any request after which it stops.
    :param normaliser: callable ``path -> counted path``
        (default :data:`normalise_path`).
    :param log_size: how many :class:`Event` s are kept.
    :param upstream_timeout: socket timeout towards the upstreams.
    """

    def __init__(self, upstreams, faults=None, seed=0, max_lifetime=900.0,
                 idle_timeout=300.0, normaliser=None, log_size=20000,
                 upstream_timeout=120.0):
        if not upstreams:
            raise ValueError('no upstream endpoint given')
        self.upstream_urls = dict(upstreams)
        self.faults = faults if faults is not None else FaultPlan(seed=seed)
        self.max_lifetime = max_lifetime
        self.idle_timeout = idle_timeout
        self.normalise = normaliser or normalise_path
        self.upstream_timeout = upstream_timeout
        self._stats = _Stats(log_size)
        self._upstreams = {}
        for service, url in self.upstream_urls.items():
            parts = urllib.parse.urlsplit(url)
            key = (parts.scheme, parts.hostname, parts.port or 80)
            if key not in self._upstreams:
                self._upstreams[key] = _Upstream(*key)
            self._upstreams[key].add(service, parts.path)
        self._servers = {}
        self._threads = []
        self._lock = threading.Lock()
        self._connections = set()
        self._inflight = 0
        self._last = time.monotonic()
        self._started = None
        self._stopping = False
        self._stopped = threading.Event()
        self.stop_reason = None

    # -- life cycle ---------------------------------------------------------
    def start(self):
        """Bind the listeners (127.0.0.1, free ports) and serve."""
        if self._started is not None:
            raise RuntimeError('proxy already started')
        for key, upstream in self._upstreams.items():
            self._servers[key] = _Server(self, upstream)
        self._started = self._last = time.monotonic()
        for server in self._servers.values():
            thread = threading.Thread(
                target=server.serve_forever, kwargs={'poll_interval': 0.2},
                name='httpproxy-%d' % server.server_address[1], daemon=True)
            thread.start()
            self._threads.append(thread)
        watchdog = threading.Thread(target=self._watchdog, daemon=True,
                                    name='httpproxy-watchdog')
        watchdog.start()
        return self

    def stop(self, reason='stopped'):
        """Stop listening and drop open client connections (idempotent)."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self.stop_reason = reason
            connections = list(self._connections)
        for server in self._servers.values():
            server.shutdown()
            server.server_close()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in self._threads:
            thread.join(5)
        self._stopped.set()

    @property
    def running(self):
        return self._started is not None and not self._stopping

    def wait_stopped(self, timeout=None):
        return self._stopped.wait(timeout)

    def __enter__(self):
        if self._started is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def _watchdog(self):
        while not self._stopping and not self._stopped.wait(0.25):
            now = time.monotonic()
            with self._lock:
                idle = self._inflight == 0 and \
                    now - self._last > self.idle_timeout
            if now - self._started > self.max_lifetime:
                self.stop('max lifetime %.0f s reached' % self.max_lifetime)
            elif idle:
                self.stop('idle for %.0f s' % self.idle_timeout)

    def _touch(self, delta):
        with self._lock:
            self._inflight += delta
            self._last = time.monotonic()

    def _connection_opened(self, conn):
        with self._lock:
            self._connections.add(conn)

    def _connection_closed(self, conn):
        with self._lock:
            self._connections.discard(conn)

    # -- addresses ----------------------------------------------------------
    def _listener_url(self, url):
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.hostname, parts.port or 80)
        server = self._servers.get(key)
        if server is None:
            return None
        netloc = '127.0.0.1:%d' % server.server_address[1]
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))

    def url_for(self, service):
        """The proxied base URL of ``service``."""
        return self._listener_url(self.upstream_urls[service])

    @property
    def endpoints(self):
        """``{service: proxied base URL}``."""
        return {s: self.url_for(s) for s in self.upstream_urls}

    def rewrite_url(self, url):
        """``url`` through the proxy.

        Its ``host:port`` is replaced by the proxy's listener when the proxy
        serves that upstream; otherwise ``url`` is returned unchanged.
        """
        return self._listener_url(url) or url

    # -- counts -------------------------------------------------------------
    def counts(self, service=None):
        """``{(service, method, normalised path): n}`` (of one service)."""
        with self._stats.lock:
            return {k: v for k, v in self._stats.counts.items()
                    if service is None or k[0] == service}

    def total(self, service=None, method=None, path=None):
        """Requests counted.

        Filtered by service, method and a regex searched in the normalised
        path, when given.
        """
        path_re = re.compile(path) if path is not None else None
        return sum(n for (s, m, p), n in self.counts().items()
                   if (service is None or s == service)
                   and (method is None or m == method)
                   and (path_re is None or path_re.search(p)))

    def wait_idle(self, timeout=2.0):
        """Wait until no request is in flight; True if it came to that.

        A request is counted on arrival but its :class:`Event` (status,
        time) is logged when the proxy is done with it, just after the
        client got the last byte.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._inflight == 0:
                    return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)

    def events(self, wait=2.0):
        """The :class:`Event` log, oldest first (bounded by log_size).

        Waits up to ``wait`` seconds for requests in flight first.
        """
        self.wait_idle(wait)
        with self._stats.lock:
            return list(self._stats.events)

    def statuses(self, wait=2.0):
        """``{status: n}`` (0: reset or no response), as :meth:`events`."""
        self.wait_idle(wait)
        with self._stats.lock:
            return dict(self._stats.statuses)

    def reset(self, wait=2.0):
        """Forget counts, statuses and events (rules keep their state).

        Waits up to ``wait`` seconds for requests in flight first, so that
        their events do not land after the reset.
        """
        self.wait_idle(wait)
        self._stats.reset()

    def snapshot(self, events=False):
        """A JSON-serialisable view of the counters."""
        counts = self.counts()
        data = {
            'total': sum(counts.values()),
            'endpoints': self.endpoints if self._servers else {},
            'upstreams': dict(self.upstream_urls),
            'counts': [
                {'service': s, 'method': m, 'path': p, 'count': n}
                for (s, m, p), n in sorted(counts.items())],
            'statuses': {str(k): v for k, v in sorted(
                self.statuses().items())},
            'faults': self.faults.to_list(),
            'seed': self.faults.seed,
            'running': self.running,
            'stop_reason': self.stop_reason,
        }
        if events:
            data['events'] = [dataclasses.asdict(e) for e in self.events()]
        return data

    def dump_json(self, path, events=False):
        """Write :meth:`snapshot` to ``path`` (atomically)."""
        tmp = '%s.tmp%d' % (path, os.getpid())
        with open(tmp, 'w') as f:
            json.dump(self.snapshot(events=events), f, indent=1,
                      sort_keys=True)
        os.replace(tmp, path)
        return path

    # -- clouds.yaml ----------------------------------------------------------
    @classmethod
    def for_cloud(cls, clouds_yaml, cloud='fakecloud', **kwargs):
        """A proxy for every endpoint of ``cloud`` in ``clouds_yaml``."""
        return cls(cloud_endpoints(load_clouds_yaml(clouds_yaml), cloud),
                   **kwargs)


# -- clouds.yaml helpers ----------------------------------------------------

_OVERRIDE = re.compile(r'^(?P<service>[a-z0-9_-]+)_endpoint_override$')

#: keystoneauth / openstacksdk retry settings accepted in a cloud of
#: clouds.yaml, unprefixed (every service) or ``<service>_``-prefixed.
RETRY_SETTINGS = ('connect_retries', 'connect_retry_delay',
                  'status_code_retries', 'status_code_retry_delay',
                  'retriable_status_codes')


def load_clouds_yaml(path):
    import yaml
    with open(path) as f:
        return yaml.safe_load(f)


def cloud_endpoints(config, cloud='fakecloud'):
    """``{service: URL}`` of ``cloud`` in a parsed clouds.yaml.

    Every ``<service>_endpoint_override``, and the auth URL or endpoint
    (as ``identity``).
    """
    try:
        region = config['clouds'][cloud]
    except (KeyError, TypeError):
        raise ValueError('cloud %r not found in clouds.yaml' % (cloud,))
    endpoints = {}
    for key, value in region.items():
        match = _OVERRIDE.match(key)
        if match and isinstance(value, str):
            endpoints[match.group('service').replace('_', '-')] = value
    auth = region.get('auth') or {}
    for key in ('auth_url', 'endpoint'):
        if isinstance(auth.get(key), str) and auth[key].startswith('http'):
            endpoints.setdefault('identity', auth[key])
    if not endpoints:
        raise ValueError('cloud %r has no endpoint to proxy' % (cloud,))
    return endpoints


def proxied_cloud_config(config, proxy, cloud='fakecloud', settings=None):
    """A deep copy of a parsed clouds.yaml, ``cloud`` going through ``proxy``.

    Every URL of ``cloud`` served by the proxy is rewritten; ``settings``
    (e.g. :data:`RETRY_SETTINGS`) are added to the cloud.
    """
    config = copy.deepcopy(config)
    region = config['clouds'][cloud]

    def rewrite(value):
        if isinstance(value, str) and value.startswith('http://'):
            return proxy.rewrite_url(value)
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        return value

    config['clouds'][cloud] = rewrite(region)
    config['clouds'][cloud].update(settings or {})
    return config


def write_proxied_clouds_yaml(src, dst, proxy, cloud='fakecloud',
                              settings=None):
    """Write ``dst``, a copy of clouds.yaml ``src`` going through ``proxy``.

    See :func:`proxied_cloud_config`.  Returns ``dst``.
    """
    import yaml
    config = proxied_cloud_config(load_clouds_yaml(src), proxy, cloud,
                                  settings)
    with open(dst, 'w') as f:
        yaml.safe_dump(config, f, default_flow_style=False)
    return dst


# -- command line -------------------------------------------------------------

def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog='python -m testbed.httpproxy',
        description='Counting, fault-injecting proxy for the test bed.')
    parser.add_argument('--clouds-yaml', required=True,
                        help="the bed's clouds.yaml")
    parser.add_argument('--cloud', default='fakecloud')
    parser.add_argument('--out-dir', required=True,
                        help='where clouds.yaml and counts.json go')
    parser.add_argument('--rules', help='JSON file: a list of fault rules')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--max-lifetime', type=float, default=3600.0)
    parser.add_argument('--idle-timeout', type=float, default=600.0)
    parser.add_argument('--setting', action='append', default=[],
                        metavar='KEY=VALUE',
                        help='add to the proxied cloud, e.g. '
                             'status_code_retries=3 (repeatable)')
    return parser.parse_args(argv)


def main(argv=None):
    args = _parse_args(argv)
    rules = []
    if args.rules:
        with open(args.rules) as f:
            rules = [FaultRule.from_dict(r) for r in json.load(f)]
    settings = {}
    for item in args.setting:
        key, _sep, value = item.partition('=')
        settings[key] = json.loads(value) if value[:1].isdigit() or \
            value[:1] == '[' else value
    proxy = CountingProxy.for_cloud(
        args.clouds_yaml, args.cloud, faults=FaultPlan(rules, args.seed),
        max_lifetime=args.max_lifetime, idle_timeout=args.idle_timeout)
    os.makedirs(args.out_dir, exist_ok=True)
    counts = os.path.join(args.out_dir, 'counts.json')
    proxy.start()
    clouds = write_proxied_clouds_yaml(
        args.clouds_yaml, os.path.join(args.out_dir, 'clouds.yaml'), proxy,
        args.cloud, settings)
    signal.signal(signal.SIGUSR1, lambda *a: proxy.dump_json(counts))
    signal.signal(signal.SIGTERM, lambda *a: proxy.stop('SIGTERM'))
    signal.signal(signal.SIGINT, lambda *a: proxy.stop('SIGINT'))
    print(json.dumps({'pid': os.getpid(), 'clouds_yaml': clouds,
                      'counts': counts, 'endpoints': proxy.endpoints}),
          flush=True)
    while not proxy.wait_stopped(0.5):
        pass
    proxy.dump_json(counts, events=True)
    print('httpproxy: %s' % proxy.stop_reason, file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
