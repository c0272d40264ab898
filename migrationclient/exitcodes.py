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
"""Exit statuses of the plugin's commands: a stable, documented interface.

``openstack`` itself exits 1 for errors (bad input, API failures, missing
rights); the statuses below are returned by commands that completed their
work but have a result a script must tell apart.  See
doc/source/user/scripting.rst.
"""

OK = 0
ERROR = 1                 # osc-lib / cliff: bad input or an API error
#: precheck: at least one server has no allowed migration
PRECHECK_BLOCKED = 3
#: drain: the host still holds servers that should have moved
DRAIN_INCOMPLETE = 4
#: drain: interrupted (SIGINT / SIGTERM); report written, resumable
DRAIN_INTERRUPTED = 5
#: watch: the migration ended failed / error
WATCH_FAILED = 6
#: watch: the migration was cancelled (aborted)
WATCH_CANCELLED = 7
#: watch: stuck and not resolved by the chosen policy
WATCH_STUCK = 8
#: watch / drain: --timeout reached
TIMEOUT = 9
#: numa compare: some aspect of the placement is degraded
NUMA_DEGRADED = 10
#: precheck --ssh: no compute host could be read over SSH, so the
#: verdicts rest on the API facts only (--ssh-optional accepts that: 0)
PRECHECK_NO_SSH_FACTS = 11
#: drain --ssh: no compute host could be read over SSH; nothing was
#: changed (--ssh-optional drains on the API facts)
DRAIN_NO_SSH_FACTS = 11
#: drain: the capacity plan cannot place every server; nothing was
#: changed (--allow-partial drains the servers that fit)
DRAIN_PLAN_INFEASIBLE = 12
#: watch: interrupted (SIGINT / Ctrl-C, SIGTERM) before the migrations
#: ended; they go on, unchanged (128 + SIGINT, the status a shell gives)
WATCH_INTERRUPTED = 130
