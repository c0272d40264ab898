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

"""Unit tests of the drain engine: plan, limits, state machine, resume.

The state machine runs against :class:`FakeNova`, an in-memory compute
proxy whose records have the shape of Nova's API samples
(``samples/nova/server-migrations``, ``os-migrations``,
``os-instance-actions``) and whose migrations advance with a fake clock.
"""

import copy
import datetime
import io
import json
import os
import signal
import threading
import types

import fixtures
from openstack import exceptions as sdk_exc
import testtools

from migrationclient.constraints import engine as cengine
from migrationclient.engine import drain
from migrationclient.engine import report as report_mod
from migrationclient.engine import watch
from migrationclient import exitcodes

SAMPLES = os.path.join(os.path.dirname(os.path.dirname(__file__)),
                       'samples', 'nova')


def sample(path):
    with open(os.path.join(SAMPLES, path)) as stream:
        return json.load(stream)


OS_MIGRATION = sample('os-migrations/v2.80/migrations-get.json')[
    'migrations'][0]
SERVER_MIGRATION = sample('server-migrations/v2.80/migrations-get.json')[
    'migration']
ACTION = sample('os-instance-actions/v2.84/instance-action-get-resp.json')[
    'instanceAction']
BASE = datetime.datetime(2026, 11, 27, 10, 0, 0)


