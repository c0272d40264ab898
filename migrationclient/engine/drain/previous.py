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

"""The report a drain continues from (rerun, ``--resume``, earlier versions).

The default report is keyed by the cloud and the hosts
(:func:`migrationclient.engine.report.default_path`); running the same
drain again continues from it, and says so once.  An unfinished report an
earlier version left at its default path (hosts only) is continued when
one of its servers exists in this cloud, then moved aside.  Nothing here
changes a file before the job runs: a complete report is archived by
:meth:`~.job.Job.execute` (``--dry-run`` changes no file).
"""

import os

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.engine.drain.model import DrainError
from migrationclient.engine import report as report_mod


def previous_report(path, kind, hosts, resume, explicit, complete=None):
    """The report at ``path`` a job continues from, or None.

    :param resume: ``--resume`` named ``path``: it must be this job's
    :param explicit: ``--report`` named ``path``: it must not be another
        job's
    :param complete: list ``path`` goes to when it holds a complete
        report of this job: the job archives it when it runs
        (:func:`archive_complete`), never before
    """
    if not os.path.exists(path):
        if resume:
            raise DrainError(_('Report %s does not exist.') % path)
        return None
    try:
        data = report_mod.load(path)
    except report_mod.ReportError as exc:
        raise DrainError(str(exc))
    if data['kind'] != kind or sorted(data['hosts']) != sorted(hosts):
        if resume:
            raise DrainError(
                _('%(path)s is a %(kind)s report of %(hosts)s, not of '
                  'this %(mine)s of %(me)s.') % {
                    'path': path, 'kind': data['kind'],
                    'hosts': ', '.join(data['hosts']),
                    'mine': kind, 'me': ', '.join(hosts)})
        if explicit:
            raise DrainError(
                _('--report %(path)s holds a report of another job '
                  '(%(kind)s of %(hosts)s); choose another file.') % {
                    'path': path, 'kind': data['kind'],
                    'hosts': ', '.join(data['hosts'])})
        return None
    if data['state'] == 'complete' and not resume:
        if complete is not None:
            complete.append(path)
        return None
    return data


def archive_complete(path, notes):
    """Move the report at ``path`` aside (a new job reuses the path)."""
    if not os.path.exists(path):
        return None
    archived = report_mod.archive_path(path)
    os.replace(path, archived)
    notes.append(_('previous complete report kept as %s') % archived)
    return archived


def continue_from(job, explicit):
    """The report ``job`` continues from, or None; notes say which."""
    job.complete_reports = []
    data = previous_report(job.resume or job.report_path, job.kind,
                           job.hosts, bool(job.resume), explicit,
                           job.complete_reports)
    if data is not None and job.resume:
        job.report_path = job.resume
    if job.resume or explicit or not job.default_report:
        return data
    if data is None and job.cloud is not None and \
            not os.path.exists(job.report_path):
        return legacy_previous(job)
    if data is not None:
        job.notes.append(_(
            'continuing the %(kind)s recorded in %(path)s (%(state)s, '
            'started %(at)s); --report FILE starts a separate one') % {
                'kind': job.kind, 'path': job.report_path,
                'state': data['state'], 'at': data['started_at']})
    return data


def legacy_previous(job):
    """An unfinished report at an earlier version's default path.

    Earlier versions kept the default report by host only, whatever the
    cloud.  Such a report is continued only when one of its servers
    exists in this cloud (server ids are UUIDs); the job then writes to
    the new default path and moves the old file aside
    (:func:`retire_legacy`).
    """
    path = report_mod.legacy_path(job.hosts, job.kind)
    try:
        data = previous_report(path, job.kind, job.hosts, False, False)
    except DrainError:
        return None         # unreadable: not this job's to judge
    if data is None or not servers_here(job.actions, data['servers']):
        return None
    job.legacy_report = path
    job.notes.append(_(
        'continuing the %(kind)s recorded in %(old)s by an earlier version '
        '(%(state)s, started %(at)s); its report is now %(new)s') % {
            'kind': job.kind, 'old': path, 'state': data['state'],
            'at': data['started_at'], 'new': job.report_path})
    return data


def servers_here(actions, entries, limit=3):
    """True when one of the first report ``entries`` is a server here."""
    for entry in entries[:limit]:
        try:
            if actions.get_server(entry['id']) is not None:
                return True
        except errors.CloudError:
            continue
    return False


def retire_legacy(job, report):
    """Move the adopted earlier-version report aside, once."""
    if job.legacy_report is None:
        return
    try:
        archived = report_mod.archive_path(job.legacy_report)
        os.replace(job.legacy_report, archived)
    except OSError:
        return          # harmless: it is checked again next time
    job.notes.append(_('the report of an earlier version, %(old)s, was '
                       'continued in %(new)s and kept as %(kept)s') % {
                           'old': job.legacy_report,
                           'new': job.report_path, 'kept': archived})
    report['notes'].append(job.notes[-1])
    job.legacy_report = None
