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

"""The live limit per source host: option, nova.conf over SSH, default."""

import types

import testtools

from migrationclient.engine import drain
from migrationclient.engine.drain import census as census_mod
from migrationclient.engine.drain import livelimits
from migrationclient.host import ssh
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes

CONF = '# path /etc/nova/nova.conf\n[DEFAULT]\n%s\n'


class Pool:
    """``run_parsed`` of a HostPool: nova.conf text per host, or None."""

    def __init__(self, confs, options=None, addresses=None):
        self.confs = confs
        self.options = options
        self.addresses = addresses
        self.ran = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def run_parsed(self, host, command, parser):
        self.ran.append(host)
        text = self.confs.get(host)
        if text is None:
            raise ssh.CommandFailed(host, 'cat nova.conf exited 3',
                                    '127.0.0.9')
        return parser(CONF % text)


class TestLiveLimit(testtools.TestCase):

    def test_order(self):
        opts = drain.Options(live_limits={'c1': 2, 'c3': 0})
        self.assertEqual((2, livelimits.FROM_NOVA_CONF),
                         livelimits.live_limit(opts, 'c1'))
        self.assertEqual((1, livelimits.FROM_DEFAULT),
                         livelimits.live_limit(opts, 'c2'))
        # 0: no limit in Nova; then the option's value (its default, 1)
        self.assertEqual((1, livelimits.FROM_UNLIMITED),
                         livelimits.live_limit(opts, 'c3'))
        opts.max_live_per_source = 4
        for host in ('c1', 'c2', 'c3'):
            self.assertEqual((4, livelimits.FROM_OPTION),
                             livelimits.live_limit(opts, host))
        opts.max_live_per_source = 0
        self.assertEqual((0, livelimits.FROM_OPTION),
                         livelimits.live_limit(opts, 'c1'))

    def test_census_limit_zero_in_nova_conf_is_the_default(self):
        limit = census_mod.live_limit_of(drain.Options(), {'c1': 0,
                                                           'c2': 3})
        self.assertEqual((1, 3), (limit('c1'), limit('c2')))


class TestRead(testtools.TestCase):

    def test_read_per_host_with_an_unreadable_one(self):
        opts = drain.Options()
        pool = Pool({'c1': 'max_concurrent_live_migrations = 2',
                     'c3': 'max_concurrent_live_migrations = 0'})
        warnings, lines = livelimits.read(opts, ['c1', 'c2', 'c3'], pool)
        self.assertEqual({'c1': 2, 'c3': 0}, opts.live_limits)
        self.assertEqual(1, len(warnings))
        self.assertIn('c2: nova.conf not read', warnings[0])
        self.assertEqual(3, len(lines))
        self.assertIn('c1: live migrations 2 at a time ([DEFAULT] '
                      'max_concurrent_live_migrations in its nova.conf)',
                      lines[0])
        self.assertIn('c2: live migrations 1 at a time (nova.conf not '
                      'read', lines[1])
        self.assertIn('c3: live migrations 1 at a time (its nova.conf says '
                      '0', lines[2])
        table = livelimits.table(opts, ['c1', 'c2', 'c3'])
        self.assertEqual(
            {'c1': {'limit': 2, 'source': 'nova.conf', 'nova_conf': 2},
             'c2': {'limit': 1, 'source': 'default', 'nova_conf': None},
             'c3': {'limit': 1, 'source': 'nova.conf 0', 'nova_conf': 0}},
            table)

    def test_the_option_wins_and_says_what_nova_conf_says(self):
        opts = drain.Options(max_live_per_source=3)
        pool = Pool({'c1': 'max_concurrent_live_migrations = 2'})
        _warnings, lines = livelimits.read(opts, ['c1'], pool)
        self.assertEqual(['c1: live migrations 3 at a time '
                          '(--max-live-per-source; nova.conf says 2)'],
                         lines)

    def test_read_for_job_addresses_and_sources(self):
        made = []

        def factory(options, addresses):
            pool = Pool({'compute1': 'max_concurrent_live_migrations = 2'},
                        options, addresses)
            made.append(pool)
            return pool

        host = types.SimpleNamespace(host_ip='192.0.2.11')
        job = types.SimpleNamespace(
            items=[base.item('a'), base.item('b', action=drain.COLD,
                                             host='compute2')],
            snapshot=types.SimpleNamespace(hosts={'compute1': host}),
            options=drain.Options())
        warnings, lines = livelimits.read_for_job(job, 'ssh-opts', factory)
        self.assertEqual([], warnings)
        # only the sources of live migrations are read
        self.assertEqual(['compute1'], made[0].ran)
        self.assertEqual(('ssh-opts', {'compute1': '192.0.2.11'}),
                         (made[0].options, made[0].addresses))
        self.assertEqual({'compute1': 2}, job.options.live_limits)
        self.assertEqual(1, len(lines))
        # no live migration: nothing read
        job.items = [base.item('b', action=drain.COLD)]
        made.clear()
        self.assertEqual(([], []),
                         livelimits.read_for_job(job, 'ssh-opts', factory))
        self.assertEqual([], made)

    def test_read_for_job_takes_the_plans_reading(self):
        # compute drain --ssh read every host for the plan
        # (fleetplan.with_host_facts): its nova.conf is not read again
        made = []

        def factory(options, addresses):
            pool = Pool({'compute2': 'max_concurrent_live_migrations = 4'},
                        options, addresses)
            made.append(pool)
            return pool

        conf = types.SimpleNamespace(max_concurrent_live_migrations=2,
                                     notes=['cpu_mode unknown'])
        job = types.SimpleNamespace(
            items=[base.item('a'), base.item('b', host='compute2')],
            snapshot=types.SimpleNamespace(hosts={}),
            options=drain.Options(), host_confs={'compute1': conf})
        warnings, lines = livelimits.read_for_job(job, 'ssh-opts', factory)
        self.assertEqual(['compute1: cpu_mode unknown'], warnings)
        self.assertEqual(['compute2'], made[0].ran)
        self.assertEqual({'compute1': 2, 'compute2': 4},
                         job.options.live_limits)
        self.assertEqual(2, len(lines))
        # every source read for the plan: no SSH session at all
        job.host_confs['compute2'] = conf
        made.clear()
        job.options = drain.Options()
        livelimits.read_for_job(job, 'ssh-opts', factory)
        self.assertEqual([], made)
        self.assertEqual({'compute1': 2, 'compute2': 2},
                         job.options.live_limits)


class TestDrainKeepsTheReadLimit(testtools.TestCase):

    def test_two_live_at_a_time_from_nova_conf(self):
        nova = fakes.FakeNova()
        for sid in 'abcde':
            nova.add(sid, hold=3)
        items = [base.item(s) for s in 'abcde']
        run = base.DrainRun(nova, items, base.opts(
            max_parallel=5, max_per_target=0, max_live_per_source=None,
            live_limits={'compute1': 2}))
        self.assertEqual(0, run.run())
        spans = [m[3:] for m in nova.intervals]
        self.assertEqual(5, len(spans))
        most = max(sum(1 for s, e in spans if s <= t < e)
                   for t, _e in spans)
        self.assertEqual(2, most)
        self.assertEqual({'compute1': {'limit': 2, 'source': 'nova.conf',
                                       'nova_conf': 2}},
                         run.report['live_limits'])
        self.assertEqual([], run.report.get('notes', []))
