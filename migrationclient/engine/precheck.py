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

"""The precheck: gather the facts, read the hosts, evaluate the rules.

The work below ``openstack migration precheck`` (and reusable by the
drain): cloud facts through :func:`migrationclient.cloud.gather.gather`,
optionally host-side facts over SSH (:func:`read_side_facts`, bridged by
:mod:`migrationclient.host.bridge`), then
:func:`migrationclient.constraints.evaluate.precheck`.
"""

import dataclasses

from migrationclient._i18n import _
from migrationclient.cloud import gather as cloud_gather
from migrationclient.constraints import evaluate
from migrationclient.host import bridge
from migrationclient.host import pairs
from migrationclient.host import probe
from migrationclient.host import ssh


@dataclasses.dataclass
class Result:
    """What :func:`run` returns."""

    snapshot: object        # constraints.model.Snapshot (with side facts)
    server_ids: list        # the servers checked, in order
    evaluations: list       # constraints.evaluate.Evaluation
    #: with SSH: the compute hosts it tried to read, and those it read
    ssh_tried: tuple = ()
    ssh_read: tuple = ()

    @property
    def ssh_unread(self):
        """SSH was asked for, some host was to be read, none could be."""
        return bool(self.ssh_tried) and not self.ssh_read


def run(compute, conn, servers=(), source_host=None, destinations=None,
        kinds=(evaluate.LIVE, evaluate.COLD), pci_live_migratable=False,
        ssh_options=None):
    """Precheck ``servers`` / ``source_host`` against ``destinations``.

    ``ssh_options`` (a :class:`migrationclient.host.ssh.SSHOptions`) also
    reads host-side facts over SSH; a host that cannot be read is a note.
    Raises the :mod:`migrationclient.cloud.errors` family.
    """
    gathered = cloud_gather.gather(
        compute, conn, servers=servers, source_host=source_host,
        destinations=destinations, pci_live_migratable=pci_live_migratable)
    snapshot = gathered.snapshot
    reach = {}
    if ssh_options is not None:
        snapshot = with_side_facts(snapshot, gathered, ssh_options, reach)
    evaluations = evaluate.precheck(snapshot, gathered.server_ids,
                                    gathered.destinations, kinds)
    return Result(snapshot, gathered.server_ids, evaluations,
                  ssh_tried=tuple(reach.get('tried', ())),
                  ssh_read=tuple(reach.get('read', ())))


@dataclasses.dataclass(frozen=True)
class Summary:
    """Verdict counts of a precheck (issue 15: the maybes counted).

    ``counts[kind][label]``: server x destination pairs per verdict
    (``yes`` / ``maybe`` / ``no``) of each checked kind; ``missing``
    maps each fact that left a verdict open (the rule id of an unknown
    finding) to the number of pairs it leaves open.
    """

    pairs: int
    counts: dict
    missing: dict

    @property
    def maybes(self):
        return sum(c.get('maybe', 0) for c in self.counts.values())

    def text(self):
        """One line, e.g. ``6 pair(s): live 4 yes, 2 maybe, 0 no; ...``."""
        parts = ['%s %s' % (kind, ', '.join(
            '%d %s' % (counts.get(label, 0), label)
            for label in ('yes', 'maybe', 'no')))
            for kind, counts in self.counts.items()]
        text = _('%(n)d server x destination pair(s): %(parts)s') % {
            'n': self.pairs, 'parts': '; '.join(parts)}
        if self.missing:
            text += _('; maybe because of: %s') % ', '.join(
                '%s (%d)' % item for item in sorted(
                    self.missing.items(), key=lambda i: (-i[1], i[0])))
        return text


def summarize(evaluations, kinds=(evaluate.LIVE, evaluate.COLD)):
    """The :class:`Summary` of ``evaluations``."""
    counts = {kind: {} for kind in kinds}
    missing = {}
    for ev in evaluations:
        open_rules = set()
        for kind in kinds:
            verdict = ev.verdict(kind)
            counts[kind][verdict.label] = counts[kind].get(
                verdict.label, 0) + 1
            if verdict.label == 'maybe':
                open_rules.update(x.rule for x in verdict.unknowns)
        for rule in open_rules:
            missing[rule] = missing.get(rule, 0) + 1
    return Summary(len(evaluations), counts, missing)


