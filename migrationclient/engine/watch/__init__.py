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

"""The watching engine, shared by ``migration watch`` and ``compute drain``.

API for commands (stable; drain uses the same calls)::

    from migrationclient.engine import watch

    w = watch.Watcher(
        compute,                       # client_manager.compute (SDK proxy)
                                       # or a cloud.actions.Actions
        server_id=None,                # scope: one server ...
        host=None,                     # ... or every migration to/from host
        all_migrations=False,          # ... or the whole cloud (admin)
        policy=watch.Policy(           # what to do on its own (default: none)
            abort_after=None,          #   seconds after first seen
            force_complete_after=None, #   seconds after first seen (pauses
            on_stuck='report'),        #   the guest); 'abort' /
                                       #   'force-complete' / 'report'
        stuck_window=60.0,             # seconds without a new low of
                                       # remaining memory => stuck
        rate_window=10.0,              # seconds of samples for rates
        adopt_new=True,                # track migrations that appear later
        fetch_reasons=True,            # read instance action events on
                                       # failed / cancelled migrations
        progress_interval=0.0,         # seconds between two byte-progress
                                       # reads of one migration (host /
                                       # all scopes; see "Requests per
                                       # poll" below)
        progress_reads=None)           # most sampled progress reads per
                                       # poll (None: no cap)
    events = w.start()                 # baseline poll: adopts in-progress
                                       # migrations of the scope, remembers
                                       # ended ones as history
    w.track(migration)                 # watch a given cloud.migrations.
                                       # Migration, even an ended one
    w.follow(migration)                # the same; -> its events, 'ended'
                                       # too when it already ended
    w.expect(server_id)                # drain: adopt the next migration of
                                       # this server even if it is already
                                       # ended when first seen
    events = w.poll()                  # one poll: list of Event
    w.states                           # {migration id: MigrationState}
    w.active                           # tracked states not ended
    w.finished                         # True when every tracked one ended
    w.for_server(server_id)            # newest MigrationState of a server
    w.abort(state) / w.force_complete(state)   # -> Event; cloud.errors.
                                       # CloudError if the microversion /
                                       # status forbids or the cloud refuses
    w.requests                         # API requests made so far
    w.run(on_events, timeout=None, stop=None)  # loop poll()/sleep until
                                       # finished, timeout or stop():
                                       # returns FINISHED/TIMEOUT/STOPPED
    watch.exit_status(w.states.values(), timed_out=False)
    watch.move_verdict(state, source_host, status_before, server_after)
    watch.id_key(migration_id)         # sort key of migration ids
    watch.last_migration(records)      # the newest of a server's records

The package: :mod:`.state` (MigrationState, Event, exit status),
:mod:`.poller` (the requests of a poll), :mod:`.policy` (Policy and what
the engine does on its own), :mod:`.verdict` (did the server move?),
:mod:`.watcher` (the Watcher).  Every cloud call goes through
:class:`migrationclient.cloud.actions.Actions`.

``Event`` has ``kind`` (``new``, ``status``, ``progress``, ``stuck``,
``unstuck``, ``action``, ``warning``, ``ended``), ``time`` (UTC, aware
datetime), ``state`` (the MigrationState), ``message`` and ``data``;
``Event.to_dict()`` is the JSON-lines shape.  ``MigrationState`` carries
``migration`` (latest :class:`~migrationclient.cloud.migrations.Migration`),
``status``, ``history`` [(time, status)], ``memory`` / ``disk``
(:class:`~migrationclient.engine.progress.Estimate` or None), ``stuck``,
``actions`` (requested: 'abort' / 'force-complete'), ``outcome``
(``completed`` / ``failed`` / ``cancelled`` or None while in progress),
``reason`` (:class:`~migrationclient.cloud.migrations.Reason` or None) and
``to_dict()``.

Requests per poll (see doc/source/user/watch.rst, "Cost"):

* one server, every tracked migration live (2.23+): one
  ``GET /servers/{id}/migrations`` (status *and* byte progress); when a
  migration leaves that list (it ended) one ``GET /os-migrations`` for its
  final status;
* otherwise: one ``GET /os-migrations`` filtered by ``instance_uuid`` or
  ``host`` (with ``changes-since`` from 2.59, so the answer holds only what
  changed), plus sampled byte-progress reads.  os-migrations carries no
  byte counters; ``GET /servers/{id}/migrations`` does, one server at a
  time, for running live migrations only.  Nova saves the counters on the
  migration record (libvirt: ``save_stats`` every
  ``live_migration_monitor_interval``), which moves its ``updated_at``,
  and an UPDATE that changes nothing does not move it.  So:

  - a running live migration whose record did not change since its last
    progress read (absent from the changes-since answer, or listed with
    the same ``updated_at``) has the same counters: its trackers get them
    again at the current time, without a request (stuck detection runs
    on as if it had been read);
  - a changed one is read when ``progress_interval`` seconds passed since
    its last read, oldest read first, at most
    ``ceil(running x seconds since the last poll / progress_interval)``
    reads per poll (so they spread over the polls instead of landing on
    the same one) and at most ``progress_reads`` when given;
  - never deferred: the first read of a running live migration, and a
    read that confirms a "stuck" verdict before it is reported (stuck is
    never declared from counters that may be stale: Nova's timestamps can
    have a 1 s resolution, so a save in the same second as a read can go
    unseen until the next one).

* on a failed / cancelled migration, two requests once (instance actions).
"""

from migrationclient.cloud import migrations as _migrations
from migrationclient.engine.watch.policy import check_policy  # noqa: F401
from migrationclient.engine.watch.policy import default_progress_interval  # noqa
from migrationclient.engine.watch.policy import FORCE_COMPLETE_WARNING  # noqa
from migrationclient.engine.watch.policy import ON_STUCK  # noqa: F401
from migrationclient.engine.watch.policy import Policy  # noqa: F401
from migrationclient.engine.watch.policy import PolicyError  # noqa: F401
from migrationclient.engine.watch.state import Event  # noqa: F401
from migrationclient.engine.watch.state import exit_status  # noqa: F401
from migrationclient.engine.watch.state import FINISHED  # noqa: F401
from migrationclient.engine.watch.state import id_key
from migrationclient.engine.watch.state import isotime  # noqa: F401
from migrationclient.engine.watch.state import MigrationState  # noqa: F401
from migrationclient.engine.watch.state import STOPPED  # noqa: F401
from migrationclient.engine.watch.state import stuck_message  # noqa: F401
from migrationclient.engine.watch.state import TIMEOUT  # noqa: F401
from migrationclient.engine.watch.state import utcnow  # noqa: F401
from migrationclient.engine.watch.verdict import move_verdict  # noqa: F401
from migrationclient.engine.watch.verdict import Verdict  # noqa: F401
from migrationclient.engine.watch.watcher import Watcher  # noqa: F401


def last_migration(records):
    """The newest of ``records`` (by creation time, then id), or None."""
    if not records:
        return None
    return max(records, key=lambda m: (
        _migrations.parse_time(m.created_at) or
        _migrations.parse_time('1970-01-01'), id_key(m.id)))
