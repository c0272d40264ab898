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

"""Concurrency limits of a drain: which migration may start, and where."""


class Slots:
    """Concurrency limits of one drain (global across its source hosts).

    ``max_parallel`` in-flight migrations per source host and
    ``max_per_target`` per destination (0: no limit).  A migration whose
    destination the scheduler picks is "unplaced" until its record names
    the destination; while one is unplaced, no other scheduler-placed
    migration starts, and one starts only when every candidate host has a
    free slot, so the per-target limit holds whatever the scheduler does.

    With a :class:`~.census.Census` the limits count every migration the
    cloud lists as moving (another drain's, anyone's), not only this
    drain's: this drain's own migrations are counted here from the moment
    they are chosen (their record may not be listed yet), the others from
    the census's table (records of this drain's servers are skipped: they
    are counted here already).  ``live_limit(host)`` is how many live
    migrations Nova runs at once from ``host`` (``[DEFAULT]
    max_concurrent_live_migrations``; 0: no limit; None: not limited):
    a live migration does not start while that many leave the host
    (Nova would queue it, and a queued migration shows no progress).
    """

    def __init__(self, max_parallel, max_per_target, census=None,
                 live_limit=None, is_live=None):
        self.max_parallel = max_parallel
        self.max_per_target = max_per_target
        self.census = census
        self.live_limit = live_limit
        self.is_live = is_live or (lambda item_id: False)
        self.source = {}      # item id -> source
        self.target = {}      # item id -> target or None (unplaced)
        self.live = {}        # item id -> True for a live migration
        self.received = {}    # target -> migrations started towards it

    def _others(self):
        """The census's counts of migrations not of this drain."""
        if self.census is None:
            return {}, {}, {}
        return self.census.count(exclude=set(self.source))

    def count_source(self, host):
        own = sum(1 for s in self.source.values() if s == host)
        return own + self._others()[0].get(host, 0)

    def count_target(self, host):
        own = sum(1 for t in self.target.values() if t == host)
        return own + self._others()[1].get(host, 0)

    def count_live(self, host):
        own = sum(1 for i, s in self.source.items()
                  if s == host and self.live.get(i))
        return own + self._others()[2].get(host, 0)

    @property
    def unplaced(self):
        return sum(1 for t in self.target.values() if t is None)

    def source_free(self, host, live=False):
        if self.max_parallel and \
                self.count_source(host) >= self.max_parallel:
            return False
        if live and self.live_limit is not None:
            limit = self.live_limit(host)
            if limit and self.count_live(host) >= limit:
                return False
        return True

    def target_free(self, host):
        return (not self.max_per_target or
                self.count_target(host) < self.max_per_target)

    def choose(self, source, candidates, can_name, all_hosts, live=False,
               item_id=None, named=False):
        """Return ``(ok, target)`` for a migration from ``source``.

        :param candidates: allowed destinations, None for any host
        :param can_name: the cloud accepts a destination for this move
        :param all_hosts: every possible destination (for None candidates)
        :param live: a live migration (Nova's live limit of the source)
        :param item_id: the item (server) about to start: with a census,
            the chosen destination is locked for it (:meth:`Census.claim`)
        :param named: the destinations were named by the operator
            (``--target-host``): the scheduler, which picks among every
            host of the cloud, must not choose, even without a limit
        """
        if not self.source_free(source, live):
            return False, None
        pool = list(all_hosts if candidates is None else candidates)
        pool = [h for h in pool if h != source]
        if candidates is not None and not pool:
            return False, None
        if not self.max_per_target:
            if candidates is not None and can_name and (
                    named or len(pool) < len(all_hosts)):
                return True, self._least_busy(pool)
            return True, None
        if can_name and pool:
            free = [h for h in pool if self.target_free(h)]
            while free:
                target = self._least_busy(free)
                if self._claim(target, item_id):
                    return True, target
                free.remove(target)
            return False, None
        # Scheduler placement under a per-target limit: be conservative.
        if self.unplaced or not all(self.target_free(h) for h in pool):
            return False, None
        return True, None

    def _claim(self, target, item_id):
        """Lock ``target`` (census) and check it again under the lock."""
        if self.census is None or item_id is None:
            return True
        self.census.unclaim(item_id)    # an earlier choice of this item
        if not self.census.claim(target, item_id):
            return False
        if self.target_free(target):
            return True
        self.census.unclaim(item_id)
        return False

    def _least_busy(self, hosts):
        counts = {h: self.count_target(h) for h in hosts}
        return min(hosts, key=lambda h: (counts[h],
                                         self.received.get(h, 0), h))

    def start(self, item_id, source, target, live=None):
        self.source[item_id] = source
        self.target[item_id] = target
        self.live[item_id] = bool(self.is_live(item_id) if live is None
                                  else live)
        if target:
            self.received[target] = self.received.get(target, 0) + 1

    def place(self, item_id, target):
        if item_id in self.target and self.target[item_id] is None and \
                target:
            self.target[item_id] = target
            self.received[target] = self.received.get(target, 0) + 1

    def finish(self, item_id):
        self.source.pop(item_id, None)
        self.target.pop(item_id, None)
        self.live.pop(item_id, None)
        if self.census is not None:
            self.census.unclaim(item_id)
