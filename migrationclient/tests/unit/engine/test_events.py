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

"""``compute drain --events``: the JSON-lines sink (no engine, no cloud)."""

import datetime
import io
import json
import os
import stat
import types

import fixtures
import testtools

from migrationclient.engine import events
from migrationclient import errors

T0 = datetime.datetime(2026, 11, 27, 10, 12, 3,
                       tzinfo=datetime.timezone.utc)
SERVER = '4cfba335-03d8-49b2-8c52-e69043d1e8fe'
MIGRATION_UUID = '12341d4b-346a-40d0-83c6-5f4f6892b650'

#: the watch's MigrationState.to_dict() of the v2.80 server-migrations
#: sample (memory 123456 total, 111111 remaining; disk 234567 / 211111)
MIGRATION = {
    'id': 1, 'uuid': MIGRATION_UUID, 'server_id': SERVER,
    'type': 'live-migration', 'source': 'compute1', 'dest': 'compute2',
    'status': 'running', 'outcome': None, 'elapsed': 4.0, 'stuck': False,
    'actions': [],
    'memory': {'total': 123456, 'processed': 12345, 'remaining': 111111,
               'percent': 10.0, 'rate': None, 'dirty_rate': None,
               'eta': None, 'stalled_for': 0.0},
    'disk': {'total': 234567, 'processed': 23456, 'remaining': 211111,
             'percent': 10.0, 'rate': None, 'dirty_rate': None, 'eta': None,
             'stalled_for': 0.0},
    'reason': None,
}


def item(**kw):
    """A drain item as the engine has it (duck-typed)."""
    values = dict(id=SERVER, name='web-1', original_host='compute1',
                  action='live', state='pending', destination=None,
                  final_host=None, migration_id=None, migration_uuid=None,
                  migration_status=None, error=None,
                  reason='ACTIVE: live migration', attempts=0, percent=None)
    values.update(kw)
    return types.SimpleNamespace(**values)


class Clock:
    def __init__(self):
        self.now = T0

    def __call__(self):
        self.now += datetime.timedelta(seconds=1)
        return self.now


class TestItemEvent(testtools.TestCase):

    def values(self, **kw):
        return events.item_values(item(**kw))

    def test_first_sight_is_a_state_event(self):
        ev = events.item_event(T0, 'compute1', self.values(), 'planned')
        self.assertEqual('state', ev['event'])
        self.assertIsNone(ev['from'])
        self.assertEqual('pending', ev['to'])
        self.assertEqual('pending', ev['state'])

    def test_state_change(self):
        ev = events.item_event(
            T0, 'compute1',
            self.values(state='submitted', destination='compute2',
                        attempts=1),
            'live migration to compute2 submitted',
            previous=('pending', None))
        self.assertEqual({
            'event': 'state', 'time': '2026-11-27T10:12:03Z',
            'drain': 'compute1', 'server_id': SERVER, 'name': 'web-1',
            'kind': 'live', 'source': 'compute1', 'dest': 'compute2',
            'host': None, 'from': 'pending', 'to': 'submitted',
            'state': 'submitted', 'migration_id': None,
            'migration_uuid': None, 'status': None, 'attempt': 1,
            'percent': None, 'memory': None, 'disk': None,
            'reason': 'ACTIVE: live migration',
            'message': 'live migration to compute2 submitted'}, ev)

    def test_status_change_keeps_the_state(self):
        ev = events.item_event(
            T0, 'compute1',
            self.values(state='migrating', migration_id=1,
                        migration_uuid=MIGRATION_UUID,
                        migration_status='running', percent=10.0),
            'migration 1 running -> compute2',
            previous=('migrating', 'preparing'), migration=MIGRATION)
        self.assertEqual('status', ev['event'])
        self.assertEqual(('migrating', 'migrating'), (ev['from'], ev['to']))
        self.assertEqual('preparing', ev['previous_status'])
        self.assertEqual('running', ev['status'])
        self.assertEqual(1, ev['migration_id'])
        self.assertEqual(MIGRATION_UUID, ev['migration_uuid'])
        # The watch's byte-progress objects, as in migration watch -f json.
        self.assertEqual(111111, ev['memory']['remaining'])
        self.assertEqual(211111, ev['disk']['remaining'])
        self.assertEqual('live-migration', ev['type'])
        self.assertIs(False, ev['stuck'])
        self.assertEqual(10.0, ev['percent'])
        # The record names the destination the scheduler chose.
        self.assertEqual('compute2', ev['dest'])

    def test_note_when_nothing_changed(self):
        ev = events.item_event(
            T0, 'compute1',
            self.values(state='migrating', migration_status='running'),
            'stuck: 1.0 GiB of 2.0 GiB memory remaining',
            previous=('migrating', 'running'))
        self.assertEqual('note', ev['event'])
        self.assertNotIn('previous_status', ev)
        self.assertNotIn('type', ev)

    def test_reason_is_the_error_first(self):
        ev = events.item_event(
            T0, 'compute1',
            self.values(state='failed', error='No valid host was found',
                        final_host='compute1'),
            'refused: No valid host was found',
            previous=('submitted', None))
        self.assertEqual('No valid host was found', ev['reason'])
        self.assertEqual('compute1', ev['host'])

    def test_json_line(self):
        ev = events.item_event(T0, 'compute1', self.values(), 'x')
        line = events.dumps(ev)
        self.assertNotIn('\n', line)
        self.assertEqual(ev, json.loads(line))
        keys = list(json.loads(line))
        self.assertEqual(sorted(keys), keys)


