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

"""The end of a drain: done means re-listed; enable only what we claimed.

The plan lists each source once, before the service is disabled: a server
booted (or moved) onto the host in between, or by someone who forces a
host, is never seen by it.  So after the last migration each drained host
is listed again (all projects, all states: one ``GET /servers/detail`` per
host).  A server found there that the drain did not leave there on
purpose is added to the report as ``appeared`` (or turned ``appeared`` if
the drain had moved it), and the exit status is
:data:`~migrationclient.exitcodes.DRAIN_INCOMPLETE`.  The same listing
decides ``--enable-when-done``.
"""

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.engine.drain import claim
from migrationclient.engine.drain import model
from migrationclient.engine.drain.model import DrainError
from migrationclient.engine.drain.model import Item
from migrationclient.engine.drain.model import ServerInfo
from migrationclient import exitcodes


def relist(actions, hosts, items):
    """List ``hosts`` again; add what is there to ``items``.

    :returns: ``{host: [ServerInfo]}`` of the servers on each host now
        that should not be there (shelved offloaded ones are not on it)
    :raises DrainError: a listing failed (the report keeps the rest)
    """
    by_id = {i.id: i for i in items}
    found = {}
    for host in hosts:
        try:
            listed = actions.servers_on_host(host)
        except errors.CloudError as exc:
            raise DrainError(str(exc))
        found[host] = [ServerInfo.from_sdk(s) for s in listed
                       if (s.status or '').upper() != 'SHELVED_OFFLOADED']
        for srv in found[host]:
            _mark(by_id, items, srv, host)
    return found


def _mark(by_id, items, srv, host):
    item = by_id.get(srv.id)
    if item is not None and item.state not in model.MOVED + (
            model.LEFT_HOST,):
        return              # still here and already reported as such
    why = (_('back on %s after its move (moved by someone else)') % host
           if item is not None else
           _('appeared on %s during the drain (booted or moved there '
             'after the host was listed): move it and run the drain '
             'again') % host)
    if item is None:
        item = Item(id=srv.id, name=srv.name or '',
                    project_id=srv.project_id, original_host=host,
                    original_status=srv.status, action=model.SKIP)
        items.append(item)
        by_id[srv.id] = item
    item.action, item.state = model.SKIP, model.APPEARED
    item.reason = item.error = why


def enable_empty(actions, report, found, rid, notes):
    """``--enable-when-done``: enable the empty hosts this drain claimed.

    The services are read again (one ``GET /os-services``): a host
    someone disabled again for another reason during the drain stays
    disabled.
    """
    services = None
    for host, left in sorted(found.items()):
        entry = report['service'].setdefault(host, {})
        entry['enabled_when_done'] = False
        if left:
            notes.append(_('%(host)s still holds %(n)d server(s): left '
                           'disabled') % {'host': host, 'n': len(left)})
            continue
        try:
            services = services or actions.compute_services()
            svc = actions.service_of(services, host)
        except errors.CloudError as exc:
            raise DrainError(str(exc))
        yes, why = claim.may_enable(svc, rid, entry)
        if not yes:
            notes.append(_('%(host)s left disabled: %(why)s') % {
                'host': host, 'why': why})
            continue
        try:
            actions.enable_service(svc)
        except errors.CloudError as exc:
            raise DrainError(str(exc))
        entry['enabled_when_done'] = True


def done(job, report, status):
    """After the drain's run: re-list, then ``--enable-when-done``.

    :returns: the exit status, :data:`exitcodes.DRAIN_INCOMPLETE` when a
        server is on a drained host (or a host could not be re-listed)
    """
    items = job.drain.items
    before = len(job.notes)
    try:
        found = relist(job.actions, job.hosts, items)
    except DrainError as exc:
        found = None
        job.notes.append(_('cannot list the drained hosts again (%s): the '
                           'drain is not known to be done') % exc)
    if found is None or any(i.state == model.APPEARED for i in items):
        report.setdefault('notes', []).extend(job.notes[before:])
        job.drain.save(final_state='incomplete')
        return exitcodes.DRAIN_INCOMPLETE if status == exitcodes.OK \
            else status
    if status == exitcodes.OK and job.enable_when_done:
        enable_empty(job.actions, report, found, report.get('id'),
                     job.notes)
        report.setdefault('notes', []).extend(
            job.notes[before:])
        job.drain.save()
    return status
