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

"""A drain's --events and --metrics-file, and its per-migration progress."""

import io
import json
import os

import fixtures
from prometheus_client import parser
import testtools

from migrationclient.engine import drain
from migrationclient.engine import events
from migrationclient.engine import metrics
from migrationclient import exitcodes
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes


def parse(text):
    """{(name, ((label, value), ...)): value} of an exposition."""
    out = {}
    for family in parser.text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def named(samples, name, **labels):
    """Values of the samples of ``name`` whose labels include ``labels``."""
    return [v for (n, lab), v in samples.items() if n == name and
            set(labels.items()) <= set(lab)]


class Recorder(metrics.MetricsFile):
    """A MetricsFile that parses the file after each write."""

    def __init__(self, path):
        super().__init__(path, clock=lambda: 1000.0)
        self.parsed = []

    def write(self, snapshot):
        super().write(snapshot)
        with open(self.path) as stream:
            self.parsed.append(parse(stream.read()))


class TestDrainObserved(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.out = io.StringIO()
        self.sink = events.EventSink(self.out, 'compute1',
                                     owns_stream=False)

    def lines(self):
        return [json.loads(line) for line in
                self.out.getvalue().splitlines()]

    def chain(self, evs, sid):
        return [(e['from'], e['to']) for e in evs
                if e['event'] == 'state' and e.get('server_id') == sid]

    def test_events_and_metrics_of_a_drain(self):
        nova = fakes.FakeNova()
        nova.add('live', hold=4)
        nova.add('off', status='SHUTOFF')
        nova.add('bad', hold=1, fail=True)
        items = [base.item('live'), base.item('bad'),
                 base.item('off', drain.COLD, status='SHUTOFF')]
        mfile = Recorder(os.path.join(self.dir, 'd.prom'))
        run = base.DrainRun(nova, items, base.opts(
            max_parallel=3, max_per_target=0, max_failures=0),
            events=self.sink, metrics_file=mfile)
        status = run.run()
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, status)
        evs = self.lines()
        self.assertEqual('start', evs[0]['event'])
        self.assertEqual((['compute1'], 3, '/nowhere.json'),
                         (evs[0]['hosts'], evs[0]['servers'],
                          evs[0]['report']))
        self.assertEqual('end', evs[-1]['event'])
        self.assertEqual((status, 'incomplete'),
                         (evs[-1]['exit_status'], evs[-1]['state']))
        self.assertEqual({'done': 2, 'failed': 1}, evs[-1]['counts'])
        self.assertEqual([('pending', 'submitted'),
                          ('submitted', 'migrating'),
                          ('migrating', 'done')], self.chain(evs, 'live'))
        self.assertEqual([('pending', 'submitted'),
                          ('submitted', 'migrating'),
                          ('migrating', 'done')], self.chain(evs, 'off'))
        self.assertTrue([e for e in evs if e.get('server_id') == 'off' and
                         'confirmed' in e['message']])
        last_bad = [e for e in evs if e.get('server_id') == 'bad'][-1]
        self.assertEqual(('failed', 'state'), (last_bad['state'],
                                               last_bad['event']))
        self.assertIn('rolled back', last_bad['reason'])
        running = [e for e in evs if e.get('server_id') == 'live' and
                   e['status'] == 'running']
        self.assertTrue(running)
        self.assertEqual([('running', 'completed')],
                         [(e['previous_status'], e['status']) for e in evs
                          if e['event'] == 'status' and
                          e.get('server_id') == 'live'])
        # Byte progress of the running live migration: memory and the
        # item's percent (the TTY line and the events show the same).
        moving = [e for e in evs if e.get('server_id') == 'live' and
                  e['memory'] is not None]
        self.assertTrue(moving)
        self.assertIsInstance(moving[0]['memory']['remaining'], int)
        self.assertEqual(moving[0]['memory']['percent'],
                         moving[0]['percent'])
        done = [e for e in evs if e.get('server_id') == 'live' and
                e['event'] == 'state' and e['to'] == 'done']
        self.assertEqual([100.0], [e['percent'] for e in done])
        for e in evs[1:-1]:
            if e.get('server_id') is not None:
                self.assertEqual(('compute1', 'compute1'),
                                 (e['drain'], e['source']))
        # Metrics: at the start, after each poll, at the end.
        self.assertEqual(run.drain.cycle + 2, mfile.writes)
        final = mfile.parsed[-1]
        self.assertEqual([1.0], named(final, 'openstack_drain_state',
                                      state='incomplete'))
        self.assertEqual([0.0], named(final, 'openstack_drain_state',
                                      state='running'))
        for name, want in (('openstack_drain_servers', 3),
                           ('openstack_drain_servers_moved', 2),
                           ('openstack_drain_servers_failed', 1),
                           ('openstack_drain_servers_remaining',
                            len(drain.remaining(items))),
                           ('openstack_drain_migrations_in_flight', 0)):
            self.assertEqual([want], named(final, name, host='compute1'),
                             name)
        self.assertEqual([], [n for n, _lab in final
                              if n.startswith('openstack_migration_')])
        during = [p for p in mfile.parsed
                  if named(p, 'openstack_drain_migrations_in_flight')[0] and
                  named(p, 'openstack_drain_bytes_remaining')[0] > 0 and
                  named(p, 'openstack_migration_progress_ratio',
                        server='live')]
        self.assertTrue(during)
        self.assertEqual(['d.prom'], os.listdir(self.dir))

    def test_failed_metrics_write_is_said_once(self):
        nova = fakes.FakeNova()
        nova.add('s', hold=3)
        path = os.path.join(self.dir, 'gone', 'd.prom')
        mfile = metrics.MetricsFile(path)
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts(), events=self.sink,
                            metrics_file=mfile)
        self.assertEqual(exitcodes.OK, run.run())
        said = [t for sid, t in run.lines if path in t]
        self.assertEqual(1, len(said), run.lines)
        self.assertIn('the drain / watch goes on', said[0])
        notes = [e for e in self.lines() if e['event'] == 'note' and
                 e.get('subject') == 'metrics']
        self.assertEqual(1, len(notes))
        self.assertIsNone(notes[0]['server_id'])
        self.assertEqual(drain.DONE, items[0].state)

    def test_report_write_failure_is_a_note_without_server(self):
        nova = fakes.FakeNova()
        nova.add('s')
        items = [base.item('s')]
        run = base.DrainRun(nova, items, base.opts(), events=self.sink)

        def write(path, data):
            raise OSError(28, 'No space left on device')
        run.drain.write = write
        # Nothing starts without a report (issue 19): exit 4, said once.
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        notes = [e for e in self.lines() if e['event'] == 'note' and
                 e.get('subject') == 'report']
        self.assertEqual(1, len(notes))
        self.assertIsNone(notes[0]['server_id'])
        self.assertIn('No space left', notes[0]['message'])

    def test_percent_and_eta_follow_the_migration(self):
        nova = fakes.FakeNova()
        nova.add('s', hold=6)
        items = [base.item('s')]
        seen = []
        run = base.DrainRun(nova, items, base.opts())
        refresh = run.drain.observer.refresh_all

        def spy():
            refresh()
            seen.append((items[0].state, items[0].percent, items[0].eta))
        run.drain.observer.refresh_all = spy
        self.assertEqual(exitcodes.OK, run.run())
        running = [(p, e) for st, p, e in seen
                   if st == drain.MIGRATING and p is not None]
        self.assertGreater(len(running), 1)
        percents = [p for p, _e in running]
        self.assertEqual(sorted(percents), percents)
        self.assertTrue(all(0 <= p <= 100 for p in percents))
        self.assertTrue([e for _p, e in running if e is not None and e > 0])
        self.assertEqual((100.0, 0.0), (items[0].percent, items[0].eta))
        # A new attempt starts from nothing.
        self.assertNotIn('percent', items[0].to_dict())


