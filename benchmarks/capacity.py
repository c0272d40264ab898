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

"""The drain's capacity planner on synthetic clouds: speed and quality.

``capacity-speed``: ``migrationclient.engine.capacity.plan_capacity``
places 10,000 servers of 100 drained hosts onto 1,000 remaining hosts
(synthetic, seeded: mixed flavors, pinned, NUMA and huge page guests,
volume-backed or not, anti-affinity and affinity groups moving together,
hosts half full).  CPU time (``time.process_time``) of the plan alone
(facts already built) in a fresh interpreter, and the peak of the memory
it allocates (``tracemalloc``, a second run: tracing slows Python down) and
the process's peak RSS.  Target <= 2 s CPU.  Smoke: 1,000 servers onto 100
hosts.

``capacity-quality``: a tight cloud (40 hosts filled to 85 % of RAM with
mixed flavors, pinned guests on hosts whose NUMA cells are known,
anti-affinity groups spread over hosts), 4 hosts drained.  Servers placed
by the planner against two baselines that check every candidate with the
rule engine (``constraints.evaluate.evaluate`` on facts debited as they go)
but choose differently: first fit (hosts by name) and "least busy" (the
host with the fewest planned servers, then the most free RAM: today's
drain executor).  Every placement of the planner is replayed through the
plain rule engine (``capacity.replay``): none may be refused.  Smoke: the
same cloud (it is small).
"""

import json
import random
import subprocess
import sys

from benchmarks import common

#: name, vCPUs, RAM MB, disk GB, extra specs, weight
FLAVORS = (
    ('small', 2, 4096, 40, {}, 30),
    ('medium', 4, 8192, 80, {}, 25),
    ('large', 8, 32768, 160, {}, 10),
    ('xlarge', 16, 65536, 320, {}, 3),
    ('pinned', 4, 8192, 40, {'hw:cpu_policy': 'dedicated'}, 12),
    ('pinned-large', 8, 16384, 40, {'hw:cpu_policy': 'dedicated'}, 4),
    ('numa2', 8, 16384, 80, {'hw:numa_nodes': '2'}, 6),
    ('huge', 2, 4096, 40, {'hw:mem_page_size': '2048'}, 5),
)


def _flavor(rng):
    from migrationclient.constraints import model as f
    name, vcpus, ram, disk, specs, _w = rng.choices(
        FLAVORS, weights=[x[-1] for x in FLAVORS])[0]
    return f.FlavorFacts(name, vcpus, ram, disk, 0, 0, dict(specs))


def _host(name, cells=True):
    from migrationclient.constraints import model as f
    traits = frozenset(('HW_CPU_X86_AVX2', 'HW_CPU_X86_SSE42'))
    side = None
    if cells:
        side = f.HostSideFacts(cpu_model='Icelake', numa_cells=tuple(
            f.NumaCell(i, free_cpus=16, free_memory_mb=126976,
                       free_hugepages={2048: 8192}) for i in range(2)))
    return f.HostFacts(
        name=name, nodename=name, state='up', status='enabled',
        availability_zone='nova', hypervisor_type='QEMU',
        hypervisor_version=8002000,
        cpu=f.CpuFacts(source='traits', arch='x86_64', features=traits,
                       numa_cells=2),
        traits=traits,
        inventory={
            'VCPU': f.Capacity(96, 0, 4.0, 0),
            'PCPU': f.Capacity(32, 0, 1.0, 0),
            'MEMORY_MB': f.Capacity(262144, 8192, 1.0, 0),
            'DISK_GB': f.Capacity(8000, 0, 1.0, 0),
        },
        host_side=side)


def _server(rng, i, host, flavor):
    from migrationclient.constraints import model as f
    return f.ServerFacts(
        id='srv-%06d' % i, name='vm-%06d' % i, status='ACTIVE',
        vm_state='active', host=host, nodename=host,
        availability_zone='nova', flavor=flavor,
        volume_backed=rng.random() < 0.3, ports=())


