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

"""DRAIN benchmarks: makespan and polling cost of ``compute drain``.

Both use a bed of their own (``--computes 4``, compute1 the source,
compute2..4 the destinations, ``--max-concurrent-live-migrations 10`` so
that Nova's per-compute limit, 1 by default, does not cap the drain),
started once and stopped by its PID when the run ends.  Every migration
is held ``running`` for ``t`` seconds by the fake driver
(``fakecloud:hold=t`` metadata set at boot).

``drain-makespan``
  N servers on compute1; ``openstack compute drain compute1 --max-parallel
  k --enable-when-done`` (defaults otherwise: destinations chosen by the
  drain, ``--max-per-target 1``, ``--poll-interval 2``) for k = 1 and 3;
  makespan / (ceil(N/k) x t), judged <= 1.15.  Makespan is taken from the
  migration records (first ``created_at`` to last ``updated_at``) and, for
  the operator's view, as the wall time of the CLI process.  The records
  also give the largest number of migrations of the drain that overlapped
  (judged <= k).  A one-server drain (one server brought back alone to
  compute1) then gives the single-migration time s on the bed, and the
  makespan is also divided by ceil(N/k) x s (issue #4's wording, judged
  <= 1.15): Nova's own time per migration (t plus its pre-checks, RPC and
  post-migration work) is then not counted against the drain.  Without
  ``--smoke``, the same N servers are then moved by
  a sequential loop of ``openstack server migrate --live-migration --wait``
  (one CLI process per server, as in the runbook) and the loop's wall time
  is compared with the k = 3 drain's (judged >= 2.5x).  Between runs the
  servers are brought back to compute1 by an untimed drain of compute2..4
  straight against the bed.  A reduced run: ``BENCH_DRAIN_N=6
  BENCH_DRAIN_K=1,3 BENCH_DRAIN_COMPARE=0`` (no loop, no novaclient).
``drain-polling``
  10 servers on compute1 held 100 s; ``compute drain compute1
  --max-parallel 10 --max-per-target 4`` through one counting proxy and
  ``migration watch --host compute1`` through another, both running with
  their default progress sampling; once the 10 migrations are ``running``
  (seen directly on the bed) both proxies are reset, and after a window of
  W = 60 s (longer than the drain's default ``--progress-interval``, 50 s,
  so that a whole sampling cycle is in it) the requests each one saw are
  read: requests per minute by path, progress reads per poll and requests
  per poll (a poll being one ``GET /os-migrations``, one host), judged
  against the sampling budget (drain: 10 x 2 s / 50 s = 0.4 reads per
  poll; watch: at most 4).
"""

import datetime
import math
import os
import subprocess
import time

from benchmarks import common
from benchmarks import harness
from benchmarks import startup

COMPUTES = 4
SOURCE = 'compute1'
MAX_CONCURRENT = 10
#: The drain told the bed's max_concurrent_live_migrations, as an operator
#: would (its default is Nova's, 1: it would send one at a time)
LIVE_LIMIT = ('--max-live-per-source', str(MAX_CONCURRENT))
FLAVOR = ('bench.tiny', 1, 128, 1)
HOLD_KEY = 'fakecloud:hold'


def _bed(ctx):
    """Our own bed (4 computes, 10 concurrent live migrations)."""
    bed = ctx.cache.get('drain-bed')
    if bed is None:
        from testbed import client
        started = time.monotonic()
        bed = client.Bed.get(computes=COMPUTES, extra_args=(
            '--max-concurrent-live-migrations', str(MAX_CONCURRENT)))
        ctx.log('drain bed ready in %.1f s (%s, pid %s)',
                time.monotonic() - started, bed.state_dir, bed.pid)
        ctx.cache['drain-bed'] = bed
        ctx.cleanups.append(bed.stop)   # by its PID, only if we started it
    return bed


def _cloud(ctx, bed, key='drain-cloud'):
    cloud = ctx.cache.get(key)
    if cloud is None:
        cloud = ctx.cache[key] = harness.ProxiedCloud(bed)
        ctx.cleanups.append(cloud.close)
    return cloud


