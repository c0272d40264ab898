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
"""keystonemiddleware ``auth_token`` against the bed's Keystone.

What the services expect (nova 34, placement 16):

* Nova's ``api-paste.ini`` pipeline for ``/v2.1`` is ``... authtoken
  keystonecontext osapi_compute_app_v21``: ``authtoken`` is
  ``keystonemiddleware.auth_token:filter_factory`` (options from
  ``[keystone_authtoken]`` of the global CONF), ``keystonecontext`` is
  ``nova.api.auth.NovaKeystoneContext``, which builds the RequestContext
  from the ``X-User-Id``/``X-Project-Id``/``X-Roles``/``X-Service-Catalog``
  headers ``auth_token`` sets; ``is_admin`` then comes from nova's policy
  (``context_is_admin``: ``role:admin``).  The version documents (``/``,
  ``/v2.1`` without a trailing path) have no ``authtoken``.
  ``nova.tests.fixtures.OSAPIFixture(stub_keystone=True)`` replaces
  *both*: ``auth_token.filter_factory`` by a no-op and
  ``NovaKeystoneContext._create_context`` by one that trusts
  ``X-Auth-User``/``X-Auth-Project-Id``/``X-Roles``.  So Keystone mode
  needs ``stub_keystone=False`` plus ``nova_filter_factory()`` below in
  place of ``auth_token.filter_factory`` (nothing written into nova's
  global CONF).
* Placement's ``deploy.deploy(conf)`` with ``[api]auth_strategy=keystone``
  wraps its app in ``placement.auth.PlacementAuthProtocol`` (an
  ``AuthProtocol`` that lets ``/`` through) built by
  ``placement.auth.filter_factory({}, oslo_config_config=conf)``, then
  ``PlacementKeystoneContext``.  ``placement_app()`` builds exactly that,
  with this module's options.

Service users authenticate over the *internal* identity endpoint, as in
TripleO.  ``token_cache_time`` defaults to -1 (no cache) so that a revoked
token is refused at once (production caches up to 300 s).
"""

import os
import urllib.parse

from keystonemiddleware import auth_token
from oslo_config import cfg

#: ``[keystone_authtoken]`` password-plugin options set here.
_PLUGIN_OPTS = ('auth_url', 'username', 'password', 'user_domain_name',
                'project_name', 'project_domain_name')


def bypass_proxy(url):
    """Keep a proxy from the environment away from a loopback ``url``.

    keystonemiddleware's session honours ``http_proxy`` (tox passes it
    through); a loopback Keystone must be reached directly.
    """
    host = urllib.parse.urlsplit(url).hostname
    if not any(os.environ.get(n) for n in ('http_proxy', 'HTTP_PROXY')):
        return
    for name in ('no_proxy', 'NO_PROXY'):
        hosts = [h for h in os.environ.get(name, '').split(',') if h]
        if host not in hosts:
            os.environ[name] = ','.join(hosts + [host])


def authtoken_conf(info, service_user, token_cache_time=-1):
    """A private oslo.config object holding ``[keystone_authtoken]``.

    :param info: ``Keystone.info()`` (or ``keystone.load_info(DIR)``).
    :param service_user: ``nova`` or ``placement`` (see
        ``keystone.SERVICE_USERS``).
    """
    from keystoneauth1 import loading

    user = info['users'][service_user]
    bypass_proxy(info['internal_url'])
    conf = cfg.ConfigOpts()
    conf([], project='migrationclient-authtoken', default_config_files=[],
         default_config_dirs=[])
    group = 'keystone_authtoken'
    for grp, opts in auth_token.list_opts():
        conf.register_opts(opts, group=grp)
    conf.register_opts(loading.get_auth_plugin_conf_options('password'),
                       group=group)
    values = {
        'www_authenticate_uri': info['public_url'],
        'auth_type': 'password',
        'auth_url': info['internal_url'],
        'username': user['username'],
        'password': user['password'],
        'user_domain_name': user['user_domain_name'],
        'project_name': user['project_name'],
        'project_domain_name': user['project_domain_name'],
        'region_name': info['region'],
        'interface': 'internal',
        'token_cache_time': token_cache_time,
        'service_token_roles_required': True,
        'include_service_catalog': True,
        'http_connect_timeout': 10,
    }
    for name, value in values.items():
        conf.set_override(name, value, group=group)
    return conf


def protect(app, info, service_user, token_cache_time=-1, cls=None):
    """``app`` behind keystonemiddleware ``auth_token`` (any WSGI app)."""
    cls = cls or auth_token.AuthProtocol
    conf = authtoken_conf(info, service_user, token_cache_time)
    return cls(app, {'oslo_config_config': conf})


def nova_filter_factory(info, service_user='nova', token_cache_time=-1):
    """Stand-in for ``keystonemiddleware.auth_token.filter_factory``.

    Nova's ``api-paste.ini`` calls it for its ``authtoken`` filter; this
    one builds the same ``AuthProtocol``, configured against the bed's
    Keystone instead of nova's global ``[keystone_authtoken]``.  Use with
    ``OSAPIFixture(stub_keystone=False)``, e.g.::

        self.useFixture(fixtures.MonkeyPatch(
            'keystonemiddleware.auth_token.filter_factory',
            middleware.nova_filter_factory(ks.info())))
    """
    def filter_factory(global_conf, **local_conf):
        def auth_filter(app):
            return protect(app, info, service_user, token_cache_time)
        return auth_filter
    return filter_factory


def placement_app(conf, info, service_user='placement',
                  token_cache_time=-1):
    """Placement's own keystone pipeline (``deploy.deploy``).

    :param conf: placement's ConfigOpts (e.g. nova's
        ``PlacementFixture().conf_fixture.conf``).  It is not changed:
        ``[api]auth_strategy=keystone`` is overridden only while the
        pipeline is built, and the ``auth_token`` options live in a
        private ConfigOpts.  Database and policy must already be set up
        (``deploy.loadapp`` did that for the bed's noauth2 app).
    """
    from unittest import mock

    from placement import auth
    from placement import deploy

    def filter_factory(global_conf, **local_conf):
        def auth_filter(app):
            return protect(app, info, service_user, token_cache_time,
                           cls=auth.PlacementAuthProtocol)
        return auth_filter

    old = conf.api.auth_strategy
    conf.set_override('auth_strategy', 'keystone', group='api')
    try:
        with mock.patch.object(auth, 'filter_factory', filter_factory):
            return deploy.deploy(conf)
    finally:
        if old == 'keystone':
            conf.clear_override('auth_strategy', group='api')
        else:
            conf.set_override('auth_strategy', old, group='api')