def build_cloud(n_remaining, n_drained, per_drained, fill, seed=0,
                cells=True, group_every=20, known_fill=True):
    """``(snapshot, drained host names)`` of a synthetic cloud.

    ``n_remaining`` hosts filled to ``fill`` (share of RAM) and
    ``n_drained`` hosts with ``per_drained`` servers each.  With
    ``known_fill`` the remaining hosts are filled with servers (known to
    the snapshot, debited as placed: consistent NUMA cells); without, only
    their placement usage is set (faster to build).  One server in
    ``group_every`` on a drained host is in a group: anti-affinity groups
    of 3 (one member on a remaining host), affinity pairs.
    """
    from migrationclient.constraints import debit
    from migrationclient.constraints import model as f
    from migrationclient import microversions as mv
    rng = random.Random(seed)
    hosts, servers = {}, {}
    remaining = ['cmp%04d' % i for i in range(n_remaining)]
    drained = ['drn%03d' % i for i in range(n_drained)]
    for name in remaining + drained:
        hosts[name] = _host(name, cells)
    i = 0
    for name in remaining:
        host = hosts[name]
        if known_fill:
            target = fill * host.inventory['MEMORY_MB'].capacity
            while host.inventory['MEMORY_MB'].used < target:
                srv = _server(rng, i, name, _flavor(rng))
                if not _fits(host, srv, debit):
                    break
                servers[srv.id] = srv
                host = debit.host_after(host, srv)
                i += 1
        else:
            inv = dict(host.inventory)
            for rc, cap in inv.items():
                inv[rc] = cap.consume(int(cap.capacity * fill
                                          * rng.uniform(0.8, 1.2)))
            host = f.HostFacts(**dict(host.__dict__, inventory=inv))
        hosts[name] = host
    moving = []
    for name in drained:
        host = hosts[name]
        for _n in range(per_drained):
            srv = _server(rng, i, name, _flavor(rng))
            servers[srv.id] = srv
            host = debit.host_after(host, srv)
            moving.append(srv.id)
            i += 1
        hosts[name] = host
    groups = {}
    grouped = moving[::group_every]
    for g, sid in enumerate(grouped):
        gid = 'grp-%04d' % g
        if g % 3:
            # anti-affinity: this server, the next moving one, and one
            # member that stays on a remaining host
            peer = moving[(moving.index(sid) + 1) % len(moving)]
            stay = [s for s in servers.values() if s.host in remaining]
            members = [sid, peer] + ([stay[g % len(stay)].id]
                                     if stay else [])
            policy = 'anti-affinity'
        else:
            peer = moving[(moving.index(sid) + 2) % len(moving)]
            members = [sid, peer]
            policy = 'affinity'
        if any(m in groups for m in members):
            continue
        group = f.GroupFacts(id=gid, name=gid, policy=policy,
                             members=tuple(members),
                             member_hosts={m: servers[m].host
                                           for m in members})
        for m in members:
            groups[m] = (group,)
    cloud = f.CloudFacts(max_version=mv.Version(2, 104))
    return f.Snapshot(cloud=cloud, hosts=hosts, servers=servers,
                      groups=groups), drained


def _fits(host, srv, debit):
    return all(host.inventory[rc].fits(n)
               for rc, n in debit.needs(srv, host).items())


def child_speed(n_remaining, n_drained, per_drained, trace=False):
    """Fresh interpreter: build, plan, print JSON."""
    import gc
    import resource
    import time
    import tracemalloc

    from migrationclient.engine import capacity
    snapshot, drained = build_cloud(n_remaining, n_drained, per_drained,
                                    0.5, known_fill=False)
    if trace:
        tracemalloc.start()
    cpu = time.process_time()
    wall = time.perf_counter()
    plan = capacity.plan_capacity(snapshot, drained)
    # the collector's pass that the plan leaves pending (it runs at the
    # next allocation: here, of the clock's reading) is counted
    gc.collect(0)
    wall = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    peak = None
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    print(json.dumps({
        'servers': len(plan.placements), 'hosts': n_remaining,
        'placed': len(plan.placements) - len(plan.unplaced),
        'cpu_seconds': cpu, 'seconds': wall, 'traced_peak_bytes': peak,
        'peak_rss_kb': resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss,
        'headroom': plan.headroom.message if plan.headroom else None}))


