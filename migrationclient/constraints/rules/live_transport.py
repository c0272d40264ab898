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

"""The live migration transport: the destination's endpoint answers the
source (seed 8.0: the shared SSH key of the nova user, the sshd service
of the CVE-2017-2637 fix).
"""

from migrationclient._i18n import _
from migrationclient.constraints import model as f
from migrationclient.constraints.rules import base

RULE = 'transport'
LIVE_ONLY = (f.LIVE,)
#: appended to every finding: what this check does not cover
COLD_NOTE = _('cold migration uses its own ssh / rsync between the '
              'computes, not checked')


def describe(facts):
    """``ssh://user@address:port`` of a :class:`~.model.TransportFacts`."""
    user = '%s@' % facts.user if facts.user else ''
    address = facts.address or '?'
    if ':' in address:
        address = '[%s]' % address
    return '%s://%s%s:%s' % (facts.scheme, user, address, facts.port)


def _remedy(facts, source):
    scheme, port = facts.scheme, facts.port
    who = facts.run_as or _('the nova user')
    problem = facts.problem
    if problem == 'refused' or problem == 'closed':
        if scheme == 'ssh':
            return _('start sshd on port %(port)d of the destination (Red '
                     'Hat OSP: the Sshd service of the CVE-2017-2637 fix, '
                     'port 2022) or correct [libvirt] live_migration_uri on '
                     '%(src)s') % {'port': port, 'src': source}
        return _('make libvirtd listen on %(scheme)s port %(port)d of the '
                 'destination (libvirtd-%(scheme)s.socket / listen_%(scheme)s)'
                 ', or set [libvirt] live_migration_scheme on %(src)s') % {
                     'scheme': scheme, 'port': port, 'src': source}
    if problem in ('timeout', 'unreachable'):
        return _('open port %(port)d of %(addr)s to %(src)s (firewall, '
                 'routes), or set [libvirt] live_migration_inbound_addr on '
                 'the destination to an address %(src)s reaches') % {
                     'port': port, 'addr': facts.address, 'src': source}
    if problem == 'dns':
        return _('set [libvirt] live_migration_inbound_addr on the '
                 'destination to an address, or make %(addr)s resolve on '
                 '%(src)s') % {'addr': facts.address, 'src': source}
    if problem == 'host-key-unknown':
        return _('add the destination\'s host key to the known_hosts of '
                 '%(who)s on %(src)s (check it, then ssh-keyscan -p %(port)d '
                 '%(addr)s)') % {'who': who, 'src': source, 'port': port,
                                 'addr': facts.address}
    if problem == 'host-key-changed':
        return _('the destination was reinstalled or is not who it claims: '
                 'check its key, then replace it in the known_hosts of '
                 '%(who)s on %(src)s') % {'who': who, 'src': source}
    if problem == 'no-key':
        return _('give %(who)s on %(src)s the shared migration key (Red Hat '
                 'OSP: the NovaCompute service\'s migration key, '
                 '/etc/nova/migration/identity)') % {
                     'who': who, 'src': source}
    if problem == 'permission-denied':
        return _('authorize the key of %(who)s on %(src)s for %(user)s on '
                 'the destination (authorized_keys)') % {
                     'who': who, 'src': source,
                     'user': facts.user or who}
    return _('check the destination\'s migration endpoint from %s') % source


