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

"""The NUMA snapshot file of ``openstack numa compare --save``.

A JSON document: the server (id, name), its guest placement and the
host topology at the time, with a format name and version.  One place
writes it and reads it back; a bad file is one :class:`SnapshotError`
line naming it and why.
"""

import datetime
import json
import os

from migrationclient._i18n import _
from migrationclient import errors
from migrationclient.host import topology

MAX_SNAPSHOT_BYTES = 4 * 1024 * 1024


class SnapshotError(errors.Error):
    """A snapshot file cannot be written, read or used (one line)."""


def make_snapshot(location, placement, host_topology, now=None):
    """The snapshot document of a server at ``location`` (a dict)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return {
        'format': topology.SNAPSHOT_FORMAT,
        'version': topology.SNAPSHOT_VERSION,
        'taken_at': now.isoformat(timespec='seconds'),
        'server': {'id': location.id, 'name': location.name},
        'placement': placement.to_dict(),
        'host_topology': host_topology.to_dict(),
    }


def write_snapshot(path, snapshot):
    text = json.dumps(snapshot, indent=2, sort_keys=True) + '\n'
    try:
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write(text)
    except OSError as exc:
        raise SnapshotError(_('cannot write snapshot %(p)s: %(e)s')
                            % {'p': path, 'e': exc.strerror})


def read_snapshot(path):
    """Load and validate a ``--save`` file; one SnapshotError line if bad.

    Returns ``(snapshot_dict, GuestPlacement)``.
    """
    def bad(reason):
        return SnapshotError(_(
            'snapshot %(p)s is not a usable NUMA snapshot: %(r)s')
            % {'p': path, 'r': reason})
    try:
        if os.path.getsize(path) > MAX_SNAPSHOT_BYTES:
            raise bad(_('larger than %d bytes') % MAX_SNAPSHOT_BYTES)
        with open(path, encoding='utf-8') as handle:
            data = json.load(handle)
    except OSError as exc:
        raise SnapshotError(_('cannot read snapshot %(p)s: %(e)s')
                            % {'p': path, 'e': exc.strerror})
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad(_('not JSON (%s)') % exc)
    if not isinstance(data, dict) or \
            data.get('format') != topology.SNAPSHOT_FORMAT:
        raise bad(_('no "format": "%s"') % topology.SNAPSHOT_FORMAT)
    if data.get('version') != topology.SNAPSHOT_VERSION:
        raise bad(_('version %(v)r, this client reads %(m)d') % {
            'v': data.get('version'), 'm': topology.SNAPSHOT_VERSION})
    try:
        placement = topology.GuestPlacement.from_dict(data['placement'])
        topology.HostTopology.from_dict(data['host_topology'])
        server = data['server']
        str(server['id'])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise bad(_('missing or invalid field (%s: %s)')
                  % (type(exc).__name__, exc))
    return data, placement
