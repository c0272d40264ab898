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

"""SSH to compute nodes: options, a connection pool, one-line errors.

paramiko is imported lazily (inside :class:`HostPool`), so that adding
the SSH options to a parser (:mod:`migrationclient.v1.ssh_options`) costs
nothing at plugin load time.

Host keys are verified against ``known_hosts`` (RejectPolicy).  A host
with no known key is refused unless ``--ssh-accept-new-host-key`` is given
(the key is then added to the known_hosts file, with a warning); a host
whose key changed is always refused.
"""

import concurrent.futures
import dataclasses
import logging
import os
import select
import shlex
import socket
import stat
import threading
import time

from migrationclient._i18n import _
from migrationclient import errors

LOG = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 20.0
MAX_PARALLEL_HOSTS = 8
MAX_OUTPUT = 16 * 1024 * 1024
# sshd allows 10 sessions per connection (MaxSessions); stay below.
CHANNELS_PER_HOST = 4
SYSTEM_KNOWN_HOSTS = '/etc/ssh/ssh_known_hosts'


class SSHError(errors.Error):
    """A failure talking to one host: ``str()`` is one line naming it."""

    def __init__(self, host, message, address=None):
        self.host = host
        self.address = address
        self.message = message
        super().__init__(str(self))

    def __str__(self):
        where = self.host
        if self.address and self.address != self.host:
            where = '%s (%s)' % (self.host, self.address)
        return _('host %(where)s: %(message)s') % {
            'where': where, 'message': self.message}


class HostUnreachable(SSHError):
    """Refused, unresolvable, connect timeout."""


class HostKeyUnknown(SSHError):
    """The host's key is not in known_hosts."""


class HostKeyChanged(SSHError):
    """The host's key differs from the one in known_hosts."""


class AuthenticationFailed(SSHError):
    """No key / agent identity was accepted."""


class CommandTimeout(SSHError):
    """A remote command did not finish in time."""


class CommandMissing(SSHError):
    """The remote program does not exist (exit status 127)."""


class CommandFailed(SSHError):
    """The remote command exited non-zero."""


class OutputUnparsable(SSHError):
    """The remote command printed something the parser cannot read."""


# --------------------------------------------------------------------------
# Options (the ``--ssh-*`` command line options that fill them are the
# command layer's: migrationclient/v1/ssh_options.py)


@dataclasses.dataclass
class SSHOptions:
    user: str | None = None
    keys: tuple = ()
    allow_agent: bool = True
    port: int | None = None
    proxy_jump: str | None = None
    sudo: bool = False
    timeout: float = DEFAULT_TIMEOUT
    config_file: str | None = '~/.ssh/config'
    known_hosts: str | None = None
    accept_new_host_key: bool = False
    host_map: dict = dataclasses.field(default_factory=dict)
    virsh_container: str | None = None
    container_engine: str = 'podman'


