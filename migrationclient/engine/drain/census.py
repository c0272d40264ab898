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

"""The cloud's migrations in progress, for the drain's limits.

:class:`Census` keeps a table of migration records (id -> latest record)
from the ``GET /os-migrations`` lists the drain makes anyway, and counts
the ones that still move (:func:`migrations.occupies`) per source and
per destination host: this drain's, another drain's, anyone's.

Requests.  From compute API 2.59 (``changes-since``) the census makes
ONE cloud-wide list per poll, ``GET /os-migrations?changes-since=<mark>``,
and serves every source host's watcher from it (:class:`ListingCloud`):
a poll costs one list whatever the number of source hosts (it cost one
per source host before), and the census sees the migrations into every
destination, from any source.  Inside a poll (:meth:`Census.cycle`) the
first watcher's list makes the request and the others read the table; a
watcher that asks twice (a refused request re-reads its host) or a list
outside a poll makes a new request, as before.  The first list (no mark)
is the whole table of the cloud, once.  Below 2.59 every watcher lists
its own host as before and the census counts what those lists show:
migrations from or to the drained hosts only.

Two drains of one machine that start together would both see a free
destination and both send there: the census then also takes a
per-destination lock file (``fcntl.flock``, non-blocking, released by
the kernel if the process dies) before it lets a migration go to a
destination with a per-target limit, reads the cloud again (one request)
under the lock, and keeps the lock until the migration's record is in
the table.  Drains on different machines only have the cloud's records:
between one's list and the other's request (a fraction of a second)
both can still choose the same destination.
"""

import contextlib
import datetime
import errno
import os
import re
import types

from migrationclient._i18n import _
from migrationclient.cloud import actions as cloud_actions
from migrationclient.cloud import errors
from migrationclient.cloud import migrations
from migrationclient.engine.drain import livelimits
from migrationclient.engine.drain import model
from migrationclient.engine.drain.slots import Slots
from migrationclient.engine import report as report_mod
from migrationclient import microversions as mv

try:  # pragma: no cover - POSIX only
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

#: Nova's default ``[DEFAULT] max_concurrent_live_migrations``
NOVA_DEFAULT_LIVE = livelimits.NOVA_DEFAULT_LIVE

#: A record "in progress" that has not changed for this long is a leftover
#: (Nova leaves records in ``migrating`` / ``pre-migrating`` / ``accepted``
#: after a crashed service): it does not hold the limits.
STALE_AFTER = datetime.timedelta(hours=24)


def lock_dir():
    """Where the per-destination lock files live (the state directory)."""
    return os.path.join(report_mod.state_dir(), 'locks')


class TargetLock:
    """A non-blocking exclusive lock on one destination host's file."""

    def __init__(self, host, directory=None):
        self.host = host
        safe = re.sub(r'[^A-Za-z0-9._-]', '_', host)
        self.path = os.path.join(directory or lock_dir(), safe + '.lock')
        self._fd = None

    @property
    def held(self):
        return self._fd is not None

    def acquire(self):
        """True when taken (or locks are not available here)."""
        if self._fd is not None:
            return True
        if fcntl is None:
            return True
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700,
                        exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return True     # no lock directory: the cloud's records only
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            return True
        self._fd = fd
        return True

    def release(self):
        if self._fd is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None


