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

"""A bed compute as its kernel and libvirt would show it (pure text).

Input: the facts the bed's control endpoint reads from the compute's
fakelibvirt connection (``testbed.fakecloud.libvirt.host_facts``): host
cells (CPUs with socket / core / siblings, memory, total pages per size),
every defined domain with the XML Nova gave libvirt and its state, every
PCI device with its NUMA node.  Output (:func:`files`): the files the SSH
test hosts serve, in the formats of the real commands (``render``):
``virsh capabilities``, ``virsh freepages --all``, ``numactl --hardware``,
``lscpu -J -e=...``, and the libvirt test driver host file on which the
real ``virsh`` answers ``list`` / ``dumpxml`` / ``vcpupin`` /
``emulatorpin`` / ``numatune`` / ``vcpuinfo`` for Nova's own domains.

Usage that the kernel would account (what :func:`usage` derives from the
running domains' XML):

* huge pages: a guest NUMA cell backed by huge pages (``<memoryBacking>
  <hugepages><page size= nodeset=>``) takes ``memory / size`` pages of
  that size on the host node of its ``<numatune><memnode>`` (else the
  ``<memory nodeset>``'s lowest node);
* small pages (free memory): guest cells without huge pages take their
  memory in 4 KiB pages on that node; a guest without NUMA cells takes
  its memory on its ``<numatune><memory nodeset>`` (split evenly), or,
  floating, split evenly over all host nodes (the kernel spreads it);
* CPUs: ``<cputune><vcpupin>`` / ``<emulatorpin>`` (else ``<vcpu
  cpuset>``, else every host CPU), shown per domain by real virsh;
* PCI: ``<hostdev type='pci'>`` and ``<interface type='hostdev'>``
  sources are assigned to their domain.

Shut-off domains are defined (``virsh list --all``) but use nothing.
"""

import json
import re
import xml.etree.ElementTree as ElementTree  # nosec B405: bed's own XML

from testbed.sshhosts import render

TEST_NS = 'http://libvirt.org/schemas/domain/test/1.0'


def parse_cpuset(text):
    """``0-3,^2,6`` -> set of ints (libvirt's cpuset syntax)."""
    include, exclude = set(), set()
    for part in (text or '').split(','):
        part = part.strip()
        if not part:
            continue
        target = include
        if part.startswith('^'):
            target, part = exclude, part[1:]
        low, _sep, high = part.partition('-')
        target.update(range(int(low), int(high or low) + 1))
    return include - exclude


def _kib(value, unit):
    factor = {'b': 1.0 / 1024, 'bytes': 1.0 / 1024, 'k': 1, 'kib': 1,
              'm': 1024, 'mib': 1024, 'g': 1024 ** 2,
              'gib': 1024 ** 2}[(unit or 'KiB').lower()]
    return int(int(value) * factor)


def _running(domain):
    return domain['state'] != 'shut off'


def _cells(facts):
    return [c['id'] for c in facts['cells']]


def _charge(charges, node, size, kib):
    cell = charges.setdefault(node, {})
    cell[size] = cell.get(size, 0) + kib


