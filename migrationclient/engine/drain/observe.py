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

"""What a drain tells the world: progress log, events, metrics.

One funnel (:meth:`Observer.say`) for every line the drain says: the
progress log (``on_event``), then the ``--events`` sink
(:mod:`migrationclient.engine.events`), with the watcher's state of the
server's migration (bytes, percent, ETA).  :meth:`Observer.publish`
rewrites the ``--metrics-file`` (:mod:`migrationclient.engine.metrics`)
at the start, after each poll and at the end.  Neither file changes the
drain: a failed write is said once and the drain goes on.
"""

from migrationclient._i18n import _
from migrationclient.engine.drain import model
from migrationclient.engine import events as events_mod
from migrationclient.engine import metrics as metrics_mod


class Observer:
    """The log, events and metrics of one :class:`~.run.Drain`."""

    def __init__(self, drain, events=None, metrics_file=None):
        self.drain = drain
        self.events = events
        self.metrics_file = metrics_file

    # -- the watcher's view of an item's migration -------------------------

    def migration_of(self, item):
        """The watcher's state of the migration ``item`` follows, or None."""
        if item.id == events_mod.NO_SERVER or item.migration_id is None:
            return None
        w = self.drain.watchers.get(item.original_host)
        st = w.for_server(item.id) if w is not None else None
        if st is None or str(st.id) != str(item.migration_id):
            return None
        return st

    def refresh(self, item):
        """Copy the migration's memory percent and ETA into ``item``."""
        st = self.migration_of(item)
        est = st.memory if st is not None else None
        if est is None or est.current is None:
            return
        pct = est.percent
        if st.ended and st.outcome == 'completed':
            pct, item.eta = 100.0, 0.0
        else:
            item.eta = None if est.eta is None else round(est.eta, 1)
        item.percent = None if pct is None else round(pct, 1)

    def refresh_all(self):
        """After a poll: refresh every item in flight, redraw the log."""
        for item in self.drain.in_flight():
            self.refresh(item)
        redraw = getattr(self.drain.on_event, 'refresh', None)
        if redraw is not None:
            redraw()

    # -- lines -------------------------------------------------------------

    def say(self, item, text):
        """Tell the progress log and the events file about ``item``."""
        st = None
        if item.id != events_mod.NO_SERVER:
            self.refresh(item)
            st = self.migration_of(item)
        self.drain.on_event(item, text)
        if self.events is not None:
            self.events(item, text,
                        migration=st.to_dict() if st is not None else None)

    def note(self, subject, text):
        """Something about the drain itself (report, cloud, metrics)."""
        self.say(model.report_item(subject), text)

    def start(self):
        if self.events is not None:
            self.events.start(self.drain.items, self.drain.report['hosts'],
                              self.drain.report_path)

    def end(self, state, status):
        if self.events is not None:
            self.events.end(self.drain.items, state, status,
                            model.summary(self.drain.items))

    # -- metrics -----------------------------------------------------------

    def snapshot(self, state='running'):
        """The drain as of now: a :class:`metrics.DrainSnapshot`."""
        items = self.drain.items
        hosts = metrics_mod.count_servers(
            ((i.original_host, i.action, i.state) for i in items),
            moved=model.MOVED, failed=model.FAILURES,
            in_flight=model.IN_FLIGHT, off_host=(model.LEFT_HOST,),
            nothing=(model.NONE,))
        migrations = []
        for item in self.drain.in_flight():
            st = self.migration_of(item)
            if st is not None and not st.ended:
                migrations.append(
                    metrics_mod.MigrationSample.from_dict(st.to_dict()))
        report = self.drain.report
        return metrics_mod.DrainSnapshot(
            drain=events_mod.drain_name(report['hosts']), state=state,
            hosts=hosts, migrations=tuple(migrations),
            operation=report.get('kind', 'drain'),
            started_at=metrics_mod.epoch(report.get('started_at')))

    def publish(self, state='running'):
        """Rewrite the metrics file (a failure is said once per streak)."""
        if self.metrics_file is None:
            return
        self.metrics_file.publish(
            self.snapshot(state),
            warn=lambda text: self.note(_('metrics'), text))
