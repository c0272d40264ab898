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

"""The Placement question Nova's scheduler asks for a server (pure, no I/O).

Before Nova's filters look at a single host, the scheduler asks Placement
``GET /allocation_candidates`` for every compute node with room for the
server's resources and the right traits.  A host Placement does not return
is refused (NoValidHost), whatever the other rules say.  This module builds
that question from the facts the compute API shows, so that
:mod:`migrationclient.cloud.candidates` can ask it once per distinct
:class:`RequestShape` (servers of the same shape share one query).

Sources (openstack/nova at 00a0304, the 2026.2 / nova 34 cycle):

* ``nova/scheduler/utils.py`` ``ResourceRequest.from_request_spec``:
  resources from the flavor (``VCPU``, ``MEMORY_MB``, ``DISK_GB`` = root
  (0 when volume-backed) + ephemeral + swap rounded up to GiB), used only
  where ``resources[$S]:<RC>`` extra specs do not override them;
  ``trait[$S]:<NAME>=required|forbidden`` extra specs; image
  ``trait:<NAME>=required`` properties (``traits_required``, unsuffixed
  group only); ``_translate_pinning_policies``: ``hw:cpu_policy=dedicated``
  asks ``PCPU`` instead of ``VCPU``, ``mixed`` splits them by
  ``hw:cpu_dedicated_mask``, ``hw:emulator_threads_policy=isolate`` adds one
  ``PCPU``, ``hw:cpu_thread_policy`` isolate / require forbids / requires
  ``HW_CPU_HYPERTHREADING``; ``_translate_vtpm_request``,
  ``_translate_secure_boot_request``, ``_translate_vpmems_request``;
  ``to_querystring`` / ``RequestGroup.to_queryparams``
  (``nova/objects/request_spec.py``) for the query syntax.
* ``nova/scheduler/manager.py`` ``select_destinations``: for a pinned
  guest a second, *fallback* query with ``VCPU`` instead of ``PCPU``
  (``[workarounds] disable_fallback_pcpu_query``, default False); both
  results count.
* ``nova/scheduler/request_filter.py`` ``ALL_REQUEST_FILTERS``: the
  prefilters that are on by default: ``compute_status_filter`` (forbid
  ``COMPUTE_STATUS_DISABLED`` on the root, Train+),
  ``map_az_to_placement_aggregate`` (``member_of`` the aggregates of the
  server's requested availability zone: ``query_placement_for_availability
  _zone`` default True from Xena, mandatory from 2023.2),
  ``accelerators_filter``, ``tpm_secret_security_filter`` (vTPM, 2026.1+),
  ``owner_nova_filter`` (``OWNER_NOVA`` once every compute reports it; left
  out here: it only excludes providers that are not Nova's compute nodes,
  which no host name maps to anyway).  Off by default and so not asked:
  ``query_placement_for_image_type_support`` (``COMPUTE_IMAGE_TYPE_*``),
  ``image_metadata_prefilter``, ``enable_isolated_aggregate_filtering``,
  ``limit_tenants_to_placement_aggregate`` (``nova/conf/scheduler.py``).

Not modelled: neutron port resource requests (QoS bandwidth), Cyborg device
profiles, ``[filter_scheduler] pci_in_placement`` PCI request groups (off by
default), AMD SEV memory encryption.  A shape that needs them is still a
correct *lower bound*: Placement returning no host is a sure "no", a host
returned is "Placement has room" and the rules check the rest.
"""

import dataclasses
import re

from migrationclient import microversions as mv

#: Placement microversions by the feature of the query that needs them
#: (``placement/rest_api_version_history.rst``).
CANDIDATES = mv.Version(1, 10)        # GET /allocation_candidates
REQUIRED = mv.Version(1, 17)          # required=, traits in summaries
MEMBER_OF = mv.Version(1, 21)         # member_of=in:
FORBIDDEN = mv.Version(1, 22)         # required=!TRAIT
GRANULAR = mv.Version(1, 25)          # resources1=, required1=
ALL_INVENTORIES = mv.Version(1, 27)   # every RC in provider_summaries
NESTED = mv.Version(1, 29)            # nested providers, root_provider_uuid
STRING_SUFFIX = mv.Version(1, 33)     # resources_FOO=
ROOT_REQUIRED = mv.Version(1, 35)     # root_required=

