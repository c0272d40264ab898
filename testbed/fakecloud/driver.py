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
"""A controllable fake virt driver: migrations that can be watched and steered.

Nova loads compute drivers from the ``nova.virt`` package only, so
:func:`register` puts this module into ``sys.modules`` as
``nova.virt.fakecloud`` and the bed sets
``compute_driver = fakecloud.FakeCloudDriver``.

Behaviour is chosen per server through its metadata (keys in
``testbed.fakecloud``):

* ``fakecloud:hold=SECONDS``: the live migration stays ``running`` that
  long; memory progress (``memory_total/processed/remaining_bytes``) is
  written to the migration every 0.5 s.  Never 0: Nova's response schema
  rejects 0 byte counts (see doc/source/contributor/testbed.rst).
* ``fakecloud:stall=PERCENT``: progress stops at PERCENT and the migration
  stays ``running`` until aborted or force-completed.
* ``fakecloud:fail=1``: after the hold the migration fails and rolls back
  (server ACTIVE on the source, migration ``failed``).
* ``fakecloud:prepare_hold=SECONDS``: the migration stays ``preparing``
  (destination ``pre_live_migration``) that long.
* ``fakecloud:cold_hold=SECONDS``: a cold migration / resize stays
  ``migrating`` that long (default: the bed's ``--cold-hold``).
"""

import sys
import time

from oslo_log import log as logging

import nova.conf
from nova.virt import fake

from testbed import fakecloud

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

TICK = 0.5

#: Bed-wide defaults, set by the bed from its command line.
DEFAULTS = {
    'hold': 0.0,
    'cold_hold': 1.0,
    'sizes': {},  # host -> (vcpus, memory_mb, local_gb)
}


def register():
    """Make this module loadable as ``nova.virt.fakecloud``."""
    import nova.virt
    sys.modules['nova.virt.fakecloud'] = sys.modules[__name__]
    nova.virt.fakecloud = sys.modules[__name__]


def _number(metadata, key, default=None):
    value = (metadata or {}).get(key)
    if value in (None, ''):
        return default
    try:
        return float(value)
    except ValueError:
        LOG.warning('fakecloud: ignoring %s=%r (not a number)', key, value)
        return default


def _metadata(instance):
    try:
        return dict(instance.metadata or {})
    except Exception:  # an instance without metadata loaded and no context
        return {}


class _Control:
    """Abort / force-complete requests for one running live migration."""

    def __init__(self):
        self.abort = False
        self.force = False


class FakeCloudDriver(fake.FakeDriver):
    """FakeDriver whose live and cold migrations take time and can fail."""

    # A modest host so that capacity problems can be provoked; the bed
    # overrides these from its command line.
    vcpus = 64
    memory_mb = 131072
    local_gb = 2000

    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi, read_only)
        self._controls = {}
        # The bed starts each compute with CONF.host set to its name (only
        # while it starts: read it here, not later).
        self._fc_host = CONF.host
        size = DEFAULTS['sizes'].get(CONF.host)
        if size:
            self.vcpus, self.memory_mb, self.local_gb = size
            self.resources = fake.Resources(
                vcpus=size[0], memory_mb=size[1], local_gb=size[2])

    def get_host_ip_addr(self):
        # nova's FakeDriver says 192.168.0.1 (migrations' dest_host).
        try:
            return fakecloud.host_ip(self._fc_host)
        except ValueError:
            return '127.0.0.1'

    # -- live migration ---------------------------------------------------

    def pre_live_migration(self, context, instance, block_device_info,
                           network_info, disk_info, migrate_data):
        hold = _number(_metadata(instance), fakecloud.META_PREPARE_HOLD, 0)
        if hold and hold > 0:
            LOG.info('fakecloud: holding %s in preparing for %.1f s',
                     instance.uuid, hold)
            time.sleep(hold)
        return super().pre_live_migration(
            context, instance, block_device_info, network_info, disk_info,
            migrate_data)

    def live_migration(self, context, instance, dest,
                       post_method, recover_method, block_migration=False,
                       migrate_data=None):
        md = _metadata(instance)
        hold = _number(md, fakecloud.META_HOLD, DEFAULTS['hold']) or 0.0
        stall = _number(md, fakecloud.META_STALL)
        fail = bool(_number(md, fakecloud.META_FAIL, 0))
        migration = getattr(migrate_data, 'migration', None)
        control = self._controls[instance.uuid] = _Control()
        total = max(1, int(instance.flavor.memory_mb) * 1024 * 1024)
        LOG.info('fakecloud: live migration of %s to %s: hold=%s stall=%s '
                 'fail=%s', instance.uuid, dest, hold, stall, fail)
        start = time.monotonic()
        try:
            while True:
                if control.abort:
                    LOG.info('fakecloud: %s aborted', instance.uuid)
                    recover_method(context, instance, dest, migrate_data,
                                   migration_status='cancelled')
                    return
                if control.force:
                    LOG.info('fakecloud: %s force-completed', instance.uuid)
                    break
                elapsed = time.monotonic() - start
                if stall is None and elapsed >= hold:
                    break
                percent = 100.0 * elapsed / hold if hold > 0 else 100.0
                if stall is not None:
                    percent = min(percent, stall)
                self._write_progress(migration, total, min(percent, 99.0))
                time.sleep(TICK)
            if fail:
                LOG.info('fakecloud: failing the live migration of %s',
                         instance.uuid)
                recover_method(context, instance, dest, migrate_data)
                return
        finally:
            self._controls.pop(instance.uuid, None)
        post_method(context, instance, dest, block_migration, migrate_data)

    @staticmethod
    def _write_progress(migration, total, percent):
        if migration is None:
            return
        processed = max(1, int(total * percent / 100.0))
        remaining = total - processed
        migration.memory_total = total
        migration.memory_processed = processed
        # Nova's schema wants >= 1 or null: never write 0.
        migration.memory_remaining = max(1, remaining)
        try:
            migration.save()
        except Exception:
            LOG.exception('fakecloud: could not save migration progress')

    def live_migration_force_complete(self, instance):
        control = self._controls.get(instance.uuid)
        if control:
            control.force = True

    def live_migration_abort(self, instance):
        control = self._controls.get(instance.uuid)
        if control:
            control.abort = True

    def post_live_migration(self, context, instance, block_device_info,
                            migrate_data=None):
        # Runs on the source after success: stop tracking the guest here.
        self.destroy(context, instance, network_info=None,
                     block_device_info=block_device_info)

    # -- cold migration / resize -------------------------------------------

    def migrate_disk_and_power_off(self, context, instance, dest,
                                   flavor, network_info,
                                   block_device_info=None,
                                   timeout=0, retry_interval=0):
        hold = _number(_metadata(instance), fakecloud.META_COLD_HOLD,
                       DEFAULTS['cold_hold'])
        if hold and hold > 0:
            time.sleep(hold)
        return super().migrate_disk_and_power_off(
            context, instance, dest, flavor, network_info,
            block_device_info, timeout, retry_interval)
