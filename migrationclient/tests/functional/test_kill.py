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

"""``openstack compute drain`` killed with SIGKILL, then resumed (issue 19).

Each run (``test_run_NN``, seeded: ``KILL_SEED`` + NN) drains a small pool
of two servers -- one ACTIVE (a live migration the fake driver holds for
``fakecloud:hold`` seconds) and one SHUTOFF (a cold migration held
``fakecloud:cold_hold`` seconds, then VERIFY_RESIZE until the drain
confirms it) -- with the real ``openstack compute drain`` in a subprocess,
and sends SIGKILL to that child's PID only, at a point drawn from the seed:

``startup``        a random delay after the start;
``request``        a moment after the first migration request reached Nova
                   (the drain runs through the counting proxy,
                   :mod:`.httpproxy`): Nova acts on it, the drain never
                   hears the answer and its report still says ``pending``;
``report``         as soon as the report file exists;
``submitted``      after the first "submitted" event;
``midflight``      a random delay within the hold after the report appeared;
``verify-resize``  as soon as the cold migration is ``finished`` (the
                   server waits in VERIFY_RESIZE for the drain's confirm);
``first-done``     after the first server is done.

A killed process writes nothing more: the report on disk is the last one
the drain wrote (atomically).  Once the cloud settled, the run checks that
the report (if any) loads and is mode 0600, or, without a report, that
nothing changed in the cloud; then ``openstack compute drain --resume
REPORT`` (or the same drain again when there is no report) must exit 0
with a complete report, and the cloud must say: every server off the
drained hosts, in its original status, no task, none left in
VERIFY_RESIZE, exactly one new migration record per server (no duplicate
migration for a server that was already migrating) and none failed.

To keep the 20 runs within a few minutes of one worker, the pool is
booted once and moves back and forth: a run drains the hosts the pool is
on (compute1, then compute2 + compute3, then compute1 ...); a run that
found a problem has the pool deleted and booted again on compute1.

``test_zz_matrix`` prints the matrix (point -> outcome) of the runs of the
process and writes it to ``KILL_MATRIX`` (tox.ini;
``tools/run-all-tests.sh`` prints it).  ``KILL_RUNS`` (default 20) sets
the number of runs.
"""

import os
import random
import signal
import time

from migrationclient.engine import report as report_mod
from migrationclient import exitcodes
from migrationclient.tests.functional import base
from migrationclient.tests.functional import seeded
from testbed import fakecloud
from testbed import httpproxy

RUNS = int(os.environ.get('KILL_RUNS', '20'))
SEED = int(os.environ.get('KILL_SEED', '19'))
POINTS = ('startup', 'request', 'report', 'submitted', 'midflight',
          'verify-resize', 'first-done')
HOME = 'compute1'
#: Live-migration hold and cold-migration hold (s) a run draws: short,
#: Nova adds ~2.5 s of its own work per live migration on the bed.
HOLDS = (1, 2)
COLD_HOLDS = (1, 2)
MOVED = seeded.MOVED
ENDED_OK = ('completed', 'confirmed')

MATRIX = []


def draw(index):
    """The seeded plan of run ``index``: every point twice, then random."""
    rng = random.Random(SEED + index)
    if index < 2 * len(POINTS):
        point = POINTS[index % len(POINTS)]
    else:
        point = rng.choice(POINTS)
    plan = {'seed': SEED + index, 'point': point,
            'hold': rng.choice(HOLDS), 'cold_hold': rng.choice(COLD_HOLDS)}
    plan['jitter'] = rng.uniform(0.0, 0.4)
    plan['request_delay'] = rng.uniform(0.1, 0.5)
    plan['startup_delay'] = rng.uniform(0.3, 3.0)
    plan['midflight_delay'] = rng.uniform(0.3, plan['hold'] + 1.0)
    return plan


