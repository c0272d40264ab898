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

"""The scheduler's Placement question: which hosts have room.

Before any filter runs, Nova's scheduler asks Placement ``GET
/allocation_candidates`` (``nova/scheduler/manager.py``
``select_destinations``, Pike+; ``PCPU`` and the disabled-compute trait
from Train): a host not in the answer gets NoValidHost, for a live
migration to a named host as for a cold one (compute 2.30+ / 2.56+ send
the named host through the scheduler).  The answer is in the snapshot as
:class:`~migrationclient.constraints.model.PlacementAnswer` (one per
distinct question, see :mod:`migrationclient.constraints.request`).

Each resource of the question belongs to one rule (:func:`owner`):
``MEMORY_MB`` memory, ``VCPU`` vcpu, ``DISK_GB`` disk-space, ``PCPU``
pinning, ``CUSTOM_PCI_*`` pci, any other class (vGPU / mdev, vPMEM
namespaces, ...) devices; traits and a refused question are the
``placement`` rule's.  When Placement leaves a host out, :func:`binds`
names what binds from the host's capacity (read from the other answers or
the per-host inventory) and traits, and the owner rule says "no"; so
every "no" from Placement names a resource or a trait.
"""

import dataclasses

from migrationclient._i18n import _
from migrationclient.constraints import model as f
from migrationclient.constraints.rules import base

#: Resource classes of the compute node (root) provider itself.
ROOT_CLASSES = ('VCPU', 'PCPU', 'MEMORY_MB', 'DISK_GB')
STATUS_DISABLED = 'COMPUTE_STATUS_DISABLED'
#: resource class -> rule that owns its "no"
OWNERS = {'MEMORY_MB': 'memory', 'VCPU': 'vcpu', 'DISK_GB': 'disk-space',
          'PCPU': 'pinning'}


def owner(resource_class):
    """The rule id that reports ``resource_class`` (see module doc)."""
    if resource_class in OWNERS:
        return OWNERS[resource_class]
    if resource_class.startswith('CUSTOM_PCI_'):
        return 'pci'
    return 'devices'


@dataclasses.dataclass(frozen=True)
class Bind:
    """What keeps a host out of Placement's answer.

    ``rule`` is the rule that reports it, ``name`` the resource class or
    trait, ``text`` the sentence.
    """

    rule: str
    name: str
    text: str


def key(server, snapshot):
    """The answer's key: part of every placement-reading rule's key."""
    answer = snapshot.placement_for(server.id)
    return answer.key if answer is not None else None


def answer_room(server, dest, snapshot):
    """``(answer, room)``: the server's answer and the destination's room.

    ``answer`` is None when Placement was not asked; ``room`` None when
    the destination is not in the answer.
    """
    answer = snapshot.placement_for(server.id)
    if answer is None:
        return None, None
    return answer, answer.rooms.get(dest.name)


def _fits(inventory, rc, amount):
    cap = (inventory or {}).get(rc)
    return cap is not None and cap.fits(amount)


def _resource_binds(answer, dest):
    inv = dest.inventory
    found, nested = [], []
    for rc, amount in answer.resources:
        cap = (inv or {}).get(rc)
        if rc == 'PCPU' and _fits(inv, 'VCPU', amount):
            continue        # the VCPU fallback question would find it
        if cap is None and inv is not None and rc in ROOT_CLASSES:
            found.append(Bind(owner(rc), rc, _(
                '%(rc)s: the destination has no %(rc)s inventory')
                % {'rc': rc}))
        elif cap is None:
            nested.append(rc)
        elif not cap.fits(amount):
            found.append(Bind(owner(rc), rc, _(
                '%(rc)s: needs %(need)d, %(free)d free of %(cap)d')
                % {'rc': rc, 'need': amount, 'free': cap.free,
                   'cap': cap.capacity}))
    return found, nested


def binds(answer, dest):
    """Why ``dest`` is not in ``answer``: a tuple of :class:`Bind`.

    From the destination's capacity (``HostFacts.inventory``: other
    answers' summaries or the per-host reads) and root traits.  When
    nothing visible binds, the resources outside the root provider
    (nested: vGPU, PCI, ...) are named, else the whole question.
    """
    found, nested = _resource_binds(answer, dest)
    traits = dest.traits
    if STATUS_DISABLED in answer.forbidden and not dest.is_enabled:
        # the services rule reports a disabled service itself
        found.append(Bind(
            'services' if not dest.is_enabled else 'placement',
            STATUS_DISABLED,
            _('trait %s: the destination compute service is disabled')
            % STATUS_DISABLED))
    if traits is not None:
        for trait in sorted(answer.required - traits):
            found.append(Bind('placement', trait, _(
                'required trait %s: the destination does not have it')
                % trait))
        for trait in sorted((answer.forbidden & traits) - {STATUS_DISABLED}):
            found.append(Bind('placement', trait, _(
                'forbidden trait %s: the destination has it') % trait))
    if found:
        return tuple(found)
    if reenabled(answer, dest) and not nested:
        return ()
    if nested:
        return tuple(Bind(owner(rc), rc, _(
            '%s: not free in the destination\'s providers') % rc)
            for rc in nested)
    return (Bind('placement', answer.asked, _(
        'no allocation candidate for %s (the binding resource or trait is '
        'not visible: max_unit, a nested provider or an aggregate)')
        % answer.asked),)


