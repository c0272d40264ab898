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

"""The constraint engine on synthetic facts: evaluations per second, RSS.

``migrationclient.constraints.evaluate.precheck(snapshot, server_ids)``
evaluates every server against every other enabled host (every rule of
``migrationclient.constraints.rules``).  The facts are synthetic but
varied (seeded): hosts with different CPU traits, capacity, aggregates, one
disabled and one down; servers ACTIVE / SHUTOFF / PAUSED / locked, with
plain, pinned, NUMA, hugepage, PCI and SR-IOV flavors, volume-backed or not,
some in (anti-)affinity groups.  Each size runs in a fresh interpreter so
that peak RSS (``ru_maxrss``) is its own; the figure is the CPU time of
``precheck`` alone (facts already built; wall time is reported too), target
<= 0.5 s for 10,000 server x host evaluations (and linear: 5 s for
100,000).  The engine shares rule results between servers with equal facts
(``evaluate._Shared``); a third run gives every server a flavor of its own,
its worst case (informational).
"""

import json
import random
import subprocess
import sys
import uuid

from benchmarks import common

TRAITS = ('HW_CPU_X86_AVX', 'HW_CPU_X86_AVX2', 'HW_CPU_X86_SSE42',
          'HW_CPU_X86_AVX512F', 'HW_CPU_X86_VMX', 'HW_CPU_X86_AESNI')
FLAVORS = (
    ('m1.small', 1, 2048, 20, {}),
    ('m1.large', 4, 8192, 80, {}),
    ('pinned', 4, 4096, 20, {'hw:cpu_policy': 'dedicated'}),
    ('numa2', 8, 16384, 40, {'hw:numa_nodes': '2'}),
    ('huge', 2, 4096, 20, {'hw:mem_page_size': '2048'}),
    ('pci', 2, 4096, 20, {'pci_passthrough:alias': 'gpu:1'}),
    ('dpdk', 4, 8192, 20, {'hw:mem_page_size': 'large',
                           'hw:cpu_policy': 'dedicated'}),
)
STATES = (('ACTIVE', 'active'),) * 6 + (('SHUTOFF', 'stopped'),
                                        ('PAUSED', 'paused'))


