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

"""``openstack compute drain``: move every server off compute hosts."""

import logging
import sys

from osc_lib.command import command

from migrationclient._i18n import _
from migrationclient.cloud import services
from migrationclient.engine import drain
from migrationclient.engine import report as report_mod
from migrationclient import errors
from migrationclient import exitcodes
from migrationclient.v1 import arguments
from migrationclient.v1 import errors as v1_errors

LOG = logging.getLogger(__name__)

PLAN_COLUMNS = ('Server', 'Name', 'Project', 'Host', 'Action',
                'Destination', 'Reason')
RESULT_COLUMNS = ('Server', 'Name', 'Host', 'Action', 'Destination',
                  'State', 'Migration', 'Reason')


class DrainCompute(command.Lister):
    """Move every server off compute hosts, then leave them disabled.

    Disables each host's nova-compute service, plans each server with the
    precheck rules (ACTIVE / PAUSED live, SHUTOFF or cannot-go-live cold,
    ERROR or busy servers skipped with the reason), runs the migrations
    with bounded concurrency, confirms cold migrations once the server is
    healthy on its destination, and writes a JSON report after every
    change.  Exit status: 0 when the hosts hold no server that should have
    moved, 4 when some remain, 5 when interrupted (resumable), 9 when only
    --timeout left servers behind.  --restore REPORT moves the servers of
    a finished drain back.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            'hosts', metavar='<host>', nargs='*',
            help=_('Compute host to drain (exact nova-compute host name; '
                   'repeat for several)'))
        parser.add_argument(
            '--dry-run', action='store_true',
            help=_('Print the plan (server, project, action, destination, '
                   'reason) and change nothing'))
        parser.add_argument(
            '--disable-reason', metavar='<text>',
            help=_('Reason recorded on the disabled service (default: '
                   '"migrationclient drain <UTC time>")'))
        parser.add_argument(
            '--enable-when-done', action='store_true',
            help=_('Enable the service again when the host is empty '
                   '(default: it stays disabled for the maintenance)'))
        dest = parser.add_mutually_exclusive_group()
        dest.add_argument(
            '--target-host', metavar='<host>', action='append', default=[],
            help=_('Destination host (repeat for several; default: any '
                   'enabled host, checked by the scheduler)'))
        dest.add_argument(
            '--target-aggregate', metavar='<aggregate>',
            help=_('Move servers to the hosts of this aggregate'))
        parser.add_argument(
            '--no-live', action='store_true',
            help=_('Cold migrate every server (ACTIVE guests restart)'))
        parser.add_argument(
            '--max-parallel', metavar='<n>', default=2,
            help=_('Migrations in flight per source host (default 2)'))
        parser.add_argument(
            '--max-per-target', metavar='<n>', default=1,
            help=_('Migrations in flight per destination host, across the '
                   'whole drain (default 1, like Nova\'s '
                   'max_concurrent_live_migrations); 0: no limit, the '
                   'scheduler places every server'))
        parser.add_argument(
            '--no-confirm', action='store_true',
            help=_('Leave cold-migrated servers in VERIFY_RESIZE for the '
                   'operator to confirm'))
        parser.add_argument(
            '--stuck-after', metavar='<seconds>', default=300,
            help=_('A live migration whose remaining memory has not '
                   'shrunk for this long is stuck (default 300; 0: never)'))
        parser.add_argument(
            '--on-stuck', choices=drain.ON_STUCK, default='abort',
            help=_('What to do with a stuck live migration: abort (default, '
                   'the guest keeps running on the source), force-complete '
                   '(pauses the guest until the copy ends) or wait'))
        parser.add_argument(
            '--timeout', metavar='<seconds>',
            help=_('Give up on a server after this many seconds (more '
                   'than 0): its live migration is aborted (default: no '
                   'limit)'))
        parser.add_argument(
            '--max-failures', metavar='<n>', default=1,
            help=_('Stop starting migrations after this many failures '
                   '(default 1; 0: never stop)'))
        parser.add_argument(
            '--retry', action='store_true',
            help=_('Retry a server once on another host when Nova finds '
                   'no valid host'))
        parser.add_argument(
            '--on-interrupt', choices=drain.ON_INTERRUPT, default='abort',
            help=_('On SIGINT / SIGTERM: abort the live migrations in '
                   'flight (default) or wait for them, for at most '
                   '--grace-period; a second signal stops at once'))
        parser.add_argument(
            '--grace-period', metavar='<seconds>', default=60,
            help=_('Seconds to keep watching after an interruption '
                   '(default 60)'))
        parser.add_argument(
            '--poll-interval', metavar='<seconds>', default=2,
            help=_('Seconds between polls (default 2)'))
        parser.add_argument(
            '--progress-interval', metavar='<seconds>',
            help=_('Read the byte progress of a running live migration at '
                   'most once per this many seconds, and only when its '
                   'record changed (default: --stuck-after / 6, 50 s with '
                   'the default; never below --poll-interval).  A stuck '
                   'verdict can come up to this much later, never earlier'))
        parser.add_argument(
            '--allow-partial', action='store_true',
            help=_('Start even when some servers have no destination '
                   '(they are skipped and reported)'))
        parser.add_argument(
            '--report', metavar='<file>',
            help=_('JSON report file (default: '
                   '$XDG_STATE_HOME/migrationclient/drain-<hosts>.json); '
                   'running the same drain again continues from it'))
        parser.add_argument(
            '--resume', metavar='<report>',
            help=_('Continue the drain recorded in this report'))
        parser.add_argument(
            '--restore', metavar='<report>',
            help=_('Move the servers of this drain report back to their '
                   'original hosts (no <host> argument)'))
        parser.add_argument(
            '--enable-service', action='store_true',
            help=_('With --restore: enable the original hosts\' '
                   'nova-compute service first'))
        return parser

    @v1_errors.one_line_errors
    def _options(self, args):
        number = arguments.number
        options = drain.Options(
            max_parallel=number('--max-parallel', args.max_parallel, int),
            max_per_target=number('--max-per-target', args.max_per_target,
                                  int),
            target_hosts=tuple(args.target_host),
            no_live=args.no_live,
            confirm=not args.no_confirm,
            stuck_after=number('--stuck-after', args.stuck_after) or None,
            on_stuck=args.on_stuck,
            timeout=number('--timeout', args.timeout, positive=True),
            max_failures=number('--max-failures', args.max_failures, int),
            retry=args.retry,
            on_interrupt=args.on_interrupt,
            grace_period=number('--grace-period', args.grace_period),
            poll_interval=number('--poll-interval', args.poll_interval,
                                 minimum=0.1),
            progress_interval=arguments.seconds(
                '--progress-interval', args.progress_interval,
                allow_zero=True),
            allow_partial=args.allow_partial)
        if (args.disable_reason is not None
                and not 0 < len(args.disable_reason)
                <= services.MAX_REASON_LENGTH):
            # Checked before anything is written or changed: Nova refuses it
            # only once the drain has started.
            raise errors.Error(
                _('--disable-reason must be 1 to %d characters')
                % services.MAX_REASON_LENGTH)
        if options.max_parallel < 1:
            raise errors.Error(_('--max-parallel must be at least 1'))
        return options

    def _job(self, args, options, log):
        with v1_errors.translated():
            return self._new_job(args, options, log)

    def _new_job(self, args, options, log):
        compute = self.app.client_manager.compute
        conn = self.app.client_manager.sdk_connection
        if args.restore:
            if args.hosts or args.resume:
                raise errors.Error(
                    _('--restore takes no <host> and no --resume'))
            if args.target_host or args.target_aggregate:
                raise errors.Error(
                    _('--restore moves servers to their original hosts: '
                      'no --target-host / --target-aggregate'))
            return drain.RestoreJob(compute, conn, args.restore, options,
                                    report_path=args.report,
                                    enable_service=args.enable_service,
                                    on_event=log)
        if args.enable_service:
            raise errors.Error(
                _('--enable-service is for --restore'))
        hosts = list(args.hosts)
        if args.resume and not hosts:
            hosts = report_mod.load(args.resume)['hosts']
        if not hosts:
            raise errors.Error(
                _('Name the compute host(s) to drain, or use --resume / '
                  '--restore'))
        return drain.Job(compute, conn, hosts, options,
                         report_path=args.report,
                         disable_reason=args.disable_reason,
                         enable_when_done=args.enable_when_done,
                         target_aggregate=args.target_aggregate,
                         resume=args.resume, on_event=log)

    @v1_errors.one_line_errors
    def take_action(self, parsed_args):
        options = self._options(parsed_args)
        log = drain.ProgressLog(sys.stderr)
        job = self._job(parsed_args, options, log)
        items = job.prepare(explicit_report=bool(parsed_args.report))
        for note in job.notes:
            LOG.warning(note)
        self.exit_status = exitcodes.OK
        if parsed_args.dry_run:
            rows = [(i.id, i.name, i.project_id or '-', i.original_host,
                     i.action, job.label(i), i.reason) for i in items
                    if i.state not in drain.MOVED]
            return PLAN_COLUMNS, rows
        log.items = items
        try:
            self.exit_status = job.execute()
        finally:
            log.close()
        sys.stderr.write(_('%(summary)s; report: %(path)s\n') % {
            'summary': drain.summary(items), 'path': job.report_path})
        left = drain.remaining(items)
        if left:
            sys.stderr.write(_('Still to move (%d):\n') % len(left))
            for i in left:
                sys.stderr.write('  %s (%s) on %s: %s: %s\n' % (
                    i.name or '-', i.id, i.original_host, i.state,
                    i.error or i.reason))
        for line in job.closing_lines():
            sys.stderr.write(line + '\n')
        rows = [(i.id, i.name, i.original_host, i.action,
                 i.final_host or i.destination or '-', i.state,
                 i.migration_id if i.migration_id is not None else '-',
                 i.error or i.reason) for i in items]
        return RESULT_COLUMNS, rows

    def run(self, parsed_args):
        super().run(parsed_args)
        return getattr(self, 'exit_status', exitcodes.OK)
