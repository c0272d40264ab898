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

"""Cloud facts for the constraint rules, read through openstacksdk.

:func:`gather` is the single entry point (and the single place to count
HTTP requests).  For N servers and M destinations it issues a number of
requests that does not grow with N on clouds >= 2.47:

* compute version discovery, services (nova-compute), hypervisors detail
  (with their servers, for server group peers), aggregates, server groups,
  servers detail (one list for ``source_host``; a lookup per named server);
* placement (1.10+): the scheduler's own question, one ``GET
  /allocation_candidates`` per distinct request shape of the servers
  (:mod:`migrationclient.cloud.candidates`): every host with room and its
  capacity, usage and traits, whatever the number of hosts; inventories,
  usages and traits of a host only when it is in no answer (Placement has
  no room there: they name what binds), and the provider list once
  when a provider of the answers has no known name;
* placement below 1.10 (OSP 10) or when the question cannot be asked:
  inventories + usages per destination (2M for a whole host), and per
  source host only when a server has a NUMA topology (the numa rule's
  "empty twin" check) or the source is also a destination (+ 2); traits
  per host only when the hypervisors carry no ``cpu_info`` (compute >=
  2.88 asked); the provider list once when hypervisor ids are not
  provider UUIDs;
* network: ports per source host (one for a whole-host check); the Open
  vSwitch agents once (admin), only when a server has a vhost-user port;
* below 2.47 (no embedded flavor): flavors detail, and below 2.61 one
  ``os-extra_specs`` request per distinct flavor.

Hypervisors are read at compute 2.87 when the user did not ask for a
microversion: the last one that shows ``cpu_info`` (Nova never drops old
microversions).  The ``*_from_sdk`` functions are pure: they turn
openstacksdk resources into :mod:`migrationclient.constraints.model`.
"""

import dataclasses
import json
import logging
import warnings

from openstack import exceptions as sdk_exc

from migrationclient._i18n import _
from migrationclient.cloud import candidates
from migrationclient.cloud import errors
from migrationclient.cloud import sdkfix
from migrationclient.cloud import servers
from migrationclient.cloud import versions
from migrationclient.constraints import model as f
from migrationclient.constraints import request as rq
from migrationclient import microversions as mv

LOG = logging.getLogger(__name__)

#: Last compute microversion whose hypervisors show cpu_info and memory.
HYPERVISOR_CPU_INFO = mv.Version(2, 87)
HYPERVISOR_WITH_SERVERS = mv.Version(2, 53)


# ---------------------------------------------------------------- parsing

def _get(res, name, default=None):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        value = getattr(res, name, default)
    return default if value is None else value


def cpu_from_cpu_info(cpu_info):
    """CpuFacts from a hypervisor ``cpu_info``, None when unreadable.

    ``cpu_info`` is an object from compute 2.28, a JSON string below.
    """
    if not cpu_info:
        return None
    if isinstance(cpu_info, str):
        try:
            cpu_info = json.loads(cpu_info)
        except ValueError:
            return None
    if not isinstance(cpu_info, dict):
        return None
    topology = cpu_info.get('topology') or {}
    cells = topology.get('cells')
    return f.CpuFacts(
        source='cpu_info', arch=cpu_info.get('arch'),
        model=cpu_info.get('model'), vendor=cpu_info.get('vendor'),
        features=frozenset(cpu_info.get('features') or ()),
        numa_cells=int(cells) if cells else None)


def cpu_from_traits(traits):
    """CpuFacts from placement traits (``HW_CPU_*``, ``HW_ARCH_*``)."""
    if traits is None:
        return None
    arch = None
    for trait in traits:
        if trait.startswith('HW_ARCH_'):
            arch = trait[len('HW_ARCH_'):].lower()
    return f.CpuFacts(
        source='traits', arch=arch,
        features=frozenset(t for t in traits if t.startswith('HW_CPU_')))


def inventory_from_sdk(inventories, usages):
    """{resource class: Capacity} from placement inventories and usages."""
    usages = usages or {}
    result = {}
    for inv in inventories:
        rc = inv.resource_class
        result[rc] = f.Capacity(
            total=int(inv.total or 0), reserved=int(inv.reserved or 0),
            allocation_ratio=float(inv.allocation_ratio or 1.0),
            used=int(usages.get(rc, 0)),
            max_unit=int(inv.max_unit) if inv.max_unit else None)
    return result


