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

"""``compute drain --events FILE|-``: the drain's progress as JSON lines.

One JSON object per line, keys sorted, written and flushed as it happens
(line-buffered, no ``fsync``), so that a wrapper script or a log shipper
can follow a drain live (``tail -F``, ``jq``, Fluent Bit, Promtail...).
The same schema family as ``migration watch -f json`` (its
``Event.to_dict()``): ``event``, ``time`` (UTC, ``...Z``, seconds),
``server_id``, ``source``, ``dest``, ``status``, ``memory`` / ``disk``
(the watch's byte-progress objects), ``message``.  In a drain the subject
of an event is a server, so the migration's id is ``migration_id`` (the
watch's ``id``) and ``kind`` is the drain's action (``live`` / ``cold``).

Events (``event``):

``start``
    once per run: ``format`` / ``version``, ``drain`` (the hosts, comma
    separated), ``operation`` (``drain`` / ``restore``), ``hosts``,
    ``servers`` (how many the plan holds), ``report`` (its path).
``state``
    a server's drain state changed (``from`` -> ``to``; ``state`` is the
    new one): pending -> submitted -> migrating -> [confirming ->] done,
    or failed / aborted / timeout / skipped / unconfirmed ...
``status``
    the server's migration record changed status (``previous_status`` ->
    ``status``: queued, preparing, running, completed...), the drain state
    staying the same.
``note``
    anything else the drain says about a server (stuck, abort requested,
    retry, a failed read) or about the drain (``subject``: ``report``,
    ``cloud``, ``destinations``; no ``server_id``).
``end``
    once per run: ``state`` (the report's: complete / incomplete /
    interrupted), ``exit_status``, ``summary`` and ``servers``, the final
    result (one object per server: what the command's table shows).

Every server event carries ``drain``, ``server_id``, ``name``, ``kind``,
``source`` (the host it is drained from), ``dest`` (the migration's
destination, or the one asked for; null: the scheduler's choice),
``host`` (where the server is once the drain checked it, null before),
``from`` / ``to`` / ``state``, ``migration_id`` / ``migration_uuid``,
``status``, ``attempt``, ``percent`` (memory copied, live migrations),
``memory`` / ``disk`` (null when unknown), ``reason`` (what the result
table's Reason column says: the error, else the plan's reason) and
``message`` (the line the drain prints on stderr).

``-`` writes the events on stdout.  stdout then holds JSON lines only:
the command prints no result table (the ``end`` event carries the same
result), so ``openstack compute drain HOST --events - | jq`` works; a
formatter option (``-f``, ``-c``...) is refused with ``-`` (use
``--events FILE`` to keep the formatted result).  A file is appended to
(a resumed drain adds its lines after the previous run's; every run starts
with a ``start`` event), created with mode 0600 when missing, like the
report.  ``--dry-run`` opens no file.

Pure functions build each event from plain values
(:func:`item_event`, :func:`note_event`, :func:`start_event`,
:func:`end_event`); :class:`EventSink` remembers each server's last state
to tell ``state`` from ``status`` and ``note``, and writes.
"""

import datetime
import json
import os
import sys

from migrationclient._i18n import _
from migrationclient import errors

FORMAT = 'migrationclient-drain-events'
VERSION = 1

START = 'start'
STATE = 'state'
STATUS = 'status'
NOTE = 'note'
END = 'end'

#: ``--events -``: stdout
STDOUT = '-'

#: the attributes of a drain item an event reads (engine.drain.Item)
ITEM_FIELDS = ('id', 'name', 'original_host', 'action', 'state',
               'destination', 'final_host', 'migration_id',
               'migration_uuid', 'migration_status', 'error', 'reason',
               'attempts', 'percent')

#: the id of the drain's pseudo items (report, cloud, destinations)
NO_SERVER = '-'


class EventsError(errors.Error):
    """The events file cannot be opened: one line for the user."""


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def isotime(when):
    """``2026-11-27T10:12:03Z`` (the watch's JSON-lines time format)."""
    return when.strftime('%Y-%m-%dT%H:%M:%SZ')


def drain_name(hosts):
    """The ``drain`` field (and metrics label) of a drain of ``hosts``."""
    return ','.join(hosts)


def item_values(item):
    """The plain values an event reads from a drain item (any object)."""
    return {k: getattr(item, k, None) for k in ITEM_FIELDS}


def _reason(values):
    return values.get('error') or values.get('reason') or None


def item_event(when, drain, values, text, previous=None, migration=None):
    """The event for one thing the drain says about one server.

    :param when: aware datetime (UTC)
    :param drain: :func:`drain_name`
    :param values: :func:`item_values` of the server's item, as of now
    :param text: the drain's line (``message``)
    :param previous: ``(state, migration status)`` of the server's last
        event, or None when this is the first one: its event is ``state``
    :param migration: the watch's ``MigrationState.to_dict()`` of the
        server's current migration, or None: gives ``memory`` / ``disk``,
        ``type``, ``stuck`` and ``dest`` when the record names it
    """
    state = values.get('state')
    status = values.get('migration_status')
    if previous is None:
        kind, before, before_status = STATE, None, None
    else:
        before, before_status = previous
        if state != before:
            kind = STATE
        elif status != before_status:
            kind = STATUS
        else:
            kind = NOTE
    migration = migration or {}
    out = {
        'event': kind,
        'time': isotime(when),
        'drain': drain,
        'server_id': values.get('id'),
        'name': values.get('name') or None,
        'kind': values.get('action'),
        'source': values.get('original_host'),
        'dest': migration.get('dest') or values.get('destination'),
        'host': values.get('final_host'),
        'from': before,
        'to': state,
        'state': state,
        'migration_id': values.get('migration_id'),
        'migration_uuid': values.get('migration_uuid'),
        'status': status,
        'attempt': values.get('attempts') or 0,
        'percent': values.get('percent'),
        'memory': migration.get('memory'),
        'disk': migration.get('disk'),
        'reason': _reason(values),
        'message': text,
    }
    if kind == STATUS:
        out['previous_status'] = before_status
    if migration:
        out['type'] = migration.get('type')
        out['stuck'] = bool(migration.get('stuck'))
    return out


