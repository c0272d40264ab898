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

"""Migration facts from the cloud, through openstacksdk only.

Every call goes through the compute proxy the command was given
(``client_manager.compute``), so ``--os-compute-api-version`` is honoured.
Records come back as plain :class:`Migration` objects, one shape for the two
APIs that list migrations:

* ``GET /os-migrations`` (``compute.migrations``): every migration type,
  filtered by ``instance_uuid`` / ``host`` (source or destination) /
  ``status``, ``changes-since`` from 2.59; no byte progress.
* ``GET /servers/{id}/migrations`` (``compute.server_migrations``, 2.23+):
  in-progress *live* migrations of one server, with memory / disk byte
  progress.

Capability gates (:mod:`migrationclient.microversions`): force-complete
2.22, server migrations API 2.23, abort 2.24, abort while queued /
preparing 2.65, migration uuid 2.59.
"""

import dataclasses
import datetime

from openstack import exceptions as sdk_exc

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.cloud import versions
from migrationclient import microversions as mv

# Migration record statuses (nova 34, see doc/source/user/watch.rst).
LIVE_IN_PROGRESS = frozenset(('queued', 'preparing', 'running',
                              'post-migrating'))
IN_PROGRESS = LIVE_IN_PROGRESS | frozenset((
    'accepted', 'pre-migrating', 'migrating', 'confirming', 'reverting',
    'scheduled'))
SUCCEEDED = frozenset(('completed', 'confirmed', 'done', 'finished'))
FAILED = frozenset(('failed', 'error'))
CANCELLED = frozenset(('cancelled', 'reverted'))
ENDED = SUCCEEDED | FAILED | CANCELLED
#: Statuses of a migration that no longer holds its hosts in Nova's
#: resource tracker (``migration_get_in_progress_by_host_and_node``):
#: every other status is in progress there.
NOVA_DONE = frozenset(('confirmed', 'reverted', 'error', 'failed',
                       'completed', 'cancelled', 'done'))


def occupies(migration):
    """True while ``migration`` moves a server (the drain's limits).

    Nova's in-progress statuses (every status but :data:`NOVA_DONE`), less
    ``finished``: a resize or cold migration waiting for its confirmation
    (VERIFY_RESIZE, possibly for days) copies nothing any more.  An
    unknown status counts (Nova's rule).
    """
    status = (migration.status or '').lower()
    return status not in NOVA_DONE and status != 'finished'


#: instance action names per migration type
ACTIONS = {
    'live-migration': ('live-migration',),
    'migration': ('migrate',),
    'resize': ('resize',),
    'evacuation': ('evacuate',),
}
ANY_MOVE_ACTION = ('live-migration', 'migrate', 'resize', 'evacuate')


@dataclasses.dataclass
class Migration:
    """One migration record, from either migrations API."""

    id: int
    server_id: str
    status: str
    uuid: str | None = None
    migration_type: str | None = None   # None below 2.23 (os-migrations)
    source_compute: str | None = None
    dest_compute: str | None = None
    source_node: str | None = None
    dest_node: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    memory_total_bytes: int | None = None
    memory_processed_bytes: int | None = None
    memory_remaining_bytes: int | None = None
    disk_total_bytes: int | None = None
    disk_processed_bytes: int | None = None
    disk_remaining_bytes: int | None = None

    @classmethod
    def from_sdk(cls, obj, server_id=None):
        """Build from an SDK ``Migration`` or ``ServerMigration``."""
        get = obj.get if isinstance(obj, dict) else (
            lambda k, d=None: getattr(obj, k, d))
        sid = (server_id or get('server_uuid') or get('server_id') or
               get('instance_uuid'))
        mtype = get('migration_type')
        if mtype is None and get('memory_total_bytes', None) is not None:
            mtype = 'live-migration'
        ident = get('id')
        try:
            ident = int(ident)
        except (TypeError, ValueError):
            pass
        return cls(
            id=ident,
            server_id=sid,
            status=get('status'),
            uuid=get('uuid'),
            migration_type=mtype,
            source_compute=get('source_compute'),
            dest_compute=get('dest_compute'),
            source_node=get('source_node'),
            dest_node=get('dest_node'),
            created_at=get('created_at'),
            updated_at=get('updated_at'),
            memory_total_bytes=get('memory_total_bytes'),
            memory_processed_bytes=get('memory_processed_bytes'),
            memory_remaining_bytes=get('memory_remaining_bytes'),
            disk_total_bytes=get('disk_total_bytes'),
            disk_processed_bytes=get('disk_processed_bytes'),
            disk_remaining_bytes=get('disk_remaining_bytes'),
        )

    @property
    def in_progress(self):
        return self.status not in ENDED

    @property
    def ended(self):
        return self.status in ENDED

    @property
    def is_live(self):
        return self.migration_type == 'live-migration'

    @property
    def changed_at(self):
        """Server-side time of the last change (ISO 8601 string)."""
        return self.updated_at or self.created_at

    def matches(self, ref):
        """True when ``ref`` (id or uuid, as text) names this migration."""
        ref = str(ref).strip()
        return ref == str(self.id) or (self.uuid is not None and
                                       ref.lower() == self.uuid.lower())