def reenabled(answer, dest):
    """True when only a disabled service kept ``dest`` out, and it is on.

    The service is enabled (again, or as a drain's restore will enable it
    before moving): Nova then removes ``COMPUTE_STATUS_DISABLED`` from
    the provider, and the host's own inventory and traits decide.
    """
    traits = dest.traits or frozenset()
    return (STATUS_DISABLED in answer.forbidden and dest.is_enabled
            and STATUS_DISABLED in traits)


def _answer_text(answer):
    return _('Placement\'s allocation candidates for %s') % answer.asked


def resource_findings(rule, server, dest, snapshot, classes):
    """The findings of ``rule`` for its ``classes`` from the answer.

    None when Placement was not asked (the rule keeps its per-host
    check).  Host in the answer: OK for each class the question asks,
    unless the host's capacity (after planned moves, see
    ``constraints.debit``) no longer fits it; host not in the answer: a
    blocker for each bind this rule owns, OK otherwise (another rule
    says what binds).
    """
    answer, room = answer_room(server, dest, snapshot)
    if answer is None:
        return None
    asked = [(rc, n) for rc, n in answer.resources if rc in classes]
    if answer.refused:
        return base.ok(rule, _('Placement refused the question (see the '
                               'placement rule)'))
    if room is None:
        mine = [b for b in binds(answer, dest) if b.rule == rule]
        if mine:
            return [base.finding(
                rule, f.BLOCKER,
                _('%(what)s leave the destination out: %(why)s')
                % {'what': _answer_text(answer),
                   'why': '; '.join(b.text for b in mine)},
                _('free capacity on the destination or choose another'))]
        return base.ok(rule, _('not what keeps the destination out of '
                               'Placement\'s answer'))
    found = []
    for rc, amount in asked:
        cap = (dest.inventory or {}).get(rc) or room.usage.get(rc)
        if cap is not None and not cap.fits(amount):
            found.append(base.finding(
                rule, f.BLOCKER,
                _('%(rc)s no longer fits after the planned moves: needs '
                  '%(need)d, %(free)d free') % {
                    'rc': rc, 'need': amount, 'free': cap.free},
                _('choose another destination')))
        elif cap is not None:
            found.extend(base.ok(rule, _(
                'Placement has room: %(rc)s needs %(need)d, %(free)d free '
                'of %(cap)d') % {
                    'rc': rc, 'need': amount, 'free': cap.free,
                    'cap': cap.capacity}))
        else:
            found.extend(base.ok(rule, _(
                'Placement has room for %(rc)s:%(need)d') % {
                    'rc': rc, 'need': amount}))
    return found or base.ok(rule, _('Placement has room (%s)')
                            % answer.asked)


@base.depends(key, dest=True)
def placement(server, source, dest, snapshot):
    """placement: the host is in Placement's allocation candidates.

    Nova's scheduler (Pike+, ``select_destinations``) asks Placement
    first; a host not in the answer gets NoValidHost.  This rule reports
    the traits that keep it out (required / forbidden traits of the flavor
    and image, ``COMPUTE_STATUS_DISABLED`` from Train) and a question
    Placement refused; resources are reported by their own rules
    (:func:`owner`).  Without an answer (placement < 1.10, OSP 10) the
    capacity rules read the per-host inventories instead.
    """
    rule = 'placement'
    answer, room = answer_room(server, dest, snapshot)
    if answer is None:
        return base.not_checked(rule, _(
            'allocation candidates not asked (placement below 1.10 or not '
            'readable): capacity from the per-host inventories'))
    if answer.refused:
        return [base.finding(
            rule, f.BLOCKER,
            _('Placement refused the question for %(asked)s: %(why)s')
            % {'asked': answer.asked, 'why': answer.refused},
            _('fix the flavor or image traits / resource classes'))]
    if room is not None:
        text = _('%s: the destination has room') % _answer_text(answer)
        if room.fallback_only:
            text += _(' (through the VCPU fallback question only: no free '
                      'PCPU, see the pinning rule)')
        return base.ok(rule, text)
    found = binds(answer, dest)
    if not found:
        return base.ok(rule, _(
            '%s left the destination out as a disabled compute; enabled, '
            'it has room (its inventory and traits)') % _answer_text(answer))
    mine = [b for b in found if b.rule == rule]
    if not mine:
        return base.ok(rule, _('%(what)s leave the destination out; see the '
                               '%(rules)s rule') % {
            'what': _answer_text(answer),
            'rules': ', '.join(sorted({b.rule for b in found}))})
    return [base.finding(
        rule, f.BLOCKER,
        _('%(what)s leave the destination out: %(why)s')
        % {'what': _answer_text(answer),
           'why': '; '.join(b.text for b in mine)},
        _('choose a destination with the traits the server asks'))]
