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

"""The lifetime of the credentials a long drain runs with.

Password, application credential and most other keystoneauth plugins get a
new token when theirs is about to expire.  A token plugin (``--os-auth-type
token`` / ``v3token`` / ``v2token``) cannot: re-authenticating with the same
token gives a token that expires at the same time.  :func:`token_expiry`
tells the drain when that is.
"""

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1.identity.generic import token as generic_token
from keystoneauth1.identity import v2
from keystoneauth1.identity import v3


def cannot_renew(auth):
    """True when ``auth`` (a keystoneauth plugin) only holds a token."""
    if isinstance(auth, (generic_token.Token, v2.Token)):
        return True
    methods = getattr(auth, 'auth_methods', None)
    if isinstance(auth, v3.Auth) and methods:
        return all(isinstance(m, v3.TokenMethod) for m in methods)
    return False


def token_expiry(session):
    """The expiry (aware datetime) of a token that cannot be renewed.

    None when the session's auth plugin renews its token (password...), or
    when the expiry cannot be read (then an authentication failure during
    the drain still ends it: :class:`~.errors.AuthFailed`).
    """
    auth = getattr(session, 'auth', None)
    if auth is None or not cannot_renew(auth):
        return None
    try:
        return auth.get_access(session).expires
    except (ks_exc.ClientException, AttributeError):
        return None