def note_event(when, drain, subject, text):
    """What the drain says about itself (``subject``: report, cloud...)."""
    return {'event': NOTE, 'time': isotime(when), 'drain': drain,
            'server_id': None, 'subject': subject, 'message': text}


def start_event(when, drain, operation, hosts, servers, report=None):
    """The first event of a run."""
    return {'event': START, 'time': isotime(when), 'format': FORMAT,
            'version': VERSION, 'drain': drain, 'operation': operation,
            'hosts': list(hosts), 'servers': servers, 'report': report}


def result_entry(values):
    """One server of the final result (the result table's columns)."""
    return {'server_id': values.get('id'),
            'name': values.get('name') or None,
            'source': values.get('original_host'),
            'kind': values.get('action'),
            'host': values.get('final_host'),
            'dest': values.get('destination'),
            'state': values.get('state'),
            'migration_id': values.get('migration_id'),
            'status': values.get('migration_status'),
            'reason': _reason(values)}


def end_event(when, drain, operation, state, exit_status, summary,
              servers):
    """The last event of a run; ``servers``: :func:`item_values` dicts."""
    counts = {}
    for values in servers:
        counts[values.get('state')] = counts.get(values.get('state'), 0) + 1
    return {'event': END, 'time': isotime(when), 'drain': drain,
            'operation': operation, 'state': state,
            'exit_status': exit_status, 'summary': summary,
            'counts': counts,
            'servers': [result_entry(v) for v in servers]}


def dumps(event):
    """One line of JSON (keys sorted, as ``migration watch -f json``)."""
    return json.dumps(event, sort_keys=True, default=str)


class EventSink:
    """Write events to a text stream, one line each, flushed at once.

    Callable as the drain's ``on_event(item, text)`` (plus an optional
    ``migration`` dict).  A write that fails (disk full, a closed pipe)
    does not stop the drain: the sink says so once through ``on_error``
    and writes nothing more.
    """

    def __init__(self, stream, drain, operation='drain', path=None,
                 owns_stream=True, on_error=None, clock=utcnow):
        self.stream = stream
        self.drain = drain
        self.operation = operation
        self.path = path
        self.owns_stream = owns_stream
        self.on_error = on_error
        self.clock = clock
        self.broken = None          # the error that stopped the writes
        self.written = 0
        self._seen = {}             # server id -> (state, status)

    def _write(self, event):
        if self.broken is not None or self.stream is None:
            return False
        try:
            self.stream.write(dumps(event) + '\n')
            self.stream.flush()
        except (OSError, ValueError) as exc:
            # ValueError: the stream was closed under us.
            self.broken = str(exc)
            if self.on_error is not None:
                self.on_error(_('cannot write the events to %(path)s '
                                '(%(err)s): no more events are written') % {
                                    'path': self.path or STDOUT,
                                    'err': exc})
            return False
        self.written += 1
        return True

    def _remember(self, values):
        self._seen[values.get('id')] = (values.get('state'),
                                        values.get('migration_status'))

    def start(self, items, hosts, report=None):
        """The ``start`` event; remembers each item's planned state."""
        values = [item_values(i) for i in items]
        for v in values:
            self._remember(v)
        return self._write(start_event(self.clock(), self.drain,
                                       self.operation, hosts, len(values),
                                       report))

    def __call__(self, item, text, migration=None):
        values = item_values(item)
        if values.get('id') in (None, NO_SERVER):
            return self._write(note_event(self.clock(), self.drain,
                                          values.get('name') or None, text))
        previous = self._seen.get(values['id'])
        self._remember(values)
        return self._write(item_event(self.clock(), self.drain, values,
                                      text, previous, migration))

    def end(self, items, state, exit_status, summary):
        """The ``end`` event with the final result of every server."""
        return self._write(end_event(self.clock(), self.drain,
                                     self.operation, state, exit_status,
                                     summary,
                                     [item_values(i) for i in items]))

    def close(self):
        stream, self.stream = self.stream, None
        if stream is not None and self.owns_stream:
            try:
                stream.close()
            except OSError:
                pass


def open_sink(path, drain, operation='drain', stdout=None, on_error=None,
              clock=utcnow):
    """An :class:`EventSink` on ``path`` (``-``: ``stdout``).

    The file is appended to, and created with mode 0600 when missing.
    Raises :class:`EventsError` (one line) when it cannot be opened.
    """
    if path == STDOUT:
        return EventSink(stdout if stdout is not None else sys.stdout,
                         drain, operation, path=None, owns_stream=False,
                         on_error=on_error, clock=clock)
    if not path:
        raise EventsError(_('--events needs a file name, or - for stdout'))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise EventsError(_('Cannot open the events file %(path)s: '
                            '%(err)s') % {'path': path,
                                          'err': exc.strerror or exc})
    # Line-buffered: every event reaches the file as it is written.
    stream = os.fdopen(fd, 'a', buffering=1, encoding='utf-8')
    return EventSink(stream, drain, operation, path=path, owns_stream=True,
                     on_error=on_error, clock=clock)