class Census:
    """Migrations in progress in the cloud, from the drain's lists.

    :param cloud: :class:`migrationclient.cloud.actions.Actions`
    :param lock_directory: where the destination locks live (default:
        :func:`lock_dir`)
    :param locks: take destination locks at all
    """

    def __init__(self, cloud, lock_directory=None, locks=True):
        self.cloud = cloud
        self.table = {}             # migration id -> latest Migration
        self.mark = None            # changes-since high-water mark
        self.requests = 0           # lists this census made
        self.listed = False         # the cloud-wide table was read once
        self.shared = False         # inside a poll (cycle)
        self._served = set()        # hosts served since the last list
        self._in_cycle = False      # listed in this poll (cycle)
        self.cloud_wide = (getattr(cloud, 'version', None) is not None and
                           cloud.version >= mv.MIGRATION_UUID)
        self.locks = locks and self.cloud_wide
        self.lock_directory = lock_directory
        self._locks = {}            # target -> (TargetLock, {server ids})
        self._moving = None         # cache: records that still move
        self._announced = ()        # others' migrations said waited for
        self.contended = False      # a destination lock was refused
        self.newest = None          # newest change seen (server time)

    # -- the table ---------------------------------------------------------

    def merge(self, records):
        """Take fresh records into the table (newest version wins)."""
        for m in records:
            old = self.table.get(m.id)
            if old is None or _newer(m, old):
                self.table[m.id] = m
            stamp = _stamp(m)
            if stamp is not None and (self.newest is None or
                                      stamp > self.newest):
                self.newest = stamp
        self._moving = None

    def refresh(self):
        """One cloud-wide list (changes since the mark) into the table."""
        self.requests += 1
        records = self.cloud.migration_records(changes_since=self.mark)
        self.merge(records)
        self.mark = migrations.newest_stamp(self.mark, records)
        self.listed = True
        self._served = set()
        self._release_placed()
        return records

    @contextlib.contextmanager
    def cycle(self):
        """One poll: the watchers share one list."""
        self.shared = True
        self._in_cycle = False      # not listed in this poll yet
        try:
            yield self
        finally:
            self.shared = False

    def records_for(self, host, changes_since=None):
        """A watcher's ``host`` list, from the table (listed if needed)."""
        if not (self.shared and self._in_cycle) or host in self._served:
            self.refresh()
            self._in_cycle = self.shared
        self._served.add(host)
        since = migrations.parse_time(changes_since)
        return [m for m in self.table.values()
                if host in (m.source_compute, m.dest_compute) and (
                    since is None or _stamp(m) is None or
                    _stamp(m) >= since)]

    # -- counting ----------------------------------------------------------

    def moving(self, exclude=()):
        """Records that still move, of servers not in ``exclude``."""
        if self._moving is None:
            # Server time (the newest change listed), not this clock.
            floor = self.newest - STALE_AFTER if self.newest else None
            self._moving = [m for m in self.table.values()
                            if migrations.occupies(m) and not (
                                floor and _stamp(m) is not None and
                                _stamp(m) < floor)]
        return [m for m in self._moving if m.server_id not in exclude]

    def count(self, exclude=()):
        """``(by source, by destination, live by source)`` dicts."""
        source, target, live = {}, {}, {}
        for m in self.moving(exclude):
            if m.source_compute:
                source[m.source_compute] = source.get(
                    m.source_compute, 0) + 1
                if m.is_live or m.migration_type is None:
                    live[m.source_compute] = live.get(
                        m.source_compute, 0) + 1
            if m.dest_compute:
                target[m.dest_compute] = target.get(m.dest_compute, 0) + 1
        return source, target, live

    def blocked_by_others(self, drain):
        """True when ``drain`` waits for others' migrations to end.

        Nothing of the drain is in flight, servers are pending, and the
        cloud lists migrations that are not the drain's on its source
        hosts or its destinations: the limits wait for them (the drain
        says so once per set of migrations) instead of giving up.
        """
        pending = drain.pending()
        if not pending or drain.stop_reason:
            return False
        if self.contended:
            # Another drain of this machine holds a destination's lock.
            self.contended = False
            return True
        hosts = {i.original_host for i in pending}
        hosts |= set(drain.dest_hosts) | set(drain.options.target_hosts)
        others = sorted(
            (m for m in self.moving(exclude=set(drain.slots.source))
             if m.source_compute in hosts or m.dest_compute in hosts),
            key=lambda m: str(m.id))
        if not others:
            return False
        ids = tuple(str(m.id) for m in others)
        if ids != self._announced:
            self._announced = ids
            drain.observer.note(_('limits'), _(
                'waiting for %(n)d migration(s) not of this drain: '
                '%(which)s') % {'n': len(others), 'which': ', '.join(
                    '%s %s->%s (%s)' % (m.id, m.source_compute,
                                        m.dest_compute or '?', m.status)
                    for m in others)})
        return True

    def poll_alone(self, drain):
        """A poll of the census only (nothing of ``drain`` in flight)."""
        drain.cycle += 1
        try:
            self.refresh()
        except errors.CloudError as exc:
            drain.cloud_failed(_('the cloud'), exc)
            return
        drain.api_errors = 0
        drain.guard.api_ok()
        drain.observer.publish()

    # -- destination locks (drains of one machine) -------------------------

    def claim(self, target, server_id):
        """Lock ``target`` for ``server_id`` and re-read the cloud.

        False when another drain of this machine holds the lock.  The
        lock stays until the migration's record is in the table
        (:meth:`_release_placed`) or :meth:`unclaim`.
        """
        if not self.locks or not target:
            return True
        entry = self._locks.get(target)
        if entry is None:
            lock = TargetLock(target, self.lock_directory)
            if not lock.acquire():
                self.contended = True
                return False
            entry = self._locks[target] = (lock, {server_id})
            # Under the lock: what the other drain sent is listed now.
            try:
                self.refresh()
            except errors.CloudError:
                # Not known: not now (the polls handle the outage).
                self.unclaim(server_id)
                return False
            return True
        entry[1].add(server_id)
        return True

    def unclaim(self, server_id):
        for target in list(self._locks):
            lock, servers = self._locks[target]
            servers.discard(server_id)
            if not servers:
                lock.release()
                del self._locks[target]

    def _release_placed(self):
        """Release the locks whose migrations are listed now."""
        listed = {(m.server_id, m.dest_compute) for m in self.table.values()
                  if migrations.occupies(m)}
        for target in list(self._locks):
            lock, servers = self._locks[target]
            for sid in list(servers):
                if (sid, target) in listed:
                    servers.discard(sid)
            if not servers:
                lock.release()
                del self._locks[target]

    def close(self):
        for lock, _servers in self._locks.values():
            lock.release()
        self._locks = {}

    def held(self):
        return sorted(self._locks)

    # -- the watchers' cloud -----------------------------------------------

    def listing(self, cloud):
        """``cloud`` whose host lists come from this census."""
        return ListingCloud(cloud, self)

    def attach(self, watcher):
        """Serve ``watcher`` (one source host's) from this census."""
        watcher.cloud = self.listing(watcher.cloud)
        return watcher