class FakeNova:
    """A compute proxy: servers and migrations advancing with ``self.t``.

    Server metadata-like knobs per server: ``hold`` (seconds running),
    ``fail`` (fail and roll back after the hold), ``stall`` (stays running
    with constant remaining memory until abort / force-complete),
    ``novalid`` (hosts the scheduler refuses: migration ``error`` with a
    NoValidHost action event).
    """

    default_microversion = '2.80'

    def __init__(self):
        self.t = 0.0
        self.servers = {}
        self.knobs = {}
        self.migrations_ = []
        self.actions = {}
        self.calls = []
        self.intervals = []    # (migration id, source, dest, start, end)
        self.down = set()      # hosts whose nova-compute is down
        self.disabled = {}     # host -> disabled reason
        # The drain sends the requests of a round from worker threads.
        self.lock = threading.RLock()

    # -- scenario ----------------------------------------------------------

    def add(self, sid, host='compute1', status='ACTIVE', **knobs):
        self.servers[sid] = {'status': status, 'host': host,
                             'task_state': None}
        self.knobs[sid] = knobs

    def wall(self, t=None):
        return (BASE + datetime.timedelta(seconds=self.t if t is None
                                          else t)).isoformat()

    # -- time --------------------------------------------------------------

    def clock(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds
        self._advance()

    def _advance(self):
        for m in self.migrations_:
            if m['status'] in ('completed', 'failed', 'error', 'cancelled',
                               'confirmed', 'finished'):
                continue
            srv = self.servers[m['instance_uuid']]
            knobs = self.knobs[m['instance_uuid']]
            age = self.t - m['_t0']
            if m['migration_type'] == 'live-migration':
                if m['status'] == 'queued' and age >= 1:
                    m['status'] = 'running'
                if m['status'] != 'running':
                    continue
                hold = knobs.get('hold', 2)
                if m.get('_force'):
                    self._end(m, 'completed')
                elif knobs.get('stall'):
                    m['_remaining'] = 500
                elif age >= 1 + hold:
                    self._end(m, 'failed' if knobs.get('fail')
                              else 'completed')
                else:
                    m['_remaining'] = max(1, int(1000 * (1 - (age - 1) /
                                                         hold)))
            else:
                if age >= 2:
                    m['status'] = 'finished'
                    srv.update(status='VERIFY_RESIZE', host=m['dest_compute'],
                               task_state=None)
                    self._close(m)
            m['updated_at'] = self.wall()

    def _end(self, m, status):
        srv = self.servers[m['instance_uuid']]
        m['status'] = status
        srv['task_state'] = None
        srv['status'] = m['_before']
        if status == 'completed':
            srv['host'] = m['dest_compute']
        if status == 'failed':
            self._event(m, 'Error', 'live migration failed: rolled back')
        self._close(m)

    def _close(self, m):
        self.intervals.append((m['id'], m['source_compute'],
                               m['dest_compute'], m['_t0'], self.t))

    def _event(self, m, result, details):
        act = copy.deepcopy(ACTION)
        act.update(action='live-migration' if m['migration_type'] ==
                   'live-migration' else 'migrate',
                   instance_uuid=m['instance_uuid'],
                   request_id='req-%s' % m['id'], message='Error',
                   start_time=m['created_at'])
        act['events'][0].update(event='conductor_migrate_server',
                                result=result, details=details)
        self.actions.setdefault(m['instance_uuid'], []).append(act)

    def _new(self, sid, mtype, host, status):
        srv = self.servers[sid]
        knobs = self.knobs[sid]
        if srv['task_state'] or srv['status'] not in (
                ('ACTIVE', 'PAUSED') if mtype == 'live-migration'
                else ('ACTIVE', 'SHUTOFF')):
            raise sdk_exc.ConflictException(
                'Cannot migrate instance %s while it is in vm_state %s'
                % (sid, srv['status']))
        dest = host or sorted({'compute1', 'compute2', 'compute3'} -
                              {srv['host']})[0]
        m = dict(OS_MIGRATION)
        m.update(id=len(self.migrations_) + 1, instance_uuid=sid,
                 migration_type=mtype, source_compute=srv['host'],
                 dest_compute=dest, status=status,
                 created_at=self.wall(), updated_at=self.wall(),
                 uuid='uuid-%d' % (len(self.migrations_) + 1),
                 _t0=self.t, _before=srv['status'])
        self.migrations_.append(m)
        if dest in knobs.get('novalid', ()):
            m['status'] = 'error'
            self._event(m, 'Error', 'No valid host was found. There are '
                        'not enough hosts available.')
            self._close(m)
            return
        srv['task_state'] = ('migrating' if mtype == 'live-migration'
                             else 'resize_prep')
        srv['status'] = 'MIGRATING' if mtype == 'live-migration' else \
            'RESIZE'

    # -- compute proxy -----------------------------------------------------

    def get_endpoint_data(self):
        return types.SimpleNamespace(min_microversion=(2, 1),
                                     max_microversion=(2, 104))

    def live_migrate_server(self, sid, host=None, block_migration=None):
        with self.lock:
            self.calls.append(('live', sid, host))
            self._new(sid, 'live-migration', host, 'queued')

    def migrate_server(self, sid, host=None):
        with self.lock:
            self.calls.append(('cold', sid, host))
            self._new(sid, 'migration', host, 'pre-migrating')

    def confirm_server_resize(self, sid):
        self.calls.append(('confirm', sid))
        srv = self.servers[sid]
        if srv['status'] != 'VERIFY_RESIZE':
            raise sdk_exc.ConflictException('not in VERIFY_RESIZE')
        m = [m for m in self.migrations_ if m['instance_uuid'] == sid][-1]
        m['status'] = 'confirmed'
        m['updated_at'] = self.wall()
        srv['status'] = m['_before']

    def services(self, binary=None):
        """nova-compute services; ``self.down`` / ``self.disabled`` hosts."""
        self.calls.append(('services',))
        return [types.SimpleNamespace(
            id='svc-%s' % host, host=host, binary='nova-compute',
            status='disabled' if host in self.disabled else 'enabled',
            state='down' if host in self.down else 'up',
            is_forced_down=False, availability_zone='nova',
            disabled_reason=self.disabled.get(host))
            for host in ('compute1', 'compute2', 'compute3')]

    def get_server(self, sid):
        srv = self.servers[sid]
        return types.SimpleNamespace(id=sid, status=srv['status'],
                                     compute_host=srv['host'],
                                     task_state=srv['task_state'])

    def migrations(self, host=None, server_id=None, **query):
        self.calls.append(('list', host or server_id))
        out = []
        for m in self.migrations_:
            if host and host not in (m['source_compute'],
                                     m['dest_compute']):
                continue
            if server_id and m['instance_uuid'] != server_id:
                continue
            out.append({k: v for k, v in m.items()
                        if not k.startswith('_')})
        return out

    def server_migrations(self, sid):
        self.calls.append(('progress', sid))
        out = []
        for m in self.migrations_:
            if m['instance_uuid'] == sid and m['status'] == 'running':
                rec = dict(SERVER_MIGRATION)
                rec.update(id=m['id'], server_uuid=sid, status='running',
                           source_compute=m['source_compute'],
                           dest_compute=m['dest_compute'],
                           memory_total_bytes=1000,
                           memory_processed_bytes=1000 - m.get(
                               '_remaining', 1000) + 1,
                           memory_remaining_bytes=m.get('_remaining', 1000))
                out.append(rec)
        return out

    def abort_server_migration(self, mid, sid, ignore_missing=False):
        self.calls.append(('abort', mid))
        m = [m for m in self.migrations_ if m['id'] == mid][0]
        m['status'] = 'cancelled'
        srv = self.servers[sid]
        srv.update(status=m['_before'], task_state=None)
        self._close(m)

    def force_complete_server_migration(self, mid, sid):
        self.calls.append(('force', mid))
        m = [m for m in self.migrations_ if m['id'] == mid][0]
        m['_force'] = True

    def server_actions(self, sid):
        return [types.SimpleNamespace(**{k: v for k, v in a.items()
                                         if k != 'events'})
                for a in self.actions.get(sid, [])]

    def get_server_action(self, request_id, sid, ignore_missing=True):
        for a in self.actions.get(sid, []):
            if a['request_id'] == request_id:
                return types.SimpleNamespace(**a)
        return None


def item(sid, action=drain.LIVE, host='compute1', status='ACTIVE',
         candidates=None):
    return drain.Item(id=sid, name=sid, project_id='p',
                      original_host=host, original_status=status,
                      action=action, candidates=candidates)


class DrainRun:
    """Run a drain on a FakeNova; keep the events and reports written."""

    def __init__(self, nova, items, options,
                 dest_hosts=('compute2', 'compute3')):
        self.nova = nova
        self.lines = []
        self.reports = []
        self.report = report_mod.new_report('drain', ['compute1'], {})
        self.drain = drain.Drain(
            drain.Actions(nova), self._watcher, items, options, self.report,
            report_path='/nowhere.json', on_event=self._event,
            dest_hosts=dest_hosts, clock=nova.clock, sleep=nova.sleep,
            write=self._write)

    def _watcher(self, host):
        stuck = self.drain.options.stuck_after or 1e9
        return watch.Watcher(self.nova, host=host, policy=watch.Policy(),
                             stuck_window=stuck,
                             rate_window=min(10.0, stuck), adopt_new=False,
                             clock=self.nova.clock)

    def _event(self, item, text):
        self.lines.append((item.id, text))

    def _write(self, path, data):
        self.reports.append(copy.deepcopy(data))

    def run(self):
        return self.drain.run()


def opts(**kw):
    kw.setdefault('poll_interval', 1.0)
    return drain.Options(**kw)


def refuse_after_record(nova, refused):
    """Make ``nova`` refuse live migrations the way real Nova 34 does.

    At 2.30 a request the scheduler refuses is answered 400 NoValidHost
    *after* the conductor created the migration record (status "error").
    ``refused(sid, host)`` picks the refused requests.
    """
    real = nova.live_migrate_server

    def live(sid, host=None, block_migration=None):
        real(sid, host=host, block_migration=block_migration)
        if refused(sid, host):
            raise sdk_exc.BadRequestException(
                'No valid host was found. Unable to move instance')
    nova.live_migrate_server = live


# ---------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------

class TestPlanServer(testtools.TestCase):

    def _server(self, status='ACTIVE', task=None):
        return drain.ServerInfo(id='s1', name='vm', project_id='p',
                                host='compute1', status=status,
                                task_state=task)

    def _move(self, kind, cands=('compute2',), reason=''):
        return cengine.Move('s1', kind, cands[0] if cands else None, None,
                            cands, reason)

    def test_states_without_verdict(self):
        cases = {
            'ACTIVE': (drain.LIVE, drain.PENDING),
            'PAUSED': (drain.LIVE, drain.PENDING),
            'SHUTOFF': (drain.COLD, drain.PENDING),
            'SHELVED_OFFLOADED': (drain.NONE, drain.NOTHING),
            'ERROR': (drain.SKIP, drain.SKIPPED),
            'SUSPENDED': (drain.SKIP, drain.SKIPPED),
            'RESCUE': (drain.SKIP, drain.SKIPPED),
        }
        for status, (action, state) in cases.items():
            it = drain.plan_server(self._server(status), None, opts())
            self.assertEqual((action, state), (it.action, it.state), status)
            self.assertTrue(it.reason, status)

    def test_task_in_progress_skipped_with_reason(self):
        it = drain.plan_server(self._server(task='rebooting'), None, opts())
        self.assertEqual(drain.SKIPPED, it.state)
        self.assertIn('rebooting', it.reason)

    def test_no_live(self):
        it = drain.plan_server(self._server('ACTIVE'), None,
                               opts(no_live=True))
        self.assertEqual(drain.COLD, it.action)
        it = drain.plan_server(self._server('PAUSED'), None,
                               opts(no_live=True))
        self.assertEqual(drain.SKIPPED, it.state)

    def test_move_from_constraint_library(self):
        it = drain.plan_server(self._server(), self._move(
            'cold', ('compute3',)), opts())
        self.assertEqual(drain.COLD, it.action)
        self.assertEqual(('compute3',), it.candidates)
        self.assertIn('cannot go live', it.reason)

    def test_no_destination(self):
        it = drain.plan_server(self._server(), self._move(
            None, (), 'sriov: SR-IOV port'), opts())
        self.assertEqual(drain.SKIPPED, it.state)
        self.assertTrue(it.no_destination)
        self.assertIn('SR-IOV', it.reason)

    def test_plan_order(self):
        servers = [drain.ServerInfo('a', 'z-off', 'p', 'c1', 'SHUTOFF'),
                   drain.ServerInfo('b', 'b-err', 'p', 'c1', 'ERROR'),
                   drain.ServerInfo('c', 'y-on', 'p', 'c1', 'ACTIVE')]
        items = drain.plan(servers, {}, opts())
        self.assertEqual(['c', 'a', 'b'], [i.id for i in items])

    def test_kinds_for(self):
        self.assertEqual(('live', 'cold'), drain.kinds_for(
            self._server('ACTIVE'), opts()))
        self.assertEqual(('cold',), drain.kinds_for(
            self._server('ACTIVE'), opts(no_live=True)))
        self.assertEqual(('cold',), drain.kinds_for(
            self._server('SHUTOFF'), opts()))

    def test_destination_label(self):
        it = item('x', candidates=('compute2', 'compute3'))
        self.assertIn('compute2, compute3', drain.destination_label(
            it, opts(), lambda a: True))
        self.assertEqual('scheduler', drain.destination_label(
            it, opts(), lambda a: False))
        self.assertEqual('scheduler', drain.destination_label(
            item('y'), opts(max_per_target=0), lambda a: True))


class TestSlots(testtools.TestCase):

    def test_per_source_limit(self):
        slots = drain.Slots(2, 0)
        for n in range(2):
            ok, _t = slots.choose('c1', None, True, ('c2', 'c3'))
            self.assertTrue(ok)
            slots.start(str(n), 'c1', None)
        self.assertEqual((False, None),
                         slots.choose('c1', None, True, ('c2', 'c3')))
        self.assertTrue(slots.choose('c4', None, True, ('c2', 'c3'))[0])
        slots.finish('0')
        self.assertTrue(slots.choose('c1', None, True, ('c2', 'c3'))[0])

    def test_per_target_least_busy(self):
        slots = drain.Slots(5, 1)
        ok, target = slots.choose('c1', None, True, ('c2', 'c3'))
        self.assertEqual((True, 'c2'), (ok, target))
        slots.start('a', 'c1', 'c2')
        self.assertEqual((True, 'c3'),
                         slots.choose('c1', None, True, ('c2', 'c3')))
        slots.start('b', 'c1', 'c3')
        self.assertEqual((False, None),
                         slots.choose('c1', None, True, ('c2', 'c3')))
        slots.finish('a')
        # c2 and c3 both received one: the free one is chosen.
        self.assertEqual((True, 'c2'),
                         slots.choose('c1', None, True, ('c2', 'c3')))

    def test_candidates_restrict(self):
        slots = drain.Slots(5, 1)
        slots.start('a', 'c1', 'c3')
        self.assertEqual((False, None),
                         slots.choose('c1', ('c3',), True, ('c2', 'c3')))
        self.assertEqual((False, None),
                         slots.choose('c1', (), True, ('c2', 'c3')))

    def test_scheduler_placement_is_conservative(self):
        slots = drain.Slots(5, 1)
        self.assertEqual((True, None),
                         slots.choose('c1', None, False, ('c2', 'c3')))
        slots.start('a', 'c1', None)
        # Unplaced: nothing else goes to the scheduler.
        self.assertEqual((False, None),
                         slots.choose('c1', None, False, ('c2', 'c3')))
        slots.place('a', 'c2')
        # c2 is busy: the scheduler could pick it.
        self.assertEqual((False, None),
                         slots.choose('c1', None, False, ('c2', 'c3')))
        slots.finish('a')
        self.assertEqual((True, None),
                         slots.choose('c1', None, False, ('c2', 'c3')))

    def test_no_target_limit_lets_scheduler_place(self):
        slots = drain.Slots(5, 0)
        self.assertEqual((True, None),
                         slots.choose('c1', None, True, ('c2', 'c3')))


class TestStatus(testtools.TestCase):

    def test_exit_status(self):
        done = item('a')
        done.state = drain.DONE
        shelved = item('b', action=drain.NONE)
        shelved.state = drain.NOTHING
        self.assertEqual(exitcodes.OK, drain.exit_status([done, shelved]))
        failed = item('c')
        failed.state = drain.FAILED
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE,
                         drain.exit_status([done, failed]))
        self.assertEqual(exitcodes.DRAIN_INTERRUPTED,
                         drain.exit_status([done, failed], True))
        late = item('d')
        late.state = drain.TIMEOUT
        self.assertEqual(exitcodes.TIMEOUT, drain.exit_status([done, late]))
        skipped = item('e', action=drain.SKIP)
        skipped.state = drain.SKIPPED
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE,
                         drain.exit_status([skipped]))

    def test_summary(self):
        items = [item(str(n)) for n in range(5)]
        items[0].state = items[1].state = drain.DONE
        items[2].state = drain.MIGRATING
        items[3].state = drain.FAILED
        self.assertEqual('2/5 moved, 1 running, 1 failed, 1 waiting',
                         drain.summary(items))

    def test_merge_previous(self):
        done = item('done')
        done.state = drain.DONE
        flying = item('flying')
        flying.state, flying.migration_id = drain.MIGRATING, 7
        failed = item('failed')
        failed.state = drain.FAILED
        gone = item('gone')
        gone.state = drain.NOT_STARTED
        previous = [i.to_dict() for i in (done, flying, failed, gone)]
        # Now on the host: flying (task_state set: skipped by the new plan)
        # and failed (planned again); plus a new server.
        new_flying = item('flying', action=drain.SKIP)
        new_flying.state = drain.SKIPPED
        merged = drain.merge_previous(
            [new_flying, item('failed'), item('new')], previous)
        by_id = {i.id: i for i in merged}
        self.assertEqual(drain.DONE, by_id['done'].state)
        self.assertEqual((drain.MIGRATING, 7), (by_id['flying'].state,
                                                by_id['flying'].migration_id))
        self.assertEqual(drain.PENDING, by_id['failed'].state)
        self.assertEqual(drain.LEFT_HOST, by_id['gone'].state)
        self.assertEqual(drain.PENDING, by_id['new'].state)

    def test_item_round_trip(self):
        it = item('a', candidates=('c2',))
        it.state, it.migration_id, it.error = drain.FAILED, 3, 'boom'
        back = drain.Item.from_dict(json.loads(json.dumps(it.to_dict())))
        self.assertEqual(it.to_dict(), back.to_dict())


