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

"""Device rules: DPDK, SR-IOV ports, PCI passthrough, vTPM / vPMEM /
mediated devices (seed section 8.2; Nova release notes).
"""

from migrationclient._i18n import _
from migrationclient.constraints import model as f
from migrationclient.constraints import request
from migrationclient.constraints.rules import allocation as placement
from migrationclient.constraints.rules import base
from migrationclient.constraints.rules import numa_placement
from migrationclient import microversions as mv


SRIOV_VNIC_TYPES = ('direct', 'direct-physical', 'macvtap',
                    'virtio-forwarder', 'vdpa')


def _vhostuser_key(server, snapshot):
    if server.ports is None:
        return None, None
    return (any((p.vif_type or '').startswith('vhostuser')
                for p in server.ports),
            numa_placement.page_size_kb(server))


@base.depends(_vhostuser_key, dest=True)
def dpdk(server, source, dest, snapshot):
    """dpdk: vhost-user (DPDK) ports need huge pages and OVS-DPDK.

    Seed 8.2 "DPDK": the guest uses huge pages and is pinned to a NUMA
    node; the hugepages and numa rules then check the destination (free
    pages per cell with ``--ssh``).  The destination's OVS datapath comes
    from its Neutron Open vSwitch agent (``datapath_type``): on a kernel
    OVS (``system``) destination Nova still moves the guest (multiple port
    bindings, Rocky+: Neutron binds the port as ``ovs`` there and libvirt
    rewrites the interface), but the guest loses its DPDK data path:
    a warning, never a blocker.
    """
    rule = 'dpdk'
    if server.ports is None:
        return base.not_checked(rule, _('ports not known'))
    vhu = [p for p in server.ports
           if (p.vif_type or '').startswith('vhostuser')]
    if not vhu:
        return base.ok(rule, _('no vhost-user port'))
    if numa_placement.page_size_kb(server) is None:
        findings = [base.finding(
            rule, f.WARNING,
            _('vhost-user port without hw:mem_page_size: the guest has no '
              'shared huge page memory'),
            _('give the flavor hw:mem_page_size'))]
    else:
        findings = base.ok(rule, _('vhost-user port with huge pages'))
    findings.extend(_ovs_dpdk(rule, dest))
    return findings


def _ovs_dpdk(rule, dest):
    """Whether the destination runs OVS-DPDK (its Open vSwitch agent)."""
    pages = _('huge pages on the guest\'s cell are checked by the '
              'hugepages and numa rules (free pages per cell with --ssh)')
    datapath = dest.ovs_datapath
    if datapath == 'netdev':
        return base.ok(rule, _('%(host)s runs OVS-DPDK (Open vSwitch agent '
                               'datapath netdev); %(pages)s')
                       % {'host': dest.name, 'pages': pages})
    if not datapath:
        why = (_('the Open vSwitch agents are not readable (admin only)')
               if datapath is None else
               _('%s has no Open vSwitch agent') % dest.name)
        return base.not_checked(
            rule, _('whether %(host)s runs OVS-DPDK is not known: %(why)s; '
                    '%(pages)s') % {'host': dest.name, 'why': why,
                                    'pages': pages},
            remedy=_('as admin: openstack network agent list --host %s '
                     '--agent-type open-vswitch, then openstack network '
                     'agent show <id> (configuration datapath_type)')
            % dest.name)
    return [base.finding(
        rule, f.WARNING,
        _('%(host)s does not run OVS-DPDK (Open vSwitch agent datapath '
          '%(dp)s): Nova moves the guest, its vhost-user port is bound as '
          'a kernel OVS port there and the guest loses its DPDK data path')
        % {'host': dest.name, 'dp': datapath},
        _('choose a destination whose Open vSwitch agent has datapath_type '
          'netdev'))]