class TestProgressLine(testtools.TestCase):

    def test_in_flight_items_only(self):
        it = base.item('web-1')
        self.assertIsNone(drain.progress_line(it))
        it.state, it.destination = drain.MIGRATING, 'compute2'
        it.migration_status = 'preparing'
        self.assertEqual('  web-1 live compute1->compute2 preparing',
                         drain.progress_line(it))
        it.percent, it.eta = 45.25, 12.0
        line = drain.progress_line(it)
        self.assertIn('compute1->compute2 [#########...........]', line)
        self.assertTrue(line.endswith(' 45.2% ETA 12s') or
                        line.endswith(' 45.3% ETA 12s'), line)
        it.destination = None
        self.assertIn('compute1->scheduler', drain.progress_line(it))

    def test_tty_block_redraws_progress(self):
        stream = io.StringIO()
        log = drain.ProgressLog(stream, tty=True)
        a, b = base.item('a'), base.item('b')
        log.items = [a, b]
        a.state, a.destination = drain.MIGRATING, 'compute2'
        a.percent, a.eta = 10.0, 30.0
        log(a, 'migration 1 running')
        a.percent, a.eta = 60.0, 8.0
        log.refresh()
        log.close()
        out = stream.getvalue()
        self.assertIn(' 10.0% ETA 30s', out)
        self.assertIn(' 60.0% ETA 8s', out)
        # The redraw goes back over the closed progress line.
        self.assertIn('\r\033[K\033[1A\033[J', out)
        self.assertTrue(out.endswith('0/2 moved, 1 running, 1 waiting\n'))
        log = drain.ProgressLog(io.StringIO(), tty=False)
        log.items = [a]
        log.refresh()           # nothing on a pipe
        self.assertEqual('', log.stream.getvalue())