# ---------------------------------------------------------------------------
# Execution against FakeNova
# ---------------------------------------------------------------------------

def max_overlap(intervals, key):
    """Highest number of intervals sharing ``key`` at one instant."""
    best = 0
    for _mid, src, dst, start, end in intervals:
        k = src if key == 'source' else dst
        at = sum(1 for _m, s2, d2, b, e in intervals
                 if (s2 if key == 'source' else d2) == k and
                 b <= start < e)
        best = max(best, at)
    return best


class TestDrainRun(testtools.TestCase):

    def test_mixed_drain_respects_limits(self):
        nova = FakeNova()
        items = []
        for n in range(6):
            nova.add('live%d' % n, hold=3)
            items.append(item('live%d' % n))
        nova.add('off', status='SHUTOFF')
        items.append(item('off', drain.COLD, status='SHUTOFF'))
        run = DrainRun(nova, items, opts(max_parallel=2, max_per_target=1))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual({drain.DONE}, {i.state for i in items})
        for sid, srv in nova.servers.items():
            self.assertNotEqual('compute1', srv['host'])
        self.assertEqual('SHUTOFF', nova.servers['off']['status'])
        self.assertIn(('confirm', 'off'), nova.calls)
        self.assertEqual(7, len(nova.intervals))
        self.assertLessEqual(max_overlap(nova.intervals, 'source'), 2)
        self.assertLessEqual(max_overlap(nova.intervals, 'dest'), 1)
        self.assertEqual(2, max_overlap(nova.intervals, 'source'))
        self.assertEqual('complete', run.report['state'])
        # The report was written after every change.
        self.assertGreater(len(run.reports), 14)

    def test_one_list_per_poll_per_source_host(self):
        nova = FakeNova()
        for n in range(3):
            nova.add('s%d' % n, hold=4)
        items = [item('s%d' % n) for n in range(3)]
        run = DrainRun(nova, items, opts(max_parallel=3, max_per_target=0,
                                         stuck_after=None))
        run.run()
        lists = [c for c in nova.calls if c[0] == 'list']
        polls = nova.t / 1.0
        # One os-migrations list per poll for the single source host, plus
        # the baseline; the per-server lists are not per poll.
        self.assertLessEqual(len([c for c in lists if c[1] == 'compute1']),
                             polls + 2)

    def test_rolled_back_live_migration_is_a_failure(self):
        nova = FakeNova()
        nova.add('bad', hold=1, fail=True)
        nova.add('good')
        items = [item('bad'), item('good')]
        run = DrainRun(nova, items, opts(max_parallel=1, max_failures=1))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        by_id = {i.id: i for i in items}
        self.assertEqual(drain.FAILED, by_id['bad'].state)
        self.assertIn('rolled back', by_id['bad'].error)
        self.assertIn('live migration failed', by_id['bad'].error)
        # --max-failures 1: the second server was not started.
        self.assertEqual(drain.NOT_STARTED, by_id['good'].state)
        self.assertEqual('compute1', nova.servers['good']['host'])
        self.assertEqual('incomplete', run.report['state'])

    def test_max_failures_two_keeps_going(self):
        nova = FakeNova()
        nova.add('bad', hold=1, fail=True)
        nova.add('good')
        items = [item('bad'), item('good')]
        run = DrainRun(nova, items, opts(max_parallel=1, max_failures=2))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.DONE, items[1].state)

    def test_retry_on_no_valid_host(self):
        nova = FakeNova()
        nova.add('s', novalid=('compute2',))
        items = [item('s')]
        run = DrainRun(nova, items, opts(retry=True))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual('compute3', nova.servers['s']['host'])
        self.assertEqual(2, items[0].attempts)
        hosts = [c[2] for c in nova.calls if c[0] == 'live']
        self.assertEqual(['compute2', 'compute3'], hosts)

    def test_no_valid_host_without_retry(self):
        nova = FakeNova()
        nova.add('s', novalid=('compute2',))
        items = [item('s')]
        run = DrainRun(nova, items, opts())
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertIn('No valid host', items[0].error)

    def test_refused_request(self):
        nova = FakeNova()
        nova.add('s')
        nova.servers['s']['task_state'] = 'rebooting'
        items = [item('s')]
        run = DrainRun(nova, items, opts())
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.FAILED, items[0].state)
        self.assertIn('Cannot migrate', items[0].error)

    def test_stuck_abort_keeps_guest_on_source(self):
        nova = FakeNova()
        nova.add('s', stall=True)
        items = [item('s')]
        run = DrainRun(nova, items, opts(stuck_after=5, on_stuck='abort'))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.ABORTED, items[0].state)
        self.assertIn('stuck', items[0].error)
        self.assertIn(('abort', 1), nova.calls)
        self.assertEqual(('compute1', 'ACTIVE'), (
            nova.servers['s']['host'], nova.servers['s']['status']))

    def test_stuck_force_complete(self):
        nova = FakeNova()
        nova.add('s', stall=True)
        items = [item('s')]
        run = DrainRun(nova, items, opts(stuck_after=5,
                                         on_stuck='force-complete'))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertIn(('force', 1), nova.calls)
        self.assertEqual(drain.DONE, items[0].state)

    def test_stuck_wait_then_timeout(self):
        nova = FakeNova()
        nova.add('s', stall=True)
        items = [item('s')]
        run = DrainRun(nova, items, opts(stuck_after=3, on_stuck='wait',
                                         timeout=20))
        self.assertEqual(exitcodes.TIMEOUT, run.run())
        self.assertEqual(drain.TIMEOUT, items[0].state)
        self.assertTrue(any('waiting' in text for _s, text in run.lines))
        self.assertIn(('abort', 1), nova.calls)

    def test_no_confirm(self):
        nova = FakeNova()
        nova.add('off', status='SHUTOFF')
        items = [item('off', drain.COLD, status='SHUTOFF')]
        run = DrainRun(nova, items, opts(confirm=False))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(drain.UNCONFIRMED, items[0].state)
        self.assertNotIn(('confirm', 'off'), nova.calls)
        self.assertEqual('VERIFY_RESIZE', nova.servers['off']['status'])

    def test_interrupt_aborts_and_stops(self):
        nova = FakeNova()
        for n in range(4):
            nova.add('s%d' % n, hold=30)
        items = [item('s%d' % n) for n in range(4)]
        run = DrainRun(nova, items, opts(max_parallel=2, max_per_target=0,
                                         grace_period=10))
        real_sleep = nova.sleep

        def sleep(seconds):
            real_sleep(seconds)
            if nova.t >= 3 and run.drain.interrupted is None:
                run.drain.request_stop('SIGINT')
        run.drain.sleep = sleep
        self.assertEqual(exitcodes.DRAIN_INTERRUPTED, run.run())
        states = sorted(i.state for i in items)
        self.assertEqual([drain.ABORTED, drain.ABORTED, drain.NOT_STARTED,
                          drain.NOT_STARTED], states)
        self.assertEqual('interrupted', run.report['state'])
        for sid in ('s0', 's1'):
            self.assertEqual('compute1', nova.servers[sid]['host'])

    def test_signal_before_the_drain_exists_is_not_lost(self):
        # A SIGTERM between the first report write and the start of the
        # run (services being disabled) must end the drain "interrupted",
        # starting nothing, not kill it with the service left disabled.
        nova = FakeNova()
        for n in range(3):
            nova.add('s%d' % n, hold=4)
        items = [item('s%d' % n) for n in range(3)]
        run = DrainRun(nova, items, opts(max_parallel=2, max_per_target=0))
        signals = drain.Signals()
        signals._handler(signal.SIGTERM, None)
        self.assertEqual(['SIGTERM'], signals.pending)
        signals.attach(run.drain)
        self.assertEqual('SIGTERM', run.drain.interrupted)
        self.assertEqual(exitcodes.DRAIN_INTERRUPTED, run.run())
        self.assertEqual({drain.NOT_STARTED}, {i.state for i in items})
        self.assertEqual('interrupted', run.report['state'])
        self.assertEqual([], nova.intervals)

    def test_interrupt_wait_then_resume(self):
        nova = FakeNova()
        for n in range(3):
            nova.add('s%d' % n, hold=4)
        items = [item('s%d' % n) for n in range(3)]
        run = DrainRun(nova, items, opts(max_parallel=1, max_per_target=0,
                                         on_interrupt='wait',
                                         grace_period=1))
        real_sleep = nova.sleep

        def sleep(seconds):
            real_sleep(seconds)
            if nova.t >= 2 and run.drain.interrupted is None:
                run.drain.request_stop('SIGTERM')
        run.drain.sleep = sleep
        self.assertEqual(exitcodes.DRAIN_INTERRUPTED, run.run())
        first = run.report['servers']
        self.assertEqual([drain.MIGRATING, drain.NOT_STARTED,
                          drain.NOT_STARTED], [e['state'] for e in first])
        # Resume: the in-flight migration is followed, not submitted again.
        previous = copy.deepcopy(first)
        fresh = [item('s1'), item('s2')]
        merged = drain.merge_previous(fresh, previous)
        run2 = DrainRun(nova, merged, opts(max_parallel=1,
                                           max_per_target=0))
        self.assertEqual(exitcodes.OK, run2.run())
        self.assertEqual(3, len([c for c in nova.calls if c[0] == 'live']))
        self.assertEqual({drain.DONE}, {i.state for i in merged})

    def test_second_signal_stops_watching(self):
        nova = FakeNova()
        nova.add('s', stall=True)
        items = [item('s')]
        run = DrainRun(nova, items, opts(on_interrupt='wait',
                                         grace_period=1000))
        real_sleep = nova.sleep

        def sleep(seconds):
            real_sleep(seconds)
            if nova.t >= 3:
                run.drain.request_stop('SIGINT')
        run.drain.sleep = sleep
        self.assertEqual(exitcodes.DRAIN_INTERRUPTED, run.run())
        self.assertEqual(drain.MIGRATING, items[0].state)
        self.assertIn('run the drain again', items[0].error)
        self.assertLess(nova.t, 10)

    def test_refusal_does_not_end_the_drain(self):
        nova = FakeNova()
        nova.add('a')
        nova.servers['a']['task_state'] = 'rebooting'
        nova.add('b')
        items = [item('a'), item('b')]
        run = DrainRun(nova, items, opts(max_failures=0))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual([drain.FAILED, drain.DONE],
                         [i.state for i in items])

    def test_no_usable_destination_ends(self):
        nova = FakeNova()
        nova.add('a')
        items = [item('a', candidates=('compute1',))]
        run = DrainRun(nova, items, opts())
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.NOT_STARTED, items[0].state)
        self.assertIn('no allowed destination', items[0].error)
        self.assertEqual([], [c for c in nova.calls if c[0] == 'live'])


