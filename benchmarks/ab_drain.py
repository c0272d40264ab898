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

"""A/B of the drain's makespan on one bed, variants alternating.

Not a registered benchmark (it compares two trees of the package)::

    git archive BASE migrationclient | tar -x -C /tmp/base
    git archive HEAD migrationclient | tar -x -C /tmp/exp
    VARIANTS=base=/tmp/base,exp=/tmp/exp \\
        python -m benchmarks.ab_drain N HOLD REPS K [K ...]

Each variant is a directory put first on the ``openstack`` process's
``PYTHONPATH``.  One bed (4 computes, 10 concurrent live migrations), N
servers held HOLD s; per repetition and k, each variant drains compute1
at ``--max-parallel k`` (order reversed every other repetition), after
the servers were brought back.  One JSON line per drain on stdout:

``ratio``
  records span (first ``created_at`` -> last ``updated_at``) /
  (ceil(N/k) x mean record duration), the benchmarks' definition;
``client_ratio``
  first request (the report's ``submitted_at``) -> last record end /
  (ceil(N/k) x mean request -> record end): the migration as a client
  sees it, Nova's handling of the request included;
``end_to_request``
  mean time from a record's end to the drain's next request;
``request_to_record``
  mean time from a request to its record (Nova);
``seen``
  mean time from a record's end to the server concluded (done);
``packing``
  the same durations started in the same order with no time between a
  slot's end and its next start, / (ceil(N/k) x mean): what uneven
  durations alone cost against the ideal (1.0 at k = 1);
``lists``, ``services``, ``requests``
  ``GET /os-migrations``, ``GET /os-services``, all requests.
"""

import datetime
import json
import math
import os
import sys
import tempfile
import time

from benchmarks import common
from benchmarks import drain as d
from benchmarks import harness


def one(ctx, bed, cloud, ids, n, k, hold, variant, path):
    d._return_home(ctx, bed, ids)
    tmp = tempfile.mkdtemp(prefix='ab-drain-')
    rep_file = os.path.join(tmp, 'report.json')   # must not exist yet
    since = d._utcnow() - datetime.timedelta(seconds=1)
    load0 = os.getloadavg()[0]
    old = cloud.env
    cloud.env = lambda: dict(old(), PYTHONPATH=path)
    try:
        m = cloud.measure_cli(variant, [
            'compute', 'drain', d.SOURCE, '--max-parallel', str(k),
            *d.LIVE_LIMIT, '--enable-when-done', '--report', rep_file,
            '-f', 'json'], timeout=3600)
    finally:
        cloud.env = old
    time.sleep(1)
    p = d._parse
    recs = sorted(d._records(bed, ids, since),
                  key=lambda r: r['created_at'])
    with open(rep_file) as f:
        report = {e['id']: e for e in json.load(f)['servers']}
    os.unlink(rep_file)
    os.rmdir(tmp)
    span, peak = d._span_and_overlap(recs)
    durs = [(p(r['updated_at']) - p(r['created_at'])).total_seconds()
            for r in recs]
    sub = {r['server']: p(report[r['server']]['submitted_at'])
           for r in recs}
    seen = [(p(report[r['server']]['finished_at']) - p(r['updated_at']))
            .total_seconds() for r in recs]
    req = [(p(r['created_at']) - sub[r['server']]).total_seconds()
           for r in recs]
    cdur = [(p(r['updated_at']) - sub[r['server']]).total_seconds()
            for r in recs]
    cspan = (max(p(r['updated_at']) for r in recs) -
             min(sub.values())).total_seconds()
    starts = sorted(sub.values())
    gaps = [min((s - e).total_seconds() for s in starts if s >= e)
            for e in sorted(p(r['updated_at']) for r in recs)
            if any(s >= e for s in starts)]

    slots = [0.0] * k
    for dur in durs:        # records sorted by creation: start order
        slots[slots.index(min(slots))] += dur

    def count(part):
        return sum(v for (_s, _m, path_), v in m.counts.items()
                   if part in path_)
    rounds = math.ceil(n / float(k))
    mean = sum(durs) / len(durs)
    return dict(
        k=k, hold=hold, variant=variant, span=round(span, 2),
        ratio=round(span / (rounds * mean), 3), mean=round(mean, 2),
        durations=[round(x, 2) for x in durs],
        packing=round(max(slots) / (rounds * mean), 3),
        client_ratio=round(cspan / (rounds * sum(cdur) / len(cdur)), 3),
        client_mean=round(sum(cdur) / len(cdur), 2),
        seen=round(sum(seen) / len(seen), 3), seen_max=round(max(seen), 2),
        end_to_request=round(sum(gaps) / max(1, len(gaps)), 3),
        request_to_record=round(sum(req) / len(req), 3),
        requests=m.requests, lists=count('/os-migrations'),
        services=count('/os-services'), peak=peak, wall=round(m.wall, 1),
        load=[round(load0, 1), round(os.getloadavg()[0], 1)])


def main(argv):
    from testbed import client
    n, hold, reps = int(argv[0]), int(argv[1]), int(argv[2])
    ks = [int(x) for x in argv[3:]]
    variants = [v.split('=', 1) for v in
                os.environ['VARIANTS'].split(',')]
    ctx = common.Context(verbose=True)
    bed = client.Bed.get(computes=d.COMPUTES, extra_args=(
        '--max-concurrent-live-migrations', str(d.MAX_CONCURRENT)))
    cloud = harness.ProxiedCloud(bed, max_lifetime=7200)
    ids = d._boot(ctx, bed, n, hold, 'ab')
    try:
        for rep in range(reps):
            for k in ks:
                order = variants if rep % 2 == 0 else variants[::-1]
                for variant, path in order:
                    res = one(ctx, bed, cloud, ids, n, k, hold, variant,
                              path)
                    res['rep'] = rep
                    print(json.dumps(res), flush=True)
    finally:
        d._delete(bed, ids)
        cloud.close()
        bed.stop()


if __name__ == '__main__':
    main(sys.argv[1:])