@base.depends(lambda server, snapshot: server.ports, dest=True)
def sriov(server, source, dest, snapshot):
    """sriov: SR-IOV ports block live migration before Train.

    Seed 8.2 "SR-IOV" (OSP 10: cold migration only).  Train: direct /
    macvtap ports are unplugged and replugged (service version >= 36).
    Free VFs on the destination are not visible in the API.
    """
    rule = 'sriov'
    if server.ports is None:
        if snapshot.cloud.nova < mv.TRAIN:
            return base.unknown(
                rule, _('ports not known (network service unavailable): '
                        'an SR-IOV port blocks live migration before Train'),
                (f.LIVE,), _('check: openstack port list --server <server>'))
        return base.not_checked(rule, _('ports not known (network service '
                                        'unavailable)'))
    ports = [p for p in server.ports if p.vnic_type in SRIOV_VNIC_TYPES]
    if not ports:
        return base.ok(rule, _('no SR-IOV port'))
    kinds = ', '.join(sorted({p.vnic_type for p in ports}))
    findings = []
    if snapshot.cloud.nova < mv.ZED and any(p.vnic_type == 'vdpa'
                                            for p in ports):
        findings.append(base.finding(
            rule, f.BLOCKER,
            _('vDPA port: Nova moves servers with vDPA ports only from Zed'),
            _('upgrade to Zed, or detach the vDPA port before the move')))
    if snapshot.cloud.nova < mv.TRAIN:
        findings.append(base.finding(
            rule, f.BLOCKER,
            _('SR-IOV port(s) (%s): live migration unsupported before '
              'Train') % kinds,
            _('cold migrate'), (f.LIVE,)))
    else:
        findings.append(base.finding(
            rule, f.WARNING,
            _('SR-IOV port(s) (%s): the VF is unplugged and replugged, the '
              'guest loses that network during the move') % kinds,
            _('expect a network interruption'), (f.LIVE,)))
    findings.extend(_free_vfs(rule, ports, dest))
    return findings


#: vNIC types that take a VF (``direct-physical`` takes a PF, ``vdpa`` a
#: vDPA device: not counted)
VF_VNIC_TYPES = ('direct', 'macvtap', 'virtio-forwarder')


def _free_vfs(rule, ports, dest):
    """Free VFs per physical network on the destination (``--ssh``).

    Nova claims one VF of the port's physical network on the destination
    (PciPassthroughFilter; the live migration claims one too from
    Train): fewer free VFs than ports, and Nova refuses.
    """
    physnets = ', '.join(sorted({p.physical_network or '?' for p in ports}))
    side = dest.host_side
    need = {}
    for port in ports:
        need[port.physical_network] = need.get(port.physical_network, 0) + 1
    countable = (side is not None and side.vf_free is not None
                 and None not in need
                 and all(p.vnic_type in VF_VNIC_TYPES for p in ports))
    if not countable:
        if side is not None and None in need:
            why = _('the port\'s physical network is not shown to this '
                    'user')
        elif side is not None and side.vf_free is None:
            why = _('%s not readable over SSH') % (
                ', '.join(side.unread) or _('PCI devices'))
        elif side is not None:
            why = _('only VFs are counted (direct, macvtap, '
                    'virtio-forwarder)')
        else:
            why = _('not in the API, and Nova does not report '
                    'Neutron-port VFs in Placement')
        return [base.finding(
            rule, f.UNKNOWN,
            _('free VFs on %(nets)s of %(host)s not known: %(why)s')
            % {'nets': physnets, 'host': dest.name, 'why': why},
            _('pass --ssh (as admin) to count them on %(host)s, or count '
              'the VFs of the [pci] device_spec for %(nets)s '
              '(sriov_numvfs) minus those attached to guests')
            % {'host': dest.name, 'nets': physnets}, f.BOTH)]
    short = {net: (n, side.vf_free.get(net, 0)) for net, n in need.items()
             if side.vf_free.get(net, 0) < n}
    if short:
        return [base.finding(
            rule, f.BLOCKER,
            _('%(host)s has too few free VFs: %(short)s')
            % {'host': dest.name, 'short': ', '.join(
                _('%(net)s %(free)d free, %(need)d needed')
                % {'net': net, 'free': free, 'need': n}
                for net, (n, free) in sorted(short.items()))},
            _('free a VF on the destination or choose another'))]
    return base.ok(rule, _('free VFs on %(host)s: %(free)s') % {
        'host': dest.name, 'free': ', '.join(
            '%s %d' % (net, side.vf_free.get(net, 0))
            for net in sorted(need))})


