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

"""The cloud's migrations in progress, counted for the drain's limits."""

import fixtures
import testtools

from migrationclient.cloud import errors as cloud_errors
from migrationclient.cloud import migrations
from migrationclient.engine import drain
from migrationclient.engine.drain import census as census_mod
from migrationclient import microversions as mv
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit import fakes


def rec(mid, sid, src, dest, status, mtype='live-migration',
        stamp='2026-11-27T10:00:00'):
    return migrations.Migration(id=mid, server_id=sid, status=status,
                                migration_type=mtype, source_compute=src,
                                dest_compute=dest, created_at=stamp,
                                updated_at=stamp)


class FakeCloud:
    """``migration_records`` from a list; every call recorded."""

    version = mv.Version(2, 80)

    def __init__(self, records=()):
        self.records = list(records)
        self.calls = []

    def migration_records(self, server_id=None, **query):
        self.calls.append(dict(query, server_id=server_id))
        out = [m for m in self.records
               if server_id is None or m.server_id == server_id]
        host = query.get('host')
        if host:
            out = [m for m in out if host in (m.source_compute,
                                              m.dest_compute)]
        return out


def census_of(records, **kw):
    kw.setdefault('locks', False)

    cloud = FakeCloud(records)
    c = census_mod.Census(cloud, **kw)
    c.refresh()
    return c, cloud


class TestOccupies(testtools.TestCase):

    def test_nova_in_progress_statuses_less_finished(self):
        for status in ('accepted', 'queued', 'preparing', 'running',
                       'post-migrating', 'pre-migrating', 'migrating',
                       'confirming', 'reverting', 'something-new'):
            self.assertTrue(migrations.occupies(rec(1, 's', 'a', 'b',
                                                    status)), status)
        for status in ('finished', 'completed', 'confirmed', 'reverted',
                       'error', 'failed', 'cancelled', 'done'):
            self.assertFalse(migrations.occupies(rec(1, 's', 'a', 'b',
                                                     status)), status)


class TestCount(testtools.TestCase):

    def test_counts_what_moves_by_source_target_and_live(self):
        c, _cloud = census_of([
            rec(1, 'x', 'c1', 'c3', 'queued'),
            rec(2, 'y', 'c2', 'c3', 'migrating', mtype='migration'),
            rec(3, 'z', 'c2', 'c3', 'finished', mtype='migration'),
            rec(4, 'w', 'c1', 'c2', 'completed'),
            rec(5, 'v', 'c1', None, 'accepted'),
        ])
        source, target, live = c.count()
        self.assertEqual({'c1': 2, 'c2': 1}, source)
        self.assertEqual({'c3': 2}, target)
        self.assertEqual({'c1': 2}, live)
        # This drain's own servers are counted by Slots, not here.
        source, target, live = c.count(exclude={'x'})
        self.assertEqual({'c1': 1, 'c2': 1}, source)
        self.assertEqual({'c3': 1}, target)

    def test_leftovers_older_than_a_day_do_not_count(self):
        c, _cloud = census_of([
            rec(1, 'x', 'c1', 'c3', 'migrating', mtype='migration',
                stamp='2026-11-26T11:59:00'),
            rec(2, 'y', 'c2', 'c3', 'running',
                stamp='2026-11-26T12:01:00'),
            rec(3, 'z', 'c2', 'c4', 'completed',
                stamp='2026-11-27T12:00:00')])
        # A day older than the newest change the cloud listed.
        self.assertEqual({'c3': 1}, c.count()[1])

    def test_newest_record_wins(self):
        c, cloud = census_of([rec(1, 'x', 'c1', 'c3', 'running')])
        cloud.records = [rec(1, 'x', 'c1', 'c3', 'completed',
                             stamp='2026-11-27T10:00:05')]
        c.refresh()
        self.assertEqual(({}, {}, {}), c.count())
        # An older copy (another list, out of order) does not undo it.
        c.merge([rec(1, 'x', 'c1', 'c3', 'running')])
        self.assertEqual(({}, {}, {}), c.count())


