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

"""Limits counted from the cloud (issue 16, item 3), on the fake cloud.

``--max-per-target`` counts every migration Nova lists as in progress:
another drain's (two ``openstack compute drain`` processes started at the
same moment), and one started by someone else.  Proved from the migration
records: a record occupies its destination from ``created_at`` to
``updated_at`` (when it ended), and no two records into the shared
target overlap.
"""

import json
import re
import subprocess
import time

from migrationclient import exitcodes
from migrationclient.tests.functional import base
from migrationclient.tests.functional.v1 import test_drain
from testbed import fakecloud

TARGET = 'compute3'
SOURCES = ('compute1', 'compute2')
REQ_LINE = re.compile(r'^REQ: curl -g -i -X (?P<method>[A-Z]+) '
                      r'"?(?P<url>[^" ]+)"?')


def _spans(records):
    return '\n'.join('%s %s %s %s->%s %s %s..%s' % (
        m.id, m.server_id, m.migration_type, m.source_compute,
        m.dest_compute, m.status, m.created_at, m.updated_at)
        for m in sorted(records, key=lambda m: m.created_at))


class DrainProcesses(test_drain.DrainTestCase):
    """Drains as separate ``openstack compute drain`` processes."""

    def start_drain(self, hosts, *args, debug=False):
        env = dict(self.bed.env(), XDG_STATE_HOME=self.state_home)
        cmd = [base._openstack_binary(), '--os-cloud', fakecloud.CLOUD_ADMIN]
        cmd += ['--debug'] if debug else []
        cmd += ['compute', 'drain'] + hosts.split() + ['-f', 'json']
        cmd += list(args)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(test_drain._reap, proc)
        return proc

    def finish(self, proc, expect=exitcodes.OK):
        out, err = proc.communicate(timeout=400)
        self.addDetail('drain pid %d' % proc.pid, test_drain._text(
            'rc=%d\n%s\n%s' % (proc.returncode, out, err[-20000:])))
        self.assertEqual(expect, proc.returncode, err[-3000:])
        return {r['Server']: r for r in json.loads(out)}, err

    def boot(self, host, count, hold):
        return [self.create_server('image', host=host,
                                   name='%s-lim-%d' % (host, n),
                                   metadata={fakecloud.META_HOLD: str(hold)})
                for n in range(count)]


class TestDrainLimitsFromTheCloud(DrainProcesses):

    def test_two_drains_at_once_share_one_target(self):
        servers = {h: self.boot(h, 2, 3) for h in SOURCES}
        args = ('--target-host', TARGET, '--max-per-target', '1',
                '--max-parallel', '2', '--poll-interval', '1')
        # Two processes, started at the same moment.
        procs = [self.start_drain(h, *args) for h in SOURCES]
        results = [self.finish(p) for p in procs]
        for (rows, _err), host in zip(results, SOURCES):
            self.assertEqual({'done'}, {r['State'] for r in rows.values()},
                             host)
        everything = [s for group in servers.values() for s in group]
        records = self.migrations_of(everything)
        self.addDetail('records', test_drain._text(_spans(records)))
        self.assertEqual(4, len(records), _spans(records))
        self.assertEqual({TARGET}, {m.dest_compute for m in records})
        self.assertEqual({'completed'}, {m.status for m in records})
        # Four migrations into one target from two processes: never two
        # in progress at once.
        self.assertEqual(1, test_drain.max_overlap(records, 'dest_compute'),
                         _spans(records))
        for host in SOURCES:
            self.assertEqual(TARGET, {self.compute.get_server(
                s.id).compute_host for s in servers[host]}.pop())

    def test_migration_of_someone_else_blocks_the_target(self):
        # Someone else moves a server of compute2 to the target, slowly.
        other = self.boot('compute2', 1, 12)[0]
        mine = self.boot('compute1', 1, 1)[0]
        self.compute.live_migrate_server(other, host=TARGET,
                                         block_migration='auto')
        external = self.wait_for_migration(other, ('running',),
                                           timeout=60)
        proc = self.start_drain('compute1', '--target-host', TARGET,
                                '--max-per-target', '1',
                                '--poll-interval', '1', debug=True)
        rows, err = self.finish(proc)
        self.assertEqual('done', rows[mine.id]['State'])
        external = [m for m in self.compute.migrations(
            instance_uuid=other.id) if m.id == external.id][0]
        self.assertEqual('completed', external.status)
        ours = self.migrations_of([mine])
        records = ours + [external]
        self.addDetail('records', test_drain._text(_spans(records)))
        self.assertEqual(1, len(ours), _spans(records))
        # Ours was created only once the other one had ended.
        self.assertGreaterEqual(test_drain._when(ours[0].created_at),
                                test_drain._when(external.updated_at),
                                _spans(records))
        self.assertEqual(1, test_drain.max_overlap(records, 'dest_compute'))
        # What the polls cost: every os-migrations list is cloud-wide
        # (changes-since), none per source host.
        made = [(m.group('method'), m.group('url'))
                for m in map(REQ_LINE.match, err.splitlines()) if m]
        compute = self.bed.endpoints['compute']
        lists = [u for m, u in made if m == 'GET' and
                 u.startswith(compute + '/os-migrations')]
        self.addDetail('os-migrations lists', test_drain._text(
            '\n'.join(lists)))
        self.assertEqual([], [u for u in lists if 'host=' in u])
        self.assertTrue(all('changes-since' in u or 'changes_since' in u
                            for u in lists[1:]), lists)

    def test_requests_per_poll_of_a_two_host_drain(self):
        """One os-migrations list per poll for two source hosts (was 2)."""
        for host in SOURCES:
            self.boot(host, 1, 4)
        started = time.monotonic()
        proc = self.start_drain(' '.join(SOURCES), '--target-host',
                                TARGET, '--max-per-target', '0',
                                '--poll-interval', '1', debug=True)
        _rows, err = self.finish(proc)
        wall = time.monotonic() - started
        made = [(m.group('method'), m.group('url'))
                for m in map(REQ_LINE.match, err.splitlines()) if m]
        compute = self.bed.endpoints['compute']
        lists = [u for m, u in made if m == 'GET' and
                 u.startswith(compute + '/os-migrations')]
        polls = [u for u in lists if 'changes' in u]
        self.addDetail('measured', test_drain._text(
            '%d os-migrations lists (%d with changes-since) in %.1f s, '
            'poll interval 1 s, 2 source hosts\n%s'
            % (len(lists), len(polls), wall, '\n'.join(lists))))
        self.assertEqual([], [u for u in lists if 'host=' in u])
        # At most one list per poll (one second apart), whatever the
        # number of source hosts: fewer lists than seconds of the run.
        self.assertLess(len(lists), wall + 2)

    def test_no_live_migration_queued_behind_nova_limit(self):
        """--max-parallel 2, Nova runs one live migration at a time.

        The bed's ``max_concurrent_live_migrations`` is 1 (Nova's
        default); the drain's default --max-live-per-source is the same:
        its second live migration leaves only once the first ended, so no
        record of it waits ``queued``, and the stuck window never counts
        Nova's queue.
        """
        servers = self.boot('compute1', 2, 3)
        proc = self.start_drain('compute1', '--max-parallel', '2',
                                '--max-per-target', '0',
                                '--poll-interval', '1')
        rows, _err = self.finish(proc)
        self.assertEqual({'done'}, {r['State'] for r in rows.values()})
        records = self.migrations_of(servers)
        self.addDetail('records', test_drain._text(_spans(records)))
        self.assertEqual(2, len(records))
        self.assertEqual(1, test_drain.max_overlap(records,
                                                   'source_compute'),
                         _spans(records))
        report = self.load_report()
        self.assertTrue([n for n in report.get('notes', [])
                         if '--max-live-per-source' in n],
                        report.get('notes'))


