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

"""Seeded drain runs stopped at a drawn point (interrupt and kill matrices).

:class:`SeededDrainRuns` holds what ``test_interrupt`` (SIGINT / SIGTERM)
and ``test_kill`` (SIGKILL) share: a drain CLI child started on the bed,
the wait for the run's drawn point, the report loaded and checked for its
mode, the cloud let settle, the services enabled again; and
:func:`add_runs`, the ``test_run_NN`` methods and the matrix test that
prints every run of the process.
"""

import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time

from testtools import content

from migrationclient.engine import report as report_mod
from migrationclient.tests.functional import base
from testbed import fakecloud

#: Migration statuses of a record still in progress.
RUNNING = ('queued', 'preparing', 'running', 'post-migrating', 'accepted',
           'pre-migrating', 'migrating')
#: Report states of a server that left the host.
MOVED = ('done', 'unconfirmed')


def text(value):
    return content.text_content(value)


class SeededDrainRuns(base.FunctionalTestCase):
    """A drain child stopped at a seeded point, and the checks after it."""

    tmp_prefix = 'drain-run-'
    #: arguments every drain of the class gets after the common ones
    drain_args = ()

    def setUp(self):
        super().setUp()
        self.compute = self.connection().compute
        self.tmp = tempfile.mkdtemp(prefix=self.tmp_prefix)
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.addCleanup(self._enable_services)

    def _enable_services(self):
        for svc in self.compute.services(binary='nova-compute'):
            if svc.status != 'enabled':
                self.compute.enable_service(svc, host=svc.host,
                                            binary='nova-compute')

    def settle(self, ids, timeout=90):
        """Wait until no migration of ``ids`` runs and no task is set."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = [m for m in self.compute.migrations()
                    if m.server_id in ids and m.status in RUNNING]
            tasks = [s for s in (self.compute.get_server(i) for i in ids)
                     if s.task_state]
            if not busy and not tasks:
                return True
            time.sleep(0.5)
        return False

    def drain_cmd(self, *args):
        return [base._openstack_binary(), '--os-cloud', fakecloud.CLOUD_ADMIN,
                'compute', 'drain', '--poll-interval', '0.5',
                '--max-parallel', '2'] + list(self.drain_args) + [
                    '-f', 'json'] + list(args)

    def env(self, **extra):
        return dict(self.bed.env(), XDG_STATE_HOME=os.path.join(self.tmp,
                                                                'xdg'),
                    **extra)

    # -- the drawn point ---------------------------------------------------

    def special_point(self, point, plan, until):
        """A point of the subclass's own: True / False, or None (not one)."""
        return None

    def wait_point(self, proc, plan, report, errfile, started):
        """Sleep until the plan's point; False if the drain ended first."""
        point = plan['point']

        def stderr_has(value):
            with open(errfile, errors='replace') as f:
                return value in f.read()

        def until(pred, limit=120, step=0.05):
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    return False
                if pred():
                    return True
                time.sleep(step)
            return False

        special = self.special_point(point, plan, until)
        if special is not None:
            return special and proc.poll() is None
        if point == 'startup':
            until(lambda: time.monotonic() - started >=
                  plan['startup_delay'])
        elif point in ('report', 'midflight'):
            if not until(lambda: os.path.exists(report)):
                return False
            if point == 'midflight':
                time.sleep(plan['midflight_delay'])
        elif point == 'submitted':
            if not until(lambda: stderr_has(' submitted')):
                return False
        elif point == 'first-done':
            if not until(lambda: stderr_has(': done: ')):
                return False
        time.sleep(plan['jitter'])
        return proc.poll() is None

    def stop_at_point(self, plan, row, report, hosts, signals,
                      second_after=None):
        """Start the drain of ``hosts``, signal it at the plan's point.

        ``signals``: what to send (one, or two: the second
        ``second_after`` seconds later).  Returns ``(rc, stderr)``.
        """
        errfile = os.path.join(self.tmp, 'drain.err')
        outfile = os.path.join(self.tmp, 'drain.out')
        with open(errfile, 'wb') as err, open(outfile, 'wb') as out:
            started = time.monotonic()
            proc = subprocess.Popen(
                self.drain_cmd(*(list(hosts) + ['--report', report])),
                stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                env=self.env())
        try:
            if self.wait_point(proc, plan, report, errfile, started):
                row['at'] = round(time.monotonic() - started, 1)
                os.kill(proc.pid, signals[0])
                for sig in signals[1:]:
                    time.sleep(second_after)
                    if proc.poll() is None:
                        os.kill(proc.pid, sig)
            else:
                row['at'] = 'ended first'
            try:
                rc = proc.wait(timeout=180)
            except subprocess.TimeoutExpired:
                row['problems'].append('drain still running 180 s after '
                                       'the signal')
                os.kill(proc.pid, signal.SIGKILL)
                rc = proc.wait(30)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(30)
        row['rc'] = rc
        with open(errfile, errors='replace') as f:
            return rc, f.read()

    # -- after the stop ----------------------------------------------------

    def load_report(self, report, row):
        """The report left on disk (mode 0600), or None; sets row's state."""
        if not os.path.exists(report):
            row['report'] = 'none'
            return None
        mode = stat.S_IMODE(os.stat(report).st_mode)
        if mode != 0o600:
            row['problems'].append('report mode %o, not 600' % mode)
        try:
            data = report_mod.load(report)
        except report_mod.ReportError as exc:
            row['problems'].append('report does not load: %s' % exc)
            row['report'] = 'unreadable'
            return None
        row['report'] = data['state']
        return data

    def run_again(self, index, again, row, label):
        """``openstack compute drain *again`` to the end; row['resume']."""
        res = subprocess.run(self.drain_cmd(*again), capture_output=True,
                             text=True, timeout=300, env=self.env())
        self.addDetail('run %d %s' % (index, label), text(
            'exit %d\n%s' % (res.returncode, res.stderr)))
        row['resume'] = res.returncode
        if res.returncode != 0:
            last = res.stderr.strip().splitlines()[-1:] or ['']
            row['problems'].append('%s (%s): exit %d: %s' % (
                label, again[0], res.returncode, last[0]))
        if 'Traceback' in res.stderr:
            row['problems'].append('Traceback on the %s\'s stderr' % label)
        return res


def state_counts(states):
    """``'a=1 b=2'`` of an iterable of report states."""
    counts = {}
    for s in states:
        counts[s] = counts.get(s, 0) + 1
    return ' '.join('%s=%d' % kv for kv in sorted(counts.items()))


def add_runs(cls, runs, matrix, format_matrix, env_var, what):
    """``test_run_NN`` for NN < ``runs`` and ``test_zz_matrix`` on ``cls``.

    The matrix test is a method of the runs' own class, so that a parallel
    run that groups tests by class gives it the worker that made the runs;
    it sorts last, prints ``format_matrix(matrix)`` and writes it to the
    file ``$env_var`` names.
    """
    def make(index):
        def test(self):
            self.run_one(index)
        test.__name__ = 'test_run_%02d' % index
        return test

    for i in range(runs):
        setattr(cls, 'test_run_%02d' % i, make(i))

    def test_zz_matrix(self):
        """Print the matrix of the runs this process made (sorts last)."""
        if not matrix:
            self.skipTest('no %s run in this process' % what)
        table = format_matrix(matrix)
        self.addDetail('matrix', text(table))
        path = os.environ.get(env_var)
        if path:
            with open(path, 'w') as f:
                f.write(table + '\n')
        self.assertEqual(len(matrix), len({r['run'] for r in matrix}))

    cls.test_zz_matrix = test_zz_matrix
