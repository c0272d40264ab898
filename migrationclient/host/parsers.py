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

"""Parsers for the outputs of the remote commands (pure, no I/O).

Each parser takes the text a command printed (``LC_ALL=C``) and returns
plain data, or raises :class:`ParseError` naming what it could not read.
"""

import json
import re
# parsing virsh's own output, with DTDs refused: see _xml()
from xml.etree import ElementTree  # nosec B405

from migrationclient._i18n import _
from migrationclient import errors


class ParseError(errors.Error, ValueError):
    """Output that does not look like what the command prints."""


def _xml(text, what):
    # virsh never prints a DTD; refusing one rules out entity expansion
    # tricks, and expat (>= 2.4) refuses amplification anyway.
    if '<!DOCTYPE' in text or '<!ENTITY' in text:
        raise ParseError(_('%s output has a DTD; refusing it') % what)
    try:
        return ElementTree.fromstring(text)  # nosec B314
    except ElementTree.ParseError as exc:
        raise ParseError(_('%(what)s output is not XML (%(err)s)')
                         % {'what': what, 'err': exc})


def parse_cpuset(text):
    """libvirt / Linux CPU list ``'0-3,^2,8'`` -> ``frozenset({0,1,3,8})``.

    ``''`` is the empty set.  Raises ParseError on anything else.
    """
    include, exclude = set(), set()
    text = (text or '').strip()
    if not text:
        return frozenset()
    for part in text.split(','):
        part = part.strip()
        target = include
        if part.startswith('^'):
            target, part = exclude, part[1:]
        match = re.fullmatch(r'(\d+)(?:-(\d+))?', part)
        if not match:
            raise ParseError(_('bad CPU list %r') % text)
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        if high < low or high - low > 65536:
            raise ParseError(_('bad CPU range %r') % part)
        target.update(range(low, high + 1))
    return frozenset(include - exclude)


def parse_capabilities(text):
    """``virsh capabilities`` -> host cells and page sizes.

    Returns ``{'page_sizes_kib': [...], 'cells': [{'id', 'memory_kib',
    'cpus': {cpu: {'socket', 'core', 'siblings'}}, 'pages': {size: n}}]}``.
    """
    root = _xml(text, 'virsh capabilities')
    if root.tag != 'capabilities' or root.find('host') is None:
        raise ParseError(_('virsh capabilities output has no <host>'))
    host = root.find('host')
    sizes = sorted({int(p.get('size')) for p in host.findall('cpu/pages')
                    if (p.get('size') or '').isdigit()})
    cells = []
    for cell in host.findall('topology/cells/cell'):
        try:
            cid = int(cell.get('id'))
            memory = cell.find('memory')
            mem = _kib(int(memory.text), memory.get('unit', 'KiB')) \
                if memory is not None else 0
            cpus = {}
            for cpu in cell.findall('cpus/cpu'):
                cpus[int(cpu.get('id'))] = {
                    'socket': _opt_int(cpu.get('socket_id')),
                    'core': _opt_int(cpu.get('core_id')),
                    'siblings': sorted(parse_cpuset(cpu.get('siblings'))),
                }
            pages = {}
            for page in cell.findall('pages'):
                size = _kib(int(page.get('size')), page.get('unit', 'KiB'))
                pages[size] = int(page.text)
        except (TypeError, ValueError) as exc:
            raise ParseError(_('virsh capabilities: unreadable cell (%s)')
                             % exc)
        cells.append({'id': cid, 'memory_kib': mem, 'cpus': cpus,
                      'pages': pages})
    if not cells:
        raise ParseError(_('virsh capabilities shows no NUMA cells'))
    cells.sort(key=lambda c: c['id'])
    return {'page_sizes_kib': sizes, 'cells': cells}


def _kib(value, unit):
    factor = {'b': 1.0 / 1024, 'bytes': 1.0 / 1024, 'kib': 1, 'k': 1,
              'mib': 1024, 'm': 1024, 'gib': 1024 ** 2, 'g': 1024 ** 2,
              'tib': 1024 ** 3}.get((unit or 'KiB').lower())
    if factor is None:
        raise ValueError('unknown unit %r' % unit)
    return int(value * factor)


def _opt_int(value):
    return int(value) if value is not None and value.isdigit() else None


_FREEPAGES_NODE = re.compile(r'^Node (\d+):$')
_FREEPAGES_LINE = re.compile(r'^(\d+)KiB: (\d+)$')


def parse_freepages(text):
    """``virsh freepages --all`` -> ``{cell: {page_kib: free}}``."""
    result, current = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        match = _FREEPAGES_NODE.match(line)
        if match:
            current = result.setdefault(int(match.group(1)), {})
            continue
        match = _FREEPAGES_LINE.match(line)
        if match and current is not None:
            current[int(match.group(1))] = int(match.group(2))
            continue
        raise ParseError(_('virsh freepages: unexpected line %r') % line)
    return result


