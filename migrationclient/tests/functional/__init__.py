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
"""Functional tests of python-migrationclient, on the test bed.

One stestr run (``tox -e functional``) runs these and the test bed's own
tests (``testbed/tests``), so that one worker file
(``workers.yaml``) balances both and one closing count counts both.
"""

import os

_TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def load_tests(loader, standard_tests, pattern):
    here = os.path.dirname(os.path.abspath(__file__))
    standard_tests.addTests(loader.discover(
        start_dir=here, pattern=pattern or 'test*.py', top_level_dir=_TOP))
    standard_tests.addTests(loader.discover(
        start_dir=os.path.join(_TOP, 'testbed', 'tests'),
        pattern=pattern or 'test*.py', top_level_dir=_TOP))
    return standard_tests
