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

"""What every benchmark shares: the registry, result rows, the context.

A benchmark is a function ``fn(ctx) -> [Row, ...]`` registered with
:func:`benchmark`.  It reports *ratios measured in one run* wherever it
can: absolute times on a shared 2-core machine are noise.
"""

import dataclasses
import os
import statistics
import sys
import time

#: Every registered benchmark, in registration (= run) order.
REGISTRY = []


@dataclasses.dataclass
class Benchmark:
    name: str
    func: object
    needs_bed: bool
    smoke: bool
    doc: str


def benchmark(name, needs_bed=False, smoke=True):
    """Register ``fn(ctx) -> [Row]`` under ``name``.

    :param needs_bed: the benchmark uses the functional test bed (real Nova
        and Placement); it is skipped with ``--no-bed``.
    :param smoke: part of the ``--smoke`` run (keep that under 2 minutes
        in total).
    """
    def register(fn):
        REGISTRY.append(Benchmark(name, fn, needs_bed, smoke,
                                  (fn.__doc__ or '').strip().split('\n')[0]))
        return fn
    return register


@dataclasses.dataclass
class Row:
    """One figure of the result table (and of the JSON file)."""

    benchmark: str
    metric: str
    value: object
    unit: str = ''
    target: str = ''       # e.g. '<= 1.05'; '' when there is none
    ok: bool = None        # None: not judged against a target
    note: str = ''
    data: dict = dataclasses.field(default_factory=dict)  # raw samples

    @property
    def verdict(self):
        return {True: 'ok', False: 'MISSED', None: ''}[self.ok]


def judged(benchmark, metric, value, unit, op, limit, note='', data=None):
    """A :class:`Row` whose ``ok`` says whether ``value op limit`` holds."""
    ok = None
    if value is not None:
        ok = {'<=': value <= limit, '>=': value >= limit,
              '==': value == limit}[op]
    return Row(benchmark, metric, value, unit, '%s %s' % (op, limit), ok,
               note, data or {})


def median(values):
    return statistics.median(values) if values else None


def timed(fn, *args, **kwargs):
    """``(seconds, result)`` of one call."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


class Context:
    """What a benchmark gets: options, the bed, shared results.

    ``ctx.bed`` starts the functional test bed on first use (or attaches to
    the one in ``$FAKECLOUD_STATE_DIR``) and is stopped, by its PID only,
    when the run ends.  ``ctx.cache`` lets benchmarks reuse each other's
    measurements (e.g. the by-hand request counts).
    """

    def __init__(self, smoke=False, use_bed=True, verbose=False):
        self.smoke = smoke
        self.use_bed = use_bed
        self.verbose = verbose
        self.cache = {}
        self._bed = None
        self.cleanups = []

    def log(self, msg, *args):
        if self.verbose:
            sys.stderr.write('[bench %s] %s\n' % (
                time.strftime('%H:%M:%S'), msg % args if args else msg))
            sys.stderr.flush()

    @property
    def bed(self):
        if self._bed is None:
            if not self.use_bed:
                raise RuntimeError('this benchmark needs the test bed')
            from testbed import client
            started = time.monotonic()
            self._bed = client.Bed.get()
            self.log('test bed ready in %.1f s (%s, pid %s, %s)',
                     time.monotonic() - started, self._bed.state_dir,
                     self._bed.pid,
                     'ours' if self._bed.owned else 'attached')
        return self._bed

    @property
    def cloud(self):
        """The bed seen through a counting proxy (see :mod:`harness`)."""
        return self.cloud_for(self.bed)

    def bed_for(self, computes):
        """A bed with ``computes`` compute hosts (3: :attr:`bed`).

        Another size is a bed of its own, started on first use and stopped
        (by its PID) when the run ends.
        """
        if computes == 3:
            return self.bed
        if not self.use_bed:
            raise RuntimeError('this benchmark needs the test bed')
        beds = self.cache.setdefault('beds', {})
        if computes not in beds:
            from testbed import client
            started = time.monotonic()
            bed = beds[computes] = client.Bed.get(computes=computes)
            if bed.owned:
                self.cleanups.append(bed.stop)
            self.log('test bed with %d computes ready in %.1f s (%s, pid '
                     '%s)', computes, time.monotonic() - started,
                     bed.state_dir, bed.pid)
        return beds[computes]

    def cloud_for(self, bed):
        """``bed`` seen through a counting proxy of its own."""
        clouds = self.cache.setdefault('clouds', {})
        if bed.state_dir not in clouds:
            from benchmarks import harness
            cloud = clouds[bed.state_dir] = harness.ProxiedCloud(bed)
            self.cleanups.append(cloud.close)
        return clouds[bed.state_dir]

    def economy_sizes(self):
        """``[(M computes, (N, ...)), ...]`` for the request-economy runs.

        Smoke: M = 3, N = 10.  Full: M = 3 and 10, N = 10, 50, 200.
        ``BENCH_ECONOMY='3:10,50;10:10'`` chooses others.
        """
        spec = os.environ.get('BENCH_ECONOMY')
        if not spec:
            return [(3, (10,))] if self.smoke else [
                (3, (10, 50, 200)), (10, (10, 50, 200))]
        sizes = []
        for part in spec.split(';'):
            m, ns = part.split(':')
            sizes.append((int(m), tuple(int(n) for n in ns.split(','))))
        return sizes

    def close(self):
        while self.cleanups:
            fn = self.cleanups.pop()
            try:
                fn()
            except Exception as exc:  # keep closing the others
                sys.stderr.write('cleanup %r failed: %s\n' % (fn, exc))
        if self._bed is not None and self._bed.owned:
            self._bed.stop()


def environment():
    """Facts about this run that make numbers comparable."""
    import platform
    info = {
        'python': platform.python_version(),
        'machine': platform.machine(),
        'cpus': os.cpu_count(),
        'time_utc': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
    }
    try:
        info['loadavg'] = os.getloadavg()
    except OSError:
        pass
    for dist in ('python-openstackclient', 'openstacksdk', 'osc-lib',
                 'keystoneauth1', 'nova'):
        try:
            from importlib import metadata
            info[dist] = metadata.version(dist)
        except Exception:
            info[dist] = None
    return info
