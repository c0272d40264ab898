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

They fill a :class:`migrationclient.host.ssh.SSHOptions` (the host layer
knows nothing of argparse).  Bad values raise ``ValueError`` with one line
naming the option; the commands turn it into ``CommandError``.
Importing this module does not import paramiko.
"""

import argparse
import os

from osc_lib import utils

from migrationclient._i18n import _
from migrationclient.host import commands
from migrationclient.host import ssh
from migrationclient.v1 import arguments


DEFAULT_CONFIG = '~/.ssh/config'


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


def check_address(address, source='--ssh-host'):
    """Raise ValueError unless ``address`` is a valid SSH address.

    ``host``, ``host:port``, ``[v6]:port`` or a bare IPv6 address, with a
    port from 1 to 65535.
    """
    host, port = address, None
    if address.startswith('['):
        host, sep, tail = address[1:].partition(']')
        if not sep or (tail and not tail.startswith(':')):
            raise ValueError(_('%(src)s: bad address %(addr)r (expected '
                               '[<ipv6>]:<port>)')
                             % {'src': source, 'addr': address})
        port = tail[1:] if tail else None
    elif address.count(':') == 1:
        host, _sep, port = address.partition(':')
    if not host or '@' in host:
        raise ValueError(_('%(src)s: bad address %(addr)r')
                         % {'src': source, 'addr': address})
    if port is not None:
        try:
            _port(port)
        except argparse.ArgumentTypeError:
            raise ValueError(_('%(src)s: the port of %(addr)r is not a '
                               'number from 1 to 65535')
                             % {'src': source, 'addr': address})


def _readable(option, path):
    """Raise ValueError unless ``path`` is a file this user can read."""
    full = os.path.expanduser(path)
    try:
        with open(full, 'rb') as handle:
            handle.read(1)
    except OSError as exc:
        raise ValueError(_('%(opt)s %(path)s: cannot read it (%(err)s)')
                         % {'opt': option, 'path': path,
                            'err': exc.strerror or exc})


def check_files(args):
    """The files the ``--ssh-*`` options name, checked before any SSH.

    Raises ValueError with one line naming the option: a --ssh-key that
    is missing or unreadable, an explicit --ssh-config or
    --ssh-known-hosts that cannot be read (a missing --ssh-known-hosts is
    fine with --ssh-accept-new-host-key, which creates it), an SSH config
    that does not parse.  The default ~/.ssh/config may be missing.
    """
    for key in args.ssh_key:
        _readable('--ssh-key', key)
    known = args.ssh_known_hosts
    if known:
        full = os.path.expanduser(known)
        if os.path.exists(full) or not args.ssh_accept_new_host_key:
            _readable('--ssh-known-hosts', known)
        elif not os.path.isdir(os.path.dirname(os.path.abspath(full))):
            raise ValueError(_('--ssh-known-hosts %s: its directory does '
                               'not exist') % known)
    config = args.ssh_config
    if config:
        full = os.path.expanduser(config)
        if config != DEFAULT_CONFIG or os.path.exists(full):
            _readable('--ssh-config', config)
            _parse_config(config, full)


def _parse_config(option_path, full):
    try:
        import paramiko
    except ImportError:         # pragma: no cover - a requirement
        return
    try:
        paramiko.SSHConfig.from_path(full)
    except Exception as exc:    # paramiko raises several types
        raise ValueError(_('--ssh-config %(path)s: cannot parse it '
                           '(%(err)s)') % {'path': option_path, 'err': exc})


def checked_options(args):
    """:func:`options_from_parsed_args` after :func:`check_files`.

    What the commands call before any cloud or SSH request.
    """
    options = options_from_parsed_args(args)
    check_files(args)
    return options


def options_from_parsed_args(args):
    """:class:`~migrationclient.host.ssh.SSHOptions` from the options.

    Raises ValueError with a one-line message on a bad host map, a bad
    --ssh-host or --ssh-proxy-jump.  Reads no file but the host map
    (:func:`checked_options` also checks the others).
    """
    host_map = {}
    if args.ssh_host_map:
        host_map.update(load_host_map(args.ssh_host_map))
    for item in args.ssh_host:
        host, sep, address = item.partition('=')
        if not sep or not host.strip() or not address.strip():
            raise ValueError(_('--ssh-host expects '
                               '<compute-host>=<address>[:<port>], got %r')
                             % item)
        check_address(address.strip(), '--ssh-host %s' % item)
        host_map[host.strip()] = address.strip()
    if args.ssh_proxy_jump:
        try:
            ssh.split_jump(args.ssh_proxy_jump)
        except ValueError:
            raise ValueError(_('--ssh-proxy-jump %r: expected '
                               '[<user>@]<host>[:<port>]')
                             % args.ssh_proxy_jump)
    if args.ssh_virsh_container:
        try:
            commands.validate_container(args.ssh_virsh_container)
        except commands.InvalidName as exc:
            raise ValueError(str(exc))
    return ssh.SSHOptions(
        virsh_container=args.ssh_virsh_container,
        container_engine=args.ssh_container_engine,
        user=args.ssh_user, keys=tuple(args.ssh_key),
        allow_agent=not args.ssh_no_agent, port=args.ssh_port,
        proxy_jump=args.ssh_proxy_jump, sudo=args.ssh_sudo,
        timeout=args.ssh_timeout, config_file=args.ssh_config,
        known_hosts=args.ssh_known_hosts,
        accept_new_host_key=args.ssh_accept_new_host_key,
        host_map=host_map)


def parse_host_map(text, source='host map'):
    """``"<host> <address>"`` lines (``#`` comments) -> dict."""
    result = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(_('%(src)s line %(n)d: expected "<compute-host> '
                               '<address>", got %(line)r')
                             % {'src': source, 'n': number, 'line': line})
        check_address(parts[1], '%s line %d' % (source, number))
        result[parts[0]] = parts[1]
    return result


def load_host_map(path):
    try:
        with open(os.path.expanduser(path), encoding='utf-8') as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(_('cannot read --ssh-host-map %(path)s: %(err)s')
                         % {'path': path, 'err': exc})
    return parse_host_map(text, source=path)