def guest_memory(xml, host_cells):
    """``{host node: {page size KiB: KiB}}`` one domain takes."""
    root = ElementTree.fromstring(xml)
    memory = root.find('memory')
    total = _kib(memory.text, memory.get('unit')) if memory is not None \
        else 0
    pages = []              # (size KiB, guest cells or None)
    huge = root.find('memoryBacking/hugepages')
    if huge is not None:
        for page in huge.findall('page'):
            nodes = page.get('nodeset')
            pages.append((_kib(page.get('size'), page.get('unit')),
                          parse_cpuset(nodes) if nodes else None))
        if not pages:
            pages.append((2048, None))      # the host's default size
    memnodes = {int(m.get('cellid')): parse_cpuset(m.get('nodeset'))
                for m in root.findall('numatune/memnode')}
    tune = root.find('numatune/memory')
    nodeset = parse_cpuset(tune.get('nodeset')) if tune is not None and \
        tune.get('nodeset') else set()
    nodeset &= set(host_cells)

    def size_for(cell_id):
        for size, cells in pages:
            if cells is None or cell_id in cells:
                return size
        return 4

    charges = {}
    guest_cells = root.findall('cpu/numa/cell')
    if guest_cells:
        for cell in guest_cells:
            cid = int(cell.get('id'))
            nodes = (memnodes.get(cid) or nodeset or set(host_cells)) & \
                set(host_cells)
            _charge(charges, min(nodes), size_for(cid),
                    _kib(cell.get('memory'), cell.get('unit')))
        return charges
    nodes = sorted(nodeset or host_cells)
    size = size_for(0)
    for index, node in enumerate(nodes):
        share = total // len(nodes)
        if index == len(nodes) - 1:
            share = total - share * (len(nodes) - 1)
        _charge(charges, node, size, share)
    return charges


def _pci_source(element):
    address = element.find('source/address')
    if address is None or address.get('domain') is None:
        return None
    return '%04x:%02x:%02x.%x' % tuple(
        int(address.get(k), 16) for k in ('domain', 'bus', 'slot',
                                          'function'))


def guest_pci(xml):
    """PCI addresses a domain is given (hostdev, interface type=hostdev)."""
    root = ElementTree.fromstring(xml)
    found = []
    for element in root.findall('devices/hostdev'):
        if element.get('type') == 'pci':
            found.append(_pci_source(element))
    for element in root.findall('devices/interface'):
        if element.get('type') == 'hostdev':
            found.append(_pci_source(element))
    return [a for a in found if a]


def guest_cpus(xml, host_cpus):
    """``({vcpu: set}, emulator set)``: where a domain's threads may run."""
    root = ElementTree.fromstring(xml)
    vcpu = root.find('vcpu')
    count = int(vcpu.text) if vcpu is not None else 1
    default = set(host_cpus)
    if vcpu is not None and vcpu.get('cpuset'):
        default = parse_cpuset(vcpu.get('cpuset'))
    pins = {v: set(default) for v in range(count)}
    for pin in root.findall('cputune/vcpupin'):
        pins[int(pin.get('vcpu'))] = parse_cpuset(pin.get('cpuset'))
    emulator = root.find('cputune/emulatorpin')
    return pins, (parse_cpuset(emulator.get('cpuset'))
                  if emulator is not None else set(default))


