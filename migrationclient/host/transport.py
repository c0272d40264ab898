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

"""The live migration transport, checked from the source host (``--ssh``).

Nova's libvirt driver live-migrates through the *source* host's libvirt,
which connects to the destination's libvirt at the URI of the source's
``[libvirt] live_migration_uri`` (old) or ``qemu+<live_migration_scheme>
://<dest>/system`` (default scheme ``tcp``), ``<dest>`` being the
destination's ``live_migration_inbound_addr`` or its host name.  Red Hat
OSP migrates over SSH: ``qemu+ssh://nova_migration@%s:2022/system
?keyfile=/etc/nova/migration/identity`` (a shared key for the migration
user, sshd on port 2022: the CVE-2017-2637 fix).  libvirtd listens on
16509 (``tcp``) and 16514 (``tls``).

The check (:func:`check_command`) is one fixed shell program run on the
source: for ``ssh`` a BatchMode connection that runs ``true`` (as the
``nova`` user when the host has one: ``sudo -n -u nova``), for
``tcp`` / ``tls`` a TCP connect (bash ``/dev/tcp``, else ``nc -z``).
Every variable part (address, port, user, key file) is validated here and
passed as a positional parameter, each word shell-quoted by
:meth:`~migrationclient.host.commands.RemoteCommand.render`.
:func:`parse_output` turns what it prints into a
:class:`~migrationclient.constraints.model.TransportFacts` naming the
missing piece (no key, unknown host key, refused port, DNS, permission
denied...).

Only the control connection is checked: with ``live_migration_tunnelled``
off (the default) QEMU's data goes to ports 49152-49215 of the
destination, which this does not try, and TLS certificates are not
verified.  Cold migration uses its own SSH / rsync as the nova user on
port 22 (``nova/virt/libvirt/utils.py``), not checked either.
"""

import concurrent.futures
import dataclasses
import ipaddress
import re
import urllib.parse

from migrationclient._i18n import _
from migrationclient.constraints import model as cf
from migrationclient import errors
from migrationclient.host import commands
from migrationclient.host import novaconf
from migrationclient.host import ssh

#: Schemes the check knows how to try, with libvirtd's default ports.
SCHEMES = ('ssh', 'tcp', 'tls')
#: The local user whose key libvirt's ssh transport uses (when it exists).
RUN_AS = 'nova'
#: Seconds the client waits for the connection.
CONNECT_TIMEOUT = 5
#: Where Red Hat OSP 13+ keeps the nova_libvirt container's /etc on the host
CONTAINER_PREFIX = '/var/lib/config-data/puppet-generated/nova_libvirt'

_HOST_RE = re.compile(r'\A[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,252})\Z')
_USER_RE = re.compile(r'\A[A-Za-z_][A-Za-z0-9_.-]{0,31}\Z')
_PATH_RE = re.compile(r'\A/[A-Za-z0-9_./+-]{1,4095}\Z')


class InvalidEndpoint(errors.Error, ValueError):
    """An address, port, user or key path that is not safe to send."""


def validate_address(address):
    """A host name or an IP address (IPv6 without brackets)."""
    text = str(address or '').strip()
    if text.startswith('[') and text.endswith(']'):
        text = text[1:-1]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        pass
    if not _HOST_RE.match(text) or '..' in text:
        raise InvalidEndpoint(_('refusing migration address %r') % (address,))
    return text


def validate_port(port):
    try:
        value = int(port)
    except (TypeError, ValueError):
        value = 0
    if not 0 < value < 65536 or str(port).strip() != str(value):
        raise InvalidEndpoint(_('refusing migration port %r') % (port,))
    return value


def validate_user(user):
    if user is None or user == '':
        return ''
    if not _USER_RE.match(str(user)):
        raise InvalidEndpoint(_('refusing migration user %r') % (user,))
    return str(user)


def validate_path(path):
    if path is None or path == '':
        return ''
    if not _PATH_RE.match(str(path)) or '/../' in str(path) + '/':
        raise InvalidEndpoint(_('refusing key file path %r') % (path,))
    return str(path)


# --------------------------------------------------------------------------
# Where the source connects (pure)