class TestJobReports(testtools.TestCase):
    """Which report a drain continues from (resume / rerun / archive)."""

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.useFixture(fixtures.EnvironmentVariable('XDG_STATE_HOME',
                                                     self.dir))

    def job(self, hosts=('compute1',), **kw):
        return drain.Job(None, None, list(hosts), opts(), **kw)

    def write(self, state='interrupted', hosts=('compute1',), path=None):
        data = report_mod.new_report('drain', list(hosts), {})
        data['state'] = state
        path = path or report_mod.default_path(list(hosts))
        report_mod.write_atomic(path, data)
        return path

    def test_rerun_continues_unfinished_report(self):
        self.write('interrupted')
        job = self.job()
        self.assertEqual('interrupted', job._load_previous(False)['state'])

    def test_complete_report_is_archived(self):
        path = self.write('complete')
        job = self.job()
        self.assertIsNone(job._load_previous(False))
        self.assertFalse(os.path.exists(path))
        self.assertEqual(1, len(job.notes))
        archived = os.listdir(os.path.dirname(path))
        self.assertEqual(1, len(archived))
        self.assertTrue(archived[0].startswith('drain-compute1-'))

    def test_resume_of_other_hosts_refused(self):
        path = self.write(hosts=('compute2',), path=os.path.join(
            self.dir, 'r.json'))
        job = self.job(resume=path)
        exc = self.assertRaises(drain.DrainError, job._load_previous, False)
        self.assertIn('compute2', str(exc))

    def test_explicit_report_of_other_job_refused(self):
        path = self.write(hosts=('compute2',), path=os.path.join(
            self.dir, 'r.json'))
        job = self.job(report_path=path)
        self.assertRaises(drain.DrainError, job._load_previous, True)

    def test_corrupt_report(self):
        path = os.path.join(self.dir, 'bad.json')
        with open(path, 'w') as stream:
            stream.write('[')
        job = self.job(resume=path)
        exc = self.assertRaises(drain.DrainError, job._load_previous, False)
        self.assertIn('not valid JSON', str(exc))

    def test_gate(self):
        job = self.job()
        blocked = item('x', action=drain.SKIP)
        blocked.state, blocked.no_destination = drain.SKIPPED, True
        blocked.reason = 'no destination can take it: sriov'
        job.items = [blocked, item('y')]
        exc = self.assertRaises(drain.DrainError, job._gate)
        self.assertIn('--allow-partial', str(exc))
        job.options.allow_partial = True
        job._gate()

    def test_target_aggregate_hosts(self):
        compute = types.SimpleNamespace(
            find_aggregate=lambda name, ignore_missing: types.SimpleNamespace(
                hosts=['compute1', 'compute3']))
        job = drain.Job(compute, None, ['compute1'], opts())
        self.assertEqual(['compute3'], job._aggregate_hosts('agg'))

        def missing(name, ignore_missing):
            raise sdk_exc.NotFoundException('no such aggregate')
        job.actions = drain.Actions(
            types.SimpleNamespace(find_aggregate=missing))
        exc = self.assertRaises(drain.DrainError, job._aggregate_hosts,
                                'agg')
        self.assertIn('No aggregate named agg', str(exc))

    def test_unwritable_report_changes_nothing(self):
        path = os.path.join(self.dir, 'plainfile')
        with open(path, 'w') as stream:
            stream.write('x')
        job = self.job(report_path=os.path.join(path, 'r.json'))
        job.items = [item('a')]
        # compute is None: any cloud call would raise AttributeError.
        exc = self.assertRaises(drain.DrainError, job.execute)
        self.assertIn('Cannot write the report', str(exc))
        self.assertIn('plainfile', str(exc))


