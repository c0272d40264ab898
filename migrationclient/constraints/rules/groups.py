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

"""Server group rules: affinity and anti-affinity policies (seed section
8.8).
"""

from migrationclient._i18n import _
from migrationclient.constraints import model as f
from migrationclient.constraints.rules import base


@base.depends(lambda server, snapshot: (
    server.id if snapshot.groups_of(server.id) else None), dest=True,
    groups=True)
def server_group(server, source, dest, snapshot):
    """server-group: affinity / anti-affinity policies stay satisfied.

    Seed 8.8 (server group check failures).  Hard policies are enforced
    by the scheduler (ServerGroup(Anti)AffinityFilter) for live and cold
    migrations; soft ones only weigh.
    """
    rule = 'server-group'
    groups = snapshot.groups_of(server.id)
    if not groups:
        return base.ok(rule, _('server is in no server group'))
    findings = []
    for group in groups:
        peers = {m: h for m, h in group.member_hosts.items()
                 if m != server.id and h}
        unknown = [m for m in group.members
                   if m != server.id and m not in group.member_hosts]
        on_dest = sorted(m for m, h in peers.items() if h == dest.name)
        elsewhere = sorted({h for h in peers.values()})
        name = group.name or group.id
        policy = group.policy
        hard = not policy.startswith('soft-')
        severity = f.BLOCKER if hard else f.WARNING
        if policy.endswith('anti-affinity'):
            limit = int((group.rules or {}).get('max_server_per_host', 1))
            if len(on_dest) + 1 > limit:
                findings.append(base.finding(
                    rule, severity,
                    _('%(policy)s group %(name)s: %(n)d member(s) already '
                      'on the destination') % {'policy': policy,
                                               'name': name,
                                               'n': len(on_dest)},
                    _('choose a host without members of %s') % name))
        elif policy.endswith('affinity') and peers:
            if elsewhere != [dest.name]:
                findings.append(base.finding(
                    rule, severity,
                    _('%(policy)s group %(name)s: the other members are on '
                      '%(hosts)s') % {'policy': policy, 'name': name,
                                      'hosts': ', '.join(elsewhere)},
                    _('move the whole group together, or leave it')))
        if unknown:
            findings.append(base.finding(
                rule, f.UNKNOWN if hard else f.NOT_CHECKED,
                _('group %(name)s: host of %(n)d member(s) unknown '
                  '(%(ids)s)')
                % {'name': name, 'n': len(unknown),
                   'ids': ', '.join(sorted(unknown)[:3])},
                _('check their hosts: openstack server show <member> '
                  '(admin, all projects)')))
    if not any(x.severity in (f.BLOCKER, f.WARNING, f.UNKNOWN)
               for x in findings):
        findings.append(base.finding(rule, f.OK,
                                     _('server group policies satisfied')))
    return findings
