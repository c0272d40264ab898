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

"""Storage rules: read-only drives (CD-ROMs, config drive) and block
migration (seed section 8.2).
"""

from migrationclient._i18n import _
from migrationclient.constraints import model as f
from migrationclient.constraints.rules import base


def _drives_key(server, snapshot):
    # every fact readonly_drives reads
    guest = server.guest_side
    if guest is None:
        return (server.config_drive,)
    return (server.config_drive, guest.cdroms, tuple(guest.cdrom_devices),
            guest.config_drive_format, guest.config_drive_device,
            guest.config_drive_shared)


@base.depends(_drives_key)
def readonly_drives(server, source, dest, snapshot):
    """readonly-drives: CD-ROM and config drive.

    Seed 8.2 "read-only drives": only read-write drives migrate.  Nova
    makes the config drive (``disk.config``) a read-write disk when vfat
    and a read-only CD-ROM when iso9660; libvirt copies no read-only
    device, so an iso9660 one needs block migration (allowed since Newton,
    the oldest release supported here) or shared instance storage, unless
    it lives in RBD.  Devices and the format are only visible on the
    host (``--ssh``); the host's view wins over the API's ``config_drive``.
    """
    rule = 'readonly-drives'
    live = (f.LIVE,)
    guest = server.guest_side
    read = guest is not None and guest.cdroms is not None
    findings = []
    if read and guest.cdroms:
        findings.append(base.finding(
            rule, f.WARNING,
            _('%(n)d CD-ROM drive(s) (%(what)s): read-only, their content '
              'is not copied by the migration')
            % {'n': guest.cdroms,
               'what': '; '.join(guest.cdrom_devices) or '?'},
            _('detach the CD-ROM before a live migration, or make its '
              'source available on the destination'), live))
    fmt = guest.config_drive_format if guest is not None else None
    where = ''
    if guest is not None and guest.config_drive_device:
        where = ' (%s)' % guest.config_drive_device
    if fmt == 'vfat':
        findings.extend(base.ok(
            rule, _('vfat config drive%s: read-write disk, migrates '
                    'like the other local disks') % where, live))
    elif fmt == 'iso9660' and guest.config_drive_shared:
        findings.extend(base.ok(
            rule, _('iso9660 config drive%s in shared block storage '
                    '(RBD): nothing to copy') % where, live))
    elif fmt == 'iso9660':
        findings.append(base.finding(
            rule, f.WARNING,
            _('iso9660 config drive%s: read-only, copied only by block '
              'migration (Nova Newton+) or found on shared instance '
              'storage') % where,
            _('let Nova choose the block migration (auto)'), live))
    elif server.config_drive and read:
        findings.extend(base.not_checked(
            rule, _('the API shows a config drive, the guest has no '
                    'disk.config device'), live))
    elif server.config_drive:
        findings.extend(base.not_checked(
            rule, _('config drive of unknown format'), live,
            _('use --ssh')))
    if not findings:
        if not read:
            return base.not_checked(
                rule, _('no config drive; CD-ROM devices not checked'),
                live, _('use --ssh'))
        return base.ok(rule, _('no read-only drive'), live)
    return findings


@base.depends(lambda server, snapshot: (
    server.local_disk_gb, server.volume_backed))
def disk(server, source, dest, snapshot):
    """disk: local vs volume-backed; block migration need.

    Seed 8.2 "block migration constraints".  From compute 2.25 Nova picks
    block migration itself (``block_migration: auto``).
    """
    rule = 'disk'
    if server.local_disk_gb <= 0:
        return base.ok(rule, _('volume-backed, no local disk: no block '
                               'migration'))
    what = _('local root disk') if not server.volume_backed else \
        _('local ephemeral/swap disk')
    return [base.finding(
        rule, f.OK,
        _('%(what)s (%(gb)d GB): block migration unless the instance '
          'storage is shared (Nova decides, block_migration auto); it loads '
          'the control plane network')
        % {'what': what, 'gb': server.local_disk_gb},
        _('prefer a quiet period for large disks'), (f.LIVE,))]
