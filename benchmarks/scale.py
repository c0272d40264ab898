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

"""SCALE benchmarks (issue 19): fleet-size drains and a busy watch.

``drain-scale`` (own bed: C computes, Nova's
``max_concurrent_live_migrations`` 10)
  For each size (N servers, M source hosts): N servers booted on
  compute1..M (N/M each, held ``running`` t s by the fake driver), then
  the real CLI ``openstack compute drain compute1 .. computeM
  --max-parallel 2 --max-per-target 0 --enable-when-done`` through the
  counting proxy, so the drain runs k = 2M migrations at a time (2 per
  source; the scheduler places them on the other C - M hosts).  Figures
  of the CLI process (``wait4`` of the child): peak RSS and CPU seconds
  (user + system); of the proxy: requests, ``GET /os-migrations``
  (one per poll and source host), requests per poll and source host;
  of Nova's records: makespan (first ``created_at`` to last
  ``updated_at``) / (ceil(N/k) x mean record duration), and the largest
  overlap (<= k).  Full: (N, M) = (50, 2) and (150, 5) on C = 12
  (``BENCH_SCALE='50:2,150:5'``, ``BENCH_SCALE_COMPUTES=12``); smoke:
  (20, 3) on the 4-compute bed of ``drain-makespan`` (shared).  Every
  figure is judged within the run: ratios, CPU and requests, never wall
  time.

``watch-scale`` (same bed)
  W servers (>= 50 full, 8 smoke) live-migrated at once straight on the
  bed with a long hold, then ``openstack migration watch --all
  --interval 2 --timeout T`` through the proxy on a pseudo-terminal of
  fixed size (100 x 30): requests per poll, CPU per poll (start-up CPU,
  measured by a ``--help`` run, taken out), and the rendered terminal:
  the captured byte stream replayed on a small VT100 model
  (:class:`Screen`) gives the final screen and how many lines went to
  the scrollback; the widest line must fit the width, the progress
  block must fit the height (a taller block cannot be redrawn in place:
  every redraw pushes stale bars into the scrollback).
"""

import concurrent.futures
import datetime
import fcntl
import json
import math
import os
import pty
import re
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import urllib.parse

from benchmarks import common
from benchmarks import drain as drain_bench
from benchmarks import fleet
from benchmarks import harness
from benchmarks import startup

MAX_CONCURRENT = drain_bench.MAX_CONCURRENT
HOLD_KEY = drain_bench.HOLD_KEY
#: terminal size of the watch capture
COLS, ROWS = 100, 30
#: states of a migration in flight (os-migrations)
IN_FLIGHT = ('queued', 'preparing', 'running', 'accepted', 'pre-migrating',
             'post-migrating', 'migrating')


def _sizes(ctx):
    if ctx.smoke:
        return [(20, 3)]
    spec = os.environ.get('BENCH_SCALE', '50:2,150:5')
    return [tuple(int(x) for x in part.split(':'))
            for part in spec.split(',')]


def _computes(ctx):
    if ctx.smoke:
        return drain_bench.COMPUTES          # drain-makespan's bed
    return int(os.environ.get('BENCH_SCALE_COMPUTES', '12'))


def _bed(ctx, computes):
    key = 'scale-bed-%d' % computes
    bed = ctx.cache.get(key)
    if bed is None:
        from testbed import client
        started = time.monotonic()
        # The same configuration as drain-makespan's bed: at C = 4 (the
        # smoke) one bed serves both.
        bed = client.Bed.get(computes=computes, extra_args=(
            '--max-concurrent-live-migrations', str(MAX_CONCURRENT)))
        ctx.cache[key] = bed
        if bed.owned:
            ctx.cleanups.append(bed.stop)
        seconds = round(time.monotonic() - started, 1)
        ctx.cache['scale-bed-start'] = {
            'seconds': seconds, 'computes': computes, 'pid': bed.pid,
            # Bed.get() returns a bed of the same configuration this
            # process already started (drain-makespan's, in the smoke).
            'reused': seconds < 1.0}
        ctx.log('scale bed (%d computes) ready in %.1f s (pid %s)',
                computes, time.monotonic() - started, bed.pid)
    return bed