#: Extra spec keys Nova reads as resources / traits (``XS_KEYPAT``).
_XS_KEY = re.compile(r'^(resources|trait)([a-zA-Z0-9_-]{1,64})?:(.*)$')
#: Standard resource classes Nova computes from the flavor.
VCPU, PCPU, MEMORY_MB, DISK_GB = 'VCPU', 'PCPU', 'MEMORY_MB', 'DISK_GB'
STATUS_DISABLED = 'COMPUTE_STATUS_DISABLED'
HYPERTHREADING = 'HW_CPU_HYPERTHREADING'
ACCELERATORS = 'COMPUTE_ACCELERATORS'
SECURE_BOOT = 'COMPUTE_SECURITY_UEFI_SECURE_BOOT'
#: Resource classes a mediated device (vGPU and friends) is asked as:
#: ``VGPU`` or a ``CUSTOM_*`` class named by ``[mdev_*] mdev_class``.
MDEV_STANDARD = ('VGPU',)


@dataclasses.dataclass(frozen=True)
class RequestGroup:
    """One request group of the query (``resources[$S]=`` ...).

    ``suffix`` is ``''`` for the unsuffixed group (resources may come from
    several providers of one tree) or the granular suffix (``'1'``,
    ``'_GPU'``: every resource from one provider).  ``resources`` is a
    sorted tuple of ``(resource class, amount)``, ``member_of`` a tuple of
    sorted tuples of aggregate UUIDs (each one: "in any of these").
    """

    suffix: str = ''
    resources: tuple = ()
    required: frozenset = frozenset()
    forbidden: frozenset = frozenset()
    member_of: tuple = ()

    def params(self, root_required=(), root_forbidden=()):
        """``[(name, value)]`` query parameters of this group.

        ``root_required`` / ``root_forbidden`` are merged into the
        group's own traits: how root traits are asked below placement
        1.35 (exact for compute nodes without nested providers).
        """
        params = []
        if self.resources:
            params.append(('resources' + self.suffix, ','.join(
                '%s:%d' % (rc, n) for rc, n in self.resources)))
        required = sorted(self.required | frozenset(root_required))
        forbidden = sorted(self.forbidden | frozenset(root_forbidden))
        if required or forbidden:
            params.append(('required' + self.suffix, ','.join(
                required + ['!' + t for t in forbidden])))
        for aggs in self.member_of:
            params.append(('member_of' + self.suffix,
                           'in:' + ','.join(aggs)))
        return params


