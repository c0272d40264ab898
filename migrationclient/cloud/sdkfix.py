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

"""Work-arounds for openstacksdk / OSC bugs: the one place for them.

Each function names the bug it avoids and has a unit test that shows the
bug (migrationclient/tests/unit/cloud/test_sdkfix.py).  Append new
functions; do not rewrite others'.
"""


def servers_on_host(compute, host, **query):
    """Every server on ``host`` (all projects, any state), with details.

    openstacksdk 4.22: ``compute.servers(all_projects=True, host=h)`` sends
    ``?host=h`` but then also filters the results client-side on the
    ``host`` attribute, which Nova never returns, so it yields nothing.
    The ``compute_host`` query parameter is sent as ``host`` without the
    client-side filter.
    """
    return compute.servers(details=True, all_projects=True,
                           compute_host=host, **query)
