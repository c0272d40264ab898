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

"""The base of the openstack.migration modules.

It follows openstack.cloud's ``plugins/module_utils/openstack.py`` (the
official collection's conventions, without depending on it at run time):
the same common options (:func:`openstack_full_argument_spec`, documented
by the ``openstack.migration.openstack`` doc fragment), the same
openstacksdk connection (``openstack.connect(cloud=..., auth=...)``, so
clouds.yaml, ``OS_*`` variables and an overcloudrc resolve as they do for
openstack.cloud), and an :class:`OpenStackModule` whose ``run()`` a module
overrides.  Errors of the migrationclient library (one line each) become
``fail_json(msg=...)``.
"""

import copy
import importlib
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.basic import missing_required_lib

try:
    from migrationclient import errors as mc_errors
    HAS_MIGRATIONCLIENT = True
    MIGRATIONCLIENT_IMPORT_ERROR = None
except ImportError:
    mc_errors = None
    HAS_MIGRATIONCLIENT = False
    MIGRATIONCLIENT_IMPORT_ERROR = traceback.format_exc()

#: the options a ``cloud`` dict replaces (openstack.cloud refuses both)
CLOUD_DICT_EXCLUDES = ('auth', 'region_name', 'validate_certs', 'ca_cert',
                       'client_cert', 'client_key', 'api_timeout',
                       'auth_type')


def openstack_full_argument_spec(**kwargs):
    """openstack.cloud's common options, updated with ``kwargs``."""
    spec = dict(
        cloud=dict(type='raw'),
        auth_type=dict(),
        auth=dict(type='dict', no_log=True),
        region_name=dict(),
        validate_certs=dict(type='bool', aliases=['verify']),
        ca_cert=dict(aliases=['cacert']),
        client_cert=dict(aliases=['cert']),
        client_key=dict(no_log=True, aliases=['key']),
        wait=dict(default=True, type='bool'),
        timeout=dict(default=180, type='int'),
        api_timeout=dict(type='int'),
        interface=dict(
            default='public', choices=['public', 'internal', 'admin'],
            aliases=['endpoint_type']),
        sdk_log_path=dict(),
        sdk_log_level=dict(default='INFO', choices=['INFO', 'DEBUG']),
    )
    spec.update(copy.deepcopy(kwargs))
    return spec


#: the ``ssh`` option (doc fragment ``openstack.migration.ssh``): the
#: commands' ``--ssh-*`` options, one sub-option each
SSH_SPEC = dict(ssh=dict(type='dict', options=dict(
    user=dict(),
    key=dict(type='list', elements='path', no_log=False),
    no_agent=dict(type='bool', default=False),
    port=dict(type='int'),
    proxy_jump=dict(),
    sudo=dict(type='bool', default=False),
    virsh_container=dict(),
    container_engine=dict(default='podman', choices=['podman', 'docker']),
    timeout=dict(type='float', default=20.0),
    config=dict(type='path'),
    known_hosts=dict(type='path'),
    accept_new_host_key=dict(type='bool', default=False),
    hosts=dict(type='dict'),
    host_map=dict(type='path'),
    optional=dict(type='bool', default=False),
)))

#: how a message names each SSH option (``ssh.<sub-option>``)
SSH_NAMES = {
    'key': 'ssh.key', 'known_hosts': 'ssh.known_hosts',
    'config': 'ssh.config', 'host': 'ssh.hosts', 'host_map': 'ssh.host_map',
    'proxy_jump': 'ssh.proxy_jump', 'port': 'ssh.port',
    'timeout': 'ssh.timeout', 'container_engine': 'ssh.container_engine',
    'accept_new_host_key': 'ssh.accept_new_host_key',
}


def ssh_options(params):
    """The checked SSH options of the module's ``ssh`` option, or None.

    The checks of the commands' ``--ssh-*`` options
    (:func:`migrationclient.host.sshoptions.checked`), made before the
    cloud or any host is contacted.

    :raises ValueError: one line naming the bad sub-option
    """
    ssh = params.get('ssh')
    if ssh is None:
        return None
    from migrationclient.host import sshoptions
    config = ssh.get('config')
    req = sshoptions.Requested(
        user=ssh.get('user'), keys=tuple(ssh.get('key') or ()),
        no_agent=ssh.get('no_agent', False), port=ssh.get('port'),
        proxy_jump=ssh.get('proxy_jump'), sudo=ssh.get('sudo', False),
        virsh_container=ssh.get('virsh_container'),
        container_engine=ssh.get('container_engine') or 'podman',
        timeout=ssh.get('timeout', 20.0),
        config=sshoptions.DEFAULT_CONFIG if config is None else config,
        known_hosts=ssh.get('known_hosts'),
        accept_new_host_key=ssh.get('accept_new_host_key', False),
        host_map_file=ssh.get('host_map'),
        hosts=tuple(sorted((ssh.get('hosts') or {}).items())))
    return sshoptions.checked(req, SSH_NAMES)


