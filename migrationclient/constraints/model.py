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

"""Facts the constraint rules read: plain, immutable data, no I/O.

Three kinds of facts, gathered elsewhere and passed in:

* :class:`ServerFacts`: one server (state, flavor, image properties, ports,
  server groups) from the compute API (``migrationclient.cloud.gather``).
* :class:`HostFacts`: one compute host (service, hypervisor, CPU, placement
  capacity, aggregates) from the compute and placement APIs.
* :class:`CloudFacts`: the cloud (maximum compute microversion, hence the
  Nova release) and what could not be read (``notes``).

Host-side facts read over SSH are optional inputs: ``HostFacts.host_side``
(:class:`HostSideFacts`, per NUMA cell free CPUs, memory and hugepages, the
host CPU model) and ``ServerFacts.guest_side`` (:class:`GuestSideFacts`,
the guest CPU mode and its read-only drives).  ``None`` means "not
gathered"; rules that need them then report :data:`NOT_CHECKED`.

Everything is bundled in a :class:`Snapshot`, the single input of
:mod:`migrationclient.constraints.evaluate`.
"""

import dataclasses
import functools

from migrationclient import microversions

#: Finding severities, from worst to best.  ``unknown``: a fact that could
#: make Nova refuse was not readable (the verdict becomes "maybe");
#: ``not-checked``: a fact was not read but cannot make Nova refuse.
BLOCKER = 'blocker'
UNKNOWN = 'unknown'
WARNING = 'warning'
NOT_CHECKED = 'not-checked'
OK = 'ok'
SEVERITIES = (BLOCKER, UNKNOWN, WARNING, NOT_CHECKED, OK)

#: Migration types a finding applies to.
LIVE = 'live'
COLD = 'cold'
BOTH = (LIVE, COLD)


@dataclasses.dataclass(frozen=True)
class Finding:
    """The result of one rule for one server and destination.

    ``applies_to`` is a tuple of :data:`LIVE` / :data:`COLD`: a blocker that
    applies to ``(LIVE,)`` only blocks the live migration.
    """

    rule: str
    severity: str
    message: str
    remedy: str = ''
    applies_to: tuple = BOTH

    def blocks(self, kind):
        return self.severity == BLOCKER and kind in self.applies_to

    def leaves_open(self, kind):
        return self.severity == UNKNOWN and kind in self.applies_to

    def as_text(self):
        kinds = '/'.join(self.applies_to)
        text = '%s [%s, %s]: %s' % (self.rule, self.severity, kinds,
                                    self.message)
        if self.remedy and self.severity in (BLOCKER, UNKNOWN, WARNING):
            text += ' (%s)' % self.remedy
        return text


@dataclasses.dataclass(frozen=True)
class Capacity:
    """One placement inventory of a resource class, with its usage."""

    total: int
    reserved: int = 0
    allocation_ratio: float = 1.0
    used: int = 0
    max_unit: int | None = None

    @property
    def capacity(self):
        return int((self.total - self.reserved) * self.allocation_ratio)

    @property
    def free(self):
        return self.capacity - self.used

    def fits(self, amount):
        if self.max_unit is not None and amount > self.max_unit:
            return False
        return amount <= self.free

    def consume(self, amount):
        return dataclasses.replace(self, used=self.used + amount)


@dataclasses.dataclass(frozen=True)
class CpuFacts:
    """A host CPU as the API shows it.

    ``source`` is ``'cpu_info'`` (hypervisor, below compute 2.88) or
    ``'traits'`` (placement ``HW_CPU_*`` traits); ``features`` are libvirt
    feature names for the former and trait names for the latter, so only
    facts of the same source are compared.
    """

    source: str
    arch: str | None = None
    model: str | None = None
    vendor: str | None = None
    features: frozenset = frozenset()
    numa_cells: int | None = None


@dataclasses.dataclass(frozen=True)
class NumaCell:
    """One host NUMA cell, read on the host (``virsh``, sysfs)."""

    id: int
    free_cpus: int | None = None            # free dedicated (pinnable) CPUs
    free_memory_mb: int | None = None
    #: free hugepages per page size in KiB, e.g. ``{2048: 512}``
    free_hugepages: dict = dataclasses.field(default_factory=dict)
    #: the cell's memory (MiB), None when not read
    memory_mb: int | None = None
    #: the cell's CPUs floating guests run on (``cpu_shared_set``), None
    #: when not read
    shared_cpus: int | None = None
    #: what the NUMA guests on the host take of the cell as Nova counts
    #: it (their guest cells' memory, MiB, and floating vCPUs); None
    #: when not read
    memory_used_mb: int | None = None
    shared_used: int | None = None