def alias_count(alias):
    """Devices a ``pci_passthrough:alias`` value asks (``a:2,b:1`` -> 3)."""
    total = 0
    for part in str(alias).split(','):
        name, _sep, count = part.strip().partition(':')
        try:
            total += int(count) if count else 1
        except ValueError:
            total += 1
    return total


def alias_counts(alias):
    """``{alias name: devices}`` of a ``pci_passthrough:alias`` value."""
    counts = {}
    for part in str(alias).split(','):
        name, _sep, count = part.strip().partition(':')
        try:
            number = int(count) if count else 1
        except ValueError:
            number = 1
        counts[name.strip()] = counts.get(name.strip(), 0) + number
    return counts


def _free_pci_host(rule, dest, alias, kinds):
    """Free devices per alias read on the destination (``--ssh``), or None.

    Nova claims the alias's devices on the destination (PciPassthroughFilter
    and the PCI claim): fewer free devices of the alias, and it refuses.
    """
    side = dest.host_side
    if side is None or side.pci_free is None:
        return None
    counts = alias_counts(alias)
    unknown = sorted(set(counts) - set(side.pci_free))
    if unknown:
        return base.unknown(
            rule, _('alias %(names)s is not in the [pci] alias of '
                    '%(host)s\'s nova.conf: its devices cannot be counted')
            % {'names': ', '.join(unknown), 'host': dest.name}, kinds,
            _('check [pci] alias on %s') % dest.name)
    short = {name: (n, side.pci_free[name]) for name, n in counts.items()
             if side.pci_free[name] < n}
    if short:
        return [base.finding(
            rule, f.BLOCKER,
            _('%(host)s has too few free PCI devices: %(short)s')
            % {'host': dest.name, 'short': ', '.join(
                _('alias %(a)s %(free)d free, %(need)d needed')
                % {'a': name, 'free': free, 'need': n}
                for name, (n, free) in sorted(short.items()))},
            _('free a device on the destination or choose another'),
            kinds)]
    return base.ok(rule, _('free PCI devices on %(host)s: %(free)s') % {
        'host': dest.name, 'free': ', '.join(
            _('alias %(a)s %(n)d') % {'a': name, 'n': side.pci_free[name]}
            for name in sorted(counts))}, kinds)


def _live_migratable(dest, alias):
    """Whether every alias of the request is ``live_migratable``.

    In the destination's nova.conf; None when it was not read.
    """
    side = dest.host_side
    if side is None or side.pci_live is None:
        return None
    return all(side.pci_live.get(name) is True
               for name in alias_counts(alias))


