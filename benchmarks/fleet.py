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

:func:`ensure_servers` gives each fleet size N its own source host on a
bed (the first size asked for gets the bed's first compute, the next size
the second...) and makes sure that host holds exactly N ACTIVE servers,
booting the missing ones.  Benchmarks can then ask for N = 10, 50 and 200
in any order without deleting anything.  Servers on the other hosts do not
change the request counts measured for a source host (every listing is
filtered by host, every per-host request is made for each of the M hosts
anyway).

Servers are created directly on the bed, not through the counting proxy,
by a few threads with a connection each, in batches: a batch is submitted,
then waited for by listing the BUILD and ERROR servers every 2 s (not one
``GET`` per server, nor a listing of every server), so that 200 servers
boot in minutes on the fake driver.  When the
bed is one this run attached to (``$FAKECLOUD_STATE_DIR``), the servers it
booted are deleted at the end.
"""

import concurrent.futures
import threading
import time

FLAVOR = ('bench.tiny', 1, 128, 1)
#: servers submitted, then waited for, at a time
BATCH = 25
#: threads submitting a batch (each with its own SDK connection)
THREADS = 4
POLL = 2.0


def _servers_on(bed, host):
    return [s for s in bed.connection().compute.servers(
        details=True, all_projects=True, compute_host=host)]


def _state(ctx, bed):
    """This run's fleets on ``bed``: source host per N, ids per host."""
    fleets = ctx.cache.setdefault('fleet', {})
    state = fleets.get(bed.state_dir)
    if state is None:
        state = fleets[bed.state_dir] = {'source': {}, 'created': {}}
        if not bed.owned:
            ctx.cleanups.append(lambda: _delete(bed, [
                s for ids in state['created'].values() for s in ids]))
    return state


def ensure_servers(ctx, n, bed=None, timeout=1800):
    """``(source host, [every compute host])``: N servers on the source.

    ``bed``: default ``ctx.bed`` (3 computes).  Raises when the source
    holds more than ``n`` servers (the counts would not be for N = n),
    when every host already has a size, or when a server goes ERROR.
    """
    bed = bed or ctx.bed
    hosts = list(bed.hosts)
    state = _state(ctx, bed)
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
        ctx.log('booting %d servers on %s (%d hosts)', missing, source,
                len(hosts))
        flavor = bed.flavor(*FLAVOR)
        names = ['bench-%s-%03d' % (source, len(present) + i)
                 for i in range(missing)]
        for i in range(0, missing, BATCH):
            batch = _submit(bed, source, flavor, names[i:i + BATCH])
            created.extend(batch)
            _wait_active(bed, batch, started + timeout)
            ctx.log('%d/%d ACTIVE on %s (%.0f s)', i + len(batch), missing,
                    source, time.monotonic() - started)
    _wait_active(bed, created, started + timeout)
    return source, hosts


def _submit(bed, source, flavor, names):
    """Create servers ``names`` on ``source`` from a few threads; ids."""
    from testbed import fakecloud
    local = threading.local()

    def create(name):
        conn = getattr(local, 'conn', None)
        if conn is None:
            conn = local.conn = _connection(bed)
        return conn.compute.create_server(
            name=name, flavor_id=flavor.id, networks='none',
            image_id=fakecloud.IMAGE_CIRROS,
            availability_zone='nova:%s' % source).id

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(create, names))


def _connection(bed):
    """A new SDK connection to the bed (one per thread)."""
    import openstack.config
    import openstack.connection

    from testbed import fakecloud
    config = openstack.config.OpenStackConfig(
        config_files=[bed.clouds_yaml])
    return openstack.connection.Connection(
        config=config.get_one(cloud=fakecloud.CLOUD_ADMIN))


def _wait_active(bed, ids, deadline):
    """Until no server of ``ids`` is building (ERROR raises).

    Polls the short lists of BUILD and ERROR servers, not every server:
    listing hundreds of servers in detail every poll would take the bed's
    CPU from the boots.
    """
    waiting = set(ids)
    compute = bed.connection().compute
    while True:
        failed = [s for s in compute.servers(
            details=True, all_projects=True, status='ERROR')
            if s.id in waiting]
        if failed:
            raise RuntimeError('server %s went ERROR: %s' % (
                failed[0].id, failed[0].fault))
        building = {s.id for s in compute.servers(
            details=False, all_projects=True, status='BUILD')}
        if not waiting & building:
            break
        if time.monotonic() > deadline:
            raise RuntimeError('%d servers not ACTIVE in time'
                               % len(waiting & building))
        time.sleep(POLL)
    # Once: every server is ACTIVE with no task (not SHUTOFF, not gone).
    for server_id in waiting:
        server = compute.get_server(server_id)
        while server.task_state and time.monotonic() < deadline:
            time.sleep(POLL)
            server = compute.get_server(server_id)
        if server.status != 'ACTIVE' or server.task_state:
            raise RuntimeError('server %s is %s/%s, not ACTIVE' % (
                server_id, server.status, server.task_state))


def _delete(bed, server_ids):
    for server_id in server_ids:
        bed.delete_server(server_id, wait=False)