def _boot(ctx, bed, n, hold, tag):
    flavor = bed.flavor(*FLAVOR)
    started = time.monotonic()
    ids = []
    for i in range(n):
        server = bed.create_server(
            host=SOURCE, flavor=flavor, wait=False,
            metadata={HOLD_KEY: str(hold)},
            name='bench-drain-%s-%03d' % (tag, i))
        ids.append(server.id)
    for server_id in ids:
        bed.wait_for_server(server_id, 'ACTIVE', timeout=900)
    ctx.log('booted %d servers (hold %s s) on %s in %.1f s', n, hold,
            SOURCE, time.monotonic() - started)
    return ids


def _delete(bed, ids):
    for server_id in ids:
        try:
            bed.delete_server(server_id, wait=False)
        except Exception:
            pass


def _hosts_of(bed, ids):
    compute = bed.connection().compute
    return {sid: compute.get_server(sid).compute_host for sid in ids}


def _parse(ts):
    ts = ts.replace('Z', '')
    for fmt in ('%Y-%m-%dT%H:%M:%S.%f', '%Y-%m-%dT%H:%M:%S'):
        try:
            return datetime.datetime.strptime(ts[:26], fmt)
        except ValueError:
            pass
    raise ValueError(ts)


def _records(bed, ids, since):
    """Live-migration records of these servers created at or after since."""
    compute = bed.connection().compute
    ids = set(ids)
    out = []
    for mig in compute.migrations(migration_type='live-migration'):
        if mig.server_id not in ids or not mig.created_at:
            continue
        created = _parse(mig.created_at)
        if created < since:
            continue
        out.append({'id': mig.id, 'server': mig.server_id,
                    'status': mig.status, 'source': mig.source_compute,
                    'dest': mig.dest_compute,
                    'created_at': mig.created_at,
                    'updated_at': mig.updated_at})
    return out


def _span_and_overlap(records):
    """(first created -> last updated seconds, max overlap) of records.

    Intervals are half-open [created_at, updated_at): a migration whose
    record was updated at the instant another was created does not count
    as overlapping it.
    """
    if not records:
        return None, 0
    events = []
    for r in records:
        start = _parse(r['created_at'])
        end = _parse(r['updated_at'] or r['created_at'])
        events.append((start, 1))
        events.append((end, -1))
    events.sort(key=lambda e: (e[0], e[1]))   # ends before starts
    level = peak = 0
    for _when, delta in events:
        level += delta
        peak = max(peak, level)
    span = (max(_parse(r['updated_at']) for r in records)
            - min(_parse(r['created_at']) for r in records))
    return span.total_seconds(), peak


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _return_home(ctx, bed, ids):
    """Move every server back to the source (untimed, not proxied)."""
    away = sorted({h for h in _hosts_of(bed, ids).values() if h != SOURCE})
    if not away:
        return
    started = time.monotonic()
    result = bed.openstack(
        'compute', 'drain', *away, '--target-host', SOURCE,
        '--max-parallel', str(MAX_CONCURRENT), '--max-per-target', '0',
        *LIVE_LIMIT, '--enable-when-done', '-f', 'json', check=False,
        timeout=1800)
    hosts = _hosts_of(bed, ids)
    if any(h != SOURCE for h in hosts.values()):
        raise RuntimeError('could not move the servers back to %s (rc %d): '
                           '%s' % (SOURCE, result.returncode,
                                   (result.stderr or result.stdout)[-400:]))
    ctx.log('servers back on %s in %.1f s', SOURCE,
            time.monotonic() - started)


