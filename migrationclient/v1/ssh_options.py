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

"""The ``--ssh-*`` options of the commands that read compute nodes.

They fill a :class:`migrationclient.host.sshoptions.Requested`, checked by
the host layer (which knows nothing of argparse; the Ansible collection's
``ssh`` option gets the same checks) into a
:class:`migrationclient.host.ssh.SSHOptions`.  Bad values raise
``ValueError`` with one line naming the option; the commands turn it into
``CommandError``.
Importing this module does not import paramiko.
"""

import argparse

from osc_lib import utils

from migrationclient._i18n import _
from migrationclient.host import ssh
from migrationclient.host import sshoptions
from migrationclient.v1 import arguments


DEFAULT_CONFIG = sshoptions.DEFAULT_CONFIG


def _port(text):
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise argparse.ArgumentTypeError(_('bad port %r') % text)
    return int(text)


def add_ssh_options(parser):
    """Add the ``--ssh-*`` options (shared by every SSH-using command)."""
    group = parser.add_argument_group(
        _('SSH to compute nodes'),
        _('The files these options name are checked before anything is '
          'contacted: a missing or unreadable one is a one-line error'))
    group.add_argument(
        '--ssh-user', metavar='<user>',
        default=utils.env('MIGRATION_SSH_USER', default=None),
        help=_('Remote user (TripleO: heat-admin or tripleo-admin); '
               'default: ~/.ssh/config, else the local user '
               '(Env: MIGRATION_SSH_USER)'))
    group.add_argument(
        '--ssh-key', metavar='<file>', action='append', default=[],
        help=_('Private key file (repeatable; must be readable); the SSH '
               'agent and ~/.ssh/config IdentityFile are also tried'))
    group.add_argument(
        '--ssh-no-agent', action='store_true',
        help=_('Do not use the SSH agent'))
    group.add_argument(
        '--ssh-port', metavar='<port>', type=_port, default=None,
        help=_('Remote port (default: ~/.ssh/config, else 22)'))
    group.add_argument(
        '--ssh-proxy-jump', metavar='<[user@]host[:port]>', default=None,
        help=_('Reach the compute nodes through this host (for instance '
               'the undercloud); default: ProxyJump in ~/.ssh/config'))
    group.add_argument(
        '--ssh-sudo', action='store_true',
        help=_('Run virsh through "sudo -n" (non-root remote user)'))
    group.add_argument(
        '--ssh-virsh-container', metavar='<container>', default=None,
        help=_('Run virsh inside this container on the compute nodes '
               '(TripleO OSP 13 and later: nova_libvirt)'))
    group.add_argument(
        '--ssh-container-engine', choices=('podman', 'docker'),
        default='podman',
        help=_('Engine of --ssh-virsh-container: podman (OSP 15 and '
               'later, default) or docker (OSP 13)'))
    group.add_argument(
        '--ssh-timeout', metavar='<seconds>', type=arguments.positive_seconds,
        default=ssh.DEFAULT_TIMEOUT,
        help=_('Timeout for connecting and for each remote command '
               '(default: %g)') % ssh.DEFAULT_TIMEOUT)
    group.add_argument(
        '--ssh-config', metavar='<file>', default=DEFAULT_CONFIG,
        help=_('OpenSSH client config to honour (HostName, User, Port, '
               'IdentityFile, ProxyJump, UserKnownHostsFile); default: '
               '~/.ssh/config when it exists; "" for none'))
    group.add_argument(
        '--ssh-known-hosts', metavar='<file>', default=None,
        help=_('known_hosts file; must exist unless '
               '--ssh-accept-new-host-key (default: ~/.ssh/known_hosts, '
               'plus /etc/ssh/ssh_known_hosts)'))
    group.add_argument(
        '--ssh-accept-new-host-key', action='store_true',
        help=_('Accept and save the key of a host not yet in known_hosts '
               '(trust on first use; a CHANGED key is always refused)'))
    group.add_argument(
        '--ssh-host-map', metavar='<file>', default=None,
        help=_('File of "<compute-host> <address>[:<port>]" lines '
               'overriding the address taken from the compute API (the '
               'hypervisor\'s host_ip)'))
    group.add_argument(
        '--ssh-host', metavar='<compute-host>=<address>[:<port>]',
        action='append',
        default=[],
        help=_('Address (and port) to reach one compute host at, instead '
               'of its host_ip from the compute API (repeatable; overrides '
               '--ssh-host-map)'))
    return parser


def requested(args):
    """:class:`~migrationclient.host.sshoptions.Requested` of the options.

    Raises ValueError on a --ssh-host that is not
    ``<compute-host>=<address>[:<port>]``.
    """
    pairs = []
    for item in args.ssh_host:
        host, sep, address = item.partition('=')
        if not sep or not host.strip() or not address.strip():
            raise ValueError(_('--ssh-host expects '
                               '<compute-host>=<address>[:<port>], got %r')
                             % item)
        pairs.append((host.strip(), address.strip()))
    return sshoptions.Requested(
        user=args.ssh_user, keys=tuple(args.ssh_key),
        no_agent=args.ssh_no_agent, port=args.ssh_port,
        proxy_jump=args.ssh_proxy_jump, sudo=args.ssh_sudo,
        virsh_container=args.ssh_virsh_container,
        container_engine=args.ssh_container_engine,
        timeout=args.ssh_timeout, config=args.ssh_config,
        known_hosts=args.ssh_known_hosts,
        accept_new_host_key=args.ssh_accept_new_host_key,
        host_map_file=args.ssh_host_map, hosts=tuple(pairs))


def checked_options(args):
    """The checked :class:`~migrationclient.host.ssh.SSHOptions`.

    What the commands call before any cloud or SSH request: the checks of
    :func:`migrationclient.host.sshoptions.checked`, which the Ansible
    collection's ``ssh`` option gets too.
    """
    return sshoptions.checked(requested(args))


def options_from_parsed_args(args):
    """:class:`~migrationclient.host.ssh.SSHOptions` from the options.

    Raises ValueError with a one-line message on a bad host map, a bad
    --ssh-host or --ssh-proxy-jump.  Reads no file but the host map
    (:func:`checked_options` also checks the others).
    """
    return sshoptions.options(requested(args))