def _free_pci_cold(rule, server, dest, snapshot, alias):
    """Free PCI devices of the destination in Placement (cold migration).

    Nova reports PCI devices in Placement with ``[pci]
    report_in_placement`` (Zed+): one provider per device under the
    compute node.  Fewer free devices than the alias asks: Nova refuses
    (no device to claim).  Which class the alias maps to is in the
    destination's nova.conf, so enough free devices stays unknown.
    """
    cold = (f.COLD,)
    _answer, room = placement.answer_room(server, dest, snapshot)
    need = alias_count(alias)
    if room is not None and room.pci_free is not None:
        free = sum(room.pci_free.values())
        if free < need:
            return [base.finding(
                rule, f.BLOCKER,
                _('Placement ([pci] report_in_placement) shows %(free)d free '
                  'PCI device(s) on the destination, alias %(alias)s asks '
                  '%(need)d') % {'free': free, 'alias': alias, 'need': need},
                _('free a device on the destination or choose another'),
                cold)]
        return base.unknown(
            rule, _('Placement shows %(free)d free PCI device(s) (%(rcs)s); '
                    'which of them alias %(alias)s matches is in the '
                    'destination\'s nova.conf') % {
                'free': free, 'alias': alias,
                'rcs': ', '.join('%s:%d' % x for x in sorted(
                    room.pci_free.items()))},
            cold, _('check [pci] alias on the destination'))
    return base.unknown(
        rule, _('free PCI devices for alias %(alias)s on %(host)s not '
                'known: not in the API (Placement has them only with [pci] '
                'report_in_placement, Zed+)')
        % {'alias': alias, 'host': dest.name}, cold,
        _('pass --ssh to count them on %s, or enable [pci] '
          'report_in_placement') % dest.name)


@base.depends(lambda server, snapshot: (
    server.flavor.extra_specs.get('pci_passthrough:alias'),
    placement.key(server, snapshot)), dest=True)
def pci(server, source, dest, snapshot):
    """pci: PCI passthrough (``pci_passthrough:alias``) blocks live migration.

    Seed 8.2 "PCI passthrough".  Nova Train refuses live migration with
    non-network PCI devices; Epoxy allows ``live_migratable`` devices, which
    the API does not show (operator option ``--pci-live-migratable``).
    Cold: free devices from Placement where the cloud reports them there
    (``[pci] report_in_placement``, Zed+).
    """
    rule = 'pci'
    alias = server.flavor.extra_specs.get('pci_passthrough:alias')
    if not alias:
        return base.ok(rule, _('no PCI passthrough'))
    findings = []
    live_ok = _live_migratable(dest, alias)
    if snapshot.cloud.nova >= mv.EPOXY and live_ok is not None:
        if live_ok:
            findings.append(base.finding(
                rule, f.WARNING,
                _('PCI alias %(alias)s is live_migratable in %(host)s\'s '
                  'nova.conf: the device is unplugged and replugged')
                % {'alias': alias, 'host': dest.name}, '', (f.LIVE,)))
        else:
            findings.append(base.finding(
                rule, f.BLOCKER,
                _('PCI passthrough (alias %(alias)s) cannot be live '
                  'migrated: the alias is not live_migratable in '
                  '%(host)s\'s nova.conf')
                % {'alias': alias, 'host': dest.name},
                _('cold migrate'), (f.LIVE,)))
    elif (snapshot.cloud.nova >= mv.EPOXY
            and snapshot.cloud.pci_live_migratable):
        findings.append(base.finding(
            rule, f.WARNING,
            _('PCI alias %s: live migration only works for live_migratable '
              'devices and aliases') % alias,
            _('check [pci]alias and device_spec live_migratable'),
            (f.LIVE,)))
    else:
        remedy = _('cold migrate')
        if snapshot.cloud.nova >= mv.EPOXY:
            remedy = _('cold migrate, or pass --pci-live-migratable if the '
                       'alias and devices are live_migratable')
        findings.append(base.finding(
            rule, f.BLOCKER,
            _('PCI passthrough (alias %s) cannot be live migrated') % alias,
            remedy, (f.LIVE,)))
    live_blocked = any(x.blocks(f.LIVE) for x in findings)
    kinds = (f.COLD,) if live_blocked else f.BOTH
    found = _free_pci_host(rule, dest, alias, kinds)
    if found is None:
        found = _free_pci_cold(rule, server, dest, snapshot, alias)
    findings.extend(found)
    return findings


