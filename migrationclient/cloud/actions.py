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

"""Every cloud call the engines make, raising only :mod:`cloud.errors`.

:class:`Actions` wraps the SDK compute proxy (and, for the fact gathering
of a plan, the SDK connection).  The drain and the watching engine talk to
the cloud through it alone, so :mod:`migrationclient.engine` never sees an
openstacksdk / keystoneauth exception nor osc-lib's ``CommandError``: a
refused or unanswered call is a :class:`~migrationclient.cloud.errors.
CloudError` (``status``, ``no_answer``, ``maybe_processed``), with the
same one-line message as before.

``_translated`` turns the libraries' exceptions that reach it into the
:mod:`~migrationclient.cloud.errors` family.
"""

import contextlib
import dataclasses

from migrationclient._i18n import _
from migrationclient.cloud import auth as auth_mod
from migrationclient.cloud import errors
from migrationclient.cloud import gather as cloud_facts
from migrationclient.cloud import identity
from migrationclient.cloud import migrations
from migrationclient.cloud import sdkfix
from migrationclient.cloud import servers
from migrationclient.cloud import services as services_mod
from migrationclient.cloud import versions


@contextlib.contextmanager
def _translated(what=None):
    """Any error of a cloud call becomes a :class:`errors.CloudError`.

    ``what`` prefixes the message of a library error ("Cannot list the
    servers of compute1: ...").
    """
    try:
        yield
    except errors.CloudError:
        raise
    except errors.CALL_ERRORS as exc:
        raise errors.from_call(exc, what)


@dataclasses.dataclass
class ServerNow:
    """A server as the drain checks it around a migration."""

    status: str
    host: str | None
    task_state: str | None

    def as_dict(self):
        return {'compute_host': self.host, 'status': self.status}


def wrap(compute):
    """``compute`` as :class:`Actions` (an SDK compute proxy is wrapped)."""
    return compute if isinstance(compute, Actions) else Actions(compute)


