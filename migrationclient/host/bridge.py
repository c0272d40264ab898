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

"""Host facts (SSH) into the constraint model's side facts.

Pure: a :class:`~migrationclient.host.topology.HostTopology` or a
:class:`~migrationclient.host.topology.GuestPlacement` in, the
:mod:`migrationclient.constraints.model` facts the rules read out.
"""

from migrationclient.constraints import model as cf


def host_side_from_topology(topology):
    """HostSideFacts from a ``migrationclient.host`` HostTopology.

    Free dedicated CPUs per cell are not known on the host alone (they
    depend on Nova's ``cpu_dedicated_set``): left unknown.
    """
    cells = []
    for cell in topology.cells:
        free_kib = cell.free_memory_kib
        cells.append(cf.NumaCell(
            id=cell.id, free_cpus=None,
            free_memory_mb=None if free_kib is None else free_kib // 1024,
            free_hugepages={size: free for size, free in
                            cell.pages_free.items()
                            if size > 4 and free is not None}))
    return cf.HostSideFacts(cpu_model=None, numa_cells=tuple(cells))


def guest_side_from_placement(placement):
    """GuestSideFacts from a ``migrationclient.host`` GuestPlacement.

    A placement without disks (``None``: not read) leaves the read-only
    drive facts unknown.  An empty CD-ROM tray has nothing to migrate and
    is not counted.
    """
    cpu_mode = placement.cpu_mode or None
    disks = placement.disks
    if disks is None:
        return cf.GuestSideFacts(cpu_mode=cpu_mode)
    drive = next((d for d in disks if d.config_drive), None)
    cdroms = [d for d in disks if d.device == 'cdrom' and d.source
              and not d.config_drive]
    return cf.GuestSideFacts(
        cpu_mode=cpu_mode, cdroms=len(cdroms),
        config_drive_format=drive.config_drive_format if drive else None,
        config_drive_device=drive.label if drive else None,
        config_drive_shared=bool(drive and drive.kind == 'network'),
        cdrom_devices=tuple('%s %s' % (d.label, d.source) for d in cdroms))
