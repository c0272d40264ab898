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

"""Which cloud a command talks to: a name that is stable and safe for files.

A drain's default report is keyed by the cloud as well as the hosts, so
two clouds with the same host names never share a report.  The key is
built from what names the cloud whatever way the user authenticates: the
identity (Keystone) URL and the region.  ``source overcloudrc``
(``OS_AUTH_URL``, ``OS_REGION_NAME``) and a ``clouds.yaml`` entry with the
same ``auth_url`` / ``region_name`` give the same key, whatever the
entry is called; a trailing ``/v3`` or ``/v2.0``, a trailing slash, the
case of the host and a default port do not change it.  Without an
identity URL (``auth_type: none``) the compute endpoint names the cloud.

:func:`cloud_of` reads an openstacksdk connection (``conn.config``, a
``CloudRegion``) without any request.
"""

import dataclasses
import hashlib
import re
from urllib import parse

_VERSION_SUFFIX = re.compile(r'/(v2\.0|v3)$', re.IGNORECASE)
_DEFAULT_PORTS = {'http': 80, 'https': 443}


def normalize_url(url):
    """``HTTPS://KS.example:443/v3/`` -> ``https://ks.example``."""
    if not url:
        return ''
    parts = parse.urlsplit(url.strip())
    scheme = (parts.scheme or 'http').lower()
    host = (parts.hostname or '').lower()
    if ':' in host:
        host = '[%s]' % host
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        netloc = '%s:%d' % (host, port)
    path = parts.path.rstrip('/')
    path = _VERSION_SUFFIX.sub('', path).rstrip('/')
    return '%s://%s%s' % (scheme, netloc, path)


def _safe(text):
    return re.sub(r'[^A-Za-z0-9._-]+', '_', text).strip('_')


@dataclasses.dataclass(frozen=True)
class CloudId:
    """The cloud of a connection: identity URL and region."""

    url: str                 # normalize_url() of the identity URL
    region: str | None = None
    name: str | None = None  # clouds.yaml name (informative, not keyed)

    @property
    def key(self):
        """``ks.example_5000-RegionOne-1a2b3c4d``: file-name safe.

        Readable (the URL's host and port, the region) and exact (the
        first 8 hex digits of the SHA-256 of the URL and the region).
        """
        digest = hashlib.sha256(
            ('%s\n%s' % (self.url, self.region or '')).encode('utf-8')
        ).hexdigest()[:8]
        host = parse.urlsplit(self.url).netloc or 'cloud'
        parts = [_safe(host) or 'cloud']
        if self.region:
            parts.append(_safe(self.region))
        parts.append(digest)
        return '-'.join(p for p in parts if p)

    def describe(self):
        """For messages: ``https://ks.example:5000 (region RegionOne)``."""
        if self.region:
            return '%s (region %s)' % (self.url, self.region)
        return self.url


def cloud_of(conn):
    """The :class:`CloudId` of an openstacksdk connection, or None."""
    config = getattr(conn, 'config', None)
    if config is None:
        return None
    auth = {}
    try:
        auth = dict(config.get_auth_args() or {})
    except Exception:       # a partial config: fall back below
        auth = {}
    if not auth:
        auth = dict((getattr(config, 'config', None) or {}).get('auth')
                    or {})
    url = auth.get('auth_url') or auth.get('endpoint')
    if not url:
        try:
            url = config.get_endpoint('compute')
        except Exception:
            url = None
    if not url:
        return None
    return CloudId(url=normalize_url(url),
                   region=getattr(config, 'region_name', None) or None,
                   name=getattr(config, 'name', None))
