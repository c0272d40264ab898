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

"""Pre-Train pinned guests keep their host CPUs on a live migration
(seed 8.0, RHSA-2018:0369 and RHBA-2019:0074; seed 8.2 "CPU constraints").
"""

from migrationclient._i18n import _
from migrationclient.constraints import model as f
from migrationclient.constraints.rules import base
from migrationclient import microversions as mv

RULE = 'same-cpus'
QUICK_FAIL = '[workarounds] cpu_pinning_migration_quick_fail'


def _cpus(cpus):
    return ','.join(str(c) for c in sorted(cpus)) or '-'


def _digest(facts):
    return (tuple(sorted(facts.cpus)), facts.cells,
            tuple(sorted(facts.taken.items())),
            tuple(sorted(facts.not_dedicated)), facts.cells_short,
            facts.dedicated_known, facts.quick_fail)


def _key(server, snapshot):
    """Pinned guests below Train: their same-CPU facts; others: one key."""
    if not server.dedicated_cpus:
        return (False,)
    if snapshot.cloud.nova >= mv.TRAIN:
        return (True,)
    side = server.guest_side
    if side is None:
        return (True, None)
    return (True, tuple(sorted(
        (dest, _digest(x)) for dest, x in side.same_cpus.items())))


def _cold(facts):
    """The cold migration finding: the scheduler pins it anew.

    ``facts``: the same-CPU facts when the CPUs are *not* free (else
    None): Red Hat's quick fail may then refuse a cold move too.
    """
    if facts is not None and facts.quick_fail:
        return base.finding(
            RULE, f.WARNING,
            _('%s is true on the destination: Red Hat OSP may also refuse '
              'a cold migration onto CPUs another guest holds '
              '(RHBA-2019:0074)') % QUICK_FAIL,
            _('set it to false there to let cold moves re-pin'),
            (f.COLD,))
    return base.finding(
        RULE, f.OK, _('a cold migration gets new pinning from the '
                      'scheduler'), applies_to=(f.COLD,))


@base.depends(_key, dest=True)
def same_cpus(server, source, dest, snapshot):
    """same-cpus: before Train, the guest's very host CPUs are free.

    Before Train, Nova live-migrates a pinned guest with its pinning
    unchanged: the same host CPU ids and NUMA node must be free on the
    destination, and in its pinning set (seed 8.2; RHSA-2018:0369 makes
    Red Hat OSP refuse the move when they are taken, instead of leaving
    two guests on the same CPUs; RHBA-2019:0074 adds ``[workarounds]
    cpu_pinning_migration_quick_fail``).  Train and later re-pin on the
    destination.  The CPUs are read with ``--ssh`` (``virsh vcpupin`` of
    the guest on its source and of every domain on the destination).
    """
    nova = snapshot.cloud.nova
    if not server.dedicated_cpus:
        return base.ok(RULE, _('guest CPUs are not pinned'))
    if nova >= mv.TRAIN:
        return base.ok(RULE, _('Train and later re-pin a live-migrated '
                               'guest on the destination'))
    release = snapshot.cloud.release.label
    side = server.guest_side
    facts = side.same_cpus.get(dest.name) if side is not None else None
    if facts is None:
        why = (_('the guest\'s pinned host CPUs and the destination\'s '
                 'pinned CPUs were not read')
               if side is None else
               _('the destination\'s pinned CPUs were not read'))
        return base.unknown(
            RULE, _('before Train (this cloud: %(rel)s) a pinned guest '
                    'live-migrates with its pinning unchanged: the same '
                    'host CPU ids and NUMA node must be free on the '
                    'destination; %(why)s') % {'rel': release, 'why': why},
            (f.LIVE,),
            _('use --ssh (virsh vcpupin on both hosts), or compare virsh '
              'vcpuinfo of the guest with the destination by hand; Red Hat '
              'OSP: see %s') % QUICK_FAIL) + [_cold(None)]
    cells = ','.join(str(c) for c in facts.cells) or '-'
    if not facts.cpus:
        none = base.finding(
            RULE, f.OK, _('libvirt shows no vCPU of the guest pinned to one '
                          'host CPU on its source'), applies_to=(f.LIVE,))
        return [none, _cold(None)]
    if facts.free:
        text = _('host CPUs %(cpus)s (cell %(cells)s) are free on the '
                 'destination: the guest keeps them (before Train)') % {
                     'cpus': _cpus(facts.cpus), 'cells': cells}
        if not facts.dedicated_known:
            text += _('; its nova.conf was not read, every CPU counted as '
                      'pinnable')
        return [base.finding(RULE, f.OK, text, applies_to=(f.LIVE,)),
                _cold(None)]
    parts = []
    if facts.taken:
        parts.append(_('taken: %s') % ', '.join(
            _('CPU %(cpu)d by %(names)s') % {
                'cpu': cpu, 'names': ' + '.join(names)}
            for cpu, names in sorted(facts.taken.items())))
    if facts.not_dedicated:
        parts.append(_('CPU %s not in its pinning set (vcpu_pin_set)')
                     % _cpus(facts.not_dedicated))
    if facts.cells_short:
        parts.append(_('not enough free memory on cell %s') % ','.join(
            str(c) for c in facts.cells_short))
    message = _('before Train (%(rel)s) the guest keeps host CPUs %(cpus)s '
                '(cell %(cells)s) on a live migration; on the destination: '
                '%(parts)s (RHSA-2018:0369: Red Hat OSP refuses the move; '
                'Nova without it would put two guests on the same CPUs)') % {
                    'rel': release, 'cpus': _cpus(facts.cpus),
                    'cells': cells, 'parts': '; '.join(parts)}
    return [base.finding(
        RULE, f.BLOCKER, message,
        _('choose a destination where these CPUs are free, free them, or '
          'cold migrate (it re-pins); %s is Red Hat OSP\'s switch for '
          'the early refusal') % QUICK_FAIL, (f.LIVE,)), _cold(facts)]
