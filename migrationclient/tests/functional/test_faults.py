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

"""Fault x outcome: ``compute drain`` and ``migration watch`` under faults.

Issue #9.  The real ``openstack`` CLI runs through the counting,
fault-injecting proxy (:mod:`.httpproxy`) with the retry settings an
operator would put in ``clouds.yaml`` (:data:`OPERATOR_RETRIES`, see
doc/source/configuration.rst; only the delays are shortened here), while
the bed is steered from the side (a migration that fails, a destination
forced down mid-drain, a server put in ERROR before or during the drain).

Each row (one test) checks:

* the exit status, as documented in :mod:`migrationclient.exitcodes`;
* every server of the drain is in the report with a final state and a
  reason, and the report agrees with the cloud (a server reported moved is
  off the host, one reported on the source is still there);
* no server is left in a state the drain caused without saying so (no
  VERIFY_RESIZE, no task, no ERROR the row did not cause itself);
* once the fault is cleared, ``--resume REPORT`` empties the host.

``test_zz_matrix`` writes the rows (fault, command, outcome, what the
proxy saw, resumed) to the file named by ``FAULT_MATRIX`` (set in tox.ini;
``tools/run-all-tests.sh`` prints it).
"""

import json
import os
import shutil
import subprocess
import tempfile
import time

from migrationclient.engine import report as report_mod
from migrationclient import exitcodes
from migrationclient.tests.functional import base
from testbed import fakecloud
from testbed import httpproxy

SOURCE = 'compute1'
TARGETS = ('compute2', 'compute3')
MOVED = ('done', 'unconfirmed')
ON_SOURCE = ('pending', 'not-started', 'aborted', 'failed', 'timeout',
             'skipped')
RUNNING = ('queued', 'preparing', 'running', 'post-migrating', 'accepted',
           'pre-migrating', 'migrating')

#: What an operator puts in the cloud of clouds.yaml (the delays are
#: shortened for the tests: keystoneauth's default 0.5 s doubling is kept
#: in production).  503 / 429 answers and connection failures are retried
#: by keystoneauth with backoff; 409 and 500 are not retriable.
OPERATOR_RETRIES = {
    'status_code_retries': 4,
    'connect_retries': 3,
    'status_code_retry_delay': 0.1,
    'connect_retry_delay': 0.1,
}

ACTION = r'/servers/[^/]+/action$'
OS_MIGRATIONS = r'/os-migrations'
SERVER_GET = r'/servers/[0-9a-f-]{36}$'
SERVER_MIGRATIONS = r'/servers/[^/]+/migrations'
SERVICE_PUT = r'/os-services'

MATRIX = []


def _text(value):
    from testtools import content
    return content.text_content(value)