def _proc_stat(pid):
    """(CPU seconds, RSS MiB) of a running process from /proc."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        tick = os.sysconf('SC_CLK_TCK')
        cpu = (int(fields[11]) + int(fields[12])) / float(tick)
        rss = int(fields[21]) * os.sysconf('SC_PAGE_SIZE') / 1048576.0
        return cpu, rss
    except (OSError, IndexError, ValueError):
        return None, None


def _idle_cpu(bed, seconds):
    """Percent of one core the bed uses over ``seconds`` of nothing."""
    if not bed.pid:
        return None
    cpu0, _rss = _proc_stat(bed.pid)
    time.sleep(seconds)
    cpu1, _rss = _proc_stat(bed.pid)
    if cpu0 is None or cpu1 is None:
        return None
    return round(100.0 * (cpu1 - cpu0) / seconds, 1)


# -- booting ------------------------------------------------------------------

def _boot(ctx, bed, per_host, hold, tag):
    """``{host: [ids]}``: per_host[host] servers on each host, held."""
    flavor = bed.flavor(*fleet.FLAVOR)
    from testbed import fakecloud
    local = threading.local()
    jobs = [(host, 'bench-scale-%s-%s-%03d' % (tag, host, i))
            for host, n in per_host.items() for i in range(n)]

    def create(job):
        host, name = job
        conn = getattr(local, 'conn', None)
        if conn is None:
            conn = local.conn = fleet._connection(bed)
        return host, conn.compute.create_server(
            name=name, flavor_id=flavor.id, networks='none',
            image_id=fakecloud.IMAGE_CIRROS,
            metadata={HOLD_KEY: str(hold)},
            availability_zone='nova:%s' % host).id

    started = time.monotonic()
    out = {host: [] for host in per_host}
    for i in range(0, len(jobs), fleet.BATCH):
        with concurrent.futures.ThreadPoolExecutor(fleet.THREADS) as pool:
            made = list(pool.map(create, jobs[i:i + fleet.BATCH]))
        for host, sid in made:
            out[host].append(sid)
        fleet._wait_active(bed, [sid for _h, sid in made],
                           started + 1800)
        ctx.log('%d/%d servers ACTIVE (%.0f s)', i + len(made), len(jobs),
                time.monotonic() - started)
    return out


def _delete(bed, ids):
    for sid in ids:
        try:
            bed.delete_server(sid, wait=False)
        except Exception:
            pass


def _delete_and_wait(ctx, bed, ids, timeout=600):
    """Delete the servers and wait until the bed lists none of them."""
    _delete(bed, ids)
    compute = bed.connection().compute
    left = set(ids)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        time.sleep(2)
        left &= {s.id for s in compute.servers(
            details=False, all_projects=True)}
    ctx.log('deleted %d servers (%d left)', len(ids), len(left))


def _wait_empty(ctx, bed, hosts, timeout=300):
    """Until ``hosts`` hold no server (another benchmark's being deleted).

    The smoke run shares drain-makespan's bed, whose servers are deleted
    without waiting: the drain of ``hosts`` must see only its own.
    """
    compute = bed.connection().compute
    deadline = time.monotonic() + timeout
    while True:
        left = [s.id for h in hosts for s in compute.servers(
            details=False, all_projects=True, compute_host=h)]
        if not left:
            return
        if time.monotonic() > deadline:
            raise RuntimeError('%d servers still on %s' % (
                len(left), ', '.join(hosts)))
        ctx.log('%d servers still on %s: waiting', len(left),
                ', '.join(hosts))
        time.sleep(2)


def _set_hold(bed, ids, hold):
    compute = bed.connection().compute
    for sid in ids:
        compute.set_server_metadata(sid, **{HOLD_KEY: str(hold)})


# -- measuring a CLI process -------------------------------------------------


def _polls(events):
    """Polls in a request log: cycles of ``GET /os-migrations?host=``.

    A drain's poll lists each source host in flight once, in host-name
    order; a list whose host does not sort after the previous list's
    starts a new poll (a poll listing a host twice counts as two).
    Lists without a host (a watch of everything) are one poll each.
    """
    polls, last = 0, None
    for e in sorted(events, key=lambda e: e.time):
        if e.method != 'GET' or not e.path.endswith('/os-migrations'):
            continue
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(
            e.raw_path).query)
        host = (query.get('host') or [None])[0]
        if host is None or last is None or host <= last:
            polls += 1
        last = host
    return polls


class Usage:
    def __init__(self, returncode, output, usage, wall, counts,
                 events=()):
        self.returncode = returncode
        self.output = output
        self.maxrss_mib = usage.get('maxrss_kb', 0) / 1024.0
        self.cpu = usage.get('utime', 0.0) + usage.get('stime', 0.0)
        self.wall = wall
        self.counts = counts
        self.events = list(events)

    @property
    def requests(self):
        return sum(self.counts.values())

    def count(self, method, suffix):
        return sum(n for (_s, m, p), n in self.counts.items()
                   if m == method and p.endswith(suffix))

    def by_path(self):
        return {'%s %s %s' % (m, s, p): n
                for (s, m, p), n in sorted(self.counts.items())}


def run_cli(cloud, argv, timeout, tty=None, env=None):
    """``openstack ARGV`` through ``cloud``'s proxy; a :class:`Usage`.

    ``tty=(cols, rows)`` runs it on a pseudo-terminal of that size
    (stdout and stderr) and returns the bytes written to it as
    ``output``; else stdout + stderr.
    """
    cmd = [startup.openstack_binary(), '--os-cloud', harness.CLOUD] + [
        str(a) for a in argv]
    env = dict(cloud.env(), **(env or {}))
    tmp = tempfile.mkdtemp(prefix='bench-scale-')
    usage_file = os.path.join(tmp, 'usage.json')
    full = [sys.executable, '-S', '-c', harness.USAGE_WRAPPER,
            usage_file] + cmd
    cloud.proxy.reset()
    started = time.perf_counter()
    if tty:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ,
                    struct.pack('HHHH', tty[1], tty[0], 0, 0))
        env.update(COLUMNS=str(tty[0]), LINES=str(tty[1]), TERM='vt100')
        proc = subprocess.Popen(full, stdin=subprocess.DEVNULL,
                                stdout=slave, stderr=slave, env=env)
        os.close(slave)
        chunks = []
        reader = threading.Thread(target=_read_all, args=(master, chunks),
                                  daemon=True)
        reader.start()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()        # the wrapper, by its PID
            proc.wait(30)
        reader.join(10)
        os.close(master)
        output = b''.join(chunks).decode('utf-8', 'replace')
    else:
        proc = subprocess.Popen(full, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=env, text=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            output, _ = proc.communicate()
    wall = time.perf_counter() - started
    try:
        with open(usage_file) as f:
            usage = json.load(f)
    except (OSError, ValueError):
        usage = {}
    for name in os.listdir(tmp):
        os.unlink(os.path.join(tmp, name))
    os.rmdir(tmp)
    return Usage(proc.returncode, output, usage, wall,
                 cloud.proxy.counts(), cloud.proxy.events())


def _read_all(fd, chunks):
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:          # EIO: the other side is closed
            return
        if not data:
            return
        chunks.append(data)


# -- a small terminal ---------------------------------------------------------

class Screen:
    """What a VT100 of ``cols`` x ``rows`` shows after some output.

    Just what the plugin's renderers use: printable text (wrapping at
    the right margin), ``\\r``, ``\\n``, ``ESC [ n A`` (cursor up,
    stopping at the top row), ``ESC [ J`` (clear to the end of the
    screen), ``ESC [ K`` (clear to the end of the line); other CSI
    sequences are ignored.  ``scrolled`` counts the lines pushed off the
    top into the scrollback, ``wrapped`` the lines longer than the width
    (the terminal wraps them), ``up_clamped`` the cursor-up moves that
    the top of the screen stopped (a block taller than the screen).
    """

    _CSI = re.compile(r'\x1b\[([0-9;?]*)([A-Za-z])')

    def __init__(self, cols, rows):
        self.cols, self.rows = cols, rows
        self.lines = [''] * rows
        self.row = self.col = 0
        self.scrolled = 0
        self.scrollback = []
        self.widest = 0
        self.wrapped = 0          # lines longer than the width (wrapped)
        self.up_clamped = 0       # cursor-up moves stopped by the top

    def feed(self, text):
        pos = 0
        for match in self._CSI.finditer(text):
            self._text(text[pos:match.start()])
            self._csi(match.group(1), match.group(2))
            pos = match.end()
        self._text(text[pos:])

    def _newline(self):
        self.col = 0
        if self.row == self.rows - 1:
            self.scrollback.append(self.lines.pop(0))
            self.lines.append('')
            self.scrolled += 1
        else:
            self.row += 1

    def _text(self, text):
        for ch in text:
            if ch == '\n':
                self._newline()
            elif ch == '\r':
                self.col = 0
            elif ch >= ' ':
                if self.col >= self.cols:
                    self.wrapped += 1
                    self.widest = max(self.widest, self.cols + 1)
                    self._newline()
                line = self.lines[self.row].ljust(self.col)
                self.lines[self.row] = (line[:self.col] + ch
                                        + line[self.col + 1:])
                self.col += 1
                self.widest = max(self.widest, self.col)

    def _csi(self, args, final):
        n = int(args) if args.isdigit() else 1
        if final == 'A':
            if n > self.row:
                self.up_clamped += 1
            self.row = max(0, self.row - n)
        elif final == 'J':
            self.lines[self.row] = self.lines[self.row][:self.col]
            for r in range(self.row + 1, self.rows):
                self.lines[r] = ''
        elif final == 'K':
            self.lines[self.row] = self.lines[self.row][:self.col]

    def visible(self):
        return [line.rstrip() for line in self.lines]


# -- records ------------------------------------------------------------------

def _records(bed, ids, since):
    return drain_bench._records(bed, ids, since)


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _in_flight(bed, ids):
    ids = set(ids)
    return sum(1 for m in bed.connection().compute.migrations(
        migration_type='live-migration')
        if m.server_id in ids and m.status in IN_FLIGHT)


# -- drain-scale --------------------------------------------------------------

def where_time_goes(records, report_path):
    """Mean gaps of a drain between Nova's records and the drain's report.

    ``seen``: a record's end (``updated_at``) to the drain concluding the
    server (``finished_at``: the poll that saw the end, then the check;
    a live migration's slot is freed before the check, pace.py);
    ``restart``: a conclusion to the next request (``submitted_at``), for
    the conclusions followed by one; ``end_to_request``: a record's end
    to the next request, for the ends followed by one (the time the
    drain adds between two migrations); ``request_to_record``: a request
    to its record's ``created_at`` (the request and Nova's pre-checks).
    All UTC timestamps of one machine.  None without a readable report.
    """
    try:
        with open(report_path) as f:
            entries = {e['id']: e for e in json.load(f)['servers']}
    except (OSError, ValueError, KeyError):
        return None
    parse = drain_bench._parse
    seen, req = [], []
    for r in records:
        e = entries.get(r['server'])
        if not e or not e.get('finished_at') or not e.get('submitted_at'):
            continue
        seen.append((parse(e['finished_at']) - parse(r['updated_at']))
                    .total_seconds())
        req.append((parse(r['created_at']) - parse(e['submitted_at']))
                   .total_seconds())
    starts = sorted(parse(e['submitted_at']) for e in entries.values()
                    if e.get('submitted_at'))
    restart = []
    for e in entries.values():
        if not e.get('finished_at'):
            continue
        end = parse(e['finished_at'])
        later = [s for s in starts if s >= end]
        if later:
            restart.append((later[0] - end).total_seconds())
    ends = sorted(parse(r['updated_at']) for r in records
                  if r.get('updated_at'))
    end_to_request = []
    for end in ends:
        later = [st for st in starts if st >= end]
        if later:
            end_to_request.append((later[0] - end).total_seconds())
    try:
        os.unlink(report_path)
    except OSError:
        pass
    if not seen:
        return None
    return {'seen': round(sum(seen) / len(seen), 3),
            'seen_max': round(max(seen), 3),
            'restart': round(sum(restart) / len(restart), 3)
            if restart else 0.0,
            'end_to_request': round(
                sum(end_to_request) / len(end_to_request), 3)
            if end_to_request else 0.0,
            'request_to_record': round(sum(req) / len(req), 3)}


def _drain_size(ctx, bed, cloud, n, m, hold, name):
    sources = ['compute%d' % (i + 1) for i in range(m)]
    per_host = {h: n // m + (1 if i < n % m else 0)
                for i, h in enumerate(sources)}
    _wait_empty(ctx, bed, sources)
    boot = _boot(ctx, bed, per_host, hold, 'd%d' % n)
    ids = [sid for host in sources for sid in boot[host]]
    k = 2 * m
    at = 'N=%d M=%d' % (n, m)
    rows = []
    try:
        since = _utcnow() - datetime.timedelta(seconds=1)
        bed_cpu0, _rss = _proc_stat(bed.pid) if bed.pid else (None, None)
        report = tempfile.mktemp(prefix='bench-scale-report-',
                                 suffix='.json')
        argv = ['compute', 'drain'] + sources + [
            '--max-parallel', '2', '--max-per-target', '0',
            *drain_bench.LIVE_LIMIT,
            '--poll-interval', '2', '--enable-when-done', '--report',
            report, '-f', 'json']
        ctx.log('drain %s (k=%d, hold %s s)', at, k, hold)
        u = run_cli(cloud, argv, timeout=3600 + 30 * n)
        bed_cpu1, bed_rss = _proc_stat(bed.pid) if bed.pid else (None, None)
        if u.returncode != 0:
            raise RuntimeError('compute drain %s -> %d: %s' % (
                at, u.returncode, u.output[-600:]))
        time.sleep(1)
        records = _records(bed, ids, since)
        span, peak = drain_bench._span_and_overlap(records)
        durations = [(drain_bench._parse(r['updated_at'])
                      - drain_bench._parse(r['created_at'])).total_seconds()
                     for r in records if r['updated_at']]
        mean = sum(durations) / len(durations) if durations else None
        rounds = math.ceil(n / float(k))
        gaps = where_time_goes(records, report)
        hosts = drain_bench._hosts_of(bed, ids)
        moved = sum(1 for h in hosts.values() if h not in sources)
        lists = u.count('GET', '/os-migrations')
        polls = _polls(u.events)
        posts = u.count('POST', '/action')
        reads = u.count('GET', '/servers/{id}/migrations')
        per_poll = round(lists / float(polls) / m, 2) if polls else None
        ratio = round(span / (rounds * mean), 3) if span and mean else None
        data = {'argv': argv, 'by_path': u.by_path(), 'records': len(records),
                'durations': durations, 'wall': round(u.wall, 1),
                'bed_cpu': (round(bed_cpu1 - bed_cpu0, 1)
                            if bed_cpu0 is not None else None),
                'bed_rss_mib': bed_rss, 'moved': moved}
        rows += [
            common.Row(name, 'CLI peak RSS, %s' % at,
                       round(u.maxrss_mib, 1), 'MiB',
                       note='ru_maxrss of the openstack process',
                       data=data),
            common.Row(name, 'CLI CPU seconds, %s' % at, round(u.cpu, 2),
                       's', note='user+system; %.3f s per server; wall '
                                 '%.0f s' % (u.cpu / n, u.wall)),
            common.Row(name, 'requests, %s' % at, u.requests, '',
                       note='%d os-migrations lists, %d actions, %d '
                            'progress reads, %.1f per server' % (
                                lists, posts, reads, u.requests / float(n))),
            common.judged(
                name, 'os-migrations lists per poll and source host, %s'
                % at, per_poll, '', '<=', 1.0,
                note='%d lists in %d polls (cycles of host-ordered lists)'
                % (lists, polls)),
            common.Row(
                name, 'requests per poll, %s' % at,
                round(u.requests / float(polls), 2) if polls else None, '',
                note='all requests / polls; per server: 1 action, 1 GET '
                     'server (verify), %.2f progress reads' % (
                         reads / float(n))),
            common.judged(
                name, 'makespan / (ceil(N/k) x mean migration), %s k=%d' % (
                    at, k), ratio, 'x', '<=', 1.10,
                note='records %.1f s over %d rounds of %.1f s (hold %s s); '
                     '%d/%d moved' % (span or 0, rounds, mean or 0, hold,
                                      moved, n)),
            common.judged(
                name, 'max concurrent (records), %s' % at, peak, '', '<=',
                k, note='k = 2 per source x M'),
        ]
        if gaps:
            rows.append(common.Row(
                name, 'between migrations (mean), %s' % at,
                round(gaps['end_to_request'] +
                      gaps['request_to_record'], 2), 's',
                note='next request %.2f s after a record ended, its '
                     'record %.2f s after the request; a server done '
                     '(verified) %.2f s after its record ended (max '
                     '%.2f)' % (gaps['end_to_request'],
                                gaps['request_to_record'], gaps['seen'],
                                gaps['seen_max']),
                data=gaps))
        if data['bed_cpu'] is not None:
            rows.append(common.Row(
                name, 'bed CPU seconds during the drain, %s' % at,
                data['bed_cpu'], 's',
                note='Nova+Placement (one process), %.2f s per migration; '
                     'bed RSS %.0f MiB' % (data['bed_cpu'] / n, bed_rss)))
        if moved != n:
            rows.append(common.judged(name, 'servers moved, %s' % at, moved,
                                      '', '==', n))
        return rows, ids
    except BaseException:
        _delete(bed, ids)
        raise


@common.benchmark('drain-scale', needs_bed=True)
def drain_scale(ctx):
    """compute drain of N servers from M hosts: RSS, CPU, requests/poll."""
    name = 'drain-scale'
    computes = _computes(ctx)
    hold = 1 if ctx.smoke else int(os.environ.get('BENCH_SCALE_HOLD', '3'))
    load = [round(x, 2) for x in os.getloadavg()]
    bed = _bed(ctx, computes)
    cloud = ctx.cache.get('scale-cloud-%d' % computes)
    if cloud is None:
        cloud = ctx.cache['scale-cloud-%d' % computes] = \
            harness.ProxiedCloud(bed, max_lifetime=4 * 3600.0)
        ctx.cleanups.append(cloud.close)
    rows = []
    idle = _idle_cpu(bed, 5 if ctx.smoke else 20)
    if idle is not None:
        rows.append(common.Row(
            name, 'bed idle CPU, %d computes' % computes, idle, '%',
            note="of one core: heartbeats (every 2 s) and periodics of "
                 "the computes, nothing running"))
    per_size = {}
    sizes = _sizes(ctx)
    ctx.cleanups.append(lambda: _delete(bed, ctx.cache.get(
        'scale-servers', [])))
    for i, (n, m) in enumerate(sizes):
        if m >= computes:
            raise RuntimeError('%d sources need more than %d computes' % (
                m, computes))
        size_rows, ids = _drain_size(ctx, bed, cloud, n, m, hold, name)
        rows += size_rows
        per_size[(n, m)] = size_rows
        if i < len(sizes) - 1:
            # The next size's sources must hold only its own servers.
            _delete_and_wait(ctx, bed, ids)
        else:
            # migration watch (watch-scale) moves them again.
            ctx.cache['scale-servers'] = ids
    if len(per_size) > 1:
        (n0, m0), (n1, m1) = sorted(per_size)[0], sorted(per_size)[-1]

        def val(size, prefix):
            return next(r.value for r in per_size[size]
                        if r.metric.startswith(prefix))
        for prefix, what in (('CLI peak RSS', 'peak RSS'),
                             ('CLI CPU seconds', 'CPU seconds'),
                             ('requests, ', 'requests')):
            a, b = val((n0, m0), prefix), val((n1, m1), prefix)
            rows.append(common.Row(
                name, '%s growth N=%d/M=%d -> N=%d/M=%d' % (
                    what, n0, m0, n1, m1),
                round(b / float(a), 2) if a else None, 'x',
                note='N x%.1f, M x%.1f; %s -> %s' % (
                    n1 / float(n0), m1 / float(m0), a, b)))
    start = ctx.cache.get('scale-bed-start', {})
    rows.append(common.Row(
        name, 'bed', '%d computes' % computes, '',
        note='%s; load average %s at start (2 cores)' % (
            'already running' if start.get('reused') else
            'started in %s s' % start.get('seconds'), load), data=start))
    return rows


# -- watch-scale --------------------------------------------------------------

@common.benchmark('watch-scale', needs_bed=True)
def watch_scale(ctx):
    """migration watch --all, >= 50 in flight: requests, CPU per poll, TTY."""
    name = 'watch-scale'
    computes = _computes(ctx)
    want = int(os.environ.get('BENCH_WATCH_N', '8' if ctx.smoke else '56'))
    hold = 30 if ctx.smoke else 300
    window = 8 if ctx.smoke else 40
    interval = 2
    bed = _bed(ctx, computes)
    cloud = ctx.cache.get('scale-cloud-%d' % computes)
    if cloud is None:
        cloud = ctx.cache['scale-cloud-%d' % computes] = \
            harness.ProxiedCloud(bed, max_lifetime=4 * 3600.0)
        ctx.cleanups.append(cloud.close)
    # Servers of drain-scale when it ran (on its destinations), else new.
    ids = list(ctx.cache.get('scale-servers', []))[:want]
    own = []
    if len(ids) < want:
        hosts = bed.hosts
        per = {h: 0 for h in hosts}
        for i in range(want - len(ids)):
            per[hosts[i % len(hosts)]] += 1
        booted = _boot(ctx, bed, {h: c for h, c in per.items() if c}, hold,
                       'w')
        own = [sid for v in booted.values() for sid in v]
        ids += own
    _set_hold(bed, ids, hold)
    startup_usage = run_cli(cloud, ['migration', 'watch', '--help'], 120)
    started = time.monotonic()
    _live_migrate(bed, ids)
    submitted = time.monotonic()
    # Nova answers each request after its pre-checks (synchronous since
    # 2.30): under load the submissions take a while; the hold is long
    # enough for all of them to run at once.
    while True:
        flying = _in_flight(bed, ids)
        if flying >= len(ids) or time.monotonic() - submitted > max(
                30, hold / 4.0):
            break
        time.sleep(1)
    ctx.log('%d of %d migrations in flight after %.0f s (requests took '
            '%.0f s)', flying, len(ids), time.monotonic() - started,
            submitted - started)
    rows = []
    try:
        u = run_cli(cloud, ['migration', 'watch', '--all', '--interval',
                            str(interval), '--timeout', str(window)],
                    timeout=window + 120, tty=(COLS, ROWS))
        after = _in_flight(bed, ids)
        lists = u.count('GET', '/os-migrations')
        reads = u.count('GET', '/servers/{id}/migrations')
        screen = Screen(COLS, ROWS)
        screen.feed(u.output)
        bars = [line for line in screen.visible()
                if re.match(r'^\d+\s+\S+\s+\S+->\S+', line)]
        ids_on_screen = [line.split()[0] for line in bars]
        dup = len(ids_on_screen) - len(set(ids_on_screen))
        cpu_net = max(0.0, u.cpu - startup_usage.cpu)
        data = {'by_path': u.by_path(), 'screen': screen.visible(),
                'scrollback_tail': screen.scrollback[-40:],
                'returncode': u.returncode, 'wall': round(u.wall, 1)}
        at = '%d in flight' % flying
        budget = _progress_reads()
        # The first poll reads the progress of every migration once;
        # after it the watch samples at most PROGRESS_READS per poll.
        steady = None
        if lists > 1:
            steady = round((u.requests - flying - _discovery(u)) /
                           float(lists), 2)
        rows += [
            common.Row(name, 'migrations in flight at the start',
                       flying, '', note='%d still in flight at the end; '
                                        'hold %d s' % (after, hold)),
            common.judged(
                name, 'requests per poll after the first, %s' % at,
                steady, '', '<=', 1 + budget,
                note='%d requests, %d os-migrations lists, %d progress '
                     'reads (%d in the first poll) in %.0f s; budget 1 + '
                     'PROGRESS_READS' % (u.requests, lists, reads, flying,
                                         u.wall),
                data=data),
            common.Row(
                name, 'CPU per poll, %s' % at,
                round(cpu_net / lists, 3) if lists else None, 's',
                note='(%.2f s - %.2f s start-up (--help)) / %d polls; '
                     'peak RSS %.1f MiB' % (u.cpu, startup_usage.cpu, lists,
                                            u.maxrss_mib)),
            common.judged(
                name, 'lines wider than the terminal (%d columns)' % COLS,
                screen.wrapped, '', '==', 0,
                note='widest %d; wrapped lines break the table and the '
                     'bars' % screen.widest),
            common.judged(
                name, 'cursor-up redraws that overflow the screen '
                '(%d rows)' % ROWS, screen.up_clamped, '', '==', 0,
                note='a progress block taller than the screen cannot be '
                     'redrawn in place: %d bars on the last screen, %d '
                     'duplicates, %d lines scrolled (%.1f per poll)' % (
                         len(bars), dup, screen.scrolled,
                         screen.scrolled / float(max(lists, 1)))),
            common.Row(
                name, 'rendered output', '%d lines' % (
                    len(screen.scrollback) + len(screen.visible())), '',
                note='%d x %d pseudo-terminal, %d s window' % (
                    COLS, ROWS, window)),
        ]
    finally:
        if ctx.smoke:
            # The bed is drain-makespan's too: leave it quiet.
            deadline = time.monotonic() + hold + 120
            while time.monotonic() < deadline and _in_flight(bed, ids):
                time.sleep(2)
        _delete(bed, own)
    return rows


def _live_migrate(bed, ids):
    """Request the live migrations, scheduler-placed, from a few threads."""
    local = threading.local()

    def migrate(sid):
        conn = getattr(local, 'conn', None)
        if conn is None:
            conn = local.conn = fleet._connection(bed)
        conn.compute.live_migrate_server(sid, host=None,
                                         block_migration='auto')
    with concurrent.futures.ThreadPoolExecutor(fleet.THREADS) as pool:
        list(pool.map(migrate, ids))


def _progress_reads():
    from migrationclient.v1 import watch as watch_cmd
    return watch_cmd.PROGRESS_READS


def _discovery(u):
    return sum(n for (_s, _m, p), n in u.counts.items()
               if harness.is_discovery(p))
