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

"""The drain report: a JSON file that accounts for every server.

The drain engine rewrites it after every state change, atomically (a
temporary file in the same directory, ``fsync``, ``os.replace``) and with
mode 0600, so that a crash or a kill loses nothing and a half-written file
is never seen.  ``--resume`` and ``--restore`` read it back through
:func:`load`, which validates the shape and raises :class:`ReportError`
(one clear line) for anything else.

Shape (``format`` / ``version`` identify it)::

    {"format": "migrationclient-drain-report", "version": 1,
     "id": "3f9c0d2a7b1e" (the drain claim, engine/drain/claim.py),
     "kind": "drain" | "restore",
     "hosts": ["compute1"], "state": "running" | "complete" |
        "incomplete" | "interrupted",
     "started_at": ISO8601, "updated_at": ISO8601, "finished_at": ...,
     "service": {"compute1": {"disabled_by_drain": true, "reason": "..."}},
     "options": {...},
     "servers": [{"id", "name", "project_id", "original_host",
                  "original_status", "action", "destination",
                  "final_host", "migration_id", "migration_uuid",
                  "state", "reason", "error", "submitted_at",
                  "finished_at", "duration"}]}
"""

import datetime
import json
import os
import re
import tempfile

from migrationclient._i18n import _
from migrationclient import errors

FORMAT = 'migrationclient-drain-report'
VERSION = 1
#: server fields every entry must carry
REQUIRED_SERVER_KEYS = ('id', 'original_host', 'action', 'state')
REPORT_STATES = ('running', 'complete', 'incomplete', 'interrupted')


class ReportError(errors.Error):
    """The report file is missing, unreadable or not a drain report."""


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def isotime(when=None):
    when = when or utcnow()
    return when.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def state_dir():
    """The user's state directory for drain reports (XDG)."""
    base = os.environ.get('XDG_STATE_HOME') or os.path.join(
        os.path.expanduser('~'), '.local', 'state')
    return os.path.join(base, 'migrationclient')


def default_path(hosts, kind='drain', cloud=None):
    """Default report path of a drain (or restore) of ``hosts``.

    The name depends only on the cloud and the hosts, so running the same
    drain again finds the previous report and continues from it, and two
    clouds with the same host names never share a report.

    :param cloud: the cloud's key (``cloud.identity.CloudId.key``): the
        report goes to ``clouds/<key>/`` of the state directory; None:
        the path earlier versions used, not keyed by the cloud
        (:func:`legacy_path`)
    """
    safe = '+'.join(re.sub(r'[^A-Za-z0-9._-]', '_', h) for h in hosts)
    name = '%s-%s.json' % (kind, safe)
    if cloud:
        return os.path.join(state_dir(), 'clouds', cloud, name)
    return os.path.join(state_dir(), name)


def legacy_path(hosts, kind='drain'):
    """The default path of earlier versions (hosts only, no cloud)."""
    return default_path(hosts, kind)


def archive_path(path, when=None):
    """Where a finished report goes before a new drain reuses ``path``."""
    stem, ext = os.path.splitext(path)
    stamp = (when or utcnow()).strftime('%Y%m%dT%H%M%SZ')
    return '%s-%s%s' % (stem, stamp, ext or '.json')


def makedirs_private(directory):
    """Create ``directory`` and its missing parents, each mode 0700.

    (``os.makedirs`` gives its mode to the last directory only.)
    """
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    for path in reversed(missing):
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass


def write_atomic(path, data):
    """Write ``data`` as JSON to ``path``: atomic, mode 0600, fsync'ed."""
    directory = os.path.dirname(os.path.abspath(path))
    makedirs_private(directory)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path),
                               suffix='.tmp', dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, 'w', encoding='utf-8') as stream:
            json.dump(data, stream, indent=2, sort_keys=True)
            stream.write('\n')
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def new_report(kind, hosts, options, started_at=None):
    return {
        'format': FORMAT,
        'version': VERSION,
        'kind': kind,
        'hosts': list(hosts),
        'state': 'running',
        'started_at': isotime(started_at),
        'updated_at': isotime(started_at),
        'finished_at': None,
        'service': {},
        'options': dict(options),
        'servers': [],
    }


def load(path):
    """Read and validate a drain report; raise :class:`ReportError`."""
    try:
        with open(path, encoding='utf-8') as stream:
            data = json.load(stream)
    except FileNotFoundError:
        raise ReportError(_('Report %s does not exist.') % path)
    except OSError as exc:
        raise ReportError(_('Cannot read report %(path)s: %(err)s')
                          % {'path': path, 'err': exc.strerror or exc})
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportError(_('Report %(path)s is not valid JSON (%(err)s).')
                          % {'path': path, 'err': exc})
    validate(data, path)
    return data


def validate(data, path='report'):
    """Raise :class:`ReportError` unless ``data`` is a drain report."""
    def bad(why):
        return ReportError(_('%(path)s is not a usable drain report: '
                             '%(why)s.') % {'path': path, 'why': why})

    if not isinstance(data, dict) or data.get('format') != FORMAT:
        raise bad(_('format is not %s') % FORMAT)
    if data.get('version') != VERSION:
        raise bad(_('unsupported version %r') % (data.get('version'),))
    if data.get('kind') not in ('drain', 'restore'):
        raise bad(_('unknown kind %r') % (data.get('kind'),))
    hosts = data.get('hosts')
    if (not isinstance(hosts, list) or not hosts
            or not all(isinstance(h, str) and h for h in hosts)):
        raise bad(_('"hosts" must be a non-empty list of host names'))
    if data.get('state') not in REPORT_STATES:
        raise bad(_('unknown state %r') % (data.get('state'),))
    servers = data.get('servers')
    if not isinstance(servers, list):
        raise bad(_('"servers" must be a list'))
    seen = set()
    for index, entry in enumerate(servers):
        if not isinstance(entry, dict):
            raise bad(_('"servers" entry #%d is not an object') % index)
        missing = [k for k in REQUIRED_SERVER_KEYS
                   if not isinstance(entry.get(k), str) or not entry[k]]
        if missing:
            raise bad(_('"servers" entry #%(i)d lacks %(keys)s')
                      % {'i': index, 'keys': ', '.join(missing)})
        if entry['id'] in seen:
            raise bad(_('server %s appears twice') % entry['id'])
        seen.add(entry['id'])
    if not isinstance(data.get('service', {}), dict):
        raise bad(_('"service" must be an object'))
    return data
