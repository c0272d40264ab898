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

"""Servers by name or ID, and where they run: the one server lookup.

Every command finds its servers through :func:`find_server`: one
behaviour (every project for an admin, the user's own projects for anyone
else) and one family of messages.  :func:`locate_server` adds where the
server runs (host, libvirt name, hypervisor address), the seam to SSH.
"""

import dataclasses
import logging

from openstack import exceptions as sdk_exc

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient import microversions

LOG = logging.getLogger(__name__)


def find_server(compute, ref):
    """The server named or identified by ``ref`` (details view).

    Admins see every project's servers; for anyone else (the cloud's
    policy refuses ``all_projects``) the user's own.

    :raises migrationclient.cloud.errors.NotFound: no such server.
    :raises migrationclient.cloud.errors.Ambiguous: the name is not unique.
    :raises migrationclient.cloud.errors.CloudError: the lookup failed.
    """
    try:
        try:
            server = compute.find_server(ref, ignore_missing=True,
                                         details=True, all_projects=True)
        except sdk_exc.ForbiddenException:
            # not admin: only its own servers
            server = compute.find_server(ref, ignore_missing=True,
                                         details=True)
    except sdk_exc.DuplicateResource:
        raise errors.Ambiguous(
            _('More than one server is named %s; use its ID') % ref)
    except errors.CALL_ERRORS as exc:
        raise errors.from_call(exc, _('Cannot find server %s') % ref)
    if server is None:
        raise errors.NotFound(
            _('No server with a name or ID of %s exists') % ref, status=404)
    return server


def find_servers(compute, refs):
    """:func:`find_server` of each of ``refs``, without duplicates."""
    result = []
    for ref in refs:
        server = find_server(compute, ref)
        if server.id not in [s.id for s in result]:
            result.append(server)
    return result


@dataclasses.dataclass
class ServerLocation:
    """Where a server runs, as the cloud says (the seam to SSH)."""

    id: str
    name: str
    host: str            # OS-EXT-SRV-ATTR:host
    domain: str          # OS-EXT-SRV-ATTR:instance_name
    address: str | None = None   # hypervisor host_ip, if the API has it


def locate_server(compute, ref):
    """:class:`ServerLocation` of the server ``ref``.

    :raises migrationclient.cloud.errors.Forbidden: the API does not show
        the host and libvirt name (no admin rights, or not on a host).
    """
    server = find_server(compute, ref)
    host = getattr(server, 'compute_host', None)
    domain = getattr(server, 'instance_name', None)
    if not host or not domain:
        raise errors.Forbidden(_(
            'server %s: the compute API does not show its host and '
            'libvirt name (OS-EXT-SRV-ATTR:*): admin rights needed, or the '
            'server is not on a host') % ref)
    address = None
    hv_name = getattr(server, 'hypervisor_hostname', None)
    if hv_name:
        try:
            hypervisor = compute.find_hypervisor(hv_name, ignore_missing=True,
                                                 details=True)
            address = getattr(hypervisor, 'host_ip', None) or None
        except errors.CALL_ERRORS as exc:
            LOG.debug('hypervisor %s lookup failed: %s', hv_name, exc)
    return ServerLocation(id=server.id, name=server.name or server.id,
                          host=host, domain=domain, address=address)


def host_address(compute, host):
    """The hypervisor ``host_ip`` of compute ``host``, or None.

    Raises :class:`errors.Forbidden` when the policy hides the hypervisors
    (``os-hypervisors`` is admin-only): the caller can then say why a bare
    host name is all it has.  Other failures: None (host names are used).
    """
    try:
        for hypervisor in compute.hypervisors(details=True):
            service = getattr(hypervisor, 'service_details', None) or {}
            if host in (service.get('host'), hypervisor.name):
                return getattr(hypervisor, 'host_ip', None) or None
    except errors.CALL_ERRORS as exc:
        err = errors.from_call(exc)
        if isinstance(err, errors.Forbidden):
            raise errors.Forbidden(
                _('reading the compute hosts\' addresses (os-hypervisors) '
                  'needs the admin role'), status=403)
        LOG.debug('hypervisor list failed (%s); using host names', exc)
    return None


def nova_topology(compute, server_id):
    """``GET /servers/{id}/topology`` at 2.78, or None when unavailable.

    openstacksdk's ``Server.fetch_topology`` sends the proxy's default
    microversion (OSC's 2.1 unless the user asked for another), which Nova
    answers with 404: the request names 2.78 itself.
    """
    url = '/servers/%s/topology' % server_id
    try:
        response = compute.get(url,
                               microversion=str(microversions.SERVER_TOPOLOGY))
        sdk_exc.raise_from_response(response)
        return response.json()
    except errors.CALL_ERRORS as exc:
        LOG.debug('server topology unavailable (needs %s): %s',
                  microversions.SERVER_TOPOLOGY, exc)
        return None
    except ValueError:
        return None