def endpoint(source_conf, dest_conf, dest_host):
    """The :class:`~.model.TransportFacts` to check (``answered`` None).

    ``source_conf`` / ``dest_conf`` are the hosts'
    :class:`~migrationclient.host.novaconf.NovaConf` (None: not read);
    ``dest_host`` the destination's compute host name.  Scheme, user,
    port and key come from the source's URI, the address from the
    destination's ``live_migration_inbound_addr`` (else its host name).
    A fact whose ``problem`` is set here cannot be checked.
    """
    if source_conf is None:
        return cf.TransportFacts(
            scheme='', detail=_('the source nova.conf was not read'))
    inbound = dest_conf.live_migration_inbound_addr if dest_conf else None
    if dest_conf is None and not source_conf.live_migration_uri:
        # the address needs the destination's inbound address
        return cf.TransportFacts(
            scheme=source_conf.migration_scheme,
            detail=_('the destination nova.conf was not read (its '
                     'live_migration_inbound_addr decides the address)'))
    uri = source_conf.migration_uri(dest_host, inbound)
    parts = urllib.parse.urlsplit(uri)
    head = parts.scheme
    scheme = head.split('+', 1)[1] if '+' in head else head
    query = urllib.parse.parse_qs(parts.query)
    tunnelled = source_conf.live_migration_tunnelled
    facts = dict(scheme=scheme, uri=uri, tunnelled=tunnelled)
    try:
        port = parts.port
    except ValueError:
        port = None
    if scheme not in SCHEMES:
        return cf.TransportFacts(detail=_(
            'scheme %s is not checked (only ssh, tcp and tls)') % scheme,
            **facts)
    try:
        address = validate_address(parts.hostname)
        port = validate_port(port or novaconf.SCHEME_PORTS[scheme])
        user = validate_user(urllib.parse.unquote(parts.username or ''))
        key = validate_path((query.get('keyfile') or [''])[0])
    except InvalidEndpoint as exc:
        return cf.TransportFacts(detail=str(exc), **facts)
    return cf.TransportFacts(address=address, port=port, user=user or None,
                             key_file=key or None, **facts)


# --------------------------------------------------------------------------
# The remote check (a fixed program; every variable part a parameter)

# Runs as $want (RUN_AS) when the host has that user and we are not it.
# Parameters: inner-program want scheme address port user key noverify
# timeout.  Always exits 0: what happened is in its output.
_OUTER = (
    'inner=$1; want=$2; shift 2; me=$(id -un 2>/dev/null); '
    'if [ -n "$want" ] && [ "$me" != "$want" ] '
    '&& id -u "$want" >/dev/null 2>&1; then '
    'out=$(sudo -n -H -u "$want" -- sh -c "$inner" sh "$@" 2>&1); '
    'case "$out" in *"rc="*) printf "%s\\n" "$out"; exit 0;; esac; '
    'printf "runas=%s\\nbecome=failed\\n" "$want"; '
    'printf "%s\\n" "$out" | sed "s/^/err: /"; exit 0; fi; '
    'if [ -n "$want" ] && [ "$me" != "$want" ]; then '
    'printf "nouser=%s\\n" "$want"; fi; '
    'exec sh -c "$inner" sh "$@"')