def no_ssh_facts_message(tried, what):
    """The one line of an ``ssh`` task that could read no host."""
    return ('SSH: none of the %d compute host(s) could be read (%s); %s '
            '(ssh.optional accepts the API facts alone)'
            % (len(tried), ', '.join(tried), what))


def connect_kwargs(params):
    """The ``openstack.connect()`` keywords of the module ``params``.

    A ``cloud`` dict is the whole configuration: with it, any other
    connection option is refused, as openstack.cloud does.

    :raises ValueError: a ``cloud`` dict with other connection options
    """
    cloud = params.get('cloud')
    if isinstance(cloud, dict):
        for name in CLOUD_DICT_EXCLUDES:
            if params.get(name) is not None:
                raise ValueError(
                    'A cloud config dict was provided to the cloud parameter '
                    'but also a value was provided for %s. If a cloud config '
                    'dict is provided, %s should be excluded.' % (name, name))
        if params.get('interface', 'public') != 'public':
            raise ValueError(
                'A cloud config dict was provided to the cloud parameter '
                'but also a value was provided for interface.')
        return dict(cloud)
    return dict(
        cloud=cloud,
        auth_type=params.get('auth_type'),
        auth=params.get('auth'),
        region_name=params.get('region_name'),
        verify=params.get('validate_certs'),
        cacert=params.get('ca_cert'),
        cert=params.get('client_cert'),
        key=params.get('client_key'),
        api_timeout=params.get('api_timeout'),
        interface=params.get('interface'),
    )


class OpenStackModule:
    """A module of the collection: options, connection, ``run()``.

    Subclasses set ``argument_spec`` (their own options), optionally
    ``module_kwargs`` (``supports_check_mode``, ``mutually_exclusive``...)
    and implement ``run()``, which sets ``self.results`` or calls
    ``self.exit_json`` / ``self.fail_json``.  Call the instance to run.
    """

    argument_spec = {}
    module_kwargs = {}

    def __init__(self):
        self.ansible = AnsibleModule(
            openstack_full_argument_spec(**self.argument_spec),
            **self.module_kwargs)
        self.params = self.ansible.params
        self.check_mode = self.ansible.check_mode
        self.results = {'changed': False}
        self.exit = self.exit_json = self.ansible.exit_json
        self.fail = self.fail_json = self.ansible.fail_json
        self.warn = self.ansible.warn
        self.sdk = None
        self._conn = None
        if not HAS_MIGRATIONCLIENT:
            self.fail_json(msg=missing_required_lib('python-migrationclient'),
                           exception=MIGRATIONCLIENT_IMPORT_ERROR)

    @property
    def conn(self):
        """The openstacksdk connection (made on first use)."""
        if self._conn is None:
            self._conn = self.openstack_cloud_from_module()
        return self._conn

    def openstack_cloud_from_module(self):
        try:
            # Due to the name shadowing we import it this way
            # (openstack.cloud does the same).
            self.sdk = importlib.import_module('openstack')
        except ImportError:
            self.fail_json(msg=missing_required_lib('openstacksdk'))
        try:
            kwargs = connect_kwargs(self.params)
        except ValueError as exc:
            self.fail_json(msg=str(exc))
        self.setup_sdk_logging()
        try:
            return self.sdk.connect(**kwargs)
        except self.sdk.exceptions.SDKException as exc:
            # Probably a cloud configuration or login error.
            self.fail_json(msg=str(exc))

    def setup_sdk_logging(self):
        log_path = self.params.get('sdk_log_path')
        if log_path is not None:
            debug = self.params.get('sdk_log_level') == 'DEBUG'
            self.sdk.enable_logging(debug=debug, http_debug=debug,
                                    path=log_path)

    def ssh_options(self):
        """The checked ``ssh`` option (None: no SSH), or fail_json."""
        try:
            return ssh_options(self.params)
        except ValueError as exc:
            self.fail_json(msg=str(exc))

    def run(self):
        raise NotImplementedError()

    def __call__(self):
        """Run the module: ``run()``, then exit with ``self.results``."""
        try:
            self.run()
        except Exception as exc:
            if mc_errors is not None and isinstance(exc, mc_errors.Error):
                self.fail_json(msg=str(exc), **self.results)
            sdk_exc = getattr(self.sdk, 'exceptions', None)
            if sdk_exc is not None and isinstance(exc,
                                                  sdk_exc.SDKException):
                self.fail_json(msg=str(exc), **self.results)
            raise
        self.exit_json(**self.results)