def _single_run(ctx, bed, cloud, ids):
    """Span of a one-server drain: the single-migration time on the bed.

    Every server is off compute1 after a drain; one is brought back
    (untimed ``server migrate --live-migration --host``) and compute1 is
    drained at k = 1.  Issue #4's yardstick: the makespan against
    ceil(N/k) x this time.
    """
    away = [sid for sid, host in _hosts_of(bed, ids).items()
            if host != SOURCE]
    if len(away) != len(ids):
        raise RuntimeError('single-server drain: %d of %d servers still on '
                           '%s' % (len(ids) - len(away), len(ids), SOURCE))
    bed.openstack('server', 'migrate', '--live-migration', '--host', SOURCE,
                  '--wait', away[0], timeout=600)
    since = _utcnow() - datetime.timedelta(seconds=1)
    m = cloud.measure_cli('drain single', [
        'compute', 'drain', SOURCE, '--max-parallel', '1', *LIVE_LIMIT,
        '--enable-when-done', '-f', 'json'], ok_returncodes=(0,),
        timeout=600)
    time.sleep(1)
    span, _peak = _span_and_overlap(_records(bed, away[:1], since))
    ctx.log('single-server drain: %.1f s (records), %.1f s CLI wall',
            span or 0, m.wall)
    return span, m.wall


def _drain_run(ctx, bed, cloud, ids, n, k, hold, name):
    since = _utcnow() - datetime.timedelta(seconds=1)
    argv = ['compute', 'drain', SOURCE, '--max-parallel', str(k),
            *LIVE_LIMIT, '--enable-when-done', '-f', 'json']
    m = cloud.measure_cli('drain k=%d' % k, argv, ok_returncodes=(0,),
                          timeout=3600)
    time.sleep(1)
    records = _records(bed, ids, since)
    span, peak = _span_and_overlap(records)
    ideal = math.ceil(n / float(k)) * hold
    durations = [(_parse(r['updated_at']) - _parse(r['created_at']))
                 .total_seconds() for r in records if r['updated_at']]
    mean = sum(durations) / len(durations) if durations else float(hold)
    hosts = _hosts_of(bed, ids)
    moved = sum(1 for h in hosts.values() if h != SOURCE)
    data = {'argv': argv, 'records': records, 'by_path': m.by_path(),
            'wall': m.wall, 'ideal': ideal, 'durations': durations,
            'moved': moved,
            'destinations': sorted(set(hosts.values()))}
    rows = [
        common.judged(
            name, 'makespan / (ceil(N/k) x t), N=%d k=%d t=%s' % (
                n, k, hold),
            round(span / ideal, 3) if span else None, 'x', '<=', 1.15,
            note='records: %.1f s over %d s ideal; %d/%d moved' % (
                span or 0, ideal, moved, n), data=data),
        common.Row(
            name, 'CLI wall / (ceil(N/k) x t), N=%d k=%d' % (n, k),
            round(m.wall / ideal, 3), 'x',
            note='%.1f s incl. CLI start-up; %d requests' % (
                m.wall, m.requests)),
        common.Row(
            name, 'makespan / (ceil(N/k) x mean migration), N=%d k=%d' % (
                n, k),
            round(span / (math.ceil(n / float(k)) * mean), 3)
            if span else None, 'x',
            note='mean record duration %.1f s for a %s s hold (Nova '
                 'overhead %.1f s)' % (mean, hold, mean - hold)),
        common.judged(
            name, 'max concurrent (records), N=%d k=%d' % (n, k), peak, '',
            '<=', k, note='%d live-migration records' % len(records)),
    ]
    if m.peak_rss_kb:
        rows.append(common.Row(
            name, 'peak RSS of the drain process, N=%d k=%d' % (n, k),
            round(m.peak_rss_kb / 1024.0, 1), 'MiB',
            note='ru_maxrss of the openstack process',
            data={'peak_rss_kb': m.peak_rss_kb}))
    return rows, m.wall, span


NOVACLIENT_PATH = os.environ.get('BENCH_NOVACLIENT_PATH', '/tmp/ncpkgs')


