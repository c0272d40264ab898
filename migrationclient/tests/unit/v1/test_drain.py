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

"""``compute drain`` command: arguments and their validation."""

import io
import json
import os
import types

import fixtures
from osc_lib import exceptions
import testtools

from migrationclient.engine import drain as engine
from migrationclient import exitcodes
from migrationclient.v1 import drain


class TestDrainParser(testtools.TestCase):

    def setUp(self):
        super().setUp()
        app = types.SimpleNamespace(client_manager=types.SimpleNamespace(
            compute=None, sdk_connection=None))
        self.cmd = drain.DrainCompute(app, None)
        self.parser = self.cmd.get_parser('openstack compute drain')

    def parse(self, *argv):
        return self.parser.parse_args(list(argv))

    def test_defaults(self):
        args = self.parse('compute1')
        opts = self.cmd._options(args)
        self.assertEqual(['compute1'], args.hosts)
        self.assertEqual((2, 1, 1, 'abort', 'abort', True, 300.0, None),
                         (opts.max_parallel, opts.max_per_target,
                          opts.max_failures, opts.on_stuck,
                          opts.on_interrupt, opts.confirm, opts.stuck_after,
                          opts.timeout))
        self.assertFalse(args.dry_run)
        self.assertIsNone(opts.progress_interval)   # from --stuck-after
        self.assertEqual(12.0, self.cmd._options(self.parse(
            'compute1', '--progress-interval', '12')).progress_interval)

    def test_options(self):
        args = self.parse('c1', 'c2', '--target-host', 'c3',
                          '--target-host', 'c4', '--max-parallel', '3',
                          '--max-per-target', '0', '--no-confirm',
                          '--stuck-after', '0', '--on-stuck',
                          'force-complete', '--timeout', '600', '--retry',
                          '--no-live', '--allow-partial')
        opts = self.cmd._options(args)
        self.assertEqual(['c1', 'c2'], args.hosts)
        self.assertEqual(('c3', 'c4'), opts.target_hosts)
        self.assertEqual((3, 0, False, None, 'force-complete', 600.0),
                         (opts.max_parallel, opts.max_per_target,
                          opts.confirm, opts.stuck_after, opts.on_stuck,
                          opts.timeout))
        self.assertTrue(opts.retry and opts.no_live and opts.allow_partial)

    def test_bad_numbers(self):
        for argv in (('c1', '--max-parallel', 'two'),
                     ('c1', '--max-parallel', '0'),
                     ('c1', '--max-per-target', '-1'),
                     ('c1', '--timeout', 'soon'),
                     ('c1', '--timeout', '0'),
                     ('c1', '--timeout', 'nan'),
                     ('c1', '--poll-interval', 'inf'),
                     ('c1', '--poll-interval', '0'),
                     ('c1', '--progress-interval', '-1'),
                     ('c1', '--progress-interval', 'nan')):
            self.assertRaises(exceptions.CommandError, self.cmd._options,
                              self.parse(*argv))

    def test_disable_reason_length_checked_before_anything(self):
        # Nova refuses a reason over 255 characters only once the drain
        # has written its report: refuse it up front.  The drain claim
        # "[drain:<12 hex>] " takes 21 of them (engine/drain/claim.py).
        for reason in ('', 'r' * 235, 'r' * 256):
            exc = self.assertRaises(
                exceptions.CommandError, self.cmd._options,
                self.parse('c1', '--disable-reason', reason))
            self.assertIn('--disable-reason', str(exc))
        self.cmd._options(self.parse('c1', '--disable-reason', 'r' * 234))

    def test_choices(self):
        self.assertEqual(engine.ON_STUCK, ('abort', 'force-complete', 'wait'))
        self.assertRaises(SystemExit, self.parse, 'c1', '--on-stuck',
                          'ignore')

    def test_target_host_and_aggregate_exclusive(self):
        self.assertRaises(SystemExit, self.parse, 'c1', '--target-host',
                          'c2', '--target-aggregate', 'agg')

    def test_restore_takes_no_host(self):
        args = self.parse('c1', '--restore', 'r.json')
        exc = self.assertRaises(exceptions.CommandError, self.cmd._job,
                                args, self.cmd._options(args), None)
        self.assertIn('--restore takes no <host>', str(exc))

    def test_needs_a_host(self):
        args = self.parse()
        exc = self.assertRaises(exceptions.CommandError, self.cmd._job,
                                args, self.cmd._options(args), None)
        self.assertIn('Name the compute host', str(exc))

    def test_enable_service_only_with_restore(self):
        args = self.parse('c1', '--enable-service')
        self.assertRaises(exceptions.CommandError, self.cmd._job, args,
                          self.cmd._options(args), None)


