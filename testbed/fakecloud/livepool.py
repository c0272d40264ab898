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

"""One live-migration pool per compute, as on a real cloud.

Nova runs a compute's live migrations on a process-wide executor of
``[DEFAULT] max_concurrent_live_migrations`` workers
(:mod:`nova.thread_pool_factory`, ``ExecutorType.LIVE_MIGRATION``, taken
by ``ComputeManager._do_live_migration``'s submit in
``live_migration``).  On a real cloud every nova-compute is its own
process, so the limit holds per source host.  The bed runs all its
computes in one process: without this module they share ONE pool, and a
live migration from compute2 waits ``queued`` behind one from compute1,
which no real cloud does (measured: compute1 -> compute3 running,
compute2 -> compute3 sat queued).

:func:`install` gives each compute manager its own pool of the same size:
``ComputeManager._start_recorded_task`` marks, in a thread-local, the host
whose live migration is being submitted, and ``get_executor`` answers that
host's pool for ``LIVE_MIGRATION`` while the mark is set (every other
executor and every other caller keep Nova's shared ones).
"""

import threading

import fixtures

from nova.compute import manager as compute_manager
from nova import thread_pool_factory as tpf

_LOCAL = threading.local()


class PerComputeLivePools(fixtures.Fixture):
    """Each compute host of the bed gets its own live-migration pool."""

    def _setUp(self):
        self.pools = {}
        self._lock = threading.Lock()
        real_get = tpf.get_executor
        real_start = compute_manager.ComputeManager._start_recorded_task

        def get_executor(executor_type):
            host = getattr(_LOCAL, 'host', None)
            if host is None or \
                    executor_type != tpf.ExecutorType.LIVE_MIGRATION:
                return real_get(executor_type)
            return self.pool(host)

        def start(manager, executor_type, *args, **kwargs):
            if executor_type != tpf.ExecutorType.LIVE_MIGRATION:
                return real_start(manager, executor_type, *args, **kwargs)
            _LOCAL.host = manager.host
            try:
                return real_start(manager, executor_type, *args, **kwargs)
            finally:
                _LOCAL.host = None

        self.useFixture(fixtures.MonkeyPatch(
            'nova.thread_pool_factory.get_executor', get_executor))
        self.useFixture(fixtures.MonkeyPatch(
            'nova.compute.manager.ComputeManager._start_recorded_task',
            start))
        self.addCleanup(self._shutdown)

    def pool(self, host):
        with self._lock:
            pool = self.pools.get(host)
            if pool is None:
                pool = tpf.FACTORY._new_executor(
                    tpf.get_max_concurrent_live_migrations(),
                    'live_migration.%s' % host)
                self.pools[host] = pool
            return pool

    def _shutdown(self):
        for pool in self.pools.values():
            pool.shutdown(wait=False)
