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

"""A compute host's ``nova.conf``: the settings migrations depend on (pure).

The API does not show how a compute host is configured, yet Nova's answer
to a migration depends on it: which host CPUs pinned guests may use
(``cpu_dedicated_set``), which guest CPU model the host gives
(``cpu_mode`` / ``cpu_models``), which PCI aliases are live-migratable,
how a live migration is transported (scheme, address, port) and what
happens when it does not converge (post-copy, auto-converge, timeout and
its action).  :func:`parse` turns the file's text into :class:`NovaConf`;
the caller reads the first of :data:`PATHS` that exists on the host.

Syntax: oslo.config's INI dialect (``oslo_config/iniparser.py``):
``[section]``, ``key = value`` or ``key: value``, ``#`` / ``;`` comment
lines, indented continuation lines (joined with a newline), one pair of
matching quotes around a value stripped; a key given twice keeps the last
value, except the multi-valued ``[pci] alias`` and ``device_spec`` (every
value, each a JSON object or, for ``device_spec``, a JSON list).

Defaults, when a setting is absent, are nova 34's (openstack/nova at
00a0304): ``nova/conf/compute.py`` (``cpu_dedicated_set``,
``cpu_shared_set``, ``vcpu_pin_set``: unset;
``max_concurrent_live_migrations`` 1), ``nova/conf/libvirt.py``
(``virt_type`` kvm; ``cpu_mode`` unset = ``host-model`` on kvm / qemu,
``none`` otherwise; ``cpu_models`` []; ``live_migration_scheme`` /
``_inbound_addr`` / ``_uri`` unset; ``live_migration_with_native_tls``
False; ``live_migration_tunnelled`` False; ``live_migration_permit_post
_copy`` / ``_auto_converge`` False; ``live_migration_completion_timeout``
800 (seconds per GiB, 0 = none); ``live_migration_timeout_action``
abort; ``live_migration_downtime`` 500 ms; ``live_migration_bandwidth`` 0;
``live_migration_parallel_connections`` 1), ``nova/conf/pci.py``
(``alias``, ``device_spec`` []; ``report_in_placement`` False) and
``nova/conf/workarounds.py`` (every flag False).
"""

import dataclasses
import json
import re

from migrationclient._i18n import _
from migrationclient import errors
from migrationclient.host import commands
from migrationclient.host import parsers

#: Where nova.conf lives on a compute host, in the order to try: a
#: package install, Red Hat OSP 13+ containers (puppet-generated config of
#: the nova_libvirt container), kolla-ansible.
PATHS = commands.NOVA_CONF_PATHS

#: libvirtd's default listening ports per migration URI scheme
#: (libvirtd.conf ``tcp_port`` / ``tls_port``; ssh goes through sshd).
SCHEME_PORTS = {'tcp': 16509, 'tls': 16514, 'ssh': 22}

#: ``[workarounds]`` flags that change what a migration may do.
WORKAROUNDS = (
    'enable_numa_live_migration',           # Stein: allow NUMA live moves
    'skip_cpu_compare_on_dest',             # Zed: no CPU compare on dest
    'skip_hypervisor_version_check_on_lm',  # Zed: no version check
    'disable_fallback_pcpu_query',          # Train: no VCPU fallback
    'enable_qemu_monitor_announce_self',    # RARP after a live move
    # Red Hat OSP downstream only (RHSA-2018:0369, pre-Train): refuse a
    # pinned live migration whose CPUs are taken on the destination.
    'cpu_pinning_migration_quick_fail',
)

_MULTI = {('pci', 'alias'), ('pci', 'device_spec'),
          ('pci', 'passthrough_whitelist'),
          ('DEFAULT', 'pci_alias'),
          ('DEFAULT', 'pci_passthrough_whitelist')}


class NovaConfError(parsers.ParseError):
    """A nova.conf that oslo.config would refuse (one line)."""


