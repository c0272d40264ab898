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

"""``--metrics-file PATH``: progress for Prometheus (node_exporter).

``compute drain`` and ``migration watch`` rewrite the file on each poll in
the Prometheus text format, for node_exporter's textfile collector
(``--collector.textfile.directory``; it reads ``*.prom`` files only).  The
exposition is ``prometheus_client``'s own (a fresh ``CollectorRegistry``
of ``Gauge`` s per write, :func:`prometheus_client.write_to_textfile`):
nothing here formats the text by hand.  ``write_to_textfile`` writes a
temporary file beside ``PATH`` (``PATH.<pid>.<thread>``, which the
collector ignores) and renames it over ``PATH``, so a scrape sees the
previous complete file or the new complete file, never a partial one.

The engines hand a snapshot of plain values (:class:`DrainSnapshot`,
:class:`WatchSnapshot`, :class:`MigrationSample`); this module imports no
engine (only the report's state names) and reads no cloud.
``prometheus_client`` is imported on the first write, so that a command
run without ``--metrics-file`` does not load it.

Metrics (every series of a file carries the labels that name its job, so
the files of two jobs never collide in node_exporter):

drain (labels ``drain``: the hosts, comma separated; ``operation``:
``drain`` / ``restore``; ``host``: a source host):

* ``openstack_drain_state{state}``: 1 for the report's state (running,
  complete, incomplete, interrupted), 0 for the others;
* ``openstack_drain_servers{host}``: servers the drain moves off the host
  (shelved-offloaded ones, with nothing on the host, not counted);
* ``openstack_drain_servers_moved{host}`` (done or unconfirmed),
  ``..._failed{host}`` (failed, aborted, timeout),
  ``..._remaining{host}`` (still on the host and should move: the drain
  ends 0 when every one is 0), ``..._by_state{host,state}``;
* ``openstack_drain_migrations_in_flight{host}``;
* ``openstack_drain_bytes_remaining{host}``: memory + disk still to copy
  by the running live migrations off the host;
* ``openstack_drain_started_timestamp_seconds``,
  ``..._last_update_timestamp_seconds`` (this write),
  ``..._last_progress_timestamp_seconds`` (a server changed state, or the
  bytes to copy reached a new low).

watch (label ``scope``: ``server:<id>``, ``migration:<id>``,
``host:<host>`` or ``all``):

* ``openstack_migration_watch_migrations{outcome}`` (in-progress,
  completed, failed, cancelled), ``..._migrations_stuck``,
  ``..._bytes_remaining``, ``..._started_timestamp_seconds``,
  ``..._last_update_timestamp_seconds``,
  ``..._last_progress_timestamp_seconds``.

per migration in flight (both; labels ``scope`` (a drain's is
``drain:<hosts>`` / ``restore:<hosts>``), ``migration``, ``server``,
``type``, ``source``, ``dest``; ended migrations leave the file, so the
number of series stays bounded by the migrations in flight):

* ``openstack_migration_memory_remaining_bytes``,
  ``openstack_migration_disk_remaining_bytes``,
  ``openstack_migration_progress_ratio`` (memory copied, 0 to 1),
  ``openstack_migration_eta_seconds``,
  ``openstack_migration_elapsed_seconds``,
  ``openstack_migration_stuck`` (0 / 1).

A value that is not known (no byte counters: cold migrations, compute API
older than 2.23) has no sample.
"""

import dataclasses
import datetime
import os
import tempfile
import threading
import time

from migrationclient._i18n import _
from migrationclient.engine import report as report_mod
from migrationclient import errors

DRAIN_STATES = report_mod.REPORT_STATES
#: a watched migration's outcome label (``in-progress``: not ended)
IN_PROGRESS = 'in-progress'
OUTCOMES = (IN_PROGRESS, 'completed', 'failed', 'cancelled')

DRAIN_LABELS = ('drain', 'operation')
HOST_LABELS = DRAIN_LABELS + ('host',)
MIGRATION_LABELS = ('scope', 'migration', 'server', 'type', 'source',
                    'dest')