class Actions:
    """The engines' cloud calls over the SDK compute proxy.

    :param compute: the SDK compute proxy (``client_manager.compute``)
    :param conn: the SDK connection (placement, network), for
        :meth:`gather` only
    :param version: the compute microversion of the requests (default:
        discovered, :func:`versions.api_version`)
    """

    def __init__(self, compute, conn=None, version=None):
        self.compute = compute
        self.conn = conn
        self.version = version or versions.api_version(compute)

    # -- servers -----------------------------------------------------------

    def get_server(self, server_id):
        """:class:`ServerNow`, or None when the server is gone."""
        with _translated():
            server = migrations.get_server(self.compute, server_id)
        if server is None:
            return None
        return ServerNow(status=(server.status or '').upper(),
                         host=server.compute_host,
                         task_state=server.task_state)

    def find_server(self, name_or_id):
        """The SDK server named ``name_or_id`` (any project for admins)."""
        with _translated():
            return servers.find_server(self.compute, name_or_id)

    def servers_on_host(self, host):
        """Every SDK server whose ``compute_host`` is ``host`` exactly."""
        with _translated(_('Cannot list the servers of %s') % host):
            found = list(sdkfix.servers_on_host(self.compute, host))
        # Exact host match (the filter is exact in Nova; keep it so).
        return [s for s in found if s.compute_host == host]

    def aggregate_hosts(self, name):
        """The hosts of aggregate ``name``."""
        try:
            agg = self.compute.find_aggregate(name, ignore_missing=False)
        except errors.CALL_ERRORS as exc:
            err = errors.from_call(exc)
            if isinstance(err, errors.NotFound):
                raise errors.NotFound(_('No aggregate named %s.') % name)
            raise errors.from_call(exc, _('Cannot read aggregate %s') % name)
        return list(agg.hosts or [])

    # -- migrations --------------------------------------------------------

    def live_migrate(self, server_id, host):
        self._call(self.compute.live_migrate_server, server_id, host=host,
                   block_migration='auto')

    def cold_migrate(self, server_id, host):
        if host:
            self._call(self.compute.migrate_server, server_id, host=host)
        else:
            self._call(self.compute.migrate_server, server_id)

    def confirm(self, server_id):
        self._call(self.compute.confirm_server_resize, server_id)

    def migration_records(self, server_id=None, **query):
        """``GET /os-migrations`` (:class:`migrations.Migration` list)."""
        with _translated():
            return migrations.list_migrations(self.compute,
                                              server_id=server_id, **query)

    def server_live_migrations(self, server_id):
        """``GET /servers/{id}/migrations``, with the byte counters."""
        with _translated():
            return migrations.server_live_migrations(self.compute,
                                                     server_id)

    def failure_reason(self, migration):
        """:class:`migrations.Reason` of an ended migration, or None."""
        with _translated():
            return migrations.failure_reason(self.compute, migration)

    def can_abort(self, migration):
        return migrations.can_abort(self.compute, migration)

    def can_force_complete(self, migration):
        return migrations.can_force_complete(self.compute, migration)

    def abort(self, migration):
        with _translated():
            migrations.abort(self.compute, migration)

    def force_complete(self, migration):
        with _translated():
            migrations.force_complete(self.compute, migration)

    def find_migration(self, server_id, ref):
        """Migration ``ref`` (id or uuid) of ``server_id``.

        :raises errors.NotFound: it is not one of that server's (the
            message says whose it is when it belongs to another server)
        """
        for m in self.migration_records(server_id=server_id):
            if m.matches(ref):
                return m
        # Error path only: is it a migration of another server?
        for m in self.migration_records():
            if m.matches(ref):
                raise errors.NotFound(
                    _('Migration %(ref)s belongs to server %(other)s, not '
                      'to %(server)s') % {'ref': ref, 'other': m.server_id,
                                          'server': server_id})
        raise errors.NotFound(
            _('No migration %(ref)s for server %(server)s') %
            {'ref': ref, 'server': server_id})

    # -- services ----------------------------------------------------------

    def compute_services(self):
        """Every nova-compute service (:class:`services.ComputeService`)."""
        with _translated():
            return services_mod.list_compute_services(self.compute)

    def all_services(self):
        """Every service, any binary (one ``GET /os-services``)."""
        with _translated():
            return services_mod.list_services(self.compute)

    def placement_answers(self):
        """``GET /`` on Placement; :class:`errors.CloudError` unless 200.

        Without a connection (an engine driven on a bare compute proxy)
        there is nothing to ask.
        """
        if self.conn is None:
            return
        with _translated(_('Placement')):
            response = self.conn.placement.get('/', raise_exc=False)
        if response.status_code != 200:
            raise errors.CloudError(
                _('GET / answered %d') % response.status_code,
                status=response.status_code)

    @staticmethod
    def service_of(services, host):
        """The service of ``host`` among ``services`` (exact match)."""
        return services_mod.resolve_exact(services, host)

    def disable_service(self, service, reason):
        with _translated():
            return services_mod.disable(self.compute, service, reason)

    def enable_service(self, service):
        with _translated():
            return services_mod.enable(self.compute, service)

    # -- credentials -------------------------------------------------------

    def token_expiry(self):
        """When the token expires if it cannot be renewed, else None.

        See :func:`migrationclient.cloud.auth.token_expiry`.
        """
        session = getattr(self.conn, 'session', None) or getattr(
            self.compute, 'session', None)
        return auth_mod.token_expiry(session)

    # -- facts -------------------------------------------------------------

    def cloud(self):
        """Which cloud this is (:class:`identity.CloudId`), or None."""
        return identity.cloud_of(self.conn)

    def gather(self, **kwargs):
        """:func:`cloud.gather.gather` over this cloud."""
        with _translated():
            return cloud_facts.gather(self.compute, self.conn, **kwargs)

    @staticmethod
    def _call(func, *args, **kwargs):
        try:
            func(*args, **kwargs)
        except ValueError as exc:
            raise errors.CloudError(errors.one_line(exc))
        except errors.CALL_ERRORS as exc:
            raise errors.from_call(exc)