def parse_ini(text):
    """oslo.config INI text -> ``{section: {key: [values]}}``.

    Every assignment of a key is kept, in order.  Raises
    :class:`NovaConfError` where oslo.config's parser raises.
    """
    sections = {}
    current = None
    key, value = None, []

    def flush():
        if key is not None:
            current.setdefault(key, []).append('\n'.join(value))

    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.rstrip()
        if not line:
            flush()
            key, value = None, []
            continue
        if line.startswith((' ', '\t')):
            if key is None:
                raise NovaConfError(
                    _('nova.conf line %d: unexpected continuation line')
                    % lineno)
            value.append(line.lstrip())
            continue
        flush()
        key, value = None, []
        if line.startswith('['):
            if not line.endswith(']') or len(line) <= 2:
                raise NovaConfError(_('nova.conf line %d: bad section %r')
                                    % (lineno, line))
            name = line[1:-1]
            if name != 'DEFAULT':
                name = name.lower()     # oslo's _normalize_group_name
            current = sections.setdefault(name, {})
            continue
        if line.startswith(('#', ';')):
            continue
        colon, equal = line.find(':'), line.find('=')
        if colon < 0 and equal < 0:
            raise NovaConfError(_('nova.conf line %d: no "=" in %r')
                                % (lineno, line))
        cut = equal if colon < 0 or (0 <= equal < colon) else colon
        name, raw = line[:cut].strip(), line[cut + 1:].strip()
        if not name:
            raise NovaConfError(_('nova.conf line %d: empty key') % lineno)
        if current is None:
            raise NovaConfError(_('nova.conf line %d: %r before any section')
                                % (lineno, name))
        if raw and raw[0] == raw[-1] and raw.startswith(('"', "'")):
            raw = raw[1:-1]
        key, value = name, [raw]
    flush()
    return sections


def _bool(value, default):
    if value is None:
        return default
    text = str(value).strip().lower()
    if text in ('1', 'true', 'yes', 'on', 't', 'y'):
        return True
    if text in ('0', 'false', 'no', 'off', 'f', 'n'):
        return False
    return default


def _int(value, default):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


@dataclasses.dataclass(frozen=True)
class PciAlias:
    """One ``[pci] alias`` entry (``nova/pci/request.py``).

    ``live_migratable`` is True / False when the alias says ``yes`` /
    ``no`` (Epoxy+), None when it does not say: then Nova may pick a
    device that cannot move, and a live migration is not possible.
    """

    name: str
    vendor_id: str | None = None
    product_id: str | None = None
    device_type: str | None = None
    numa_policy: str | None = None
    resource_class: str | None = None
    live_migratable: bool | None = None

    @property
    def placement_class(self):
        """The resource class the devices have in Placement (Zed+).

        ``resource_class`` or ``CUSTOM_PCI_<VENDOR>_<PRODUCT>``
        (``nova/compute/pci_placement_translator.py``).
        """
        if self.resource_class:
            rc = self.resource_class.upper()
            if rc.startswith('CUSTOM_') or rc in ('PGPU', 'VGPU'):
                return rc
            return 'CUSTOM_' + re.sub(r'[^A-Z0-9_]+', '_', rc)
        if self.vendor_id and self.product_id:
            return ('CUSTOM_PCI_%s_%s' % (self.vendor_id,
                                          self.product_id)).upper()
        return None


