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
    """

    def __init__(self, max_parallel, max_per_target):
        self.max_parallel = max_parallel
        self.max_per_target = max_per_target
        self.source = {}      # item id -> source
        self.target = {}      # item id -> target or None (unplaced)
        self.received = {}    # target -> migrations started towards it

    def count_source(self, host):
        return sum(1 for s in self.source.values() if s == host)

    def count_target(self, host):
        return sum(1 for t in self.target.values() if t == host)

    @property
    def unplaced(self):
        return sum(1 for t in self.target.values() if t is None)

    def source_free(self, host):
        return (not self.max_parallel or
                self.count_source(host) < self.max_parallel)

    def target_free(self, host):
        return (not self.max_per_target or
                self.count_target(host) < self.max_per_target)

    def choose(self, source, candidates, can_name, all_hosts):
        """Return ``(ok, target)`` for a migration from ``source``.

        :param candidates: allowed destinations, None for any host
        :param can_name: the cloud accepts a destination for this move
        :param all_hosts: every possible destination (for None candidates)
        """
        if not self.source_free(source):
            return False, None
        pool = list(all_hosts if candidates is None else candidates)
        pool = [h for h in pool if h != source]
        if candidates is not None and not pool:
            return False, None
        if not self.max_per_target:
            if candidates is not None and can_name and \
                    len(pool) < len(all_hosts):
                return True, self._least_busy(pool)
            return True, None
        if can_name and pool:
            free = [h for h in pool if self.target_free(h)]
            if not free:
                return False, None
            return True, self._least_busy(free)
        # Scheduler placement under a per-target limit: be conservative.
        if self.unplaced or not all(self.target_free(h) for h in pool):
            return False, None
        return True, None

    def _least_busy(self, hosts):
        return min(hosts, key=lambda h: (self.count_target(h),
                                         self.received.get(h, 0), h))

    def start(self, item_id, source, target):
        self.source[item_id] = source
        self.target[item_id] = target
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
