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

"""nova-compute services: resolve a host exactly, disable, enable.

Seed sections 8.3 / 8.7: ``openstack compute service set <host>
nova-compute --disable`` before a maintenance, ``--enable`` after it. Host
names are matched exactly, never as a substring (novaclient's
``host-evacuate-live`` drained the wrong hosts that way). Disabling and
enabling go through the SDK proxy, which picks ``PUT /os-services/{id}``
from 2.53 and the 2.38-era ``PUT /os-services/disable-log-reason`` (host +
binary) below it, following the microversion the caller's proxy speaks
(``--os-compute-api-version``).

Every function takes the compute proxy (``client_manager.compute``) and
raises the :mod:`migrationclient.cloud.errors` family (one clear line):
:class:`~migrationclient.cloud.errors.NotFound` for a host without an
exact match, :class:`~migrationclient.cloud.errors.Forbidden` without
admin rights; the command layer turns it into ``CommandError``.
"""

import dataclasses
import datetime

from openstack import exceptions as sdk_exc

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient.constraints import model

BINARY = 'nova-compute'


@dataclasses.dataclass(frozen=True)
class ComputeService(model.ServiceStatus):
    """What the drain needs to know about one nova-compute service."""

    id: object            # int below 2.53, UUID string from 2.53
    host: str
    status: str           # 'enabled' / 'disabled'
    state: str            # 'up' / 'down' ('UNKNOWN' for down cells)
    forced_down: bool
    disabled_reason: str | None
    zone: str | None
    binary: str = BINARY

    @classmethod
    def from_sdk(cls, svc):
        return cls(id=svc.id, host=svc.host, status=svc.status,
                   state=svc.state, forced_down=bool(svc.is_forced_down),
                   disabled_reason=svc.disabled_reason,
                   zone=svc.availability_zone,
                   binary=getattr(svc, 'binary', None) or BINARY)


def list_services(compute):
    """Every service of the cloud (any binary), as :class:`ComputeService`.

    One ``GET /os-services`` without a binary filter: the drain reads its
    nova-compute services and the control plane's (nova-conductor,
    nova-scheduler, for its health gate) from the same request.
    """
    return [ComputeService.from_sdk(s) for s in _listed(compute)]


def _listed(compute, **query):
    try:
        return list(compute.services(**query))
    except sdk_exc.ForbiddenException:
        raise errors.Forbidden(_('Listing compute services is not allowed: '
                                 'this command needs an admin role.'),
                               status=403)


def list_compute_services(compute):
    """Every nova-compute service of the cloud, as :class:`ComputeService`."""
    try:
        services = list(compute.services(binary=BINARY))
    except sdk_exc.ForbiddenException:
        raise errors.Forbidden(_('Listing compute services is not allowed: '
                                 'this command needs an admin role.'),
                               status=403)
    # The binary filter is a query parameter; keep only exact matches in
    # case a cloud ignores it.
    return [ComputeService.from_sdk(s) for s in services
            if s.binary == BINARY]


def resolve_exact(services, host):
    """The nova-compute service of ``host``, matched exactly.

    :param services: list of :class:`ComputeService`
    :raises migrationclient.cloud.errors.NotFound: no service has exactly
        that host name; the message names close candidates (substring
        matches) without ever picking one.
    """
    for svc in services:
        if svc.host == host:
            return svc
    similar = sorted(s.host for s in services
                     if host.lower() in s.host.lower()
                     or s.host.lower() in host.lower())
    if similar:
        raise errors.NotFound(
            _('No nova-compute service on host %(host)s (exact match; '
              'similar: %(similar)s).')
            % {'host': host, 'similar': ', '.join(similar)})
    raise errors.NotFound(
        _('No nova-compute service on host %(host)s; known compute hosts: '
          '%(known)s.')
        % {'host': host,
           'known': ', '.join(sorted(s.host for s in services)) or '-'})


#: Nova's limit on a service's disabled_reason (os-services schema).
MAX_REASON_LENGTH = 255


def default_reason(now=None):
    """The disable reason the drain writes when none is given."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return 'migrationclient drain %s' % now.strftime('%Y-%m-%dT%H:%M:%SZ')


def disable(compute, service, reason):
    """Disable ``service`` with ``reason``; return the updated service.

    From 2.53 the SDK sends ``PUT /os-services/{uuid}`` with ``status`` and
    ``disabled_reason``; below it ``PUT /os-services/disable-log-reason``
    with host and binary (the OSP 10 API).
    """
    try:
        updated = compute.disable_service(
            service.id, host=service.host, binary=BINARY,
            disabled_reason=reason)
    except sdk_exc.SDKException as exc:
        raise errors.from_call(
            exc, _('Could not disable nova-compute on %s') % service.host)
    return _after(updated, service, status='disabled',
                  disabled_reason=reason)


def enable(compute, service):
    """Enable ``service``; return the updated service."""
    try:
        updated = compute.enable_service(
            service.id, host=service.host, binary=BINARY)
    except sdk_exc.SDKException as exc:
        raise errors.from_call(
            exc, _('Could not enable nova-compute on %s') % service.host)
    return _after(updated, service, status='enabled', disabled_reason=None)


def _after(updated, before, **changes):
    # Below 2.53 the SDK's Service.disable()/enable() return the resource
    # built from the PUT response, which carries host/binary/status only.
    if updated is not None and getattr(updated, 'status', None):
        changes['status'] = updated.status
        if getattr(updated, 'disabled_reason', None) is not None:
            changes['disabled_reason'] = updated.disabled_reason
    return dataclasses.replace(before, **changes)