_PROBLEMS = {
    'refused': _('%(end)s refused the connection from %(src)s: nothing '
                 'listens on port %(port)s at %(addr)s'),
    'closed': _('%(end)s closed the connection from %(src)s before any '
                'login (port %(port)s at %(addr)s)'),
    'timeout': _('%(end)s did not answer %(src)s in time (port %(port)s at '
                 '%(addr)s filtered?)'),
    'unreachable': _('%(src)s has no route to %(addr)s (%(end)s)'),
    'dns': _('%(src)s cannot resolve the migration address %(addr)s '
             '(%(end)s)'),
    'host-key-unknown': _('the SSH host key of %(end)s is unknown to '
                          '%(who)s on %(src)s (BatchMode refuses it)'),
    'host-key-changed': _('the SSH host key of %(end)s CHANGED for '
                          '%(who)s on %(src)s'),
    'no-key': _('%(who)s on %(src)s has no SSH key for %(end)s'),
    'permission-denied': _('%(end)s refused the key of %(who)s on %(src)s '
                           '(permission denied)'),
    'error': _('%(end)s could not be reached from %(src)s'),
}


@base.depends(source=True, dest=True)
def transport(server, source, dest, snapshot):
    """transport: the destination's live migration endpoint answers.

    Seed 8.0 ("all Compute nodes require a shared SSH key ... for the nova
    user"; the Sshd composable service, CVE-2017-2637).  With ``--ssh``,
    checked from the source host as the migration user (a BatchMode ssh
    that runs nothing, or a TCP connect for ``tcp`` / ``tls``), with the
    scheme, address and port of both hosts' nova.conf
    (:mod:`migrationclient.host.transport`).  A failed connection fails
    the live migration ("no"); a check that could not run says so
    (not-checked: it cannot make Nova refuse).  Live only.
    """
    if source is None or source.host_side is None:
        return base.not_checked(
            RULE, _('live migration transport not checked (--ssh checks '
                    'from the source that the destination\'s migration '
                    'endpoint answers); %s') % COLD_NOTE, LIVE_ONLY)
    checked = source.host_side.transport
    if not checked:
        # read before the destination's name: a verdict the same for
        # every destination (the capacity planner shares it)
        return base.not_checked(
            RULE, _('live migration transport from %(src)s not checked: '
                    'no destination was checked from it (migration '
                    'precheck --ssh checks the destinations it reads); '
                    '%(cold)s') % {
                        'src': source.name, 'cold': COLD_NOTE}, LIVE_ONLY)
    facts = checked.get(dest.name)
    if facts is None:
        return base.not_checked(
            RULE, _('live migration transport from %(src)s to %(dst)s not '
                    'checked (%(dst)s not read over SSH); %(cold)s') % {
                        'src': source.name, 'dst': dest.name,
                        'cold': COLD_NOTE}, LIVE_ONLY)
    if facts.answered is None:
        what = describe(facts) if facts.address else facts.scheme
        return base.not_checked(
            RULE, _('live migration transport %(end)snot checked from '
                    '%(src)s: %(why)s; %(cold)s') % {
                        'end': what + ' ' if what else '', 'src': source.name,
                        'why': facts.detail or _('unknown'),
                        'cold': COLD_NOTE}, LIVE_ONLY)
    values = {'end': describe(facts), 'src': source.name,
              'addr': facts.address, 'port': facts.port,
              'who': facts.run_as or _('the nova user')}
    if facts.answered:
        extra = ''
        if facts.scheme == 'ssh':
            extra = _(' (as %(who)s, key %(key)s)') % {
                'who': values['who'], 'key': facts.key_file or _('default')}
        elif facts.scheme == 'tls':
            extra = _(' (TCP only: certificates not checked)')
        if not facts.tunnelled and facts.scheme in ('ssh', 'tcp', 'tls'):
            extra += _('; data goes to QEMU ports 49152-49215, not checked')
        return base.ok(
            RULE, _('%(end)s answers from %(src)s%(extra)s; %(cold)s') % dict(
                values, extra=extra, cold=COLD_NOTE), LIVE_ONLY)
    message = _PROBLEMS.get(facts.problem, _PROBLEMS['error']) % values
    if facts.detail:
        message += ': %s' % facts.detail
    message += _('; the live migration would fail (%s)') % COLD_NOTE
    return [base.finding(RULE, f.BLOCKER, message,
                         _remedy(facts, source.name), LIVE_ONLY)]
