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

"""Running a module of the collection in the test process."""

import contextlib
import importlib
import io
import json
import pathlib
import sys
import unittest

TOP = pathlib.Path(__file__).resolve().parents[4]
COLLECTION = TOP / 'ansible_collections' / 'openstack' / 'migration'
MODULES = ('compute_drain', 'migration_precheck_info',
           'server_migration_info')

# The tests need ansible-core and the collection's source tree (not in the
# installed tests package): without them, every test here is skipped.
try:
    from ansible.module_utils import testing
except ImportError:
    raise unittest.SkipTest('ansible-core is not installed')
if not COLLECTION.is_dir():
    raise unittest.SkipTest('no collection source tree at %s' % COLLECTION)
if str(TOP) not in sys.path:
    sys.path.insert(0, str(TOP))


def load(name):
    """``plugins.<name>`` of the collection (``module_utils.openstack``)."""
    return importlib.import_module(
        'ansible_collections.openstack.migration.plugins.' + name)


class Exited(Exception):
    """A module's exit_json / fail_json: ``result`` is its JSON."""

    def __init__(self, result):
        super().__init__(result.get('msg'))
        self.result = result


def run_module(module_class, args, conn=None):
    """Instantiate and run ``module_class`` with ``args``.

    :returns: the result dict of exit_json / fail_json (``failed``
        says which), a bad argument's ``fail_json`` included
    """
    out = io.StringIO()
    with testing.patch_module_args(args), contextlib.redirect_stdout(out):
        try:
            module = module_class()
            if conn is not None:
                module._conn = conn
            module()
        except SystemExit:
            pass
    return json.loads(out.getvalue())
