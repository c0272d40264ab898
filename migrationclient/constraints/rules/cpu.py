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

"""CPU rules: architecture, features, model, hypervisor (seed section 8.2
"CPU constraints").
"""

from migrationclient._i18n import _
from migrationclient.constraints import model as f
from migrationclient.constraints.rules import base


#: traits that describe host configuration, not CPU features
NON_FEATURE_TRAITS = ('HW_CPU_HYPERTHREADING',)


@base.depends(source=True, dest=True)
def cpu_arch(server, source, dest, snapshot):
    """cpu-arch: source and destination CPU architectures are equal.

    Seed 8.2 "CPU constraints": x86_64 -> ppc64le is not supported, live or
    cold.
    """
    rule = 'cpu-arch'
    src = source.cpu.arch if source and source.cpu else None
    dst = dest.cpu.arch if dest.cpu else None
    if not src or not dst:
        return base.unknown(
            rule, _('CPU architecture of the %s not known: no hypervisor '
                    'cpu_info (compute >= 2.88) and no HW_ARCH_* trait '
                    '(Epoxy+)') % (_('source') if not src
                                   else _('destination')),
            remedy=_('check: openstack resource provider trait list <host>'))
    if src != dst:
        return [base.finding(
            rule, f.BLOCKER,
            _('architecture %(dst)s differs from the source %(src)s')
            % {'dst': dst, 'src': src},
            _('choose a %s destination') % src)]
    return base.ok(rule, _('both %s') % src)


def _features(cpu):
    if cpu.source == 'traits':
        return frozenset(t for t in cpu.features
                         if t not in NON_FEATURE_TRAITS)
    return cpu.features


def _trait_name(feature):
    """The placement trait of a libvirt CPU feature name (x86)."""
    return 'HW_CPU_X86_' + feature.upper().replace('.', '_')


def _guest_missing(server, dest, source=None):
    """Required features of a ``custom`` guest CPU the destination lacks.

    None when the guest CPU is not known (``--ssh`` reads it).
    """
    guest = server.guest_side
    if guest is None or guest.cpu_features is None or dest.cpu is None:
        return None
    have = _features(dest.cpu)
    wanted = guest.cpu_features
    if dest.cpu.source == 'traits':
        wanted = {_trait_name(x) for x in wanted}
        if source is not None and source.cpu is not None \
                and source.cpu.source == 'traits':
            # Nova makes traits of some features only (os-traits): one
            # the source (which runs the guest) lacks is not a trait
            wanted &= _features(source.cpu)
    return sorted(set(wanted) - have)


def _custom_guest(rule, server, dest, live, source=None):
    """cpu-features of a guest with a ``custom`` CPU model.

    Nova compares the guest CPU, not the source host's, on the
    destination.
    """
    guest = server.guest_side
    missing = _guest_missing(server, dest, source)
    if missing is None:
        return base.unknown(
            rule, _('guest CPU model %s (custom): its features not read')
            % (guest.cpu_model or '?'), live,
            _('use --ssh to read the guest CPU from its domain XML'))
    if missing:
        return [base.finding(
            rule, f.BLOCKER,
            _('destination lacks CPU features the guest CPU (%(model)s) '
              'requires: %(missing)s')
            % {'model': guest.cpu_model or '?',
               'missing': ', '.join(missing)},
            _('choose a destination of that CPU generation, or cold '
              'migrate'), live)]
    return base.ok(rule, _('guest CPU model %s (custom): the destination '
                           'has the features it requires; the source\'s '
                           'other features do not matter')
                   % (guest.cpu_model or '?'), live)


@base.depends(lambda server, snapshot: (
    server.guest_side.cpu_mode if server.guest_side else None,
    server.guest_side.cpu_model if server.guest_side else None,
    server.guest_side.cpu_features if server.guest_side else None),
    source=True, dest=True)