def key_file_warning(path):
    """A warning line when a private key is readable by others, else None."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        return _('private key %(path)s is accessible by others (mode '
                 '%(mode)04o); chmod 600 it') % {
                     'path': path, 'mode': stat.S_IMODE(mode)}
    return None


def split_jump(spec):
    """``[user@]host[:port]`` -> (user|None, host, port|None)."""
    user, sep, rest = spec.rpartition('@')
    user = user if sep else None
    host, port = rest, None
    if rest.startswith('['):
        host, _sep, tail = rest[1:].partition(']')
        if tail.startswith(':') and tail[1:].isdigit():
            port = int(tail[1:])
    elif rest.count(':') == 1:
        host, _sep, tail = rest.partition(':')
        if not tail.isdigit():
            raise ValueError(_('bad port in %r') % spec)
        port = int(tail)
    if not host:
        raise ValueError(_('bad --ssh-proxy-jump %r') % spec)
    return user, host, port


# --------------------------------------------------------------------------
# The pool


@dataclasses.dataclass
class _Target:
    host: str            # compute host name (for messages)
    address: str         # what we connect to
    port: int
    user: str | None
    keys: tuple
    proxy_jump: str | None
    known_hosts: tuple


class HostTargets:
    """Where and how to reach each compute host.

    ``addresses`` maps compute host names to the address the cloud gave
    (hypervisor ``host_ip``); the options' host map overrides it; the host
    name itself is the fallback.  The OpenSSH client config adds the port,
    user, keys, known_hosts and jump host the options leave out.
    """

    def __init__(self, options, addresses, paramiko):
        self._paramiko = paramiko
        self.options = options
        self.addresses = dict(addresses or {})
        self._ssh_config = self._load_ssh_config(options.config_file)

    def _load_ssh_config(self, path):
        if not path:
            return None
        path = os.path.expanduser(path)
        if not os.path.exists(path):
            return None
        try:
            return self._paramiko.SSHConfig.from_path(path)
        except Exception as exc:  # paramiko raises several types
            raise ValueError(_('cannot read SSH config %(path)s: %(err)s')
                             % {'path': path, 'err': exc})

    def address_of(self, host):
        return (self.options.host_map.get(host)
                or self.addresses.get(host) or host)

    def _target(self, host, address=None):
        address = address or self.address_of(host)
        map_port = None
        if address.count(':') == 1 or address.startswith('['):
            # "address:port" or "[v6]:port" from the host map
            try:
                _user, address, map_port = split_jump(address)
            except ValueError as exc:
                raise SSHError(host, str(exc))
        conf = {}
        if self._ssh_config is not None:
            conf = self._ssh_config.lookup(address)
        opts = self.options
        port = map_port or opts.port or int(conf.get('port', 22))
        keys = tuple(opts.keys) + tuple(conf.get('identityfile', ()))
        known = [opts.known_hosts] if opts.known_hosts else []
        if not known:
            known = conf.get('userknownhostsfile', '').split() or [
                '~/.ssh/known_hosts']
        proxy = opts.proxy_jump or conf.get('proxyjump')
        if proxy and proxy.lower() == 'none':
            proxy = None
        return _Target(host=host, address=conf.get('hostname', address),
                       port=port, user=opts.user or conf.get('user'),
                       keys=keys, proxy_jump=proxy,
                       known_hosts=tuple(os.path.expanduser(k)
                                         for k in known))


class HostPool(HostTargets):
    """SSH connections to compute hosts, one per host, reused.

    Hosts are reached as :class:`HostTargets` says.  Use as a context
    manager or call :meth:`close`.
    """

    def __init__(self, options, addresses=None, warn=None):
        import paramiko  # lazy: only commands that need SSH pay for it

        super().__init__(options, addresses, paramiko)
        self._warn = warn or LOG.warning
        self._clients = {}
        self._locks = {}
        self._lock = threading.Lock()
        self._warned_keys = set()
        self._slots = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            try:
                client.close()
            except Exception:  # nosec B110
                pass

    # -- connecting -------------------------------------------------------

    def _host_lock(self, key):
        with self._lock:
            return self._locks.setdefault(key, threading.Lock())

    def client(self, host, address=None):
        """The (cached) connected paramiko client for ``host``."""
        target = self._target(host, address)
        key = (target.address, target.port, target.user)
        with self._host_lock(key):
            client = self._clients.get(key)
            if client is not None and client.get_transport() is not None \
                    and client.get_transport().is_active():
                return client
            client = self._connect(target)
            with self._lock:
                self._clients[key] = client
            return client

    def _new_client(self, target):
        client = self._paramiko.SSHClient()
        if os.path.exists(SYSTEM_KNOWN_HOSTS):
            try:
                client.load_system_host_keys(SYSTEM_KNOWN_HOSTS)
            except (OSError, self._paramiko.SSHException) as exc:
                LOG.warning(_('ignoring %(path)s: %(err)s'),
                            {'path': SYSTEM_KNOWN_HOSTS, 'err': exc})
        for path in target.known_hosts:
            if os.path.exists(path):
                try:
                    client.load_host_keys(path)
                except (OSError, self._paramiko.SSHException) as exc:
                    raise SSHError(target.host, _(
                        'cannot read known_hosts %(path)s: %(err)s')
                        % {'path': path, 'err': exc})
        # Keys loaded through load_host_keys() are saved back only on
        # save_host_keys(); the accept policy appends to the file itself.
        client.set_missing_host_key_policy(_host_key_policy(
            self._paramiko, target, self.options.accept_new_host_key,
            self._warn))
        return client

    def _connect(self, target):
        paramiko = self._paramiko
        for path in target.keys:
            path = os.path.expanduser(path)
            warning = key_file_warning(path)
            if warning and path not in self._warned_keys:
                self._warned_keys.add(path)
                self._warn(warning)
        sock = None
        if target.proxy_jump:
            sock = self._jump_channel(target)
        client = self._new_client(target)
        timeout = self.options.timeout
        try:
            client.connect(
                target.address, port=target.port, username=target.user,
                key_filename=[os.path.expanduser(k) for k in target.keys]
                or None,
                allow_agent=self.options.allow_agent,
                look_for_keys=not target.keys,
                timeout=timeout, banner_timeout=timeout,
                auth_timeout=timeout, channel_timeout=timeout, sock=sock)
        except SSHError:
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise HostKeyChanged(target.host, _(
                'host key CHANGED (got %(got)s, known_hosts has %(exp)s): '
                'refusing to connect; if the node was reinstalled, check '
                'the new key and remove the old one with ssh-keygen -R')
                % {'got': _fingerprint(exc.key),
                   'exp': _fingerprint(exc.expected_key)}, target.address)
        except paramiko.AuthenticationException as exc:
            client.close()
            raise AuthenticationFailed(target.host, _(
                'authentication failed as user %(user)s (%(err)s); check '
                '--ssh-user, --ssh-key or the SSH agent')
                % {'user': target.user or _('<local user>'), 'err': exc},
                target.address)
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            client.close()
            raise HostUnreachable(target.host, _(
                'cannot connect to port %(port)d: %(err)s')
                % {'port': target.port,
                   'err': _first_error(exc)}, target.address)
        except socket.gaierror as exc:
            client.close()
            raise HostUnreachable(target.host, _(
                'cannot resolve address: %s') % exc, target.address)
        except (socket.timeout, TimeoutError):
            client.close()
            raise HostUnreachable(target.host, _(
                'no SSH answer within %.0f s (port %d)')
                % (timeout, target.port), target.address)
        except (paramiko.SSHException, OSError, EOFError) as exc:
            client.close()
            raise HostUnreachable(target.host, _(
                'SSH connection failed on port %(port)d: %(err)s')
                % {'port': target.port, 'err': exc or type(exc).__name__},
                target.address)
        return client

    def _jump_channel(self, target):
        try:
            user, host, port = split_jump(target.proxy_jump)
        except ValueError as exc:
            raise SSHError(target.host, str(exc))
        jump_target = self._target('jump host ' + host, host)
        if user:
            jump_target.user = user
        if port:
            jump_target.port = port
        jump_target.proxy_jump = None
        key = (jump_target.address, jump_target.port, jump_target.user)
        with self._host_lock(key):
            jump = self._clients.get(key)
            if jump is None or not jump.get_transport().is_active():
                jump = self._connect(jump_target)
                with self._lock:
                    self._clients[key] = jump
        try:
            return jump.get_transport().open_channel(
                'direct-tcpip', (target.address, target.port),
                ('127.0.0.1', 0), timeout=self.options.timeout)
        except (self._paramiko.SSHException, OSError) as exc:
            raise HostUnreachable(target.host, _(
                'jump host %(jump)s cannot reach port %(port)d: %(err)s')
                % {'jump': target.proxy_jump, 'port': target.port,
                   'err': exc}, target.address)

    # -- running ----------------------------------------------------------

    def run(self, host, command, timeout=None, address=None):
        """Run one :class:`~migrationclient.host.commands.RemoteCommand`.

        Returns its standard output (str).  Raises an :class:`SSHError`
        subclass naming the host and the command on any failure.
        """
        timeout = timeout or self.options.timeout
        client = self.client(host, address)
        where = self.address_of(host) if address is None else address
        line = command.render(sudo=self.options.sudo,
                              container=self.options.virsh_container,
                              engine=self.options.container_engine)
        LOG.debug('host %s: running %s', host, line)
        with self._lock:
            slots = self._slots.setdefault(
                host, threading.BoundedSemaphore(CHANNELS_PER_HOST))
        with slots:
            return self._run(host, client, where, command, line, timeout)

    def _run(self, host, client, where, command, line, timeout):
        try:
            channel = client.get_transport().open_session(timeout=timeout)
            # line: a fixed template, every word shlex-quoted (commands.py)
            channel.exec_command(line)  # nosec B601
        except (self._paramiko.SSHException, OSError, EOFError) as exc:
            raise SSHError(host, _('cannot start %(cmd)s: %(err)s')
                           % {'cmd': command.label, 'err': exc}, where)
        try:
            status, out, err = _collect(channel, timeout)
        except (socket.timeout, TimeoutError):
            raise CommandTimeout(host, _(
                '%(cmd)s did not finish within %(t)g s (--ssh-timeout)')
                % {'cmd': command.label, 't': timeout}, where)
        finally:
            channel.close()
        out = out.decode('utf-8', 'replace')
        err = err.decode('utf-8', 'replace').strip()
        if status == 127 or (status == 126 and 'not found' in err):
            raise CommandMissing(host, _(
                '%(prog)s is not installed or not in PATH (%(cmd)s: %(err)s)')
                % {'prog': _program(line), 'cmd': command.label,
                   'err': _last_line(err) or status}, where)
        if status != 0:
            raise CommandFailed(host, _(
                '%(cmd)s exited %(status)s: %(err)s')
                % {'cmd': command.label, 'status': status,
                   'err': _last_line(err) or _('no error output')}, where)
        return out

    def run_parsed(self, host, command, parser, timeout=None):
        """:meth:`run` then ``parser(output)``; bad output -> one line."""
        output = self.run(host, command, timeout=timeout)
        try:
            return parser(output)
        except ValueError as exc:
            raise OutputUnparsable(host, _(
                'cannot read the output of %(cmd)s: %(err)s')
                % {'cmd': command.label, 'err': exc},
                self.address_of(host))

    def run_many(self, jobs, timeout=None):
        """Run ``[(key, host, command, parser), ...]`` in parallel.

        Returns ``{key: parsed}``.  Connections are opened once per host
        (and in parallel across hosts).  The first failure (in job
        order) is raised after every job has ended.
        """
        hosts = sorted({job[1] for job in jobs})
        workers = max(1, min(MAX_PARALLEL_HOSTS * 2, len(jobs)))
        results, errors = {}, []
        with concurrent.futures.ThreadPoolExecutor(workers) as executor:
            # connect first (one per host), so commands share connections
            connects = {executor.submit(self.client, host): host
                        for host in hosts}
            failed = {}
            for future, host in connects.items():
                try:
                    future.result()
                except SSHError as exc:
                    failed[host] = exc
            futures = []
            for key, host, command, parser in jobs:
                if host in failed:
                    continue
                futures.append((key, executor.submit(
                    self.run_parsed, host, command, parser, timeout)))
            for key, future in futures:
                try:
                    results[key] = future.result()
                except SSHError as exc:
                    errors.append(exc)
        if failed:
            raise failed[sorted(failed)[0]]
        if errors:
            raise errors[0]
        return results


def _host_key_policy(paramiko, target, accept_new, warn):
    """The paramiko policy for a host key not in known_hosts.

    Refuse it (:class:`HostKeyUnknown`), or with ``accept_new`` warn and
    append it to the first known_hosts file (trust on first use).
    """

    class Policy(paramiko.MissingHostKeyPolicy):
        def missing_host_key(self, client, hostname, key):
            fingerprint = _fingerprint(key)
            if not accept_new:
                raise HostKeyUnknown(
                    target.host,
                    _('unknown host key %(type)s %(fp)s for %(name)s '
                      '(not in %(files)s): add it with ssh-keyscan '
                      'after checking it, or pass '
                      '--ssh-accept-new-host-key')
                    % {'type': key.get_name(), 'fp': fingerprint,
                       'name': hostname,
                       'files': ', '.join(target.known_hosts)},
                    target.address)
            path = target.known_hosts[0]
            warn(_('host %(host)s: accepting NEW host key '
                   '%(type)s %(fp)s for %(name)s and saving it '
                   'to %(path)s (--ssh-accept-new-host-key)')
                 % {'host': target.host, 'type': key.get_name(),
                    'fp': fingerprint, 'name': hostname,
                    'path': path})
            client.get_host_keys().add(hostname, key.get_name(), key)
            _append_known_host(path, hostname, key)

    return Policy()


def _collect(channel, timeout):
    """Read stdout/stderr until exit; raise socket.timeout on deadline."""
    deadline = time.monotonic() + timeout
    out, err = bytearray(), bytearray()
    channel.setblocking(False)
    while True:
        progressed = False
        while channel.recv_ready():
            out += channel.recv(65536)
            progressed = True
        while channel.recv_stderr_ready():
            err += channel.recv_stderr(65536)
            progressed = True
        if len(out) + len(err) > MAX_OUTPUT:
            raise OSError(_('more than %d bytes of output') % MAX_OUTPUT)
        if channel.exit_status_ready() and not channel.recv_ready() \
                and not channel.recv_stderr_ready():
            break
        if progressed:
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        select.select([channel], [], [], min(remaining, 0.5))
    # SSH delivers data before the exit status: nothing is left unread
    return channel.recv_exit_status(), bytes(out), bytes(err)


def _program(line):
    """The program a rendered command line runs (after sudo / env)."""
    words = shlex.split(line)
    while words and (words[0] in ('sudo', '-n', 'env')
                     or '=' in words[0]):
        words = words[1:]
    if words and words[0] == 'sh':
        return 'sh'
    return words[0] if words else line


def _fingerprint(key):
    import base64
    import hashlib

    digest = hashlib.sha256(key.asbytes()).digest()
    return 'SHA256:' + base64.b64encode(digest).decode().rstrip('=')


def _append_known_host(path, hostname, key):
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    line = '%s %s %s\n' % (hostname, key.get_name(), key.get_base64())
    with open(path, 'a', encoding='ascii') as handle:
        handle.write(line)


def _first_error(exc):
    errors = getattr(exc, 'errors', None) or {}
    for value in errors.values():
        return value.strerror or str(value)
    return str(exc)


def _last_line(text):
    lines = [line.strip() for line in (text or '').splitlines()
             if line.strip()]
    return lines[-1] if lines else ''