#: name -> help, one place (node_exporter wants the same help for a name
#: in every file of its directory)
HELP = {
    'openstack_drain_state':
        'Drain state: 1 for the current one (running, complete, '
        'incomplete, interrupted), 0 for the others',
    'openstack_drain_servers':
        'Servers the drain moves off the host',
    'openstack_drain_servers_moved':
        'Servers moved off the host (done or unconfirmed)',
    'openstack_drain_servers_failed':
        'Servers whose move failed, was aborted or timed out',
    'openstack_drain_servers_remaining':
        'Servers still on the host that should move',
    'openstack_drain_servers_by_state':
        'Servers of the drain by drain state',
    'openstack_drain_migrations_in_flight':
        'Migrations of the drain in flight off the host',
    'openstack_drain_bytes_remaining':
        'Memory and disk bytes still to copy by the running live '
        'migrations off the host',
    'openstack_drain_started_timestamp_seconds':
        'When the drain started (Unix time)',
    'openstack_drain_last_update_timestamp_seconds':
        'When the drain last wrote this file (Unix time)',
    'openstack_drain_last_progress_timestamp_seconds':
        'When the drain last progressed: a server changed state or the '
        'bytes to copy reached a new low',
    'openstack_migration_watch_migrations':
        'Migrations the watch follows, by outcome',
    'openstack_migration_watch_migrations_stuck':
        'Migrations in progress the watch finds stuck',
    'openstack_migration_watch_bytes_remaining':
        'Memory and disk bytes still to copy by the watched migrations',
    'openstack_migration_watch_started_timestamp_seconds':
        'When the watch started (Unix time)',
    'openstack_migration_watch_last_update_timestamp_seconds':
        'When the watch last wrote this file (Unix time)',
    'openstack_migration_watch_last_progress_timestamp_seconds':
        'When the watched migrations last progressed: one started or '
        'ended, or the bytes to copy reached a new low',
    'openstack_migration_memory_remaining_bytes':
        'Memory bytes still to copy (live migration in flight)',
    'openstack_migration_disk_remaining_bytes':
        'Disk bytes still to copy (live block migration in flight)',
    'openstack_migration_progress_ratio':
        'Memory copied, 0 to 1 (live migration in flight)',
    'openstack_migration_eta_seconds':
        'Estimated seconds until the memory copy ends',
    'openstack_migration_elapsed_seconds':
        'Seconds since the migration was first seen',
    'openstack_migration_stuck':
        '1 when the live migration is stuck (remaining memory not '
        'shrinking), else 0',
}


def _client():
    """``prometheus_client``, imported on first use.

    Its import takes tens of milliseconds; a command that writes no
    metrics file (most runs) does not pay for it.
    """
    import prometheus_client
    return prometheus_client


class MetricsError(errors.Error):
    """The metrics file cannot be written: one line for the user."""


# ---------------------------------------------------------------------------
# Snapshots: plain values from the engines
# ---------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class MigrationSample:
    """One migration as the metrics see it."""

    id: object
    server_id: str | None = None
    type: str | None = None
    source: str | None = None
    dest: str | None = None
    status: str | None = None
    outcome: str | None = None     # None: in progress
    stuck: bool = False
    elapsed: float | None = None
    memory_remaining: int | None = None
    disk_remaining: int | None = None
    progress: float | None = None  # memory copied, 0..1
    eta: float | None = None

    @classmethod
    def from_dict(cls, data):
        """From the watch's ``MigrationState.to_dict()``."""
        memory = data.get('memory') or {}
        disk = data.get('disk') or {}
        percent = memory.get('percent')
        return cls(id=data.get('id'), server_id=data.get('server_id'),
                   type=data.get('type'), source=data.get('source'),
                   dest=data.get('dest'), status=data.get('status'),
                   outcome=data.get('outcome'),
                   stuck=bool(data.get('stuck')),
                   elapsed=data.get('elapsed'),
                   memory_remaining=memory.get('remaining'),
                   disk_remaining=disk.get('remaining'),
                   progress=None if percent is None else percent / 100.0,
                   eta=memory.get('eta'))

    @property
    def in_flight(self):
        return self.outcome is None

    @property
    def bytes_remaining(self):
        """Memory + disk still to copy; None when neither is known."""
        known = [b for b in (self.memory_remaining, self.disk_remaining)
                 if b is not None]
        return sum(known) if known else None


@dataclasses.dataclass(frozen=True)
class HostCounts:
    """The servers of one source host of a drain, counted."""

    host: str
    servers: int = 0
    moved: int = 0
    failed: int = 0
    remaining: int = 0
    in_flight: int = 0
    states: tuple = ()           # ((state, count), ...), sorted


