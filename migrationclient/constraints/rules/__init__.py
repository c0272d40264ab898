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

"""Migration constraint rules: one pure function per rule.

The rules live in one module per domain (:mod:`.server_state`,
:mod:`.cpu`, :mod:`.capacity`, :mod:`.numa_placement`, :mod:`.pci_sriov`,
:mod:`.storage`, :mod:`.groups`, :mod:`.allocation`, :mod:`.pretrain`,
:mod:`.live_transport`; shared pieces in
:mod:`.base`); this
package lists them in report order and re-exports every rule and its
constants as ``rules.<name>``.

Every rule has the signature ``rule(server, source, dest, snapshot)``
(:class:`~migrationclient.constraints.model.ServerFacts`, two
:class:`~migrationclient.constraints.model.HostFacts`, the
:class:`~migrationclient.constraints.model.Snapshot`) and returns a list of
:class:`~migrationclient.constraints.model.Finding` (at least one).  Rule
ids are stable: scripts and the documentation use them.  ``source`` may be
``None`` when the server's host is not a known compute host.

Every rule declares with :func:`depends` what it reads: a key of the
server facts, and whether it reads the source and the destination host.
``evaluate.precheck`` computes a rule once per distinct declared input and
shares the result; a rule that reads a host it did not declare gets
``None`` for it there.  ``tests/unit/constraints/test_shared.py`` checks
the declarations (and precheck against evaluate) on random facts: a new
rule, or a rule that starts reading another fact, must update its
declaration.

Sources: the operator procedure (Red Hat OSP 10 "Migrating virtual
machines between compute nodes", sections 8.2 and 8.3, "seed") and the Nova
release notes / conductor and scheduler code (see
doc/source/user/precheck.rst).
"""

from migrationclient.constraints.rules import allocation
from migrationclient.constraints.rules import base
from migrationclient.constraints.rules import capacity
from migrationclient.constraints.rules import cpu
from migrationclient.constraints.rules import groups
from migrationclient.constraints.rules import live_transport
from migrationclient.constraints.rules import numa_placement
from migrationclient.constraints.rules import pci_sriov
from migrationclient.constraints.rules import pretrain
from migrationclient.constraints.rules import server_state
from migrationclient.constraints.rules import storage

# The declarations and shared pieces.
Depends = base.Depends
depends = base.depends
EVERYTHING = base.EVERYTHING
server_id = base.server_id

# The constants of the rules.
SRIOV_VNIC_TYPES = pci_sriov.SRIOV_VNIC_TYPES
LIVE_STATES = server_state.LIVE_STATES
COLD_STATES = server_state.COLD_STATES
NON_FEATURE_TRAITS = cpu.NON_FEATURE_TRAITS

# The rules.
state = server_state.state
services = server_state.services
cpu_arch = cpu.cpu_arch
cpu_features = cpu.cpu_features
cpu_model = cpu.cpu_model
hypervisor = cpu.hypervisor
placement = allocation.placement
memory = capacity.memory
vcpu = capacity.vcpu
disk_space = capacity.disk_space
numa = numa_placement.numa
pinning = numa_placement.pinning
hugepages = numa_placement.hugepages
dpdk = pci_sriov.dpdk
sriov = pci_sriov.sriov
pci = pci_sriov.pci
devices = pci_sriov.devices
readonly_drives = storage.readonly_drives
disk = storage.disk
server_group = groups.server_group
same_cpus = pretrain.same_cpus
transport = live_transport.transport


#: Every rule, in report order: (id, function).
RULES = (
    ('state', state),
    ('services', services),
    ('cpu-arch', cpu_arch),
    ('cpu-features', cpu_features),
    ('cpu-model', cpu_model),
    ('hypervisor', hypervisor),
    ('placement', placement),
    ('memory', memory),
    ('vcpu', vcpu),
    ('disk-space', disk_space),
    ('numa', numa),
    ('pinning', pinning),
    ('hugepages', hugepages),
    ('same-cpus', same_cpus),
    ('dpdk', dpdk),
    ('sriov', sriov),
    ('pci', pci),
    ('readonly-drives', readonly_drives),
    ('disk', disk),
    ('server-group', server_group),
    ('devices', devices),
    ('transport', transport),
)
RULE_IDS = tuple(r for r, _fn in RULES)