def _novaclient_run(ctx, bed, cloud, ids, interval=2.0, timeout=1800):
    """novaclient host-evacuate-live, then poll until compute1 is empty.

    novaclient's own ``do_host_evacuate_live`` (the shell command's code)
    on a Python API client (keystoneauth session, no auth: the bed trusts
    loopback) through the counting proxy; then one ``GET /servers/detail
    ?host=compute1&all_tenants=1`` every ``interval`` seconds until the
    host holds none of the servers and all are ACTIVE.  ``None`` when
    novaclient cannot be imported.
    """
    import argparse
    import contextlib
    import io
    import sys
    import yaml
    if NOVACLIENT_PATH and NOVACLIENT_PATH not in sys.path:
        sys.path.append(NOVACLIENT_PATH)
    try:
        from keystoneauth1 import noauth
        from keystoneauth1 import session as ks_session
        from novaclient import api_versions
        from novaclient import client as nova_client
        from novaclient.v2 import shell as nova_shell
    except ImportError:
        return None
    with open(cloud.clouds_yaml) as f:
        endpoint = yaml.safe_load(f)['clouds'][harness.CLOUD][
            'compute_endpoint_override']
    cloud.proxy.reset()
    started = time.perf_counter()
    sess = ks_session.Session(auth=noauth.NoAuth(endpoint=endpoint))
    cs = nova_client.Client(api_versions.APIVersion('2.80'), session=sess,
                            endpoint_override=endpoint)
    args = argparse.Namespace(
        host=SOURCE, target_host=None, block_migrate='auto',
        max_servers=None, strict=True)   # what the shell passes at 2.80
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        nova_shell.do_host_evacuate_live(cs, args)
    returned = time.perf_counter() - started
    ctx.log('host-evacuate-live returned after %.1f s', returned)
    if 'True' not in out.getvalue():
        raise RuntimeError('host-evacuate-live moved nothing: %s'
                           % out.getvalue()[-400:])
    wanted = set(ids)
    while time.perf_counter() - started < timeout:
        time.sleep(interval)
        left = [s for s in cs.servers.list(search_opts={
            'host': SOURCE, 'all_tenants': 1}) if s.id in wanted]
        if not left:
            states = [cs.servers.get(i).status for i in ids]
            if all(st == 'ACTIVE' for st in states):
                break
    wall = time.perf_counter() - started
    m = harness.Measurement('novaclient', wall, cloud.proxy.counts(), {})
    return wall, returned, m


def _loop_run(ctx, bed, ids):
    """Sequential `openstack server migrate --live-migration --wait`."""
    env = bed.env()
    binary = startup.openstack_binary()
    started = time.perf_counter()
    for sid in ids:
        proc = subprocess.run(
            [binary, '--os-cloud', 'fakecloud', 'server', 'migrate',
             '--live-migration', '--wait', sid],
            capture_output=True, text=True, env=env, timeout=900)
        if proc.returncode != 0:
            raise RuntimeError('server migrate %s -> %d: %s' % (
                sid, proc.returncode, (proc.stderr or proc.stdout)[-400:]))
    return time.perf_counter() - started