@dataclasses.dataclass(frozen=True)
class RequestShape:
    """The whole question: request groups and request-level traits.

    Frozen and hashable: equal shapes ask the same question, so a caller
    keys its queries on the shape (or :attr:`key`).  ``pcpu_fallback``
    marks the second query Nova makes for a pinned guest (``VCPU`` instead
    of ``PCPU``): a host found only by it has Placement room for the
    vCPUs, but whether its dedicated CPUs are free is for the NUMA /
    pinning check (``NUMATopologyFilter``, the compute's claim) to say.
    """

    groups: tuple = ()
    root_required: frozenset = frozenset()
    root_forbidden: frozenset = frozenset()
    group_policy: str | None = None
    pcpu_fallback: bool = False

    @property
    def key(self):
        """A hashable, sortable key: the query parameters as a tuple."""
        return (self.pcpu_fallback,) + tuple(self.params(ROOT_REQUIRED))

    @property
    def resources(self):
        """``{resource class: amount}`` summed over the groups."""
        total = {}
        for group in self.groups:
            for rc, amount in group.resources:
                total[rc] = total.get(rc, 0) + amount
        return total

    @property
    def mdev_resources(self):
        """Resource classes of mediated devices (``VGPU``, ``CUSTOM_*``).

        Nova asks a vGPU / mdev as ``resources:VGPU=1`` or as the custom
        class ``[mdev_<type>] mdev_class`` names; any ``CUSTOM_*`` class
        in a flavor is such a device (or another operator-defined
        resource): the guest needs the same class free on the destination.
        """
        return tuple(sorted(rc for rc in self.resources
                            if rc in MDEV_STANDARD
                            or (rc.startswith('CUSTOM_')
                                and not rc.startswith(
                                    'CUSTOM_PMEM_NAMESPACE_'))))

    @property
    def required_traits(self):
        found = set(self.root_required)
        for group in self.groups:
            found |= group.required
        return frozenset(found)

    @property
    def forbidden_traits(self):
        found = set(self.root_forbidden)
        for group in self.groups:
            found |= group.forbidden
        return frozenset(found)

    @property
    def min_version(self):
        """The lowest placement microversion that can ask this question.

        Root traits count as :data:`REQUIRED` / :data:`FORBIDDEN` because
        below :data:`ROOT_REQUIRED` they are asked in the unsuffixed group
        (see :meth:`params`).
        """
        need = CANDIDATES
        if self.required_traits:
            need = max(need, REQUIRED)
        if any(g.member_of for g in self.groups):
            need = max(need, MEMBER_OF)
        if self.forbidden_traits:
            need = max(need, FORBIDDEN)
        suffixes = [g.suffix for g in self.groups if g.suffix]
        if suffixes:
            need = max(need, GRANULAR)
            if any(not s.isdigit() for s in suffixes):
                need = max(need, STRING_SUFFIX)
        return need

    def params(self, version):
        """The query parameters (sorted ``[(name, value)]``) at ``version``.

        No ``limit``: every candidate host is wanted, not Nova's
        ``max_placement_results`` first ones.  Raises ValueError when
        ``version`` is below :attr:`min_version`.
        """
        version = mv.Version.parse(version)
        if version < self.min_version:
            raise ValueError('placement %s cannot ask this (needs %s)'
                             % (version, self.min_version))
        root = version >= ROOT_REQUIRED
        params = []
        if root and (self.root_required or self.root_forbidden):
            params.append(('root_required', ','.join(
                sorted(self.root_required)
                + ['!' + t for t in sorted(self.root_forbidden)])))
        if self.group_policy and version >= GRANULAR:
            params.append(('group_policy', self.group_policy))
        has_plain = any(not g.suffix for g in self.groups)
        for group in self.groups:
            merge = not root and not group.suffix
            params.extend(group.params(
                self.root_required if merge else (),
                self.root_forbidden if merge else ()))
        if not root and not has_plain and (self.root_required
                                           or self.root_forbidden):
            params.extend(RequestGroup().params(self.root_required,
                                                self.root_forbidden))
        return sorted(params)


def _parse_cpus(text):
    """CPU list ``'0-3,^2'`` -> set (ValueError when malformed)."""
    include, exclude = set(), set()
    for part in text.split(','):
        part = part.strip()
        target = exclude if part.startswith('^') else include
        match = re.fullmatch(r'\^?(\d+)(?:-(\d+))?', part)
        if not match:
            raise ValueError(text)
        low = int(match.group(1))
        high = int(match.group(2) or low)
        target.update(range(low, high + 1))
    return include - exclude


def _cpu_count(mask, vcpus):
    """Number of dedicated vCPUs of ``hw:cpu_dedicated_mask`` (or None).

    Nova ``hardware.get_dedicated_cpu_constraint``: ``^`` masks exclude
    from ``0-(vcpus-1)``.
    """
    text = str(mask).strip()
    try:
        if text.startswith('^'):
            cpus = _parse_cpus('0-%d,%s' % (vcpus - 1, text))
        else:
            cpus = _parse_cpus(text)
    except ValueError:
        return None
    return len(cpus & set(range(vcpus)))


def _spec(server, name):
    return server.spec(name)


def _image_traits(properties):
    """Required traits of image properties (``trait:X=required``)."""
    found = {str(k)[len('trait:'):] for k, v in (properties or {}).items()
             if str(k).startswith('trait:') and str(v) == 'required'}
    found.update((properties or {}).get('traits_required') or ())
    return found


