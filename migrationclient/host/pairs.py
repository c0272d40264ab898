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

"""Facts of a (source, destination) pair, read over SSH (``--ssh``).

Two facts depend on both ends of a move, not on one host:

* the live migration transport, checked *from* the source host
  (:mod:`migrationclient.host.transport`): into the source's
  ``HostSideFacts.transport``;
* before Train, whether a pinned guest's very host CPUs are free on the
  destination (:mod:`migrationclient.host.pretrain`): into the guest's
  ``GuestSideFacts.same_cpus``.

:func:`add_pair_facts` is what the precheck calls, with the hosts and
guests it has already read.
"""

import dataclasses

from migrationclient.host import pretrain
from migrationclient.host import transport
from migrationclient import microversions as mv


def add_pair_facts(pool, snapshot, server_ids, destinations, hosts, guests,
                   notes, confs):
    """Add the pair facts to ``hosts`` and ``guests`` (updated in place).

    ``destinations`` are the candidate hosts; ``hosts`` maps the compute
    hosts read to their
    :class:`~migrationclient.constraints.model.HostSideFacts`, ``guests``
    server ids to :class:`~migrationclient.constraints.model
    .GuestSideFacts`; ``notes`` gets a line per host that could not be
    read.  Each destination read is checked from each source read.
    ``confs`` (host -> NovaConf) are the nova.conf files the host reading
    gave (:func:`migrationclient.host.probe.read_host`): not read again.
    """
    servers = [snapshot.servers[s] for s in server_ids]
    sources = sorted({s.host for s in servers if s.host in hosts})
    dests = sorted(d for d in set(destinations) if d in hosts)
    if not sources or not dests:
        return
    pairs = [(source, dest) for source in sources for dest in dests
             if dest != source]
    checked = transport.check_pairs(pool, pairs, confs)
    for source in sources:
        hosts[source] = dataclasses.replace(hosts[source], transport={
            dest: facts for (src, dest), facts in checked.items()
            if src == source})
    nova = snapshot.cloud.nova
    if nova >= mv.TRAIN:
        return
    pinned = {s.id: (s.host, s.instance_name, s.flavor.ram)
              for s in servers if s.dedicated_cpus and s.host in hosts
              and s.instance_name}
    if not pinned:
        return
    found = pretrain.read(pool, pinned, dests, nova, notes, confs)
    for sid, by_dest in found.items():
        if sid in guests:
            guests[sid] = dataclasses.replace(guests[sid], same_cpus=by_dest)