@dataclasses.dataclass
class ActionEvent:
    event: str
    result: str | None
    start_time: str | None = None
    finish_time: str | None = None
    host: str | None = None
    details: str | None = None
    traceback: str | None = None

    @property
    def failed(self):
        return (self.result or '').lower() == 'error'

    @property
    def traceback_last_line(self):
        if not self.traceback:
            return None
        lines = [ln.strip() for ln in self.traceback.strip().splitlines()
                 if ln.strip()]
        return lines[-1] if lines else None


@dataclasses.dataclass
class Reason:
    """Why a migration ended badly: its instance action and events."""

    action: str
    request_id: str
    message: str | None
    start_time: str | None
    events: list

    @property
    def summary(self):
        """One line saying why.

        The first failed event's details, else the last line of its
        traceback (admins only), else the action message.
        """
        for ev in self.events:
            if ev.failed and ev.details:
                return ev.details
        for ev in self.events:
            if ev.failed and ev.traceback_last_line:
                return ev.traceback_last_line
        failed = [ev.event for ev in self.events if ev.failed]
        if failed:
            return _('%(msg)s in %(events)s') % {
                'msg': self.message or _('Error'),
                'events': ', '.join(failed)}
        return self.message

    def to_dict(self):
        return {
            'action': self.action,
            'request_id': self.request_id,
            'message': self.message,
            'start_time': self.start_time,
            'summary': self.summary,
            'events': [{
                'event': ev.event, 'result': ev.result,
                'start_time': ev.start_time, 'finish_time': ev.finish_time,
                'host': ev.host, 'details': ev.details,
                'traceback_last_line': ev.traceback_last_line,
            } for ev in self.events],
        }


def parse_time(value):
    """Parse a Nova timestamp (naive UTC) into an aware datetime, or None."""
    if not value:
        return None
    if isinstance(value, datetime.datetime):
        dt = value
    else:
        try:
            dt = datetime.datetime.fromisoformat(str(value).strip())
        except ValueError:
            return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt


def newest_stamp(mark, records):
    """The latest ``changed_at`` of ``records``, or ``mark`` when later.

    The mark of a ``changes-since`` list: Nova's own time, as Nova wrote
    it (the string), so that the next list asks from exactly there.
    """
    for m in records:
        stamp = m.changed_at
        if stamp and (mark is None or
                      parse_time(stamp) > parse_time(mark)):
            mark = stamp
    return mark


def _sdk_error(exc, what):
    """The cloud error (one line) for an SDK exception."""
    status = getattr(exc, 'status_code', None)
    if status == 403 or isinstance(exc, sdk_exc.ForbiddenException):
        return errors.Forbidden(
            _('%(what)s: not allowed (compute API policy; admin rights are '
              'needed to list migrations): %(msg)s') % {
                  'what': what, 'msg': errors.one_line(exc)}, status=403)
    return errors.from_call(exc, what)


# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------

def list_migrations(compute, server_id=None, host=None, status=None,
                    changes_since=None):
    """``GET /os-migrations`` filtered; returns [:class:`Migration`].

    ``host`` matches the source or the destination compute.
    ``changes_since`` (ISO 8601, server time) is sent only from 2.59.
    """
    query = {}
    if server_id:
        query['server_id'] = server_id
    if host:
        query['host'] = host
    if status:
        query['status'] = status
    if changes_since and versions.supports(compute, mv.MIGRATION_UUID):
        query['changes_since'] = changes_since
    try:
        return [Migration.from_sdk(m) for m in compute.migrations(**query)]
    except sdk_exc.SDKException as exc:
        raise _sdk_error(exc, _('Cannot list migrations'))


def server_live_migrations(compute, server_id):
    """In-progress live migrations of one server, with byte progress.

    ``GET /servers/{id}/migrations`` (2.23+).
    """
    try:
        found = [Migration.from_sdk(m, server_id=server_id)
                 for m in compute.server_migrations(server_id)]
    except sdk_exc.NotFoundException:
        return []
    except sdk_exc.SDKException as exc:
        raise _sdk_error(exc, _('Cannot read the migrations of server %s')
                         % server_id)
    for m in found:
        # This API lists live migrations only; it has no migration_type.
        m.migration_type = m.migration_type or 'live-migration'
    return found


def get_server(compute, server_id):
    """``GET /servers/{id}`` or None if it is gone."""
    try:
        return compute.get_server(server_id)
    except sdk_exc.NotFoundException:
        return None


# ---------------------------------------------------------------------------
# Actions
# ---------------------------------------------------------------------------