def _add(groups, suffix, **kwargs):
    group = groups.setdefault(suffix, {'resources': {}, 'required': set(),
                                       'forbidden': set()})
    for rc, amount in kwargs.get('resources', {}).items():
        group['resources'][rc] = amount
    group['required'].update(kwargs.get('required', ()))
    group['forbidden'].update(kwargs.get('forbidden', ()))


def _valid_rc(name):
    return bool(re.fullmatch(r'[A-Z0-9_]+', name))


def _extra_specs(specs, groups):
    """``resources[$S]:*`` / ``trait[$S]:*`` extra specs into ``groups``.

    Returns the ``group_policy`` (None unless ``none`` / ``isolate``).
    """
    group_policy = None
    for key, value in sorted(specs.items()):
        if key == 'group_policy':
            if value in ('none', 'isolate'):
                group_policy = value
            continue
        match = _XS_KEY.match(key)
        if not match:
            continue
        prefix, suffix, name = match.groups()
        suffix = suffix or ''
        if prefix == 'resources':
            try:
                amount = int(value)
            except (TypeError, ValueError):
                continue            # Nova logs and skips it
            if amount >= 0 and _valid_rc(name):
                _add(groups, suffix, resources={name: amount})
        elif value == 'required':
            _add(groups, suffix, required={name})
        elif value == 'forbidden':
            _add(groups, suffix, forbidden={name})
    return group_policy


def _pinning(server, specs, groups):
    """``_translate_pinning_policies``: PCPU for dedicated / mixed."""
    flavor = server.flavor
    policy = _spec(server, 'cpu_policy')
    if policy not in ('dedicated', 'mixed'):
        return
    pcpus = flavor.vcpus
    if policy == 'mixed':
        mask = specs.get('hw:cpu_dedicated_mask') or specs.get(
            'hw:cpu_realtime_mask')
        pcpus = (_cpu_count(mask, flavor.vcpus) if mask else None) or 0
        _add(groups, '', resources={VCPU: flavor.vcpus - pcpus})
    if specs.get('hw:emulator_threads_policy') == 'isolate':
        pcpus += 1
    _add(groups, '', resources={PCPU: pcpus})
    thread = _spec(server, 'cpu_thread_policy')
    if thread == 'isolate':
        _add(groups, '', forbidden={HYPERTHREADING})
    elif thread == 'require':
        _add(groups, '', required={HYPERTHREADING})


def _flavor_defaults(server, groups):
    """VCPU / MEMORY_MB / DISK_GB where extra specs did not say."""
    merged = {}
    for group in groups.values():
        for rc, amount in group['resources'].items():
            merged[rc] = merged.get(rc, 0) + amount
    if VCPU not in merged and PCPU not in merged:
        _add(groups, '', resources={VCPU: server.flavor.vcpus})
    if MEMORY_MB not in merged:
        _add(groups, '', resources={MEMORY_MB: server.flavor.ram})
    if DISK_GB not in merged:
        _add(groups, '', resources={DISK_GB: server.local_disk_gb})


def _devices(server, specs, groups, nova=None):
    """vTPM and secure boot traits, vPMEM namespaces.

    Each from the release that asks it (vPMEM Train, vTPM Victoria,
    secure boot traits Wallaby); ``nova`` None: every one.
    """
    def since(release):
        return nova is None or nova >= release

    if _spec(server, 'tpm_version') and since(mv.VICTORIA):
        model = (_spec(server, 'tpm_model') or 'tpm-tis').lower()
        version = str(_spec(server, 'tpm_version'))
        _add(groups, '', required={
            'COMPUTE_SECURITY_TPM_CRB' if model == 'tpm-crb'
            else 'COMPUTE_SECURITY_TPM_TIS',
            'COMPUTE_SECURITY_TPM_2_0' if version == '2.0'
            else 'COMPUTE_SECURITY_TPM_1_2'})
    secure = specs.get('os:secure_boot') or server.image_properties.get(
        'os_secure_boot')
    if secure == 'required' and since(mv.WALLABY):
        _add(groups, '', required={SECURE_BOOT})
    pmem = specs.get('hw:pmem')
    if pmem and since(mv.TRAIN):
        _add(groups, '')
        resources = groups['']['resources']
        for label in [x.strip() for x in str(pmem).split(',') if x.strip()]:
            rc = 'CUSTOM_PMEM_NAMESPACE_' + re.sub(r'[^A-Z0-9]', '_',
                                                   label.upper())
            resources[rc] = resources.get(rc, 0) + 1


