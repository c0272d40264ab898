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

"""Validation of the numbers and durations the commands take.

One place, so that every command refuses ``nan``, ``inf``, negative and
non-numeric values the same way, with one line that names the option.
"""

import argparse
import math

from osc_lib import exceptions

from migrationclient._i18n import _


def _parse(value, kind):
    try:
        number = kind(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return number


def number(name, value, kind=float, minimum=0, positive=False):
    """Return ``value`` as a finite ``kind`` or raise CommandError.

    ``None`` passes through (option not given).  ``positive`` refuses 0;
    ``minimum`` is the smallest value allowed.
    """
    if value is None:
        return None
    parsed = _parse(value, kind)
    if parsed is None:
        raise exceptions.CommandError(
            _('%(name)s: %(value)r is not a finite number')
            % {'name': name, 'value': value})
    if positive and parsed <= 0:
        raise exceptions.CommandError(_('%s must be more than 0') % name)
    if parsed < minimum:
        raise exceptions.CommandError(
            _('%(name)s must be at least %(min)s')
            % {'name': name, 'min': minimum})
    return parsed


def seconds(name, value, allow_zero=False):
    """A duration in seconds: finite, not negative, 0 only if allowed."""
    return number(name, value, minimum=0, positive=not allow_zero)


def positive_seconds(text):
    """argparse ``type=`` for a duration that must be more than 0."""
    parsed = _parse(text, float)
    if parsed is None or parsed <= 0:
        raise argparse.ArgumentTypeError(
            _('expected a positive number of seconds, got %r') % text)
    return parsed
