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

"""Sphinx configuration for the python-migrationclient documentation.

Builds offline: openstackdocstheme is used when it is installed and the
build runs in a git checkout (the theme reads the commit), otherwise
Sphinx's own ``alabaster`` theme.  The command
reference is generated from the ``openstack.migration.v1`` entry points by
``cliff.sphinxext``, so the package must be installed (``tox -e docs`` does
that).
"""

import importlib
from importlib import metadata
import re
import subprocess

from cliff import sphinxext as cliff_sphinxext
from docutils import nodes
from docutils.parsers.rst import Directive
from docutils import statemachine
from sphinx.directives import other as sphinx_other
from sphinx.util import docname_join

# -- General configuration ---------------------------------------------------

extensions = [
    'cliff.sphinxext',
]


def _in_git_checkout():
    # openstackdocstheme reads the commit with git and warns (an error
    # under -W) outside a checkout, e.g. when building from an sdist.
    try:
        subprocess.run(['git', 'rev-parse', 'HEAD'], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


try:
    import openstackdocstheme  # noqa: F401
except ImportError:
    HAVE_OPENSTACKDOCSTHEME = False
else:
    HAVE_OPENSTACKDOCSTHEME = _in_git_checkout()
if HAVE_OPENSTACKDOCSTHEME:
    extensions.append('openstackdocstheme')

autoprogram_cliff_application = 'openstack'

source_suffix = {'.rst': 'restructuredtext'}
master_doc = 'index'
project = 'python-migrationclient'
copyright = '2026, python-migrationclient developers'
author = 'python-migrationclient developers'
exclude_patterns = ['_build']
pygments_style = 'native'
add_module_names = False
show_authors = False

# -- openstackdocstheme ------------------------------------------------------

openstackdocs_repo_name = 'openstack/python-migrationclient'
openstackdocs_pdf_link = False
openstackdocs_auto_name = False
openstackdocs_use_storyboard = False
openstackdocs_bug_project = 'python-migrationclient'
openstackdocs_bug_tag = 'doc'

# -- HTML output -------------------------------------------------------------

html_theme = 'openstackdocs' if HAVE_OPENSTACKDOCSTHEME else 'alabaster'
htmlhelp_basename = 'python-migrationclientdoc'

# -- Man page output ---------------------------------------------------------

# (source start file, name, description, authors, manual section).  The RPM
# ships this page as openstack-migration.1 in python-migrationclient-doc.
man_pages = [
    ('cli/index', 'openstack-migration',
     'OpenStackClient commands for safe, observable server migrations',
     [author], 1),
]


# -- The command reference while the group is still filling up -------------

def _group_has_commands(group):
    return bool(metadata.entry_points(group=group))


class AutoprogramCliff(cliff_sphinxext.AutoprogramCliffDirective):
    """``autoprogram-cliff`` that states an empty command group plainly.

    cliff warns (an error under ``-W``) when a group has no command; the
    plugin's group legitimately starts empty, so say so in the page instead.
    """

    def run(self):
        group = self.arguments[0]
        if (not self.options.get('command')
                and not _group_has_commands(group)
                and self._load_app() is None):
            text = ('No command is registered in the %s entry-point group '
                    'of the installed package.' % group)
            return [nodes.paragraph(text=text)]
        return super().run()


class OptionalTocTree(sphinx_other.TocTree):
    """A ``toctree`` that leaves out entries whose document does not exist.

    The command guides (user/precheck.rst, ...) and the test bed page are
    written by their authors as the code lands; a plain toctree would warn
    about the missing ones, and so does a ``:glob:`` pattern that matches
    nothing.  Entries are plain document names (no globs, no titles).
    """

    def run(self):
        env = self.state.document.settings.env
        # Which documents exist can change between builds: read this one
        # again every time instead of trusting the cached environment.
        env.note_reread()
        kept = [entry for entry in self.content
                if entry.strip() and
                docname_join(env.docname, entry.strip()) in env.found_docs]
        if not kept:
            return []
        self.content = statemachine.StringList(
            kept, source=self.content.source(0))
        return super().run()


def _parse_rst(directive, lines):
    result = statemachine.StringList()
    for line in lines:
        result.append(line, '<%s>' % directive.name)
    node = nodes.section()
    node.document = directive.state.document
    directive.state.nested_parse(result, 0, node)
    return node.children


def _table(header, rows, widths):
    lines = ['.. list-table::', '   :header-rows: 1',
             '   :widths: %s' % ' '.join(str(w) for w in widths), '']
    for row in [header] + rows:
        first = True
        for cell in row:
            lines.append('   %s %s' % ('* -' if first else '  -', cell))
            first = False
    return lines


_CONSTANT = re.compile(r'^([A-Z][A-Z0-9_]*)\s*=\s*(\d+)\s*(?:#\s*(.*))?$')


# Statuses the module leaves without a comment.
_EXIT_FALLBACK = {'OK': 'Success.'}


class ExitStatusTable(Directive):
    """Table of the exit statuses in ``migrationclient.exitcodes``.

    Values and descriptions come from the module itself (its ``#:``
    comment, or the comment on the same line), so the page cannot drift
    from the code.
    """

    has_content = False

    def run(self):
        module = importlib.import_module('migrationclient.exitcodes')
        with open(module.__file__, encoding='utf-8') as source:
            lines = source.read().splitlines()
        rows = []
        doc = []
        for line in lines:
            stripped = line.strip()
            if stripped.startswith('#:'):
                doc.append(stripped[2:].strip())
                continue
            match = _CONSTANT.match(stripped)
            if match:
                name, value, comment = match.groups()
                text = ' '.join(doc) or comment or _EXIT_FALLBACK.get(name, '')
                rows.append(('``%s``' % value, '``%s``' % name, text))
            doc = []
        return _parse_rst(self, _table(
            ('Status', 'Name', 'Meaning'), rows, (10, 25, 65)))


# Features of ``migrationclient.microversions``: what a cloud older than the
# feature's microversion lacks.  The version numbers come from the module.
MICROVERSION_FEATURES = {
    'FORCE_COMPLETE': 'Force-complete a running live migration.',
    'SERVER_MIGRATIONS':
        'List and show the migrations of a server, with memory and disk '
        'progress in bytes; ``migration_type`` in os-migrations.',
    'ABORT': 'Abort a running live migration.',
    'LIVE_HOST_SCHEDULED':
        'A live migration target host is checked by the scheduler unless '
        'forced.',
    'COLD_MIGRATE_HOST':
        'A cold migration can name its target host; before, the scheduler '
        'always chooses.',
    'MIGRATION_UUID':
        'Migrations carry a UUID; os-migrations is paginated and filters on '
        '``changes-since``.',
    'ABORT_QUEUED':
        'Abort also applies to ``queued`` and ``preparing`` live '
        'migrations, not only ``running`` ones.',
    'SERVER_TOPOLOGY':
        'The server topology API shows the guest NUMA placement '
        '(host nodes and CPU pinning for admins).',
}


class MicroversionTable(Directive):
    """Tables generated from ``migrationclient.microversions``.

    ``.. microversion-table:: releases`` renders the release map,
    ``.. microversion-table:: features`` the feature microversions.
    """

    required_arguments = 1
    has_content = False

    def run(self):
        mv = importlib.import_module('migrationclient.microversions')
        kind = self.arguments[0]
        if kind == 'releases':
            rows = [(str(r.nova), r.name, r.osp or '', '``%s``' %
                     r.max_version) for r in mv.RELEASES]
            table = _table(('Nova', 'Release', 'Red Hat OSP',
                            'Highest compute microversion'),
                           rows, (10, 35, 20, 35))
        elif kind == 'features':
            features = sorted(
                (value, name) for name, value in vars(mv).items()
                if isinstance(value, mv.Version) and name != 'MINIMUM')
            rows = []
            for value, name in features:
                if value <= mv.MINIMUM:
                    since = 'every supported cloud'
                else:
                    release = _first_release(mv, value)
                    since = release.label if release else 'not yet released'
                rows.append(('``%s``' % value, '``%s``' % name,
                             MICROVERSION_FEATURES.get(name, ''), since))
            table = _table(('Microversion', 'Feature', 'What it brings',
                            'Available from'), rows, (12, 22, 48, 18))
        else:
            raise self.error('unknown microversion table %r' % kind)
        return _parse_rst(self, table)


def _first_release(mv, version):
    for release in mv.RELEASES:
        if release.max_version >= version:
            return release
    return None


def setup(app):
    app.add_directive('autoprogram-cliff', AutoprogramCliff, override=True)
    app.add_directive('optional-toctree', OptionalTocTree)
    app.add_directive('exit-status-table', ExitStatusTable)
    app.add_directive('microversion-table', MicroversionTable)