@common.benchmark('drain-makespan', needs_bed=True)
def drain_makespan(ctx):
    """compute drain: makespan / (ceil(N/k) x t), k = 1, 3; vs a loop."""
    name = 'drain-makespan'
    n, hold = (4, 2) if ctx.smoke else (
        int(os.environ.get('BENCH_DRAIN_N', '30')), 5)
    # A reduced run: BENCH_DRAIN_K='1,3' (the k to drain with) and
    # BENCH_DRAIN_COMPARE=0 (no sequential loop, no novaclient).
    ks = (3,) if ctx.smoke else tuple(
        int(k) for k in os.environ.get('BENCH_DRAIN_K', '1,3').split(','))
    compare = not ctx.smoke and 3 in ks and os.environ.get(
        'BENCH_DRAIN_COMPARE', '1') != '0'
    bed = _bed(ctx)
    cloud = _cloud(ctx, bed)
    load = [round(x, 1) for x in os.getloadavg()]
    ids = _boot(ctx, bed, n, hold, 'm')
    rows, walls = [], {}
    try:
        # Smoke: k = 3 only (one drain, about 60 s with the bed start).
        for k in ks:
            _return_home(ctx, bed, ids)
            ctx.log('drain N=%d k=%d t=%s', n, k, hold)
            krows, wall, span = _drain_run(ctx, bed, cloud, ids, n, k, hold,
                                           name)
            rows.extend(krows)
            walls[k] = (wall, span)
        # Issue #4's wording: against ceil(N/k) x the single-migration
        # time, measured here by a one-server drain (all are off compute1).
        single, single_wall = _single_run(ctx, bed, cloud, ids)
        for k in ks:
            span = walls[k][1]
            rows.append(common.judged(
                name, 'makespan / (ceil(N/k) x single-server drain), '
                'N=%d k=%d' % (n, k),
                round(span / (math.ceil(n / float(k)) * single), 3)
                if span and single else None, 'x', '<=', 1.15,
                note='one-server drain: %.1f s (records), %.1f s CLI wall, '
                     'for a %s s hold' % (single or 0, single_wall, hold),
                data={'single': single, 'single_wall': single_wall}))
        if compare:
            _return_home(ctx, bed, ids)
            ctx.log('sequential loop N=%d', n)
            loop = _loop_run(ctx, bed, ids)
            wall3, span3 = walls[3]
            rows.append(common.judged(
                name, 'loop wall / drain k=3 wall, N=%d' % n,
                round(loop / wall3, 2), 'x', '>=', 2.5,
                note='loop %.1f s, drain %.1f s (CLI walls)' % (
                    loop, wall3),
                data={'loop_wall': loop, 'drain_wall': wall3}))
            rows.append(common.Row(
                name, 'loop wall / (N x t), N=%d' % n,
                round(loop / (n * hold), 2), 'x',
                note='per server %.1f s for a %d s hold' % (loop / n, hold)))
        if compare:
            _return_home(ctx, bed, ids)
            ctx.log('novaclient host-evacuate-live N=%d', n)
            nc = _novaclient_run(ctx, bed, cloud, ids)
            if nc is None:
                rows.append(common.Row(
                    name, 'novaclient host-evacuate-live', 'not run',
                    note='novaclient not importable (pip install '
                         '--target %s python-novaclient)' % NOVACLIENT_PATH))
            else:
                nc_wall, nc_ret, nc_m = nc
                wall3 = walls[3][0]
                rows.append(common.Row(
                    name, 'novaclient evacuate+poll wall / drain k=3 wall, '
                    'N=%d' % n, round(nc_wall / wall3, 2), 'x',
                    note='%.1f s (returns after %.1f s; %d requests) vs '
                         '%.1f s; Nova ran up to %d at once' % (
                             nc_wall, nc_ret, nc_m.requests, wall3,
                             MAX_CONCURRENT),
                    data={'by_path': nc_m.by_path()}))
        rows.append(common.Row(
            name, 'load average at start', str(load), '',
            note='2 cores; %s' % ('smoke' if ctx.smoke else 'full')))
    finally:
        _delete(bed, ids)
    return rows


def _ours_at(ctx, bed, cloud, ids, n):
    """Our drain at concurrency ``n``: (CLI wall, first request -> exit)."""
    from benchmarks import scale
    argv = ['compute', 'drain', SOURCE, '--max-parallel', str(n),
            '--max-per-target', '0', '--max-live-per-source', str(n),
            '--enable-when-done', '-f', 'json']
    started = time.time()
    u = scale.run_cli(cloud, argv, timeout=1800)
    if u.returncode != 0:
        raise RuntimeError('compute drain -> %d: %s' % (
            u.returncode, u.output[-400:]))
    ended = started + u.wall
    first_post = min(e.time - e.elapsed for e in u.events
                     if e.method == 'POST')
    return u.wall, ended - first_post, u


