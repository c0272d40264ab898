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
"""The one place that knows compute microversions and Nova releases.

Everything here is pure: it maps a cloud's maximum compute microversion to
the Nova release it most likely runs (the *oldest* release with that
maximum, so that a guess never grants a capability the cloud may lack) and
names the microversion each feature this plugin uses first appeared in.
Sources: nova ``api_version_request.py`` and ``rest_api_version_history.rst``
(see doc/source/user/microversions.rst).
"""

import dataclasses
import functools


@functools.total_ordering
@dataclasses.dataclass(frozen=True)
class Version:
    """A ``major.minor`` API microversion, ordered numerically."""

    major: int
    minor: int

    @classmethod
    def parse(cls, value):
        """Parse ``'2.38'``, ``(2, 38)`` or a Version; raise ValueError."""
        if isinstance(value, Version):
            return value
        if isinstance(value, tuple):
            return cls(int(value[0]), int(value[1]))
        text = str(value).strip()
        major, sep, minor = text.partition('.')
        if not sep or not major.isdigit() or not minor.isdigit():
            raise ValueError('invalid microversion %r' % (value,))
        return cls(int(major), int(minor))

    def __lt__(self, other):
        other = Version.parse(other)
        return (self.major, self.minor) < (other.major, other.minor)

    def __str__(self):
        return '%d.%d' % (self.major, self.minor)


@dataclasses.dataclass(frozen=True)
class Release:
    """A Nova release as far as the compute API can tell."""

    nova: int          # Nova major version (14 = Newton)
    name: str          # release name
    max_version: Version
    osp: str = ''      # Red Hat OpenStack Platform release, where one maps

    @property
    def label(self):
        if self.osp:
            return '%s (%s)' % (self.name, self.osp)
        return self.name


# Highest compute microversion per Nova release.
_RELEASE_TABLE = (
    (14, 'Newton', '2.38', 'OSP 10'),
    (15, 'Ocata', '2.42', 'OSP 11'),
    (16, 'Pike', '2.53', 'OSP 12'),
    (17, 'Queens', '2.60', 'OSP 13'),
    (18, 'Rocky', '2.65', 'OSP 14'),
    (19, 'Stein', '2.72', 'OSP 15'),
    (20, 'Train', '2.79', 'OSP 16'),
    (21, 'Ussuri', '2.87', ''),
    (22, 'Victoria', '2.87', ''),
    (23, 'Wallaby', '2.88', 'OSP 17'),
    (24, 'Xena', '2.90', ''),
    (25, 'Yoga', '2.90', ''),
    (26, 'Zed', '2.93', ''),
    (27, '2023.1 Antelope', '2.95', ''),
    (28, '2023.2 Bobcat', '2.95', ''),
    (29, '2024.1 Caracal', '2.96', ''),
    (30, '2024.2 Dalmatian', '2.96', ''),
    (31, '2025.1 Epoxy', '2.100', ''),
    (32, '2025.2 Flamingo', '2.100', ''),
    (33, '2026.1', '2.103', ''),
    (34, '2026.2', '2.104', ''),
)
RELEASES = tuple(Release(n, name, Version.parse(v), osp)
                 for n, name, v, osp in _RELEASE_TABLE)

# Nova releases by major version, for constraint rules ("since Train").
NEWTON, OCATA, PIKE, QUEENS, ROCKY, STEIN, TRAIN, USSURI = range(14, 22)
VICTORIA, WALLABY, XENA, YOGA, ZED = range(22, 27)
ANTELOPE, BOBCAT, CARACAL, DALMATIAN, EPOXY, FLAMINGO = range(27, 33)
GAZPACHO = 33

# Compute microversions this plugin uses, by feature.
FORCE_COMPLETE = Version(2, 22)
SERVER_MIGRATIONS = Version(2, 23)
ABORT = Version(2, 24)
LIVE_HOST_SCHEDULED = Version(2, 30)
COLD_MIGRATE_HOST = Version(2, 56)
MIGRATION_UUID = Version(2, 59)
ABORT_QUEUED = Version(2, 65)
SERVER_TOPOLOGY = Version(2, 78)

# The oldest cloud this plugin supports (OSP 10).
MINIMUM = Version(2, 38)


@functools.lru_cache(maxsize=64)
def release_for(max_version):
    """Return the oldest :class:`Release` whose maximum is ``max_version``.

    A maximum between two known ones maps to the older release; one above
    every known maximum maps to the newest known release.
    """
    version = Version.parse(max_version)
    best = None
    for release in RELEASES:
        if release.max_version <= version:
            if best is None or release.max_version > best.max_version:
                best = release
    if best is None:
        return RELEASES[0]
    return best


def supports(max_version, required):
    """True when a cloud whose maximum is ``max_version`` has ``required``."""
    return Version.parse(max_version) >= Version.parse(required)
