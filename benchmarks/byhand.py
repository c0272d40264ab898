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

"""What an operator's by-hand precheck costs, and the least it could cost.

Both run for real on the test bed, through openstacksdk in one process,
through the counting proxy, for N servers on the source host and the
bed's M = 3 compute hosts:

* ``by-hand``: the procedure of the seed (OSP 10 "Migrating virtual
  machines between compute nodes", 8.3): ``compute service list``,
  ``server list --host SOURCE --all-projects``, then per server
  ``server show`` and ``flavor show``, and per host ``hypervisor show``;
  each made with the openstacksdk calls OSC 10.5 makes for that command
  (``find_server``; ``find_flavor(get_extra_specs=True)``;
  ``find_hypervisor`` + ``get_hypervisor`` + ``aggregates``).
* ``floor``: the facts a precheck needs, in the fewest requests the APIs
  allow: services, servers detail (all projects, ``compute_host``
  filter), flavors detail, hypervisors detail, and Placement inventories
  and usages per host: 4 + 2M requests for any N.

As separate ``openstack`` processes (what an operator really types) the
by-hand procedure costs far more: every process repeats version discovery
and pays ~2 s of start-up (doc/source/performance.rst).
"""

from benchmarks import common
from benchmarks import fleet


def byhand_procedure(conn, source, hosts):
    """Seed 8.3 by hand, as the OSC commands would make the calls."""
    compute = conn.compute
    list(compute.services())                            # service list
    servers = list(compute.servers(                     # server list
        details=True, all_projects=True, compute_host=source))
    for summary in servers:
        server = compute.find_server(summary.id,        # server show
                                     ignore_missing=False)
        flavor = server.flavor
        name = getattr(flavor, 'original_name', None) or flavor.get(
            'original_name') or flavor.get('id')
        compute.find_flavor(name, get_extra_specs=True,  # flavor show
                            ignore_missing=False)
    for host in hosts:                                  # hypervisor show
        hypervisor = compute.find_hypervisor(host, ignore_missing=False,
                                             details=False)
        compute.get_hypervisor(hypervisor.id)
        list(compute.aggregates())
    return len(servers)


def floor_procedure(conn, source, hosts):
    """The same facts in the fewest requests: 4 + 2M."""
    compute = conn.compute
    list(compute.services())
    servers = list(compute.servers(details=True, all_projects=True,
                                   compute_host=source))
    list(compute.flavors(details=True))
    hypervisors = [h for h in compute.hypervisors(details=True)
                   if h.name in hosts or
                   (h.service_details or {}).get('host') in hosts]
    placement = conn.placement
    for hypervisor in hypervisors:
        # Since 2.53 the hypervisor id is the compute node's UUID, which is
        # its resource provider's UUID.
        placement.get('/resource_providers/%s/inventories' % hypervisor.id)
        placement.get('/resource_providers/%s/usages' % hypervisor.id)
    return len(servers)


def _measure(ctx, label, procedure, n, bed=None):
    bed = bed or ctx.bed
    source, hosts = fleet.ensure_servers(ctx, n, bed)
    repeats = 1 if ctx.smoke or n > 50 else 3
    cloud = ctx.cloud_for(bed)
    runs = [cloud.measure_sdk('%s N=%d M=%d' % (label, n, len(hosts)),
                              lambda conn: procedure(conn, source, hosts))
            for _i in range(repeats)]
    counts = {m.requests for m in runs}
    best = runs[-1]
    best.wall = common.median([m.wall for m in runs])
    if len(counts) != 1:
        best.label += ' (request counts varied: %s)' % sorted(counts)
    return best, len(hosts)


def byhand_counts(ctx, n, bed=None):
    """The by-hand :class:`~benchmarks.harness.Measurement` at N (cached).

    ``bed``: default ``ctx.bed`` (M = 3).
    """
    bed = bed or ctx.bed
    cache = ctx.cache.setdefault('byhand', {})
    if (bed.state_dir, n) not in cache:
        cache[bed.state_dir, n] = _measure(ctx, 'by-hand', byhand_procedure,
                                           n, bed)[0]
    return cache[bed.state_dir, n]


def floor_counts(ctx, n, bed=None):
    bed = bed or ctx.bed
    cache = ctx.cache.setdefault('floor', {})
    if (bed.state_dir, n) not in cache:
        cache[bed.state_dir, n] = _measure(ctx, 'floor', floor_procedure, n,
                                           bed)
    return cache[bed.state_dir, n]


@common.benchmark('byhand', needs_bed=True)
def byhand(ctx):
    """Seed 8.3 by hand (SDK, one process) and the floor, N x M."""
    rows = []
    for computes, ns in ctx.economy_sizes():
        bed = ctx.bed_for(computes)
        for n in ns:
            hand = byhand_counts(ctx, n, bed)
            low, m = floor_counts(ctx, n, bed)
            rows += _rows(n, m, hand, low)
    return rows


def _rows(n, m, hand, low):
    at = 'N=%d M=%d' % (n, m)
    return [
        common.Row('byhand', 'by-hand requests, %s' % at, hand.requests,
                   note='%d without discovery; 4N + 4M + 4 = %d' % (
                       hand.api_requests, 4 * n + 4 * m + 4),
                   data={'by_path': hand.by_path(),
                         'statuses': hand.statuses}),
        common.Row('byhand', 'by-hand wall, %s' % at, round(hand.wall, 2),
                   's', note=hand.label),
        common.Row('byhand', 'floor requests, %s' % at, low.requests,
                   note='%d without discovery; 4 + 2M = %d' % (
                       low.api_requests, 4 + 2 * m),
                   data={'by_path': low.by_path()}),
        common.Row('byhand', 'floor wall, %s' % at, round(low.wall, 2), 's'),
        common.Row('byhand', 'floor / by-hand requests, %s' % at,
                   round(low.requests / float(hand.requests), 3), 'x'),
        common.Row('byhand', 'floor / by-hand wall, %s' % at,
                   round(low.wall / hand.wall, 3), 'x'),
    ]
