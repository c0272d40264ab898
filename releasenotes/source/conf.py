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

"""Sphinx configuration for the python-migrationclient release notes.

reno reads the notes from the git history of the repository (and the
uncommitted ones in the work tree), so this builds inside a git checkout.
"""

extensions = [
    'reno.sphinxext',
]

try:
    import openstackdocstheme  # noqa: F401
except ImportError:
    HAVE_OPENSTACKDOCSTHEME = False
else:
    HAVE_OPENSTACKDOCSTHEME = True
    extensions.append('openstackdocstheme')

source_suffix = {'.rst': 'restructuredtext'}
master_doc = 'index'
project = 'python-migrationclient Release Notes'
copyright = '2026, python-migrationclient developers'
author = 'python-migrationclient developers'
exclude_patterns = []
pygments_style = 'native'

# The release notes are not versioned like the code: leave them unnumbered.
version = ''
release = ''

openstackdocs_repo_name = 'openstack/python-migrationclient'
openstackdocs_auto_name = False
openstackdocs_use_storyboard = False
openstackdocs_bug_project = 'python-migrationclient'
openstackdocs_bug_tag = 'releasenotes'

html_theme = 'openstackdocs' if HAVE_OPENSTACKDOCSTHEME else 'alabaster'
htmlhelp_basename = 'python-migrationclientReleaseNotesdoc'

# Internationalization: translated release notes go under locale/.
locale_dirs = ['locale/']