class TestProgressLog(testtools.TestCase):

    def _log(self, tty):
        stream = io.StringIO()
        log = drain.ProgressLog(stream, tty=tty)
        a, b = item('a'), item('b')
        log.items = [a, b]
        a.state = drain.MIGRATING
        log(a, 'migration 1 running')
        a.state = drain.DONE
        log(a, 'done: on compute2, ACTIVE')
        log.close()
        return stream.getvalue()

    def test_plain_lines_when_not_a_tty(self):
        out = self._log(False)
        lines = out.splitlines()
        self.assertEqual(2, len(lines))
        self.assertIn('a (compute1) live: migration 1 running', lines[0])
        self.assertNotIn('\r', out)
        self.assertNotIn('moved', out)

    def test_summary_line_on_a_tty(self):
        out = self._log(True)
        self.assertIn('0/2 moved, 1 running, 1 waiting', out)
        self.assertIn('\r\033[K', out)
        self.assertTrue(out.endswith('1/2 moved, 1 waiting\n'))


class TestSyncNoValidHost(testtools.TestCase):
    """OSC / SDK live migration at 2.30: NoValidHost is a 400 at once."""

    def test_retry_after_synchronous_refusal(self):
        nova = FakeNova()
        nova.add('s')
        real = nova.live_migrate_server

        def live(sid, host=None, block_migration=None):
            if host == 'compute2':
                nova.calls.append(('live', sid, host))
                raise sdk_exc.BadRequestException(
                    'No valid host was found. Unable to move instance')
            return real(sid, host=host, block_migration=block_migration)
        nova.live_migrate_server = live
        items = [item('s')]
        run = DrainRun(nova, items, opts(retry=True))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(['compute2', 'compute3'],
                         [c[2] for c in nova.calls if c[0] == 'live'])
        self.assertEqual(drain.DONE, items[0].state)

    def test_retry_after_refusal_that_left_an_error_record(self):
        # Real Nova 34 at 2.30: the 400 NoValidHost comes after the
        # conductor created the migration record (status "error").  The
        # retry must follow its own migration, not that record.
        nova = FakeNova()
        nova.add('s', novalid=('compute2',))
        refuse_after_record(nova, lambda sid, host: host == 'compute2')
        items = [item('s')]
        run = DrainRun(nova, items, opts(retry=True))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(['error', 'completed'],
                         [m['status'] for m in nova.migrations_])
        self.assertEqual((drain.DONE, 'compute3', 2, 2),
                         (items[0].state, items[0].final_host,
                          items[0].attempts, items[0].migration_id))
        self.assertEqual('compute3', nova.servers['s']['host'])


