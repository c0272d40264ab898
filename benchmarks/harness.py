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

"""Run things against the test bed through the counting proxy.

:class:`ProxiedCloud` puts a :class:`~testbed.httpproxy.CountingProxy` in
front of every endpoint of the bed and writes a
``clouds.yaml`` whose cloud ``fakecloud`` goes through it.  Then

* :meth:`ProxiedCloud.measure_cli` runs the real ``openstack`` CLI (a
  subprocess, as an operator would) and
* :meth:`ProxiedCloud.measure_sdk` runs a function on a fresh
  openstacksdk connection in this process,

each returning a :class:`Measurement`: requests counted at the proxy (all,
and without version discovery), per ``(service, method, path)``, and wall
time.  :func:`command_economy` is the few-lines way for a command's author
to benchmark its request economy against the by-hand procedure (see
benchmarks/README.rst).
"""

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks import common
from benchmarks import startup
from testbed import httpproxy

CLOUD = 'fakecloud'

#: Version discovery documents (``/``, ``/v2.1/``, ``/v3``...), which
#: keystoneauth fetches once per process and service.
_DISCOVERY = re.compile(r'^/(v[0-9.]+/?)?$')


def is_discovery(path):
    return bool(_DISCOVERY.match(path))


@dataclasses.dataclass
class Measurement:
    label: str
    wall: float
    counts: dict              # {(service, method, path): n}
    statuses: dict
    returncode: int = 0
    stdout: str = ''
    stderr: str = ''
    #: peak resident set of the CLI process (``ru_maxrss`` of that child
    #: from ``wait4``), KiB; None for in-process measurements
    peak_rss_kb: int | None = None

    @property
    def requests(self):
        """Every request the proxy saw."""
        return sum(self.counts.values())

    @property
    def api_requests(self):
        """Requests without version discovery."""
        return sum(n for (_s, _m, p), n in self.counts.items()
                   if not is_discovery(p))

    def by_path(self):
        """``{'GET compute /v2.1/servers/{id}': n}``, JSON-friendly."""
        return {'%s %s %s' % (m, s, p): n
                for (s, m, p), n in sorted(self.counts.items())}


class ProxiedCloud:
    """The bed behind a counting proxy, and a clouds.yaml that uses it.

    :param bed: a :class:`testbed.client.Bed`.
    :param settings: extra keys for the proxied cloud (e.g.
        ``{'status_code_retries': 3}``).
    """

    def __init__(self, bed, settings=None, max_lifetime=3600.0,
                 idle_timeout=900.0, seed=0):
        self.bed = bed
        self.proxy = httpproxy.CountingProxy.for_cloud(
            bed.clouds_yaml, CLOUD, seed=seed, max_lifetime=max_lifetime,
            idle_timeout=idle_timeout)
        self.proxy.start()
        self.dir = tempfile.mkdtemp(prefix='bench-proxy-')
        self.clouds_yaml = httpproxy.write_proxied_clouds_yaml(
            bed.clouds_yaml, os.path.join(self.dir, 'clouds.yaml'),
            self.proxy, CLOUD, settings)

    def close(self):
        self.proxy.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('OS_')}
        env['OS_CLIENT_CONFIG_FILE'] = self.clouds_yaml
        return env

    def connection(self):
        """A fresh openstacksdk connection going through the proxy."""
        import openstack.config
        import openstack.connection
        config = openstack.config.OpenStackConfig(
            config_files=[self.clouds_yaml])
        return openstack.connection.Connection(
            config=config.get_one(cloud=CLOUD))

    def _check_running(self):
        if not self.proxy.running:
            raise RuntimeError('the counting proxy stopped: %s'
                               % self.proxy.stop_reason)

    def measure_sdk(self, label, fn):
        """Run ``fn(connection)`` on a fresh connection; count and time."""
        self._check_running()
        conn = self.connection()
        try:
            self.proxy.reset()
            seconds, _result = common.timed(fn, conn)
            return Measurement(label, seconds, self.proxy.counts(),
                               self.proxy.statuses())
        finally:
            conn.close()

    def measure_cli(self, label, argv, ok_returncodes=(0,), timeout=600):
        """Run ``openstack --os-cloud fakecloud ARGV``; count and time."""
        self._check_running()
        cmd = [startup.openstack_binary(), '--os-cloud', CLOUD] + [
            str(a) for a in argv]
        self.proxy.reset()
        start = time.perf_counter()
        returncode, stdout, stderr, rss = run_measured(cmd, self.env(),
                                                       timeout)
        seconds = time.perf_counter() - start
        if returncode not in ok_returncodes:
            raise RuntimeError('openstack %s -> %d: %s' % (
                ' '.join(argv), returncode, (stderr or stdout)[-600:]))
        return Measurement(label, seconds, self.proxy.counts(),
                           self.proxy.statuses(), returncode,
                           stdout, stderr, rss)


