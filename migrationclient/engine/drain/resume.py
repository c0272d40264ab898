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

"""Resume: the migration a previous run requested for an in-flight entry.

A run records an item as ``submitted`` (its target, ``submitted_at``)
*before* it sends the request.  Killed after that, the next run does not
know whether the request reached Nova, nor whether the migration still
runs.  The records of the source host say (one ``os-migrations`` list per
host, as a poll reads them): the newest record of the server from its
original host created at or after the request (less
:data:`CLOCK_SLACK`) is that request's migration -- unless it ended
well and the server is on that host again: then it is an earlier move's
record (the server came back within the slack) and the request never
reached Nova.
"""

import datetime

from migrationclient.cloud import errors
from migrationclient.cloud import migrations as migrations_mod
from migrationclient.engine.drain import model

#: seconds a migration record may seem older than the request that made
#: it (the client's clock against Nova's)
CLOCK_SLACK = 120.0


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _after(record, item):
    since = migrations_mod.parse_time(item.submitted_at)
    made = migrations_mod.parse_time(record.created_at)
    if since is None or made is None:
        return True
    return made >= since - datetime.timedelta(seconds=CLOCK_SLACK)


class Records:
    """The migration records of the source hosts, read once per host."""

    def __init__(self, actions):
        self.actions = actions
        self._by_host = {}

    def of(self, item):
        """The newest record of ``item``'s request, or None."""
        host = item.original_host
        if host not in self._by_host:
            try:
                self._by_host[host] = self.actions.migration_records(
                    host=host)
            except errors.CloudError:
                self._by_host[host] = None
        recs = self._by_host[host]
        if recs is None:        # unknown: ask about this server alone
            try:
                recs = self.actions.migration_records(item.id)
            except errors.CloudError:
                recs = []
        mine = [r for r in recs if r.server_id == item.id and
                r.source_compute == host and _after(r, item)]
        return max(mine, key=lambda r: _int(r.id)) if mine else None


def resume_ended(drain, item, records):
    """An item a previous run left in flight, with no running migration.

    ``finished`` (cold, VERIFY_RESIZE): confirm once healthy, then
    verify; ``completed`` / ``confirmed``: verify; still in progress (the
    watcher had not seen it yet): follow it; nothing, or failed: the
    server is started again -- unless it has a migration task (a request
    still in Nova's pre-checks): then its record is waited for.
    """
    item.t_submit = drain.clock()
    drain.slots.start(item.id, item.original_host, item.destination)
    rec = records.of(item)
    if rec is not None and _earlier_move(drain, item, rec):
        rec = None
    if rec is not None:
        item.migration_id, item.migration_uuid = rec.id, rec.uuid
        item.migration_status = rec.status
        if rec.status == 'finished':
            item.stage = 'finished'
            return
        if rec.status in ('confirming', 'confirmed', 'completed', 'done'):
            item.stage = 'verify'
            return
        if rec.status not in migrations_mod.ENDED:
            _wait_for_record(drain, item, clear=False)
            return
    elif _migrating(drain, item):
        _wait_for_record(drain, item, clear=True)
        return
    drain.slots.finish(item.id)
    item.state = model.PENDING
    item.migration_id = item.migration_uuid = None
    item.migration_status = item.stage = None


def _earlier_move(drain, item, rec):
    """``rec`` ended well, yet the server is on its source: not ours.

    A confirmed or completed migration leaves the server on
    ``dest_compute``; back on ``source_compute`` means a later move
    brought it back, before this run's request (which made no record).
    """
    if rec.status not in ('confirmed', 'completed', 'done'):
        return False
    now = drain.follower.server_now(item)
    return now is not None and now.host == rec.source_compute and \
        now.host != rec.dest_compute and not now.task_state


def _migrating(drain, item):
    now = drain.follower.server_now(item)
    return now is not None and now.task_state in model.MIGRATION_TASKS


def _wait_for_record(drain, item, clear):
    """Follow the server's next record as after a request."""
    if clear:
        item.migration_id = item.migration_uuid = None
    item.state = model.SUBMITTED if item.migration_id is None else \
        model.MIGRATING
    w = drain.watchers.get(item.original_host)
    if w is not None:
        w.expect(item.id)
