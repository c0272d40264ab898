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

import logging

from osc_lib.command import command
from osc_lib import exceptions

from migrationclient._i18n import _
from migrationclient.cloud import errors as cloud_errors
from migrationclient.cloud import servers
from migrationclient.engine import numa
from migrationclient import exitcodes
from migrationclient.host import compare
from migrationclient.host import snapshot as snapshot_file
from migrationclient.host import ssh
from migrationclient.v1 import errors
from migrationclient.v1 import ssh_options

LOG = logging.getLogger(__name__)

COLUMNS = ('Aspect', 'Before', 'After', 'Verdict')
SAVE_COLUMNS = ('Aspect', 'Value')


class CompareNuma(command.Lister):
    """Compare NUMA placement before/after a migration, or two hosts.

    Reads the compute nodes over SSH with virsh (see the --ssh-* options)
    and changes nothing there.  Before the migration, --save <file>
    snapshots the server's placement; after it, --before <file> compares
    the current placement with that snapshot.  --hosts compares two
    compute hosts' topologies.  Exit status: 0 nothing degraded, 10 some
    aspect degraded.
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
        ssh_options.add_ssh_options(parser)
        return parser

    def _pool(self, parsed_args, addresses=None):
        try:
            return ssh.HostPool(self._options, addresses=addresses)
        except ValueError as exc:
            raise exceptions.CommandError(str(exc))

    @errors.one_line_errors
    def take_action(self, parsed_args):
        self._degraded = False
        # every --ssh-* option and file checked before any cloud or SSH call
        try:
            self._options = ssh_options.checked_options(parsed_args)
        except ValueError as exc:
            raise exceptions.CommandError(str(exc))
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
            snapshot, before = snapshot_file.read_snapshot(parsed_args.before)
        compute = self.app.client_manager.compute
        location = servers.locate_server(compute, parsed_args.server)
        addresses = {location.host: location.address} \
            if location.address else {}
        with self._pool(parsed_args, addresses) as pool:
            if parsed_args.save:
                data, placement = numa.take_snapshot(pool, location,
                                                     parsed_args.nic)
                snapshot_file.write_snapshot(parsed_args.save, data)
                return SAVE_COLUMNS, compare.describe_placement(placement)
            nova = servers.nova_topology(compute, location.id)
            rows = numa.compare_with_snapshot(pool, location, snapshot,
                                              before, parsed_args.nic, nova)
        return self._output(rows)

    def _hosts(self, parsed_args):
        host_a, host_b = parsed_args.hosts
        hint = None
        with self._pool(parsed_args) as pool:
            missing = [h for h in (host_a, host_b)
                       if h not in pool.options.host_map]
            compute = self.app.client_manager.compute if missing else None
            for host in missing:
                try:
                    address = servers.host_address(compute, host)
                except cloud_errors.Forbidden as exc:
                    # the bare names may still resolve (~/.ssh/config)
                    hint = _('%(why)s: give --ssh-host %(host)s=<address> '
                             '(or --ssh-host-map)') % {'why': exc,
                                                       'host': host}
                    break
                if address:
                    pool.addresses[host] = address
            try:
                rows = numa.compare_two_hosts(pool, host_a, host_b)
            except ssh.SSHError as exc:
                if hint is None:
                    raise
                raise exceptions.CommandError('%s (%s)' % (exc, hint))
        return self._output(rows)

    def _output(self, rows):
        self._degraded = compare.is_degraded(rows)
        if self._degraded:
            LOG.warning(_('NUMA placement degraded: %s'), '; '.join(
                '%s: %s' % (r.aspect, r.judgement.reason)
                for r in rows if r.degraded))
        return COLUMNS, [(r.aspect, r.before, r.after, r.verdict)
                         for r in rows]

    def run(self, parsed_args):
        self._degraded = False
        result = super().run(parsed_args)
        if self._degraded:
            return exitcodes.NUMA_DEGRADED
        return result