@common.benchmark('drain-vs-evacuate', needs_bed=True, smoke=False)
def drain_vs_evacuate(ctx):
    """compute drain vs novaclient host-evacuate-live, same concurrency."""
    name = 'drain-vs-evacuate'
    n = int(os.environ.get('BENCH_EVAC_N', str(MAX_CONCURRENT)))
    hold = int(os.environ.get('BENCH_EVAC_HOLD', '5'))
    reps = int(os.environ.get('BENCH_EVAC_REPS', '2'))
    bed = _bed(ctx)
    cloud = _cloud(ctx, bed)
    load = [round(x, 1) for x in os.getloadavg()]
    ids = _boot(ctx, bed, n, hold, 'e')
    rows, samples = [], []
    try:
        for rep in range(reps):
            # Alternating: novaclient first on even rounds.
            order = ('nova', 'ours') if rep % 2 == 0 else ('ours', 'nova')
            got = {}
            for who in order:
                _return_home(ctx, bed, ids)
                since = _utcnow() - datetime.timedelta(seconds=1)
                if who == 'nova':
                    nc = _novaclient_run(ctx, bed, cloud, ids)
                    if nc is None:
                        return [common.Row(
                            name, 'novaclient host-evacuate-live', 'not run',
                            note='novaclient not importable (pip install '
                                 '--target %s python-novaclient)'
                                 % NOVACLIENT_PATH)]
                    got['nova'] = nc[0]
                else:
                    wall, from_request, u = _ours_at(ctx, bed, cloud, ids, n)
                    got['ours'], got['ours_req'] = wall, from_request
                    got['ours_requests'] = u.requests
                time.sleep(1)
                span, peak = _span_and_overlap(_records(bed, ids, since))
                got[who + '_span'], got[who + '_peak'] = span, peak
            got['load'] = round(os.getloadavg()[0], 1)
            samples.append(got)
            ctx.log('evacuate vs drain, round %d: %s', rep, got)
        mean = {k: sum(s[k] for s in samples) / len(samples)
                for k in ('nova', 'ours', 'ours_req', 'nova_span',
                          'ours_span')}
        rows += [
            common.judged(
                name, 'drain wall / novaclient evacuate+poll wall, N=k=%d'
                % n, round(mean['ours'] / mean['nova'], 3), 'x', '<=', 1.1,
                note='%.1f s vs %.1f s (mean of %d alternating rounds); '
                     'ours: an openstack process (start-up, plan, verify '
                     'of every server), theirs: in-process, polling '
                     'the host every 2 s' % (
                         mean['ours'], mean['nova'], len(samples)),
                data={'samples': samples}),
            common.Row(
                name, 'drain first request->exit / novaclient wall, '
                'N=k=%d' % n, round(mean['ours_req'] / mean['nova'], 3), 'x',
                note='without the CLI start-up and the plan: %.1f s'
                     % mean['ours_req']),
            common.Row(
                name, 'records span, drain / novaclient, N=k=%d' % n,
                round(mean['ours_span'] / mean['nova_span'], 3), 'x',
                note='first record created -> last ended: %.1f s vs %.1f '
                     's; peak overlap %s vs %s' % (
                         mean['ours_span'], mean['nova_span'],
                         max(s['ours_peak'] for s in samples),
                         max(s['nova_peak'] for s in samples))),
            common.Row(name, 'load average at start', str(load), '',
                       note='2 cores; hold %d s' % hold),
        ]
    finally:
        _delete(bed, ids)
    return rows


def _in_flight(bed, ids):
    compute = bed.connection().compute
    ids = set(ids)
    return sum(1 for m in compute.migrations(
        migration_type='live-migration', host=SOURCE)
        if m.server_id in ids and m.status in ('running', 'preparing',
                                               'queued', 'accepted'))