class TestNoDestinationAtAll(testtools.TestCase):

    def test_every_movable_server_is_skipped(self):
        job = drain.Job(None, None, ['compute1'], opts(allow_partial=True))
        job.dest_hosts = ()
        servers = [drain.ServerInfo('a', 'a', 'p', 'compute1', 'ACTIVE'),
                   drain.ServerInfo('b', 'b', 'p', 'compute1', 'SHUTOFF'),
                   drain.ServerInfo('c', 'c', 'p', 'compute1', 'ERROR')]
        items = drain.plan(servers, job._moves(servers), job.options)
        by_id = {i.id: i for i in items}
        for sid in ('a', 'b'):
            self.assertEqual(drain.SKIPPED, by_id[sid].state)
            self.assertTrue(by_id[sid].no_destination)
            self.assertIn('no enabled and up', by_id[sid].reason)
        self.assertFalse(by_id['c'].no_destination)


# ---------------------------------------------------------------------------
# Destinations re-checked at submit time (issue #4)
# ---------------------------------------------------------------------------

def service(host, status='enabled', state='up', forced_down=False,
            reason=None):
    from migrationclient.cloud import services
    return services.ComputeService(id='svc-' + host, host=host,
                                   status=status, state=state,
                                   forced_down=forced_down,
                                   disabled_reason=reason, zone='nova')


class TestUsableDestinations(testtools.TestCase):

    def test_unusable_hosts(self):
        found = drain.unusable_hosts([
            service('c1', status='disabled', reason='maintenance'),
            service('c2', state='down'),
            service('c3', forced_down=True),
            service('c4')])
        self.assertEqual({
            'c1': 'nova-compute is disabled (maintenance)',
            'c2': 'nova-compute is down',
            'c3': 'nova-compute is forced down'}, found)

    def test_named_candidates_lose_unusable_hosts(self):
        pool, cands, dropped = drain.usable_pool(
            ('c2', 'c3', 'c4'), ('c2', 'c3'), {'c2', 'c3', 'c4'},
            {'c3': 'nova-compute is down'})
        self.assertEqual((('c2', 'c4'), ('c2',)), (pool, cands))
        self.assertEqual({'c3': 'nova-compute is down'}, dropped)

    def test_scheduler_placement_keeps_none(self):
        pool, cands, dropped = drain.usable_pool(
            ('c2', 'c3'), None, {'c2', 'c3'}, {'c2': 'down'})
        self.assertEqual((('c3',), None, {'c2': 'down'}),
                         (pool, cands, dropped))

    def test_host_without_service_is_unusable(self):
        pool, cands, dropped = drain.usable_pool(
            ('c2', 'gone'), ('gone',), {'c2'}, {})
        self.assertEqual(((('c2',)), ()), (pool, cands))
        self.assertEqual({'gone': 'no nova-compute service'}, dropped)


