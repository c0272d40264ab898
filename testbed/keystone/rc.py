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
"""``overcloudrc`` and ``clouds.yaml`` entries in the shape TripleO writes.

TripleO's ``overcloudrc`` (OSP 13 and later; OSP 10's ``overcloudrc.v3``
has the same identity variables) clears every ``OS_*`` variable, then
exports password-auth variables for Keystone v3 and the legacy
``COMPUTE_API_VERSION=1.1`` / ``NOVA_VERSION=1.1`` that old novaclient
versions read.  Operators ``source`` it before running ``openstack``.
"""

import shlex

#: The variables an ``overcloudrc`` sets, in the order TripleO writes them.
RC_VARIABLES = (
    'OS_NO_CACHE', 'COMPUTE_API_VERSION', 'OS_USERNAME', 'no_proxy',
    'OS_USER_DOMAIN_NAME', 'OS_VOLUME_API_VERSION', 'OS_CLOUDNAME',
    'OS_AUTH_URL', 'NOVA_VERSION', 'OS_IMAGE_API_VERSION', 'OS_PASSWORD',
    'OS_PROJECT_DOMAIN_NAME', 'OS_IDENTITY_API_VERSION', 'OS_PROJECT_NAME',
    'OS_AUTH_TYPE', 'OS_REGION_NAME', 'PYTHONWARNINGS',
)


def rc_environment(credentials, region, cloudname='overcloud'):
    """The variables of an ``overcloudrc``, as a dict."""
    return {
        'OS_NO_CACHE': 'True',
        'COMPUTE_API_VERSION': '1.1',
        'OS_USERNAME': credentials['username'],
        'no_proxy': '127.0.0.1,localhost',
        'OS_USER_DOMAIN_NAME': credentials['user_domain_name'],
        'OS_VOLUME_API_VERSION': '3',
        'OS_CLOUDNAME': cloudname,
        'OS_AUTH_URL': credentials['auth_url'],
        'NOVA_VERSION': '1.1',
        'OS_IMAGE_API_VERSION': '2',
        'OS_PASSWORD': credentials['password'],
        'OS_PROJECT_DOMAIN_NAME': credentials['project_domain_name'],
        'OS_IDENTITY_API_VERSION': '3',
        'OS_PROJECT_NAME': credentials['project_name'],
        'OS_AUTH_TYPE': 'password',
        'OS_REGION_NAME': region,
        'PYTHONWARNINGS': ('ignore:Certificate has no, ignore:A true '
                           'SSLContext object is not available'),
    }


def overcloudrc(credentials, region, cloudname='overcloud'):
    """Text of an ``overcloudrc`` for ``source``."""
    env = rc_environment(credentials, region, cloudname)
    lines = [
        '# Clear any old environment that may conflict.',
        "for key in $( set | awk -F= '/^OS_/ {print $1}' ); "
        'do unset "${key}" ; done',
    ]
    lines += ['export %s=%s' % (name, shlex.quote(env[name]))
              for name in RC_VARIABLES]
    lines += [
        '',
        '# Add OS_CLOUDNAME to PS1',
        'if [ -z "${CLOUDPROMPT_ENABLED:-}" ]; then',
        '    export PS1=${PS1:-""}',
        '    export PS1=\\${OS_CLOUDNAME:+"(\\$OS_CLOUDNAME)"}\\ $PS1',
        '    export CLOUDPROMPT_ENABLED=1',
        'fi',
    ]
    return '\n'.join(lines) + '\n'


def cloud_entry(credentials, region):
    """A ``clouds.yaml`` cloud with password auth against Keystone v3."""
    return {
        'auth_type': 'password',
        'auth': {
            'auth_url': credentials['auth_url'],
            'username': credentials['username'],
            'password': credentials['password'],
            'project_name': credentials['project_name'],
            'user_domain_name': credentials['user_domain_name'],
            'project_domain_name': credentials['project_domain_name'],
        },
        'region_name': region,
        'interface': 'public',
        'identity_api_version': '3',
    }