class TestRequests(testtools.TestCase):

    def test_one_cloud_wide_list_per_poll_for_every_source(self):
        cloud = FakeCloud([rec(1, 'x', 'c1', 'c3', 'running'),
                           rec(2, 'y', 'c2', 'c4', 'running'),
                           rec(3, 'z', 'c5', 'c6', 'running')])
        c = census_mod.Census(cloud, locks=False)
        listing = c.listing(cloud)
        with c.cycle():
            one = listing.migration_records(host='c1', changes_since=None)
            two = listing.migration_records(host='c2', changes_since=None)
        self.assertEqual([{'changes_since': None, 'server_id': None}],
                         cloud.calls)
        self.assertEqual([1], [m.id for m in one])
        self.assertEqual([2], [m.id for m in two])
        # The next poll: one list, from the mark.
        with c.cycle():
            listing.migration_records(host='c1', changes_since='x')
            listing.migration_records(host='c2', changes_since='x')
        self.assertEqual(2, len(cloud.calls))
        self.assertEqual('2026-11-27T10:00:00',
                         cloud.calls[1]['changes_since'])

    def test_a_second_list_of_a_host_is_fresh(self):
        c, cloud = census_of([])
        with c.cycle():
            c.records_for('c1')
            cloud.records.append(rec(7, 'x', 'c1', 'c3', 'error'))
            # A refused request re-reads its host in the same poll.
            self.assertEqual([7], [m.id for m in c.records_for('c1')])
        self.assertEqual(3, len(cloud.calls))
        # Outside a poll every list is made.
        c.records_for('c1')
        c.records_for('c2')
        self.assertEqual(5, len(cloud.calls))

    def test_changes_since_filters_the_table(self):
        c, _cloud = census_of([
            rec(1, 'x', 'c1', 'c3', 'completed', stamp='2026-11-27T09:00:00'),
            rec(2, 'y', 'c1', 'c3', 'running', stamp='2026-11-27T10:00:00')])
        found = c.records_for('c1', '2026-11-27T09:30:00')
        self.assertEqual([2], [m.id for m in found])

    def test_below_2_59_each_watcher_lists_its_host(self):
        cloud = FakeCloud([rec(1, 'x', 'c1', 'c3', 'running')])
        cloud.version = mv.Version(2, 38)
        c = census_mod.Census(cloud)
        self.assertFalse(c.cloud_wide)
        self.assertFalse(c.locks)
        listing = census_mod.ListingCloud(cloud, c)
        listing.migration_records(host='c1', changes_since=None)
        self.assertEqual([{'host': 'c1', 'changes_since': None,
                           'server_id': None}], cloud.calls)
        # What it listed is counted.
        self.assertEqual({'c3': 1}, c.count()[1])