class TestRunEvents(testtools.TestCase):

    def test_note(self):
        self.assertEqual(
            {'event': 'note', 'time': '2026-11-27T10:12:03Z',
             'drain': 'compute1,compute3', 'server_id': None,
             'subject': 'report', 'message': 'cannot write the report'},
            events.note_event(T0, 'compute1,compute3', 'report',
                              'cannot write the report'))

    def test_start(self):
        ev = events.start_event(T0, 'compute1', 'drain', ['compute1'], 3,
                                '/tmp/drain-compute1.json')
        self.assertEqual('start', ev['event'])
        self.assertEqual(events.FORMAT, ev['format'])
        self.assertEqual(1, ev['version'])
        self.assertEqual(['compute1'], ev['hosts'])
        self.assertEqual(3, ev['servers'])
        self.assertEqual('/tmp/drain-compute1.json', ev['report'])

    def test_end_carries_the_result(self):
        servers = [
            events.item_values(item(state='done', final_host='compute2',
                                    destination='compute2',
                                    migration_id=1,
                                    migration_status='completed')),
            events.item_values(item(id='b', name='db-1', state='failed',
                                    final_host='compute1',
                                    error='migration error')),
            events.item_values(item(id='c', name='', action='none',
                                    state='nothing-to-move',
                                    reason='shelved offloaded')),
        ]
        ev = events.end_event(T0, 'compute1', 'drain', 'incomplete', 4,
                              '1/2 moved, 1 failed', servers)
        self.assertEqual('end', ev['event'])
        self.assertEqual('incomplete', ev['state'])
        self.assertEqual(4, ev['exit_status'])
        self.assertEqual({'done': 1, 'failed': 1, 'nothing-to-move': 1},
                         ev['counts'])
        self.assertEqual(
            {'server_id': SERVER, 'name': 'web-1', 'source': 'compute1',
             'kind': 'live', 'host': 'compute2', 'dest': 'compute2',
             'state': 'done', 'migration_id': 1, 'status': 'completed',
             'reason': 'ACTIVE: live migration'}, ev['servers'][0])
        self.assertEqual('migration error', ev['servers'][1]['reason'])
        self.assertIsNone(ev['servers'][2]['name'])


