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

"""Per-host files of the fake compute hosts (pure text generation).

The libvirt test driver cannot describe host NUMA cells in a custom host
file, and ``lscpu`` / ``numactl`` would show this machine, so those
outputs are rendered here in exactly the format the real commands print
(compare migrationclient/tests/unit/samples/host/, recorded from them).
Guests are real ``<domain>`` elements of a libvirt test driver host file,
read by the real ``virsh``.
"""

import dataclasses
from xml.sax import saxutils

PAGE_SIZES = (4, 2048, 1048576)


@dataclasses.dataclass
class Cell:
    cpus: tuple
    memory_kib: int = 8 * 1024 * 1024
    free_mb: int = 6000
    hugepages_2m: int = 1024          # total 2 MiB pages
    free_2m: int = 512
    # Optional, for hosts taken from the bed (bedview): cpu -> (socket,
    # core, siblings tuple); page size KiB -> total / free pages.  Unset:
    # one core per CPU, socket = cell, pages from the fields above.
    topology: dict = None
    pages: dict = None
    free_pages: dict = None

    def cpu_topology(self, cell_id, cpu, index):
        if self.topology and cpu in self.topology:
            return self.topology[cpu]
        return (cell_id, index, (cpu,))

    def total_pages(self, size):
        if self.pages is not None:
            return self.pages.get(size, 0)
        return {4: self.memory_kib // 4,
                2048: self.hugepages_2m}.get(size, 0)

    def free(self, size):
        if self.free_pages is not None:
            return self.free_pages.get(size, 0)
        return {4: self.free_mb * 256, 2048: self.free_2m}.get(size, 0)


@dataclasses.dataclass
class Guest:
    name: str
    vcpu_pins: dict = None            # vcpu -> cpuset text; None: floating
    emulator: str = None              # emulatorpin cpuset
    nodeset: str = None               # numatune strict nodeset
    hugepages_kib: int = None
    cpu_mode: str = 'host-passthrough'
    vfs: tuple = ()                   # PCI addresses of SR-IOV VF NICs
    direct: tuple = ()                # host NIC names (macvtap)
    vcpus: int = 2
    running: bool = True              # False: shut off (cold migration)


@dataclasses.dataclass
class HostState:
    cells: tuple = (Cell(cpus=(0, 1, 2, 3)), Cell(cpus=(4, 5, 6, 7)))
    nics: dict = dataclasses.field(default_factory=dict)  # name: (node, pci)
    pci: dict = dataclasses.field(default_factory=dict)   # pci: node
    guests: tuple = ()


def cpuset(cpus):
    """CPU ids as libvirt and virsh print them (``0-1,4-5``)."""
    cpus = sorted(set(cpus))
    parts, start = [], None
    for index, cpu in enumerate(cpus):
        if start is None:
            start = cpu
        if index + 1 < len(cpus) and cpus[index + 1] == cpu + 1:
            continue
        parts.append(str(start) if start == cpu else '%d-%d' % (start, cpu))
        start = None
    return ','.join(parts)


def capabilities(state):
    lines = ["<capabilities>", "", "  <host>", "    <cpu>",
             "      <arch>x86_64</arch>"]
    lines += ["      <pages unit='KiB' size='%d'/>" % s for s in PAGE_SIZES]
    lines += ["    </cpu>", "    <power_management/>",
              "    <iommu support='no'/>", "    <topology>",
              "      <cells num='%d'>" % len(state.cells)]
    for cid, cell in enumerate(state.cells):
        lines += ["        <cell id='%d'>" % cid,
                  "          <memory unit='KiB'>%d</memory>"
                  % cell.memory_kib]
        lines += ["          <pages unit='KiB' size='%d'>%d</pages>"
                  % (size, cell.total_pages(size)) for size in PAGE_SIZES]
        lines.append("          <cpus num='%d'>" % len(cell.cpus))
        for index, cpu in enumerate(cell.cpus):
            socket, core, siblings = cell.cpu_topology(cid, cpu, index)
            lines.append("            <cpu id='%d' socket_id='%d' "
                         "die_id='0' core_id='%d' siblings='%s'/>"
                         % (cpu, socket, core, cpuset(siblings)))
        lines += ["          </cpus>", "        </cell>"]
    lines += ["      </cells>", "    </topology>", "  </host>", "",
              "</capabilities>", ""]
    return '\n'.join(lines)


def freepages(state):
    out = []
    for cid, cell in enumerate(state.cells):
        out.append('Node %d:' % cid)
        out += ['%dKiB: %d' % (size, cell.free(size)) for size in PAGE_SIZES]
        out.append('')
    return '\n'.join(out) + '\n'


