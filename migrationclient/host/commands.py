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
"""The remote commands, built from fixed templates only.

Every command run on a compute node is one of the templates below.  The
only variable parts are a libvirt domain name (nova's
``OS-EXT-SRV-ATTR:instance_name``), a network interface name and a PCI
address; each is validated against a strict pattern *and* shell-quoted.
Nothing here does I/O.
"""

import dataclasses
import re
import shlex

from migrationclient._i18n import _
from migrationclient import errors

# libvirt domain names as nova writes them ("instance-%08x" by default,
# ``instance_name_template`` may change it): keep a conservative alphabet.
_DOMAIN_RE = re.compile(r'\A[A-Za-z0-9_][A-Za-z0-9_.:+-]{0,127}\Z')
# Linux interface names (IFNAMSIZ 16, no '/', no whitespace).
_NIC_RE = re.compile(r'\A[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,14}\Z')
# PCI addresses as libvirt and sysfs spell them: dddd:bb:ss.f
_PCI_RE = re.compile(r'\A[0-9a-f]{4}:[0-9a-f]{2}:[0-1][0-9a-f]\.[0-7]\Z')


CONTAINER_ENGINES = ('podman', 'docker')
_CONTAINER_RE = re.compile(r'\A[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z')


class InvalidName(errors.Error, ValueError):
    """A domain, interface or PCI name that is not safe to send."""


def validate_container(name):
    """Return ``name`` if it is a plausible container name."""
    if not isinstance(name, str) or not _CONTAINER_RE.match(name):
        raise InvalidName(_('refusing container name %r') % (name,))
    return name


def validate_domain(name):
    """Return ``name`` if it is a plausible libvirt domain name."""
    if not isinstance(name, str) or not _DOMAIN_RE.match(name):
        raise InvalidName(_('refusing libvirt domain name %r: only letters, '
                            'digits and "_.:+-" are allowed') % (name,))
    return name


def validate_nic(name):
    """Return ``name`` if it is a plausible Linux interface name."""
    if (not isinstance(name, str) or not _NIC_RE.match(name)
            or name in ('.', '..')):
        raise InvalidName(_('refusing interface name %r') % (name,))
    return name


def validate_pci(address):
    """Return a PCI address (lower case) if it looks like dddd:bb:ss.f."""
    text = address.lower() if isinstance(address, str) else address
    if not isinstance(text, str) or not _PCI_RE.match(text):
        raise InvalidName(_('refusing PCI address %r') % (address,))
    return text


@dataclasses.dataclass(frozen=True)
class RemoteCommand:
    """One remote command: a label for messages and an argument vector.

    ``shell`` marks the few templates that are a fixed shell program
    (``sh -c '<fixed text>' sh <args>``); their variable arguments are
    still passed as positional parameters, never pasted into the text.
    """

    label: str
    argv: tuple
    needs_root: bool = True
    #: a fixed shell program that runs virsh as ``"$@"``: the virsh
    #: command words (container-aware) are appended as its arguments
    virsh_args: bool = False

    @property
    def program(self):
        """The program whose absence means "command missing"."""
        if self.argv[0] == 'sh':
            return self.label.split()[0]
        return self.argv[0]

    def render(self, sudo=False, container=None, engine='podman'):
        """The command line sent to the remote shell, every word quoted.

        ``container`` runs virsh inside that container (TripleO runs
        libvirt in ``nova_libvirt``) with ``<engine> exec``.
        """
        virsh = ('virsh',)
        if container and (self.argv[0] == 'virsh' or self.virsh_args):
            if engine not in CONTAINER_ENGINES:
                raise InvalidName(_('unknown container engine %r') % engine)
            virsh = (engine, 'exec', '--env', 'LC_ALL=C',
                     validate_container(container), 'virsh')
        if self.virsh_args:
            argv = ('env', 'LC_ALL=C') + tuple(self.argv) + virsh
        elif len(virsh) > 1 and self.argv[0] == 'virsh':
            argv = virsh[:-1] + tuple(self.argv)
        else:
            argv = ('env', 'LC_ALL=C') + tuple(self.argv)
        if sudo and self.needs_root:
            argv = ('sudo', '-n') + argv
        return ' '.join(shlex.quote(word) for word in argv)


def _virsh(label, *args):
    return RemoteCommand(label, ('virsh',) + args)


# Host-wide templates.
CAPABILITIES = _virsh('virsh capabilities', 'capabilities')
FREEPAGES = _virsh('virsh freepages --all', 'freepages', '--all')
LIST_RUNNING = _virsh('virsh list --name', 'list', '--name')
LSCPU = RemoteCommand('lscpu',
                      ('lscpu', '-J', '-e=CPU,NODE,SOCKET,CORE,ONLINE'),
                      needs_root=False)
NUMACTL = RemoteCommand('numactl --hardware', ('numactl', '--hardware'),
                        needs_root=False)