def usage(facts):
    """What the running domains use.

    ``{'cells': {cell: {pages, free_pages, used_kib, free_mb, pinned}},
    'pci': {address: domain or None}}``; ``pinned``: ``{cpu: [domain]}``
    for the vCPUs pinned to one host CPU each (Nova's dedicated CPUs; a
    vCPU allowed on a set of CPUs floats).
    """
    host_cells = _cells(facts)
    host_cpus = [c['id'] for cell in facts['cells'] for c in cell['cpus']]
    used = {cid: {} for cid in host_cells}
    pinned = {cid: {} for cid in host_cells}
    cell_of = {c['id']: cell['id'] for cell in facts['cells']
               for c in cell['cpus']}
    assigned = {}
    for domain in facts['domains']:
        if not _running(domain):
            continue
        for node, sizes in guest_memory(domain['xml'], host_cells).items():
            for size, kib in sizes.items():
                used[node][size] = used[node].get(size, 0) + kib
        pins, _emulator = guest_cpus(domain['xml'], host_cpus)
        for cpus in pins.values():
            if len(cpus) != 1:
                continue        # floating over a set: not pinned
            for cpu in cpus:
                pinned[cell_of[cpu]].setdefault(cpu, set()).add(
                    domain['name'])
        for address in guest_pci(domain['xml']):
            assigned[address] = domain['name']
    cells = {}
    for cell in facts['cells']:
        cid = cell['id']
        totals = {int(size): count for size, count in cell['pages'].items()}
        free = {}
        for size, count in totals.items():
            free[size] = max(0, count - used[cid].get(size, 0) // size)
        cells[cid] = {
            'pages': totals, 'free_pages': free,
            'used_kib': used[cid],
            'free_mb': free.get(4, 0) * 4 // 1024,
            'pinned': {cpu: sorted(names) for cpu, names in
                       sorted(pinned[cid].items())}}
    pci = {d['address']: assigned.get(d['address'])
           for d in facts['pci']}
    return {'cells': cells, 'pci': pci}


def host_state(facts, used=None):
    """A :class:`render.HostState` of the host.

    No guests: the domains are Nova's own (:func:`host_xml`).
    """
    used = used or usage(facts)
    cells = []
    for cell in facts['cells']:
        info = used['cells'][cell['id']]
        cpus = tuple(c['id'] for c in cell['cpus'])
        topology = {c['id']: (c['socket'], c['core'], tuple(c['siblings']))
                    for c in cell['cpus']}
        cells.append(render.Cell(
            cpus=cpus, memory_kib=cell['memory_kib'],
            free_mb=info['free_mb'],
            hugepages_2m=info['pages'].get(2048, 0),
            free_2m=info['free_pages'].get(2048, 0),
            topology=topology, pages=info['pages'],
            free_pages=info['free_pages']))
    pci = {d['address']: d['numa_node'] for d in facts['pci']}
    return render.HostState(cells=tuple(cells), pci=pci)


_DOMAIN_TAG = re.compile(r'<domain\b[^>]*>')
_TYPE_OR_ID = re.compile(r'''\s(?:type|id)=(?:'[^']*'|"[^"]*")''')


def driver_domain(xml, running=True):
    """Nova's domain XML as a libvirt test driver domain (text).

    Only the opening tag changes (``type='test'``, no ``id``; a shut-off
    domain gets ``<test:runstate>5</test:runstate>``): the rest is Nova's
    text, byte for byte.
    """
    match = _DOMAIN_TAG.search(xml)
    if match is None:
        raise ValueError('no <domain> element')
    tag = _TYPE_OR_ID.sub('', match.group(0))
    tag = tag.replace('<domain', '<domain type="test"', 1)
    if not running:
        tag += '<test:runstate>5</test:runstate>'
    return tag + xml[match.end():]


def host_xml(facts):
    """The libvirt test driver host file with the host's domains."""
    cells = facts['cells']
    sockets = {c['socket'] for cell in cells for c in cell['cpus']}
    threads = max(len(c['siblings']) for cell in cells
                  for c in cell['cpus'])
    cpus = sum(len(cell['cpus']) for cell in cells)
    cores = max(1, cpus // max(1, len(sockets) * threads * len(cells)))
    lines = ['<node xmlns:test="%s">' % TEST_NS,
             '  <cpu><mhz>2400</mhz><model>x86_64</model><active>%d'
             '</active><nodes>%d</nodes><sockets>%d</sockets><cores>%d'
             '</cores><threads>%d</threads></cpu>'
             % (cpus, len(cells), len(sockets), cores, threads),
             '  <memory>%d</memory>' % sum(c['memory_kib'] for c in cells)]
    for domain in sorted(facts['domains'], key=lambda d: d['name']):
        lines.append(driver_domain(domain['xml'], _running(domain)))
    lines.append('</node>')
    return '\n'.join(lines) + '\n'


def files(facts):
    """Every per-host file of the SSH test host, from ``facts``."""
    used = usage(facts)
    state = host_state(facts, used)
    return {
        'capabilities.xml': render.capabilities(state),
        'freepages.txt': render.freepages(state),
        'lscpu.json': render.lscpu(state),
        'numactl.txt': render.numactl(state),
        'host.xml': host_xml(facts),
        'pci.json': json.dumps(state.pci, sort_keys=True),
        'usage.json': json.dumps(used, sort_keys=True, default=sorted),
    }
