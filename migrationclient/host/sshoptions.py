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

"""The SSH options of a front end, checked before any connection.

Every front end that reads compute nodes over SSH (the commands'
``--ssh-*`` options, :mod:`migrationclient.v1.ssh_options`; the Ansible
collection's ``ssh`` option) fills a :class:`Requested` and calls
:func:`checked`: the same checks for both, each failure a ``ValueError``
of one line naming the option as that front end spells it (``names``:
:data:`CLI_NAMES` by default).  Nothing here connects; paramiko is
imported only to parse an SSH config file.
"""

import dataclasses
import os

from migrationclient._i18n import _
from migrationclient.host import commands
from migrationclient.host import ssh


DEFAULT_CONFIG = '~/.ssh/config'
CONTAINER_ENGINES = ('podman', 'docker')

#: how the commands name each option in a message
CLI_NAMES = {
    'key': '--ssh-key', 'known_hosts': '--ssh-known-hosts',
    'config': '--ssh-config', 'host': '--ssh-host',
    'host_map': '--ssh-host-map', 'proxy_jump': '--ssh-proxy-jump',
    'port': '--ssh-port', 'timeout': '--ssh-timeout',
    'container_engine': '--ssh-container-engine',
    'accept_new_host_key': '--ssh-accept-new-host-key',
}


@dataclasses.dataclass
class Requested:
    """The SSH options as a front end was given them, not yet checked.

    ``hosts``: ``(compute host, address[:port])`` pairs, overriding
    ``host_map_file`` (a file of ``<compute-host> <address>`` lines).
    """

    user: str | None = None
    keys: tuple = ()
    no_agent: bool = False
    port: int | None = None
    proxy_jump: str | None = None
    sudo: bool = False
    virsh_container: str | None = None
    container_engine: str = 'podman'
    timeout: float = ssh.DEFAULT_TIMEOUT
    config: str | None = DEFAULT_CONFIG
    known_hosts: str | None = None
    accept_new_host_key: bool = False
    host_map_file: str | None = None
    hosts: tuple = ()


def check_port(port, source):
    """Raise ValueError unless ``port`` is a number from 1 to 65535."""
    text = str(port)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(_('%(src)s: %(port)r is not a number from 1 to '
                           '65535') % {'src': source, 'port': port})
    return int(text)


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
            check_port(port, source)
        except ValueError:
            raise ValueError(_('%(src)s: the port of %(addr)r is not a '
                               'number from 1 to 65535')
                             % {'src': source, 'addr': address})


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


def load_host_map(path, option='--ssh-host-map'):
    try:
        with open(os.path.expanduser(path), encoding='utf-8') as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(_('cannot read %(opt)s %(path)s: %(err)s')
                         % {'opt': option, 'path': path, 'err': exc})
    return parse_host_map(text, source=path)


def options(req, names=CLI_NAMES):
    """:class:`~migrationclient.host.ssh.SSHOptions` of ``req``.

    Raises ValueError with a one-line message on a bad host map, host
    address, proxy jump, container, port or timeout.  Reads no file but
    the host map (:func:`checked` also checks the others).
    """
    host_map = {}
    if req.host_map_file:
        host_map.update(load_host_map(req.host_map_file, names['host_map']))
    for host, address in req.hosts:
        host, address = str(host).strip(), str(address or '').strip()
        if not host or not address:
            raise ValueError(_('%(opt)s: expected a compute host and its '
                               '<address>[:<port>], got %(host)r: %(addr)r')
                             % {'opt': names['host'], 'host': host,
                                'addr': address})
        check_address(address, '%s %s=%s' % (names['host'], host, address))
        host_map[host] = address
    if req.proxy_jump:
        try:
            ssh.split_jump(req.proxy_jump)
        except ValueError:
            raise ValueError(_('%(opt)s %(jump)r: expected '
                               '[<user>@]<host>[:<port>]')
                             % {'opt': names['proxy_jump'],
                                'jump': req.proxy_jump})
    if req.virsh_container:
        try:
            commands.validate_container(req.virsh_container)
        except commands.InvalidName as exc:
            raise ValueError(str(exc))
    if req.container_engine not in CONTAINER_ENGINES:
        raise ValueError(_('%(opt)s: expected one of %(choices)s, got '
                           '%(got)r') % {
                               'opt': names['container_engine'],
                               'choices': ', '.join(CONTAINER_ENGINES),
                               'got': req.container_engine})
    port = None
    if req.port is not None:
        port = check_port(req.port, names['port'])
    if not isinstance(req.timeout, (int, float)) or req.timeout <= 0:
        raise ValueError(_('%(opt)s: expected a positive number of seconds, '
                           'got %(got)r') % {'opt': names['timeout'],
                                             'got': req.timeout})
    return ssh.SSHOptions(
        virsh_container=req.virsh_container,
        container_engine=req.container_engine,
        user=req.user, keys=tuple(req.keys),
        allow_agent=not req.no_agent, port=port,
        proxy_jump=req.proxy_jump, sudo=req.sudo,
        timeout=req.timeout, config_file=req.config,
        known_hosts=req.known_hosts,
        accept_new_host_key=req.accept_new_host_key,
        host_map=host_map)


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


def check_files(req, names=CLI_NAMES):
    """The files ``req`` names, checked before any SSH.

    Raises ValueError with one line naming the option: a key that is
    missing or unreadable, an explicit SSH config or known_hosts file
    that cannot be read (a missing known_hosts is fine with
    ``accept_new_host_key``, which creates it), an SSH config that does
    not parse.  The default ~/.ssh/config may be missing.
    """
    for key in req.keys:
        _readable(names['key'], key)
    known = req.known_hosts
    if known:
        full = os.path.expanduser(known)
        if os.path.exists(full) or not req.accept_new_host_key:
            _readable(names['known_hosts'], known)
        elif not os.path.isdir(os.path.dirname(os.path.abspath(full))):
            raise ValueError(_('%(opt)s %(path)s: its directory does not '
                               'exist') % {'opt': names['known_hosts'],
                                           'path': known})
    config = req.config
    if config:
        full = os.path.expanduser(config)
        if config != DEFAULT_CONFIG or os.path.exists(full):
            _readable(names['config'], config)
            _parse_config(names['config'], config, full)


def _parse_config(option, option_path, full):
    try:
        import paramiko
    except ImportError:         # pragma: no cover - a requirement
        return
    try:
        paramiko.SSHConfig.from_path(full)
    except Exception as exc:    # paramiko raises several types
        raise ValueError(_('%(opt)s %(path)s: cannot parse it (%(err)s)')
                         % {'opt': option, 'path': option_path, 'err': exc})


def checked(req, names=CLI_NAMES):
    """:func:`options` after :func:`check_files`'s checks.

    What a front end calls before any cloud or SSH request.
    """
    result = options(req, names)
    check_files(req, names)
    return result