@dataclasses.dataclass(frozen=True)
class NovaConf:
    """What a compute host's nova.conf says about migrations.

    CPU sets are frozensets of host CPU ids, None when not set.
    ``notes`` lists values that could not be read (each one line); the
    setting then has its default.
    """

    path: str | None = None
    #: [compute] host CPUs for pinned guests (PCPU, Train+)
    cpu_dedicated_set: frozenset | None = None
    #: [compute] host CPUs for floating guests and emulator threads
    cpu_shared_set: frozenset | None = None
    #: [DEFAULT] the pre-Train pinning set (deprecated in Train)
    vcpu_pin_set: frozenset | None = None
    virt_type: str = 'kvm'
    #: [libvirt] cpu_mode as written; None: see :attr:`effective_cpu_mode`
    cpu_mode: str | None = None
    cpu_models: tuple = ()
    cpu_model_extra_flags: tuple = ()
    pci_aliases: tuple = ()                 # of PciAlias
    #: [pci] device_spec (passthrough_whitelist) entries, JSON objects
    pci_device_specs: tuple = ()
    pci_report_in_placement: bool = False
    live_migration_permit_post_copy: bool = False
    live_migration_permit_auto_converge: bool = False
    #: seconds per GiB of guest RAM + local disk; 0: no timeout
    live_migration_completion_timeout: int = 800
    live_migration_timeout_action: str = 'abort'
    #: [DEFAULT] outbound live migrations at once; 0: unlimited
    max_concurrent_live_migrations: int = 1
    live_migration_scheme: str | None = None
    live_migration_inbound_addr: str | None = None
    live_migration_uri: str | None = None
    live_migration_with_native_tls: bool = False
    live_migration_tunnelled: bool = False
    live_migration_downtime: int = 500
    live_migration_bandwidth: int = 0
    live_migration_parallel_connections: int = 1
    #: [workarounds] flags of :data:`WORKAROUNDS` that are set: name -> bool
    workarounds: dict = dataclasses.field(default_factory=dict)
    notes: tuple = ()

    @property
    def effective_cpu_mode(self):
        """The CPU mode guests get.

        ``cpu_mode``, else the driver default: ``host-model`` on kvm /
        qemu, ``none`` otherwise.
        """
        if self.cpu_mode:
            return self.cpu_mode.lower()
        return 'host-model' if self.virt_type in ('kvm', 'qemu') else 'none'

    @property
    def pinning_set(self):
        """Host CPUs pinned guests may use, as configured.

        ``cpu_dedicated_set`` (Train+), else ``vcpu_pin_set`` (older
        hosts), else None (see :func:`migrationclient.host.pinning
        .pinning_set` for what None means).
        """
        if self.cpu_dedicated_set is not None:
            return self.cpu_dedicated_set
        return self.vcpu_pin_set

    def workaround(self, name):
        """A ``[workarounds]`` flag.

        False when absent; the downstream
        ``cpu_pinning_migration_quick_fail`` is None when absent.
        """
        if name in self.workarounds:
            return self.workarounds[name]
        return None if name == 'cpu_pinning_migration_quick_fail' else False

    def alias(self, name):
        """The :class:`PciAlias` entries named ``name``."""
        return tuple(a for a in self.pci_aliases if a.name == name)

    @property
    def migration_scheme(self):
        """The URI scheme the *source* host's libvirt connects with.

        From ``live_migration_uri``, else ``live_migration_scheme``, else
        ``tcp`` (libvirt driver ``_live_migration_uri``).
        """
        if self.live_migration_uri:
            head = self.live_migration_uri.split('://', 1)[0]
            return head.split('+', 1)[1] if '+' in head else 'unix'
        return (self.live_migration_scheme or 'tcp').lower()

    @property
    def migration_port(self):
        """The port libvirt's migration connection goes to by default."""
        if self.live_migration_uri:
            match = re.search(r'://[^/?]*:(\d+)(?:[/?]|$)',
                              self.live_migration_uri)
            if match:
                return int(match.group(1))
        return SCHEME_PORTS.get(self.migration_scheme)

    @property
    def migration_user(self):
        """The user of ``live_migration_uri`` (``qemu+ssh://user@%s/..``).

        TripleO / OSP migrate over SSH as ``nova_migration``; None when
        the URI names no user (libvirt then uses the caller's).
        """
        if not self.live_migration_uri:
            return None
        match = re.search(r'://([^@/?]+)@', self.live_migration_uri)
        return match.group(1) if match else None

    def migration_uri(self, dest_host, dest_inbound_addr=None):
        """The libvirt URI the source connects to for ``dest_host``.

        ``dest_inbound_addr`` is the *destination's*
        ``live_migration_inbound_addr`` (None: its hostname), as Nova
        sends it in the migrate data.
        """
        dest = dest_inbound_addr or dest_host
        if ':' in dest and not dest.startswith('['):
            dest = '[%s]' % dest                # IPv6 (escape_ipv6)
        if self.live_migration_uri:
            return self.live_migration_uri.replace('%s', dest, 1)
        if self.virt_type == 'parallels':
            return 'parallels+tcp://%s/system' % dest
        return 'qemu+%s://%s/system' % (self.migration_scheme, dest)


def _cpuset(values, key, notes):
    if not values:
        return None
    try:
        return parsers.parse_cpuset(values[-1])
    except parsers.ParseError as exc:
        notes.append(_('%(key)s: %(err)s') % {'key': key, 'err': exc})
        return None


def _json_items(values, key, notes):
    for raw in values:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            notes.append(_('%(key)s: not JSON (%(err)s)')
                         % {'key': key, 'err': exc})
            continue
        for item in (data if isinstance(data, list) else [data]):
            if isinstance(item, dict):
                yield item
            else:
                notes.append(_('%s: an entry is not a JSON object') % key)


def _alias(item, notes):
    name = str(item.get('name') or '').strip()
    if not name:
        notes.append(_('[pci] alias without a name'))
        return None
    raw = item.get('live_migratable')
    live = None
    if raw is not None:
        live = _bool(raw, None)
        if live is None:
            notes.append(_('[pci] alias %(n)s: live_migratable %(v)r is not '
                           'yes / no') % {'n': name, 'v': raw})
    return PciAlias(
        name=name, vendor_id=item.get('vendor_id'),
        product_id=item.get('product_id'),
        device_type=item.get('device_type'),
        numa_policy=item.get('numa_policy'),
        resource_class=item.get('resource_class'), live_migratable=live)