def _uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_snapshot(n_servers, n_hosts, seed=0, distinct=False):
    """A :class:`Snapshot` with ``n_servers`` spread over ``n_hosts``.

    ``distinct``: every server gets a flavor of its own (RAM, vCPUs and
    disk differ), the worst case for the engine's sharing of rule results
    between servers.
    """
    from migrationclient.constraints import model as f
    from migrationclient import microversions as mv
    rng = random.Random(seed)
    hosts = {}
    for i in range(n_hosts):
        name = 'compute%02d' % (i + 1)
        traits = frozenset(t for t in TRAITS if rng.random() < 0.8)
        hosts[name] = f.HostFacts(
            name=name, nodename=name, service_id=_uuid(rng),
            state='down' if i == n_hosts - 1 else 'up',
            status='disabled' if i == n_hosts - 2 else 'enabled',
            availability_zone='nova', hypervisor_type='QEMU',
            hypervisor_version=rng.choice((6002000, 8002000)),
            provider_id=_uuid(rng),
            cpu=f.CpuFacts(source='traits', arch='x86_64',
                           features=traits),
            traits=traits,
            inventory={
                'VCPU': f.Capacity(64, 0, 4.0, rng.randrange(0, 200)),
                'PCPU': f.Capacity(16, 0, 1.0, rng.randrange(0, 16)),
                'MEMORY_MB': f.Capacity(131072, 512, 1.0,
                                        rng.randrange(0, 120000)),
                'DISK_GB': f.Capacity(2000, 0, 1.0, rng.randrange(0, 1900)),
            },
            aggregates=(('agg-%d' % (i % 3), {'pinned': str(i % 2 == 0)
                                              .lower()}),))
    names = sorted(hosts)
    servers, groups = {}, {}
    group_list = [f.GroupFacts(id=_uuid(rng), name='g%d' % g,
                               policy=rng.choice(('affinity',
                                                  'anti-affinity')))
                  for g in range(max(1, n_servers // 50))]
    for i in range(n_servers):
        fname, vcpus, ram, disk, specs = rng.choice(FLAVORS)
        if distinct:
            fname, vcpus, ram, disk = ('%s-%d' % (fname, i), vcpus + i % 7,
                                       ram + i, disk + i % 13)
        status, vm_state = rng.choice(STATES)
        host = names[i % (n_hosts - 2)]
        server_id = _uuid(rng)
        sriov = fname == 'dpdk' and rng.random() < 0.5
        servers[server_id] = f.ServerFacts(
            id=server_id, name='vm-%05d' % i, status=status,
            vm_state=vm_state, locked=rng.random() < 0.05, host=host,
            nodename=host, availability_zone='nova',
            flavor=f.FlavorFacts(fname, vcpus, ram, disk, 0, 0,
                                 dict(specs)),
            volume_backed=rng.random() < 0.3,
            config_drive=rng.random() < 0.1,
            ports=(f.PortFacts(_uuid(rng), 'direct' if sriov else 'normal',
                               'hw_veb' if sriov else 'ovs',
                               'physnet2' if sriov else None),))
        if rng.random() < 0.1:
            group = rng.choice(group_list)
            groups[server_id] = (group,)
    cloud = f.CloudFacts(max_version=mv.Version(2, 104))
    return f.Snapshot(cloud=cloud, hosts=hosts, servers=servers,
                      groups=groups)


def _rss_kb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return None


def child(n_servers, n_hosts, seed=0, distinct=False):
    """Run in a fresh interpreter: build, evaluate, print JSON."""
    import resource
    import time

    from migrationclient.constraints import evaluate
    snapshot = build_snapshot(n_servers, n_hosts, seed, distinct)
    server_ids = list(snapshot.servers)
    rss_before = _rss_kb()
    cpu = time.process_time()
    start = time.perf_counter()
    evaluations = evaluate.precheck(snapshot, server_ids)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    allowed = sum(1 for e in evaluations if e.allowed)
    print(json.dumps({
        'evaluations': len(evaluations), 'seconds': seconds,
        'cpu_seconds': cpu,
        'rss_before_kb': rss_before, 'peak_rss_kb': peak,
        'allowed': allowed}))


def run_size(n_servers, n_hosts, seed=0, distinct=False):
    code = ('from benchmarks import rules_engine; '
            'rules_engine.child(%d, %d, %d, %s)'
            % (n_servers, n_hosts, seed, distinct))
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-800:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


@common.benchmark('rules-engine')
def rules_engine(ctx):
    """Evaluate.precheck on 10,000 and 100,000 server x host pairs."""
    try:
        from migrationclient.constraints import evaluate  # noqa: F401
    except ImportError as exc:
        return [common.Row('rules-engine', 'engine', 'missing',
                           note='migrationclient.constraints.evaluate: %s'
                           % exc)]
    # 12 hosts: compute01..10 hold the servers, compute11 is disabled,
    # compute12 is down (still a candidate, its verdict is "no").  Each
    # server is checked against the 10 enabled hosts other than its own.
    n_hosts = 12
    rows = []
    sizes = (10000,) if ctx.smoke else (10000, 100000)
    for target in sizes:
        result = run_size(target // 10, n_hosts)
        n = result['evaluations']
        # CPU time of the evaluating process: on a shared 2-core machine
        # wall time mostly measures the neighbours.
        row = common.judged(
            'rules-engine', 'precheck %d evaluations (CPU)' % n,
            round(result['cpu_seconds'], 3), 's', '<=',
            0.5 * target / 10000,
            note='%.0f us each; wall %.2f s; %d allowed' % (
                1e6 * result['cpu_seconds'] / n, result['seconds'],
                result['allowed']),
            data=result)
        if target != 10000:
            row.target += ' (linear)'
        rows.append(row)
        rows.append(common.Row(
            'rules-engine', 'peak RSS, %d evaluations' % n,
            round(result['peak_rss_kb'] / 1024.0, 1), 'MiB',
            note='+%.1f MiB over the built facts' % (
                (result['peak_rss_kb'] - result['rss_before_kb']) / 1024.0)))
    # The worst case for the sharing of rule results: no two servers with
    # the same flavor (informational, no target).
    result = run_size(1000, n_hosts, distinct=True)
    n = result['evaluations']
    rows.append(common.Row(
        'rules-engine', 'precheck %d evaluations, a flavor per server '
        '(CPU)' % n, round(result['cpu_seconds'], 3), 's',
        note='%.0f us each; worst case for shared results' % (
            1e6 * result['cpu_seconds'] / n), data=result))
    return rows