class DrainKillTest(seeded.SeededDrainRuns):

    #: {'live': [id], 'cold': id} while a pool exists (this process).
    pool = None

    @classmethod
    def tearDownClass(cls):
        cls._drop_pool()
        super().tearDownClass()

    @classmethod
    def _drop_pool(cls):
        pool, cls.pool = cls.pool, None
        if pool:
            bed = base.Bed.get()
            for sid in pool['live'] + [pool['cold']]:
                bed.delete_server(sid, wait=True)

    tmp_prefix = 'drain-kill-'
    # Nova queues the second live migration (the runs were built on it):
    # no limit of the drain's own.
    drain_args = ('--max-per-target', '0', '--max-live-per-source', '0')

    def setUp(self):
        super().setUp()
        self.proxy = httpproxy.CountingProxy.for_cloud(
            self.bed.clouds_yaml, fakecloud.CLOUD_ADMIN, seed=SEED,
            max_lifetime=600, idle_timeout=300)
        self.proxy.start()
        self.addCleanup(self.proxy.stop)
        self.clouds = httpproxy.write_proxied_clouds_yaml(
            self.bed.clouds_yaml, os.path.join(self.tmp, 'clouds.yaml'),
            self.proxy, fakecloud.CLOUD_ADMIN)

    # -- the pool ------------------------------------------------------------

    def boot_pool(self):
        made = [self.bed.create_server(
            'image', host=HOME, wait=False, cleanup=None,
            name='kill-%s-%d' % (kind, n))
            for n, kind in enumerate(('cold', 'live'))]
        ids = [self.bed.wait_for_server(s, 'ACTIVE', timeout=120).id
               for s in made]
        self.compute.stop_server(ids[0])
        self.bed.wait_for_server(ids[0], 'SHUTOFF', timeout=120)
        type(self).pool = {'cold': ids[0], 'live': ids[1:]}

    def ids(self):
        return [self.pool['cold']] + self.pool['live']

    def prepare(self, plan):
        """The pool, its holds set for this run; returns the hosts."""
        if self.pool is None:
            self.boot_pool()
        for sid in self.pool['live']:
            self.compute.set_server_metadata(
                sid, **{fakecloud.META_HOLD: str(plan['hold'])})
        self.compute.set_server_metadata(
            self.pool['cold'],
            **{fakecloud.META_COLD_HOLD: str(plan['cold_hold'])})
        now = {i: self.compute.get_server(i) for i in self.ids()}
        return now, sorted({s.compute_host for s in now.values()})

    # -- helpers -------------------------------------------------------------

    def migrations_of(self, ids):
        found = {i: [] for i in ids}
        for m in self.compute.migrations():
            if m.server_id in found:
                found[m.server_id].append(m)
        return found

    def env(self, **extra):
        return super().env(OS_CLIENT_CONFIG_FILE=self.clouds, **extra)

    def special_point(self, point, plan, until):
        if point == 'request':
            if not until(lambda: self.proxy.total(
                    method='POST', path=r'/servers/\{id\}/action$') > 0):
                return False
            time.sleep(plan['request_delay'])
            return True
        if point == 'verify-resize':
            # Killed at once: the drain confirms within a poll or two.
            return until(lambda: any(
                m.status == 'finished' for m in self.compute.migrations(
                    instance_uuid=self.pool['cold'])), step=0.1)
        return None

    # -- one run -----------------------------------------------------------

    def run_one(self, index):
        plan = draw(index)
        t0 = time.monotonic()
        before, sources = self.prepare(plan)
        ids = self.ids()
        self.assertTrue(all(s.status in ('ACTIVE', 'SHUTOFF') and
                            not s.task_state for s in before.values()),
                        'pool not healthy: %s' % [
                            (s.status, s.task_state) for s in
                            before.values()])
        migs_before = {i: {str(m.id) for m in ms}
                       for i, ms in self.migrations_of(ids).items()}
        report = os.path.join(self.tmp, 'report.json')
        row = {'run': index, 'seed': plan['seed'], 'point': plan['point'],
               'from': '+'.join(sources), 'problems': []}
        rc, stderr = self.kill(plan, row, report, sources)
        self.addDetail('run %d drain stderr' % index, seeded.text(stderr))
        if not self.settle(ids):
            row['problems'].append('migrations still running / tasks set '
                                   '90 s after the kill')
        at_kill = {i: self.compute.get_server(i) for i in ids}
        row['vr'] = sum(1 for s in at_kill.values()
                        if s.status == 'VERIFY_RESIZE')
        data = self.load_report(report, row)
        if data is None:
            self.check_no_report(sources, migs_before, row)
        self.resume(index, data, report, sources, row)
        self.check_after(ids, before, sources, migs_before, report, row)
        self._enable_services()
        row['s'] = round(time.monotonic() - t0, 1)
        MATRIX.append(row)
        if not row['problems']:
            return
        type(self)._drop_pool()
        self.fail('run %d (seed %d, SIGKILL at %s, +%ss): %s' % (
            index, plan['seed'], row['point'], row['at'],
            '; '.join(row['problems'])))

    def kill(self, plan, row, report, sources):
        """Start the drain, SIGKILL it at the plan's point, reap it."""
        rc, stderr = self.stop_at_point(plan, row, report, sources,
                                        [signal.SIGKILL])
        if rc not in (-signal.SIGKILL, exitcodes.OK):
            row['problems'].append('drain exit %s (expected SIGKILL, or 0 '
                                   'when it ended first)' % rc)
        return rc, stderr

    def load_report(self, report, row):
        data = super().load_report(report, row)
        if data is not None:
            row['states'] = seeded.state_counts(
                e['state'] for e in data['servers'])
        return data

    def check_no_report(self, sources, migs_before, row):
        """Killed before the first report write: nothing may have changed.

        The drain writes its report before it disables a service or starts
        a migration.
        """
        changed = ['service of %s %s' % (s.host, s.status)
                   for s in self.compute.services(binary='nova-compute')
                   if s.host in sources and s.status != 'enabled']
        now = self.migrations_of(list(migs_before))
        changed += ['a migration of %s' % i for i, ms in now.items()
                    if {str(m.id) for m in ms} - migs_before[i]]
        if changed:
            row['problems'].append('no report, but the cloud changed: %s'
                                   % ', '.join(changed))

    def resume(self, index, data, report, sources, row):
        again = (['--resume', report] if data is not None
                 else sources + ['--report', report])
        self.run_again(index, again, row, 'resume')

    def check_after(self, ids, before, sources, migs_before, report, row):
        """Every server accounted for, by the report and by the cloud."""
        problems = row['problems']
        if not self.settle(ids):
            problems.append('migrations still running after the resume')
        after = {i: self.compute.get_server(i) for i in ids}
        for i, s in after.items():
            if s.compute_host in sources:
                problems.append('%s still on %s' % (i, s.compute_host))
            if s.status == 'VERIFY_RESIZE':
                problems.append('%s left in VERIFY_RESIZE' % i)
            elif (s.status, s.task_state) != (before[i].status, None):
                problems.append('%s is %s/%s, was %s' % (
                    i, s.status, s.task_state, before[i].status))
        per_server = []
        for i, ms in self.migrations_of(ids).items():
            new = [m for m in ms if str(m.id) not in migs_before[i]]
            per_server.append(str(len(new)))
            if len(new) != 1:
                problems.append('%s: %d new migration records (%s)' % (
                    i, len(new), ', '.join('%s %s' % (m.migration_type,
                                                      m.status)
                                           for m in new)))
            bad = [m.status for m in new if m.status not in ENDED_OK]
            if bad:
                problems.append('%s: migration(s) %s' % (i, ', '.join(bad)))
        row['migs'] = '/'.join(per_server)
        try:
            data = report_mod.load(report)
        except report_mod.ReportError as exc:
            problems.append('final report: %s' % exc)
            return
        if data['state'] != 'complete':
            problems.append('final report %s' % data['state'])
        entries = {e['id']: e for e in data['servers']}
        for i in ids:
            e = entries.get(i)
            if e is None:
                problems.append('final report lacks %s' % i)
            elif e['state'] not in MOVED:
                problems.append('final report: %s %s' % (i, e['state']))
            elif e.get('final_host') and \
                    e['final_host'] != after[i].compute_host:
                problems.append('final report: %s on %s, cloud says %s' % (
                    i, e['final_host'], after[i].compute_host))


def format_matrix(rows):
    head = ('run', 'seed', 'point', 'from', 'at', 'rc', 'report', 'states',
            'vr', 'resume', 'migs', 's', 'verdict')
    lines = [' | '.join(head)]
    for r in sorted(rows, key=lambda r: r['run']):
        lines.append(' | '.join(str(x) for x in (
            r['run'], r['seed'], r['point'], r['from'], r.get('at'),
            r.get('rc'), r.get('report'), r.get('states', '-'),
            r.get('vr'), r.get('resume'), r.get('migs'), r.get('s'),
            'FAIL: ' + '; '.join(r['problems']) if r['problems'] else 'ok')))
    lines.append('(at: seconds after the start; rc -9: killed; vr: servers '
                 'in VERIFY_RESIZE after the kill; migs: new migration '
                 'records per server, cold first)')
    return '\n'.join(lines)


seeded.add_runs(DrainKillTest, RUNS, MATRIX, format_matrix, 'KILL_MATRIX',
                'kill')