def host_from_sdk(service, hypervisor=None, aggregates=(), inventory=None,
                  traits=None, ovs_datapath=None):
    """HostFacts from a compute service, its hypervisor and placement.

    ``ovs_datapath``: the host's Open vSwitch agent datapath (see
    :func:`ovs_datapaths_from_sdk`), ``''`` for no agent, None unread.
    """
    cpu = None
    if hypervisor is not None:
        cpu = cpu_from_cpu_info(_get(hypervisor, 'cpu_info'))
    if cpu is None and traits is not None:
        cpu = cpu_from_traits(traits)
    host = service.host
    aggs = tuple((a.name, dict(a.metadata or {})) for a in aggregates
                 if host in (a.hosts or ()))
    hv = hypervisor
    return f.HostFacts(
        name=host,
        nodename=_get(hv, 'name') if hv is not None else None,
        service_id=str(service.id) if service.id is not None else None,
        state=service.state, status=service.status,
        forced_down=bool(_get(service, 'is_forced_down', False)),
        disabled_reason=service.disabled_reason,
        availability_zone=service.availability_zone,
        hypervisor_type=_get(hv, 'hypervisor_type') if hv is not None
        else None,
        hypervisor_version=_get(hv, 'hypervisor_version') if hv is not None
        else None,
        host_ip=_get(hv, 'host_ip') if hv is not None else None,
        provider_id=_provider_id(hv),
        cpu=cpu,
        traits=frozenset(traits) if traits is not None else None,
        inventory=inventory,
        memory_mb=_get(hv, 'memory_size') if hv is not None else None,
        free_ram_mb=_get(hv, 'memory_free') if hv is not None else None,
        running_vms=_get(hv, 'running_vms') if hv is not None else None,
        vcpus_used=_get(hv, 'vcpus_used') if hv is not None else None,
        aggregates=aggs, ovs_datapath=ovs_datapath)


#: OVS interface types of a DPDK vhost-user port (Neutron's OVS agent
#: reports them in ``configurations.ovs_capabilities.iface_types``)
VHOSTUSER_IFACE_TYPES = ('dpdkvhostuser', 'dpdkvhostuserclient')


def ovs_datapaths_from_sdk(agents):
    """{host: datapath} from Neutron's Open vSwitch agents.

    ``configurations.datapath_type``: ``netdev`` is OVS-DPDK, ``system``
    kernel OVS (the agent's default).  A ``netdev`` agent whose
    ``ovs_capabilities.iface_types`` are known but hold no vhost-user type
    cannot plug a vhost-user port: it is reported as ``netdev without
    dpdkvhostuser``.
    """
    result = {}
    for agent in agents:
        if _get(agent, 'agent_type') != 'Open vSwitch agent':
            continue
        host = _get(agent, 'host')
        if not host:
            continue
        conf = _get(agent, 'configuration', None) or _get(
            agent, 'configurations', None) or {}
        datapath = conf.get('datapath_type') or 'system'
        ifaces = (conf.get('ovs_capabilities') or {}).get('iface_types')
        if (datapath == 'netdev' and ifaces
                and not set(ifaces) & set(VHOSTUSER_IFACE_TYPES)):
            datapath = 'netdev without dpdkvhostuser'
        # a host with a DPDK agent keeps it (never two agents per host)
        if result.get(host) != 'netdev':
            result[host] = datapath
    return result


def has_vhostuser(server_facts):
    """Whether a server of ``server_facts`` has a vhost-user port."""
    return any((p.vif_type or '').startswith('vhostuser')
               for s in server_facts for p in (s.ports or ()))


def _provider_id(hypervisor):
    """The compute node UUID (= placement provider) from 2.53, else None."""
    if hypervisor is None:
        return None
    hid = str(hypervisor.id)
    return hid if len(hid) == 36 and hid.count('-') == 4 else None


def flavor_from_sdk(flavor, extra_specs=None):
    return f.FlavorFacts(
        name=_get(flavor, 'original_name') or _get(flavor, 'name'),
        vcpus=int(_get(flavor, 'vcpus', 0)), ram=int(_get(flavor, 'ram', 0)),
        disk=int(_get(flavor, 'disk', 0)),
        ephemeral=int(_get(flavor, 'ephemeral', 0)),
        swap=int(_get(flavor, 'swap', 0) or 0),
        extra_specs=dict(extra_specs if extra_specs is not None
                         else _get(flavor, 'extra_specs', {})))


