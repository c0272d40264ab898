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

"""The drain for callers that are not the CLI (the Ansible collection).

Three desired states of a host list, each checked first (``check=True``
changes nothing and says what would change) and idempotent:

* :func:`drained`: empty and disabled (a :class:`~.job.Job`); a host
  already disabled with nothing left to move is not drained again;
* :func:`enabled`: enabled again, only where the drain claim allows it
  (:func:`.claim.may_enable`: never a host disabled by someone else);
* :func:`restored`: the servers of the drain report back on their hosts
  (a :class:`~.restore.RestoreJob`, ``enable_service``).

Each returns a :class:`Outcome`; errors are the
:class:`~migrationclient.errors.Error` family (one line).
"""

import dataclasses
import time

from migrationclient._i18n import _
from migrationclient.cloud import actions as cloud_actions
from migrationclient.cloud import errors as cloud_errors
from migrationclient.engine.drain import claim
from migrationclient.engine.drain import fleetplan
from migrationclient.engine.drain.job import Job
from migrationclient.engine.drain import livelimits
from migrationclient.engine.drain import model
from migrationclient.engine.drain.restore import RestoreJob
from migrationclient.engine import report as report_mod
from migrationclient import exitcodes


@dataclasses.dataclass
class Outcome:
    """What a call did (or, with ``check``, would do)."""

    changed: bool
    status: int = exitcodes.OK      # the CLI's exit status
    report_path: str | None = None
    report: dict | None = None
    plan: list = dataclasses.field(default_factory=list)
    #: the capacity plan of every host drained together (placements,
    #: per-destination usage before / after, N+1 headroom), or None
    capacity: dict | None = None
    left: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    msg: str = ''

    def to_dict(self):
        return dataclasses.asdict(self)


