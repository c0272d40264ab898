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

"""``openstack migration watch``: follow migrations until they end."""

import contextlib
import logging
import signal
import time

from osc_lib.command import command

from migrationclient._i18n import _
from migrationclient.cloud import actions as cloud_actions
from migrationclient.engine import metrics
from migrationclient.engine import render
from migrationclient.engine import watch
from migrationclient import errors
from migrationclient import exitcodes
from migrationclient.v1 import arguments
from migrationclient.v1 import errors as v1_errors

LOG = logging.getLogger(__name__)

#: Sampled byte-progress reads per poll of a --host / --all watch, at most
#: (first reads and stuck confirmations aside); see watch.rst "Cost".
PROGRESS_READS = 4

COLUMNS = ('ID', 'Server', 'Type', 'Source', 'Destination', 'Status',
           'Outcome', 'Elapsed', 'Memory', 'Actions', 'Reason')


def _isatty(stream):
    isatty = getattr(stream, 'isatty', None)
    return bool(isatty and isatty())


def event_stream(stdout, stderr, json_lines):
    """Where the event lines go: stdout only for ``-f json`` or a TTY.

    ``-f table / value / csv / yaml`` into a pipe or a file: standard
    output holds the formatted result only, so that it parses; the
    event lines go to standard error.
    """
    if json_lines or _isatty(stdout):
        return stdout
    return stderr


#: Summary columns a table on a terminal leaves out when no migration has
#: a value in them (the table then fits a 100-column terminal); scripts
#: (-f json / yaml / csv / value, or a pipe) always get every column.
OPTIONAL_COLUMNS = ('Memory', 'Actions', 'Reason')


def terminal_columns(columns, rows):
    """``(columns, rows)`` without the OPTIONAL_COLUMNS that are empty."""
    keep = [i for i, name in enumerate(columns)
            if name not in OPTIONAL_COLUMNS
            or any(row[i] not in ('-', '', None) for row in rows)]
    return (tuple(columns[i] for i in keep),
            [tuple(row[i] for i in keep) for row in rows])


