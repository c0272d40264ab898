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

"""Benchmarks of the plugin's commands, run for real through the proxy.

Each one is a few lines on top of :func:`benchmarks.harness.
command_economy` (see benchmarks/README.rst to add one).  A benchmark whose
command is not registered in this installation reports that and passes.
"""

from benchmarks import common
from benchmarks import harness
from benchmarks import startup


def _registered(words):
    return tuple(words) in startup.plugin_commands()


def _not_registered(name, words):
    return [common.Row(name, 'openstack %s' % ' '.join(words),
                       'not registered',
                       note='no %s entry point in this installation'
                       % '_'.join(words))]


@common.benchmark('precheck-economy', needs_bed=True)
def precheck_economy(ctx):
    """migration precheck --source-host: requests vs by hand, N x M."""
    words = ('migration', 'precheck')
    if not _registered(words):
        return _not_registered('precheck-economy', words)
    return harness.command_economy(
        ctx, 'precheck-economy',
        lambda source, hosts: list(words) + ['--source-host', source,
                                             '-f', 'json'],
        # 3: some server cannot move (exitcodes.PRECHECK_BLOCKED).
        ok_returncodes=(0, 3))
