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
from migrationclient.engine.drain import fleetplan
from migrationclient.engine.drain import livelimits
from migrationclient.engine import events
from migrationclient.engine import metrics
from migrationclient.engine import report as report_mod
from migrationclient import errors
from migrationclient import exitcodes
from migrationclient.v1 import arguments
from migrationclient.v1 import drain_plan
from migrationclient.v1 import errors as v1_errors
from migrationclient.v1 import ssh_options

LOG = logging.getLogger(__name__)

#: Plan: for a server that fits nowhere, the constraint that binds on each
#: candidate (in json / yaml: the server's whole placement)
PLAN_COLUMNS = ('Server', 'Name', 'Project', 'Host', 'Action',
                'Destination', 'Reason', 'Plan')
#: Host: where the server was (the drained host); Destination: where the
#: drain sent it ('-': not sent); Now on: where it is as the drain last
#: saw it ('-': unknown)
RESULT_COLUMNS = ('Server', 'Name', 'Host', 'Action', 'Destination',
                  'Now on', 'State', 'Migration', 'Reason')
#: states of a server the drain never sent anywhere: still on its host
NOT_SENT = (drain.PENDING, drain.NOT_STARTED, drain.SKIPPED)


def sent_to(item):
    """The Destination column: where the drain sent the server."""
    if item.state in NOT_SENT or item.action not in (drain.LIVE, drain.COLD) \
            or not item.attempts:
        return '-'
    return item.destination or _('scheduler')


def now_on(item):
    """The Now on column: where the server is, as the drain last saw it."""
    if item.final_host:
        return item.final_host
    if item.state in NOT_SENT and item.action != drain.NONE:
        return item.original_host
    return '-'


