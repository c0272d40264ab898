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


"""The cloud layer's error family: the one contract between layers.

Everything under :mod:`migrationclient.cloud` raises these (never osc-lib's
``CommandError``, never a raw openstacksdk / keystoneauth exception);
:mod:`migrationclient.engine` catches them; only :mod:`migrationclient.v1`
turns them into ``CommandError`` (one place: ``v1/errors.py``).

Every message is one line, fit for the user as it is.
"""

from keystoneauth1 import exceptions as ks_exc
from openstack import exceptions as sdk_exc

from migrationclient import errors


#: what a cloud call can raise after the libraries' own retries:
#: openstacksdk wraps HTTP errors, keystoneauth's connection errors come
#: through as they are.  Only :mod:`migrationclient.cloud` catches these.
CALL_ERRORS = (sdk_exc.SDKException, ks_exc.ClientException)


class CloudError(errors.Error):
    """A cloud call was refused or got no answer (one line).

    ``status``: the HTTP status of the refusal, None when there was none;
    ``no_answer``: the connection failed after keystoneauth's own retries
    (``connect_retries``), so the request may or may not have reached the
    service.
    """

    def __init__(self, message, status=None, no_answer=False):
        super().__init__(one_line(message))
        self.status = status
        self.no_answer = no_answer

    @property
    def maybe_processed(self):
        """The cloud may have acted on the request despite the error.

        A lost answer, a 5xx (a gateway or Nova failed after the request
        arrived) or a 409 "the server is migrating" (the answer to a first
        request was lost and keystoneauth sent it again).
        """
        return self.no_answer or self.status == 409 or (
            self.status is not None and self.status >= 500)


class AuthFailed(CloudError):
    """The cloud refused the credentials (401, expired or revoked token).

    Raised by keystoneauth when it cannot get a (new) token, e.g. token
    auth whose token expired: the identity service answers 404 "Failed to
    validate token" or 401.
    """


class NotFound(CloudError):
    """The named thing (server, host, aggregate, migration) does not exist."""


class Ambiguous(CloudError):
    """A name matches more than one thing."""


class Forbidden(CloudError):
    """The cloud's policy refused the call (usually: admin rights needed)."""


class Unsupported(CloudError):
    """The cloud (its API microversion or release) cannot do this."""


class Unreachable(CloudError):
    """A service did not answer (endpoint missing, connection refused)."""


def one_line(value):
    """The text of an exception or message as one line."""
    text = getattr(value, 'details', None) or str(value)
    return ' '.join(str(text).split())


def from_call(exc, what=None):
    """The :class:`CloudError` for an exception of :data:`CALL_ERRORS`.

    ``what``, when given, prefixes the message ("cannot list migrations:
    ...").  A 403 becomes :class:`Forbidden`, a 404 :class:`NotFound`, a
    keystoneauth connection failure :class:`CloudError` with
    ``no_answer=True``.
    """
    text = one_line(exc)
    if what:
        text = '%s: %s' % (what, text)
    if isinstance(exc, ks_exc.ConnectionError):
        return CloudError(text, no_answer=True)
    status = getattr(exc, 'status_code', None)
    if _auth_failure(exc, status):
        return AuthFailed(text, status=status)
    if status == 403 or isinstance(exc, sdk_exc.ForbiddenException):
        return Forbidden(text, status=403)
    if status == 404 or isinstance(exc, sdk_exc.NotFoundException):
        return NotFound(text, status=404)
    return CloudError(text, status=status)


def _auth_failure(exc, status):
    """Did the call fail because the credentials are refused?

    A 401 from any service, keystoneauth's ``AuthorizationFailure`` /
    ``Unauthorized``, or an HTTP error keystoneauth raised itself (not an
    answer of the service called, which openstacksdk wraps): the identity
    service refusing the token while keystoneauth authenticates.
    """
    if status == 401 or isinstance(exc, (ks_exc.AuthorizationFailure,
                                         ks_exc.Unauthorized)):
        return True
    return (isinstance(exc, ks_exc.HttpError) and
            not isinstance(exc, sdk_exc.SDKException) and
            'token' in one_line(exc).lower())