# Every network interface backed by a device, with its NUMA node and PCI
# address: "<name> <numa_node> <pci-address-or-dash>" per line.
_NET_SCRIPT = (
    'for d in /sys/class/net/*/device; do '
    '[ -e "$d/numa_node" ] || continue; '
    'n=${d%/device}; n=${n##*/}; '
    'a=$(readlink "$d"); a=${a##*/}; '
    'printf "%s %s %s\\n" "$n" "$(cat "$d/numa_node")" "${a:--}"; '
    'done')
NET_NUMA = RemoteCommand('sysfs net numa_node', ('sh', '-c', _NET_SCRIPT),
                         needs_root=False)

# The compute host's nova.conf (novaconf.PATHS): the first readable file,
# after a "# path <file>" line; none readable: exit 3 with
# the list on stderr.  A fixed text: no variable part at all.
NOVA_CONF_PATHS = (
    '/etc/nova/nova.conf',
    '/var/lib/config-data/puppet-generated/nova_libvirt/etc/nova/nova.conf',
    '/etc/kolla/nova-compute/nova.conf',
)
_NOVA_CONF_SCRIPT = (
    'for p in "$@"; do '
    'if [ -r "$p" ]; then printf "# path %s\\n" "$p"; cat "$p"; exit 0; fi; '
    'done; echo "no readable nova.conf ($*)" >&2; exit 3')
NOVA_CONF = RemoteCommand('cat nova.conf',
                          ('sh', '-c', _NOVA_CONF_SCRIPT, 'sh') +
                          NOVA_CONF_PATHS)

# Every libvirt domain defined on the host (running or not: Nova keeps
# the pinned CPUs and PCI devices of a stopped guest claimed), each
# ``virsh dumpxml`` after a ``<!-- domain NAME -->`` line.  A fixed text;
# the virsh command words are its arguments ("$@").  A domain undefined
# between the list and its dumpxml is skipped.
_DOMAINS_SCRIPT = (
    '"$@" list --all --name > /dev/null || exit $?; '
    '"$@" list --all --name | while IFS= read -r d; do '
    '[ -n "$d" ] || continue; '
    'x=$("$@" dumpxml --domain "$d") || continue; '
    'printf "<!-- domain %s -->\\n%s\\n" "$d" "$x"; '
    'done')
DOMAINS_XML = RemoteCommand('virsh dumpxml (every domain)',
                            ('sh', '-c', _DOMAINS_SCRIPT, 'sh'),
                            virsh_args=True)

# Every PCI device: "<address> <vendor> <device> <numa_node> <physfn or
# -> <sriov_totalvfs or 0>" per line (what [pci] device_spec and alias
# match on; "-" for ids sysfs does not show).  A fixed text: no variable
# part.
_PCI_DEVICES_SCRIPT = (
    'for d in /sys/bus/pci/devices/*; do '
    '[ -d "$d" ] || continue; '
    'a=${d##*/}; v=-; p=-; n=-1; f=-; t=0; '
    '[ -e "$d/vendor" ] && v=$(cat "$d/vendor"); '
    '[ -e "$d/device" ] && p=$(cat "$d/device"); '
    '[ -e "$d/numa_node" ] && n=$(cat "$d/numa_node"); '
    '[ -e "$d/physfn" ] && f=$(readlink "$d/physfn") && f=${f##*/}; '
    '[ -e "$d/sriov_totalvfs" ] && t=$(cat "$d/sriov_totalvfs"); '
    'printf "%s %s %s %s %s %s\\n" "$a" "$v" "$p" "$n" "${f:--}" "$t"; '
    'done')
PCI_DEVICES = RemoteCommand('sysfs pci devices',
                            ('sh', '-c', _PCI_DEVICES_SCRIPT),
                            needs_root=False)

# NUMA node of given PCI devices (SR-IOV VFs and passthrough devices are
# often not network interfaces on the host): "<address> <node>" per line.
_PCI_SCRIPT = (
    'for a in "$@"; do '
    'f=/sys/bus/pci/devices/$a/numa_node; '
    'if [ -e "$f" ]; then printf "%s %s\\n" "$a" "$(cat "$f")"; '
    'else printf "%s missing\\n" "$a"; fi; '
    'done')


def pci_numa(addresses):
    """``sysfs pci numa_node`` for the given (validated) PCI addresses."""
    checked = tuple(validate_pci(a) for a in addresses)
    return RemoteCommand('sysfs pci numa_node',
                         ('sh', '-c', _PCI_SCRIPT, 'sh') + checked,
                         needs_root=False)


# Per-guest templates: the domain name is the only variable.
_GUEST_TEMPLATES = {
    'dumpxml': ('dumpxml',),
    'vcpupin': ('vcpupin',),
    'vcpuinfo': ('vcpuinfo',),
    'numatune': ('numatune',),
    'emulatorpin': ('emulatorpin',),
}


def guest_command(kind, domain):
    """``virsh <kind> --domain <domain>`` for one of the fixed kinds."""
    try:
        template = _GUEST_TEMPLATES[kind]
    except KeyError:
        raise InvalidName(_('no remote command template %r') % (kind,))
    name = validate_domain(domain)
    return _virsh('virsh %s %s' % (template[0], name),
                  *(template + ('--domain', name)))
