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

"""TTY, plain and JSON-lines renderers (pure formatting)."""

import datetime
import io
import json

import testtools

from migrationclient.cloud import migrations as cloud
from migrationclient.engine import drain
from migrationclient.engine import render
from migrationclient.engine import watch
from migrationclient.tests.unit.engine.drain import base

T0 = datetime.datetime(2026, 11, 27, 10, 12, 3,
                       tzinfo=datetime.timezone.utc)
GIB = 1024 ** 3


def state(status='running', remaining=GIB // 2, mid=12):
    m = cloud.Migration(
        id=mid, server_id='8600d31b-d1a1-4632-b2ff-45c2be1a70ff',
        status=status, migration_type='live-migration',
        source_compute='compute1', dest_compute='compute2',
        memory_total_bytes=GIB, memory_processed_bytes=1,
        memory_remaining_bytes=GIB)
    s = watch.MigrationState(m, 0.0, T0, 30, 10)
    s._update_bytes(0.0)
    m.memory_processed_bytes = 1 + GIB // 2
    m.memory_remaining_bytes = remaining
    s._update_bytes(5.0)
    s.last_seen = 5.0
    return s


class TestHuman(testtools.TestCase):

    def test_bytes(self):
        self.assertEqual('-', render.human_bytes(None))
        self.assertEqual('512 B', render.human_bytes(512))
        self.assertEqual('1.5 KiB', render.human_bytes(1536))
        self.assertEqual('1.0 GiB', render.human_bytes(GIB))
        self.assertEqual('102.4 MiB/s', render.human_rate(GIB / 10))
        self.assertEqual('-', render.human_rate(None))

    def test_duration(self):
        self.assertEqual('-', render.human_duration(None))
        self.assertEqual('5s', render.human_duration(4.6))
        self.assertEqual('1m05s', render.human_duration(65))
        self.assertEqual('2h03m', render.human_duration(2 * 3600 + 180))

    def test_bar(self):
        self.assertEqual('[##########..........]', render.bar(50))
        self.assertEqual('[....]', render.bar(0, 4))
        self.assertEqual('[####]', render.bar(140, 4))
        self.assertEqual('[????]', render.bar(None, 4))

    def test_progress_text(self):
        text = render.progress_text('memory', state().memory)
        self.assertEqual('memory 512.0 MiB/1.0 GiB 50.0% 102.4 MiB/s '
                         'left 512.0 MiB ETA 5s', text)
        self.assertEqual('', render.progress_text('disk', None))


class TestPlain(testtools.TestCase):

    def test_one_line_per_event(self):
        s = state()
        out = io.StringIO()
        r = render.renderer_for(out, tty=False)
        self.assertIsInstance(r, render.PlainRenderer)
        r.render([watch.Event('status', T0, s, 'queued -> running'),
                  watch.Event('progress', T0, s)], [s])
        lines = out.getvalue().splitlines()
        self.assertEqual(2, len(lines))
        self.assertEqual(
            '2026-11-27T10:12:03Z status migration=12 server=8600d31b-d1a1-'
            '4632-b2ff-45c2be1a70ff status=running type=live-migration '
            'source=compute1 dest=compute2 memory 512.0 MiB/1.0 GiB 50.0% '
            '102.4 MiB/s left 512.0 MiB ETA 5s queued -> running', lines[0])
        self.assertNotIn('\x1b', out.getvalue())

    def test_stringio_is_not_a_tty(self):
        self.assertIsInstance(render.renderer_for(io.StringIO()),
                              render.PlainRenderer)


class TestJsonLines(testtools.TestCase):

    def test_each_line_parses(self):
        s = state()
        s2 = state(status='completed', mid=13)
        s2.outcome = 'completed'
        out = io.StringIO()
        r = render.renderer_for(out, json_lines=True, tty=True)
        r.render([watch.Event('new', T0, s, 'watching migration 12'),
                  watch.Event('progress', T0, s),
                  watch.Event('ended', T0, s2, 'ended completed')], [s, s2])
        docs = [json.loads(line) for line in out.getvalue().splitlines()]
        self.assertEqual(['new', 'progress', 'ended'],
                         [d['event'] for d in docs])
        self.assertEqual('2026-11-27T10:12:03Z', docs[1]['time'])
        self.assertEqual(50.0, docs[1]['memory']['percent'])
        self.assertEqual(GIB // 2, docs[1]['memory']['remaining'])
        self.assertAlmostEqual(GIB / 10, docs[1]['memory']['rate'], 0)
        self.assertEqual(5.0, docs[1]['memory']['eta'])
        self.assertEqual('completed', docs[2]['outcome'])
        self.assertIsNone(docs[0]['disk'])


class TestTty(testtools.TestCase):

    def test_redraws_block_in_place(self):
        a, b = state(), state(mid=13, remaining=GIB // 4)
        out = io.StringIO()
        r = render.TtyRenderer(out, width=200)
        r.render([watch.Event('new', T0, a, 'watching migration 12')],
                 [a, b])
        first = out.getvalue()
        self.assertNotIn('\x1b[', first)
        self.assertEqual(3, len(first.splitlines()))
        self.assertIn('[##########..........]  50.0%', first)
        self.assertIn('[###############.....]  75.0%', first)
        # progress events are not logged, only the bars redrawn
        r.render([watch.Event('progress', T0, a)], [a, b])
        second = out.getvalue()[len(first):]
        self.assertTrue(second.startswith('\x1b[2A\r\x1b[J'))
        self.assertEqual(2, second.count('\n'))

    def test_stuck_and_ended(self):
        a = state()
        a.stuck = True
        self.assertIn('STUCK', render.TtyRenderer(io.StringIO())
                      .block_line(a))
        a.stuck = False
        a.outcome = 'completed'
        line = render.TtyRenderer(io.StringIO()).block_line(a)
        self.assertIn('[####################] completed', line)

    def test_cold_migration_has_no_bar(self):
        m = cloud.Migration(id=4, server_id='s', status='migrating',
                            migration_type='migration',
                            source_compute='compute1',
                            dest_compute='compute2')
        s = watch.MigrationState(m, 0.0, T0, 30, 10)
        line = render.TtyRenderer(io.StringIO()).block_line(s)
        self.assertEqual('4        migrating  compute1->compute2 migration',
                         line)

    def test_lines_fit_terminal(self):
        a = state()
        out = io.StringIO()
        r = render.TtyRenderer(out, width=40)
        r.render([watch.Event('status', T0, a, 'x' * 200)], [a])
        for line in out.getvalue().splitlines():
            self.assertLessEqual(len(line), 39)

    def test_block_fits_the_screen(self):
        # issue 19: 56 in flight on 30 lines left stale bars in the
        # scrollback at every redraw; the block now fits, stuck first.
        states = [state(mid=100 + i) for i in range(56)]
        states[40].stuck = True
        out = io.StringIO()
        r = render.TtyRenderer(out, width=100, height=30)
        r.render([watch.Event('new', T0, states[0], 'watching')], states)
        first = out.getvalue().splitlines()
        self.assertEqual(1 + 28, len(first))
        self.assertTrue(first[1].startswith('140 '), first[1])
        self.assertIn('STUCK', first[1])
        self.assertEqual('... and 29 more, not shown (the terminal has 30 '
                         'lines)', first[-1])
        r.render([], states)
        second = out.getvalue()[len('\n'.join(first)) + 1:]
        self.assertTrue(second.startswith('\x1b[28A\r\x1b[J'))
        self.assertEqual(28, second.count('\n'))

    def test_open_summary_line_is_kept(self):
        block = render.TtyBlock(io.StringIO())
        block.height = 6
        fitted = block.fit(['l%d' % i for i in range(10)] + ['summary'],
                           open_last=True)
        # 6 lines: 4 for the block (one for a scrolling line, one for the
        # cursor's), the summary among them
        self.assertEqual(['l0', 'l1',
                          '... and 8 more, not shown (the terminal has 6 '
                          'lines)', 'summary'], fitted)
        self.assertEqual(['a', 'b'], block.fit(['a', 'b'], open_last=True))


class TestProgressLog(testtools.TestCase):

    def _log(self, tty):
        stream = io.StringIO()
        log = drain.ProgressLog(stream, tty=tty)
        a, b = base.item('a'), base.item('b')
        log.items = [a, b]
        a.state = drain.MIGRATING
        log(a, 'migration 1 running')
        a.state = drain.DONE
        log(a, 'done: on compute2, ACTIVE')
        log.close()
        return stream.getvalue()

    def test_plain_lines_when_not_a_tty(self):
        out = self._log(False)
        lines = out.splitlines()
        self.assertEqual(2, len(lines))
        self.assertIn('a (compute1) live: migration 1 running', lines[0])
        self.assertNotIn('\r', out)
        self.assertNotIn('moved', out)

    def test_summary_line_on_a_tty(self):
        out = self._log(True)
        self.assertIn('0/2 moved, 1 running, 1 waiting', out)
        self.assertIn('\r\033[K', out)
        self.assertTrue(out.endswith('1/2 moved, 1 waiting\n'))
