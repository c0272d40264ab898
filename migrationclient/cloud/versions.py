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

"""Compute API microversions of the cloud: the one discovery.

:func:`discover` reads the compute endpoint's version document once per
proxy (keystoneauth caches it); everything else asks it:

* :func:`api_version` / :func:`supports`: the microversion requests are
  made with (``--os-compute-api-version``, else the cloud's maximum),
  lenient (2.1 when nothing is known);
* :func:`checked` : (maximum, requested) for the precheck, strict (one
  clear error when the cloud is unreachable, too old, or the user asked
  for more than it offers).
"""

from keystoneauth1 import discover as ks_discover

from migrationclient._i18n import _
from migrationclient.cloud import errors
from migrationclient import microversions as mv


def discover(compute):
    """The cloud's maximum compute microversion, None if it reports none.

    :raises migrationclient.cloud.errors.Unreachable: the endpoint could
        not be read (no endpoint, connection refused...).
    """
    try:
        data = compute.get_endpoint_data()
    except Exception as exc:   # noqa: B902  keystoneauth: unreachable, none
        raise errors.Unreachable(_('compute service unreachable: %s') % exc)
    if data is None or not data.max_microversion:
        return None
    return mv.Version.parse(ks_discover.version_to_string(
        data.max_microversion))


def cloud_max_version(compute):
    """The cloud's maximum compute microversion, or None if unknown."""
    try:
        return discover(compute)
    except errors.Unreachable:
        return None


def requested_version(compute):
    """``--os-compute-api-version`` (the proxy's default), or None."""
    requested = getattr(compute, 'default_microversion', None)
    return mv.Version.parse(requested) if requested else None


def api_version(compute):
    """The microversion requests are made with.

    ``--os-compute-api-version`` (the session default) when given, else
    the cloud's maximum; 2.1 when neither is known.
    """
    return (requested_version(compute) or cloud_max_version(compute) or
            mv.Version(2, 1))


def supports(compute, required):
    return api_version(compute) >= mv.Version.parse(required)


def checked(compute):
    """(cloud maximum, requested) compute microversions, both usable.

    :raises migrationclient.cloud.errors.CloudError: unreachable, no
        microversions, older than :data:`microversions.MINIMUM`, or a
        requested version above the cloud's maximum.
    """
    max_version = discover(compute)
    if max_version is None:
        raise errors.Unsupported(
            _('compute service reports no microversions (needs >= %s)')
            % mv.MINIMUM)
    requested = requested_version(compute)
    if max_version < mv.MINIMUM:
        raise errors.Unsupported(
            _('compute API %(max)s is older than the oldest supported '
              '%(min)s') % {'max': max_version, 'min': mv.MINIMUM})
    if requested is not None and requested > max_version:
        raise errors.Unsupported(
            _('--os-compute-api-version %(req)s: the cloud supports up to '
              '%(max)s') % {'req': requested, 'max': max_version})
    return max_version, requested