def count_servers(entries, moved, failed, in_flight, off_host=(),
                  nothing=()):
    """Count a drain's servers per source host: tuple of HostCounts.

    :param entries: ``(source host, action, state)`` of each server
    :param moved: states of a server moved off its host
    :param failed: states that count as failures
    :param in_flight: states of a server whose move is under way
    :param off_host: other states of a server no longer on its host
        (the drain's "left-host")
    :param nothing: actions of servers with nothing to move (not counted
        in ``servers`` / ``remaining``, only by state)

    The caller (the drain engine) passes its own state sets, so the
    counts are the ones of its ``summary()`` and ``remaining()``.
    """
    hosts = {}
    for host, action, state in entries:
        c = hosts.setdefault(host, {'servers': 0, 'moved': 0, 'failed': 0,
                                    'remaining': 0, 'in_flight': 0,
                                    'states': {}})
        c['states'][state] = c['states'].get(state, 0) + 1
        if state in in_flight:
            c['in_flight'] += 1
        if action in nothing:
            continue
        c['servers'] += 1
        if state in moved:
            c['moved'] += 1
        elif state in failed:
            c['failed'] += 1
        if state not in tuple(moved) + tuple(off_host):
            c['remaining'] += 1
    return tuple(HostCounts(host=h, servers=c['servers'], moved=c['moved'],
                            failed=c['failed'], remaining=c['remaining'],
                            in_flight=c['in_flight'],
                            states=tuple(sorted(c['states'].items())))
                 for h, c in sorted(hosts.items()))


@dataclasses.dataclass(frozen=True)
class DrainSnapshot:
    """A drain as of one poll."""

    drain: str                   # events.drain_name(hosts)
    state: str                   # the report's: running, complete, ...
    hosts: tuple                 # HostCounts
    migrations: tuple = ()       # MigrationSample of the servers in flight
    operation: str = 'drain'     # or 'restore'
    started_at: float | None = None   # Unix time

    @property
    def scope(self):
        return '%s:%s' % (self.operation, self.drain)

    @property
    def milestones(self):
        """Changes when a server starts, settles or changes state."""
        return tuple((c.host, c.states) for c in self.hosts)


@dataclasses.dataclass(frozen=True)
class WatchSnapshot:
    """A watch as of one poll: every migration it tracks."""

    scope: str                   # watch_scope(...)
    migrations: tuple = ()       # MigrationSample, ended ones too
    started_at: float | None = None

    @property
    def milestones(self):
        """Changes when a migration ends."""
        return sum(1 for m in self.migrations if not m.in_flight)


def epoch(isotext):
    """Unix time of a report / event time (``...Z``), None if unreadable.

    Reads the report's ``2026-12-03T10:00:00.000000Z`` and the events'
    ``2026-12-03T10:00:00Z``.
    """
    if not isotext:
        return None
    for fmt in ('%Y-%m-%dT%H:%M:%S.%fZ', '%Y-%m-%dT%H:%M:%SZ'):
        try:
            when = datetime.datetime.strptime(isotext, fmt)
        except (TypeError, ValueError):
            continue
        return when.replace(tzinfo=datetime.timezone.utc).timestamp()
    return None


def watch_scope(server_id=None, host=None, all_migrations=False,
                migration=None):
    """The ``scope`` label of a ``migration watch``."""
    if migration is not None:
        return 'migration:%s' % migration
    if server_id:
        return 'server:%s' % server_id
    if host:
        return 'host:%s' % host
    if all_migrations:
        return 'all'
    return 'tracked'


# ---------------------------------------------------------------------------
# Progress: when did the job last move forward?
# ---------------------------------------------------------------------------

class ProgressMark:
    """The time of a job's last progress, for a "no progress" alert.

    Progress: the drain's servers changed state (or a watched migration
    ended), the set of migrations in flight changed, or the bytes they
    still have to copy reached a new low since that set last changed
    (remaining bytes that go up and down, as in a stuck live migration,
    are not progress).  The first update is progress.
    """

    def __init__(self):
        self.at = None
        self._milestones = None
        self._flight = None
        self._low = None

    def update(self, now, milestones, in_flight, remaining):
        """Record one poll; return the time of the last progress.

        :param milestones: a value that changes when a server changes
            state / a migration ends (the snapshot's ``milestones``)
        :param in_flight: ids of the migrations in flight
        :param remaining: bytes still to copy, or None when unknown
        """
        progressed = self.at is None
        if milestones != self._milestones:
            progressed = True
            self._milestones = milestones
        flight = frozenset(str(i) for i in in_flight)
        if flight != self._flight:
            progressed = True
            self._flight = flight
            self._low = remaining
        elif remaining is not None and (self._low is None or
                                        remaining < self._low):
            progressed = True
            self._low = remaining
        if progressed:
            self.at = now
        return self.at