def can_abort(compute, migration):
    """None when ``migration`` can be aborted now, else the reason."""
    version = versions.api_version(compute)
    if not migration.is_live and migration.migration_type is not None:
        return _('only live migrations can be aborted (this one is a %s)'
                 ) % migration.migration_type
    if version < mv.ABORT:
        return _('aborting a live migration needs compute API %(need)s; '
                 'this cloud / --os-compute-api-version gives %(have)s'
                 ) % {'need': mv.ABORT, 'have': version}
    if migration.status in ('queued', 'preparing') and (
            version < mv.ABORT_QUEUED):
        return _('aborting a %(status)s live migration needs compute API '
                 '%(need)s (this cloud / --os-compute-api-version gives '
                 '%(have)s); it can be aborted once it is running'
                 ) % {'status': migration.status, 'need': mv.ABORT_QUEUED,
                      'have': version}
    if migration.status not in LIVE_IN_PROGRESS:
        return _('a %s migration cannot be aborted') % migration.status
    return None


def can_force_complete(compute, migration):
    """None when ``migration`` can be forced to complete now, else why."""
    version = versions.api_version(compute)
    if not migration.is_live and migration.migration_type is not None:
        return _('only live migrations can be forced to complete (this one '
                 'is a %s)') % migration.migration_type
    if version < mv.FORCE_COMPLETE:
        return _('forcing a live migration to complete needs compute API '
                 '%(need)s; this cloud / --os-compute-api-version gives '
                 '%(have)s') % {'need': mv.FORCE_COMPLETE, 'have': version}
    if migration.status != 'running':
        return _('only a running live migration can be forced to complete '
                 '(this one is %s)') % migration.status
    return None


def abort(compute, migration):
    """``DELETE /servers/{id}/migrations/{mid}``; CloudError if refused."""
    why = can_abort(compute, migration)
    if why:
        raise errors.Unsupported(why)
    try:
        compute.abort_server_migration(migration.id, migration.server_id,
                                       ignore_missing=False)
    except sdk_exc.SDKException as exc:
        raise _sdk_error(exc, _('Abort of migration %s refused')
                         % migration.id)


def force_complete(compute, migration):
    """``POST .../migrations/{mid}/action {force_complete}``.

    This pauses the guest until the copy ends: possibly significant
    downtime.  Only call it when the operator asked for it.
    """
    why = can_force_complete(compute, migration)
    if why:
        raise errors.Unsupported(why)
    try:
        compute.force_complete_server_migration(migration.id,
                                                migration.server_id)
    except sdk_exc.SDKException as exc:
        raise _sdk_error(exc, _('Force-complete of migration %s refused')
                         % migration.id)


# ---------------------------------------------------------------------------
# Failure reason
# ---------------------------------------------------------------------------

def pick_action(actions, migration, slack=60.0):
    """The instance action that created ``migration``.

    Nova does not link a migration to its request id; the action is the
    newest one of the matching kind (``live-migration``, ``migrate``,
    ``resize``, ``evacuate``) that started before the migration record was
    created (plus ``slack`` seconds for clock rounding).  ``actions`` are
    SDK ``ServerAction`` objects or dicts.
    """
    names = ACTIONS.get(migration.migration_type, ANY_MOVE_ACTION)
    created = parse_time(migration.created_at)
    best = None
    best_start = None
    for act in actions:
        get = act.get if isinstance(act, dict) else (
            lambda k, d=None, a=act: getattr(a, k, d))
        if get('action') not in names:
            continue
        start = parse_time(get('start_time'))
        if created is not None and start is not None and (
                (start - created).total_seconds() > slack):
            continue
        if best is None or (start is not None and (
                best_start is None or start > best_start)):
            best, best_start = act, start
    return best


def failure_reason(compute, migration):
    """:class:`Reason` for a failed / cancelled migration, or None.

    Two requests: the server's action list and the matching action with its
    events (``details`` from 2.84; ``traceback`` for admins only).
    """
    try:
        actions = list(compute.server_actions(migration.server_id))
        act = pick_action(actions, migration)
        if act is None:
            return None
        full = compute.get_server_action(act.request_id,
                                         migration.server_id,
                                         ignore_missing=True)
    except sdk_exc.SDKException:
        return None
    if full is None:
        return None
    events = []
    for ev in full.events or ():
        get = ev.get if isinstance(ev, dict) else (
            lambda k, d=None, e=ev: getattr(e, k, d))
        events.append(ActionEvent(
            event=get('event'), result=get('result'),
            start_time=get('start_time'), finish_time=get('finish_time'),
            host=get('host'), details=get('details'),
            traceback=get('traceback')))
    events.sort(key=lambda e: e.start_time or '')
    return Reason(action=full.action, request_id=full.request_id,
                  message=full.message, start_time=full.start_time,
                  events=events)