class FaultMatrixTest(base.FunctionalTestCase):
    """One bed for the class; a fresh proxy and two servers per row."""

    def setUp(self):
        super().setUp()
        self.compute = self.connection().compute
        self.tmp = tempfile.mkdtemp(prefix='faults-')
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.addCleanup(self._services_back)
        self.proxy = httpproxy.CountingProxy.for_cloud(
            self.bed.clouds_yaml, fakecloud.CLOUD_ADMIN, seed=9,
            max_lifetime=300, idle_timeout=120)
        self.proxy.start()
        self.addCleanup(self.proxy.stop)
        self.clouds = httpproxy.write_proxied_clouds_yaml(
            self.bed.clouds_yaml, os.path.join(self.tmp, 'clouds.yaml'),
            self.proxy, fakecloud.CLOUD_ADMIN, OPERATOR_RETRIES)
        self.report = os.path.join(self.tmp, 'report.json')
        self.row = None
        self.rows = []
        self.started = time.monotonic()
        self.addCleanup(self._record)
        self.addOnException(self._failed)

    def _services_back(self):
        for svc in self.compute.services(binary='nova-compute'):
            if svc.is_forced_down:
                self.compute.update_service_forced_down(
                    svc, svc.host, 'nova-compute', False)
            if svc.status != 'enabled':
                self.compute.enable_service(svc, host=svc.host,
                                            binary='nova-compute')

    # -- helpers -------------------------------------------------------------

    def boot(self, *metas):
        """Servers on SOURCE (names a-, b-...), one per metadata dict."""
        made = []
        for n, meta in enumerate(metas):
            made.append(self.bed.create_server(
                'image', host=SOURCE, wait=False, cleanup=None,
                name='%s-fault-%d' % ('abcdefgh'[n], n),
                metadata={k: str(v) for k, v in meta.items()}))
        for s in made:
            self.addCleanup(self.bed.delete_server, s.id, False)
        return [self.bed.wait_for_server(s, 'ACTIVE', timeout=120)
                for s in made]

    def cli(self, *args, timeout=240):
        res = self.bed.openstack(
            *args, check=False, timeout=timeout,
            env={'OS_CLIENT_CONFIG_FILE': self.clouds,
                 'XDG_STATE_HOME': os.path.join(self.tmp, 'xdg')})
        self.addDetail('openstack %s' % ' '.join(args), _text(
            'rc=%d\n%s\n%s' % (res.returncode, res.stdout, res.stderr)))
        return res

    def drain(self, *args):
        return self.cli('compute', 'drain', '--poll-interval', '0.5',
                        '--report', self.report, '-f', 'json', *args)

    def start_drain(self, *args):
        """The drain as a child process; returns ``finish()``."""
        return self.child('compute', 'drain', SOURCE, '--poll-interval',
                          '0.5', '--report', self.report, '-f', 'json',
                          *args)[1]

    def child(self, *args):
        """``openstack ARGS`` through the proxy, as a child process.

        Returns ``(proc, finish)``; ``finish()`` waits for it and returns
        a :class:`base.CLIResult`.  Only this PID is ever waited on or
        killed (at cleanup, if it still runs).
        """
        cmd = [base._openstack_binary(), '--os-cloud',
               fakecloud.CLOUD_ADMIN] + list(args)
        env = dict(self.bed.env(), OS_CLIENT_CONFIG_FILE=self.clouds,
                   XDG_STATE_HOME=os.path.join(self.tmp, 'xdg'))
        out = open(os.path.join(self.tmp, 'child.out'), 'w+')
        err = open(os.path.join(self.tmp, 'child.err'), 'w+')
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL)

        def reap():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            out.close()
            err.close()
        self.addCleanup(reap)

        def finish():
            proc.wait(timeout=240)
            out.seek(0)
            err.seek(0)
            res = base.CLIResult(list(args), proc.returncode, out.read(),
                                 err.read(), 0)
            self.addDetail('openstack %s' % ' '.join(args), _text(
                'rc=%d\n%s\n%s' % (res.returncode, res.stdout, res.stderr)))
            return res
        return proc, finish

    def wait_entry(self, server, states, timeout=60):
        return self.wait_report_entry(self.report, server, states, timeout)

    def settle(self, ids, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = [m for m in self.compute.migrations()
                    if m.server_id in ids and m.status in RUNNING]
            tasks = [i for i in ids if self.compute.get_server(i).task_state]
            if not busy and not tasks:
                return
            time.sleep(0.3)
        self.fail('migrations of %s still running' % ids)

    def proxy_seen(self, rules=None):
        """What the proxy did: each fault, its answers, the next answer.

        ``fired 3 (503 503 503), next 200``: keystoneauth retried and the
        next request on that path got through.
        """
        parts = []
        events = self.proxy.events()
        for rule in (self.proxy.faults.rules if rules is None else rules):
            mine = [e for e in events if rule._path_re.search(e.raw_path)
                    and rule._method_re.fullmatch(e.method)]
            hit = [e for e in mine if e.fault == rule.name]
            text = '%s: fired %d' % (rule.name, rule.fired)
            if hit:
                answers = ' '.join(
                    '%d/%.1fs' % (e.status, e.elapsed)
                    if rule.action == 'delay' else str(e.status or 'RST')
                    for e in hit)
                later = mine[mine.index(hit[-1]) + 1:]
                text += ' (%s), next %s' % (
                    answers, later[0].status or 'RST' if later else 'none')
            parts.append(text)
        return '; '.join(parts) or '-'

    def begin(self, fault, command):
        """A matrix row of this test (a test may share its run by rows)."""
        self.row = {'fault': fault, 'command': command, 'rc': None,
                    'outcome': '', 'proxy': '-', 'resumed': '-',
                    'failed': None}
        self.rows.append(self.row)
        return self.row

    def share(self, rows, rules):
        """Rows of one run: each shows its own fault, the run's outcome."""
        for row, rule in zip(rows, rules):
            if row is not self.row:
                row.update({k: self.row[k] for k in ('rc', 'outcome',
                                                     'resumed')})
            row['proxy'] = self.proxy_seen([rule])
            row['outcome'] = self.row['outcome']

    def _failed(self, exc_info):
        text = str(exc_info[1]).strip().splitlines()
        for row in self.rows:
            row['failed'] = (text[0] if text else
                             exc_info[0].__name__)[:120]

    def _record(self):
        seconds = round(time.monotonic() - self.started, 1)
        for row in self.rows:
            row['seconds'] = seconds if len(self.rows) == 1 else \
                '%s (%d rows, one run)' % (seconds, len(self.rows))
            MATRIX.append(row)

    # -- checks -------------------------------------------------------------

    def check_drain(self, res, servers, expect, errors=(), why=None):
        """Exit status, report vs. cloud, nothing left behind unsaid.

        :param errors: ids of servers the row itself put in ERROR
        :param why: ``{server id: text}`` expected in its report reason
        """
        ids = [s.id for s in servers]
        self.row['rc'] = res.returncode
        self.row['proxy'] = self.proxy_seen()
        self.assertNotIn('Traceback', res.stderr)
        self.assertEqual(expect, res.returncode, res.stderr[-3000:])
        self.settle(ids)
        data = report_mod.load(self.report)
        entries = {e['id']: e for e in data['servers']}
        self.assertEqual(set(ids), set(entries) & set(ids))
        states = []
        for s in servers:
            e = entries[s.id]
            now = self.compute.get_server(s.id)
            states.append(e['state'])
            self.assertTrue(e['error'] or e['reason'], e)
            if e['state'] in MOVED:
                self.assertNotEqual(SOURCE, now.compute_host, e)
            elif e['state'] in ON_SOURCE:
                self.assertEqual(SOURCE, now.compute_host, e)
            else:
                self.fail('%s left %s in the report' % (s.id, e['state']))
            self.assertIsNone(now.task_state, s.id)
            self.assertNotEqual('VERIFY_RESIZE', now.status, s.id)
            if s.id not in errors:
                self.assertNotEqual('ERROR', now.status, s.id)
            if why and s.id in why:
                self.assertIn(why[s.id], e['error'] or e['reason'])
        expected_state = 'complete' if expect == exitcodes.OK else \
            'incomplete'
        self.assertEqual(expected_state, data['state'])
        self.row['outcome'] = ' '.join(sorted(states))
        return entries

    def resume(self, servers):
        """With the fault gone, ``--resume REPORT`` empties the host."""
        self.proxy.faults.clear()
        res = self.cli('compute', 'drain', '--resume', self.report,
                       '--poll-interval', '0.5', '-f', 'json')
        self.row['resumed'] = 'rc=%d' % res.returncode
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr[-3000:])
        self.settle([s.id for s in servers])
        for s in servers:
            now = self.compute.get_server(s.id)
            self.assertNotEqual(SOURCE, now.compute_host, s.id)
            self.assertEqual(('ACTIVE', None),
                             (now.status, now.task_state), s.id)
        self.assertEqual('complete', report_mod.load(self.report)['state'])
        self.row['resumed'] = 'ok (rc 0)'

    # -- proxy faults: compute drain ----------------------------------------

    def test_drain_transient_faults(self):
        """Faults keystoneauth retries, all in one drain (one row each)."""
        rows = [self.begin('503 x3 on GET os-migrations (polls)',
                           'compute drain'),
                self.begin('+2 s x2 on GET os-migrations (poll 0.5 s)',
                           'compute drain'),
                self.begin('reset x2 on GET server', 'compute drain'),
                self.begin('503 x2 on PUT os-services (disable)',
                           'compute drain')]
        servers = self.boot({fakecloud.META_HOLD: 1},
                            {fakecloud.META_HOLD: 1})
        rules = [httpproxy.burst(503, 3, method='GET', path=OS_MIGRATIONS,
                                 after=1),
                 httpproxy.latency(2.0, 2, method='GET',
                                   path=OS_MIGRATIONS),
                 httpproxy.reset(2, method='GET', path=SERVER_GET),
                 httpproxy.burst(503, 2, method='PUT', path=SERVICE_PUT)]
        for rule in rules:
            self.proxy.faults.add(rule)
        res = self.drain(SOURCE)
        self.check_drain(res, servers, exitcodes.OK)
        self.share(rows, rules)
        self.assertIn('Retriable status code 503', res.stderr)
        self.assertEqual([3, 2, 2, 2], [r.fired for r in rules])

    def test_drain_refused_submits(self):
        """409 and 500 on a migration request: that server only fails."""
        rows = [self.begin('409 x1 on POST server action (submit)',
                           'compute drain --max-failures 0'),
                self.begin('500 x1 on POST server action (submit)',
                           'compute drain --max-failures 0')]
        servers = self.boot({fakecloud.META_HOLD: 1},
                            {fakecloud.META_HOLD: 1},
                            {fakecloud.META_HOLD: 1})
        rules = [httpproxy.conflict(1, method='POST', path=ACTION),
                 httpproxy.burst(500, 1, method='POST', path=ACTION)]
        for rule in rules:
            self.proxy.faults.add(rule)
        res = self.drain(SOURCE, '--max-failures', '0')
        entries = self.check_drain(res, servers, exitcodes.DRAIN_INCOMPLETE)
        # Plan order: a (409), b (500), c (through).
        self.assertEqual(['failed', 'failed', 'done'],
                         [entries[s.id]['state'] for s in servers])
        self.assertIn('Cannot migrate', entries[servers[0].id]['error'])
        self.assertIn('Injected', entries[servers[1].id]['error'])
        self.assertEqual(2, res.stderr.count(': refused: '))
        # Neither is retried: 409 and 500 are not retriable statuses (and
        # these are POSTs); the server was read once after each.
        self.assertEqual([202, 409, 500], sorted(
            e.status for e in self.proxy.events() if e.method == 'POST'))
        self.resume(servers)
        self.share(rows, rules)

    def test_drain_lost_answer_to_submit(self):
        self.begin('reset x1 after POST server action reached Nova',
                   'compute drain')
        servers = self.boot({fakecloud.META_HOLD: 2})
        self.proxy.faults.add(httpproxy.reset(1, method='POST', path=ACTION,
                                              forward=True))
        res = self.drain(SOURCE)
        self.check_drain(res, servers, exitcodes.OK)
        # keystoneauth re-sent the POST (connect_retries), Nova refused the
        # copy (409, migrating); the drain saw the server migrating and
        # followed the migration the first request started.
        self.assertEqual([(0, 202), (409, 409)], [
            (e.status, e.upstream) for e in self.proxy.events()
            if e.method == 'POST'])
        self.assertIn('following its migration', res.stderr)
        self.assertEqual(1, len(list(self.compute.migrations(
            instance_uuid=servers[0].id))))

    def test_drain_503_on_service_disable_beyond_retries(self):
        self.begin('503 x10 on PUT os-services (beyond retries)',
                   'compute drain')
        servers = self.boot({fakecloud.META_HOLD: 1})
        self.proxy.faults.add(httpproxy.burst(503, 10, method='PUT',
                                              path=SERVICE_PUT))
        res = self.drain(SOURCE)
        self.row['rc'] = res.returncode
        self.row['proxy'] = self.proxy_seen()
        self.assertEqual(exitcodes.ERROR, res.returncode)
        lines = [ln for ln in res.stderr.splitlines()
                 if ln.strip() and 'Retriable status code' not in ln]
        self.assertEqual(1, len(lines), res.stderr)
        self.assertIn('Could not disable nova-compute on %s' % SOURCE,
                      lines[0])
        # Nothing changed, and the report says nothing started.
        svc = [s for s in self.compute.services(binary='nova-compute')
               if s.host == SOURCE][0]
        self.assertEqual('enabled', svc.status)
        self.assertEqual([], list(self.compute.migrations(
            instance_uuid=servers[0].id)))
        data = report_mod.load(self.report)
        self.assertEqual('incomplete', data['state'])
        self.assertEqual(['not-started'],
                         [e['state'] for e in data['servers']])
        self.row['outcome'] = 'nothing changed; not-started'
        self.resume(servers)

    # -- bed-side faults: compute drain -------------------------------------

    def test_drain_migration_fails(self):
        self.begin('bed: live migration fails (rolled back)',
                   'compute drain')
        servers = self.boot({fakecloud.META_HOLD: 1, fakecloud.META_FAIL: 1},
                            {fakecloud.META_HOLD: 1})
        res = self.drain(SOURCE, '--max-parallel', '1')
        entries = self.check_drain(res, servers, exitcodes.DRAIN_INCOMPLETE)
        self.assertEqual(('failed', 'not-started'),
                         (entries[servers[0].id]['state'],
                          entries[servers[1].id]['state']))
        self.assertIn('rolled back', entries[servers[0].id]['error'])
        self.assertIn('--max-failures', entries[servers[1].id]['error'])
        self.compute.delete_server_metadata(servers[0],
                                            [fakecloud.META_FAIL])
        self.resume(servers)

    def test_drain_destination_down(self):
        self.begin('bed: destination forced down mid-drain',
                   'compute drain')
        servers = self.boot({fakecloud.META_HOLD: 3},
                            {fakecloud.META_HOLD: 1})
        finish = self.start_drain('--max-parallel', '1')
        first = self.wait_entry(servers[0], ('submitted', 'migrating'))
        dest = first['destination']
        self.assertIn(dest, TARGETS)
        other = [h for h in TARGETS if h != dest][0]
        svc = [s for s in self.compute.services(binary='nova-compute')
               if s.host == other][0]
        self.compute.update_service_forced_down(svc, other, 'nova-compute',
                                                True)
        res = finish()
        entries = self.check_drain(res, servers, exitcodes.OK)
        self.assertEqual(dest, entries[servers[1].id]['destination'])
        self.assertIn('%s is not used as a destination: nova-compute is '
                      'forced down' % other, res.stderr)
        self.row['outcome'] += ' (second server sent to %s)' % dest

    def test_drain_server_error_before(self):
        self.begin('bed: server in ERROR before the drain', 'compute drain')
        servers = self.boot({fakecloud.META_HOLD: 1},
                            {fakecloud.META_HOLD: 1})
        self.compute.reset_server_state(servers[1], 'error')
        res = self.drain(SOURCE)
        entries = self.check_drain(res, servers, exitcodes.DRAIN_INCOMPLETE,
                                   errors=(servers[1].id,))
        self.assertEqual(('done', 'skipped'),
                         (entries[servers[0].id]['state'],
                          entries[servers[1].id]['state']))
        self.assertIn('ERROR', entries[servers[1].id]['reason'])
        self.compute.reset_server_state(servers[1], 'active')
        self.resume(servers)

    def test_drain_server_error_while_draining(self):
        self.begin('bed: server put in ERROR while the drain runs',
                   'compute drain')
        servers = self.boot({fakecloud.META_HOLD: 3},
                            {fakecloud.META_HOLD: 1})
        finish = self.start_drain('--max-parallel', '1')
        self.wait_entry(servers[0], ('submitted', 'migrating'))
        self.compute.reset_server_state(servers[1], 'error')
        res = finish()
        entries = self.check_drain(res, servers, exitcodes.DRAIN_INCOMPLETE,
                                   errors=(servers[1].id,))
        self.assertEqual(('done', 'failed'),
                         (entries[servers[0].id]['state'],
                          entries[servers[1].id]['state']))
        self.assertIn('error', entries[servers[1].id]['error'].lower())
        self.compute.reset_server_state(servers[1], 'active')
        self.resume(servers)

    # -- migration watch ------------------------------------------------------

    def watch(self, meta, rules=(), polls=2):
        """``migration watch`` of a stalled live migration, through the proxy.

        The migration stays ``running`` (``fakecloud:stall``) until every
        rule has fired, or the watch has polled ``polls`` times when there
        is no rule, then it is force-completed from the side (with
        ``fakecloud:fail`` it then fails and rolls back), unless the watch
        ended first.  Returns the server, the CLI result and its JSON
        documents (events, then the summary).
        """
        server = self.boot(dict(meta, **{fakecloud.META_STALL: 50}))[0]
        self.addCleanup(self.release, server)
        for rule in rules:
            self.proxy.faults.add(rule)
        self.compute.live_migrate_server(server, host=None,
                                         block_migration='auto')
        self.bed.wait_for_migration(server, ('running',))
        proc, finish = self.child('migration', 'watch', server.id,
                                  '--interval', '0.5', '-f', 'json')
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if rules and all(r.exhausted for r in rules):
                break
            if not rules and self.proxy.total(
                    method='GET', path=r'/servers/\{id\}/migrations$'
            ) >= polls:
                break
            time.sleep(0.2)
        if proc.poll() is None:
            self.release(server)
        res = finish()
        self.row['rc'] = res.returncode
        self.row['proxy'] = self.proxy_seen()
        self.assertNotIn('Traceback', res.stderr)
        docs = [json.loads(ln) for ln in res.stdout.splitlines()
                if ln.strip()]
        return server, res, docs

    def release(self, server):
        """Force-complete the server's running migration (bed, no proxy)."""
        for m in self.compute.server_migrations(server.id):
            if m.status == 'running':
                self.compute.force_complete_server_migration(m.id, server.id)
        self.settle([server.id])

    def test_watch_transient_faults(self):
        """Faults keystoneauth retries, all in one watch (one row each)."""
        rows = [self.begin('503 x3 on GET server migrations (polls)',
                           'migration watch'),
                self.begin('reset x2 on GET server migrations',
                           'migration watch'),
                self.begin('+2 s x2 on GET server migrations (interval '
                           '0.5 s)', 'migration watch')]
        rules = [httpproxy.burst(503, 3, method='GET',
                                 path=SERVER_MIGRATIONS, after=1),
                 httpproxy.reset(2, method='GET', path=SERVER_MIGRATIONS,
                                 after=2),
                 httpproxy.latency(2.0, 2, method='GET',
                                   path=SERVER_MIGRATIONS, after=4)]
        server, res, docs = self.watch({}, rules)
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr[-3000:])
        self.row['outcome'] = 'migration ' + ', '.join(
            str(m.get('Status')) for m in docs[-1])
        self.share(rows, rules)
        self.assertEqual([3, 2, 2], [r.fired for r in rules])
        self.assertEqual(['completed'], [m['Status'] for m in docs[-1]])
        self.assertNotEqual(SOURCE,
                            self.compute.get_server(server.id).compute_host)

    def test_watch_migration_fails(self):
        self.begin('bed: live migration fails (rolled back)',
                   'migration watch')
        server, res, docs = self.watch({fakecloud.META_FAIL: 1})
        self.assertEqual(exitcodes.WATCH_FAILED, res.returncode,
                         res.stderr[-3000:])
        ended = [d for d in docs[:-1] if d.get('event') == 'ended']
        self.assertEqual(1, len(ended), res.stdout)
        # The reason Nova recorded (the fake driver's rollback records
        # none: the engine then says where to look).
        self.assertEqual('failed', ended[0]['outcome'])
        self.assertRegex(ended[0]['message'], r'^ended failed: \S+')
        self.row['outcome'] = 'migration failed: %s' % (
            ended[0]['message'][:50])
        now = self.compute.get_server(server.id)
        self.assertEqual((SOURCE, 'ACTIVE'), (now.compute_host, now.status))

    def test_watch_503_beyond_retries(self):
        self.begin('503 x20 on GET server migrations (beyond retries)',
                   'migration watch')
        rule = httpproxy.burst(503, 20, method='GET',
                               path=SERVER_MIGRATIONS, after=1)
        server, res, docs = self.watch({}, [rule])
        self.assertEqual(exitcodes.ERROR, res.returncode)
        lines = [ln for ln in res.stderr.splitlines()
                 if ln.strip() and 'Retriable status code' not in ln]
        self.assertEqual(1, len(lines), res.stderr)
        self.assertIn('Cannot read the migrations of server', lines[0])
        self.assertEqual(5, rule.fired)     # 1 + status_code_retries
        self.row['outcome'] = lines[0][:60]
        # The watch changed nothing: the migration still runs.
        self.assertEqual(['running'], [
            m.status for m in self.compute.server_migrations(server.id)])
        self.row['resumed'] = 'n/a (watch changes nothing)'


def format_matrix(rows):
    head = ('fault', 'command', 'rc', 'outcome', 'proxy saw', 'resumed',
            's', 'verdict')
    lines = [' | '.join(head)]
    for r in rows:
        lines.append(' | '.join(str(x) for x in (
            r['fault'], r['command'], r['rc'], r['outcome'] or '-',
            r['proxy'], r['resumed'], r.get('seconds'),
            'FAIL: %s' % r['failed'] if r.get('failed') else 'ok')))
    return '\n'.join(lines)


def _matrix(self):
    """Write the matrix of the rows this process ran (sorts last)."""
    if not MATRIX:
        self.skipTest('no fault row in this process')
    text = format_matrix(MATRIX)
    self.addDetail('matrix', _text(text))
    path = os.environ.get('FAULT_MATRIX')
    if path:
        with open(path, 'w') as f:
            f.write(text + '\n')


FaultMatrixTest.test_zz_matrix = _matrix