@dataclasses.dataclass(frozen=True)
class TransportFacts:
    """The live migration transport from one host to one destination.

    Checked from the *source* host (``--ssh``): does the destination's
    libvirt migration endpoint (``scheme`` ``ssh`` / ``tcp`` / ``tls`` at
    ``address``:``port``, as ``user`` for ssh) answer a connection that
    runs nothing.  ``answered`` is True / False, None when the check could
    not tell (``problem`` then says why); ``problem`` is one of
    :data:`TRANSPORT_PROBLEMS` when it did not answer; ``detail`` is the
    client's own last error line.
    """

    scheme: str
    address: str | None = None
    port: int | None = None
    user: str | None = None
    uri: str = ''
    answered: bool | None = None
    problem: str | None = None
    detail: str = ''
    #: the local user the check ran as on the source (ssh), and its key
    run_as: str | None = None
    key_file: str | None = None
    tunnelled: bool = False


#: Why a migration endpoint did not answer (``TransportFacts.problem``).
TRANSPORT_PROBLEMS = ('no-key', 'host-key-unknown', 'host-key-changed',
                      'refused', 'timeout', 'unreachable', 'dns',
                      'permission-denied', 'closed', 'error')


@dataclasses.dataclass(frozen=True)
class SameCpusFacts:
    """Pre-Train: the guest's very host CPUs on one destination.

    Before Train a live migration keeps a pinned guest's pinning unchanged
    (RHSA-2018:0369): ``cpus`` (the host CPU ids the guest is pinned to on
    its source) and its host cells ``cells`` must be free on the
    destination.  ``taken`` maps needed CPU ids to the destination domains
    holding them, ``not_dedicated`` are needed CPUs outside the
    destination's pinning set (or missing there), ``cells_short`` the
    cells without the guest's memory free; ``dedicated_known`` is False
    when the destination's nova.conf was not read (every CPU counted
    pinnable); ``quick_fail`` the destination's Red Hat ``[workarounds]
    cpu_pinning_migration_quick_fail`` (None: not set or not read).
    """

    cpus: frozenset = frozenset()
    cells: tuple = ()
    taken: dict = dataclasses.field(default_factory=dict)
    not_dedicated: frozenset = frozenset()
    cells_short: tuple = ()
    dedicated_known: bool = True
    quick_fail: bool | None = None

    @property
    def free(self):
        return not (self.taken or self.not_dedicated or self.cells_short)


@dataclasses.dataclass(frozen=True)
class HostSideFacts:
    """Facts only the host itself has (optional, ``--ssh``)."""

    cpu_model: str | None = None
    numa_cells: tuple = ()                  # of NumaCell
    #: checked from this host as a source: destination name ->
    #: :class:`TransportFacts` (empty: not checked)
    transport: dict = dataclasses.field(default_factory=dict)
    #: free PCI devices per ``[pci] alias`` name of the host's nova.conf
    #: (its ``device_spec`` devices no domain holds); None when not read
    pci_free: dict | None = None
    #: free SR-IOV VFs (``type-VF`` devices of a ``device_spec`` with
    #: ``physical_network``) per physical network; None when not read
    vf_free: dict | None = None
    #: ``live_migratable`` of each ``[pci] alias`` (True / False / None:
    #: not said), None when nova.conf was not read
    pci_live: dict | None = None
    #: facts the host did not give, one short phrase each (e.g.
    #: ``'nova.conf'``): rules that need them say so in their "maybe"
    unread: tuple = ()


@dataclasses.dataclass(frozen=True)
class GuestSideFacts:
    """Facts only the source host's libvirt has about a guest (``--ssh``).

    ``config_drive_format`` is ``'iso9660'``, ``'vfat'`` or ``None``
    (unknown, or no config drive device); ``cdroms`` counts CD-ROM devices
    other than the config drive, ``None`` when the disks were not read
    (then the other drive fields say nothing either).
    ``config_drive_device`` and ``cdrom_devices`` describe the devices
    (target, bus, source) for the messages; ``config_drive_shared`` is
    true when the config drive is on shared block storage (RBD).
    """

    cpu_mode: str | None = None             # host-passthrough, host-model, ..
    #: the guest CPU ``<model>`` and its required ``<feature>`` names
    #: (libvirt names) from the domain XML; None when not read
    cpu_model: str | None = None
    cpu_features: frozenset | None = None
    cdroms: int | None = None
    config_drive_format: str | None = None
    config_drive_device: str | None = None  # e.g. 'cdrom sda (sata)'
    config_drive_shared: bool = False
    cdrom_devices: tuple = ()               # e.g. ('cdrom sdb (sata) /..',)
    #: pre-Train pinned guests: destination name -> :class:`SameCpusFacts`
    #: (empty: not read)
    same_cpus: dict = dataclasses.field(default_factory=dict)