def mdev_classes(server, nova):
    """Resource classes of mediated devices the server asks.

    ``VGPU`` and ``CUSTOM_*`` classes, not vPMEM namespaces nor PCI.
    """
    if not any(k.startswith('resources') for k in server.flavor.extra_specs):
        return ()
    shape = request.request_shape(server, nova)
    return tuple(rc for rc in shape.mdev_resources
                 if not rc.startswith('CUSTOM_PCI_'))


def _asked(server, snapshot):
    answer = snapshot.placement_for(server.id)
    return answer.resources if answer is not None else ()


def _room(rule, server, dest, snapshot, classes, unknown_text, remedy):
    """Findings on free ``classes`` from Placement's answer, or unknown."""
    found = None
    if classes:
        found = placement.resource_findings(rule, server, dest, snapshot,
                                            tuple(classes))
    if found is None:
        return base.unknown(rule, unknown_text, remedy=remedy)
    return found


def _devices_key(server, snapshot):
    return (server.spec('tpm_version'), server.spec('tpm_model'),
            server.spec('tpm_secret_security'),
            server.flavor.extra_specs.get('hw:pmem'),
            mdev_classes(server, snapshot.cloud.nova),
            placement.key(server, snapshot))


@base.depends(_devices_key, dest=True)
def devices(server, source, dest, snapshot):
    """devices: vTPM, vPMEM and mediated devices (vGPU) by release.

    Nova: vPMEM live migration from Ussuri, mdev / vGPU from 2024.1,
    vTPM from 2026.1 (with ``hw:tpm_secret_security=host``).  Free vPMEM
    namespaces (``CUSTOM_PMEM_NAMESPACE_*``) and mediated devices
    (``VGPU`` or the ``CUSTOM_*`` class of ``[mdev_*] mdev_class``) from
    Placement's allocation candidates (the scheduler's question asks
    them).
    """
    rule = 'devices'
    live = (f.LIVE,)
    specs = server.flavor.extra_specs
    nova = snapshot.cloud.nova
    findings = []
    if server.spec('tpm_version') or server.spec('tpm_model'):
        if nova < mv.GAZPACHO:
            findings.append(base.finding(
                rule, f.BLOCKER,
                _('vTPM: live migration unsupported before 2026.1'),
                _('cold migrate'), live))
        elif server.spec('tpm_secret_security') != 'host':
            findings.append(base.finding(
                rule, f.BLOCKER,
                _('vTPM: live migration needs hw:tpm_secret_security=host'),
                _('cold migrate'), live))
        else:
            findings.append(base.finding(
                rule, f.WARNING, _('vTPM live migration (2026.1+)'), '',
                live))
    pmem = sorted(rc for rc, _n in _asked(server, snapshot)
                  if rc.startswith('CUSTOM_PMEM_NAMESPACE_'))
    if specs.get('hw:pmem') and nova < mv.USSURI:
        findings.append(base.finding(
            rule, f.BLOCKER,
            _('vPMEM: live migration unsupported before Ussuri'),
            _('cold migrate'), live))
    if specs.get('hw:pmem') and nova >= mv.TRAIN:
        # vPMEM exists from Train: before, Nova ignores hw:pmem
        findings.extend(_room(
            rule, server, dest, snapshot, pmem,
            _('vPMEM: free namespaces on the destination are not visible '
              '(Placement not asked)'),
            _('check: openstack resource provider inventory list <dest>')))
    mdev = mdev_classes(server, nova)
    if mdev:
        if nova < mv.CARACAL:
            findings.append(base.finding(
                rule, f.BLOCKER,
                _('mediated devices (%s): live migration unsupported before '
                  '2024.1') % ', '.join(mdev),
                _('cold migrate'), live))
        findings.extend(_room(
            rule, server, dest, snapshot, mdev,
            _('mediated devices (%s): the destination needs the same mdev '
              'type free; Placement not asked') % ', '.join(mdev),
            _('check: openstack resource provider inventory list <dest> '
              '(its child providers)')))
    if not findings:
        return base.ok(rule, _('no vTPM, vPMEM or mediated device'))
    return findings