def cpu_features(server, source, dest, snapshot):
    """cpu-features: the destination CPU runs the guest's CPU.

    Seed 8.2 "CPU constraints" (in all cases).  Nova's libvirt driver
    compares the guest CPU with the destination
    (``_compare_cpu`` / ``compareHypervisorCPU``): a ``host-model`` /
    ``host-passthrough`` guest carries the source's features, a
    ``custom`` one (``[libvirt] cpu_models``) only its model's, so it
    moves between host generations.  Host features from the hypervisor
    ``cpu_info`` (below compute 2.88) or placement ``HW_CPU_*`` traits
    (Rocky+); the guest CPU from its domain XML (``--ssh``).  An extra
    ``HW_CPU_*`` trait on the source is not a blocker by itself: traits
    name host capabilities (virtualisation, SEV, ...), not what the
    guest sees.  A live migration only: a cold-migrated guest boots on
    the destination CPU.
    """
    rule = 'cpu-features'
    live = (f.LIVE,)
    mode = server.guest_side.cpu_mode if server.guest_side else None
    if mode == 'custom':
        return _custom_guest(rule, server, dest, live, source)
    if not (source and source.cpu and dest.cpu):
        return base.unknown(
            rule, _('CPU features of the %s not known: no hypervisor '
                    'cpu_info (compute >= 2.88) and no HW_CPU_* traits')
            % (_('destination') if source and source.cpu
               else _('source')), live,
            _('check: openstack resource provider trait list <host>'))
    if source.cpu.source != dest.cpu.source:
        return base.unknown(
            rule, _('CPU features of the hosts come from different sources '
                    '(cpu_info and traits)'), live,
            _('use --os-compute-api-version 2.87 (or lower) so both show '
              'cpu_info'))
    missing = sorted(_features(source.cpu) - _features(dest.cpu))
    if not missing:
        return base.ok(rule, _('destination has every source CPU feature'),
                       live)
    if source.cpu.source == 'traits' and mode is None:
        return base.unknown(
            rule, _('the source has CPU traits the destination lacks (%s); '
                    'whether the guest uses them depends on its CPU mode '
                    'and model') % ', '.join(missing), live,
            _('use --ssh to read the guest CPU from its domain XML'))
    return [base.finding(
        rule, f.BLOCKER,
        _('destination lacks CPU features of the source: %s')
        % ', '.join(missing),
        _('choose a destination with the same CPU generation, or '
          'cold migrate'), live)]


@base.depends(lambda server, snapshot: (
    server.guest_side is None,
    server.guest_side.cpu_mode if server.guest_side else None),
    source=True, dest=True)
def cpu_model(server, source, dest, snapshot):
    """cpu-model: ``host-passthrough`` guests need an identical CPU model.

    Seed 8.2 "CPU constraints".  The guest CPU mode is only known on the
    source host (``--ssh``); without it a model difference is a warning.
    """
    rule = 'cpu-model'
    live = (f.LIVE,)

    def model(host):
        if host is None:
            return None
        if host.host_side and host.host_side.cpu_model:
            return host.host_side.cpu_model
        return host.cpu.model if host.cpu else None

    src, dst = model(source), model(dest)
    mode = server.guest_side.cpu_mode if server.guest_side else None
    if server.guest_side is not None and mode != 'host-passthrough':
        return base.ok(rule, _('guest CPU mode is %s') % (mode or 'default'),
                       live)
    if not src or not dst:
        return base.not_checked(rule, _('CPU model not known'), live,
                                _('use --ssh to read it on the hosts'))
    if src == dst:
        if mode:
            return base.ok(rule, _('guest CPU mode %(mode)s, same CPU model '
                                   '%(model)s') % {'mode': mode, 'model': src},
                           live)
        return base.ok(rule, _('same CPU model %s') % src, live)
    if mode == 'host-passthrough':
        return [base.finding(
            rule, f.BLOCKER,
            _('host-passthrough guest: CPU model %(dst)s differs from the '
              'source %(src)s') % {'dst': dst, 'src': src},
            _('choose a destination with the %s CPU, or cold migrate')
            % src, live)]
    return [base.finding(
        rule, f.WARNING,
        _('CPU model %(dst)s differs from the source %(src)s: a '
          'host-passthrough guest would fail') % {'dst': dst, 'src': src},
        _('use --ssh to read the guest CPU mode'), live)]


@base.depends(source=True, dest=True)
def hypervisor(server, source, dest, snapshot):
    """hypervisor: same hypervisor type, destination version >= source.

    Nova conductor live-migration checks (``skip_hypervisor_version_check
    _on_lm`` from Zed relaxes the version check).
    """
    rule = 'hypervisor'
    live = (f.LIVE,)
    if source is None or not source.hypervisor_type or \
            not dest.hypervisor_type:
        return base.unknown(
            rule, _('hypervisor type not known: no hypervisor record of '
                    'the %s') % (_('source') if source is None
                                 or not source.hypervisor_type
                                 else _('destination')), live,
            _('check: openstack hypervisor show <host>'))
    if source.hypervisor_type != dest.hypervisor_type:
        return [base.finding(
            rule, f.BLOCKER,
            _('hypervisor type %(dst)s differs from the source %(src)s')
            % {'dst': dest.hypervisor_type, 'src': source.hypervisor_type},
            _('choose a %s host') % source.hypervisor_type, live)]
    if (source.hypervisor_version is not None
            and dest.hypervisor_version is not None
            and dest.hypervisor_version < source.hypervisor_version):
        return [base.finding(
            rule, f.BLOCKER,
            _('destination hypervisor version %(dst)s is older than the '
              'source %(src)s')
            % {'dst': dest.hypervisor_version,
               'src': source.hypervisor_version},
            _('upgrade the destination or cold migrate'), live)]
    return base.ok(rule, _('same hypervisor type, version not older'), live)