def parse_vcpupin(text):
    """``virsh vcpupin --domain D`` -> ``{vcpu: frozenset(cpus)}``."""
    result = {}
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].split()[:1] == ['VCPU']:
        raise ParseError(_('virsh vcpupin: no "VCPU" header'))
    for line in lines[1:]:
        if set(line.strip()) == {'-'}:
            continue
        match = re.fullmatch(r'\s*(\d+)\s+([\d,^\-]*)\s*', line)
        if not match:
            raise ParseError(_('virsh vcpupin: unexpected line %r') % line)
        result[int(match.group(1))] = parse_cpuset(match.group(2))
    if not result:
        raise ParseError(_('virsh vcpupin: no vCPUs'))
    return result


def parse_vcpuinfo(text):
    """``virsh vcpuinfo --domain D`` -> ``{vcpu: {'cpu', 'affinity'}}``.

    ``affinity`` is the set of host CPUs from the ``y-`` map; ``cpu`` is
    the CPU the vCPU last ran on (None for a stopped guest).
    """
    result, current = {}, None
    for line in text.splitlines():
        if not line.strip():
            continue
        label, sep, value = line.partition(':')
        if not sep:
            if line.startswith('CPU time'):
                continue        # "CPU time        N/A": a stopped guest
            raise ParseError(_('virsh vcpuinfo: unexpected line %r') % line)
        label, value = label.strip(), value.strip()
        if label == 'VCPU':
            if not value.isdigit():
                raise ParseError(_('virsh vcpuinfo: bad VCPU %r') % value)
            current = result.setdefault(int(value), {'cpu': None,
                                                     'affinity': None})
        elif current is None:
            raise ParseError(_('virsh vcpuinfo: %r before any VCPU') % line)
        elif label == 'CPU':
            current['cpu'] = int(value) if value.isdigit() else None
        elif label == 'CPU Affinity':
            if not value or set(value) - {'y', '-'}:
                raise ParseError(_('virsh vcpuinfo: bad affinity %r')
                                 % value)
            current['affinity'] = frozenset(
                i for i, flag in enumerate(value) if flag == 'y')
    if not result:
        raise ParseError(_('virsh vcpuinfo: no vCPUs'))
    return result


def parse_numatune(text):
    """``virsh numatune --domain D`` -> ``{'mode', 'nodeset'}``."""
    values = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        label, sep, value = line.partition(':')
        if not sep:
            raise ParseError(_('virsh numatune: unexpected line %r') % line)
        values[label.strip()] = value.strip()
    if 'numa_mode' not in values or 'numa_nodeset' not in values:
        raise ParseError(_('virsh numatune: no numa_mode / numa_nodeset'))
    return {'mode': values['numa_mode'],
            'nodeset': parse_cpuset(values['numa_nodeset'])}


def parse_emulatorpin(text):
    """``virsh emulatorpin --domain D`` -> frozenset of host CPUs."""
    for line in text.splitlines():
        match = re.fullmatch(r'\s*\*:\s*([\d,^\-]*)\s*', line)
        if match:
            return parse_cpuset(match.group(1))
    raise ParseError(_('virsh emulatorpin: no "*: <cpus>" line'))