class TestLocks(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def test_second_drain_of_the_machine_waits_for_the_record(self):
        cloud = FakeCloud()
        one = census_mod.Census(cloud, lock_directory=self.dir)
        two = census_mod.Census(cloud, lock_directory=self.dir)
        self.assertTrue(one.claim('c3', 'a'))
        self.assertEqual(['c3'], one.held())
        self.assertFalse(two.claim('c3', 'b'))
        self.assertTrue(two.contended)
        # One's migration is listed: the lock goes, two sees it.
        cloud.records.append(rec(1, 'a', 'c1', 'c3', 'queued'))
        one.refresh()
        self.assertEqual([], one.held())
        self.assertTrue(two.claim('c3', 'b'))
        self.assertEqual({'c3': 1}, two.count()[1])
        two.close()

    def test_a_failed_list_under_the_lock_is_not_a_claim(self):
        cloud = FakeCloud()

        def fail(**query):
            raise cloud_errors.Unreachable('no answer')
        cloud.migration_records = fail
        one = census_mod.Census(cloud, lock_directory=self.dir)
        self.assertFalse(one.claim('c3', 'a'))
        self.assertEqual([], one.held())
        two = census_mod.Census(FakeCloud(), lock_directory=self.dir)
        self.assertTrue(two.claim('c3', 'b'))
        two.close()

    def test_released_when_the_slot_is_freed(self):
        one = census_mod.Census(FakeCloud(), lock_directory=self.dir)
        two = census_mod.Census(FakeCloud(), lock_directory=self.dir)
        self.assertTrue(one.claim('c3', 'a'))
        one.unclaim('a')
        self.assertTrue(two.claim('c3', 'b'))
        two.close()
        self.assertTrue(one.claim('c3', 'a'))
        one.close()


class TestLiveLimit(testtools.TestCase):

    def test_option_then_nova_conf_then_nova_default(self):
        limit = census_mod.live_limit_of(base.opts(max_live_per_source=3),
                                         {'c1': 5})
        self.assertEqual(3, limit('c1'))
        limit = census_mod.live_limit_of(drain.Options(), {'c1': 5})
        self.assertEqual(5, limit('c1'))
        self.assertEqual(1, limit('c2'))


class TestDrainCountsOthers(testtools.TestCase):
    """A drain on FakeNova with someone else's migration to its target."""

    def test_someone_elses_migration_blocks_the_target(self):
        nova = fakes.FakeNova()
        nova.add('ext', host='compute2', hold=6)
        nova.add('a')
        nova.live_migrate_server('ext', host='compute3')
        items = [base.item('a')]
        run = base.DrainRun(nova, items, base.opts(
            target_hosts=('compute3',), max_per_target=1))
        self.assertEqual(0, run.run())
        self.assertEqual('compute3', nova.servers['a']['host'])
        spans = {m[0]: m[3:] for m in nova.intervals}
        ext, ours = spans[1], spans[2]
        # Ours started only once the other one had ended.
        self.assertGreaterEqual(ours[0], ext[1])
        self.assertIn('waiting for 1 migration(s) not of this drain',
                      ' '.join(text for _i, text in run.lines))

    def test_live_limit_of_the_source(self):
        nova = fakes.FakeNova()
        for sid in 'abc':
            nova.add(sid, hold=2)
        items = [base.item(s) for s in 'abc']
        run = base.DrainRun(nova, items, base.opts(
            max_parallel=3, max_per_target=0, max_live_per_source=1))
        self.assertEqual(0, run.run())
        spans = sorted(m[3:] for m in nova.intervals)
        for (_s1, e1), (s2, _e2) in zip(spans, spans[1:]):
            self.assertGreaterEqual(s2, e1)

    def test_cold_migrations_are_not_held_by_the_live_limit(self):
        nova = fakes.FakeNova()
        nova.add('a', hold=4)
        nova.add('b', status='SHUTOFF')
        items = [base.item('a'), base.item('b', action=drain.COLD,
                                           status='SHUTOFF')]
        run = base.DrainRun(nova, items, base.opts(
            max_parallel=2, max_per_target=0, max_live_per_source=1))
        self.assertEqual(0, run.run())
        spans = {m[0]: m[3:] for m in nova.intervals}
        # Side by side: the cold one started before the live one ended.
        self.assertLess(spans[2][0], spans[1][1])

    def test_one_list_per_poll_for_two_source_hosts(self):
        nova = fakes.FakeNova()
        nova.add('a', hold=3)
        nova.add('b', host='compute2', hold=3)
        items = [base.item('a'), base.item('b', host='compute2')]
        run = base.DrainRun(nova, items, base.opts(
            target_hosts=('compute3',), max_per_target=0),
            dest_hosts=('compute3',))
        self.assertEqual(0, run.run())
        lists = [c for c in nova.calls if c[0] == 'list']
        # Cloud-wide (no host), never per source host.
        on_hosts = [c for c in lists if c[1] in ('compute1', 'compute2')]
        self.assertEqual([], on_hosts)
        cycles = run.drain.cycle
        self.assertGreater(cycles, 3)
        # One per poll, plus the two watchers' baselines (before: two
        # per poll, one per source host).
        self.assertLessEqual(len([c for c in lists if c[1] is None]),
                             cycles + 2)


class TestNote(testtools.TestCase):

    def test_the_report_says_when_nova_default_is_assumed(self):
        nova = fakes.FakeNova()
        nova.add('a')
        run = base.DrainRun(nova, [base.item('a')], base.opts(
            max_live_per_source=None))
        notes = run.report.get('notes', [])
        self.assertEqual(1, len(notes), notes)
        self.assertIn('1 at a time', notes[0])
        self.assertIn('--max-live-per-source', notes[0])
        self.assertEqual(1, run.drain.slots.live_limit('compute1'))

    def test_no_note_when_read_or_given(self):
        nova = fakes.FakeNova()
        nova.add('a')
        for kw in ({'live_limits': {'compute1': 4}},
                   {'max_live_per_source': 2}):
            run = base.DrainRun(nova, [base.item('a')], base.opts(
                **dict({'max_live_per_source': None}, **kw)))
            self.assertEqual([], run.report.get('notes', []), kw)
        self.assertEqual(2, run.drain.slots.live_limit('compute1'))