def _bytes_total(migrations):
    known = [m.bytes_remaining for m in migrations
             if m.in_flight and m.bytes_remaining is not None]
    return sum(known) if known else None


# ---------------------------------------------------------------------------
# Registries: the exposition, through prometheus_client
# ---------------------------------------------------------------------------

def _gauge(registry, name, labels):
    return _client().Gauge(name, HELP[name], labels, registry=registry)


def _per_migration(registry, scope, migrations):
    gauges = {
        'memory_remaining': _gauge(
            registry, 'openstack_migration_memory_remaining_bytes',
            MIGRATION_LABELS),
        'disk_remaining': _gauge(
            registry, 'openstack_migration_disk_remaining_bytes',
            MIGRATION_LABELS),
        'progress': _gauge(registry, 'openstack_migration_progress_ratio',
                           MIGRATION_LABELS),
        'eta': _gauge(registry, 'openstack_migration_eta_seconds',
                      MIGRATION_LABELS),
        'elapsed': _gauge(registry, 'openstack_migration_elapsed_seconds',
                          MIGRATION_LABELS),
    }
    stuck = _gauge(registry, 'openstack_migration_stuck', MIGRATION_LABELS)
    for m in migrations:
        if not m.in_flight:
            continue
        labels = (scope, str(m.id), m.server_id or '', m.type or '',
                  m.source or '', m.dest or '')
        for attr, gauge in gauges.items():
            value = getattr(m, attr)
            if value is not None:
                gauge.labels(*labels).set(value)
        stuck.labels(*labels).set(1 if m.stuck else 0)


def drain_registry(snapshot, now, progress_at=None):
    """A ``CollectorRegistry`` holding the metrics of a drain snapshot."""
    registry = _client().CollectorRegistry(auto_describe=True)
    job = (snapshot.drain, snapshot.operation)
    state = _gauge(registry, 'openstack_drain_state',
                   DRAIN_LABELS + ('state',))
    states = list(DRAIN_STATES)
    if snapshot.state not in states:
        states.append(snapshot.state)
    for name in states:
        state.labels(*job, name).set(1 if name == snapshot.state else 0)
    per_host = {
        'servers': 'openstack_drain_servers',
        'moved': 'openstack_drain_servers_moved',
        'failed': 'openstack_drain_servers_failed',
        'remaining': 'openstack_drain_servers_remaining',
        'in_flight': 'openstack_drain_migrations_in_flight',
    }
    gauges = {attr: _gauge(registry, name, HOST_LABELS)
              for attr, name in per_host.items()}
    by_state = _gauge(registry, 'openstack_drain_servers_by_state',
                      HOST_LABELS + ('state',))
    left = _gauge(registry, 'openstack_drain_bytes_remaining', HOST_LABELS)
    for counts in snapshot.hosts:
        labels = job + (counts.host,)
        for attr, gauge in gauges.items():
            gauge.labels(*labels).set(getattr(counts, attr))
        for name, n in counts.states:
            by_state.labels(*labels, name).set(n)
        left.labels(*labels).set(_bytes_total(
            [m for m in snapshot.migrations if m.source == counts.host])
            or 0)
    for name, value in (
            ('openstack_drain_started_timestamp_seconds',
             snapshot.started_at),
            ('openstack_drain_last_update_timestamp_seconds', now),
            ('openstack_drain_last_progress_timestamp_seconds',
             progress_at)):
        if value is not None:
            _gauge(registry, name, DRAIN_LABELS).labels(*job).set(value)
    _per_migration(registry, snapshot.scope, snapshot.migrations)
    return registry


