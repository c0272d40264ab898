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


"""The OpenStackClient plugin hooks, with real OSC objects."""

import argparse
from importlib import metadata
import io
import json
import os
import tempfile
from unittest import mock

import fixtures
from openstack import config as sdk_config
from openstack import connection
from openstackclient.common import clientmanager
from openstackclient import shell
from osc_lib import clientmanager as osc_lib_clientmanager
import testtools

from migrationclient import plugin

ENV = 'OS_MIGRATION_API_VERSION'
GROUP = 'openstack.migration.v1'


def _offline_region():
    """A cloud region with no auth and no config files: nothing is called."""
    loader = sdk_config.OpenStackConfig(load_yaml_config=False,
                                        load_envvars=False)
    return loader.get_one(auth_type='none',
                          auth={'endpoint': 'http://127.0.0.1:9/'})


class TestModule(testtools.TestCase):

    def test_constants(self):
        self.assertEqual('migration', plugin.API_NAME)
        self.assertEqual('os_migration_api_version', plugin.API_VERSION_OPTION)
        self.assertEqual('1', plugin.DEFAULT_API_VERSION)
        self.assertEqual({'1': 'migrationclient.plugin'}, plugin.API_VERSIONS)

    def test_option_name_matches_api_version_option(self):
        # OSC reads the version from the option named API_VERSION_OPTION.
        parser = plugin.build_option_parser(argparse.ArgumentParser())
        self.assertTrue(hasattr(parser.parse_args([]),
                                plugin.API_VERSION_OPTION))


class TestBuildOptionParser(testtools.TestCase):

    def _parse(self, argv):
        parser = argparse.ArgumentParser()
        self.assertIs(parser, plugin.build_option_parser(parser))
        return parser.parse_args(argv).os_migration_api_version

    def test_default(self):
        self.useFixture(fixtures.EnvironmentVariable(ENV))
        self.assertEqual('1', self._parse([]))

    def test_default_from_environment(self):
        self.useFixture(fixtures.EnvironmentVariable(ENV, '2'))
        self.assertEqual('2', self._parse([]))

    def test_option_beats_environment(self):
        self.useFixture(fixtures.EnvironmentVariable(ENV, '2'))
        self.assertEqual('1', self._parse(['--os-migration-api-version',
                                           '1']))

    def test_help_names_the_environment_variable(self):
        parser = plugin.build_option_parser(argparse.ArgumentParser())
        self.assertIn(ENV, parser.format_help())


class TestRegistration(testtools.TestCase):
    """The plugin as OSC loads it from its entry point."""

    def test_loaded_by_osc(self):
        self.assertIn(plugin, clientmanager.PLUGIN_MODULES)

    def test_client_manager_attribute(self):
        cache = vars(osc_lib_clientmanager.ClientManager)[plugin.API_NAME]
        self.assertIs(plugin.make_client, cache.factory)

    def test_osc_parser_has_the_option(self):
        self.useFixture(fixtures.EnvironmentVariable(ENV, '1'))
        app = shell.OpenStackShell()
        parser = app.build_option_parser('description', 'version')
        options = {o for a in parser._actions for o in a.option_strings}
        self.assertIn('--os-migration-api-version', options)
        known, _ = parser.parse_known_args([])
        self.assertEqual('1', known.os_migration_api_version)


class TestMakeClient(testtools.TestCase):

    def _client_manager(self):
        manager = clientmanager.ClientManager(
            cli_options=_offline_region(),
            api_version={plugin.API_NAME: plugin.DEFAULT_API_VERSION})
        manager.setup_auth()
        return manager

    def test_returns_the_sdk_connection(self):
        manager = self._client_manager()
        client = plugin.make_client(manager)
        self.assertIsInstance(client, connection.Connection)
        self.assertIs(manager.sdk_connection, client)

    def test_client_manager_attribute_is_the_sdk_connection(self):
        # osc-lib caches the client on the class-level descriptor: start
        # from an empty cache and put back whatever was there.
        cache = vars(osc_lib_clientmanager.ClientManager)[plugin.API_NAME]
        self.addCleanup(setattr, cache, '_handle', cache._handle)
        cache._handle = None
        manager = self._client_manager()
        self.assertIs(manager.sdk_connection,
                      getattr(manager, plugin.API_NAME))


class TestShell(testtools.TestCase):
    """``openstack command list --group openstack.migration.v1``."""

    def test_command_list(self):
        with tempfile.TemporaryDirectory() as home:
            environ = {k: v for k, v in os.environ.items()
                       if not k.startswith('OS_')}
            environ['HOME'] = home
            environ['OS_CLIENT_CONFIG_FILE'] = os.path.join(home, 'x.yaml')
            with mock.patch.dict(os.environ, environ, clear=True):
                app = shell.OpenStackShell()
                app.stdout = io.StringIO()
                app.stderr = io.StringIO()
                status = app.run(['--os-migration-api-version', '1',
                                  'command', 'list', '--group', GROUP,
                                  '-f', 'json'])
        self.assertEqual(0, status, app.stderr.getvalue())
        self.assertEqual('1', app.api_version[plugin.API_NAME])
        listed = {command
                  for row in json.loads(app.stdout.getvalue())
                  if row['Command Group'] == GROUP
                  for command in row['Commands']}
        declared = {ep.name.replace('_', ' ')
                    for ep in metadata.entry_points(group=GROUP)}
        self.assertEqual(declared, listed)