class TestSink(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'events.jsonl')

    def lines(self):
        # An independent reader, as a log shipper would be.
        with open(self.path, encoding='utf-8') as stream:
            return [json.loads(line) for line in stream]

    def test_a_drain_as_it_happens(self):
        sink = events.open_sink(self.path, 'compute1', clock=Clock())
        self.addCleanup(sink.close)
        server = item()
        other = item(id='b', name='db-1', action='cold',
                     original_status='SHUTOFF')
        sink.start([server, other], ['compute1'], '/tmp/r.json')
        # Flushed per line: visible before the sink is closed.
        self.assertEqual(['start'], [e['event'] for e in self.lines()])

        server.state, server.destination, server.attempts = (
            'submitted', 'compute2', 1)
        sink(server, 'live migration to compute2 submitted')
        self.assertEqual(2, len(self.lines()))

        server.state, server.migration_id = 'migrating', 1
        server.migration_status = 'queued'
        sink(server, 'migration 1 queued -> compute2')
        server.migration_status = 'running'
        sink(server, 'migration 1 running -> compute2',
             migration=MIGRATION)
        sink(server, 'stuck: ...; waiting (--on-stuck wait)')
        sink(types.SimpleNamespace(id='-', name='destinations'),
             'compute3 is not used as a destination: nova-compute is down')
        server.state, server.final_host = 'done', 'compute2'
        server.migration_status = 'completed'
        sink(server, 'done: on compute2, ACTIVE')
        sink.end([server, other], 'incomplete', 5, '1/2 moved')

        got = self.lines()
        self.assertEqual(['start', 'state', 'state', 'status', 'note',
                          'note', 'state', 'end'],
                         [e['event'] for e in got])
        self.assertEqual([(None, None), ('pending', 'submitted'),
                          ('submitted', 'migrating'),
                          ('migrating', 'migrating'),
                          ('migrating', 'migrating'), (None, None),
                          ('migrating', 'done'), (None, None)],
                         [(e.get('from'), e.get('to')) for e in got])
        self.assertEqual('queued', got[3]['previous_status'])
        self.assertEqual(111111, got[3]['memory']['remaining'])
        self.assertEqual('destinations', got[5]['subject'])
        self.assertIsNone(got[5]['server_id'])
        self.assertEqual(['2026-11-27T10:12:%02dZ' % s
                          for s in range(4, 12)],
                         [e['time'] for e in got])
        self.assertEqual({'done': 1, 'pending': 1}, got[-1]['counts'])
        self.assertEqual(8, sink.written)

    def test_appends_and_creates_0600(self):
        with open(self.path, 'w') as stream:
            stream.write('{"event": "end"}\n')
        os.chmod(self.path, 0o644)
        sink = events.open_sink(self.path, 'compute1')
        sink.start([], ['compute1'])
        sink.close()
        self.assertEqual(['end', 'start'],
                         [e['event'] for e in self.lines()])
        self.assertEqual(0o644, stat.S_IMODE(os.stat(self.path).st_mode))

        new = os.path.join(self.dir, 'new.jsonl')
        events.open_sink(new, 'compute1').close()
        self.assertEqual(0o600, stat.S_IMODE(os.stat(new).st_mode))

    def test_dash_is_stdout_and_stays_open(self):
        out = io.StringIO()
        sink = events.open_sink('-', 'compute1', stdout=out, clock=Clock())
        sink(item(), 'planned')
        sink.close()
        self.assertFalse(out.closed)
        self.assertEqual('state', json.loads(out.getvalue())['event'])
        self.assertIsNone(sink.path)

    def test_cannot_open(self):
        for path in (self.dir, os.path.join(self.dir, 'no', 'such.jsonl'),
                     ''):
            exc = self.assertRaises(events.EventsError, events.open_sink,
                                    path, 'compute1')
            self.assertIsInstance(exc, errors.Error)
            self.assertNotIn('\n', str(exc))
        exc = self.assertRaises(events.EventsError, events.open_sink,
                                self.dir, 'compute1')
        self.assertIn(self.dir, str(exc))
        self.assertIn('Cannot open the events file', str(exc))

    def test_write_failure_is_said_once_and_the_drain_goes_on(self):
        class Full(io.StringIO):
            def write(self, text):
                raise OSError(28, 'No space left on device')

        said = []
        sink = events.EventSink(Full(), 'compute1', path='/var/log/e.jsonl',
                                on_error=said.append)
        self.assertFalse(sink(item(), 'planned'))
        self.assertFalse(sink(item(state='submitted'), 'submitted'))
        self.assertFalse(sink.end([], 'complete', 0, ''))
        self.assertEqual(1, len(said))
        self.assertIn('/var/log/e.jsonl', said[0])
        self.assertIn('No space left on device', said[0])
        self.assertEqual(0, sink.written)

    def test_closed_stream(self):
        said = []
        stream = io.StringIO()
        sink = events.EventSink(stream, 'compute1', on_error=said.append)
        stream.close()
        self.assertFalse(sink(item(), 'planned'))
        self.assertEqual(1, len(said))

    def test_item_values_reads_any_object(self):
        values = events.item_values(types.SimpleNamespace(id='x'))
        self.assertEqual('x', values['id'])
        self.assertEqual(set(events.ITEM_FIELDS), set(values))
        self.assertIsNone(values['state'])