def embeds_flavor(server):
    """True when the server shows its flavor (compute >= 2.47)."""
    return bool(server.flavor) and _get(server.flavor, 'original_name') \
        is not None


def port_from_sdk(port):
    profile = _get(port, 'binding_profile', {}) or {}
    return f.PortFacts(
        id=port.id, vnic_type=_get(port, 'binding_vnic_type', 'normal'),
        vif_type=_get(port, 'binding_vif_type'),
        physical_network=profile.get('physical_network'))


def server_from_sdk(server, flavor=None, ports=(), config_drive=None):
    """ServerFacts from an openstacksdk Server (admin view).

    ``flavor`` is a FlavorFacts for servers that do not embed their flavor
    (compute < 2.47); ``ports`` a tuple of PortFacts or None (unknown).
    """
    if flavor is None:
        flavor = flavor_from_sdk(server.flavor) if server.flavor \
            else f.FlavorFacts()
    image = server.image
    image_id = _get(image, 'id') if image else None
    props = {}
    if image:
        # hw_* for the rules, trait:* / os_secure_boot for the Placement
        # question (constraints.request)
        props = {k: v for k, v in (_get(image, 'properties', {}) or
                                   {}).items()
                 if k.startswith(('hw_', 'trait:')) or k == 'os_secure_boot'}
    cd = server.config_drive
    return f.ServerFacts(
        id=server.id, name=server.name or '', status=server.status or '',
        vm_state=server.vm_state, task_state=server.task_state,
        locked=bool(server.is_locked), host=server.compute_host,
        nodename=server.hypervisor_hostname,
        instance_name=_get(server, 'instance_name'),
        availability_zone=server.availability_zone,
        pinned_availability_zone=_get(server, 'pinned_availability_zone'),
        flavor=flavor, image_properties=props,
        volume_backed=not image_id,
        volumes=tuple(v.get('id') for v in (server.attached_volumes or ())),
        config_drive=str(cd).lower() in ('true', '1', 'yes'),
        ports=ports)


def group_from_sdk(group, member_hosts):
    policy = _get(group, 'policy') or ((_get(group, 'policies') or [''])[0])
    members = tuple(group.member_ids or ())
    return f.GroupFacts(
        id=group.id, name=group.name or '', policy=policy or '',
        rules=dict(_get(group, 'rules', {}) or {}), members=members,
        member_hosts={m: member_hosts[m] for m in members
                      if m in member_hosts})


# -------------------------------------------------------------- gathering

def _admin_error(what, exc):
    if isinstance(exc, sdk_exc.ForbiddenException):
        return errors.Forbidden(
            _('listing %s needs admin rights (%s)') % (what, exc),
            status=403)
    return errors.from_call(exc, _('cannot list %s') % what)


class Gathered:
    """What :func:`gather` returns: the snapshot and the ids to check."""

    def __init__(self, snapshot, server_ids, destinations):
        self.snapshot = snapshot
        self.server_ids = server_ids
        #: explicit destinations (None: the default candidates)
        self.destinations = destinations


