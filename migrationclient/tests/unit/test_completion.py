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


"""Shell completion: ``openstack complete`` covers the plugin.

The OSC shell runs in-process, as ``openstack complete`` does, and its bash
completion script must offer every command registered in the plugin's
``openstack.migration.v1`` entry-point group, and every option of each.  The
expected commands are read from the installed entry points, so the test
follows the group as commands are added.
"""

import functools
from importlib import metadata
import io
import os
import re
import tempfile
from unittest import mock

from openstackclient import shell
import testtools

GROUP = 'openstack.migration.v1'

_DATA_LINE = re.compile(r"^\s*cmds(?:_(?P<key>[^=]*))?='(?P<words>[^']*)'$")


def _group_entry_points():
    """Entry points of the group, by command name (``a_b`` -> ``a b``)."""
    return {ep.name.replace('_', ' '): ep
            for ep in metadata.entry_points(group=GROUP)}


@functools.lru_cache(maxsize=None)
def _run_complete():
    """Run ``openstack complete`` once; return (status, script, stderr, app).

    No OS_* variable and no clouds.yaml is visible: completion needs no
    cloud.
    """
    with tempfile.TemporaryDirectory() as home:
        environ = {k: v for k, v in os.environ.items()
                   if not k.startswith('OS_')}
        environ['HOME'] = home
        environ['OS_CLIENT_CONFIG_FILE'] = os.path.join(home, 'clouds.yaml')
        with mock.patch.dict(os.environ, environ, clear=True):
            app = shell.OpenStackShell()
            app.stdout = io.StringIO()
            app.stderr = io.StringIO()
            status = app.run(['complete', '--name', 'openstack'])
    return status, app.stdout.getvalue(), app.stderr.getvalue(), app


def _completion_data(script):
    """``cmds_<words>`` lines of the bash script as {'a_b': {words}}."""
    data = {}
    for line in script.splitlines():
        match = _DATA_LINE.match(line)
        if match:
            data[match.group('key') or ''] = set(match.group('words').split())
    return data


class TestComplete(testtools.TestCase):
    """``openstack complete`` offers the plugin's commands and options.

    One test: the in-process ``openstack complete`` builds the parser of
    every installed command (seconds), so it runs once.
    """

    def test_plugin_commands_and_options_complete(self):
        status, script, stderr, app = _run_complete()
        self.assertEqual(0, status, stderr)
        self.assertTrue(
            script.rstrip().endswith('complete -F _openstack openstack'),
            'not a bash completion script for openstack')
        data = _completion_data(script)
        self.assertIn('', data)

        commands = _group_entry_points()
        if not commands:
            self.skipTest('no command registered in %s yet' % GROUP)
        for name, entry_point in sorted(commands.items()):
            words = name.split()
            for depth, word in enumerate(words):
                parent = '_'.join(words[:depth])
                self.assertIn(word, data.get(parent, set()),
                              '%r not offered after %r for %r'
                              % (word, parent or 'openstack', name))
            offered = data.get('_'.join(words))
            self.assertIsNotNone(offered, 'no option list for %r' % name)

            command = entry_point.load()(app, None)
            parser = command.get_parser('openstack ' + name)
            expected = {option for action in parser._actions
                        for option in action.option_strings}
            self.assertIn('--help', expected)
            self.assertEqual(set(), expected - offered,
                             'options of %r missing from completion' % name)