class ListingCloud(cloud_actions.Actions):
    """:class:`Actions` whose host-scoped lists go through a census."""

    def __init__(self, cloud, census):
        # Same SDK proxy and microversion, no discovery request.
        self.__dict__.update(cloud.__dict__)
        self._base = cloud
        self._census = census

    def migration_records(self, server_id=None, **query):
        host = query.get('host')
        only_host = set(query) <= {'host', 'changes_since'}
        if server_id is None and host and only_host:
            if self._census.cloud_wide:
                return self._census.records_for(
                    host, query.get('changes_since'))
            records = self._base.migration_records(**query)
            self._census.merge(records)
            return records
        return self._base.migration_records(server_id=server_id, **query)


def _stamp(m):
    return migrations.parse_time(m.changed_at)


def _newer(m, old):
    new, was = _stamp(m), _stamp(old)
    return new is None or was is None or new >= was


def live_limit_of(options, read_limits=None):
    """``host -> max live migrations Nova runs at once from host``.

    ``options.max_live_per_source`` when given (0: no limit), else the
    host's ``[DEFAULT] max_concurrent_live_migrations`` when it was read
    (``read_limits``: host -> value) and is not 0, else Nova's default, 1
    (:func:`.livelimits.live_limit`).
    """
    merged = dict(getattr(options, 'live_limits', None) or {})
    merged.update(read_limits or {})
    view = types.SimpleNamespace(
        max_live_per_source=getattr(options, 'max_live_per_source', None),
        live_limits=merged)

    def limit(host):
        return livelimits.live_limit(view, host)[0]
    return limit


def for_drain(drain):
    """The census and the limits (:class:`~.slots.Slots`) of ``drain``."""
    # Destination locks for the CLI's drains (reports written to disk),
    # not for drains whose writes a caller intercepts (tests, embedders).
    census = Census(drain.actions,
                    locks=drain.write is report_mod.write_atomic)
    options = drain.options

    def is_live(item_id):
        return any(i.id == item_id and i.action == model.LIVE
                   for i in drain.items)
    read = getattr(options, 'live_limits', None) or {}
    slots = Slots(options.max_parallel, options.max_per_target,
                  census=census, live_limit=live_limit_of(options, read),
                  is_live=is_live)
    sources = livelimits.sources(drain.items)
    if sources:
        # which limit applies per source host, and where it comes from
        drain.report['live_limits'] = livelimits.table(options, sources)
    unread = [h for h in sources if h not in read]
    if getattr(options, 'max_live_per_source', None) is None and unread:
        drain.report.setdefault('notes', []).append('%s %s' % (
            report_mod.isotime(), _(
                'live migrations per source host: %(n)d at a time (Nova\'s '
                'default [DEFAULT] max_concurrent_live_migrations; not read '
                'from %(hosts)s): give --ssh to read it, or '
                '--max-live-per-source to match nova.conf')
            % {'n': NOVA_DEFAULT_LIVE, 'hosts': ', '.join(unread)}))
    return census, slots
