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

"""The drain engine: move every server off one or more compute hosts.

Plan, then run the moves with bounded concurrency, confirm cold
migrations, handle stuck and failed migrations, keep a report that
accounts for every server, resume, restore.

It stands on two libraries and duplicates neither: the constraint library
(:func:`migrationclient.constraints.evaluate.plan` over
:func:`migrationclient.cloud.gather.gather`) says where each server may go
live or cold; the watching engine (:class:`migrationclient.engine.watch.
Watcher`, one per source host: one ``GET /os-migrations`` per poll and
host, byte progress of running live migrations, stuck detection, failure
reasons from instance action events) follows the migrations.  Every
cloud call goes through :class:`migrationclient.cloud.actions.Actions`
(errors: :mod:`migrationclient.cloud.errors`), so the state machine is
unit-tested against an in-memory compute.

The package, along its seams:

* :mod:`.model`: :class:`Options`, :class:`ServerInfo`, :class:`Item` (one
  server's report entry), :class:`State` / :class:`Kind`,
  :func:`exit_status`, :func:`summary`;
* :mod:`.policy`: the policy per server (:func:`plan_server`,
  :func:`plan`), usable destinations, :func:`merge_previous` (resume);
* :mod:`.fleetplan`: the capacity plan of every host drained together (one
  :func:`migrationclient.engine.capacity.plan_capacity` on the merged
  facts of the sources), written into the items and followed: each
  server's planned host is named (:class:`PlanInfeasible` when it cannot
  place every server); :mod:`.replan` re-plans one server on fresh facts
  when Nova refuses it or its destination became unusable;
* :mod:`.slots`: :class:`Slots` (``max_parallel`` per source,
  ``max_per_target`` per destination, global across the drain, Nova's
  live limit per source), counting the cloud's migrations in progress
  from :mod:`.census` (one cloud-wide ``os-migrations`` list per poll,
  destination locks for drains of one machine);
* :mod:`.run`: the run loop :class:`Drain`, with :mod:`.submit`,
  :mod:`.follow` and :mod:`.check`;
* :mod:`.claim` (the ``[drain:<report id>]`` marker of the disable
  reason), :mod:`.health` (the control plane gate), :mod:`.finish` (the
  final re-list, ``--enable-when-done``);
* :mod:`.job` / :mod:`.restore`: :class:`Job`, :class:`RestoreJob` (from
  checks to report); :mod:`.signals`.

API (used by ``openstack compute drain`` and ``tools/demo.py``)::

    from migrationclient.engine import drain

    job = drain.Job(compute, conn, ['compute1'], drain.Options(...),
                    report_path=None, disable_reason=None,
                    enable_when_done=False, target_aggregate=None,
                    resume=None, on_event=drain.ProgressLog(sys.stderr))
    items = job.prepare()          # resolve, health gate, plan; no change
    status = job.execute()         # disable, run, report -> exit status
    drain.RestoreJob(compute, conn, report_file, options,
                     enable_service=True).prepare() / .execute()

"Done" for a server (the only success): its migration record reached
``completed`` (live) or ``confirmed`` (cold), its host is no longer the
source and its status is the one it had before.  A live migration that
rolled back (ACTIVE, still on the source) is a failure.
"""

from migrationclient.cloud.actions import Actions  # noqa: F401
from migrationclient.cloud.actions import ServerNow  # noqa: F401
from migrationclient.engine.drain.claim import MAX_TEXT_LENGTH as \
    MAX_REASON_TEXT  # noqa: F401
from migrationclient.engine.drain.fleetplan import PlanInfeasible  # noqa: F401
from migrationclient.engine.drain.job import Job  # noqa: F401
from migrationclient.engine.drain.model import *  # noqa: F401,F403
from migrationclient.engine.drain import model as _model
from migrationclient.engine.drain.policy import can_name_host  # noqa: F401
from migrationclient.engine.drain.policy import destination_label  # noqa
from migrationclient.engine.drain.policy import kinds_for  # noqa: F401
from migrationclient.engine.drain.policy import merge_previous  # noqa: F401
from migrationclient.engine.drain.policy import plan  # noqa: F401
from migrationclient.engine.drain.policy import plan_server  # noqa: F401
from migrationclient.engine.drain.policy import unusable_hosts  # noqa: F401
from migrationclient.engine.drain.policy import usable_pool  # noqa: F401
from migrationclient.engine.drain.restore import RestoreJob  # noqa: F401
from migrationclient.engine.drain.run import Drain  # noqa: F401
from migrationclient.engine.drain.signals import Signals  # noqa: F401
from migrationclient.engine.drain.slots import Slots  # noqa: F401
from migrationclient.engine import render as _render


def progress_line(item):
    """The TTY line of a server in flight: percent, ETA; else None.

    ``  web-1 live compute1->compute2 [#####.....]  45.3% ETA 12s``
    """
    if item.state not in _model.IN_FLIGHT:
        return None
    head = '  %s %s %s->%s' % (item.name or item.id, item.action,
                               item.original_host,
                               item.destination or 'scheduler')
    if item.percent is None:
        return '%s %s' % (head, item.migration_status or item.state)
    return '%s %s %5.1f%% ETA %s' % (head, _render.bar(item.percent),
                                     item.percent,
                                     _render.human_duration(item.eta))


class ProgressLog(_render.ItemLog):
    """The drain's progress log (:class:`render.ItemLog`).

    On a TTY, below the lines: one line per migration in flight (memory
    copied, ETA), then the summary.
    """

    summarize = staticmethod(_model.summary)
    describe = staticmethod(progress_line)
