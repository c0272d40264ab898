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
"""The test bed of python-migrationclient: a real Nova and Placement on
this machine, for the functional tests, the demo and the benchmarks.

- ``testbed.fakecloud``: the fake cloud (``python -m testbed.fakecloud``);
- ``testbed.client``: the bed seen from a test process (``Bed``,
  ``BedTestCase``);
- ``testbed.keystone``: a real Keystone in front of the bed;
- ``testbed.sshhosts``: sshd test hosts for ``--ssh``;
- ``testbed.httpproxy``: a counting / fault-injecting reverse proxy;
- ``testbed/tests``: the bed's own tests;
- ``testbed/requirements.txt``: the pinned requirements of the bed.

It is a tool of this repository, not part of the installed
python-migrationclient (doc/source/contributor/testbed.rst).
"""

import os

# The directory that holds the ``testbed`` package: children started with
# ``python -m testbed...`` get it on their PYTHONPATH.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