def add_arguments(parser):
    """The options of ``openstack compute drain``."""
    parser.add_argument(
        'hosts', metavar='<host>', nargs='*',
        help=_('Compute host to drain (exact nova-compute host name; '
               'repeat for several)'))
    parser.add_argument(
        '--dry-run', action='store_true',
        help=_('Print the capacity plan and change nothing (no '
               'service, no server, no file; only --ssh-accept-new-host-key '
               'still saves the new host keys it accepts): per server the '
               'planned destination, live / cold and why, or what binds '
               'on each candidate when it fits nowhere; per destination '
               'vCPU / PCPU, RAM and disk used before -> after; the N+1 '
               'headroom.  -f json / yaml: one document with all of it '
               '(servers, destinations, headroom, summary)'))
    parser.add_argument(
        '--disable-reason', metavar='<text>',
        help=_('Reason recorded on the disabled service, after the '
               'drain claim "[drain:<report id>]" (default: '
               '"migrationclient drain <UTC time>")'))
    parser.add_argument(
        '--enable-when-done', action='store_true',
        help=_('Enable the service again when the host is empty '
               'and still carries this drain\'s claim (default: it '
               'stays disabled for the maintenance)'))
    dest = parser.add_mutually_exclusive_group()
    dest.add_argument(
        '--target-host', metavar='<host>', action='append', default=[],
        help=_('Destination host (repeat for several; default: every '
               'enabled and up compute host not drained; the capacity '
               'plan picks one per server, Nova\'s scheduler checks it)'))
    dest.add_argument(
        '--target-aggregate', metavar='<aggregate>',
        help=_('Destinations: the enabled and up hosts of this '
               'aggregate'))
    parser.add_argument(
        '--no-live', action='store_true',
        help=_('Cold migrate every server (ACTIVE guests restart)'))
    parser.add_argument(
        '--max-parallel', metavar='<n>', default=2,
        help=_('Migrations in flight per source host (default 2)'))
    parser.add_argument(
        '--max-per-target', metavar='<n>', default=1,
        help=_('Migrations in flight per destination host (default 1); '
               '0: no limit, the scheduler places every server (the '
               'capacity plan is still made and shown).  Both limits '
               'count every migration the cloud lists as in progress '
               '(another drain\'s, anyone\'s), not only this drain\'s'))
    parser.add_argument(
        '--max-live-per-source', metavar='<n>', default=None,
        help=_('Live migrations in flight per source host, to match '
               'Nova\'s [DEFAULT] max_concurrent_live_migrations there '
               '(0: no limit).  Default: with --ssh, each source host\'s '
               'nova.conf value (0 there, or not readable: 1); without '
               '--ssh, 1 (Nova\'s default).  Given, it wins over '
               'nova.conf.  Why: a migration Nova queues shows no '
               'progress, and --stuck-after would take it for a stuck '
               'one'))
    parser.add_argument(
        '--ssh', action='store_true', default=False,
        help=_('Read the drained and destination hosts once over SSH '
               '(see the --ssh-* options), as "migration precheck --ssh" '
               'does: the moves and the capacity plan then rest on their '
               'free pinnable CPUs, memory and huge pages per NUMA cell '
               'and free PCI devices / VFs, and each source host\'s '
               'nova.conf sets its live migration limit (see '
               '--max-live-per-source; stderr says the limit per host).  '
               'A host that cannot be read is a warning; when none can, '
               'exit status %d and nothing changed (see --ssh-optional)')
        % exitcodes.DRAIN_NO_SSH_FACTS)
    parser.add_argument(
        '--ssh-optional', action='store_true', default=False,
        help=_('With --ssh: when no host at all can be read over SSH, '
               'drain on the API facts alone (warnings).  Default: '
               'refuse, changing nothing, exit status %d, as migration '
               'precheck --ssh does') % exitcodes.DRAIN_NO_SSH_FACTS)
    ssh_options.add_ssh_options(parser)
    parser.add_argument(
        '--no-confirm', action='store_true',
        help=_('Leave cold-migrated servers in VERIFY_RESIZE for the '
               'operator to confirm'))
    parser.add_argument(
        '--stuck-after', metavar='<seconds>', default=300,
        help=_('A live migration whose remaining memory has not '
               'shrunk for this long is stuck (default 300; 0: never; '
               'migration watch calls it --stuck-window)'))
    parser.add_argument(
        '--on-stuck', choices=drain.ON_STUCK, default='abort',
        help=_('What to do with a stuck live migration: abort (default, '
               'the guest keeps running on the source), force-complete '
               '(pauses the guest until the copy ends) or wait.  Unlike '
               'migration watch, which only reports, the drain aborts '
               'by default'))
    parser.add_argument(
        '--timeout', metavar='<seconds>',
        help=_('Stop waiting for a server after this many seconds (more '
               'than 0): its live migration is aborted and the server '
               'stays on its source (default: no limit)'))
    parser.add_argument(
        '--max-failures', metavar='<n>', default=1,
        help=_('Stop starting migrations after this many failures; '
               'those in flight go on and the exit status is 4 '
               '(default 1; 0: never stop)'))
    parser.add_argument(
        '--retry', action='store_true',
        help=_('Retry a server once on another host when Nova answers '
               '"No valid host" (other failures are not retried).  A '
               'server sent to its planned host is re-planned on fresh '
               'facts after such a refusal without it'))
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
        help=_('Seconds between polls (default 2; migration watch '
               'calls it --interval)'))
    parser.add_argument(
        '--progress-interval', metavar='<seconds>',
        help=_('Read the byte progress of a running live migration at '
               'most once per this many seconds, and only when its '
               'record changed (default: --stuck-after / 6, 50 s with '
               'the default; never below --poll-interval).  A stuck '
               'verdict can come up to this much later, never earlier'))
    parser.add_argument(
        '--allow-partial', action='store_true',
        help=_('Start even when the capacity plan cannot place every '
               'server: the servers that fit move, the others are '
               'skipped and reported with what binds (default: refuse, '
               'changing nothing, exit status %d)')
        % exitcodes.DRAIN_PLAN_INFEASIBLE)
    parser.add_argument(
        '--report', metavar='<file>',
        help=_('JSON report file (default: drain-<hosts>.json in '
               '$XDG_STATE_HOME/migrationclient/clouds/<cloud>/, '
               '<cloud> from the identity URL and region; '
               '$XDG_STATE_HOME: ~/.local/state when unset); running '
               'the same drain again continues from it'))
    parser.add_argument(
        '--resume', metavar='<report>',
        help=_('Continue the drain recorded in this report: servers '
               'in flight are followed, never sent twice'))
    parser.add_argument(
        '--restore', metavar='<report>',
        help=_('Move the servers of this drain report back to their '
               'original hosts (no <host> argument)'))
    parser.add_argument(
        '--enable-service', action='store_true',
        help=_('With --restore: enable the original hosts\' '
               'nova-compute service first, only where this drain '
               'disabled it and its claim is still there'))
    parser.add_argument(
        '--events', metavar='<file>|-',
        help=_('Append one JSON object per line for every state change '
               'of every server to this file, as it happens (created '
               'with mode 0600); "-": standard output, which then holds '
               'these lines only (no result table; -f / -c refused).  '
               'Not written with --dry-run'))
    parser.add_argument(
        '--metrics-file', metavar='<file>',
        help=_('Rewrite this Prometheus text file on every poll, '
               'atomically, for node_exporter\'s textfile collector '
               '(a name ending in .prom): servers moved / failed / '
               'remaining, '
               'migrations in flight, bytes to copy, drain state.  Not '
               'written with --dry-run'))
    return parser


