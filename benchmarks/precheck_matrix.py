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

"""Requests of a whole-host precheck over M hosts and N servers (issue 15).

``openstack migration precheck --source-host SOURCE -f json`` through the
counting proxy on beds of M = 3, 10 and 30 compute hosts with N = 10, 50
and 200 servers on the source (smoke: M = 3, N = 10).  Since the precheck
asks Placement the scheduler's question (one ``GET
/allocation_candidates`` per distinct request shape) instead of reading
two Placement resources per host, the count must not grow with N nor M:
target <= 10 + the number of distinct request shapes (every fleet server
has one flavor: 1 shape), discovery included.
``BENCH_MATRIX='3:10,50,200;10:10;30:10'`` chooses the sizes (M:N,N...).
"""

import os

from benchmarks import common
from benchmarks import fleet

SHAPES = 1          # the fleet's one flavor (fleet.FLAVOR): one shape
TARGET = 10 + SHAPES


def sizes(ctx):
    spec = os.environ.get('BENCH_MATRIX')
    if not spec:
        return [(3, (10,))] if ctx.smoke else [
            (3, (10, 50, 200)), (10, (10, 50, 200)), (30, (10, 50, 200))]
    found = []
    for part in spec.split(';'):
        m, ns = part.split(':')
        found.append((int(m), tuple(int(n) for n in ns.split(','))))
    return found


def _placement(m):
    return {path: n for path, n in m.by_path().items()
            if ' placement ' in path}


@common.benchmark('precheck-matrix', needs_bed=True)
def precheck_matrix(ctx):
    """migration precheck --source-host: requests at M x N (constant)."""
    rows = []
    seen = {}
    for computes, ns in sizes(ctx):
        bed = ctx.bed_for(computes)
        cloud = ctx.cloud_for(bed)
        for n in ns:
            source, hosts = fleet.ensure_servers(ctx, n, bed)
            at = 'M=%d N=%d' % (len(hosts), n)
            argv = ['migration', 'precheck', '--source-host', source,
                    '-f', 'json']
            m = cloud.measure_cli('precheck-matrix %s' % at, argv,
                                  ok_returncodes=(0, 3))
            seen[computes, n] = m.requests
            rows.append(common.judged(
                'precheck-matrix', 'requests, %s' % at, m.requests, '',
                '<=', TARGET,
                note='%d without discovery; placement: %s; before issue '
                     '15: 2(M-1) + 10 = %d' % (
                         m.api_requests, ', '.join(
                             '%s x%d' % (p.split(' ', 2)[2], c)
                             for p, c in _placement(m).items()),
                         2 * (len(hosts) - 1) + 10),
                data={'by_path': m.by_path(), 'argv': argv,
                      'returncode': m.returncode,
                      'stderr_tail': m.stderr[-400:]}))
            rows.append(common.Row(
                'precheck-matrix', 'wall, %s (one CLI process)' % at,
                round(m.wall, 2), 's'))
    if len(seen) > 1:
        spread = max(seen.values()) - min(seen.values())
        rows.append(common.judged(
            'precheck-matrix', 'requests, largest minus smallest over %d '
            'points' % len(seen), spread, '', '==', 0,
            note='constant in N and M'))
    return rows