_INNER = (
    'scheme=$1; addr=$2; port=$3; user=$4; key=$5; noverify=$6; t=$7; '
    'printf "runas=%s\\n" "$(id -un 2>/dev/null)"; '
    'err=$(mktemp 2>/dev/null || echo /tmp/migration-transport.$$); '
    'tmo=""; if command -v timeout >/dev/null 2>&1; then '
    'tmo="timeout $((t * 3))"; fi; '
    'if [ "$scheme" = ssh ]; then '
    'if ! command -v ssh >/dev/null 2>&1; then '
    'echo "tool=none"; echo "rc=127"; exit 0; fi; '
    'echo "tool=ssh"; '
    'if [ -n "$key" ]; then '
    'if [ ! -e "$key" ] && [ -e "' + CONTAINER_PREFIX + '$key" ]; then '
    'key="' + CONTAINER_PREFIX + '$key"; fi; '
    'if [ -r "$key" ]; then echo "key=$key"; '
    'elif [ -e "$key" ]; then echo "key=unreadable $key"; '
    'else echo "key=missing $key"; fi; '
    'else found=""; for k in id_rsa id_ecdsa id_ed25519 id_dsa; do '
    '[ -r "$HOME/.ssh/$k" ] && found="$found $HOME/.ssh/$k"; done; '
    'if [ -n "$found" ]; then echo "key=${found# }"; '
    'else echo "key=none $HOME/.ssh"; fi; fi; '
    'set -- -o BatchMode=yes -o ConnectTimeout="$t" '
    '-o ConnectionAttempts=1 -o ServerAliveInterval="$t" '
    '-o ServerAliveCountMax=1 -p "$port"; '
    'if [ "$noverify" = 1 ]; then set -- "$@" '
    '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null; fi; '
    'if [ -n "$key" ] && [ -r "$key" ]; then set -- "$@" -i "$key"; fi; '
    'if [ -n "$user" ]; then set -- "$@" -l "$user"; fi; '
    '$tmo ssh "$@" -- "$addr" true </dev/null >/dev/null 2>"$err"; '
    'rc=$?; '
    'elif command -v bash >/dev/null 2>&1; then echo "tool=bash"; '
    '$tmo bash -c \'exec 3<>"/dev/tcp/$0/$1"\' "$addr" "$port" '
    '</dev/null >/dev/null 2>"$err"; rc=$?; '
    'elif command -v nc >/dev/null 2>&1; then echo "tool=nc"; '
    'nc -z -w "$t" "$addr" "$port" </dev/null >/dev/null 2>"$err"; rc=$?; '
    'else echo "tool=none"; rc=127; fi; '
    'echo "rc=$rc"; [ -f "$err" ] && sed "s/^/err: /" "$err"; '
    'rm -f "$err"; exit 0')


def check_command(facts, run_as=RUN_AS, timeout=CONNECT_TIMEOUT):
    """The :class:`~.commands.RemoteCommand` that checks ``facts``.

    ``facts`` is what :func:`endpoint` returned (with an address).  Every
    variable word is validated again here.
    """
    if facts.scheme not in SCHEMES:
        raise InvalidEndpoint(_('no check for scheme %r') % (facts.scheme,))
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(facts.uri).query)
    no_verify = (query.get('no_verify') or ['0'])[0] == '1'
    argv = ('sh', '-c', _OUTER, 'sh', _INNER, validate_user(run_as),
            facts.scheme, validate_address(facts.address),
            str(validate_port(facts.port)), validate_user(facts.user),
            validate_path(facts.key_file), '1' if no_verify else '0',
            str(validate_port(int(timeout))))
    label = 'migration transport check %s://%s:%d' % (
        facts.scheme, facts.address, facts.port)
    return commands.RemoteCommand(label, argv, needs_root=False)


# --------------------------------------------------------------------------
# Its output (pure)

_SSH_PATTERNS = (
    ('host-key-changed', ('has changed and you have requested',
                          'REMOTE HOST IDENTIFICATION HAS CHANGED')),
    ('host-key-unknown', ('Host key verification failed',
                          'No ED25519 host key is known',
                          'host key is known for')),
    ('permission-denied', ('Permission denied',)),
)
_NET_PATTERNS = (
    ('refused', ('Connection refused',)),
    ('timeout', ('timed out', 'Timeout', 'timeout')),
    ('dns', ('Could not resolve hostname', 'Name or service not known',
             'Temporary failure in name resolution', 'nodename nor servname',
             'No address associated', 'Invalid argument')),
    ('unreachable', ('No route to host', 'Network is unreachable',
                     'Cannot assign requested address')),
    ('closed', ('Connection closed', 'Connection reset',
                'kex_exchange_identification', 'closed by remote host')),
)


def _match(lines, patterns):
    text = '\n'.join(lines)
    for kind, needles in patterns:
        if any(n in text for n in needles):
            return kind
    return None


def _line_of(lines, kind):
    """The first error line that shows ``kind`` (else the last line)."""
    for patterns in (_SSH_PATTERNS, _NET_PATTERNS):
        for name, needles in patterns:
            if name != kind:
                continue
            for needle in needles:
                for line in lines:
                    if needle in line:
                        return line
    return lines[-1] if lines else ''