def _run(code):
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-800:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


@common.benchmark('capacity-speed')
def capacity_speed(ctx):
    """plan_capacity: 10,000 servers onto 1,000 hosts, CPU and memory."""
    n_remaining, n_drained, per = (100, 10, 100) if ctx.smoke else \
        (1000, 100, 100)
    n = n_drained * per
    code = ('from benchmarks import capacity; '
            'capacity.child_speed(%d, %d, %d, %s)')
    result = _run(code % (n_remaining, n_drained, per, False))
    traced = _run(code % (n_remaining, n_drained, per, True))
    rows = [common.judged(
        'capacity-speed', 'plan %d servers onto %d hosts (CPU)'
        % (n, n_remaining), round(result['cpu_seconds'], 3), 's', '<=',
        2.0 * n / 10000,
        note='%d placed; wall %.2f s' % (result['placed'],
                                         result['seconds']),
        data=result)]
    rows.append(common.Row(
        'capacity-speed', 'plan memory, %d servers (tracemalloc peak)' % n,
        round(traced['traced_peak_bytes'] / 1048576.0, 1), 'MiB',
        note='process peak RSS %.0f MiB (facts included)'
        % (result['peak_rss_kb'] / 1024.0), data=traced))
    return rows


def _baseline(snapshot, moving, order):
    """Placed count of a rule-checked greedy: ``order(snap, planned)``."""
    from migrationclient.constraints import debit
    from migrationclient.constraints import evaluate as engine
    placed, planned = 0, {}
    candidates = sorted(n for n, h in snapshot.hosts.items()
                        if h.is_enabled and not n.startswith('drn'))
    snap = snapshot
    for sid in moving:
        chosen = None
        for name in order(snap, candidates, planned):
            ev = engine.evaluate(snap, sid, name)
            if ev.allowed:
                chosen = name
                break
        if chosen is None:
            continue
        placed += 1
        planned[chosen] = planned.get(chosen, 0) + 1
        snap = debit.debit(snap, snap.servers[sid], chosen)
    return placed


def first_fit(snap, candidates, planned):
    return candidates


def least_busy(snap, candidates, planned):
    return sorted(candidates, key=lambda n: (
        planned.get(n, 0), -snap.hosts[n].inventory['MEMORY_MB'].free, n))


def quality(n_remaining=40, n_drained=4, per_drained=None, seed=1):
    """The quality figures, as a dict (also used by the unit tests)."""
    from migrationclient.engine import capacity
    # the drained hosts are as full as the others
    per = per_drained or 0
    snapshot, drained = build_cloud(n_remaining, n_drained, per or 24,
                                    0.85, seed=seed, group_every=6)
    moving = sorted(s.id for s in snapshot.servers.values()
                    if s.host in drained)
    plan = capacity.plan_capacity(snapshot, drained)
    refused = capacity.replay(snapshot, plan)
    return {
        'hosts': n_remaining, 'drained': n_drained, 'moving': len(moving),
        'planner': len(moving) - len(plan.unplaced),
        'first_fit': _baseline(snapshot, moving, first_fit),
        'least_busy': _baseline(snapshot, moving, least_busy),
        'refused_by_rules': len(refused),
        'headroom': plan.headroom.message if plan.headroom else None,
    }


@common.benchmark('capacity-quality')
def capacity_quality(ctx):
    """Tight cloud (85 % full): planner vs first fit and least busy."""
    result = quality()
    rows = []
    for name in ('first_fit', 'least_busy'):
        rows.append(common.judged(
            'capacity-quality', 'placed: planner vs %s (of %d)'
            % (name.replace('_', '-'), result['moving']),
            result['planner'] - result[name], 'servers', '>=', 0,
            note='planner %d, %s %d' % (result['planner'], name,
                                        result[name]),
            data=result))
    rows.append(common.judged(
        'capacity-quality', 'planner placements refused by the rules',
        result['refused_by_rules'], '', '<=', 0, note=result['headroom'],
        data=result))
    return rows
