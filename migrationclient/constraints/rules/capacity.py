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

"""Capacity rules: memory, vCPUs, local disk on the destination (seed
section 8.2 "Memory constraints"; Placement's allocation candidates, or
the per-host placement inventories on placement below 1.10).
"""

from migrationclient._i18n import _
from migrationclient.constraints import model as f
from migrationclient.constraints.rules import allocation as placement
from migrationclient.constraints.rules import base


def resource_check(rule, dest, resource, amount, label):
    inv = dest.inventory
    if inv is None:
        return None
    cap = inv.get(resource)
    if cap is None:
        return [base.finding(
            rule, f.BLOCKER,
            _('destination has no %s inventory') % resource,
            _('choose another destination'))]
    if not cap.fits(amount):
        return [base.finding(
            rule, f.BLOCKER,
            _('%(label)s does not fit: needs %(need)d, %(free)d free '
              '(total %(total)d, reserved %(reserved)d, ratio %(ratio)s, '
              'used %(used)d)')
            % {'label': label, 'need': amount, 'free': cap.free,
               'total': cap.total, 'reserved': cap.reserved,
               'ratio': cap.allocation_ratio, 'used': cap.used},
            _('free capacity on the destination or choose another'))]
    return base.ok(rule, _('%(label)s fits: needs %(need)d, %(free)d free')
                   % {'label': label, 'need': amount, 'free': cap.free})


@base.depends(lambda server, snapshot: (
    server.flavor.ram, placement.key(server, snapshot)), dest=True)
def memory(server, source, dest, snapshot):
    """memory: the flavor's RAM fits on the destination.

    Seed 8.2 "Memory constraints".  Placement's allocation candidates
    (the scheduler's question, Pike+): the destination has room for
    ``MEMORY_MB`` or not; without them the ``MEMORY_MB`` inventory
    (total - reserved) x allocation ratio - usage; on clouds without
    placement data the hypervisor ``free_ram_mb`` (allocation ratio
    unknown, so a warning only).
    """
    rule = 'memory'
    need = server.flavor.ram
    found = placement.resource_findings(rule, server, dest, snapshot,
                                        ('MEMORY_MB',))
    if found is not None:
        return found
    found = resource_check(rule, dest, 'MEMORY_MB', need, _('RAM (MB)'))
    if found is not None:
        return found
    if dest.free_ram_mb is not None:
        if dest.free_ram_mb < need:
            return [base.finding(
                rule, f.WARNING,
                _('hypervisor reports %(free)d MB free, the server needs '
                  '%(need)d MB (allocation ratio unknown)')
                % {'free': dest.free_ram_mb, 'need': need},
                _('check the RAM allocation ratio of the destination'))]
        return base.ok(rule, _('hypervisor reports %(free)d MB free, needs '
                               '%(need)d MB')
                       % {'free': dest.free_ram_mb, 'need': need})
    return base.unknown(
        rule, _('destination memory not known: Placement not readable and '
                'no hypervisor free_ram_mb (compute >= 2.88)'),
        remedy=_('make Placement reachable for this user (admin), or '
                 'check: openstack resource provider usage show <dest>'))


@base.depends(lambda server, snapshot: (
    server.dedicated_cpus, server.flavor.vcpus,
    placement.key(server, snapshot)), dest=True)
def vcpu(server, source, dest, snapshot):
    """vcpu: shared vCPUs fit on the destination (placement ``VCPU``).

    From Placement's allocation candidates when asked (a pinned guest asks
    ``PCPU`` from Train: the ``pinning`` rule's); else the ``VCPU``
    inventory.  Pinned guests are checked by the ``pinning`` rule.
    """
    rule = 'vcpu'
    answer = snapshot.placement_for(server.id)
    if answer is not None and not answer.amount('VCPU'):
        return base.ok(rule, _('no shared vCPU asked (dedicated CPUs: see '
                               'the pinning rule)'))
    found = placement.resource_findings(rule, server, dest, snapshot,
                                        ('VCPU',))
    if found is not None:
        return found
    if server.dedicated_cpus and pcpu_cloud(snapshot):
        return base.ok(rule, _('dedicated CPUs: see the pinning rule'))
    found = resource_check(rule, dest, 'VCPU', server.flavor.vcpus,
                           _('vCPUs'))
    if found is not None:
        return found
    return base.unknown(
        rule, _('destination vCPU capacity not known: Placement not '
                'readable'),
        remedy=_('make Placement reachable for this user (admin), or '
                 'check: openstack resource provider usage show <dest>'))


@base.depends(lambda server, snapshot: (
    server.local_disk_gb, placement.key(server, snapshot)), dest=True)
def disk_space(server, source, dest, snapshot):
    """disk-space: local disks fit on the destination (placement DISK_GB).

    Volume-backed root disks take no destination disk.  From Placement's
    allocation candidates when asked, else the ``DISK_GB`` inventory.
    """
    rule = 'disk-space'
    need = server.local_disk_gb
    if need <= 0:
        return base.ok(rule, _('no local disk'))
    found = placement.resource_findings(rule, server, dest, snapshot,
                                        ('DISK_GB',))
    if found is not None:
        return found
    found = resource_check(rule, dest, 'DISK_GB', need, _('local disk (GB)'))
    if found is not None:
        return found
    return base.unknown(
        rule, _('destination disk capacity not known: Placement not '
                'readable'),
        remedy=_('make Placement reachable for this user (admin), or '
                 'check: openstack resource provider usage show <dest>'))


def pcpu_cloud(snapshot):
    """True when some host reports PCPU inventory (Train+ CPU model)."""
    return any(h.inventory and 'PCPU' in h.inventory
               for h in snapshot.hosts.values())