def gather(compute, conn, servers=(), source_host=None, destinations=None,
           pci_live_migratable=False):
    """Read every fact a precheck of ``servers`` / ``source_host`` needs.

    ``compute`` is the compute proxy OSC gives (honours
    ``--os-compute-api-version``); ``conn`` the openstacksdk connection
    (placement, network).  ``destinations`` are exact host names (None:
    every enabled nova-compute host but the source).  Raises the
    :mod:`migrationclient.cloud.errors` family on bad input or missing
    rights; placement and network failures degrade to notes.
    """
    max_version, requested = versions.checked(compute)
    notes = []
    by_host = _services(compute)
    for name in ([source_host] if source_host else []) + list(
            destinations or ()):
        if name not in by_host:
            raise errors.NotFound(
                _('unknown host %(name)s (nova-compute hosts: %(known)s)')
                % {'name': name, 'known': ', '.join(sorted(by_host))})
    found = _servers(compute, servers, source_host)
    hv_by_host, member_hosts = _hypervisors(compute, max_version, requested)
    for srv in found:
        member_hosts[srv.id] = srv.compute_host

    # Hosts that need placement data.
    sources = {s.compute_host for s in found if s.compute_host}
    if destinations is not None:
        dest_names = set(destinations)
    else:
        # a host is a default candidate of a server on any other host
        dest_names = {h for h, s in by_host.items()
                      if s.status == 'enabled' and sources - {h}}
    need_traits = {h for h in dest_names | sources
                   if h in by_host and (h not in hv_by_host or not _get(
                       hv_by_host[h], 'cpu_info'))}

    flavors = _flavors(compute, found)
    ports = _ports(conn, sources, notes)
    server_facts = {}
    for srv in found:
        srv_ports = None if ports is None else tuple(ports.get(srv.id, ()))
        server_facts[srv.id] = server_from_sdk(
            srv, flavors.get(srv.id), srv_ports)
    need_inventory = inventory_hosts(dest_names, sources,
                                     server_facts.values())
    nova = mv.release_for(max_version).nova
    answers, asked = ask_placement(conn, hv_by_host, server_facts, nova,
                                   notes)
    if answers is not None:
        # Hosts in an answer: capacity, usage and traits from it.  A host
        # in none (Placement has no room there for any server): its
        # inventory, usage and traits name what binds.
        need_inventory -= set(asked)
        need_traits -= {h for h, (_u, t) in asked.items() if t is not None}
        need_traits |= need_inventory
    inventories, traits = _placement(conn, hv_by_host, need_inventory,
                                     need_traits, notes)
    for host, (usage, host_traits) in asked.items():
        inventories.setdefault(host, usage)
        if host_traits is not None:
            traits.setdefault(host, sorted(host_traits))
    try:
        aggregates = list(compute.aggregates())
    except sdk_exc.SDKException as exc:
        notes.append(_('aggregates not read: %s') % exc)
        aggregates = []
    hosts = {}
    for name, service in by_host.items():
        hosts[name] = host_from_sdk(
            service, hv_by_host.get(name), aggregates,
            inventories.get(name), traits.get(name))

    ovs = _ovs_datapaths(conn, server_facts.values(), notes)
    if ovs is not None:
        hosts = {name: dataclasses.replace(
            host, ovs_datapath=ovs.get(name, ''))
            for name, host in hosts.items()}

    groups = _groups(compute, server_facts, member_hosts, notes)
    cloud = f.CloudFacts(max_version=max_version,
                         requested_version=requested, notes=tuple(notes),
                         pci_live_migratable=pci_live_migratable)
    snapshot = f.Snapshot(cloud=cloud, hosts=hosts, servers=server_facts,
                          groups=groups, placement=answers)
    return Gathered(snapshot, [s.id for s in found],
                    sorted(destinations) if destinations else None)


def ask_placement(conn, hv_by_host, server_facts, nova, notes):
    """Ask Placement the scheduler's question for every server.

    Returns ``(answers, asked)``: ``answers`` maps a server id to its
    :class:`~migrationclient.constraints.model.PlacementAnswer` (None when
    Placement could not be asked: below 1.10, a shape it cannot express,
    or an error; the caller then keeps the per-host reads), ``asked``
    maps each host in some answer to ``({resource class: Capacity},
    traits)`` from the summaries.
    """
    if not server_facts:
        return None, {}
    shapes = {sid: rq.request_shapes(s, nova)
              for sid, s in server_facts.items()}
    host_of = {_get(hv, 'name'): h for h, hv in hv_by_host.items()}
    names = {_provider_id(hv): _get(hv, 'name')
             for hv in hv_by_host.values() if _provider_id(hv)}
    try:
        placement = candidates.placement_of(conn)
        result = candidates.gather(
            placement, [sh for t in shapes.values() for sh in t], names)
    except errors.Unsupported as exc:
        LOG.debug('allocation candidates not asked: %s', exc)
        return None, {}
    except Exception:   # noqa: B902
        # keystoneauth raises its own errors for an unreachable service;
        # the per-host reads then say what failed
        LOG.debug('allocation candidates failed', exc_info=True)
        return None, {}
    return answers_from(result, shapes, host_of)


def _room_usage(room):
    """``{resource class: Capacity}`` of a HostRoom, summed over its tree."""
    classes = sorted({rc for p in room.providers for rc in p.resources})
    usage = {}
    for rc in classes:
        use = room.usage(rc)
        usage[rc] = f.Capacity(total=use.capacity, used=use.used)
    return usage


def asked_text(shape):
    """A request shape in words: resources, then traits."""
    words = ['%s:%d' % (rc, n) for rc, n in sorted(shape.resources.items())]
    words += sorted(shape.required_traits)
    words += ['!' + t for t in sorted(shape.forbidden_traits)]
    return ', '.join(words)


