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

"""The servers the bed-backed benchmarks measure against.

:func:`ensure_servers` gives each fleet size N its own source host (the
first size asked for gets the bed's first compute, the next size the
second...) and makes sure that host holds exactly N ACTIVE servers, booting
the missing ones.  Benchmarks can then ask for N = 10 and N = 50 in any
order without deleting anything.  Servers on the other hosts do not change
the request counts measured for a source host (every listing is filtered
by host, every per-host request is made for each of the M hosts anyway).

Servers are created directly on the bed, not through the counting proxy.
When the bed is one this run attached to (``$FAKECLOUD_STATE_DIR``), the
servers it booted are deleted at the end.
"""

import time

FLAVOR = ('bench.tiny', 1, 128, 1)


def _servers_on(bed, host):
    return [s for s in bed.connection().compute.servers(
        details=True, all_projects=True, compute_host=host)]


def ensure_servers(ctx, n, timeout=900):
    """``(source host, [every compute host])``: N servers on the source.

    Raises when the source holds more than ``n`` servers (the counts
    would not be for N = n) or when every host already has a size.
    """
    bed = ctx.bed
    hosts = list(bed.hosts)
    state = ctx.cache.setdefault('fleet', {'source': {}, 'created': {}})
    if not bed.owned and not state.get('cleanup'):
        state['cleanup'] = True
        ctx.cleanups.append(lambda: _delete(bed, [
            s for ids in state['created'].values() for s in ids]))
    source = state['source'].get(n)
    if source is None:
        free = [h for h in hosts if h not in state['source'].values()]
        if not free:
            raise RuntimeError('no compute host left for a fleet of %d' % n)
        source = state['source'][n] = free[0]
    created = state['created'].setdefault(source, [])
    # Servers of this run still building have no host yet: count them.
    present = {s.id for s in _servers_on(bed, source)} | set(created)
    if len(present) > n:
        raise RuntimeError('%s already holds %d servers (> N = %d); use a '
                           'fresh bed' % (source, len(present), n))
    missing = n - len(present)
    started = time.monotonic()
    if missing:
        ctx.log('booting %d servers on %s', missing, source)
        flavor = bed.flavor(*FLAVOR)
        for i in range(missing):
            server = bed.create_server(
                host=source, flavor=flavor, wait=False,
                name='bench-%s-%03d' % (source, len(present) + i))
            created.append(server.id)
    for server_id in created:
        bed.wait_for_server(server_id, 'ACTIVE', timeout=max(
            10, timeout - (time.monotonic() - started)))
    if missing:
        ctx.log('%d servers ACTIVE on %s in %.1f s', missing, source,
                time.monotonic() - started)
    return source, hosts


def _delete(bed, server_ids):
    for server_id in server_ids:
        bed.delete_server(server_id, wait=False)
