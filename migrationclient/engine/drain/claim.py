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

"""The drain claim: a marker in the disable reason naming the drain.

A drain disables each source's ``nova-compute`` with the reason
``[drain:<report id>] <operator's text>`` (the marker first, so Nova's 255
characters never cut it; the operator's ``--disable-reason`` is kept
whole).  The report id is the ``id`` of the drain's report file.  The
claim is what the drains of a fleet agree on, with no lock service of
their own (the kured / medik8s lease, on the one record every drain and
operator already reads):

* a source claimed by another drain refuses the drain, naming that drain
  (``--resume`` of that report, or the rerun that continues it, goes on);
* a claimed host is never a destination (:func:`.policy.unusable_hosts`);
* ``--enable-when-done`` and ``--restore --enable-service`` enable only a
  service that carries this drain's own claim: never one disabled by
  someone else or for another reason.

Old clouds (compute 2.38, ``PUT /os-services/disable-log-reason``) store
the same reason: the claim needs nothing newer.
"""

import re
import uuid

from migrationclient._i18n import _
from migrationclient.cloud import services as services_mod
from migrationclient.engine.drain.model import DrainError
from migrationclient.engine import report as report_mod

#: ``[drain:<id>]``; the id is 12 lowercase hex digits (ours) or any
#: ``[A-Za-z0-9._-]`` up to 36 characters (a report id of another tool)
MARKER_RE = re.compile(r'\[drain:([A-Za-z0-9._-]{1,36})\]')
ID_LENGTH = 12
#: ``[drain:`` + id + ``] ``
MARKER_LENGTH = len('[drain:]') + ID_LENGTH + 1
#: the longest ``--disable-reason`` that fits beside the marker
MAX_TEXT_LENGTH = services_mod.MAX_REASON_LENGTH - MARKER_LENGTH


def new_id():
    """A new report id (12 hex digits)."""
    return uuid.uuid4().hex[:ID_LENGTH]


def report_id(report):
    """The id of ``report`` (a dict), given one if it has none (old)."""
    if not report.get('id'):
        report['id'] = new_id()
    return report['id']


def marker(rid):
    return '[drain:%s]' % rid


def reason(rid, text):
    """The disable reason of drain ``rid``: marker, then ``text``."""
    return ('%s %s' % (marker(rid), text))[:services_mod.MAX_REASON_LENGTH]


def owner(disabled_reason):
    """The report id a disable reason claims the host for, or None."""
    match = MARKER_RE.search(disabled_reason or '')
    return match.group(1) if match else None


def own_ids(path):
    """The report id of the report at ``path`` (this drain's file), if any.

    A drain run again over its own report (to continue it, or after it
    completed: the file is then archived) is the same drain: its claim
    is its own.
    """
    try:
        return {report_mod.load(path).get('id')} - {None}
    except report_mod.ReportError:
        return set()


def refuse_claimed(services, mine):
    """Refuse sources another drain claims.

    :param services: the sources' :class:`services.ComputeService`
    :param mine: report ids that are this drain's (:func:`own_ids`)
    :raises DrainError: naming the first drain and its reason
    """
    for svc in services:
        other = owner(svc.disabled_reason) if not svc.is_enabled else None
        if other and other not in mine:
            raise DrainError(
                _('%(host)s is claimed by drain %(other)s (disabled: '
                  '"%(why)s"): another drain runs or ran on it. Nothing '
                  'was changed; continue that drain with --resume of its '
                  'report, or enable the service once it is over.') % {
                    'host': svc.host, 'other': other,
                    'why': svc.disabled_reason})


def may_enable(svc, rid, entry):
    """``(yes, why not)``: may drain ``rid`` enable ``svc`` again?

    Only when the drain disabled it (``entry``, the drain report's service
    entry of the host, says so) and the service still carries this
    drain's claim.  A report written before claims (no ``id``) is matched
    on the exact reason it recorded.

    :param rid: the drain report's id (None for a report without one)
    """
    if svc.is_enabled:
        return True, None
    entry = entry or {}
    other = owner(svc.disabled_reason)
    if not entry.get('disabled_by_drain'):
        return False, _('it was disabled before the drain (%s)') % (
            entry.get('reason') or svc.disabled_reason or '-')
    if other is not None and other == rid:
        return True, None
    if other is None and rid is None and entry.get('reason') and \
            svc.disabled_reason == entry['reason']:
        return True, None
    if other is not None:
        return False, _('claimed by drain %s') % other
    return False, _('disabled by someone else or for another reason '
                    '(%s)') % (svc.disabled_reason or '-')


def claim_disabled(actions, svc, rid, entry):
    """Put this drain's claim on a source that was already disabled.

    The reason someone else gave stays (after the marker, cut to fit);
    the report says the drain did not disable it, so the drain never
    enables it.
    """
    if owner(svc.disabled_reason) == rid:
        return
    text = MARKER_RE.sub('', svc.disabled_reason or '').strip() or '-'
    actions.disable_service(svc, reason(rid, text))
    entry['claimed'] = True