@common.benchmark('drain-polling', needs_bed=True, smoke=False)
def drain_polling(ctx):
    """drain / migration watch: requests per minute, 10 in flight."""
    from migrationclient.engine import watch as watch_engine
    from migrationclient.v1 import watch as watch_cmd
    name = 'drain-polling'
    n, hold, window, interval = 10, 100, 60.0, 2.0
    # The sampling budgets of the defaults (see doc/source/user/watch.rst,
    # "Cost"): the drain reads each changed migration once per
    # --stuck-after / 6 = 50 s; the watch at most PROGRESS_READS per poll.
    progress = watch_engine.default_progress_interval(interval, 300)
    budgets = {'drain': n * interval / progress,
               'watch': float(watch_cmd.PROGRESS_READS)}
    bed = _bed(ctx)
    drain_cloud = _cloud(ctx, bed)
    watch_cloud = _cloud(ctx, bed, key='drain-cloud-watch')
    ids = _boot(ctx, bed, n, hold, 'p')
    procs = []
    rows = []
    try:
        _return_home(ctx, bed, ids)
        binary = startup.openstack_binary()
        drain_argv = ['compute', 'drain', SOURCE, '--max-parallel', str(n),
                      '--max-per-target', '4', *LIVE_LIMIT,
                      '--enable-when-done',
                      '--poll-interval', str(interval), '-f', 'json']
        watch_argv = ['migration', 'watch', '--host', SOURCE, '--interval',
                      str(interval), '--timeout', str(hold * 3)]
        procs.append(subprocess.Popen(
            [binary, '--os-cloud', harness.CLOUD] + drain_argv,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=drain_cloud.env()))
        deadline = time.monotonic() + hold
        running = 0
        while time.monotonic() < deadline:
            running = _in_flight(bed, ids)
            if running >= n:
                break
            time.sleep(0.5)
        if running < n:
            raise RuntimeError('only %d of %d migrations in flight' % (
                running, n))
        # The watch starts once the 10 run (it follows what it finds).
        watch_cloud.proxy.reset()
        procs.append(subprocess.Popen(
            [binary, '--os-cloud', harness.CLOUD] + watch_argv,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=watch_cloud.env()))
        while time.monotonic() < deadline and not any(
                'os-migrations' in path for (_s, _m, path)
                in watch_cloud.proxy.counts()):
            time.sleep(0.2)
        # Let both commands see the 10 and settle into polling (the
        # watch's first poll reads the progress of all 10 once).
        time.sleep(interval)
        drain_cloud.proxy.reset()
        watch_cloud.proxy.reset()
        t0 = time.monotonic()
        time.sleep(window)
        counts = {'drain': drain_cloud.proxy.counts(),
                  'watch': watch_cloud.proxy.counts()}
        seconds = time.monotonic() - t0
        still = _in_flight(bed, ids)
        for who, c in counts.items():
            m = harness.Measurement(who, seconds, c, {})
            per_min = m.requests * 60.0 / seconds
            # A poll is one GET /os-migrations (the poll loop waits
            # `interval` after the poll's requests, so under load there
            # are fewer polls than window / interval).
            polls = sum(v for (_s, meth, p), v in c.items()
                        if meth == 'GET' and p.endswith('/os-migrations'))
            reads = sum(v for (_s, meth, p), v in c.items()
                        if meth == 'GET' and
                        p.endswith('/servers/{id}/migrations'))
            rows.append(common.Row(
                name, '%s: requests / min, 10 in flight' % who,
                round(per_min, 1), '/min',
                note=', '.join('%s %.1f' % (p, v * 60.0 / seconds)
                               for p, v in m.by_path().items()),
                data={'by_path': m.by_path(), 'window': seconds,
                      'in_flight_after': still}))
            rows.append(common.judged(
                name, '%s: progress reads per poll' % who,
                round(reads / float(polls), 2) if polls else None, '',
                '<=', round(budgets[who] + 0.05, 2),
                note='%d GET /servers/{id}/migrations in %d polls; budget '
                     '%s' % (reads, polls, '10 x 2 s / 50 s'
                             if who == 'drain' else 'PROGRESS_READS')))
            rows.append(common.judged(
                name, '%s: requests per poll (interval %g s)' % (
                    who, interval),
                round(m.requests / float(polls), 2) if polls else None, '',
                '<=', round(1 + budgets[who] + 0.05, 2),
                note='%d requests, %d os-migrations lists in %.1f s; %d '
                     'still in flight at the end; before sampling: 11.4' % (
                         m.requests, polls, seconds, still)))
        for proc in procs:
            proc.wait(timeout=hold * 4)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()   # our own child, by its PID
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        _delete(bed, ids)
    return rows
