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

"""Re-planning one server: on fresh facts, keeping the others' room.

Facts from the API samples (``tests/unit/constraints/base.py``); the
drain runs on :class:`FakeNova` (``base.DrainRun``); the fresh facts come
from a stub of ``Actions.gather`` returning a snapshot.
"""

import types

import testtools

from migrationclient.cloud import errors
from migrationclient.engine import drain
from migrationclient.engine.drain import replan
from migrationclient.tests.unit.constraints import base as cbase
from migrationclient.tests.unit.engine.drain import base
from migrationclient.tests.unit.engine import test_capacity as tc
from migrationclient.tests.unit import fakes


class Facts:
    """``Actions.gather`` with a fixed snapshot; counts the calls."""

    def __init__(self, snapshot):
        self.snapshot = snapshot
        self.calls = []

    def gather(self, source_host, destinations):
        self.calls.append((source_host, tuple(destinations)))
        if self.snapshot is None:
            raise errors.CloudError('placement unreachable')
        return types.SimpleNamespace(snapshot=self.snapshot)


def snapshot(free=None, servers=(('s1', 3000),), **host_free):
    """compute1 drained; compute2 / compute3 / compute4 with free RAM."""
    hosts = [tc.mem_host('compute1')]
    for name in ('compute2', 'compute3', 'compute4'):
        hosts.append(tc.mem_host(name, free=host_free.get(name, free)))
    srvs = [cbase.server(host='compute1', flavor={'ram': ram}, id=sid,
                         name=sid) for sid, ram in servers]
    return cbase.snapshot(srvs, hosts)


def planned(sid, dest, state=drain.PENDING):
    it = base.item(sid, candidates=(dest,))
    it.planned = dest
    it.state = state
    return it


class FakeDrain:
    """What :meth:`Replanner.replan` reads of a drain."""

    def __init__(self, items, dest_hosts=('compute2', 'compute3',
                                          'compute4')):
        self.items = items
        self.dest_hosts = dest_hosts
        self.stop_reason = None
        self.slots = drain.Slots(2, 1)
        self.lines = []

    def event(self, item, text):
        self.lines.append((item.id, text))


class TestReplanner(testtools.TestCase):

    def test_refused_destination_replanned_on_fresh_facts(self):
        facts = Facts(snapshot(compute3=3500))
        rp = replan.Replanner(facts, ['compute1'], None, base.opts())
        item = planned('s1', 'compute2')
        fd = FakeDrain([item])
        self.assertTrue(rp.replan(fd, item, 'Nova refused compute2: No '
                                  'valid host', tried='compute2'))
        # compute2 is out; best fit of the rest: compute3 (3500 free)
        self.assertEqual([('compute1', ('compute3', 'compute4'))],
                         facts.calls)
        self.assertEqual(('compute3', ('compute3',), drain.PENDING),
                         (item.planned, item.candidates, item.state))
        self.assertEqual(('compute2',), item.excluded)
        self.assertEqual([{'why': 'Nova refused compute2: No valid host',
                           'from': 'compute2', 'to': 'compute3'}],
                         item.replanned)
        [(sid, text)] = fd.lines
        self.assertIn('re-planned on fresh facts: live to compute3 (best '
                      'fit on MEMORY_MB', text)

    def test_waiting_servers_keep_their_room(self):
        # compute3 has room for one 3000 MB server, and s2 (waiting) is
        # planned there; compute4 has none: s1 fits nowhere.
        facts = Facts(snapshot(compute3=3500, compute4=100,
                               servers=(('s1', 3000), ('s2', 3000))))
        rp = replan.Replanner(facts, ['compute1'], None, base.opts())
        item = planned('s1', 'compute2')
        other = planned('s2', 'compute3')
        fd = FakeDrain([item, other])
        self.assertFalse(rp.replan(fd, item, 'gone', tried='compute2'))
        [(sid, text)] = fd.lines
        self.assertIn('gone: re-planned, it fits nowhere now (compute3: '
                      'MEMORY_MB: needs 3000, 500 free; compute4', text)
        self.assertEqual([{'why': 'gone', 'from': 'compute2', 'to': None}],
                         item.replanned)
        # in flight: its allocation is in the facts already, not debited
        other.state = drain.MIGRATING
        item.replanned = []
        self.assertTrue(rp.replan(fd, item, 'gone', tried='compute2'))
        self.assertEqual('compute3', item.planned)

    def test_unusable_hosts_limits_and_errors(self):
        facts = Facts(snapshot())
        rp = replan.Replanner(facts, ['compute1'], None, base.opts())
        item = planned('s1', 'compute2')
        fd = FakeDrain([item])
        self.assertTrue(rp.replan(fd, item, 'compute2 is down',
                                  unusable={'compute3': 'disabled'}))
        self.assertEqual('compute4', item.planned)
        self.assertTrue(rp.replan(fd, item, 'again'))
        self.assertEqual('compute3', item.planned)
        # at most MAX_REPLANS
        self.assertFalse(rp.replan(fd, item, 'third time'))
        self.assertIn('not re-planned again (2 re-plans already)',
                      fd.lines[-1][1])
        # a server that does not follow a plan is not re-planned
        free = base.item('s1')
        self.assertFalse(rp.follows(free))
        self.assertFalse(rp.replan(fd, free, 'x'))
        # the facts cannot be read: no re-plan, said why
        rp = replan.Replanner(Facts(None), ['compute1'], None, base.opts())
        item = planned('s1', 'compute2')
        fd = FakeDrain([item])
        self.assertFalse(rp.replan(fd, item, 'refused', tried='compute2'))
        self.assertIn('the facts could not be read again (placement '
                      'unreachable)', fd.lines[-1][1])
        # a drain that stops re-plans nothing
        fd.stop_reason = 'interrupted'
        item = planned('s1', 'compute2')
        self.assertFalse(rp.replan(fd, item, 'x'))


