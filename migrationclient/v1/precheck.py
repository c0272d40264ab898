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

"""``openstack migration precheck``: can these servers move, where, how."""

import logging

from cliff import columns
from osc_lib.command import command
from osc_lib import exceptions

from migrationclient._i18n import _
from migrationclient.constraints import evaluate
from migrationclient.engine import precheck
from migrationclient import exitcodes
from migrationclient.v1 import errors
from migrationclient.v1 import ssh_options

LOG = logging.getLogger(__name__)

COLUMNS = ('Server', 'Name', 'Source', 'Destination', 'Live', 'Cold',
           'Block Migration', 'Blockers', 'Warnings', 'Command')
LONG_COLUMNS = COLUMNS + ('Findings',)


class LinesColumn(columns.FormattableColumn):
    """A list shown one item per line in tables, a list in json/yaml."""

    def human_readable(self):
        return '\n'.join(self._value)

    def machine_readable(self):
        return list(self._value)


def rows(evaluations, server_ids, snapshot, long=False):
    """Table rows (one per server x destination) and the blocked ids."""
    data, blocked = precheck.server_rows(evaluations, server_ids, snapshot)
    fields = precheck.ROW_FIELDS[:None if long else -1]
    lists = ('blockers', 'warnings', 'findings')
    return [tuple(LinesColumn(row[f]) if f in lists else row[f]
                  for f in fields) for row in data], blocked


class PrecheckMigration(command.Lister):
    """Check whether servers can be live / cold migrated, and where to.

    One row per server and candidate destination: the live and cold
    verdicts, what blocks them, warnings, and the exact
    "openstack server migrate" command to run.  Read-only: it changes
    nothing.  Exit status: 0 every server has an allowed migration, 3 some
    server cannot move, 11 --ssh read no host (verdicts from the API
    only).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            'servers', metavar='<server>', nargs='*',
            help=_('Server(s) to check (name or ID)'))
        parser.add_argument(
            '--source-host', metavar='<host>',
            help=_('Check every server on this compute host (all projects, '
                   'any state)'))
        parser.add_argument(
            '--host', metavar='<dest>', action='append', dest='hosts',
            help=_('Only check this destination host (exact name; '
                   'repeatable). Default: every enabled compute host other '
                   'than the source'))
        kind = parser.add_mutually_exclusive_group()
        kind.add_argument(
            '--live', action='store_const', const=(evaluate.LIVE,),
            dest='kinds', help=_('Check live migration only'))
        kind.add_argument(
            '--cold', action='store_const', const=(evaluate.COLD,),
            dest='kinds', help=_('Check cold migration only'))
        parser.add_argument(
            '--long', action='store_true', default=False,
            help=_('Also list every rule\'s finding (a Findings column)'))
        parser.add_argument(
            '--ssh', action='store_true', default=False,
            help=_('Also read each source and destination host once '
                   'over SSH (see the --ssh-* options): free pinnable '
                   'CPUs, memory and huge pages per NUMA cell, free PCI '
                   'devices and VFs, nova.conf, the guests\' CPU mode and '
                   'drives; and check from each source that each '
                   'destination\'s live migration endpoint answers '
                   '(transport).  A host that cannot be read is a '
                   'warning; exit status %d when none could be read') %
            exitcodes.PRECHECK_NO_SSH_FACTS)
        parser.add_argument(
            '--ssh-optional', action='store_true', default=False,
            help=_('With --ssh: when no host can be read over SSH, accept '
                   'the verdicts from the API facts alone (warnings, exit '
                   'status as without --ssh)'))
        ssh_options.add_ssh_options(parser)
        parser.add_argument(
            '--pci-live-migratable', action='store_true', default=False,
            help=_('The PCI aliases and devices are declared '
                   'live_migratable (Nova 2025.1 Epoxy and later): PCI '
                   'passthrough then only warns for live migration'))
        return parser

    @errors.one_line_errors
    def take_action(self, parsed_args):
        if not parsed_args.servers and not parsed_args.source_host:
            raise exceptions.CommandError(
                _('give at least one server or --source-host'))
        kinds = parsed_args.kinds or (evaluate.LIVE, evaluate.COLD)
        options = None
        if parsed_args.ssh_optional and not parsed_args.ssh:
            raise exceptions.CommandError(
                _('--ssh-optional goes with --ssh'))
        if parsed_args.ssh:
            # every option and file checked before any cloud or SSH call
            try:
                options = ssh_options.checked_options(parsed_args)
            except ValueError as exc:
                raise exceptions.CommandError(str(exc))
        client_manager = self.app.client_manager
        result = precheck.run(
            client_manager.compute, client_manager.sdk_connection,
            servers=parsed_args.servers,
            source_host=parsed_args.source_host,
            destinations=parsed_args.hosts, kinds=kinds,
            pci_live_migratable=parsed_args.pci_live_migratable,
            ssh_options=options)
        snapshot = result.snapshot
        data, blocked = rows(result.evaluations, result.server_ids, snapshot,
                             parsed_args.long)
        self._blocked = blocked
        for note in snapshot.cloud.notes:
            LOG.warning(note)
        # the summary on stderr: stdout stays the table / JSON document
        summary = precheck.summarize(result.evaluations, kinds)
        self.app.stderr.write(summary.text() + '\n')
        if summary.maybes:
            self.app.stderr.write(_(
                '"maybe": no blocker, but a fact that decides is not known; '
                'the Warnings column names it and how to read it\n'))
        if blocked:
            LOG.warning(_('%d server(s) cannot move: %s'), len(blocked),
                        ', '.join(snapshot.servers[s].name or s
                                  for s in blocked))
        self._no_ssh_facts = result.ssh_unread and not parsed_args.ssh_optional
        if result.ssh_unread:
            LOG.warning(_(
                'SSH: none of the %(n)d compute host(s) could be read; the '
                'verdicts rest on the API facts only%(tail)s'), {
                    'n': len(result.ssh_tried),
                    'tail': '' if parsed_args.ssh_optional else _(
                        ' (exit status %d; --ssh-optional accepts '
                        'that)') % exitcodes.PRECHECK_NO_SSH_FACTS})
        return (LONG_COLUMNS if parsed_args.long else COLUMNS), data

    def run(self, parsed_args):
        self._blocked = []
        self._no_ssh_facts = False
        result = super().run(parsed_args)
        if self._blocked:
            # a blocker from the API facts stands whatever SSH would add
            return exitcodes.PRECHECK_BLOCKED
        if self._no_ssh_facts:
            return exitcodes.PRECHECK_NO_SSH_FACTS
        return result
