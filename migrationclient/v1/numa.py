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

"""``openstack numa compare``: NUMA placement before / after a migration.

Seed 8.3 steps 4-6, 8.4 step 4 and 8.8: instead of logging in to the
compute nodes and comparing ``virsh vcpuinfo`` / ``numatune`` by eye, the
command snapshots the placement (``--save``) and compares the current one
with it (``--before``), or compares two hosts (``--hosts``).
"""

import dataclasses
import datetime
import json
import logging
import os

from osc_lib.command import command
from osc_lib import exceptions

from migrationclient._i18n import _
from migrationclient import exitcodes
from migrationclient.host import compare
from migrationclient.host import probe
from migrationclient.host import ssh
from migrationclient.host import topology
from migrationclient import microversions

LOG = logging.getLogger(__name__)

COLUMNS = ('Aspect', 'Before', 'After', 'Verdict')
SAVE_COLUMNS = ('Aspect', 'Value')
MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024


@dataclasses.dataclass
class ServerLocation:
    """Where a server runs, as the cloud says (the seam to SSH)."""

    id: str
    name: str
    host: str            # OS-EXT-SRV-ATTR:host
    domain: str          # OS-EXT-SRV-ATTR:instance_name
    address: str | None = None   # hypervisor host_ip, if the API has it


def _sdk_errors():
    from openstack import exceptions as sdk_exceptions
    return sdk_exceptions.SDKException


def host_address(compute, host):
    """The hypervisor ``host_ip`` of compute ``host``, or None."""
    try:
        for hypervisor in compute.hypervisors(details=True):
            service = getattr(hypervisor, 'service_details', None) or {}
            if host in (service.get('host'), hypervisor.name):
                return getattr(hypervisor, 'host_ip', None) or None
    except _sdk_errors() as exc:
        LOG.debug('hypervisor list failed (%s); using host names', exc)
    return None


def locate_server(compute, ref):
    """Find the server and where it runs; one CommandError line if not."""
    from openstack import exceptions as sdk_exceptions
    try:
        try:
            server = compute.find_server(ref, ignore_missing=False,
                                         details=True, all_projects=True)
        except sdk_exceptions.ForbiddenException:
            # not admin: the server may still be the user's own
            server = compute.find_server(ref, ignore_missing=False,
                                         details=True)
    except _sdk_errors() as exc:
        raise exceptions.CommandError(_('server %(ref)s: %(err)s') % {
            'ref': ref, 'err': str(exc).splitlines()[0] if str(exc)
            else type(exc).__name__})
    host = getattr(server, 'compute_host', None)
    domain = getattr(server, 'instance_name', None)
    if not host or not domain:
        raise exceptions.CommandError(_(
            'server %s: the compute API does not show its host and '
            'libvirt name (OS-EXT-SRV-ATTR:*): admin rights needed, or the '
            'server is not on a host') % ref)
    address = None
    hv_name = getattr(server, 'hypervisor_hostname', None)
    if hv_name:
        try:
            hypervisor = compute.find_hypervisor(hv_name, ignore_missing=True,
                                                 details=True)
            address = getattr(hypervisor, 'host_ip', None) or None
        except _sdk_errors() as exc:
            LOG.debug('hypervisor %s lookup failed: %s', hv_name, exc)
    return ServerLocation(id=server.id, name=server.name or server.id,
                          host=host, domain=domain, address=address)


def nova_topology(compute, server_id):
    """``GET /servers/{id}/topology`` (2.78+), or None when unavailable."""
    from openstack.compute.v2 import server as _server
    try:
        server = _server.Server(id=server_id)
        return server.fetch_topology(compute)
    except _sdk_errors() as exc:
        LOG.debug('server topology unavailable (needs %s): %s',
                  microversions.SERVER_TOPOLOGY, exc)
        return None


# -- snapshot file ----------------------------------------------------------