EVENTS_SAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                              'samples', 'events')


def doc_events_sample():
    """The user guide's ``--events`` sample: one server moves, one fails.

    To regenerate the sample after a change::

        python -c 'from migrationclient.tests.unit.engine import \\
            test_events as t; print(t.doc_events_sample(), end="")' \\
            > migrationclient/tests/unit/samples/events/drain-compute1.jsonl
    """
    out = io.StringIO()
    sink = events.open_sink('-', 'compute1', stdout=out, clock=Clock())
    web = item(id='9df0d5b4-5a43-4a0c-9d35-0d1d2c37e2a1', name='web-3')
    db = item(id='1cd7992d-6a0e-4a59-8f77-6a6f0b2f5c3e', name='db-1')
    sink.start([web, db], ['compute1'],
               '/root/.local/state/migrationclient/drain-compute1.json')
    for server, dest in ((web, 'compute2'), (db, 'compute3')):
        server.state, server.destination, server.attempts = (
            'submitted', dest, 1)
        sink(server, 'live migration to %s submitted' % dest)
    web.state, web.migration_id, web.migration_status = (
        'migrating', 41, 'queued')
    web.migration_uuid = MIGRATION_UUID
    sink(web, 'migration 41 queued -> compute2')
    web.migration_status, web.percent = 'running', 62.5
    running = dict(MIGRATION, id=41, server_id=web.id, elapsed=95.0,
                   memory={'total': 8589934592, 'processed': 6442450944,
                           'remaining': 3221225472, 'percent': 62.5,
                           'rate': 85899345.9, 'dirty_rate': 0.0,
                           'eta': 37.5, 'stalled_for': 0.0},
                   disk=None)
    sink(web, 'migration 41 running -> compute2', migration=running)
    db.state, db.final_host = 'failed', 'compute1'
    db.error = 'No valid host was found. There are not enough hosts ' \
        'available.'
    sink(db, 'refused: %s' % db.error)
    web.state, web.migration_status, web.final_host, web.percent = (
        'done', 'completed', 'compute2', 100.0)
    sink(web, 'done: on compute2, ACTIVE')
    sink.end([web, db], 'incomplete', 4, '1/2 moved, 1 failed')
    return out.getvalue()


class TestDocSample(testtools.TestCase):
    """The sample the user guide shows is what the sink writes."""

    def test_events(self):
        text = doc_events_sample()
        with open(os.path.join(EVENTS_SAMPLES, 'drain-compute1.jsonl'),
                  encoding='utf-8') as stream:
            sample = [json.loads(line) for line in stream]
        got = [json.loads(line) for line in text.splitlines()]
        self.assertEqual(sample, got)
        self.assertEqual(['start', 'state', 'state', 'state', 'status',
                          'state', 'state', 'end'],
                         [e['event'] for e in got])


class TestDrainItemContract(testtools.TestCase):
    """The drain engine's items have every field an event reads."""

    def test_item_fields(self):
        from migrationclient.engine import drain
        it = drain.Item(id=SERVER, name='web-1', project_id=None,
                        original_host='compute1', original_status='ACTIVE',
                        action=drain.LIVE)
        for name in events.ITEM_FIELDS:
            self.assertTrue(hasattr(it, name), name)
        ev = events.item_event(T0, 'compute1', events.item_values(it), 'x')
        self.assertEqual('live', ev['kind'])
        self.assertEqual('pending', ev['state'])