def parse_output(text, facts):
    """The check's output -> ``facts`` with ``answered`` / ``problem`` set.

    Raises :class:`~migrationclient.host.parsers.ParseError` (a
    ``ValueError``) when the output is not the check's.
    """
    fields, errs = {}, []
    for line in text.splitlines():
        if line.startswith('err: '):
            if line[5:].strip():
                errs.append(line[5:].strip())
        elif '=' in line:
            name, _sep, value = line.partition('=')
            fields.setdefault(name.strip(), value.strip())
    replace = dict(run_as=fields.get('runas') or facts.run_as)
    key = fields.get('key', '')
    if key and not key.startswith(('none', 'missing', 'unreadable')):
        replace['key_file'] = key.split()[0]
    detail = errs[-1] if errs else ''
    if fields.get('become') == 'failed':
        return _replace(facts, answered=None, problem=None, detail=_(
            'cannot run the check as user %(u)s (sudo -n -u %(u)s: '
            '%(err)s)') % {'u': fields.get('runas'),
                           'err': detail or _('refused')}, **replace)
    if 'rc' not in fields:
        raise ValueError(_('not the transport check\'s output: %r')
                         % text[:200])
    try:
        rc = int(fields['rc'])
    except ValueError:
        raise ValueError(_('bad exit status %r') % fields['rc'])
    if fields.get('tool') == 'none' or rc in (126, 127):
        tool = 'ssh' if facts.scheme == 'ssh' else 'bash or nc'
        return _replace(facts, answered=None, problem=None, detail=_(
            'no %s on the source host to check with') % tool, **replace)
    if rc == 124:
        return _replace(facts, answered=False, problem='timeout',
                        detail=detail or _('no answer within the timeout'),
                        **replace)
    if facts.scheme == 'ssh':
        if rc != 255:
            # authenticated: the remote command ran (a forced command such
            # as OSP's nova-migration-wrapper may refuse "true": fine)
            return _replace(facts, answered=True, problem=None,
                            detail='', **replace)
        problem = _match(errs, _SSH_PATTERNS) or _match(errs, _NET_PATTERNS)
        detail = _line_of(errs, problem)
        if problem == 'permission-denied' and key.startswith('unreadable'):
            # libvirtd (root) may read the URI's key file: cannot tell
            return _replace(facts, answered=None, problem=None, detail=_(
                'the key file %(key)s is not readable as %(who)s (%(err)s)')
                % {'key': key.split(None, 1)[-1],
                   'who': replace['run_as'] or '?', 'err': detail},
                **replace)
        if problem == 'permission-denied' and key.startswith(
                ('none', 'missing')):
            problem = 'no-key'
            detail = _('%(err)s; key: %(key)s') % {
                'err': detail, 'key': key}
        return _replace(facts, answered=False, problem=problem or 'error',
                        detail=detail or _('ssh exited 255'), **replace)
    if rc == 0:
        return _replace(facts, answered=True, problem=None, detail='',
                        **replace)
    problem = _match(errs, _NET_PATTERNS) or 'error'
    detail = _line_of(errs, problem)
    return _replace(facts, answered=False, problem=problem,
                    detail=detail or _('exit status %d') % rc, **replace)


def _replace(facts, **changes):
    return dataclasses.replace(facts, **changes)


# --------------------------------------------------------------------------
# Over SSH


def check_pairs(pool, pairs, confs):
    """Check ``pairs`` of (source, destination) compute host names.

    ``confs`` maps host names to their NovaConf (missing / None: not
    read).  Returns ``{(source, dest): TransportFacts}``; a check that
    could not run is a fact with ``answered`` None and the reason.
    """
    found, jobs = {}, []
    for source, dest in pairs:
        facts = endpoint(confs.get(source), confs.get(dest), dest)
        if facts.address is None:
            found[(source, dest)] = facts
            continue
        try:
            command = check_command(facts)
        except InvalidEndpoint as exc:
            found[(source, dest)] = _replace(facts, detail=str(exc))
            continue
        jobs.append(((source, dest), source, command, facts))
    if jobs:
        workers = min(ssh.MAX_PARALLEL_HOSTS, len(jobs))
        with concurrent.futures.ThreadPoolExecutor(workers) as executor:
            futures = [(pair, executor.submit(_run_one, pool, source,
                                              command, facts))
                       for pair, source, command, facts in jobs]
            for pair, future in futures:
                found[pair] = future.result()
    return found


def _run_one(pool, source, command, facts):
    try:
        return pool.run_parsed(
            source, command, lambda out: parse_output(out, facts),
            timeout=max(pool.options.timeout, CONNECT_TIMEOUT * 4))
    except ssh.SSHError as exc:
        return _replace(facts, answered=None, problem=None,
                        detail=str(exc))
