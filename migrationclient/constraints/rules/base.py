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

"""The shared pieces of the rules: findings, and the ``@depends``
declarations the evaluation uses to share results.
"""

from migrationclient.constraints import model as f


def finding(rule, severity, message, remedy='', applies_to=f.BOTH):
    return f.Finding(rule, severity, message, remedy, tuple(applies_to))


class Depends:
    """What a rule's findings depend on, for the engine to share them.

    Besides the snapshot's cloud, hosts and groups (the same for every
    pair of one :func:`~migrationclient.constraints.evaluate.precheck`):
    ``server(server, snapshot)`` returns a hashable key of every server
    fact the rule reads (``None`` when it reads none), ``source`` /
    ``dest`` say whether it reads the source / destination host facts,
    ``groups`` whether it reads the server groups (``snapshot.groups``,
    ``groups_of``): the capacity planner changes them as it places
    members.
    Two (server, destination) pairs with equal keys get equal findings, so
    ``precheck`` computes them once and shares the (immutable) findings.
    A rule without a declaration depends on everything (never shared).
    """

    def __init__(self, server=None, source=False, dest=False,
                 groups=False):
        self.server = server
        self.source = source
        self.dest = dest
        self.groups = groups


def depends(server=None, source=False, dest=False, groups=False):
    """Decorator: declare a rule's :class:`Depends`."""
    def wrap(rule):
        rule.depends = Depends(server, source, dest, groups)
        return rule
    return wrap


#: Undeclared: the whole server and both hosts.
EVERYTHING = Depends(lambda server, snapshot: server.id, True, True, True)


def server_id(server, snapshot):
    """Key of a rule that reads the server as a whole: its id."""
    return server.id


def ok(rule, message, applies_to=f.BOTH):
    return [finding(rule, f.OK, message, applies_to=applies_to)]


def not_checked(rule, message, applies_to=f.BOTH, remedy=''):
    """Informational: a fact not read, that cannot make Nova refuse."""
    return [finding(rule, f.NOT_CHECKED, message, remedy, applies_to)]


def unknown(rule, message, applies_to=f.BOTH, remedy=''):
    """A fact not read that could make Nova refuse: verdict "maybe"."""
    return [finding(rule, f.UNKNOWN, message, remedy, applies_to)]
