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

"""Ask Placement the scheduler's question: which hosts have room.

For every distinct :class:`~migrationclient.constraints.request.RequestShape`
one ``GET /allocation_candidates`` (the query Nova's scheduler makes before
its filters run) returns every compute host where Placement has room, and
``provider_summaries`` with the capacity and usage of each provider in
those hosts' trees.  A host missing from the answer is one Nova refuses
(NoValidHost) whatever else is true; a host in it has room as far as
Placement knows (NUMA cells, pinned CPUs and PCI devices outside Placement
are the rules' business).  The number of requests is the number of
distinct shapes (+ one provider list for names when the caller does not
know every root provider): it does not grow with the number of hosts.

openstacksdk has no call for allocation candidates (its placement proxy
covers providers, inventories, traits, usages), so the query goes through
the proxy as the keystoneauth Adapter it is: ``conn.placement.get(url,
params=..., microversion=...)``, as openstacksdk's own
``tests/unit/test_placement_rest.py`` does.

Placement microversions (``placement/rest_api_version_history.rst``): 1.10
allocation candidates (OSP 10's Newton placement has only 1.0 - 1.4:
:class:`~migrationclient.cloud.errors.Unsupported`, the caller keeps its
two reads per host), 1.12 allocation requests as a dict, 1.17 ``required``
and traits in the summaries, 1.21 ``member_of``, 1.22 forbidden traits,
1.25 / 1.33 granular groups, 1.27 every inventory in the summaries, 1.29
nested providers with ``root_provider_uuid`` / ``parent_provider_uuid``,
1.35 ``root_required``.  The query is sent at the highest of these the
cloud offers (no ``limit``: every candidate), never below what the shape
needs.

Hosts: Nova names a compute node's root provider after its hypervisor
hostname, and (``[pci] report_in_placement``, Zed+) each PCI device's
provider ``<hypervisor hostname>_<PCI ADDRESS>`` under it
(``nova/compute/pci_placement_translator.py``).
"""

import dataclasses
import re

from migrationclient.cloud import errors
from migrationclient.constraints import request as rq
from migrationclient import microversions as mv


#: The newest placement microversion whose answer this module reads.
KNOWN_MAX = mv.Version(1, 39)
#: ``root_provider_uuid`` / ``parent_provider_uuid`` on GET /resource_providers
PROVIDER_TREE = mv.Version(1, 14)
#: allocation requests are ``{"allocations": {uuid: {...}}}`` from here
DICT_ALLOCATIONS = mv.Version(1, 12)
SHARING_TRAIT = 'MISC_SHARES_VIA_AGGREGATE'
#: resource classes a compute node itself provides (not a sharing provider)
COMPUTE_CLASSES = ('VCPU', 'PCPU', 'MEMORY_MB')
_PCI_ADDRESS = re.compile(r'[0-9A-F]{4}:[0-9A-F]{2}:[0-9A-F]{2}\.[0-7]')


@dataclasses.dataclass(frozen=True)
class Usage:
    """One resource class of a provider: Placement's capacity and use.

    ``capacity`` is what Placement allocates against: ``(total -
    reserved) x allocation_ratio``; ``free`` is what is left of it.
    """

    capacity: int
    used: int

    @property
    def free(self):
        return self.capacity - self.used


@dataclasses.dataclass(frozen=True)
class Provider:
    """One resource provider of ``provider_summaries``.

    ``traits`` is None below placement 1.17 (not shown); ``root`` /
    ``parent`` are None below 1.29.  ``name`` is filled from the provider
    list when known.
    """

    uuid: str
    resources: dict
    traits: frozenset | None = None
    parent: str | None = None
    root: str | None = None
    name: str | None = None

    @property
    def sharing(self):
        return self.traits is not None and SHARING_TRAIT in self.traits

    @property
    def pci_address(self):
        """The PCI address of a ``[pci] report_in_placement`` provider."""
        if not self.name or '_' not in self.name:
            return None
        tail = self.name.rsplit('_', 1)[1]
        return tail.lower() if _PCI_ADDRESS.fullmatch(tail) else None