def make_snapshot(location, placement, host_topology, now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {
        'format': topology.SNAPSHOT_FORMAT,
        'version': topology.SNAPSHOT_VERSION,
        'taken_at': now.isoformat(timespec='seconds'),
        'server': {'id': location.id, 'name': location.name},
        'placement': placement.to_dict(),
        'host_topology': host_topology.to_dict(),
    }


def write_snapshot(path, snapshot):
    text = json.dumps(snapshot, indent=2, sort_keys=True) + '\n'
    try:
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
    except OSError as exc:
        raise exceptions.CommandError(_('cannot write snapshot %(p)s: '
                                        '%(e)s') % {'p': path,
                                                    'e': exc.strerror})


def read_snapshot(path):
    """Load and validate a ``--save`` file; one CommandError line if bad.

    Returns ``(snapshot_dict, GuestPlacement)``.
    """
    def bad(reason):
        return exceptions.CommandError(_(
            'snapshot %(p)s is not a usable NUMA snapshot: %(r)s')
            % {'p': path, 'r': reason})
    try:
        if os.path.getsize(path) > MAX_SNAPSHOT_BYTES:
            raise bad(_('larger than %d bytes') % MAX_SNAPSHOT_BYTES)
        with open(path, encoding='utf-8') as handle:
            data = json.load(handle)
    except OSError as exc:
        raise exceptions.CommandError(_('cannot read snapshot %(p)s: %(e)s')
                                      % {'p': path, 'e': exc.strerror})
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad(_('not JSON (%s)') % exc)
    if not isinstance(data, dict) or \
            data.get('format') != topology.SNAPSHOT_FORMAT:
        raise bad(_('no "format": "%s"') % topology.SNAPSHOT_FORMAT)
    if data.get('version') != topology.SNAPSHOT_VERSION:
        raise bad(_('version %(v)r, this client reads %(m)d') % {
            'v': data.get('version'), 'm': topology.SNAPSHOT_VERSION})
    try:
        placement = topology.GuestPlacement.from_dict(data['placement'])
        topology.HostTopology.from_dict(data['host_topology'])
        server = data['server']
        str(server['id'])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise bad(_('missing or invalid field (%s: %s)')
                  % (type(exc).__name__, exc))
    return data, placement


# -- the work below the command (the seam for end-to-end tests) ----------

def take_snapshot(pool, location, extra_nics=()):
    """Snapshot dict of the server's current placement."""
    host_topology = probe.gather_host_facts(pool, location.host)
    placement = probe.guest_facts(pool, location.host, location.domain,
                                  topo=host_topology, extra_nics=extra_nics)
    return make_snapshot(location, placement, host_topology), placement


def compare_with_snapshot(pool, location, snapshot, before, extra_nics=(),
                          nova=None):
    """Rows comparing the server's current placement with ``before``."""
    if str(snapshot['server']['id']) != location.id:
        raise exceptions.CommandError(_(
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
    import concurrent.futures
    with concurrent.futures.ThreadPoolExecutor(2) as executor:
        fa = executor.submit(probe.gather_host_facts, pool, host_a)
        fb = executor.submit(probe.gather_host_facts, pool, host_b)
        a, b = fa.result(), fb.result()
    for topo in (a, b):
        for note in topo.notes:
            LOG.warning(_('host %(h)s: %(n)s'), {'h': topo.host, 'n': note})
    return compare.compare_hosts(a, b)


class CompareNuma(command.Lister):
    """Compare NUMA placement before/after a migration, or two hosts.

    Over SSH with virsh: ``--save`` snapshots a server's placement,
    ``--before`` compares the current one with it, ``--hosts`` compares
    two compute hosts' topologies.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            'server', metavar='<server>', nargs='?',
            help=_('Server (name or ID) whose placement to snapshot or '
                   'compare'))
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument(
            '--save', metavar='<file>',
            help=_('Snapshot the server\'s placement now into <file> '
                   '(before the migration)'))
        mode.add_argument(
            '--before', metavar='<file>',
            help=_('Compare the current placement with the snapshot in '
                   '<file>'))
        mode.add_argument(
            '--hosts', metavar='<host>', nargs=2,
            help=_('Compare the NUMA topologies of two compute hosts'))
        parser.add_argument(
            '--nic', metavar='<host-nic>', action='append', default=[],
            help=_('Host NIC the server depends on that its libvirt XML '
                   'does not show, e.g. the OVS-DPDK port behind a '
                   'vhost-user interface (repeatable)'))
        ssh.add_ssh_options(parser)
        return parser

    def _pool(self, parsed_args, addresses=None):
        try:
            return ssh.pool_from_parsed_args(parsed_args, addresses)
        except ValueError as exc:
            raise exceptions.CommandError(str(exc))

    def take_action(self, parsed_args):
        self._degraded = False
        if parsed_args.hosts:
            if parsed_args.server:
                raise exceptions.CommandError(_(
                    '--hosts compares two hosts; do not name a server'))
            return self._hosts(parsed_args)
        if not parsed_args.server:
            raise exceptions.CommandError(_(
                'name a server with --save or --before, or use --hosts '
                '<host> <host>'))
        if not parsed_args.save and not parsed_args.before:
            raise exceptions.CommandError(_(
                'give --save <file> (before the migration) or --before '
                '<file> (after it)'))
        snapshot = before = None
        if parsed_args.before:
            # read it first: a bad file should fail before any SSH
            snapshot, before = read_snapshot(parsed_args.before)
        compute = self.app.client_manager.compute
        location = locate_server(compute, parsed_args.server)
        addresses = {location.host: location.address} \
            if location.address else {}
        with self._pool(parsed_args, addresses) as pool:
            try:
                if parsed_args.save:
                    data, placement = take_snapshot(pool, location,
                                                    parsed_args.nic)
                    write_snapshot(parsed_args.save, data)
                    return SAVE_COLUMNS, compare.describe_placement(
                        placement)
                nova = nova_topology(compute, location.id)
                rows = compare_with_snapshot(pool, location, snapshot,
                                             before, parsed_args.nic, nova)
            except ssh.SSHError as exc:
                raise exceptions.CommandError(str(exc))
        return self._output(rows)

    def _hosts(self, parsed_args):
        host_a, host_b = parsed_args.hosts
        with self._pool(parsed_args) as pool:
            missing = [h for h in (host_a, host_b)
                       if h not in pool.options.host_map]
            if missing:
                compute = self.app.client_manager.compute
                for host in missing:
                    address = host_address(compute, host)
                    if address:
                        pool.addresses[host] = address
            try:
                rows = compare_two_hosts(pool, host_a, host_b)
            except ssh.SSHError as exc:
                raise exceptions.CommandError(str(exc))
        return self._output(rows)

    def _output(self, rows):
        self._degraded = compare.is_degraded(rows)
        if self._degraded:
            LOG.warning(_('NUMA placement degraded: %s'), '; '.join(
                '%s: %s' % (r.aspect, r.verdict[len('degraded: '):])
                for r in rows if r.degraded))
        return COLUMNS, [(r.aspect, r.before, r.after, r.verdict)
                         for r in rows]

    def run(self, parsed_args):
        self._degraded = False
        result = super().run(parsed_args)
        if self._degraded:
            return exitcodes.NUMA_DEGRADED
        return result