class TestDrainReplans(testtools.TestCase):
    """The run loop: Nova refuses the planned host -> re-planned."""

    def test_no_valid_host_on_the_planned_host(self):
        nova = fakes.FakeNova()
        nova.add('s1', novalid=('compute2',))
        facts = Facts(snapshot())
        item = planned('s1', 'compute2')
        run = base.DrainRun(nova, [item], base.opts(),
                            replanner=replan.Replanner(
                                facts, ['compute1'], None, base.opts()))
        self.assertEqual(0, run.run())
        self.assertEqual((drain.DONE, 'compute3', 2),
                         (item.state, item.destination, item.attempts))
        self.assertEqual('compute3', nova.get_server('s1').compute_host)
        texts = [t for _sid, t in run.lines]
        self.assertTrue([t for t in texts if t.startswith(
            'Nova refused compute2: ') and 're-planned on fresh facts: live '
            'to compute3' in t], texts)
        self.assertEqual('compute3', run.reports[-1]['servers'][0][
            'replanned'][0]['to'])

    def test_planned_host_disabled_before_the_start(self):
        nova = fakes.FakeNova()
        nova.add('s1')
        nova.disabled['compute2'] = 'RMA'
        facts = Facts(snapshot())
        item = planned('s1', 'compute2')
        run = base.DrainRun(nova, [item], base.opts(),
                            replanner=replan.Replanner(
                                facts, ['compute1'], None, base.opts()))
        self.assertEqual(0, run.run())
        self.assertEqual(('compute3', 1), (item.destination, item.attempts))
        texts = [t for _sid, t in run.lines]
        self.assertTrue([t for t in texts if t.startswith(
            'planned destination unusable (compute2: nova-compute is '
            'disabled (RMA))')], texts)

    def test_a_rolled_back_migration_is_a_failure(self):
        nova = fakes.FakeNova()
        nova.add('s1', hold=2, fail=True)
        facts = Facts(snapshot())
        item = planned('s1', 'compute2')
        run = base.DrainRun(nova, [item], base.opts(),
                            replanner=replan.Replanner(
                                facts, ['compute1'], None, base.opts()))
        self.assertEqual(4, run.run())
        self.assertEqual((drain.FAILED, 1, []),
                         (item.state, item.attempts, item.replanned))
        self.assertEqual([], facts.calls)

    def test_destination_refused(self):
        for why in ('No valid host was found. There are not enough hosts',
                    'Migration pre-check error: Unacceptable CPU info',
                    'Compute service of compute2 is unavailable at this '
                    'time.'):
            self.assertTrue(replan.destination_refused(why), why)
        for why in ('live migration rolled back', None, ''):
            self.assertFalse(replan.destination_refused(why), why)
