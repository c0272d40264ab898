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

"""``openstack compute drain`` interrupted by SIGINT / SIGTERM, then resumed.

Each run (``test_run_NN``, seeded: ``INTERRUPT_SEED`` + NN) boots a few
servers on compute1 whose live migrations the fake driver holds for a
couple of seconds (``fakecloud:hold``), starts the real ``openstack compute
drain compute1`` in a subprocess (``--max-parallel 2``), and sends SIGINT or
SIGTERM to that child's PID only, at a point drawn from the seed:

``startup``     a random delay after the start (usually before the plugin
                runs: nothing may have changed);
``report``      as soon as the report file exists;
``submitted``   after the first "submitted" event;
``midflight``   a random delay within the hold time after the report
                appeared;
``first-done``  after the first server is done.

The first 20 runs cover every signal x point, once with one signal and once
with a second one (a hard stop) a random moment later. Then, once the cloud
settled, the run checks: the exit status is 5 (interrupted) or 0 (nothing
was left), the report exists, parses, is mode 0600 and accounts for every
server that was on the host; what it says agrees with the cloud (a server
reported moved is off the host, one reported not started / aborted is still
on it); no server is lost, in ERROR or left with a task; and ``openstack
compute drain --resume REPORT`` empties the host (exit 0).

A signal that arrives before the drain started may kill the process without
a report, but then nothing may have changed in the cloud.

``test_zz_matrix`` prints the matrix (signal x point -> outcome) of every
run of the process.  ``INTERRUPT_RUNS`` (default 20) sets the number of
runs.
"""

import os
import random
import signal

from migrationclient import exitcodes
from migrationclient.tests.functional import seeded
from testbed import fakecloud

SOURCE = 'compute1'
RUNS = int(os.environ.get('INTERRUPT_RUNS', '20'))
SEED = int(os.environ.get('INTERRUPT_SEED', '9'))
POINTS = ('startup', 'report', 'submitted', 'midflight', 'first-done')
SIGNALS = (signal.SIGINT, signal.SIGTERM)
SERVERS = 3
#: Live-migration hold (s) a run draws.  The source runs one live migration
#: at a time (Nova's max_concurrent_live_migrations = 1), so the second one
#: the drain submits waits "queued" behind the first, and a run spends
#: about 3 x (hold + 2.5 s of Nova's own work) migrating: the holds set
#: most of its wall time.  With 1 s a migration still stays "running" for
#: a second, and servers are still left to move at every point (the
#: matrix of test_zz_matrix shows where each signal landed).
HOLDS = (1, 2, 3)
MOVED = seeded.MOVED
ON_SOURCE = ('pending', 'not-started', 'aborted', 'failed', 'timeout',
             'skipped')

MATRIX = []


#: the first runs cover signal x point x (single, double) once each
COMBOS = [(sig, point, double) for double in (False, True)
          for point in POINTS for sig in SIGNALS]


def draw(index):
    """The seeded plan of run ``index``."""
    rng = random.Random(SEED + index)
    if index < len(COMBOS):
        sig, point, double = COMBOS[index]
    else:
        sig, point = rng.choice(SIGNALS), rng.choice(POINTS)
        double = rng.random() < 0.25
    plan = {'seed': SEED + index, 'signal': sig, 'point': point,
            'double': double, 'hold': rng.choice(HOLDS)}
    plan['jitter'] = rng.uniform(0.0, 0.4)
    plan['startup_delay'] = rng.uniform(0.3, 3.0)
    plan['midflight_delay'] = rng.uniform(0.3, plan['hold'])
    plan['second_after'] = rng.uniform(0.1, 1.0)
    return plan