class TestDestinationRecheck(testtools.TestCase):

    def test_target_down_mid_drain_next_goes_elsewhere(self):
        nova = FakeNova()
        nova.add('a', hold=3)
        nova.add('b')
        real_sleep = nova.sleep

        def sleep(seconds):
            real_sleep(seconds)
            if nova.t >= 2:
                nova.down.add('compute3')
        nova.sleep = sleep
        items = [item('a'), item('b')]
        run = DrainRun(nova, items, opts(max_parallel=1))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual([('live', 'a', 'compute2'),
                          ('live', 'b', 'compute2')],
                         [c for c in nova.calls if c[0] == 'live'])
        # Read once per submission, never while nothing could start.
        self.assertEqual(2, nova.calls.count(('services',)))
        texts = [t for _i, t in run.lines]
        self.assertIn('compute3 is not used as a destination: nova-compute '
                      'is down', texts)
        self.assertIn('live migration to compute2 submitted (not to '
                      'compute3: nova-compute is down)', texts)
        self.assertTrue([n for n in run.report['notes']
                         if 'compute3 is not used' in n])

    def test_disabled_target_is_left_out_and_back_again(self):
        nova = FakeNova()
        nova.disabled['compute2'] = 'other maintenance'
        for sid in ('a', 'b'):
            nova.add(sid, hold=1)
        items = [item('a'), item('b')]
        real_sleep = nova.sleep

        def sleep(seconds):
            real_sleep(seconds)
            if nova.t >= 2:
                nova.disabled.clear()
        nova.sleep = sleep
        run = DrainRun(nova, items, opts(max_parallel=1))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(['compute3', 'compute2'],
                         [c[2] for c in nova.calls if c[0] == 'live'])
        texts = [t for _i, t in run.lines]
        self.assertIn('compute2 is usable again as a destination', texts)

    def test_every_candidate_unusable_skips_with_reason(self):
        nova = FakeNova()
        nova.add('a')
        nova.add('b')
        nova.down.add('compute3')
        items = [item('a', candidates=('compute3',)), item('b')]
        run = DrainRun(nova, items, opts())
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual((drain.SKIPPED, drain.DONE),
                         (items[0].state, items[1].state))
        self.assertIn('compute3: nova-compute is down', items[0].error)
        self.assertEqual([('live', 'b', 'compute2')],
                         [c for c in nova.calls if c[0] == 'live'])

    def test_no_services_request_while_polling_only(self):
        nova = FakeNova()
        nova.add('a', hold=8)
        items = [item('a')]
        run = DrainRun(nova, items, opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(1, nova.calls.count(('services',)))

    def test_services_unreadable_keeps_going(self):
        nova = FakeNova()
        nova.add('a')

        def broken(binary=None):
            raise sdk_exc.HttpException('Service Unavailable',
                                        http_status=503)
        nova.services = broken
        items = [item('a')]
        run = DrainRun(nova, items, opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertTrue([t for _i, t in run.lines
                         if t.startswith('cannot list the compute services')])


# ---------------------------------------------------------------------------
# Faults after the libraries' retries (issue #9)
# ---------------------------------------------------------------------------

class TestSubmitErrors(testtools.TestCase):

    def _wrap_live(self, nova, exc, process=True):
        real = nova.live_migrate_server

        def live(sid, host=None, block_migration=None):
            if process:
                real(sid, host=host, block_migration=block_migration)
            else:
                nova.calls.append(('live', sid, host))
            raise exc
        nova.live_migrate_server = live

    def test_lost_answer_of_an_accepted_request_is_followed(self):
        from keystoneauth1 import exceptions as ks_exc
        nova = FakeNova()
        nova.add('s')
        self._wrap_live(nova, ks_exc.ConnectFailure('Connection reset'))
        items = [item('s')]
        run = DrainRun(nova, items, opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual((drain.DONE, 1), (items[0].state,
                                           len(nova.migrations_)))
        self.assertTrue([t for _i, t in run.lines
                         if 'following its migration' in t])

    def test_lost_answer_of_an_unprocessed_request_fails_cleanly(self):
        from keystoneauth1 import exceptions as ks_exc
        nova = FakeNova()
        nova.add('s')
        self._wrap_live(nova, ks_exc.ConnectFailure('Connection reset'),
                        process=False)
        items = [item('s')]
        run = DrainRun(nova, items, opts())
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual(drain.FAILED, items[0].state)
        self.assertIn('Connection reset', items[0].error)
        self.assertEqual('ACTIVE', nova.servers['s']['status'])

    def test_conflict_from_a_resent_request_is_followed(self):
        # keystoneauth's connect_retries sent the POST again after its
        # first answer was lost: Nova refuses the copy, the server is
        # migrating.
        nova = FakeNova()
        nova.add('s')
        self._wrap_live(nova, sdk_exc.ConflictException(
            'Cannot live-migrate instance while it is in task_state '
            'migrating', http_status=409))
        items = [item('s')]
        run = DrainRun(nova, items, opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(drain.DONE, items[0].state)

    def test_server_error_500_not_processed_is_refused(self):
        nova = FakeNova()
        nova.add('s')
        nova.add('t')
        self._wrap_live(nova, sdk_exc.HttpException(
            'Internal Server Error', http_status=500), process=False)
        items = [item('s'), item('t')]
        run = DrainRun(nova, items, opts(max_failures=0))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual([drain.FAILED, drain.FAILED],
                         [i.state for i in items])
        self.assertIn('Internal Server Error', items[0].error)


class TestPollErrors(testtools.TestCase):

    def _fail_lists(self, nova, when):
        real = nova.migrations

        def migrations(**query):
            if when(nova):
                nova.calls.append(('list-failed',))
                raise sdk_exc.HttpException('Service Unavailable',
                                            http_status=503)
            return real(**query)
        nova.migrations = migrations

    def test_a_few_failed_polls_are_survived(self):
        nova = FakeNova()
        nova.add('s', hold=4)
        self._fail_lists(nova, lambda n: 2 <= n.t < 4)
        items = [item('s')]
        run = DrainRun(nova, items, opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(drain.DONE, items[0].state)
        self.assertIn(('list-failed',), nova.calls)
        self.assertTrue([t for _i, t in run.lines
                         if t.startswith('cannot poll the migrations of '
                                         'compute1 (1/5 in a row)')])

    def test_persistent_failure_stops_watching_with_a_report(self):
        nova = FakeNova()
        nova.add('a', hold=30)
        nova.add('b')
        self._fail_lists(nova, lambda n: n.t >= 3)
        items = [item('a'), item('b')]
        run = DrainRun(nova, items, opts(max_parallel=1))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        self.assertEqual((drain.MIGRATING, drain.NOT_STARTED),
                         (items[0].state, items[1].state))
        self.assertIn('still in flight', items[0].error)
        self.assertIn('the cloud API failed 5 polls in a row',
                      items[1].error)
        self.assertEqual('incomplete', run.report['state'])

    def test_end_seen_by_a_poll_that_failed_later_is_applied(self):
        # The os-migrations list shows a completed; the progress read of
        # b (still running) fails: a's end must not be lost.
        nova = FakeNova()
        nova.add('a', hold=1)
        nova.add('b', hold=10)
        real = nova.server_migrations
        state = {'failed': False}

        def server_migrations(sid):
            done = [m for m in nova.migrations_ if m['instance_uuid'] == 'a'
                    and m['status'] == 'completed']
            if done and sid == 'b' and not state['failed']:
                state['failed'] = True
                raise sdk_exc.HttpException('Service Unavailable',
                                            http_status=503)
            return real(sid)
        nova.server_migrations = server_migrations
        items = [item('a'), item('b')]
        run = DrainRun(nova, items, opts(max_parallel=2, max_per_target=0))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertTrue(state['failed'])
        self.assertEqual([drain.DONE, drain.DONE], [i.state for i in items])

    def test_unreadable_server_after_the_end_is_not_gone(self):
        nova = FakeNova()
        nova.add('s', hold=1)
        real = nova.get_server
        failures = []

        def get_server(sid):
            if nova.servers[sid]['host'] != 'compute1' and len(failures) < 2:
                failures.append(sid)
                raise sdk_exc.HttpException('Bad Gateway', http_status=502)
            return real(sid)
        nova.get_server = get_server
        items = [item('s')]
        run = DrainRun(nova, items, opts())
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual(2, len(failures))
        self.assertEqual(drain.DONE, items[0].state)


class TestDisableFailure(testtools.TestCase):

    def test_report_says_nothing_started(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        nova = FakeNova()

        def disable_service(*args, **kwargs):
            raise sdk_exc.HttpException('Service Unavailable',
                                        http_status=503)
        nova.disable_service = disable_service
        path = os.path.join(tmp, 'r.json')
        job = drain.Job(nova, None, ['compute1'], opts(), report_path=path)
        job.services = {'compute1': service('compute1')}
        job.items = [item('a')]
        exc = self.assertRaises(drain.DrainError, job.execute)
        self.assertIn('Could not disable nova-compute on compute1', str(exc))
        data = report_mod.load(path)
        self.assertEqual('incomplete', data['state'])
        self.assertEqual([('not-started', str(exc))],
                         [(e['state'], e['error']) for e in data['servers']])


class TestSubmitRounds(testtools.TestCase):
    """The starts of a round go out together; polls keep their cadence."""

    def _nova(self, n, **knobs):
        nova = FakeNova()
        for i in range(n):
            nova.add('s%d' % i, **knobs)
        return nova

    def test_requests_of_a_round_are_in_flight_together(self):
        nova = self._nova(5, hold=3)
        real = nova.live_migrate_server
        # Nova answers a 2.30 live migration after its pre-checks: the
        # three requests of the first round must be waiting together.
        barrier = threading.Barrier(3, timeout=10)
        threads = set()

        def live(sid, host=None, block_migration=None):
            threads.add(threading.current_thread().name)
            if len(nova.calls) < 3:
                barrier.wait()
            return real(sid, host=host, block_migration=block_migration)
        nova.live_migrate_server = live
        items = [item('s%d' % i) for i in range(5)]
        run = DrainRun(nova, items, opts(max_parallel=3, max_per_target=0),
                       dest_hosts=('compute2', 'compute3'))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual([drain.DONE] * 5, [i.state for i in items])
        self.assertFalse(barrier.broken)
        self.assertGreaterEqual(len(threads), 3)
        # The limit holds: never more than 3 migrations at once.
        self.assertEqual(5, len(nova.intervals))
        self.assertEqual(3, max_overlap(nova.intervals, 'source'))
        # Each start was written to the report when it was accepted.
        submitted = [sum(1 for e in r['servers'] if e['state'] ==
                         drain.SUBMITTED) for r in run.reports]
        self.assertEqual([1, 2, 3], [n for n in submitted if n][:3])

    def test_accepted_requests_are_followed_before_a_refusal(self):
        # s1's request is refused (NoValidHost as a synchronous 400 after
        # Nova created an error record) in the round of s0 and s2: the
        # refusal's poll must not take the records of s0 and s2.
        nova = self._nova(3, hold=2)
        nova.knobs['s1']['novalid'] = ('compute2',)
        refuse_after_record(nova, lambda sid, host: sid == 's1')
        items = [item('s%d' % i) for i in range(3)]
        run = DrainRun(nova, items, opts(max_parallel=3, max_per_target=0,
                                         max_failures=0))
        self.assertEqual(exitcodes.DRAIN_INCOMPLETE, run.run())
        by_id = {i.id: i for i in items}
        self.assertEqual((drain.DONE, drain.FAILED, drain.DONE),
                         tuple(by_id['s%d' % i].state for i in range(3)))
        self.assertIn('No valid host', by_id['s1'].error)
        records = {m['instance_uuid']: m for m in nova.migrations_}
        for sid in ('s0', 's2'):
            self.assertEqual(records[sid]['id'], by_id[sid].migration_id)
            self.assertEqual('compute2', nova.servers[sid]['host'])
        self.assertEqual('compute1', nova.servers['s1']['host'])
        first = {}
        for n, (sid, text) in enumerate(run.lines):
            first.setdefault(sid, (n, text))
        self.assertTrue(first['s0'][1].endswith('submitted'))
        self.assertTrue(first['s2'][1].endswith('submitted'))
        self.assertTrue(first['s1'][1].startswith('refused: No valid host'))
        self.assertLess(max(first['s0'][0], first['s2'][0]), first['s1'][0])

    def test_one_request_at_a_time_with_max_parallel_one(self):
        nova = self._nova(3, hold=1)
        in_flight = []
        real = nova.live_migrate_server

        def live(sid, host=None, block_migration=None):
            in_flight.append(sum(1 for m in nova.migrations_
                                 if m['status'] not in ('completed',)))
            return real(sid, host=host, block_migration=block_migration)
        nova.live_migrate_server = live
        items = [item('s%d' % i) for i in range(3)]
        run = DrainRun(nova, items, opts(max_parallel=1))
        self.assertEqual(exitcodes.OK, run.run())
        self.assertEqual([0, 0, 0], in_flight)
        self.assertEqual(1, max_overlap(nova.intervals, 'source'))

    def test_polls_keep_their_cadence_after_a_slow_request(self):
        nova = self._nova(3, hold=3)
        real_live = nova.live_migrate_server
        real_list = nova.migrations
        polls = []

        def live(sid, host=None, block_migration=None):
            nova.t += 1.5       # Nova's pre-checks before it answers
            return real_live(sid, host=host, block_migration=block_migration)

        def migrations(host=None, server_id=None, **query):
            if host:
                polls.append(nova.t)
            return real_list(host=host, server_id=server_id, **query)
        nova.live_migrate_server = live
        nova.migrations = migrations
        items = [item('s%d' % i) for i in range(3)]
        run = DrainRun(nova, items, opts(max_parallel=1, poll_interval=2.0,
                                         stuck_after=None))
        self.assertEqual(exitcodes.OK, run.run())
        # polls[0] is the watcher's baseline, before the first request.
        gaps = [round(b - a, 6) for a, b in zip(polls[1:], polls[2:])]
        self.assertGreater(len(gaps), 5)
        # Start to start, one interval, even after the cycles that sent
        # a 1.5 s request (before: 3.5 s); never more often either.
        self.assertEqual({2.0}, set(gaps))