def with_side_facts(snapshot, gathered, options, reach=None):
    """``snapshot`` with the host-side facts of its hosts and guests.

    ``reach`` (a dict), when given, gets ``tried`` and ``read``: the
    compute hosts SSH was to read, and those it did read.
    """
    dests = set(gathered.destinations or ())
    if gathered.destinations is None:
        for sid in gathered.server_ids:
            dests.update(evaluate.destinations_for(snapshot, sid))
    hosts, guests, notes = read_side_facts(
        snapshot, gathered.server_ids, dests, options)
    if reach is not None:
        reach['tried'] = sorted(set(dests) | {
            snapshot.servers[s].host for s in gathered.server_ids
            if snapshot.servers[s].host in snapshot.hosts})
        reach['read'] = sorted(hosts)
    snapshot = snapshot.with_side_facts(hosts, guests)
    if notes:
        cloud = dataclasses.replace(
            snapshot.cloud, notes=snapshot.cloud.notes + tuple(notes))
        snapshot = dataclasses.replace(snapshot, cloud=cloud)
    return snapshot


def read_side_facts(snapshot, server_ids, destinations, options,
                    confs=None):
    """Host-side facts over SSH: (hosts, guests, notes).

    Each host once (:func:`migrationclient.host.probe.read_host`: a
    bounded number of commands, whatever runs there); a guest's facts
    come from its source host's reading (its domain XML).  A host that
    cannot be read is a note (its rules stay unknown).  ``confs`` (a
    dict), when given, gets each host's nova.conf that was read.
    """
    hosts, guests, notes = {}, {}, []
    sources = {snapshot.servers[s].host for s in server_ids
               if snapshot.servers[s].host in snapshot.hosts}
    names = sorted(set(destinations) | sources)
    addresses = {n: snapshot.hosts[n].host_ip for n in names
                 if snapshot.hosts[n].host_ip}
    readings = {}
    with ssh.HostPool(options, addresses) as pool:
        for name in names:
            try:
                readings[name] = probe.read_host(pool, name)
            except ssh.SSHError as exc:
                notes.append(_('SSH: %s') % exc)
                continue
            notes.extend(_('SSH: %s') % n for n in readings[name].notes)
            hosts[name] = bridge.host_side_from_reading(
                readings[name], snapshot.cloud.nova)
        for sid in server_ids:
            guest = _guest_side(snapshot.servers[sid], readings, notes)
            if guest is not None:
                guests[sid] = guest
        # the transport from each source, pre-Train pinned CPUs per dest
        read_confs = {n: r.conf for n, r in readings.items()
                      if r.conf is not None}
        pairs.add_pair_facts(pool, snapshot, server_ids, destinations,
                             hosts, guests, notes, read_confs)
    if confs is not None:
        confs.update(read_confs)
    return hosts, guests, notes


def _guest_side(server, readings, notes):
    """A server's GuestSideFacts from its host's reading, or None."""
    reading = readings.get(server.host)
    if reading is None or not server.instance_name \
            or reading.domains is None:
        return None
    xml = reading.domains.get(server.instance_name)
    if xml is None:
        notes.append(_('SSH: %(host)s: no libvirt domain %(dom)s for '
                       'server %(id)s') % {'host': server.host,
                                           'dom': server.instance_name,
                                           'id': server.id})
        return None
    return bridge.guest_side_from_xml(xml)


#: The fields of one precheck row (server x destination), in the order of
#: the command's columns; ``findings`` only in its ``--long`` form.
ROW_FIELDS = ('server', 'name', 'source', 'destination', 'live', 'cold',
              'block_migration', 'blockers', 'warnings', 'command',
              'findings')


def server_rows(evaluations, server_ids, snapshot):
    """One dict per server x destination (ROW_FIELDS) and the blocked ids.

    What ``migration precheck`` shows and the Ansible module returns: a
    server with no candidate destination is one row saying so; blockers
    are those of a verdict that was checked.
    """
    result = []
    blocked = []
    for server_id in server_ids:
        server = snapshot.servers[server_id]
        evs = [e for e in evaluations if e.server.id == server_id]
        if not evaluate.server_allowed(evs, server_id):
            blocked.append(server_id)
        if not evs:
            result.append(dict(
                server=server.id, name=server.name, source=server.host,
                destination='', live='no', cold='no', block_migration='',
                blockers=[_('no candidate destination')], warnings=[],
                command='', findings=[]))
            continue
        for ev in evs:
            result.append(dict(
                server=server.id, name=server.name, source=ev.source,
                destination=ev.destination, live=ev.live.label,
                cold=ev.cold.label, block_migration=ev.block_migration,
                blockers=[b.as_text() for b in ev.blockers
                          if any(ev.verdict(k).checked
                                 for k in b.applies_to)],
                warnings=[w.as_text() for w in ev.relevant_warnings()],
                command=ev.command(),
                findings=[x.as_text() for x in ev.findings]))
    return result, blocked