def answers_from(result, shapes, host_of):
    """``(answers, asked)`` of :func:`ask_placement` (pure).

    ``result`` is :func:`~migrationclient.cloud.candidates.gather`'s
    answer, ``shapes`` maps a server id to its request shapes,
    ``host_of`` a hypervisor hostname (root provider name) to its
    service host.
    """
    asked = {}
    for cand in result.values():
        for nodename, room in cand.hosts.items():
            host = host_of.get(nodename)
            if host is not None and host not in asked:
                asked[host] = (_room_usage(room), room.traits)
    shared = {}
    answers = {}
    for sid, server_shapes in shapes.items():
        key = tuple(sh.key for sh in server_shapes)
        if key not in shared:
            shared[key] = _answer(key, result, server_shapes, host_of)
        answers[sid] = shared[key]
    return answers, asked


def _answer(key, result, server_shapes, host_of):
    first = server_shapes[0]
    rooms = {}
    for nodename, (room, fallback) in candidates.rooms(
            result, server_shapes).items():
        host = host_of.get(nodename)
        if host is None:
            continue
        pci = room.pci_devices
        rooms[host] = f.PlacementRoom(
            usage=_room_usage(room), traits=room.traits,
            fallback_only=fallback,
            pci_free={rc: room.free_pci(rc) for res in pci.values()
                      for rc in res} if pci else None)
    refused = [result[sh].refused for sh in server_shapes
               if sh in result and result[sh].refused]
    cand = result.get(first)
    return f.PlacementAnswer(
        key=key, asked=asked_text(first),
        resources=tuple(sorted(first.resources.items())),
        required=first.required_traits, forbidden=first.forbidden_traits,
        rooms=rooms,
        refused=refused[0] if len(refused) == len(server_shapes) else None,
        pcpu='PCPU' in first.resources,
        version=str(cand.version) if cand is not None else '')


def inventory_hosts(destinations, sources, servers):
    """Hosts whose placement inventory and usage a precheck needs.

    Every destination.  A source's capacity only matters to the numa rule
    (is the destination an empty twin of the source?): a source is read
    when one of ``servers`` (ServerFacts) has a NUMA topology, or when it
    is a destination too.
    """
    hosts = set(destinations)
    if any(s.numa_nodes for s in servers):
        hosts |= set(sources)
    return hosts


def _services(compute):
    """{host: nova-compute service}."""
    try:
        services = list(compute.services(binary='nova-compute'))
    except sdk_exc.SDKException as exc:
        raise _admin_error(_('compute services'), exc)
    by_host = {}
    for service in services:
        by_host.setdefault(service.host, service)
    if not by_host:
        raise errors.NotFound(
            _('the cloud has no nova-compute service'))
    return by_host


def _servers(compute, refs, source_host):
    found = list(servers.find_servers(compute, refs)) if refs else []
    if source_host:
        try:
            on_host = list(sdkfix.servers_on_host(compute, source_host))
        except sdk_exc.SDKException as exc:
            raise _admin_error(_('servers'), exc)
        known = {s.id for s in found}
        found += [s for s in on_host if s.id not in known]
    return found


def _hypervisors(compute, max_version, requested):
    """({host: hypervisor}, {server id: host}) from hypervisors detail."""
    hv_version = requested
    if hv_version is None:
        hv_version = min(max_version, HYPERVISOR_CPU_INFO)
    query = {'microversion': str(hv_version)}
    if hv_version >= HYPERVISOR_WITH_SERVERS:
        query['with_servers'] = True
    try:
        hypervisors = list(compute.hypervisors(details=True, **query))
    except sdk_exc.SDKException as exc:
        raise _admin_error(_('hypervisors'), exc)
    hv_by_host = {}
    member_hosts = {}
    for hv in hypervisors:
        details = _get(hv, 'service_details', {}) or {}
        hv_host = details.get('host')
        if hv_host:
            hv_by_host.setdefault(hv_host, hv)
            for srv in _get(hv, 'servers', []) or []:
                member_hosts[srv.get('uuid')] = hv_host
    return hv_by_host, member_hosts


def _groups(compute, server_facts, member_hosts, notes):
    """{server id: (GroupFacts, ...)} for the servers being checked."""
    try:
        all_groups = list(compute.server_groups(all_projects=True))
    except sdk_exc.SDKException as exc:
        notes.append(_('server groups not read: %s') % exc)
        return {}
    groups = {}
    for group in all_groups:
        facts = group_from_sdk(group, member_hosts)
        for member in facts.members:
            if member in server_facts:
                groups[member] = groups.get(member, ()) + (facts,)
    return groups


