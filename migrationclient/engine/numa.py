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

"""NUMA placement checks over SSH: snapshot, compare, two hosts.

The work below ``openstack numa compare``: read the host and guest facts
(:mod:`migrationclient.host.probe`) and compare them
(:mod:`migrationclient.host.compare`); the two hosts of ``--hosts`` are
read in parallel.
"""

import concurrent.futures
import logging

from migrationclient._i18n import _
from migrationclient import errors
from migrationclient.host import compare
from migrationclient.host import probe
from migrationclient.host import snapshot as snapshot_file

LOG = logging.getLogger(__name__)


class NumaError(errors.Error):
    """A comparison that cannot be made (one line)."""


def take_snapshot(pool, location, extra_nics=()):
    """Snapshot dict of the server's current placement, and the placement."""
    host_topology = probe.gather_host_facts(pool, location.host)
    placement = probe.guest_facts(pool, location.host, location.domain,
                                  topo=host_topology, extra_nics=extra_nics)
    return snapshot_file.make_snapshot(location, placement,
                                       host_topology), placement


def compare_with_snapshot(pool, location, snapshot, before, extra_nics=(),
                          nova=None):
    """Rows comparing the server's current placement with ``before``."""
    if str(snapshot['server']['id']) != location.id:
        raise NumaError(_(
            'the snapshot is of server %(s)s, not %(c)s') % {
            's': snapshot['server']['id'], 'c': location.id})
    nics = tuple(extra_nics) or tuple(
        n.device for n in before.nics if n.kind == 'host-nic')
    after = probe.guest_facts(pool, location.host, location.domain,
                              extra_nics=nics)
    rows = compare.compare_placements(before, after)
    if nova:
        row = compare.crosscheck_nova_topology(after, nova)
        if row is not None:
            rows.append(row)
    return rows


def compare_two_hosts(pool, host_a, host_b):
    """Rows comparing the topologies of two hosts (gathered in parallel)."""
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        fa = executor.submit(probe.gather_host_facts, pool, host_a)
        fb = executor.submit(probe.gather_host_facts, pool, host_b)
        a, b = fa.result(), fb.result()
    for topo in (a, b):
        for note in topo.notes:
            LOG.warning(_('host %(h)s: %(n)s'), {'h': topo.host, 'n': note})
    return compare.compare_hosts(a, b)