def parse_domain_names(text):
    """``virsh list --name`` -> list of domain names."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def _pci_address(element):
    if element is None:
        return ''
    try:
        return '%04x:%02x:%02x.%x' % tuple(
            int(element.get(k), 16)
            for k in ('domain', 'bus', 'slot', 'function'))
    except (TypeError, ValueError):
        return ''


#: the file name Nova gives a guest's config drive (flat / qcow2 / rbd)
CONFIG_DRIVE_NAME = 'disk.config'


def _disk(element):
    """One ``<disk>`` element as a dict (see parse_domain_xml)."""
    source = element.find('source')
    target = element.find('target')
    path = ''
    if source is not None:
        path = (source.get('file') or source.get('dev')
                or source.get('name') or '')
        if not path and source.get('volume'):
            path = '%s/%s' % (source.get('pool', ''), source.get('volume'))
    # flat / qcow2: .../<uuid>/disk.config; rbd: pool/<uuid>_disk.config
    base = path.rsplit('/', 1)[-1]
    return {
        'device': element.get('device', 'disk'),
        'kind': element.get('type', ''),
        'target': target.get('dev', '') if target is not None else '',
        'bus': target.get('bus', '') if target is not None else '',
        'source': path,
        'readonly': element.find('readonly') is not None,
        'config_drive': (base == CONFIG_DRIVE_NAME
                         or base.endswith('_' + CONFIG_DRIVE_NAME)),
    }


def parse_domain_xml(text):
    """``virsh dumpxml`` -> the NUMA-relevant part of the guest config.

    Returns ``{'name', 'vcpus', 'vcpupin': {vcpu: set}, 'emulatorpin':
    set|None, 'memory_mode', 'memory_nodeset', 'hugepages_kib': int|None,
    'cpu_mode', 'cpu_model': str|None, 'cpu_features': frozenset,
    'numa_cells': [{'id', 'cpus', 'memory_kib', 'nodeset'}], 'nics':
    [{'kind','device','mac'}],
    'hostdevs': [pci], 'disks': [{'device', 'kind', 'target', 'bus',
    'source', 'readonly', 'config_drive'}]}``.  ``device`` is libvirt's
    (``disk``, ``cdrom``, ``floppy``, ``lun``); ``config_drive`` is true
    for Nova's ``disk.config`` (a ``cdrom`` when iso9660, a ``disk`` when
    vfat).  A guest NUMA cell's ``nodeset``: the host nodes of its
    ``<numatune><memnode>``, None without one.
    """
    root = _xml(text, 'virsh dumpxml')
    if root.tag != 'domain' or root.find('name') is None:
        raise ParseError(_('virsh dumpxml output is not a <domain>'))
    vcpu = root.find('vcpu')
    try:
        vcpus = int(vcpu.text) if vcpu is not None else 0
        pins = {int(p.get('vcpu')): parse_cpuset(p.get('cpuset'))
                for p in root.findall('cputune/vcpupin')}
    except (TypeError, ValueError) as exc:
        raise ParseError(_('virsh dumpxml: unreadable vcpu/cputune (%s)')
                         % exc)
    emulator = root.find('cputune/emulatorpin')
    memory = root.find('numatune/memory')
    page = root.find('memoryBacking/hugepages/page')
    hugepages = None
    if root.find('memoryBacking/hugepages') is not None:
        hugepages = 2048
        if page is not None:
            try:
                hugepages = _kib(int(page.get('size')),
                                 page.get('unit', 'KiB'))
            except (TypeError, ValueError) as exc:
                raise ParseError(_('virsh dumpxml: bad hugepage size (%s)')
                                 % exc)
    cpu = root.find('cpu')
    model = root.find('cpu/model')
    # the features the guest CPU requires (policy require / force; libvirt
    # defaults to require); disabled / optional ones it does not need
    features = frozenset(
        x.get('name') for x in root.findall('cpu/feature')
        if x.get('name') and x.get('policy', 'require') in ('require',
                                                            'force'))
    memnodes = {m.get('cellid'): m.get('nodeset')
                for m in root.findall('numatune/memnode')}
    cells = []
    for cell in root.findall('cpu/numa/cell'):
        try:
            cell_kib = _kib(int(cell.get('memory')), cell.get('unit', 'KiB'))
        except (TypeError, ValueError):
            cell_kib = None
        nodeset = memnodes.get(cell.get('id'))
        cells.append({'id': cell.get('id'),
                      'cpus': sorted(parse_cpuset(cell.get('cpus'))),
                      'memory_kib': cell_kib,
                      'nodeset': sorted(parse_cpuset(nodeset))
                      if nodeset else None})
    nics = []
    for iface in root.findall('devices/interface'):
        kind = iface.get('type', '')
        source = iface.find('source')
        mac = iface.find('mac')
        device = ''
        if kind == 'hostdev' and source is not None:
            device = _pci_address(source.find('address'))
        elif kind == 'direct' and source is not None:
            device = source.get('dev', '')
        elif kind == 'vhostuser' and source is not None:
            device = source.get('path', '')
        elif source is not None:
            device = (source.get('bridge') or source.get('network')
                      or source.get('dev') or '')
        nics.append({'kind': kind, 'device': device,
                     'mac': mac.get('address', '') if mac is not None
                     else ''})
    hostdevs = [_pci_address(h.find('source/address'))
                for h in root.findall('devices/hostdev')
                if h.get('type') == 'pci']
    return {
        'name': root.find('name').text,
        'vcpus': vcpus,
        'vcpupin': pins,
        'emulatorpin': (parse_cpuset(emulator.get('cpuset'))
                        if emulator is not None else None),
        'memory_mode': memory.get('mode', 'strict')
        if memory is not None else '',
        'memory_nodeset': (parse_cpuset(memory.get('nodeset'))
                           if memory is not None else frozenset()),
        'hugepages_kib': hugepages,
        'cpu_mode': cpu.get('mode', 'custom') if cpu is not None else '',
        'cpu_model': (model.text or '').strip() or None
        if model is not None else None,
        'cpu_features': features,
        'numa_cells': cells,
        'nics': nics,
        'hostdevs': [h for h in hostdevs if h],
        'disks': [_disk(d) for d in root.findall('devices/disk')],
    }


def parse_lscpu(text):
    """``lscpu -J -e=CPU,NODE,SOCKET,CORE,ONLINE`` -> ``{cpu: {...}}``."""
    try:
        data = json.loads(text)
        rows = data['cpus']
        result = {}
        for row in rows:
            node = row.get('node')
            result[int(row['cpu'])] = {
                'node': None if node in (None, '-') else int(node),
                'socket': row.get('socket'),
                'core': row.get('core'),
                'online': row.get('online') in (True, 'yes', 'y'),
            }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ParseError(_('lscpu -J output unreadable (%s)') % exc)
    if not result:
        raise ParseError(_('lscpu -J output lists no CPUs'))
    return result


_NUMACTL = re.compile(r'^node (\d+) (cpus|size|free):\s*(.*)$')


def parse_numactl(text):
    """``numactl --hardware`` -> ``{node: {'cpus', 'size_mb', 'free_mb'}}``."""
    result = {}
    for line in text.splitlines():
        match = _NUMACTL.match(line.strip())
        if not match:
            continue
        node = result.setdefault(int(match.group(1)), {
            'cpus': frozenset(), 'size_mb': None, 'free_mb': None})
        key, value = match.group(2), match.group(3).strip()
        if key == 'cpus':
            if value and not re.fullmatch(r'[\d ]+', value):
                raise ParseError(_('numactl --hardware: bad cpus %r')
                                 % line)
            node['cpus'] = frozenset(int(c) for c in value.split())
        else:
            size = re.fullmatch(r'(\d+) MB', value)
            if not size:
                raise ParseError(_('numactl --hardware: bad %(k)s %(v)r')
                                 % {'k': key, 'v': line})
            node[key + '_mb'] = int(size.group(1))
    if not result:
        raise ParseError(_('numactl --hardware: no "node N" lines'))
    return result


def _numa_node(value, line, what):
    if value == 'missing':
        return None
    if not re.fullmatch(r'-?\d+', value):
        raise ParseError(_('%(what)s: bad line %(line)r')
                         % {'what': what, 'line': line})
    node = int(value)
    return node if node >= 0 else None


def parse_net_numa(text):
    """NET_NUMA output -> ``({nic: node|None}, {pci: node|None})``."""
    nics, pci = {}, {}
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 3:
            raise ParseError(_('sysfs net numa_node: bad line %r') % line)
        node = _numa_node(parts[1], line, 'sysfs net numa_node')
        nics[parts[0]] = node
        if re.fullmatch(r'[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]',
                        parts[2]):
            pci[parts[2]] = node
    return nics, pci


def parse_pci_numa(text):
    """``pci_numa()`` output -> ``{pci: node|None}``."""
    result = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ParseError(_('sysfs pci numa_node: bad line %r') % line)
        result[parts[0]] = _numa_node(parts[1], line, 'sysfs pci numa_node')
    return result


#: what starts each domain in the DOMAINS_XML output (commands.py)
DOMAIN_MARK = '<!-- domain '


def parse_domains_xml(text):
    """``DOMAINS_XML`` output -> ``{domain: parse_domain_xml(...)}``.

    Every domain defined on the host, each after a ``<!-- domain NAME
    -->`` line.
    """
    result = {}
    name, lines = None, []

    def flush():
        if name is not None:
            result[name] = parse_domain_xml('\n'.join(lines))

    for line in text.splitlines():
        if line.startswith(DOMAIN_MARK) and line.rstrip().endswith('-->'):
            flush()
            name = line[len(DOMAIN_MARK):].rstrip()[:-3].strip()
            lines = []
        elif name is not None:
            lines.append(line)
        elif line.strip():
            raise ParseError(_('virsh dumpxml (every domain): text before '
                               'the first domain: %r') % line)
    flush()
    return result


def parse_pci_devices(text):
    """``PCI_DEVICES`` output -> ``{address: {...}}``.

    Each device: ``vendor`` and ``product`` (4 hex digits, lower case;
    None when sysfs does not show them), ``node`` (NUMA node or None),
    ``physfn`` (the parent PF's address of a VF, or None) and
    ``total_vfs`` (VFs a PF can have, 0 otherwise).
    """
    result = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 6:
            raise ParseError(_('sysfs pci devices: bad line %r') % line)
        address, vendor, product, node, physfn, total = parts
        ids = [None if v == '-' else v.lower().removeprefix('0x')
               for v in (vendor, product)]
        if not all(v is None or re.fullmatch(r'[0-9a-f]{4}', v)
                   for v in ids) or not total.isdigit():
            raise ParseError(_('sysfs pci devices: bad line %r') % line)
        result[address.lower()] = {
            'vendor': ids[0], 'product': ids[1],
            'node': _numa_node(node, line, 'sysfs pci devices'),
            'physfn': None if physfn == '-' else physfn.lower(),
            'total_vfs': int(total)}
    return result
