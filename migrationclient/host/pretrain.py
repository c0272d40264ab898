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

"""Pre-Train pinned guests: are their very host CPUs free on a destination.

Before Train, Nova live-migrates a pinned guest with its domain XML, hence
its pinning, unchanged (RHSA-2018:0369): the destination must have the
same host CPU ids free, in its pinning set, and the guest's memory free
on the same NUMA cells.  This module reads what that needs over SSH (the
guest's ``vcpupin`` / ``emulatorpin`` / ``numatune`` on its source; every
running domain's pins and the nova.conf of the destination) and answers
with :func:`migrationclient.host.pinning.same_cpus_free`, as a
:class:`~migrationclient.constraints.model.SameCpusFacts`.

The pure part (:func:`guest_needs`, :func:`same_cpus_facts`) is
unit-tested on recorded outputs; :func:`read` does the I/O.
"""

from migrationclient.constraints import model as cf
from migrationclient import errors
from migrationclient.host import commands
from migrationclient.host import novaconf
from migrationclient.host import parsers
from migrationclient.host import pinning
from migrationclient.host import probe
from migrationclient.host import ssh


def guest_needs(placement, memory_mb):
    """(cpus, {cell: MiB}, page_kb) a guest holds on its source.

    ``placement`` is the guest's
    :class:`~migrationclient.host.topology.GuestPlacement`; ``memory_mb``
    its flavor RAM, split evenly over its ``numatune`` cells (the
    cells of its pinned CPUs when ``numatune`` names none).
    """
    vcpupin = {vcpu: frozenset(cpus)
               for vcpu, cpus in placement.vcpu_pins.items()}
    cpus = pinning.domain_pins(vcpupin, frozenset(placement.emulator_cpus))
    cells = list(placement.memory_nodeset)
    if not cells:
        cells = sorted({c for cs in placement.vcpu_cells.values()
                        for c in cs})
    memory = {}
    if cells and memory_mb:
        share = -(-int(memory_mb) // len(cells))
        memory = {cell: share for cell in cells}
    page_kb = placement.page_size_kib
    return cpus, memory, (page_kb if page_kb and page_kb > 4 else None)


def same_cpus_facts(dest_pinning, cpus, memory, page_kb, conf=None):
    """:class:`~.model.SameCpusFacts` of a guest for one destination."""
    answer = pinning.same_cpus_free(dest_pinning, cpus, memory, page_kb)
    quick = None
    if conf is not None:
        quick = conf.workaround('cpu_pinning_migration_quick_fail')
    return cf.SameCpusFacts(
        cpus=frozenset(cpus), cells=tuple(sorted(memory)),
        taken=dict(answer.taken), not_dedicated=answer.not_dedicated,
        cells_short=answer.cells_short,
        dedicated_known=dest_pinning.dedicated_known, quick_fail=quick)


def _domain_pins(pool, host):
    """``{domain: (vcpupin, emulatorpin)}`` of the running domains."""
    names = pool.run_parsed(host, commands.LIST_RUNNING,
                            parsers.parse_domain_names)
    jobs = []
    for name in names:
        try:
            jobs.append(((name, 'v'), host,
                         commands.guest_command('vcpupin', name),
                         parsers.parse_vcpupin))
            jobs.append(((name, 'e'), host,
                         commands.guest_command('emulatorpin', name),
                         parsers.parse_emulatorpin))
        except commands.InvalidName:
            continue            # not a name we would send; not Nova's
    out = pool.run_many(jobs) if jobs else {}
    return {name: (out.get((name, 'v')) or {}, out.get((name, 'e')))
            for name in names if (name, 'v') in out}


def host_pinning(pool, host, nova, conf=None):
    """(HostPinning, NovaConf or None) of ``host`` over SSH.

    ``conf``: the host's NovaConf when already read (else read here; not
    readable: every CPU counts as pinnable, ``dedicated_known`` False).
    """
    topo = probe.gather_host_facts(pool, host)
    if conf is None:
        try:
            conf = novaconf.read(pool, host)
        except errors.Error:
            conf = None
    domains = _domain_pins(pool, host)
    return pinning.host_pinning(topo, conf, domains, nova=nova), conf


def read(pool, guests, destinations, nova, notes, confs=None):
    """Pre-Train facts of pinned guests for ``destinations``.

    ``guests`` maps a server id to ``(source host, libvirt domain, flavor
    RAM MiB)``; ``confs`` host name -> NovaConf already read.  Returns
    ``{server id: {dest: SameCpusFacts}}``; a host that cannot be read
    adds a line to ``notes`` and is left out.
    """
    found = {}
    if not guests:
        return found
    hosts = {}
    for dest in sorted(destinations):
        try:
            hosts[dest] = host_pinning(pool, dest, nova,
                                       (confs or {}).get(dest))
        except ssh.SSHError as exc:
            notes.append('SSH: %s' % exc)
    for sid, (source, domain, memory_mb) in sorted(guests.items()):
        try:
            placement = probe.guest_facts(pool, source, domain)
        except ssh.SSHError as exc:
            notes.append('SSH: %s' % exc)
            continue
        cpus, memory, page_kb = guest_needs(placement, memory_mb)
        found[sid] = {
            dest: same_cpus_facts(dest_pinning, cpus, memory, page_kb, conf)
            for dest, (dest_pinning, conf) in hosts.items()
            if dest != source}
    return found
