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


"""The root of every error this package reports to its user.

Each layer has its own family under :class:`Error` (``cloud.errors``,
the engines' ``DrainError`` / ``ReportError``, ``host.ssh.SSHError``...);
only the command layer (:mod:`migrationclient.v1.errors`) turns them into
osc-lib's ``CommandError``.  A message is one line, fit for the user.
"""


class Error(Exception):
    """A failure worth one clear line to the user."""