def lscpu(state):
    """``lscpu -J -e=CPU,NODE,SOCKET,CORE,ONLINE``.

    lscpu numbers cores across the machine (logical core ids), where
    libvirt's ``core_id`` counts within a socket / die.
    """
    rows, cores = [], {}
    for cid, cell in enumerate(state.cells):
        for index, cpu in enumerate(cell.cpus):
            socket, core, _siblings = cell.cpu_topology(cid, cpu, index)
            if cell.topology:
                core = cores.setdefault((socket, cid, core), len(cores))
            rows.append((cpu, cid, socket, core))
    body = ',{\n'.join(
        '         "cpu": %d,\n         "node": %d,\n         "socket": %d,\n'
        '         "core": %d,\n         "online": true\n      }'
        % row for row in sorted(rows))
    return '{\n   "cpus": [\n      {\n' + body + '\n   ]\n}\n'


def numactl(state):
    ids = ' '.join(str(i) for i in range(len(state.cells)))
    out = ['available: %d nodes (0-%d)' % (len(state.cells),
                                           len(state.cells) - 1)]
    for cid, cell in enumerate(state.cells):
        cpus = ' '.join(str(c) for c in cell.cpus)
        out += ['node %d cpus: %s' % (cid, cpus),
                'node %d size: %d MB' % (cid, cell.memory_kib // 1024),
                'node %d free: %d MB' % (cid, cell.free_mb)]
    out.append('node distances:')
    out.append('node   ' + '   '.join(ids.split()) + ' ')
    for cid in range(len(state.cells)):
        out.append('  %d:  ' % cid + '  '.join(
            '10' if cid == other else '21'
            for other in range(len(state.cells))) + ' ')
    return '\n'.join(out) + '\n'


def _pci_xml(address):
    dom, bus, rest = address.split(':')
    slot, func = rest.split('.')
    return ("<address type='pci' domain='0x%s' bus='0x%s' slot='0x%s' "
            "function='0x%s'/>" % (dom, bus, slot, func))


def domain_xml(guest, number):
    q = saxutils.quoteattr
    parts = ['  <domain type="test">',
             '    <name>%s</name>' % saxutils.escape(guest.name),
             '    <uuid>00000000-0000-4000-8000-%012d</uuid>' % number,
             '    <memory unit="KiB">1048576</memory>']
    if not guest.running:
        parts.append('    <test:runstate>5</test:runstate>')
    if guest.hugepages_kib:
        parts.append('    <memoryBacking><hugepages><page size="%d" '
                     'unit="KiB"/></hugepages></memoryBacking>'
                     % guest.hugepages_kib)
    parts.append('    <vcpu placement="static">%d</vcpu>' % guest.vcpus)
    if guest.vcpu_pins or guest.emulator:
        parts.append('    <cputune>')
        for vcpu, cpus in sorted((guest.vcpu_pins or {}).items()):
            parts.append('      <vcpupin vcpu="%d" cpuset=%s/>'
                         % (vcpu, q(cpus)))
        if guest.emulator:
            parts.append('      <emulatorpin cpuset=%s/>' % q(guest.emulator))
        parts.append('    </cputune>')
    if guest.nodeset:
        parts.append('    <numatune><memory mode="strict" nodeset=%s/>'
                     '</numatune>' % q(guest.nodeset))
    parts.append('    <os><type arch="x86_64">hvm</type></os>')
    parts.append('    <cpu mode=%s/>' % q(guest.cpu_mode))
    parts.append('    <devices>')
    for index, address in enumerate(guest.vfs):
        parts.append('      <interface type="hostdev" managed="yes">'
                     '<mac address="fa:16:3e:00:%02x:%02x"/><source>%s'
                     '</source></interface>'
                     % (number % 256, index, _pci_xml(address)))
    for index, nic in enumerate(guest.direct):
        parts.append('      <interface type="direct"><mac address='
                     '"fa:16:3e:01:%02x:%02x"/><source dev=%s '
                     'mode="passthrough"/></interface>'
                     % (number % 256, index, q(nic)))
    parts += ['    </devices>', '  </domain>']
    return '\n'.join(parts)


def host_xml(state):
    cpus = sum(len(c.cpus) for c in state.cells)
    memory = sum(c.memory_kib for c in state.cells)
    lines = ['<node xmlns:test="http://libvirt.org/schemas/domain/test/1.0">',
             '  <cpu><mhz>2400</mhz><model>x86_64</model><active>%d</active>'
             '<nodes>%d</nodes><sockets>%d</sockets><cores>4</cores>'
             '<threads>1</threads></cpu>'
             % (cpus, len(state.cells), len(state.cells)),
             '  <memory>%d</memory>' % memory]
    for number, guest in enumerate(state.guests, 1):
        lines.append(domain_xml(guest, number))
    lines.append('</node>')
    return '\n'.join(lines) + '\n'
