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

"""Rules on the server's state and the compute services of both hosts
(seed sections 8.1 and 8.3 step 1; Nova conductor checks).
"""

from migrationclient._i18n import _
from migrationclient.constraints import model as f
from migrationclient.constraints.rules import base
from migrationclient import microversions as mv


LIVE_STATES = ('active', 'paused')


COLD_STATES = ('active', 'stopped', 'shutoff')
SHELVED_STATES = ('shelved', 'shelved_offloaded')
#: compute microversion that shows ``pinned_availability_zone``
PINNED_AZ = mv.Version(2, 96)


def _shelved(rule, server, vm_state):
    """A shelved server moves by unshelving.

    Nova migrates no SHELVED / SHELVED_OFFLOADED server (409).  Compute
    2.91 unshelves to a named host (``openstack server unshelve --host``).
    """
    ref = getattr(server, 'id', None) or '<server>'
    if vm_state == 'shelved_offloaded':
        text = _('server is SHELVED_OFFLOADED: it runs on no host; it moves '
                 'by being unshelved')
        remedy = _('openstack --os-compute-api-version 2.91 server unshelve '
                   '--host <dest> %s') % ref
    else:
        text = _('server is SHELVED: not migratable; offload it, then '
                 'unshelve it on the destination')
        remedy = _('openstack server shelve --offload %(id)s, then '
                   'openstack --os-compute-api-version 2.91 server unshelve '
                   '--host <dest> %(id)s') % {'id': ref}
    return [base.finding(rule, f.BLOCKER, text, remedy)]


@base.depends(lambda server, snapshot: (
    server.task_state, server.vm_state, server.status, server.locked))
def state(server, source, dest, snapshot):
    """state: the server's state allows the migration.

    Nova: live needs vm_state ACTIVE or PAUSED, cold ACTIVE or STOPPED; any
    task_state means another operation runs (409); locked servers can still
    be moved by an admin.
    """
    rule = 'state'
    findings = []
    vm_state = (server.vm_state or server.status or '').lower()
    if server.task_state:
        findings.append(base.finding(
            rule, f.BLOCKER,
            _('another operation is running (task_state %s)')
            % server.task_state,
            _('wait for it to finish')))
    if vm_state == 'error':
        findings.append(base.finding(
            rule, f.BLOCKER, _('server is in ERROR'),
            _('reset its state after checking it, then retry')))
    elif vm_state in SHELVED_STATES:
        findings.extend(_shelved(rule, server, vm_state))
    else:
        if vm_state not in LIVE_STATES:
            findings.append(base.finding(
                rule, f.BLOCKER,
                _('live migration needs ACTIVE or PAUSED, server is %s')
                % server.status,
                _('cold migrate'), (f.LIVE,)))
        if vm_state not in COLD_STATES:
            findings.append(base.finding(
                rule, f.BLOCKER,
                _('cold migration needs ACTIVE or SHUTOFF, server is %s')
                % server.status,
                _('live migrate') if vm_state in LIVE_STATES else
                _('bring the server to ACTIVE or SHUTOFF'), (f.COLD,)))
    if server.locked:
        findings.append(base.finding(
            rule, f.WARNING, _('server is locked'),
            _('only an admin can move it')))
    if not findings:
        return base.ok(rule, _('server is %s') % server.status)
    return findings


def _leaves_zone(rule, server, dest, snapshot):
    """Leaving the zone the server runs in: allowed, unwise (a warning).

    Nova enforces only the zone a server was *requested* in (its pinned
    zone, shown from compute 2.96); a server booted without one (shown in
    the default zone, or the zone its host is in) may move anywhere.
    """
    args = {'az': server.availability_zone, 'dz': dest.availability_zone}
    if snapshot.cloud.supports(PINNED_AZ):
        text = _('the server leaves availability zone %(az)s for %(dz)s: '
                 'Nova allows it (the server is pinned to no zone)') % args
    else:
        text = _('the server leaves availability zone %(az)s for %(dz)s: '
                 'allowed unless it was created in %(az)s explicitly (not '
                 'shown below compute 2.96)') % args
    return base.finding(rule, f.WARNING, text,
                        _('prefer a host of %s') % server.availability_zone)


@base.depends(lambda server, snapshot: (
    server.host, server.pinned_availability_zone,
    server.availability_zone), source=True, dest=True)
def services(server, source, dest, snapshot):
    """services: source and destination nova-compute up, destination usable.

    Seed 8.1 (both nodes must work) and 8.3 step 1.  Since compute 2.30 a
    named host goes through the scheduler (no ``force`` from 2.68): a
    disabled or down destination fails asynchronously (NoValidHost).  A cold
    migration to the source is refused (400); a live one fails.  An
    availability zone the server is pinned to is enforced.
    """
    rule = 'services'
    findings = []
    if dest.name == server.host:
        findings.append(base.finding(
            rule, f.BLOCKER, _('destination is the source host'),
            _('choose another destination')))
    if source is None:
        findings.append(base.finding(
            rule, f.BLOCKER,
            _('source host %s is not a known nova-compute host')
            % (server.host or _('(none)')),
            _('check the server')))
    elif not source.is_up:
        findings.append(base.finding(
            rule, f.BLOCKER,
            _('source nova-compute on %s is down') % source.name,
            _('bring it up, or evacuate the server instead')))
    if not dest.is_up:
        findings.append(base.finding(
            rule, f.BLOCKER,
            _('destination nova-compute is down') if not dest.forced_down
            else _('destination nova-compute is forced down'),
            _('choose another destination')))
    if not dest.is_enabled:
        findings.append(base.finding(
            rule, f.BLOCKER,
            _('destination nova-compute is disabled (%s)')
            % (dest.disabled_reason or _('no reason given')),
            _('enable it: openstack compute service set --enable %s '
              'nova-compute') % dest.name))
    pinned = server.pinned_availability_zone
    if pinned and dest.availability_zone and \
            dest.availability_zone != pinned:
        findings.append(base.finding(
            rule, f.BLOCKER,
            _('server is pinned to availability zone %(az)s, destination is '
              'in %(dz)s') % {'az': pinned, 'dz': dest.availability_zone},
            _('choose a host of %s') % pinned))
    elif (pinned is None and server.availability_zone
          and dest.availability_zone
          and dest.availability_zone != server.availability_zone):
        findings.append(_leaves_zone(rule, server, dest, snapshot))
    if not findings:
        return base.ok(rule, _('source and destination nova-compute up, '
                               'destination enabled'))
    return findings