@dataclasses.dataclass(frozen=True)
class HostRoom:
    """A compute host Placement returned: it has room for the shape.

    ``host`` is the root provider's name (the hypervisor hostname), None
    when not known; ``providers`` the host's tree as far as the summaries
    show it (root first).
    """

    root: str
    host: str | None
    providers: tuple

    def usage(self, resource_class):
        """:class:`Usage` of ``resource_class`` summed over the tree."""
        found = [p.resources[resource_class] for p in self.providers
                 if resource_class in p.resources]
        if not found:
            return None
        return Usage(sum(u.capacity for u in found),
                     sum(u.used for u in found))

    @property
    def traits(self):
        """Traits of the root provider (None below placement 1.17)."""
        return self.providers[0].traits if self.providers else None

    @property
    def pci_devices(self):
        """``{pci address: {resource class: Usage}}`` of the PCI providers.

        Only on clouds with ``[pci] report_in_placement`` (Zed+) and when
        the provider names are known.
        """
        return {p.pci_address: dict(p.resources) for p in self.providers
                if p.pci_address}

    def free_pci(self, resource_class):
        """Free devices of ``resource_class`` over the host's PCI providers.

        ``resource_class`` is the alias's ``resource_class`` or
        ``CUSTOM_PCI_<VENDOR>_<PRODUCT>``.
        """
        return sum(res[resource_class].free
                   for res in self.pci_devices.values()
                   if resource_class in res)


@dataclasses.dataclass(frozen=True)
class Candidates:
    """The answer to one shape's question.

    ``hosts`` maps a host name to its :class:`HostRoom` (every host with
    room that has a name); ``unnamed`` holds the rooms whose root provider
    name is not known (mapped by provider UUID, for example through the
    hypervisor id at compute 2.53+); ``providers`` every provider summary
    by UUID; ``version`` the placement microversion asked.
    """

    shape: rq.RequestShape
    version: mv.Version
    hosts: dict
    unnamed: dict
    providers: dict
    #: Placement's reason when it refused the question itself (a trait or
    #: resource class no provider has ever had): no host has room
    refused: str | None = None

    def has_room(self, host):
        """True / False for a named host (by hypervisor hostname)."""
        return host in self.hosts

    def room_of_provider(self, uuid):
        """The :class:`HostRoom` whose root provider is ``uuid``, or None."""
        for room in list(self.hosts.values()) + list(self.unnamed.values()):
            if room.root == uuid:
                return room
        return None


def placement_of(conn):
    """``conn.placement``, or the CloudError why not.

    openstacksdk runs version discovery when the proxy is first made, so
    an unreachable placement fails here.
    """
    try:
        return conn.placement
    except errors.CALL_ERRORS as exc:
        raise errors.from_call(exc, 'placement')


def max_version(placement):
    """The placement maximum microversion (``GET /`` version discovery).

    Raises :class:`~migrationclient.cloud.errors.CloudError` when the
    service does not answer.
    """
    try:
        data = placement.get_endpoint_data()
    except errors.CALL_ERRORS as exc:
        raise errors.from_call(exc, 'placement version discovery')
    if data is None:
        raise errors.Unreachable('placement: no endpoint')
    found = getattr(data, 'max_microversion', None)
    if not found:
        return mv.Version(1, 0)
    if isinstance(found, str):
        return mv.Version.parse(found)
    return mv.Version.parse(tuple(found[:2]))


def choose_version(shape, cloud_max):
    """The microversion to ask ``shape`` at, or None if the cloud can't.

    The highest known one the cloud offers (the richest summaries: every
    inventory from 1.27, the provider tree from 1.29), never below what
    the shape needs (:attr:`RequestShape.min_version`).
    """
    version = min(mv.Version.parse(cloud_max), KNOWN_MAX)
    if version < rq.CANDIDATES or version < shape.min_version:
        return None
    return version


def _json(response, what):
    status = getattr(response, 'status_code', None)
    if status is None or status >= 400:
        try:
            body = response.json()
            text = '; '.join(e.get('detail') or e.get('title') or ''
                             for e in body.get('errors', []))
        except (ValueError, AttributeError, TypeError):
            text = getattr(response, 'text', '') or ''
        raise _status_error(status, '%s: HTTP %s %s' % (what, status, text))
    try:
        return response.json()
    except ValueError as exc:
        raise errors.CloudError('%s: not JSON (%s)' % (what, exc),
                                status=status)


def _status_error(status, text):
    if status == 403:
        return errors.Forbidden(text, status=status)
    if status == 404:
        return errors.NotFound(text, status=status)
    if status in (400, 406):
        # 400: a parameter this placement does not know; 406: microversion
        return errors.Unsupported(text, status=status)
    return errors.CloudError(text, status=status)