def _root_traits(server, specs, nova):
    """The prefilters' root traits: ``(required, forbidden)``."""
    required, forbidden = set(), set()
    if nova >= mv.TRAIN:
        forbidden.add(STATUS_DISABLED)
    if specs.get('accel:device_profile') and nova >= mv.USSURI:
        required.add(ACCELERATORS)          # Cyborg integration, Ussuri
    if nova >= mv.GAZPACHO and _spec(server, 'tpm_version'):
        security = specs.get('hw:tpm_secret_security') or 'user'
        required.add('COMPUTE_SECURITY_TPM_SECRET_SECURITY_'
                     + str(security).upper())
    return frozenset(required), frozenset(forbidden)


def request_shape(server, nova, az_aggregates=None, pinning=True):
    """The :class:`RequestShape` Nova's scheduler asks for ``server``.

    ``server`` is a :class:`~migrationclient.constraints.model.ServerFacts`
    (flavor with extra specs, image properties, volume-backed or not);
    ``nova`` the Nova major version (``CloudFacts.nova``): Train (20) and
    later translate pinning to ``PCPU`` and forbid disabled computes.
    ``az_aggregates``: UUIDs of the aggregates whose ``availability_zone``
    is the zone the server was *requested* in (its pinned zone), asked as
    ``member_of`` from Xena; None or empty: no zone constraint.
    ``pinning=False`` gives the ``VCPU`` fallback query of a pinned guest.
    """
    specs = dict(server.flavor.extra_specs or {})
    groups = {}
    group_policy = _extra_specs(specs, groups)
    _add(groups, '', required=_image_traits(server.image_properties))
    if pinning and nova >= mv.TRAIN:
        _pinning(server, specs, groups)
    _flavor_defaults(server, groups)
    _devices(server, specs, groups, nova)
    root_required, root_forbidden = _root_traits(server, specs, nova)
    member_of = ()
    if az_aggregates and nova >= mv.XENA:
        member_of = (tuple(sorted(az_aggregates)),)

    built = []
    for suffix in sorted(groups):
        group = groups[suffix]
        resources = tuple(sorted((rc, n) for rc, n
                                 in group['resources'].items() if n))
        if not (resources or group['required'] or group['forbidden']
                or (not suffix and member_of)):
            continue            # Nova's strip_zeros
        built.append(RequestGroup(
            suffix=suffix, resources=resources,
            required=frozenset(group['required']),
            forbidden=frozenset(group['forbidden']),
            member_of=member_of if not suffix else ()))
    if member_of and not any(not g.suffix for g in built):
        built.insert(0, RequestGroup(member_of=member_of))
    return RequestShape(
        groups=tuple(built), root_required=root_required,
        root_forbidden=root_forbidden, group_policy=group_policy,
        pcpu_fallback=not pinning)


def pins_cpus(server, nova):
    """True when Nova asks ``PCPU`` for ``server``.

    Train+, dedicated or mixed CPU policy: its placement question then has
    a ``VCPU`` fallback.
    """
    return nova >= mv.TRAIN and _spec(server, 'cpu_policy') in (
        'dedicated', 'mixed')


def request_shapes(server, nova, az_aggregates=None):
    """Every question Nova asks Placement for ``server``, in order.

    One :class:`RequestShape`; two for a guest that :func:`pins_cpus`
    (``PCPU``, then the ``VCPU`` fallback of ``select_destinations``,
    which Nova makes unless ``[workarounds] disable_fallback_pcpu_query``).
    A host with room for any of them passes Placement.
    """
    first = request_shape(server, nova, az_aggregates)
    if pins_cpus(server, nova):
        return (first, request_shape(server, nova, az_aggregates,
                                     pinning=False))
    return (first,)