class ServiceStatus:
    """``is_up`` / ``is_enabled`` of a nova-compute service (os-services).

    For anything with the service's ``state``, ``forced_down`` and
    ``status``: the cloud layer's service and the constraint model's host.
    """

    @property
    def is_up(self):
        return self.state == 'up' and not self.forced_down

    @property
    def is_enabled(self):
        return self.status == 'enabled'


@dataclasses.dataclass(frozen=True)
class HostFacts(ServiceStatus):
    """One compute host (a ``nova-compute`` service and its node)."""

    name: str                               # service host
    nodename: str | None = None             # hypervisor_hostname
    service_id: str | None = None
    state: str | None = None                # 'up' / 'down'
    status: str | None = None               # 'enabled' / 'disabled'
    forced_down: bool = False
    disabled_reason: str | None = None
    availability_zone: str | None = None
    hypervisor_type: str | None = None
    hypervisor_version: int | None = None
    host_ip: str | None = None              # hypervisor host_ip (for SSH)
    provider_id: str | None = None          # placement resource provider
    cpu: CpuFacts | None = None
    traits: frozenset | None = None
    #: placement inventories with usage by resource class, None if unread
    inventory: dict | None = None
    #: hypervisor memory fields (compute API below 2.88), None if absent
    memory_mb: int | None = None
    free_ram_mb: int | None = None
    #: hypervisor running_vms / vcpus_used (compute node record, < 2.88)
    running_vms: int | None = None
    vcpus_used: int | None = None
    #: aggregates the host is in: tuple of (name, metadata dict)
    aggregates: tuple = ()
    host_side: HostSideFacts | None = None
    #: datapath of the host's Neutron Open vSwitch agent: ``netdev``
    #: (OVS-DPDK with dpdkvhostuser), ``system`` (kernel OVS), ...; ``''``
    #: when the agents were read and this host has none; None: not read
    ovs_datapath: str | None = None


@dataclasses.dataclass(frozen=True)
class PortFacts:
    """One Neutron port of a server."""

    id: str
    vnic_type: str = 'normal'
    vif_type: str | None = None
    physical_network: str | None = None


@dataclasses.dataclass(frozen=True)
class GroupFacts:
    """A server group: policy, rules and its members' hosts."""

    id: str
    name: str = ''
    policy: str = ''
    rules: dict = dataclasses.field(default_factory=dict)
    members: tuple = ()
    #: host of each member whose host is known: member id -> host
    member_hosts: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class FlavorFacts:
    name: str | None = None
    vcpus: int = 0
    ram: int = 0
    disk: int = 0
    ephemeral: int = 0
    swap: int = 0
    extra_specs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ServerFacts:
    """One server as the compute API shows it to an admin."""

    id: str
    name: str = ''
    status: str = ''
    vm_state: str | None = None
    task_state: str | None = None
    locked: bool = False
    host: str | None = None
    nodename: str | None = None
    instance_name: str | None = None        # libvirt domain name
    availability_zone: str | None = None
    #: AZ the server is pinned to (compute 2.96+); None when unknown
    pinned_availability_zone: str | None = None
    flavor: FlavorFacts = FlavorFacts()
    #: image properties (compute 2.100+ shows them), {} when unknown
    image_properties: dict = dataclasses.field(default_factory=dict)
    volume_backed: bool = False
    volumes: tuple = ()
    config_drive: bool = False
    #: Neutron ports, None when the network service could not be read
    ports: tuple | None = ()
    guest_side: GuestSideFacts | None = None

    def spec(self, name):
        """A flavor extra spec ``hw:name`` or image property ``hw_name``."""
        value = self.flavor.extra_specs.get('hw:' + name)
        if value is None:
            value = self.image_properties.get('hw_' + name)
        return value

    @functools.cached_property
    def dedicated_cpus(self):
        """True when the guest's CPUs are pinned (``hw:cpu_policy``).

        ``aggregate_instance_extra_specs:pinned=true`` alone is an
        aggregate match (AggregateInstanceExtraSpecsFilter), not pinning:
        Nova pins (and asks ``PCPU`` from Train) only for
        ``hw:cpu_policy=dedicated`` (flavor or image).
        """
        return self.spec('cpu_policy') == 'dedicated'

    @functools.cached_property
    def numa_nodes(self):
        """Guest NUMA node count, 0 when the guest has no NUMA topology."""
        value = self.spec('numa_nodes')
        if value is not None:
            try:
                return max(int(value), 1)
            except ValueError:
                return 1
        if (self.spec('mem_page_size') is not None
                or self.spec('cpu_policy') in ('dedicated', 'mixed')):
            return 1
        return 0

    @functools.cached_property
    def local_disk_gb(self):
        root = 0 if self.volume_backed else self.flavor.disk
        return root + self.flavor.ephemeral + (self.flavor.swap + 1023) // 1024