def _get(placement, url, params, version, what):
    try:
        response = placement.get(url, params=params,
                                 microversion=str(version),
                                 raise_exc=False)
    except errors.CALL_ERRORS as exc:
        raise errors.from_call(exc, what)
    return _json(response, what)


def parse_summaries(data):
    """``provider_summaries`` -> ``{uuid: Provider}`` (no names)."""
    providers = {}
    for uuid, summary in (data.get('provider_summaries') or {}).items():
        resources = {}
        for rc, use in (summary.get('resources') or {}).items():
            resources[rc] = Usage(int(use.get('capacity', 0)),
                                  int(use.get('used', 0)))
        traits = summary.get('traits')
        providers[uuid] = Provider(
            uuid=uuid, resources=resources,
            traits=frozenset(traits) if traits is not None else None,
            parent=summary.get('parent_provider_uuid'),
            root=summary.get('root_provider_uuid'))
    return providers


def _allocations(request):
    """``{provider uuid: {rc: amount}}`` of one allocation request."""
    allocations = request.get('allocations')
    if isinstance(allocations, dict):           # 1.12+
        return {uuid: dict(a.get('resources') or {})
                for uuid, a in allocations.items()}
    found = {}
    for item in allocations or ():              # 1.10 - 1.11
        uuid = (item.get('resource_provider') or {}).get('uuid')
        if uuid:
            found[uuid] = dict(item.get('resources') or {})
    return found


def host_roots(data, providers, roots=None):
    """Root provider UUIDs of the compute hosts with room.

    Each allocation request names the providers it takes from; their
    roots (the summaries' ``root_provider_uuid`` from 1.29, else
    ``roots`` from the provider list, else the provider itself) are
    compute nodes, except sharing providers (``MISC_SHARES_VIA_AGGREGATE``
    storage pools).  When traits are not shown (below 1.17) a root that
    gives no VCPU / PCPU / MEMORY_MB while another root of the same
    request does is taken for a sharing provider.
    """
    roots = roots or {}

    def root_of(uuid):
        prov = providers.get(uuid)
        if prov is not None and prov.root:
            return prov.root
        return roots.get(uuid, uuid)

    found = set()
    for request in data.get('allocation_requests') or ():
        allocations = _allocations(request)
        by_root = {}
        for uuid, resources in allocations.items():
            by_root.setdefault(root_of(uuid), set()).update(resources)
        candidates = {r for r in by_root
                      if not (providers.get(r) and providers[r].sharing)}
        if len(candidates) > 1:
            compute = {r for r in candidates
                       if by_root[r] & set(COMPUTE_CLASSES)}
            candidates = compute or candidates
        found |= candidates
    return found


def build(shape, version, data, names=None, roots=None):
    """:class:`Candidates` from an allocation candidates answer (pure).

    ``names`` maps provider UUIDs to provider names, ``roots`` provider
    UUIDs to their root (both from :func:`provider_tree`, optional).
    """
    if not isinstance(data, dict):
        raise errors.CloudError('placement allocation candidates: '
                                'unexpected answer')
    names = names or {}
    roots = roots or {}
    providers = {}
    for uuid, prov in parse_summaries(data).items():
        providers[uuid] = dataclasses.replace(
            prov, name=names.get(uuid), root=prov.root or roots.get(uuid))
    hosts, unnamed = {}, {}
    for root in sorted(host_roots(data, providers, roots)):
        tree = [providers[root]] if root in providers else []
        tree += [p for u, p in sorted(providers.items())
                 if u != root and p.root == root]
        room = HostRoom(root=root, host=names.get(root),
                        providers=tuple(tree))
        if room.host:
            hosts[room.host] = room
        else:
            unnamed[root] = room
    return Candidates(shape=shape, version=mv.Version.parse(version),
                      hosts=hosts, unnamed=unnamed, providers=providers)


#: Placement's 400 for a question about a trait or resource class it has
#: never heard of (``placement/handlers/allocation_candidate.py``).  Nova
#: takes any non-200 answer for "no candidates" (``report.py``
#: ``get_allocation_candidates``): NoValidHost for every host.
UNKNOWN_NAMES = ('No such trait', 'No such resource class')


def refused(shape, version, reason):
    """The :class:`Candidates` of a question Placement refused: no room."""
    return Candidates(shape=shape, version=mv.Version.parse(version),
                      hosts={}, unnamed={}, providers={}, refused=reason)


