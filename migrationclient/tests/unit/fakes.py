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

"""The in-memory Nova of the unit tests: data in the shape of Nova's samples.

:class:`FakeCompute` stands in for ``client_manager.compute`` with records
the test sets between polls; :class:`FakeNova` is the same compute proxy
whose servers and migrations advance with a fake clock (the drain's).
"""

import copy
import datetime
import json
import os
import threading
import types

from openstack.compute.v2 import migration as sdk_migration
from openstack.compute.v2 import server_action as sdk_action
from openstack.compute.v2 import server_migration as sdk_server_migration
from openstack.compute.v2 import service as sdk_service
from openstack import exceptions as sdk_exc

SAMPLES = os.path.join(os.path.dirname(__file__), 'samples', 'nova')


def sample(path):
    """A Nova API sample (path below doc/api_samples), parsed."""
    with open(os.path.join(SAMPLES, path)) as f:
        return json.load(f)


def os_migration(**changes):
    """The running live migration of os-migrations 2.80, changed."""
    rec = copy.deepcopy(sample('os-migrations/v2.80/migrations-get.json')
                        ['migrations'][3])
    rec.pop('links', None)
    rec.update(changes)
    return rec


def server_migration(**changes):
    """The running live migration of server-migrations 2.80, changed."""
    rec = copy.deepcopy(sample('server-migrations/v2.80/migrations-index.json')
                        ['migrations'][0])
    rec.update(changes)
    return rec


class EndpointData:
    def __init__(self, max_version):
        self.max_microversion = tuple(int(x) for x in max_version.split('.'))
        self.min_microversion = (2, 1)


class FakeCompute:
    """Stands in for client_manager.compute; data from Nova samples.

    ``records`` holds os-migrations records (dicts) and ``live`` the
    server-migrations records per server; tests change them between polls.
    Every call is appended to ``calls``.
    """

    def __init__(self, max_version='2.104', default=None):
        self._endpoint = EndpointData(max_version)
        self.default_microversion = default
        self.records = []
        self.live = {}
        self.actions = {}          # server id -> [action list dicts]
        self.action_details = {}   # request id -> action dict with events
        self.calls = []
        self.fail_abort = None
        self.servers = {}          # id -> SDK Server
        self.services_list = []    # os-services records (dicts)

    def get_endpoint_data(self):
        return self._endpoint

    def migrations(self, **query):
        self.calls.append(('migrations', query))
        out = []
        for rec in self.records:
            if 'server_id' in query and (
                    rec['instance_uuid'] != query['server_id']):
                continue
            if 'host' in query and query['host'] not in (
                    rec.get('source_compute'), rec.get('dest_compute')):
                continue
            if 'status' in query and rec['status'] != query['status']:
                continue
            since = query.get('changes_since')
            if since and (rec.get('updated_at') or '') < since:
                continue
            out.append(sdk_migration.Migration.existing(**rec))
        return iter(out)

    def server_migrations(self, server_id):
        self.calls.append(('server_migrations', server_id))
        return iter([sdk_server_migration.ServerMigration.existing(
            server_id=server_id, **rec)
            for rec in self.live.get(server_id, [])])

    def abort_server_migration(self, mid, server, ignore_missing=True):
        self.calls.append(('abort', mid, server))
        if self.fail_abort:
            raise self.fail_abort

    def force_complete_server_migration(self, mid, server=None):
        self.calls.append(('force_complete', mid, server))

    def server_actions(self, server_id):
        self.calls.append(('server_actions', server_id))
        return iter([sdk_action.ServerAction.existing(server_id=server_id,
                                                      **a)
                     for a in self.actions.get(server_id, [])])

    def get_server_action(self, request_id, server_id, ignore_missing=True):
        self.calls.append(('get_server_action', request_id))
        a = self.action_details.get(request_id)
        if a is None:
            return None
        return sdk_action.ServerAction.existing(server_id=server_id, **a)

    def find_server(self, name_or_id, ignore_missing=True, **query):
        self.calls.append(('find_server', name_or_id))
        for server in self.servers.values():
            if name_or_id in (server.id, server.name):
                return server
        return None

    def services(self, **query):
        self.calls.append(('services', query))
        return iter([sdk_service.Service.existing(**rec)
                     for rec in self.services_list
                     if rec['binary'] == query.get('binary',
                                                   rec['binary'])])

    def count(self, name):
        return sum(1 for c in self.calls if c[0] == name)


