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

"""OpenStackClient plugin hooks for python-migrationclient.

The plugin adds no new service: every command talks to Compute, Placement
and Networking through the openstacksdk connection that osc-lib builds from
the usual ``OS_*`` variables or ``clouds.yaml``.  Nothing heavy is imported
here, so loading the plugin costs ``openstack`` next to nothing.
"""

import logging

from osc_lib import utils

from migrationclient._i18n import _

LOG = logging.getLogger(__name__)

DEFAULT_API_VERSION = '1'
API_VERSION_OPTION = 'os_migration_api_version'
API_NAME = 'migration'
API_VERSIONS = {
    '1': 'migrationclient.plugin',
}


def make_client(instance):
    """Return the openstacksdk connection the commands work with.

    The commands reach Compute through ``client_manager.compute`` (so that
    ``--os-compute-api-version`` is honoured by OSC) and Placement and
    Networking through this connection.
    """
    LOG.debug('Instantiating migration client (sdk connection)')
    return instance.sdk_connection


def build_option_parser(parser):
    """Add the plugin's global option to the ``openstack`` parser."""
    parser.add_argument(
        '--os-migration-api-version',
        metavar='<migration-api-version>',
        default=utils.env('OS_MIGRATION_API_VERSION',
                          default=DEFAULT_API_VERSION),
        help=_('Migration plugin interface version, default=%s '
               '(Env: OS_MIGRATION_API_VERSION)') % DEFAULT_API_VERSION,
    )
    return parser
