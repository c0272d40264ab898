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

"""The control plane health gate of a drain, before anything changes.

A drain that disables a host while Nova cannot schedule, conduct or
account for a migration leaves the host disabled and its servers where
they are.  So before the first change: at least one ``nova-conductor``
and one ``nova-scheduler`` up (read from the same ``GET /os-services`` the
drain reads the compute services from: no request of its own), Placement
answering (one ``GET /`` on its endpoint), every destination's
``nova-compute`` up and enabled (the destinations are chosen among those;
a named ``--target-host`` that is not refuses).  A failed gate is one
line, exit status 1, nothing changed.
"""

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.engine.drain.model import DrainError

#: control plane binaries that must have a service up
CONTROL = ('nova-conductor', 'nova-scheduler')


def control_problems(services):
    """Why the control plane cannot run a drain, as a list of phrases.

    :param services: every service of the cloud (each with ``binary``,
        ``host``, ``is_up``)
    """
    problems = []
    for binary in CONTROL:
        mine = [s for s in services if s.binary == binary]
        if not mine:
            problems.append(_('no %s service is listed') % binary)
        elif not any(s.is_up for s in mine):
            problems.append(_('%(binary)s is down on %(hosts)s') % {
                'binary': binary,
                'hosts': ', '.join(sorted(s.host for s in mine))})
    return problems


def check(actions, services):
    """Refuse (:class:`DrainError`) unless the control plane is healthy.

    :param actions: :class:`cloud.actions.Actions` (the Placement read)
    :param services: every service, from :meth:`Actions.all_services`
    """
    problems = control_problems(services)
    try:
        actions.placement_answers()
    except errors.CloudError as exc:
        problems.append(_('Placement does not answer (%s)') % exc)
    if problems:
        raise DrainError(
            _('Health gate: %s. Nothing was changed.') % '; '.join(problems))