class TestLiveLimitFromNovaConf(DrainProcesses):
    """``compute drain --ssh``: the source's nova.conf sets the live limit.

    The bed's Nova runs two outbound live migrations per host
    (``max_concurrent_live_migrations = 2``); the SSH test hosts show the
    bed's running nova.conf (:meth:`testbed.sshhosts.SSHHosts.from_bed`).
    """

    BED_ARGS = ('--max-concurrent-live-migrations', '2')

    def test_ssh_reads_the_limit_of_each_source(self):
        from testbed import sshhosts
        hosts = self.useFixture(sshhosts.SSHHosts.from_bed(
            self.bed.endpoints['control'], ['compute1']))
        ssh_args = ['--ssh'] + hosts.ssh_args()
        servers = self.boot('compute1', 4, 3)

        # Unreadable nova.conf: a warning, the option's value (default 1).
        conf = hosts.ssh('compute1', 'cat /etc/nova/nova.conf').stdout
        self.assertIn('max_concurrent_live_migrations = 2', conf)
        hosts.hosts['compute1'].write_nova_conf(None)
        res = self.drain('compute1', '--dry-run', *ssh_args)
        self.assertIn('compute1: nova.conf not read', res.stderr)
        self.assertIn('compute1: live migrations 1 at a time (nova.conf '
                      'not read', res.stderr)
        # An explicit --max-live-per-source wins (and says what it saw).
        hosts.hosts['compute1'].write_nova_conf(conf)
        res = self.drain('compute1', '--dry-run', '--max-live-per-source',
                         '3', *ssh_args)
        self.assertIn('compute1: live migrations 3 at a time '
                      '(--max-live-per-source; nova.conf says 2)',
                      res.stderr)
        self.assertEqual('enabled', self.service('compute1').status)

        # The drain: four live migrations, --max-parallel 4, no target
        # limit; nova.conf says 2, so two leave compute1 at a time.
        proc = self.start_drain('compute1', '--max-parallel', '4',
                                '--max-per-target', '0',
                                '--poll-interval', '1', *ssh_args)
        rows, err = self.finish(proc)
        self.assertEqual({'done'}, {r['State'] for r in rows.values()})
        self.assertIn('compute1: live migrations 2 at a time ([DEFAULT] '
                      'max_concurrent_live_migrations in its nova.conf)',
                      err)
        records = self.migrations_of(servers)
        self.addDetail('records', test_drain._text(_spans(records)))
        self.assertEqual(4, len(records))
        self.assertEqual({'live-migration'},
                         {m.migration_type for m in records})
        # never more than 2 from compute1 (none queued by Nova), and 2
        # side by side (not the default's 1)
        self.assertEqual(2, test_drain.max_overlap(records,
                                                   'source_compute'),
                         _spans(records))
        report = self.load_report()
        self.assertEqual({'compute1': {'limit': 2, 'source': 'nova.conf',
                                       'nova_conf': 2}},
                         report['live_limits'])
        self.assertEqual(2, report['options']['live_limits']['compute1'])