def parse(text, path=None):
    """nova.conf text -> :class:`NovaConf` (``path``: where it was read).

    Raises :class:`NovaConfError` when the file is not oslo.config INI;
    values that are not readable go to ``notes`` and keep their default.
    """
    sections = parse_ini(text)
    notes = []

    def values(section, key):
        return sections.get(section, {}).get(key, [])

    def last(section, key, default=None):
        found = values(section, key)
        return found[-1] if found else default

    libvirt = lambda key, default=None: last('libvirt', key, default)  # noqa

    aliases = [a for a in (
        _alias(item, notes) for item in _json_items(
            values('pci', 'alias') + values('DEFAULT', 'pci_alias'),
            '[pci] alias', notes)) if a is not None]
    specs = tuple(_json_items(
        values('pci', 'device_spec') + values('pci', 'passthrough_whitelist')
        + values('DEFAULT', 'pci_passthrough_whitelist'),
        '[pci] device_spec', notes))
    action = (libvirt('live_migration_timeout_action') or 'abort').lower()
    if action not in ('abort', 'force_complete'):
        notes.append(_('[libvirt] live_migration_timeout_action %r is not '
                       'abort / force_complete') % action)
        action = 'abort'
    workarounds = {}
    for name in WORKAROUNDS:
        value = last('workarounds', name)
        if value is not None:
            workarounds[name] = _bool(value, False)

    def listing(key):
        raw = libvirt(key) or ''
        return tuple(x.strip() for x in raw.split(',') if x.strip())

    return NovaConf(
        path=path,
        cpu_dedicated_set=_cpuset(values('compute', 'cpu_dedicated_set'),
                                  '[compute] cpu_dedicated_set', notes),
        cpu_shared_set=_cpuset(values('compute', 'cpu_shared_set'),
                               '[compute] cpu_shared_set', notes),
        vcpu_pin_set=_cpuset(values('DEFAULT', 'vcpu_pin_set'),
                             '[DEFAULT] vcpu_pin_set', notes),
        virt_type=(libvirt('virt_type') or 'kvm').lower(),
        cpu_mode=libvirt('cpu_mode') or None,
        cpu_models=listing('cpu_models') or listing('cpu_model'),
        cpu_model_extra_flags=listing('cpu_model_extra_flags'),
        pci_aliases=tuple(aliases), pci_device_specs=specs,
        pci_report_in_placement=_bool(last('pci', 'report_in_placement'),
                                      False),
        live_migration_permit_post_copy=_bool(
            libvirt('live_migration_permit_post_copy'), False),
        live_migration_permit_auto_converge=_bool(
            libvirt('live_migration_permit_auto_converge'), False),
        live_migration_completion_timeout=_int(
            libvirt('live_migration_completion_timeout'), 800),
        live_migration_timeout_action=action,
        max_concurrent_live_migrations=_int(
            last('DEFAULT', 'max_concurrent_live_migrations'), 1),
        live_migration_scheme=libvirt('live_migration_scheme') or None,
        live_migration_inbound_addr=libvirt('live_migration_inbound_addr')
        or None,
        live_migration_uri=libvirt('live_migration_uri') or None,
        live_migration_with_native_tls=_bool(
            libvirt('live_migration_with_native_tls'), False),
        live_migration_tunnelled=_bool(libvirt('live_migration_tunnelled'),
                                       False),
        live_migration_downtime=_int(libvirt('live_migration_downtime'),
                                     500),
        live_migration_bandwidth=_int(libvirt('live_migration_bandwidth'),
                                      0),
        live_migration_parallel_connections=_int(
            libvirt('live_migration_parallel_connections'), 1),
        workarounds=workarounds, notes=tuple(notes))


def from_output(text):
    """The output of :data:`~.commands.NOVA_CONF` -> :class:`NovaConf`.

    Its first line names the file read (``# path <file>``).
    """
    first, _sep, rest = text.partition('\n')
    if first.startswith('# path '):
        return parse(rest, path=first[len('# path '):].strip())
    return parse(text)


def read(pool, host):
    """The nova.conf of compute ``host`` over SSH (:class:`NovaConf`).

    ``pool``: a :class:`~migrationclient.host.ssh.HostPool` (its
    ``run_parsed``); its :class:`~.ssh.SSHError` family when the file
    cannot be read.
    """
    return pool.run_parsed(host, commands.NOVA_CONF, from_output)


def live_limits(pool, hosts):
    """``({host: max_concurrent_live_migrations}, [notes])`` over SSH.

    A host whose nova.conf cannot be read is left out, with a note (the
    drain then uses ``--max-live-per-source`` or Nova's default 1).
    """
    found, notes = {}, []
    for host in hosts:
        try:
            conf = read(pool, host)
        except errors.Error as exc:
            notes.append(_('%(host)s: nova.conf not read (%(err)s)')
                         % {'host': host, 'err': exc})
            continue
        found[host] = conf.max_concurrent_live_migrations
        notes.extend('%s: %s' % (host, n) for n in conf.notes)
    return found, notes