class DrainInterruptTest(seeded.SeededDrainRuns):

    tmp_prefix = 'drain-interrupt-'
    # Nova queues the second live migration (the runs were built on it):
    # no limit of the drain's own.
    drain_args = ('--grace-period', '15', '--max-live-per-source', '0')

    def servers_on(self, host):
        return {s.id: s for s in self.compute.servers(
            details=True, all_projects=True, compute_host=host)
            if s.compute_host == host}

    def boot(self, hold):
        made = [self.bed.create_server(
            'image', host=SOURCE, wait=False, cleanup=None,
            metadata={fakecloud.META_HOLD: str(hold)})
            for _ in range(SERVERS)]
        for s in made:
            self.addCleanup(self.bed.delete_server, s.id, False)
        return [self.bed.wait_for_server(s, 'ACTIVE', timeout=120).id
                for s in made]

    # -- one run -----------------------------------------------------------

    def run_one(self, index):
        plan = draw(index)
        self.assertEqual({}, self.servers_on(SOURCE),
                         'compute1 must be empty before a run')
        ids = self.boot(plan['hold'])
        migs_before = {str(m.id) for m in self.compute.migrations()}
        report = os.path.join(self.tmp, 'report.json')
        row = {'run': index, 'seed': plan['seed'],
               'signal': signal.Signals(plan['signal']).name +
               ('x2' if plan['double'] else ''),
               'point': plan['point'], 'problems': []}
        rc, stderr = self.interrupt(plan, row, report)
        self.addDetail('run %d drain stderr' % index, seeded.text(stderr))
        if not self.settle(ids):
            row['problems'].append('migrations still running / tasks set '
                                   '90 s after the drain exited')
        now = {i: self.compute.get_server(i) for i in ids}
        row['service'] = [s.status for s in self.compute.services(
            binary='nova-compute') if s.host == SOURCE][0]
        row['problems'].extend('server %s is ERROR' % i
                               for i, s in now.items()
                               if s.status == 'ERROR')
        data = self.load_report(report, row)
        if data is None:
            self.check_no_report(rc, row, migs_before)
        else:
            self.check_report(rc, stderr, data, ids, now, row)
        self.rerun(index, data, report, ids, row)
        for i in ids:
            self.bed.delete_server(i, wait=False)
        self._enable_services()
        MATRIX.append(row)
        if row['problems']:
            self.fail('run %d (seed %d, %s at %s, +%ss): %s' % (
                index, plan['seed'], row['signal'], row['point'],
                row['at'], '; '.join(row['problems'])))

    def interrupt(self, plan, row, report):
        """Start the drain, signal it at the plan's point, wait for it."""
        signals = [plan['signal']] * (2 if plan['double'] else 1)
        return self.stop_at_point(plan, row, report, [SOURCE], signals,
                                  plan['second_after'])

    def check_no_report(self, rc, row, migs_before):
        """Killed before the drain ran: nothing may have changed."""
        changed = []
        svc = [s for s in self.compute.services(binary='nova-compute')
               if s.host == SOURCE][0]
        if svc.status != 'enabled':
            changed.append('service %s (%s)' % (svc.status,
                                                svc.disabled_reason))
        new = [m for m in self.compute.migrations()
               if str(m.id) not in migs_before]
        if new:
            changed.append('%d migration(s)' % len(new))
        if changed:
            row['problems'].append('no report, but the cloud changed: %s'
                                   % ', '.join(changed))
        if rc in (exitcodes.OK, exitcodes.DRAIN_INTERRUPTED):
            row['problems'].append('exit %s without a report' % rc)
        row['outcome'] = 'killed before drain'

    def check_report(self, rc, stderr, data, ids, now, row):
        """The report accounts for every server and agrees with the cloud."""
        problems = row['problems']
        if 'Traceback' in stderr:
            problems.append('Traceback on stderr')
        entries = {e['id']: e for e in data['servers']}
        missing = set(ids) - set(entries)
        if missing:
            problems.append('report lacks server(s) %s' % sorted(missing))
        counts_of = []
        for i in ids:
            state = entries.get(i, {}).get('state', 'absent')
            counts_of.append(state)
            where = now[i].compute_host
            if state in MOVED and where == SOURCE:
                problems.append('report: %s %s, but it is on %s' % (
                    i, state, SOURCE))
            if state in ON_SOURCE and where != SOURCE:
                problems.append('report: %s %s, but it moved to %s' % (
                    i, state, where))
        row['states'] = seeded.state_counts(counts_of)
        left = [i for i in ids if now[i].compute_host == SOURCE]
        expected_state = {exitcodes.OK: 'complete',
                          exitcodes.DRAIN_INTERRUPTED: 'interrupted'}
        double = row['signal'].endswith('x2')
        if (rc in (-signal.SIGINT, -signal.SIGTERM) and double
                and data['state'] == 'interrupted'):
            # The second signal landed after the drain had finished and
            # written its final report, while the process was exiting.
            pass
        elif rc not in expected_state:
            problems.append('exit status %s (expected 5, or 0 when nothing '
                            'was left)' % rc)
        elif data['state'] != expected_state[rc]:
            problems.append('exit %d, report state %s' % (rc, data['state']))
        if rc == exitcodes.OK and left:
            problems.append('exit 0 but %d server(s) still on %s' % (
                len(left), SOURCE))

    def rerun(self, index, data, report, ids, row):
        """``--resume REPORT`` (or the same drain again) empties the host."""
        again = (['--resume', report] if data is not None
                 else [SOURCE, '--report', report])
        self.run_again(index, again, row, 're-run')
        self.settle(ids)
        after = {i: self.compute.get_server(i) for i in ids}
        still = [i for i, s in after.items() if s.compute_host == SOURCE]
        if still:
            row['problems'].append('after the re-run %d server(s) still on '
                                   '%s' % (len(still), SOURCE))
        bad = ['%s %s/%s' % (i, s.status, s.task_state)
               for i, s in after.items()
               if s.status != 'ACTIVE' or s.task_state]
        if bad:
            row['problems'].append('after the re-run: %s' % ', '.join(bad))


def format_matrix(rows):
    head = ('run', 'seed', 'signal', 'point', 'at', 'rc', 'report',
            'states', 'service', 'resume', 'verdict')
    lines = [' | '.join(head)]
    for r in sorted(rows, key=lambda r: r['run']):
        lines.append(' | '.join(str(x) for x in (
            r['run'], r['seed'], r['signal'], r['point'], r.get('at'),
            r.get('rc'), r.get('report'), r.get('states', '-'),
            r.get('service'), r.get('resume'),
            'FAIL: ' + '; '.join(r['problems']) if r['problems'] else 'ok')))
    return '\n'.join(lines)


seeded.add_runs(DrainInterruptTest, RUNS, MATRIX, format_matrix,
                'INTERRUPT_MATRIX', 'interrupt')