def options(**values):
    """:class:`model.Options` from keyword values, checked (one line)."""
    known = {f.name for f in dataclasses.fields(model.Options)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise model.DrainError(_('unknown drain option(s): %s')
                               % ', '.join(unknown))
    opts = model.Options(**{k: v for k, v in values.items()
                            if v is not None})
    opts.target_hosts = tuple(opts.target_hosts or ())
    if opts.max_parallel < 1:
        raise model.DrainError(_('max_parallel must be at least 1'))
    if opts.max_per_target < 0 or opts.max_failures < 0:
        raise model.DrainError(
            _('max_per_target and max_failures must be 0 or more'))
    if opts.on_stuck not in model.ON_STUCK:
        raise model.DrainError(_('on_stuck must be one of %s')
                               % ', '.join(model.ON_STUCK))
    if opts.timeout is not None and opts.timeout <= 0:
        raise model.DrainError(_('timeout must be more than 0'))
    return opts


def check_reason(text):
    """Refuse a disable reason the claim marker leaves no room for."""
    if text is not None and not 0 < len(text) <= claim.MAX_TEXT_LENGTH:
        raise model.DrainError(
            _('disable_reason must be 1 to %d characters')
            % claim.MAX_TEXT_LENGTH)


def plan_rows(job, items):
    """The dry run's plan: one dict per server still to move."""
    return [{'server': i.id, 'name': i.name, 'project': i.project_id,
             'host': i.original_host, 'action': str(i.action),
             'destination': job.label(i), 'reason': i.reason}
            for i in items if i.state not in model.MOVED]


def left_rows(items):
    """Servers still on their host that should have moved, and why."""
    return [{'server': i.id, 'name': i.name, 'host': i.original_host,
             'state': str(i.state), 'reason': i.error or i.reason}
            for i in model.remaining(items)]


def _run(job, items, check, changed_if_run):
    """Run prepared ``job`` unless ``check`` or there is nothing to do."""
    out = Outcome(changed=changed_if_run, report_path=job.report_path,
                  plan=plan_rows(job, items), notes=job.notes,
                  capacity=(job.capacity.to_dict()
                            if job.capacity is not None else None))
    if check or not changed_if_run:
        # Not run: the servers that would stay (skipped), not those to move.
        out.left = left_rows([i for i in items if i.state != model.PENDING])
        if not check:
            out.report = _load(job.report_path)
        return out
    out.status = job.execute()
    out.report = job.drain.report if job.drain else None
    out.left = left_rows(job.drain.items if job.drain else items)
    out.notes = list(job.notes)
    return out


def _load(path):
    try:
        return report_mod.load(path)
    except report_mod.ReportError:
        return None


class NoHostFacts(model.DrainError):
    """SSH was asked for and no compute host could be read (nothing done).

    ``compute drain --ssh`` without ``--ssh-optional`` refuses the same
    way (exit status :data:`exitcodes.DRAIN_NO_SSH_FACTS`).
    """

    exit_status = exitcodes.DRAIN_NO_SSH_FACTS

    def __init__(self, tried):
        self.tried = tuple(tried)
        super().__init__(_(
            'SSH: none of the %(n)d compute host(s) could be read '
            '(%(hosts)s); nothing changed (ssh.optional drains on the API '
            'facts alone)') % {'n': len(self.tried),
                               'hosts': ', '.join(self.tried)})


def _host_facts(job, ssh_options, ssh_optional, read_limits):
    """``compute drain --ssh`` after the plan: refuse or read the limits.

    No host read (and not ``ssh_optional``): :class:`NoHostFacts`.  Else
    each live source's ``max_concurrent_live_migrations``
    (:func:`.livelimits.read_for_job`); its warnings and lines are notes.
    """
    tried = fleetplan.none_read(job)
    if tried:
        if not ssh_optional:
            raise NoHostFacts(tried)
        job.notes.append(_(
            'SSH: none of the %d compute host(s) could be read; the plan '
            'rests on the API facts alone') % len(tried))
    warnings, lines = read_limits(job, ssh_options)
    job.notes.extend(list(warnings) + list(lines))


def drained(compute, conn, hosts, opts, check=False, report_path=None,
            disable_reason=None, enable_when_done=False,
            target_aggregate=None, ssh_options=None, ssh_optional=False,
            read_limits=livelimits.read_for_job):
    """Drain ``hosts`` unless they are already empty and disabled.

    ``ssh_options`` (a checked :class:`migrationclient.host.ssh.SSHOptions`,
    :func:`migrationclient.host.sshoptions.checked`): the plan rests on
    the hosts' facts read over SSH and each source's live migration limit
    is its nova.conf's, as ``compute drain --ssh``; no host read raises
    :class:`NoHostFacts` before anything changes, unless
    ``ssh_optional``.
    """
    check_reason(disable_reason)
    job = Job(compute, conn, hosts, opts, report_path=report_path,
              disable_reason=disable_reason,
              enable_when_done=enable_when_done,
              target_aggregate=target_aggregate)
    job.ssh_options = ssh_options
    items = job.prepare(explicit_report=bool(report_path))
    if ssh_options is not None:
        _host_facts(job, ssh_options, ssh_optional, read_limits)
    # Already drained: nothing left to move and the services disabled
    # (or, with enable_when_done, left enabled by the earlier run).
    settled = enable_when_done or not any(
        s.is_enabled for s in job.services.values())
    return _run(job, items, check,
                not (settled and not model.remaining(items)))


def enabled(compute, conn, hosts, check=False, report_path=None):
    """Enable ``hosts`` again where this drain's claim allows it.

    :param report_path: the drain report (default: the drain of
        ``hosts``' default report)
    :raises DrainError: a host disabled by someone else, or for another
        reason, or claimed by another drain (nothing was changed)
    """
    actions = cloud_actions.Actions(compute, conn)
    try:
        svcs = actions.compute_services()
        found = {h: actions.service_of(svcs, h) for h in hosts}
    except cloud_errors.CloudError as exc:
        raise model.DrainError(str(exc))
    todo = [h for h in hosts if not found[h].is_enabled]
    cloud = actions.cloud()
    path = report_path or report_mod.default_path(
        hosts, 'drain', cloud.key if cloud else None)
    out = Outcome(changed=bool(todo), report_path=path)
    if not todo:
        return out
    report = _load(path) or {}
    for host in todo:
        yes, why = claim.may_enable(found[host], report.get('id'),
                                    report.get('service', {}).get(host))
        if not yes:
            raise model.DrainError(
                _('nova-compute on %(host)s is not enabled: %(why)s. '
                  'Nothing was changed.') % {'host': host, 'why': why})
    if check:
        return out
    for host in todo:
        try:
            actions.enable_service(found[host])
        except cloud_errors.CloudError as exc:
            raise model.DrainError(str(exc))
    out.report = report or None
    return out


def wait_up(compute, conn, hosts, timeout, interval=2.0,
            clock=time.monotonic, sleep=time.sleep):
    """Wait until the nova-compute of every host in ``hosts`` is up.

    After a reboot, a host's service reads ``down`` until its first
    report; a drain or restore needs it up.

    :raises DrainError: still down after ``timeout`` seconds
    """
    actions = cloud_actions.Actions(compute, conn)
    deadline = clock() + timeout
    while True:
        try:
            svcs = actions.compute_services()
            down = [h for h in hosts
                    if not actions.service_of(svcs, h).is_up]
        except cloud_errors.CloudError as exc:
            down, why = list(hosts), str(exc)
        else:
            why = None
        if not down:
            return
        if clock() >= deadline:
            raise model.DrainError(
                _('nova-compute on %(hosts)s not up after %(t)ds%(why)s') % {
                    'hosts': ', '.join(down), 't': timeout,
                    'why': ' (%s)' % why if why else ''})
        sleep(interval)


def restored(compute, conn, drain_report, opts, check=False,
             report_path=None):
    """Move the servers of ``drain_report`` back (enabling their hosts)."""
    job = RestoreJob(compute, conn, drain_report, opts,
                     report_path=report_path, enable_service=True)
    items = job.prepare(explicit_report=bool(report_path))
    changed = any(i.state == model.PENDING for i in items) or any(
        not s.is_enabled for s in job.services.values())
    return _run(job, items, check, changed)


def drain_report_path(compute, conn, hosts):
    """The default report path of the drain of ``hosts`` on this cloud."""
    cloud = cloud_actions.Actions(compute, conn).cloud()
    return report_mod.default_path(hosts, 'drain',
                                   cloud.key if cloud else None)