class FakeJob:
    """What the command reads of a job; records what it is asked."""

    kind = 'drain'

    def __init__(self, items):
        self.hosts = ['compute1']
        self.items = items
        self.notes = []
        self.report_path = '/r.json'
        self.events = self.metrics_file = None
        self.calls = []

    def prepare(self, explicit_report=False):
        self.calls.append('prepare')
        return self.items

    def label(self, item):
        return 'compute2'

    def closing_lines(self):
        return []

    def execute(self):
        self.calls.append('execute')
        for item in self.items:
            if self.events is not None:
                self.events(item, 'moving')
            item.state, item.final_host = engine.DONE, 'compute2'
            item.destination, item.attempts = 'compute2', 1
        return exitcodes.OK


class TestDrainOutputs(testtools.TestCase):
    """--events / --metrics-file: checked before anything changes."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.stdout = io.StringIO()
        app = types.SimpleNamespace(
            client_manager=types.SimpleNamespace(compute=None,
                                                 sdk_connection=None),
            stdout=self.stdout)
        self.cmd = drain.DrainCompute(app, None)
        self.parser = self.cmd.get_parser('openstack compute drain')
        self.job = FakeJob([engine.Item(
            id='s1', name='web', project_id='p', original_host='compute1',
            original_status='ACTIVE', action=engine.LIVE)])
        self.cmd._job = lambda args, options, log: self.job
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', io.StringIO()))

    def run_cmd(self, *argv):
        args = self.parser.parse_args(list(argv))
        return args, self.cmd.take_action(args)

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_events_on_stdout_refuses_formatters(self):
        for extra in (('-f', 'json'), ('-c', 'State')):
            args = self.parser.parse_args(['compute1', '--events', '-'] +
                                          list(extra))
            exc = self.assertRaises(exceptions.CommandError,
                                    self.cmd.take_action, args)
            self.assertIn('--events - writes JSON lines', str(exc))
        self.assertEqual([], self.job.calls)

    def test_dry_run_opens_no_file(self):
        ev, prom = self.path('e.jsonl'), self.path('m.prom')
        _args, (cols, rows) = self.run_cmd(
            'compute1', '--dry-run', '--events', ev, '--metrics-file', prom)
        self.assertEqual(['prepare'], self.job.calls)
        self.assertEqual([], os.listdir(self.dir))
        self.assertEqual(drain.PLAN_COLUMNS, cols)
        # --dry-run --events -: the plan table as usual.
        args, _result = self.run_cmd('compute1', '--dry-run', '--events',
                                     '-')
        self.assertFalse(self.cmd.events_on_stdout)

    def test_unusable_paths_stop_before_execute(self):
        for argv, text in (
                (('--events', self.path('no/such/e.jsonl')),
                 'Cannot open the events file'),
                (('--metrics-file', self.path('no/such/m.prom')),
                 'Cannot write the metrics file'),
                (('--metrics-file', self.dir), 'is a directory')):
            exc = self.assertRaises(exceptions.CommandError, self.run_cmd,
                                    'compute1', *argv)
            self.assertIn(text, str(exc))
            self.assertNotIn('\n', str(exc))
            self.assertNotIn('execute', self.job.calls)

    def test_events_file_and_metrics_reach_the_job(self):
        ev, prom = self.path('e.jsonl'), self.path('m.prom')
        _args, (cols, rows) = self.run_cmd('compute1', '--events', ev,
                                           '--metrics-file', prom)
        self.assertEqual(['prepare', 'execute'], self.job.calls)
        self.assertEqual(prom, self.job.metrics_file.path)
        self.assertIsNone(self.job.events.stream)       # closed
        with open(ev) as stream:
            lines = [json.loads(line) for line in stream]
        self.assertEqual(['moving'], [e['message'] for e in lines])
        self.assertEqual(0o600, os.stat(ev).st_mode & 0o777)
        self.assertEqual(drain.RESULT_COLUMNS, cols)

    def test_events_on_stdout_prints_no_table(self):
        args, (cols, rows) = self.run_cmd('compute1', '--events', '-')
        self.assertTrue(self.cmd.events_on_stdout)
        self.assertEqual(0, self.cmd.produce_output(args, cols, rows))
        out = self.stdout.getvalue().splitlines()
        self.assertEqual(['moving'], [json.loads(x)['message'] for x in out])


class TestResultColumns(testtools.TestCase):
    """Destination: where the drain sent it; Now on: where it is."""

    def item(self, state, **kw):
        it = engine.Item(id='s', name='n', project_id='p',
                         original_host='compute1', original_status='ACTIVE',
                         action=kw.pop('action', engine.LIVE), state=state)
        for k, v in kw.items():
            setattr(it, k, v)
        return it

    def test_columns(self):
        self.assertEqual(('Server', 'Name', 'Host', 'Action', 'Destination',
                          'Now on', 'State', 'Migration', 'Reason'),
                         drain.RESULT_COLUMNS)
        cases = (
            (self.item(engine.DONE, destination='compute2', attempts=1,
                       final_host='compute2'), 'compute2', 'compute2'),
            # Failed or aborted: it stayed where it was.
            (self.item(engine.FAILED, destination='compute2', attempts=1,
                       final_host='compute1'), 'compute2', 'compute1'),
            (self.item(engine.ABORTED, attempts=1, final_host='compute1'),
             'scheduler', 'compute1'),
            (self.item(engine.NOT_STARTED), '-', 'compute1'),
            (self.item(engine.SKIPPED, action=engine.SKIP), '-', 'compute1'),
            (self.item(engine.NOTHING, action=engine.NONE), '-', '-'),
            # Still in flight when the drain stopped: not known.
            (self.item(engine.MIGRATING, destination='compute3',
                       attempts=1), 'compute3', '-'),
        )
        for it, sent, now in cases:
            self.assertEqual((sent, now), (drain.sent_to(it),
                                           drain.now_on(it)), it.state)


class PlanJob(FakeJob):
    """A job with a capacity plan; ``refuse``: prepare raises the gate."""

    def __init__(self, items, cplan, refuse=False):
        super().__init__(items)
        self.capacity = cplan
        self.refuse = refuse

    def prepare(self, explicit_report=False):
        self.calls.append('prepare')
        if self.refuse:
            raise engine.PlanInfeasible('The plan cannot place 1 '
                                        'server(s): ...', self.items[1:])
        return self.items


class TestCapacityPlanOutput(testtools.TestCase):
    """--dry-run: the plan through cliff's formatters; exit status 12."""

    def setUp(self):
        super().setUp()
        from migrationclient.engine.drain import fleetplan
        from migrationclient.tests.unit.engine.drain import \
            test_fleetplan as tf
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.useFixture(fixtures.MonkeyPatch('sys.stderr', self.stderr))
        snap = tf.fleet()
        items = tf.items_of(snap)
        options = engine.Options()
        self.cplan = fleetplan.capacity_plan(
            snap, ['src1', 'src2'], items, options, ['dst1', 'dst2'])
        fleetplan.apply(items, self.cplan, options, tf.always)
        self.items = items

    def command(self, job):
        from cliff.formatters import json_format
        from cliff.formatters import table
        app = types.SimpleNamespace(
            client_manager=types.SimpleNamespace(compute=None,
                                                 sdk_connection=None),
            stdout=self.stdout)
        cmd = drain.DrainCompute(app, None)
        cmd._job = lambda args, options, log: job
        self.formatters = {'table': table.TableFormatter(),
                           'json': json_format.JSONFormatter()}
        return cmd

    def show(self, job, *argv):
        cmd = self.command(job)
        parser = cmd.get_parser('openstack compute drain')
        args = parser.parse_args(['src1', 'src2'] + list(argv))
        fmt = args.formatter if hasattr(args, 'formatter') else 'table'
        cmd.formatter = self.formatters[fmt]
        cols, rows = cmd.take_action(args)
        cmd.produce_output(args, cols, rows)
        return cmd, cols, rows

    def test_dry_run_tables(self):
        job = PlanJob(self.items, self.cplan)
        cmd, cols, rows = self.show(job, '--dry-run')
        self.assertEqual(['prepare'], job.calls)
        self.assertEqual(exitcodes.OK, cmd.exit_status)
        self.assertEqual('Plan', cols[-1])
        out = self.stdout.getvalue()
        # the per-server table, then the destinations, then the summary
        self.assertIn('| Destination | Servers | vCPU', out)
        self.assertIn('MEMORY_MB: needs 3000, 1457 free', out)
        self.assertIn('| dst1        |       2 |', out)
        self.assertIn('512 -> 6512 of 7969 (6.4% -> 81.7%)', out)
        self.assertIn('Capacity plan: NOT feasible, 1 of 5 server(s) fit '
                      'nowhere', out)
        self.assertIn('N+1: ', out)
        self.assertNotIn('PCPU', out.split('| Destination')[1])

    def test_infeasible_real_run_refuses(self):
        job = PlanJob(self.items, self.cplan, refuse=True)
        cmd, cols, rows = self.show(job, '-f', 'json')
        self.assertEqual(['prepare'], job.calls)      # never executed
        self.assertEqual(exitcodes.DRAIN_PLAN_INFEASIBLE, cmd.exit_status)
        self.assertIn('The plan cannot place 1 server(s)',
                      self.stderr.getvalue())
        data = json.loads(self.stdout.getvalue())
        by_id = {r['Server']: r for r in data['servers']}
        self.assertIsNone(by_id['srv-04']['Plan']['destination'])
        self.assertEqual(['dst1', 'dst2'], sorted(
            b['host'] for b in by_id['srv-04']['Plan']['bindings']))
        self.assertIn(by_id['srv-00']['Plan']['destination'],
                      ('dst1', 'dst2'))
        # the summary goes to stderr: stdout stays one JSON document
        self.assertIn('Capacity plan: NOT feasible', self.stderr.getvalue())
        # --dry-run says a drain would refuse
        self.stdout.truncate(0)
        self.stdout.seek(0)
        cmd, cols, rows = self.show(job, '--dry-run', '-f', 'json')
        self.assertIn('--dry-run: a drain would refuse: The plan cannot',
                      self.stderr.getvalue())
        self.assertEqual(exitcodes.DRAIN_PLAN_INFEASIBLE, cmd.exit_status)

    def test_dry_run_json_is_one_document(self):
        job = PlanJob(self.items, self.cplan)
        self.show(job, '--dry-run', '-f', 'json')
        doc = json.loads(self.stdout.getvalue())
        self.assertEqual(
            ['destinations', 'drained', 'feasible', 'headroom', 'placed',
             'scheduler_picks', 'servers', 'summary', 'unplaced'],
            sorted(doc))
        self.assertEqual((False, 4, 1), (doc['feasible'], doc['placed'],
                                         doc['unplaced']))
        by_id = {r['Server']: r for r in doc['servers']}
        self.assertEqual(list(drain.PLAN_COLUMNS), list(by_id['srv-00']))
        # per server: destination, kind, reason; nowhere: what binds
        self.assertEqual('live', by_id['srv-00']['Plan']['kind'])
        self.assertIn('best fit on', by_id['srv-00']['Plan']['reason'])
        binds = {b['host']: b for b in by_id['srv-04']['Plan']['bindings']}
        self.assertEqual(('MEMORY_MB', 3000, 1457),
                         (binds['dst1']['resource'], binds['dst1']['need'],
                          binds['dst1']['free']))
        # per destination: usage before and after, numbers and %
        dst1 = {d['host']: d for d in doc['destinations']}['dst1']
        mem = {u['resource']: u for u in dst1['usage']}['MEMORY_MB']
        self.assertEqual((7969, 512, 6512, 6.4, 81.7),
                         (mem['capacity'], mem['before'], mem['after'],
                          round(mem['before_pct'], 1),
                          round(mem['after_pct'], 1)))
        self.assertEqual(2, len(dst1['servers']))
        # N+1 and the resource that runs out first
        self.assertIn(doc['headroom']['first_short'],
                      ('VCPU', 'MEMORY_MB', 'DISK_GB'))
        self.assertTrue(doc['headroom']['message'].startswith('N+1: '))
        self.assertIn('Capacity plan: NOT feasible', doc['summary'][0])
        # the table's extras are not on stdout, the summary is on stderr
        self.assertNotIn('| Destination', self.stdout.getvalue())
        self.assertIn('Capacity plan: NOT feasible', self.stderr.getvalue())

    def test_dry_run_yaml_and_columns(self):
        from cliff.formatters import yaml_format
        import yaml
        job = PlanJob(self.items, self.cplan)
        cmd = self.command(job)
        parser = cmd.get_parser('openstack compute drain')
        args = parser.parse_args(['src1', 'src2', '--dry-run', '-f', 'yaml',
                                  '-c', 'Server', '-c', 'Plan'])
        cmd.formatter = yaml_format.YAMLFormatter()
        cols, rows = cmd.take_action(args)
        cmd.produce_output(args, cols, rows)
        doc = yaml.safe_load(self.stdout.getvalue())
        self.assertEqual({'Server', 'Plan'}, set(doc['servers'][0]))
        self.assertEqual({'dst1', 'dst2'},
                         {d['host'] for d in doc['destinations']})

    def test_ssh_reads_the_live_limits(self):
        from migrationclient.engine.drain import livelimits
        calls = []

        def read_for_job(job, options):
            calls.append((job, options))
            return (['src2: nova.conf not read (no route)'],
                    ['src1: live migrations 2 at a time ([DEFAULT] '
                     'max_concurrent_live_migrations in its nova.conf)'])
        self.useFixture(fixtures.MonkeyPatch(
            'migrationclient.engine.drain.livelimits.read_for_job',
            read_for_job))
        self.assertIs(livelimits.read_for_job, read_for_job)
        job = PlanJob(self.items, self.cplan)
        logged = self.useFixture(fixtures.FakeLogger())
        self.show(job, '--dry-run', '--ssh', '--ssh-no-agent',
                  '--ssh-config', '', '--ssh-user', 'migtest')
        [(seen, options)] = calls
        self.assertIs(job, seen)
        self.assertEqual('migtest', options.user)
        self.assertIn('src1: live migrations 2 at a time',
                      self.stderr.getvalue())
        self.assertIn('src2: nova.conf not read', logged.output)

    def test_ssh_not_with_restore(self):
        cmd = self.command(PlanJob(self.items, self.cplan))
        parser = cmd.get_parser('openstack compute drain')
        args = parser.parse_args(['--restore', 'r.json', '--ssh'])
        cmd.formatter = self.formatters['table']
        exc = self.assertRaises(exceptions.CommandError, cmd.take_action,
                                args)
        self.assertIn('--ssh reads the drained hosts', str(exc))

    def _no_host_read(self, *argv):
        self.useFixture(fixtures.MonkeyPatch(
            'migrationclient.engine.drain.livelimits.read_for_job',
            lambda job, options: ([], [])))
        job = PlanJob(self.items, self.cplan)
        job.ssh_reach = (('dst1', 'dst2', 'src1', 'src2'), ())
        self.useFixture(fixtures.FakeLogger())
        cmd, _cols, _rows = self.show(
            job, '--ssh', '--ssh-no-agent', '--ssh-config', '', *argv)
        return cmd, job

    def test_ssh_read_no_host_refuses(self):
        cmd, job = self._no_host_read()
        self.assertEqual(exitcodes.DRAIN_NO_SSH_FACTS, cmd.exit_status)
        self.assertEqual(11, cmd.exit_status)
        self.assertEqual(['prepare'], job.calls)      # nothing executed
        self.assertIn('SSH: none of the 4 compute host(s) could be read; '
                      'nothing changed (exit status 11; --ssh-optional',
                      self.stderr.getvalue())

    def test_ssh_read_no_host_dry_run(self):
        cmd, job = self._no_host_read('--dry-run')
        self.assertEqual(exitcodes.DRAIN_NO_SSH_FACTS, cmd.exit_status)
        self.assertIn('--dry-run: a drain would refuse: SSH: none of the '
                      '4 compute host(s)', self.stderr.getvalue())
        self.assertIn('| Destination', self.stdout.getvalue())

    def test_ssh_optional_drains_on_api_facts(self):
        cmd, job = self._no_host_read('--ssh-optional')
        self.assertEqual(exitcodes.OK, cmd.exit_status)
        self.assertEqual(['prepare', 'execute'], job.calls)
        self.assertNotIn('none of the', self.stderr.getvalue())

    def test_ssh_some_host_read_drains(self):
        self.useFixture(fixtures.MonkeyPatch(
            'migrationclient.engine.drain.livelimits.read_for_job',
            lambda job, options: ([], [])))
        job = PlanJob(self.items, self.cplan)
        job.ssh_reach = (('dst1', 'src1'), ('dst1',))
        cmd, _cols, _rows = self.show(job, '--ssh', '--ssh-no-agent',
                                      '--ssh-config', '')
        self.assertEqual(exitcodes.OK, cmd.exit_status)
        self.assertEqual(['prepare', 'execute'], job.calls)

    def test_ssh_optional_needs_ssh(self):
        cmd = self.command(PlanJob(self.items, self.cplan))
        parser = cmd.get_parser('openstack compute drain')
        args = parser.parse_args(['src1', '--ssh-optional'])
        cmd.formatter = self.formatters['table']
        exc = self.assertRaises(exceptions.CommandError, cmd.take_action,
                                args)
        self.assertIn('--ssh-optional goes with --ssh', str(exc))

    def test_scheduler_picks_is_said(self):
        for item in self.items:
            item.candidates = None
        job = PlanJob(self.items, self.cplan)
        self.show(job, '--dry-run', '--max-per-target', '0')
        self.assertIn('Destinations are the plan\'s forecast: the scheduler '
                      'picks each host (--max-per-target 0)',
                      self.stdout.getvalue())