def summary_row(state):
    m = state.migration
    mem = state.memory
    memory = '-'
    if mem is not None and mem.percent is not None:
        memory = '%.1f%%' % mem.percent
    reason = state.reason.summary if state.reason else None
    if not reason and state.actions and state.outcome:
        reason = _('%s requested by the watch') % state.actions[-1]
    return (m.id, m.server_id, m.migration_type or '-',
            m.source_compute or '-', m.dest_compute or '-', m.status,
            state.outcome or ('stuck' if state.stuck else 'in-progress'),
            render.human_duration(state.elapsed(state.last_seen)),
            memory, ', '.join(state.actions) or '-', reason or '')


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM ends the watch like Ctrl-C (summary, WATCH_INTERRUPTED).

    A service manager or ``timeout`` stops a watch with SIGTERM; without
    this the process would die without the summary scripts read.
    """
    def handler(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)
    try:
        saved = signal.signal(signal.SIGTERM, handler)
    except ValueError:          # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)


class WatchMigration(command.Lister):
    """Follow migrations until they end: status, progress, stuck, reason.

    Watches the in-progress migration of a server (or the given one), every
    migration to or from a host (--host) or the whole cloud (--all).
    Changes nothing unless --abort-after, --force-complete-after or
    --on-stuck ask for it.  On a terminal, progress bars (memory and disk
    copied, rate, ETA) are redrawn in place, then a summary table.  Into a
    pipe or a file, each status change is one timestamped line on standard
    error and standard output holds only the result in the -f format
    (-f json: JSON lines on standard output, one per status change, the
    summary last).  Needs the admin role (it lists migration records).
    Exit status:
    0 completed, 6 failed / error, 7 cancelled, 8 stuck and not resolved,
    9 --timeout reached, 130 interrupted (Ctrl-C: the migrations go on).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            'server', metavar='<server>', nargs='?',
            help=_('Server (name or ID) whose migration to watch'))
        parser.add_argument(
            'migration', metavar='<migration>', nargs='?',
            help=_('Migration (ID or UUID) of <server> to watch; default: '
                   'its migration in progress'))
        scope = parser.add_mutually_exclusive_group()
        scope.add_argument(
            '--host', metavar='<host>',
            help=_('Watch every migration to or from this compute host '
                   '(exact name): those in progress and those that start '
                   'while the watch runs'))
        scope.add_argument(
            '--all', dest='all_migrations', action='store_true',
            help=_('Watch every migration of the cloud: those in progress '
                   'and those that start while the watch runs'))
        parser.add_argument(
            '--interval', metavar='<seconds>', default='2',
            help=_('Seconds between polls (default: 2)'))
        parser.add_argument(
            '--progress-interval', metavar='<seconds>',
            help=_('With --host / --all: refresh the byte progress of each '
                   'running live migration at most once per this many '
                   'seconds, and only when its record changed (default: '
                   'the --interval; at most %d such reads per poll).  A '
                   '<server> watch reads it on every poll') %
            PROGRESS_READS)
        parser.add_argument(
            '--timeout', metavar='<seconds>',
            help=_('Stop watching after this many seconds (exit status 9, '
                   'or 8 when a migration is stuck); the migrations go on'))
        parser.add_argument(
            '--stuck-window', metavar='<seconds>', default='60',
            help=_('A running live migration whose remaining memory has '
                   'not shrunk for this long is stuck (default: 60)'))
        parser.add_argument(
            '--abort-after', metavar='<seconds>',
            help=_('Abort a live migration still in progress this many '
                   'seconds after the watch first saw it; the server stays '
                   'on its source (compute API 2.24; queued / preparing '
                   'ones from 2.65)'))
        parser.add_argument(
            '--force-complete-after', metavar='<seconds>',
            help=_('Force a running live migration to complete after this '
                   'many seconds (compute API 2.22).  This PAUSES the '
                   'guest until the copy ends: significant downtime is '
                   'possible'))
        parser.add_argument(
            '--on-stuck', choices=watch.ON_STUCK, default='report',
            help=_('What to do with a stuck live migration: report it '
                   '(default), abort it, or force it to complete (pauses '
                   'the guest); see --stuck-window'))
        parser.add_argument(
            '--metrics-file', metavar='<file>',
            help=_('Rewrite this Prometheus text file atomically on every '
                   'poll, for node_exporter\'s textfile collector (a name '
                   'ending in .prom): migrations by outcome, stuck ones, '
                   'bytes to copy, and the progress, ETA and stuck flag of '
                   'each migration in flight'))
        return parser

    def _validate(self, parsed_args):
        if parsed_args.host is not None and not parsed_args.host.strip():
            raise errors.Error(_('--host needs a host name'))
        scoped = parsed_args.host or parsed_args.all_migrations
        if scoped and parsed_args.server:
            raise errors.Error(
                _('Give either <server> or --host / --all, not both'))
        if not scoped and not parsed_args.server:
            raise errors.Error(
                _('Give a <server>, --host <host> or --all'))
        interval = arguments.seconds('--interval', parsed_args.interval)
        timeout = arguments.seconds('--timeout', parsed_args.timeout)
        window = arguments.seconds('--stuck-window', parsed_args.stuck_window)
        progress_interval = arguments.seconds(
            '--progress-interval', parsed_args.progress_interval,
            allow_zero=True)
        if progress_interval is None:
            progress_interval = interval
        policy = watch.Policy(
            abort_after=arguments.seconds(
                '--abort-after', parsed_args.abort_after, allow_zero=True),
            force_complete_after=arguments.seconds(
                '--force-complete-after', parsed_args.force_complete_after,
                allow_zero=True),
            on_stuck=parsed_args.on_stuck)
        return interval, timeout, window, policy, progress_interval

    def _check_policy(self, cloud, policy):
        for line in watch.check_policy(policy, cloud.version):
            self.app.stderr.write(line + '\n')

    @v1_errors.one_line_errors
    def take_action(self, parsed_args):
        interval, timeout, window, policy, progress_interval = (
            self._validate(parsed_args))
        mfile = self._metrics_file(parsed_args)
        cloud = cloud_actions.Actions(self.app.client_manager.compute)
        self._check_policy(cloud, policy)
        self.exit_status = exitcodes.OK
        json_lines = getattr(parsed_args, 'formatter', None) == 'json'
        if json_lines:
            # One JSON document per line, the summary too.
            parsed_args.noindent = True
        out = render.renderer_for(
            event_stream(self.app.stdout, self.app.stderr, json_lines),
            json_lines=json_lines)

        server = None
        if parsed_args.server:
            server = cloud.find_server(parsed_args.server)
        if parsed_args.host:
            cloud.service_of(cloud.compute_services(), parsed_args.host)

        watcher = watch.Watcher(
            cloud,
            server_id=server.id if server and not parsed_args.migration
            else None,
            host=parsed_args.host,
            all_migrations=parsed_args.all_migrations,
            policy=policy, stuck_window=window,
            adopt_new=not parsed_args.migration,
            progress_interval=progress_interval,
            progress_reads=PROGRESS_READS)
        publish = self._publisher(mfile, parsed_args, server, watcher)

        result = None
        interrupted = False
        try:
            with _sigterm_interrupts():
                result = self._follow(cloud, server, parsed_args, watcher,
                                      out, interval, timeout, publish)
        except KeyboardInterrupt:
            # Ctrl-C or SIGTERM: stop watching, change nothing, say where
            # things are (the summary) and exit WATCH_INTERRUPTED.
            interrupted = True
        if result is None and not interrupted:
            publish()
            return COLUMNS, []
        publish()       # the final outcomes stay in the file
        out.close(list(watcher.states.values()))
        states = sorted(watcher.states.values(),
                        key=lambda s: watch.id_key(s.id))
        self.exit_status = watch.exit_status(
            states, timed_out=result == watch.TIMEOUT)
        if interrupted:
            self.exit_status = exitcodes.WATCH_INTERRUPTED
            self.app.stderr.write(
                _('Interrupted: stopped watching; %d migration(s) still in '
                  'progress go on (the watch changes nothing when '
                  'interrupted)\n')
                % len(watcher.active))
        LOG.debug('migration watch: %d API requests', watcher.requests)
        rows = [summary_row(s) for s in states]
        if getattr(parsed_args, 'formatter', None) == 'table' and \
                _isatty(self.app.stdout) and \
                not getattr(parsed_args, 'columns', None):
            return terminal_columns(COLUMNS, rows)
        return COLUMNS, rows

    def _metrics_file(self, parsed_args):
        """The checked --metrics-file (before any cloud read), or None."""
        if not parsed_args.metrics_file:
            return None
        mfile = metrics.MetricsFile(parsed_args.metrics_file)
        note = mfile.check()
        if note:
            self.app.stderr.write(_('Note: %s\n') % note)
        return mfile

    def _publisher(self, mfile, parsed_args, server, watcher):
        """``publish()``: write the metrics file (if any) as of now."""
        if mfile is None:
            return lambda: None
        scope = metrics.watch_scope(
            server_id=server.id if server else None, host=parsed_args.host,
            all_migrations=parsed_args.all_migrations,
            migration=parsed_args.migration)
        started = time.time()

        def publish():
            mfile.publish(metrics.WatchSnapshot(
                scope=scope, started_at=started,
                migrations=tuple(
                    metrics.MigrationSample.from_dict(s.to_dict())
                    for s in watcher.states.values())),
                warn=lambda text: self.app.stderr.write(text + '\n'))
        return publish

    def _follow(self, cloud, server, parsed_args, watcher, out, interval,
                timeout, publish=lambda: None):
        """Watch until the end; FINISHED / TIMEOUT, None: nothing to watch."""
        if parsed_args.migration:
            migration = cloud.find_migration(server.id,
                                             parsed_args.migration)
            events = watcher.follow(migration)
            out.render(events, list(watcher.states.values()))
            publish()
        else:
            events = watcher.start()
            if not watcher.states:
                if server is not None:
                    raise errors.Error(
                        self._nothing_for_server(cloud, server))
                self.app.stderr.write(
                    _('No migration in progress%s\n') % (
                        _(' to or from %s') % parsed_args.host
                        if parsed_args.host else ''))
                return None
            out.render(events, list(watcher.states.values()))
            publish()

        def on_events(evs):
            out.render(evs, list(watcher.states.values()))
            publish()

        if watcher.finished:
            return watch.FINISHED
        return watcher.run(on_events, interval=interval, timeout=timeout)

    def _nothing_for_server(self, cloud, server):
        last = watch.last_migration(
            cloud.migration_records(server_id=server.id))
        if last is None:
            return _('Server %s has no migration') % server.id
        return _('Server %(server)s has no migration in progress; its last '
                 'one, %(id)s, ended %(status)s at %(when)s (watch it with: '
                 'openstack migration watch %(server)s %(id)s)') % {
                     'server': server.id, 'id': last.id,
                     'status': last.status,
                     'when': last.updated_at or last.created_at}

    def run(self, parsed_args):
        super().run(parsed_args)
        return getattr(self, 'exit_status', exitcodes.OK)
