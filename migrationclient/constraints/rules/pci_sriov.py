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
from migrationclient.constraints.rules import base
from migrationclient.constraints.rules import numa_placement
from migrationclient import microversions as mv


SRIOV_VNIC_TYPES = ('direct', 'direct-physical', 'macvtap',
                    'virtio-forwarder', 'vdpa')


@base.depends(base.server_id)
def dpdk(server, source, dest, snapshot):
    """dpdk: vhost-user (DPDK) ports need huge pages and a NUMA topology.

    Seed 8.2 "DPDK": the guest uses huge pages and is pinned to a NUMA
    node; the hugepages and numa rules then check the destination.
    """
    rule = 'dpdk'
    if server.ports is None:
        return base.not_checked(rule, _('ports not known'))
    vhu = [p for p in server.ports
           if (p.vif_type or '').startswith('vhostuser')]
    if not vhu:
        return base.ok(rule, _('no vhost-user port'))
    if numa_placement.page_size_kb(server) is None:
        return [base.finding(
            rule, f.WARNING,
            _('vhost-user port without hw:mem_page_size: the guest has no '
              'shared huge page memory'),
            _('give the flavor hw:mem_page_size'))]
    return base.ok(rule, _('vhost-user port with huge pages'))


@base.depends(base.server_id)
def sriov(server, source, dest, snapshot):
    """sriov: SR-IOV ports block live migration before Train.

    Seed 8.2 "SR-IOV" (OSP 10: cold migration only).  Train: direct /
    macvtap ports are unplugged and replugged (service version >= 36).
    Free VFs on the destination are not visible in the API.
    """
    rule = 'sriov'
    if server.ports is None:
        if snapshot.cloud.nova < mv.TRAIN:
            return base.unknown(rule, _('ports not known (network service '
                                        'unavailable)'), (f.LIVE,))
        return base.not_checked(rule, _('ports not known (network service '
                                        'unavailable)'))
    ports = [p for p in server.ports if p.vnic_type in SRIOV_VNIC_TYPES]
    if not ports:
        return base.ok(rule, _('no SR-IOV port'))
    kinds = ', '.join(sorted({p.vnic_type for p in ports}))
    findings = []
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
    findings.append(base.finding(
        rule, f.UNKNOWN,
        _('free VFs on the destination are not visible in the API'),
        _('make sure the destination has a free VF on %s')
        % ', '.join(sorted({p.physical_network or '?' for p in ports})),
        f.BOTH))
    return findings


@base.depends(base.server_id)
def pci(server, source, dest, snapshot):
    """pci: PCI passthrough (``pci_passthrough:alias``) blocks live migration.

    Seed 8.2 "PCI passthrough".  Nova Train refuses live migration with
    non-network PCI devices; Epoxy allows ``live_migratable`` devices, which
    the API does not show (operator option ``--pci-live-migratable``).
    """
    rule = 'pci'
    alias = server.flavor.extra_specs.get('pci_passthrough:alias')
    if not alias:
        return base.ok(rule, _('no PCI passthrough'))
    findings = []
    if (snapshot.cloud.nova >= mv.EPOXY
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
    findings.append(base.finding(
        rule, f.UNKNOWN,
        _('free PCI devices on the destination are not visible in the API'),
        _('make sure the destination has free devices for %s') % alias,
        (f.COLD,)))
    return findings


@base.depends(base.server_id)
def devices(server, source, dest, snapshot):
    """devices: vTPM, vPMEM and mediated devices (vGPU) by release.

    Nova: vPMEM live migration from Ussuri, mdev / vGPU from 2024.1,
    vTPM from 2026.1 (with ``hw:tpm_secret_security=host``).
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
    if specs.get('hw:pmem'):
        if nova < mv.USSURI:
            findings.append(base.finding(
                rule, f.BLOCKER,
                _('vPMEM: live migration unsupported before Ussuri'),
                _('cold migrate'), live))
        else:
            findings.append(base.finding(
                rule, f.UNKNOWN,
                _('vPMEM: free namespaces on the destination are not '
                  'visible'), _('check the destination vPMEM namespaces')))
    mdev = sorted(k for k in specs
                  if k.startswith('resources') and ('VGPU' in k
                                                    or 'MDEV' in k))
    if mdev:
        if nova < mv.CARACAL:
            findings.append(base.finding(
                rule, f.BLOCKER,
                _('mediated devices (%s): live migration unsupported before '
                  '2024.1') % ', '.join(mdev),
                _('cold migrate'), live))
        else:
            findings.append(base.finding(
                rule, f.UNKNOWN,
                _('mediated devices (%s): the destination needs the same '
                  'mdev type free, not visible in the API') % ', '.join(mdev),
                _('check the destination mdev types')))
    if not findings:
        return base.ok(rule, _('no vTPM, vPMEM or mediated device'))
    return findings