def ask(placement, shape, version):
    """One ``GET /allocation_candidates`` for ``shape`` (its JSON answer).

    Raises a :class:`~migrationclient.cloud.errors.CloudError` when
    Placement refuses or does not answer.
    """
    version = mv.Version.parse(version)
    return _get(placement, '/allocation_candidates', shape.params(version),
                version, 'placement allocation candidates')


def provider_tree(placement, cloud_max):
    """``({uuid: name}, {uuid: root uuid})`` of every resource provider.

    One ``GET /resource_providers`` (roots from placement 1.14).
    """
    version = min(mv.Version.parse(cloud_max), KNOWN_MAX)
    data = _get(placement, '/resource_providers', None, version,
                'placement resource providers')
    names, roots = {}, {}
    for prov in (data or {}).get('resource_providers') or ():
        uuid = prov.get('uuid')
        if not uuid:
            continue
        names[uuid] = prov.get('name')
        if prov.get('root_provider_uuid'):
            roots[uuid] = prov['root_provider_uuid']
    return names, roots


def _needs_tree(cand):
    """True when a room has no host name or a nameless nested provider."""
    if cand.unnamed:
        return True
    return any(p.name is None for room in cand.hosts.values()
               for p in room.providers[1:])


def gather(placement, shapes, names=None):
    """Ask each distinct shape once: ``{shape: Candidates}``.

    ``placement`` is ``conn.placement``; ``shapes`` an iterable of
    :class:`~migrationclient.constraints.request.RequestShape` (duplicates
    are asked once); ``names`` maps provider UUIDs to names when the
    caller knows them (hypervisor ids are compute node = root provider
    UUIDs from compute 2.53, their names the hypervisor hostnames): when
    every provider with room is named no provider list is read, else one
    ``GET /resource_providers``.

    Raises :class:`~migrationclient.cloud.errors.Unsupported` when the
    cloud's placement is older than 1.10 or cannot express a shape
    (the caller then keeps its per-host reads), another
    :class:`~migrationclient.cloud.errors.CloudError` when Placement
    fails.
    """
    unique = list(dict.fromkeys(shapes))
    if not unique:
        return {}
    cloud_max = max_version(placement)
    if cloud_max < rq.CANDIDATES:
        raise errors.Unsupported(
            'placement %s has no allocation candidates (needs %s)'
            % (cloud_max, rq.CANDIDATES))
    chosen = {}
    for shape in unique:
        version = choose_version(shape, cloud_max)
        if version is None:
            raise errors.Unsupported(
                'placement %s cannot ask for this server shape (needs %s)'
                % (cloud_max, shape.min_version))
        chosen[shape] = version
    names = dict(names or {})
    answers, result = {}, {}
    for shape in unique:
        try:
            answers[shape] = ask(placement, shape, chosen[shape])
        except errors.Unsupported as exc:
            if exc.status != 400 or not any(n in str(exc)
                                            for n in UNKNOWN_NAMES):
                raise
            result[shape] = refused(shape, chosen[shape], str(exc))
    result.update({shape: build(shape, chosen[shape], data, names)
                   for shape, data in answers.items()})
    if any(_needs_tree(cand) for cand in result.values()):
        tree_names, roots = provider_tree(placement, cloud_max)
        tree_names.update(names)
        result.update({shape: build(shape, chosen[shape], data,
                                    tree_names, roots)
                       for shape, data in answers.items()})
    return result


def rooms(result, shapes):
    """``{host: (HostRoom, fallback_only)}`` over one server's shapes.

    ``result`` is :func:`gather`'s answer, ``shapes`` the server's
    :func:`~migrationclient.constraints.request.request_shapes`.  A host
    is in when any of its shapes found room, as in Nova's
    ``select_destinations`` (the ``PCPU`` answers, then the ``VCPU``
    fallback's); ``fallback_only`` is True when only the ``VCPU`` fallback
    of a pinned guest found it: Placement has no free ``PCPU`` for the
    guest there, and only a host that still pins from ``VCPU`` (no
    ``cpu_dedicated_set``) can take it.
    """
    found = {}
    for shape in shapes:
        cand = result.get(shape)
        if cand is None:
            continue
        for host, room in cand.hosts.items():
            if host not in found:
                found[host] = (room, shape.pcpu_fallback)
    return found