def _placement(conn, hv_by_host, need_inventory, need_traits, notes):
    """Inventories (with usage) and traits per host; notes on failure."""
    inventories, traits = {}, {}
    if not need_inventory and not need_traits:
        return inventories, traits
    try:
        placement = conn.placement
        providers = {}
        need_inventory = {h for h in need_inventory if h in hv_by_host}
        missing = [h for h in need_inventory | need_traits
                   if _provider_id(hv_by_host.get(h)) is None]
        if missing:
            names = {_get(hv_by_host[h], 'name'): h for h in missing
                     if h in hv_by_host}
            for rp in placement.resource_providers():
                if rp.name in names:
                    providers[names[rp.name]] = rp.id
        for host in need_inventory | need_traits:
            rp = _provider_id(hv_by_host.get(host)) or providers.get(host)
            if rp is None:
                notes.append(_('no placement resource provider for %s')
                             % host)
                continue
            if host in need_inventory:
                invs = list(placement.resource_provider_inventories(rp))
                usage = placement.fetch_resource_provider_usages(rp).usages
                inventories[host] = inventory_from_sdk(invs, usage)
            if host in need_traits:
                traits[host] = list(
                    placement.get_resource_provider_trait(rp).traits or ())
    except (sdk_exc.SDKException, Exception) as exc:   # noqa: B902
        # keystoneauth raises its own errors for an unreachable service
        LOG.debug('placement failed', exc_info=True)
        notes.append(_('placement not read (%s): capacity not checked')
                     % _first_line(exc))
        return {}, {}
    return inventories, traits


def _first_line(exc):
    """An exception's first line (its type name when it has no text)."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _flavors(compute, servers):
    """FlavorFacts for servers that do not embed their flavor (< 2.47)."""
    old = [s for s in servers if not embeds_flavor(s)]
    if not old:
        return {}
    try:
        flavors = {fl.id: fl for fl in compute.flavors(details=True,
                                                       is_public=None)}
    except sdk_exc.SDKException as exc:
        raise errors.from_call(exc, _('cannot list flavors'))
    specs_cache = {}
    result = {}
    for srv in old:
        fid = srv.flavor.id if srv.flavor else None
        flavor = flavors.get(fid)
        if flavor is None:
            raise errors.NotFound(
                _('flavor %(flavor)s of server %(server)s not found')
                % {'flavor': fid, 'server': srv.id})
        specs = _get(flavor, 'extra_specs', None)
        if not specs:
            if fid not in specs_cache:
                specs_cache[fid] = dict(
                    compute.fetch_flavor_extra_specs(fid).extra_specs or {})
            specs = specs_cache[fid]
        result[srv.id] = flavor_from_sdk(flavor, specs)
    return result


def _ports(conn, hosts, notes):
    """{server id: [PortFacts]} for ports bound to ``hosts``.

    None when the network service cannot be read.
    """
    if not hosts:
        return {}
    try:
        if not conn.has_service('network'):
            notes.append(_('no network service: SR-IOV / DPDK ports not '
                           'checked'))
            return None
        result = {}
        for host in sorted(hosts):
            for port in conn.network.ports(**{'binding:host_id': host}):
                if port.device_id:
                    result.setdefault(port.device_id, []).append(
                        port_from_sdk(port))
        return result
    except Exception as exc:   # noqa: B902  keystoneauth / SDK errors
        LOG.debug('network failed', exc_info=True)
        notes.append(_('network service not read (%s): SR-IOV / DPDK ports '
                       'not checked')
                     % _first_line(exc))
        return None


def _ovs_datapaths(conn, server_facts, notes):
    """{host: OVS datapath} from the Open vSwitch agents (one read).

    Read only when a server has a vhost-user (DPDK) port; None when not
    read (no such port, or the agents API is not readable: admin only).
    """
    if not has_vhostuser(server_facts):
        return None
    try:
        if not conn.has_service('network'):
            return None
        agents = list(conn.network.agents(agent_type='Open vSwitch agent'))
    except Exception as exc:   # noqa: B902  keystoneauth / SDK errors
        LOG.debug('network agents failed', exc_info=True)
        notes.append(_('network agents not read (%s): OVS-DPDK on the '
                       'destinations not checked')
                     % _first_line(exc))
        return None
    return ovs_datapaths_from_sdk(agents)