#: Runs argv[2:], writes that child's rusage (JSON: peak RSS in KiB, user
#: and system CPU seconds) to argv[1] and exits with its status; SIGTERM
#: kills the child.  A small process of its own, so that the child's
#: ``ru_maxrss`` is not the caller's: a forked copy of the caller counts
#: its memory until ``exec``.
USAGE_WRAPPER = '''
import json, os, signal, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
signal.signal(signal.SIGTERM, lambda *a: os.kill(pid, signal.SIGKILL))
while True:
    try:
        _p, status, usage = os.wait4(pid, 0)
        break
    except InterruptedError:
        pass
with open(sys.argv[1], "w") as f:
    json.dump({"maxrss_kb": usage.ru_maxrss, "utime": usage.ru_utime,
               "stime": usage.ru_stime}, f)
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
'''


def run_measured(cmd, env, timeout):
    """Run ``cmd``; ``(returncode, stdout, stderr, peak RSS KiB)``.

    The peak resident set is the command's own ``ru_maxrss`` (from
    ``wait4`` in a small wrapper process, :data:`USAGE_WRAPPER`; its floor,
    measured with ``true``, is the wrapper's ~9 MiB).  On timeout the
    wrapper (by its PID) gets SIGTERM and kills the command.
    """
    with tempfile.TemporaryDirectory(prefix='bench-rss-') as tmp:
        rss_file = os.path.join(tmp, 'rss')
        proc = subprocess.Popen(
            [sys.executable, '-S', '-c', USAGE_WRAPPER, rss_file] + cmd,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env, text=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            stdout, stderr = proc.communicate()
            raise subprocess.TimeoutExpired(cmd, timeout, stdout, stderr)
        try:
            with open(rss_file) as f:
                rss = int(json.load(f)['maxrss_kb'])
        except (OSError, ValueError, KeyError):
            rss = None
    return proc.returncode, stdout, stderr, rss


def command_economy(ctx, name, argv_for, sizes=None, ok_returncodes=(0,),
                    target_ratio=0.12, target_n=50):
    """Request economy of a plugin command against the by-hand procedure.

    For each bed size M and each N (``ctx.economy_sizes()``: M = 3, N = 10
    with ``--smoke``; M = 3 and 10, N = 10, 50 and 200 otherwise) a
    source host holds N servers (:func:`benchmarks.fleet.ensure_servers`:
    each N has its own host), the command ``openstack ARGV`` runs through
    the proxy, and its requests are compared with the by-hand
    procedure's at the same N and M (:func:`benchmarks.byhand.
    byhand_counts`, measured in this run).

    :param argv_for: ``fn(source, hosts) -> argv`` (no ``openstack``,
        no ``--os-cloud``).
    :param sizes: ``[(M, (N, ...)), ...]`` instead of the context's.
    :returns: rows: requests, wall and peak RSS of the CLI process per
        N and M, the ratio to by-hand (judged ``<= target_ratio`` at
        ``target_n``) and the growth from the smallest to the largest N
        (judged ``== 0``: constant in N).
    """
    from benchmarks import byhand
    from benchmarks import fleet
    rows = []
    for computes, ns in sizes or ctx.economy_sizes():
        bed = ctx.bed_for(computes)
        cloud = ctx.cloud_for(bed)
        per_n = {}
        for n in ns:
            source, hosts = fleet.ensure_servers(ctx, n, bed)
            at = 'N=%d M=%d' % (n, len(hosts))
            argv = argv_for(source, hosts)
            m = cloud.measure_cli('%s %s' % (name, at), argv,
                                  ok_returncodes)
            hand = byhand.byhand_counts(ctx, n, bed)
            per_n[n] = m
            ratio = round(m.requests / float(hand.requests), 3)
            rows.append(common.Row(
                name, 'requests, %s' % at, m.requests,
                note='%d without discovery; by hand %d' % (
                    m.api_requests, hand.requests),
                data={'by_path': m.by_path(), 'argv': argv,
                      'returncode': m.returncode}))
            if n == target_n:
                rows.append(common.judged(
                    name, 'requests / by-hand, %s' % at, ratio, 'x', '<=',
                    target_ratio, note='%d / %d' % (m.requests,
                                                    hand.requests)))
            else:
                rows.append(common.Row(
                    name, 'requests / by-hand, %s' % at, ratio, 'x',
                    note='%d / %d' % (m.requests, hand.requests)))
            rows.append(common.Row(
                name, 'wall, %s (one CLI process)' % at, round(m.wall, 2),
                's', note='by hand in one SDK process: %.2f s' % hand.wall))
            if m.peak_rss_kb:
                rows.append(common.Row(
                    name, 'peak RSS of the CLI process, %s' % at,
                    round(m.peak_rss_kb / 1024.0, 1), 'MiB',
                    note='ru_maxrss of the openstack process',
                    data={'peak_rss_kb': m.peak_rss_kb}))
        if len(ns) > 1:
            growth = per_n[ns[-1]].requests - per_n[ns[0]].requests
            rows.append(common.judged(
                name, 'requests N=%d minus N=%d, M=%d' % (
                    ns[-1], ns[0], computes), growth, '', '==', 0,
                note='constant in N'))
    return rows
