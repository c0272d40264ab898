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


"""The one place where errors become ``CommandError`` (one line, exit 1).

Layers below ``v1/`` raise their own families, all under
:class:`migrationclient.errors.Error`; a command wraps its work in
:func:`translated` (or decorates ``take_action`` with
:func:`one_line_errors`) and the user sees the message, never a traceback.
"""

import contextlib
import functools

from osc_lib import exceptions

from migrationclient import errors


@contextlib.contextmanager
def translated(prefix=None):
    """Turn any :class:`migrationclient.errors.Error` into ``CommandError``.

    ``prefix`` (e.g. ``"server web-1"``) is put before the message.
    """
    try:
        yield
    except errors.Error as exc:
        text = ' '.join(str(exc).split())
        if prefix:
            text = '%s: %s' % (prefix, text)
        raise exceptions.CommandError(text) from exc


def one_line_errors(take_action):
    """Decorator for ``take_action``: :func:`translated` around it."""
    @functools.wraps(take_action)
    def wrapper(self, parsed_args):
        with translated():
            return take_action(self, parsed_args)
    return wrapper