@dataclasses.dataclass(frozen=True)
class CloudFacts:
    """The cloud as a whole."""

    max_version: microversions.Version
    #: microversion the user asked for (--os-compute-api-version), if any
    requested_version: microversions.Version | None = None
    #: what could not be read, one line each (shown as warnings)
    notes: tuple = ()
    #: PCI aliases the operator declares live-migratable (Epoxy+)
    pci_live_migratable: bool = False

    @functools.cached_property
    def release(self):
        # Computed once per CloudFacts: rules read it for every pair.
        return microversions.release_for(self.max_version)

    @property
    def nova(self):
        return self.release.nova

    def supports(self, version):
        return microversions.supports(self.max_version, version)


@dataclasses.dataclass(frozen=True)
class PlacementRoom:
    """One host in Placement's answer to a server's question.

    ``usage`` maps a resource class to a :class:`Capacity` (Placement's
    capacity as ``total``, its usage as ``used``) summed over the host's
    provider tree; ``traits`` are the root provider's (None below
    placement 1.17); ``fallback_only``: only the ``VCPU`` fallback
    question of a pinned guest found the host (no free ``PCPU`` there).
    """

    usage: dict = dataclasses.field(default_factory=dict)
    traits: frozenset | None = None
    fallback_only: bool = False
    #: free PCI devices by resource class over the host's PCI providers
    #: (``[pci] report_in_placement``, Zed+); None: no PCI provider seen
    pci_free: dict | None = None


@dataclasses.dataclass(frozen=True)
class PlacementAnswer:
    """Placement's answer to the question Nova's scheduler asks.

    One ``GET /allocation_candidates`` per distinct request shape
    (``constraints.request``); servers with the same shapes share one
    answer.  ``key`` identifies the question (hashable), ``asked`` says
    it in words (``VCPU:1, MEMORY_MB:512, DISK_GB:1,
    !COMPUTE_STATUS_DISABLED``), ``resources`` is a sorted tuple of
    ``(resource class, amount)`` of the first shape, ``required`` /
    ``forbidden`` its traits, ``rooms`` maps a service host name to its
    :class:`PlacementRoom` (every host with room; a host not there gets
    NoValidHost), ``refused`` Placement's reason when it refused the
    question itself (no host has room).
    """

    key: tuple
    asked: str = ''
    resources: tuple = ()
    required: frozenset = frozenset()
    forbidden: frozenset = frozenset()
    rooms: dict = dataclasses.field(default_factory=dict)
    refused: str | None = None
    #: the first shape asks PCPU (a pinned guest, Train+)
    pcpu: bool = False
    version: str = ''

    def amount(self, resource_class):
        return dict(self.resources).get(resource_class, 0)


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """Everything the rules read: the cloud, its hosts, servers, groups.

    ``hosts`` maps a service host name to :class:`HostFacts` (every
    nova-compute host); ``servers`` maps a server id to
    :class:`ServerFacts` (at least the servers being checked); ``groups``
    maps a server id to the :class:`GroupFacts` it belongs to.
    """

    cloud: CloudFacts
    hosts: dict
    servers: dict
    groups: dict = dataclasses.field(default_factory=dict)
    #: Placement's answers: server id -> :class:`PlacementAnswer`; None
    #: when Placement was not asked (placement < 1.10, or not readable)
    placement: dict | None = None

    def placement_for(self, server_id):
        """The server's :class:`PlacementAnswer`, or None."""
        if self.placement is None:
            return None
        return self.placement.get(server_id)

    def groups_of(self, server_id):
        return self.groups.get(server_id, ())

    def with_side_facts(self, hosts=None, guests=None):
        """A copy with host-side facts plugged in.

        ``hosts`` maps a host name to :class:`HostSideFacts`, ``guests`` a
        server id to :class:`GuestSideFacts` (read over SSH).
        """
        new_hosts = dict(self.hosts)
        for name, side in (hosts or {}).items():
            if name in new_hosts:
                new_hosts[name] = dataclasses.replace(new_hosts[name],
                                                      host_side=side)
        new_servers = dict(self.servers)
        for sid, side in (guests or {}).items():
            if sid in new_servers:
                new_servers[sid] = dataclasses.replace(new_servers[sid],
                                                       guest_side=side)
        return dataclasses.replace(self, hosts=new_hosts,
                                   servers=new_servers)