def failed_live_migration_action(server_id, created_at, traceback=True,
                                 details=True):
    """An instance action for a failed live migration, in sample shape."""
    listed = copy.deepcopy(sample(
        'os-instance-actions/v2.84/instance-actions-list-resp.json')
        ['instanceActions'])
    listed[0].update(action='live-migration', instance_uuid=server_id,
                     start_time=created_at, message='Error')
    full = copy.deepcopy(sample(
        'os-instance-actions/v2.84/instance-action-get-resp.json')
        ['instanceAction'])
    full.update(action='live-migration', instance_uuid=server_id,
                request_id=listed[0]['request_id'], message='Error',
                start_time=created_at)
    ev = full['events'][0]
    ev.update(event='conductor_live_migrate_instance', result='Error',
              details='No valid host was found. ' if details else None,
              traceback=(
                  'Traceback (most recent call last):\n  File "x.py"\n'
                  'nova.exception.NoValidHost: No valid host was found. '
                  'There are not enough hosts available.\n')
              if traceback else None)
    return listed, full


OS_MIGRATION = sample('os-migrations/v2.80/migrations-get.json')[
    'migrations'][0]
SERVER_MIGRATION = sample('server-migrations/v2.80/migrations-get.json')[
    'migration']
ACTION = sample('os-instance-actions/v2.84/instance-action-get-resp.json')[
    'instanceAction']
BASE = datetime.datetime(2026, 11, 27, 10, 0, 0)


class FakeNova(FakeCompute):
    """A compute proxy: servers and migrations advancing with ``self.t``.

    Server metadata-like knobs per server: ``hold`` (seconds running),
    ``fail`` (fail and roll back after the hold), ``stall`` (stays running
    with constant remaining memory until abort / force-complete),
    ``novalid`` (hosts the scheduler refuses: migration ``error`` with a
    NoValidHost action event).
    """

    def __init__(self):
        super().__init__(default='2.80')
        self.t = 0.0
        self.servers = {}      # id -> {'status', 'host', 'task_state'}
        self.knobs = {}
        self.migrations_ = []
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
        self.actions.setdefault(m['instance_uuid'], []).append(
            {k: v for k, v in act.items() if k != 'events'})
        self.action_details[act['request_id']] = act

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
        """Services; ``self.down`` / ``self.disabled`` hosts (or binaries).

        The controller's nova-conductor and nova-scheduler are listed
        without a ``binary`` filter (``self.down`` may name their binary).
        """
        self.calls.append(('services',))
        found = [types.SimpleNamespace(
            id='svc-%s' % host, host=host, binary='nova-compute',
            status='disabled' if host in self.disabled else 'enabled',
            state='down' if host in self.down else 'up',
            is_forced_down=False, availability_zone='nova',
            disabled_reason=self.disabled.get(host))
            for host in ('compute1', 'compute2', 'compute3')]
        if binary is None:
            found += [types.SimpleNamespace(
                id='svc-%s' % b, host='controller', binary=b,
                status='enabled', state='down' if b in self.down else 'up',
                is_forced_down=False, availability_zone='internal',
                disabled_reason=None)
                for b in ('nova-conductor', 'nova-scheduler')]
        return found

    def get_server(self, sid):
        if sid not in self.servers:
            # As the SDK's get_server of a server that does not exist.
            raise sdk_exc.NotFoundException('No Server found for %s' % sid)
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