class DrainCompute(command.Lister):
    """Move every server off compute hosts, then leave them disabled.

    Before anything is touched, places every server of all the drained
    hosts together on the hosts that stay (one capacity plan with the
    precheck rules: ACTIVE / PAUSED live, SHUTOFF or cannot-go-live cold,
    ERROR or busy servers skipped with the reason; --dry-run prints it).
    Then disables each host's nova-compute service, sends each server to
    its planned host (named, still checked by Nova's scheduler; with
    --max-per-target 0 or an old cloud the scheduler picks), re-plans a
    server on fresh facts when Nova refuses it or its host became
    unusable, runs the migrations with bounded concurrency, confirms cold
    migrations once the server is healthy on its destination, and writes a
    JSON report (with the plan) after every change.  Refuses, changing
    nothing (exit 1), when nova-conductor, nova-scheduler, Placement or
    the destinations are not healthy, or when another drain claims the
    host.  Exit status: 0 when the hosts hold no server that should have
    moved, 4 when some remain, 5 when interrupted (resumable), 9 when only
    --timeout left servers behind, 11 when --ssh could read no host
    (nothing changed; --ssh-optional drains on the API facts), 12 when
    the plan cannot place every server (nothing changed; --allow-partial
    drains the rest).  --restore REPORT moves the servers of a finished
    drain back.
    """

    def get_parser(self, prog_name):
        return add_arguments(super().get_parser(prog_name))

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
            allow_partial=args.allow_partial,
            max_live_per_source=number('--max-live-per-source',
                                       args.max_live_per_source, int))
        if (args.disable_reason is not None
                and not 0 < len(args.disable_reason)
                <= drain.MAX_REASON_TEXT):
            # Checked before anything is written or changed: Nova refuses it
            # only once the drain has started.
            raise errors.Error(
                _('--disable-reason must be 1 to %d characters (the '
                  'drain claim marker takes the rest of Nova\'s %d)')
                % (drain.MAX_REASON_TEXT, services.MAX_REASON_LENGTH))
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
    def _check_output(self, args):
        """``--events -``: stdout holds JSON lines only (no -f / -c)."""
        self.events_on_stdout = (args.events == events.STDOUT and
                                 not args.dry_run)
        if args.events == events.STDOUT and (
                getattr(args, 'formatter', 'table') != 'table' or
                getattr(args, 'columns', None)):
            raise errors.Error(_(
                '--events - writes JSON lines on standard output: no -f / '
                '-c with it (use --events FILE to keep the formatted '
                'result)'))

    def _outputs(self, args, job):
        """Open --events / check --metrics-file: one line on failure.

        After the plan and before anything changes; never for --dry-run.
        """
        sink = mfile = None
        with v1_errors.translated():
            if args.metrics_file is not None:
                mfile = metrics.MetricsFile(args.metrics_file)
                note = mfile.check()
                if note:
                    LOG.warning(note)
            if args.events is not None:
                sink = events.open_sink(
                    args.events, events.drain_name(job.hosts), job.kind,
                    stdout=self.app.stdout, on_error=LOG.warning)
        return sink, mfile

    def _live_limits(self, args, job):
        """--ssh: each source host's max_concurrent_live_migrations."""
        with v1_errors.translated():
            warnings, lines = livelimits.read_for_job(job, args.ssh_options)
        for note in warnings:
            LOG.warning(note)
        for line in lines:
            sys.stderr.write(line + '\n')

    @v1_errors.one_line_errors
    def _check_ssh(self, args):
        """--ssh: every option and file checked before any call."""
        args.ssh_options = None
        if args.ssh_optional and not args.ssh:
            raise errors.Error(_('--ssh-optional goes with --ssh'))
        if not args.ssh:
            return
        if args.restore:
            raise errors.Error(_('--ssh reads the drained hosts\' '
                                 'nova.conf: not with --restore'))
        try:
            args.ssh_options = ssh_options.checked_options(args)
        except ValueError as exc:
            raise errors.Error(str(exc))

    def _plan_rows(self, job, items, options):
        """The --dry-run table: one row per server, its placement."""
        cplan = getattr(job, 'capacity', None)
        if cplan is not None:
            picks = None
            if not options.max_per_target:
                picks = _('--max-per-target 0')
            elif any(i.planned and i.candidates != (i.planned,)
                     for i in items if i.state == drain.PENDING):
                picks = _('the compute API is too old to name a host for '
                          'some moves')
            self.shown_plan = (cplan, picks)
        rows = [(i.id, i.name, i.project_id or '-', i.original_host,
                 i.action, job.label(i), i.reason,
                 drain_plan.PlacementColumn(
                     drain_plan.placement_of(cplan, i.id)))
                for i in items if i.state not in drain.MOVED]
        return PLAN_COLUMNS, rows

    def produce_output(self, parsed_args, column_names, data):
        if getattr(self, 'events_on_stdout', False):
            # The end event carries the result; a table (even an empty
            # one, a blank line) would break a JSON-lines reader.
            return 0
        shown = getattr(self, 'shown_plan', None)
        fmt = getattr(parsed_args, 'formatter', 'table')
        if shown is not None and fmt in drain_plan.DOCUMENT_FORMATS:
            # one document: the rows, the destinations, the headroom
            cplan, picks = shown
            doc = drain_plan.document(cplan, column_names, data, picks,
                                      getattr(parsed_args, 'columns', None))
            self.formatter.emit_one(list(doc), list(doc.values()),
                                    self.app.stdout, parsed_args)
            for line in doc['summary']:
                sys.stderr.write(line + '\n')
            return 0
        status = super().produce_output(parsed_args, column_names, data)
        if shown is not None:
            cplan, picks = shown
            if fmt == 'table':
                drain_plan.emit(self.formatter, self.app.stdout,
                                parsed_args, cplan, picks)
            else:
                # csv, value: stdout holds the rows only
                for line in drain_plan.summary_lines(cplan, picks):
                    sys.stderr.write(line + '\n')
        return status

    @v1_errors.one_line_errors
    def take_action(self, parsed_args):
        self._check_output(parsed_args)
        options = self._options(parsed_args)
        self._check_ssh(parsed_args)
        log = drain.ProgressLog(sys.stderr)
        job = self._job(parsed_args, options, log)
        job.ssh_options = parsed_args.ssh_options
        self.exit_status = exitcodes.OK
        self.shown_plan = None
        refused = None
        try:
            items = job.prepare(explicit_report=bool(parsed_args.report))
        except drain.PlanInfeasible as exc:
            # Nothing was changed: the plan is the answer (exit 12).
            refused, items = exc, job.items
            self.exit_status = exc.exit_status
        for note in job.notes:
            LOG.warning(note)
        tried = fleetplan.none_read(job)
        if refused is None and tried and not parsed_args.ssh_optional:
            # Asked for the hosts' facts and got none: the plan would
            # rest on the API alone; nothing was changed (exit 11).
            refused = _(
                'SSH: none of the %(n)d compute host(s) could be read; '
                'nothing changed (exit status %(status)d; --ssh-optional '
                'drains on the API facts alone)') % {
                    'n': len(tried), 'status': exitcodes.DRAIN_NO_SSH_FACTS}
            self.exit_status = exitcodes.DRAIN_NO_SSH_FACTS
        if refused is not None:
            sys.stderr.write('%s%s\n' % (
                _('--dry-run: a drain would refuse: ')
                if parsed_args.dry_run else '', refused))
        if parsed_args.ssh and refused is None:
            self._live_limits(parsed_args, job)
        if parsed_args.dry_run or refused is not None:
            return self._plan_rows(job, items, options)
        job.events, job.metrics_file = self._outputs(parsed_args, job)
        log.items = items
        said = len(job.notes)
        try:
            self.exit_status = job.execute()
        finally:
            log.close()
            if job.events is not None:
                job.events.close()
            for note in job.notes[said:]:
                LOG.warning(note)
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
        rows = [(i.id, i.name, i.original_host, i.action, sent_to(i),
                 now_on(i), i.state,
                 i.migration_id if i.migration_id is not None else '-',
                 i.error or i.reason) for i in items]
        return RESULT_COLUMNS, rows

    def run(self, parsed_args):
        super().run(parsed_args)
        return getattr(self, 'exit_status', exitcodes.OK)