def watch_registry(snapshot, now, progress_at=None):
    """A ``CollectorRegistry`` holding the metrics of a watch snapshot."""
    registry = _client().CollectorRegistry(auto_describe=True)
    scope = snapshot.scope
    by_outcome = _gauge(registry, 'openstack_migration_watch_migrations',
                        ('scope', 'outcome'))
    counts = dict.fromkeys(OUTCOMES, 0)
    for m in snapshot.migrations:
        key = m.outcome or IN_PROGRESS
        counts[key] = counts.get(key, 0) + 1
    for outcome, n in counts.items():
        by_outcome.labels(scope, outcome).set(n)
    _gauge(registry, 'openstack_migration_watch_migrations_stuck',
           ('scope',)).labels(scope).set(
        sum(1 for m in snapshot.migrations if m.in_flight and m.stuck))
    _gauge(registry, 'openstack_migration_watch_bytes_remaining',
           ('scope',)).labels(scope).set(
        _bytes_total(snapshot.migrations) or 0)
    for name, value in (
            ('openstack_migration_watch_started_timestamp_seconds',
             snapshot.started_at),
            ('openstack_migration_watch_last_update_timestamp_seconds', now),
            ('openstack_migration_watch_last_progress_timestamp_seconds',
             progress_at)):
        if value is not None:
            _gauge(registry, name, ('scope',)).labels(scope).set(value)
    _per_migration(registry, scope, snapshot.migrations)
    return registry


def exposition(registry):
    """The text a registry writes (``prometheus_client``'s format)."""
    return _client().generate_latest(registry).decode('utf-8')


# ---------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------

class MetricsFile:
    """The ``--metrics-file`` of one drain or watch.

    :meth:`check` before anything changes (never in ``--dry-run``), then
    :meth:`write` (raises :class:`MetricsError`) or :meth:`publish`
    (says a failure once through ``warn`` and goes on: the migrations run
    whether the file is written or not) on every poll.
    """

    def __init__(self, path, clock=time.time):
        self.path = path
        self.clock = clock
        self.progress = ProgressMark()
        self.writes = 0
        self.error = None           # while writes fail: the last error

    def check(self):
        """Raise :class:`MetricsError` unless ``path`` can be written.

        Creates and removes a temporary file in its directory; the file
        itself is not touched.  Returns a note for the user (or None):
        node_exporter's collector reads ``*.prom`` files only.
        """
        path = self.path
        if not path:
            raise MetricsError(_('--metrics-file needs a file name'))
        if os.path.isdir(path):
            raise MetricsError(_('--metrics-file %s is a directory: name '
                                 'a file in it (for example '
                                 'migration.prom)') % path)
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise MetricsError(_('Cannot write the metrics file %(path)s: '
                                 'directory %(dir)s does not exist') % {
                                     'path': path, 'dir': directory})
        try:
            fd, tmp = tempfile.mkstemp(
                prefix='.%s.' % os.path.basename(path), suffix='.check',
                dir=directory)
        except OSError as exc:
            raise MetricsError(_('Cannot write the metrics file %(path)s: '
                                 '%(err)s') % {'path': path,
                                               'err': exc.strerror or exc})
        os.close(fd)
        os.unlink(tmp)
        if not path.endswith('.prom'):
            return _('--metrics-file %s: node_exporter\'s textfile collector '
                     'reads only files named *.prom') % path
        return None

    def _temporary(self):
        # write_to_textfile's temporary file (prometheus_client < 0.22
        # leaves it behind when the write fails).
        return '%s.%s.%s' % (self.path, os.getpid(),
                             threading.current_thread().ident)

    def _registry(self, snapshot, now):
        flight = [m.id for m in snapshot.migrations if m.in_flight]
        progress_at = self.progress.update(
            now, snapshot.milestones, flight,
            _bytes_total(snapshot.migrations))
        if isinstance(snapshot, DrainSnapshot):
            return drain_registry(snapshot, now, progress_at)
        return watch_registry(snapshot, now, progress_at)

    def write(self, snapshot):
        """Write ``snapshot`` (Drain- or WatchSnapshot) atomically."""
        registry = self._registry(snapshot, self.clock())
        try:
            _client().write_to_textfile(self.path, registry)
        except OSError as exc:
            try:
                os.unlink(self._temporary())
            except OSError:
                pass
            raise MetricsError(_('Cannot write the metrics file %(path)s: '
                                 '%(err)s') % {'path': self.path,
                                               'err': exc.strerror or exc})
        self.writes += 1
        self.error = None

    def publish(self, snapshot, warn=None):
        """:meth:`write`; on failure call ``warn(text)`` once per streak.

        Returns True when the file was written.
        """
        try:
            self.write(snapshot)
        except MetricsError as exc:
            first = self.error is None
            self.error = str(exc)
            if first and warn is not None:
                warn(_('%s; the drain / watch goes on, the file is written '
                       'again at the next poll') % exc)
            return False
        return True
