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


"""The architecture page, enforced (doc/source/contributor/architecture.rst).

Imports point down the layers, as the page's table says (read from the
page); only ``v1/`` raises ``CommandError``; ``engine/`` makes no cloud
call of its own; no module reaches another's private names; every
exception derives from the root error; the page's picture names every
module; product modules and classes stay small enough to read.  The
Ansible collection, a second front end, is held to the same import rules.
"""

import ast
import importlib
import inspect
import pathlib
import re

import testtools

from migrationclient import errors

TOP = pathlib.Path(__file__).resolve().parents[3]
PACKAGE = TOP / 'migrationclient'
COLLECTION = TOP / 'ansible_collections' / 'openstack' / 'migration'
PAGE = TOP / 'doc' / 'source' / 'contributor' / 'architecture.rst'

#: layer of each top-level part of the package
LAYERS = {
    'v1': 'v1', 'engine': 'engine', 'cloud': 'cloud', 'host': 'host',
    'constraints': 'constraints', 'microversions': 'base',
    'exitcodes': 'base', 'errors': 'base', '_i18n': 'base',
    'plugin': 'plugin', '__init__': 'base',
}

#: the Ansible collection's layer (a front end beside ``v1``)
ANSIBLE = 'ansible'

#: which layers each layer may import (itself included)
MAY_IMPORT = {
    'plugin': {'plugin', 'base'},
    'v1': {'v1', 'engine', 'cloud', 'host', 'constraints', 'base'},
    ANSIBLE: {ANSIBLE, 'engine', 'cloud', 'host', 'constraints', 'base'},
    'engine': {'engine', 'cloud', 'host', 'constraints', 'base'},
    'cloud': {'cloud', 'constraints', 'base'},
    'host': {'host', 'constraints', 'base'},
    'constraints': {'constraints', 'base'},
    'base': {'base'},
}

#: third-party packages a layer must not import
FORBIDDEN = {
    'v1': ('openstack', 'keystoneauth1'),
    ANSIBLE: ('osc_lib', 'cliff'),
    'engine': ('openstack', 'keystoneauth1', 'osc_lib', 'cliff',
               'paramiko'),
    'cloud': ('osc_lib', 'cliff', 'paramiko'),
    'host': ('openstack', 'keystoneauth1', 'osc_lib', 'cliff'),
    'constraints': ('openstack', 'keystoneauth1', 'osc_lib', 'cliff',
                    'paramiko', 'requests', 'socket', 'subprocess'),
    'base': ('openstack', 'keystoneauth1', 'osc_lib', 'cliff',
             'paramiko'),
}

#: packages of this repository that no product code imports
NEVER_IMPORTED = ('testbed', 'benchmarks')

#: sub-packages that are pure (no I/O): what they may import of the
#: package besides themselves and the base modules
PURE = {
    ('engine', 'capacity'): ('constraints',),
}

MAX_MODULE_LINES = 800
MAX_CLASS_LINES = 300


def product_modules():
    for path in sorted(PACKAGE.rglob('*.py')):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == 'tests':
            continue
        yield rel, path.read_text()


def collection_modules():
    for path in sorted((COLLECTION / 'plugins').rglob('*.py')):
        yield path.relative_to(COLLECTION), path.read_text()


def layer_of(rel):
    return LAYERS.get(rel.parts[0].removesuffix('.py'), 'unknown')


def all_modules():
    """(path for messages, layer, package-relative path, text)."""
    for rel, text in product_modules():
        yield 'migrationclient/%s' % rel, layer_of(rel), rel, text
    for rel, text in collection_modules():
        yield 'ansible_collections/openstack/migration/%s' % rel, \
            ANSIBLE, None, text


def imported_modules(tree, rel):
    """Dotted names of everything a module imports (absolute).

    ``from a.b import c`` gives ``a.b.c`` (``c`` may be a module or a
    name in ``a.b``).
    """
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ['migrationclient'] + list(rel.parts[:-1])
                base = base[:len(base) - node.level + 1]
                module = '.'.join(base + ([node.module] if node.module
                                          else []))
            else:
                module = node.module
            for alias in node.names:
                yield module if alias.name == '*' else \
                    '%s.%s' % (module, alias.name)


def private_reaches(tree):
    """(line, text) of each reach for another module's private name.

    ``module._name`` and ``from module import _name``, where ``module``
    is one of migrationclient's.
    """
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith('migrationclient'):
                    aliases[alias.asname or alias.name] = alias.name
        elif (isinstance(node, ast.ImportFrom) and node.module and
              node.module.startswith('migrationclient')):
            for alias in node.names:
                full = '%s.%s' % (node.module, alias.name)
                aliases[alias.asname or alias.name] = full
                if _private(alias.name) and alias.name not in ('_', '_i18n'):
                    yield node.lineno, 'from %s import %s' % (node.module,
                                                              alias.name)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and
                isinstance(node.value, ast.Name) and
                node.value.id in aliases and _private(node.attr)):
            yield node.lineno, '%s.%s' % (aliases[node.value.id],
                                          node.attr)


def _private(name):
    return name.startswith('_') and not name.startswith('__')


def _backticked(text):
    return re.findall(r'``([^`]+)``', text)


def page_section(text, title):
    """The body of the page section ``title`` (up to the next title)."""
    lines = text.splitlines()
    start = lines.index(title) + 2
    end = next((i - 1 for i in range(start, len(lines))
                if i + 1 < len(lines) and lines[i] and
                set(lines[i + 1]) == {'-'} and
                len(lines[i + 1]) == len(lines[i])), len(lines))
    return lines[start:end]


def page_table(lines):
    """The rows of the first list-table in ``lines``: lists of cells."""
    rows = []
    for line in lines:
        if line.startswith('   * - '):
            rows.append([line[7:]])
        elif line.startswith('     - ') and rows:
            rows[-1].append(line[7:])
        elif line.startswith('       ') and rows:
            rows[-1][-1] += ' ' + line.strip()
    return rows


def page_layer(token):
    """The layer a ``literal`` name of the page stands for, or None."""
    name = token.split('/')[0].removesuffix('.py')
    if name == 'ansible_collections':
        return ANSIBLE
    return LAYERS.get(name)


class TestArchitecture(testtools.TestCase):

    def test_imports_point_down(self):
        wrong = []
        for where, layer, rel, text in all_modules():
            for name in imported_modules(ast.parse(text), rel):
                parts = name.split('.')
                if parts[0] == 'migrationclient':
                    target = LAYERS.get(parts[1] if len(parts) > 1
                                        else '__init__')
                    if target not in MAY_IMPORT.get(layer, ()):
                        wrong.append('%s (%s) imports %s (%s)'
                                     % (where, layer, name, target))
                elif parts[0] in FORBIDDEN.get(layer, ()):
                    wrong.append('%s (%s) imports %s' % (where, layer, name))
                elif parts[0] in NEVER_IMPORTED:
                    wrong.append('%s imports %s' % (where, name))
        self.assertEqual([], wrong)

    def test_pure_packages_do_no_io(self):
        wrong = []
        for rel, text in product_modules():
            allowed = PURE.get(rel.parts[:2])
            if allowed is None:
                continue
            own = 'migrationclient.' + '.'.join(rel.parts[:2])
            for name in imported_modules(ast.parse(text), rel):
                parts = name.split('.')
                if parts[0] == 'migrationclient':
                    ok = (name == own or name.startswith(own + '.') or
                          LAYERS.get(parts[1]) == 'base' or
                          parts[1] in allowed)
                else:
                    ok = parts[0] not in FORBIDDEN['constraints']
                if not ok:
                    wrong.append('%s imports %s' % (rel, name))
        self.assertEqual([], wrong)

    def test_command_error_only_in_commands(self):
        wrong = []
        for where, layer, _rel, text in all_modules():
            if layer in ('v1', 'plugin'):
                continue
            for node in ast.walk(ast.parse(text)):
                names = [getattr(node, 'attr', None) or
                         getattr(node, 'id', None)]
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    names = [alias.name.split('.')[-1]
                             for alias in node.names]
                if 'CommandError' in names:
                    wrong.append('%s:%d' % (where, node.lineno))
        self.assertEqual([], wrong)

    def test_no_private_names_of_other_modules(self):
        wrong = ['%s:%d %s' % (where, line, what)
                 for where, _layer, _rel, text in all_modules()
                 for line, what in private_reaches(ast.parse(text))]
        self.assertEqual([], wrong)

    def test_every_error_derives_from_the_root(self):
        wrong = []
        for rel, _text in product_modules():
            parts = list(rel.parts[:-1])
            if rel.stem != '__init__':
                parts.append(rel.stem)
            name = '.'.join(['migrationclient'] + parts)
            module = importlib.import_module(name)
            for obj in vars(module).values():
                if (inspect.isclass(obj) and obj.__module__ == name and
                        issubclass(obj, BaseException) and
                        not issubclass(obj, errors.Error)):
                    wrong.append('%s.%s' % (name, obj.__qualname__))
        self.assertEqual([], wrong)

    def test_modules_and_classes_stay_small(self):
        big = []
        for rel, text in product_modules():
            lines = len(text.splitlines())
            if lines > MAX_MODULE_LINES:
                big.append('%s: %d lines' % (rel, lines))
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, ast.ClassDef):
                    size = node.end_lineno - node.lineno + 1
                    if size > MAX_CLASS_LINES:
                        big.append('%s:%s: %d lines'
                                   % (rel, node.name, size))
        self.assertEqual([], big)

    def test_every_part_has_a_layer(self):
        unknown = sorted({rel.parts[0] for rel, _ in product_modules()
                          if rel.parts[0].removesuffix('.py')
                          not in LAYERS})
        self.assertEqual([], unknown)


@testtools.skipUnless(PAGE.exists(), 'the architecture page is not '
                      'installed with the tests (run them from the tree)')
class TestArchitecturePage(testtools.TestCase):
    """The page and this test say the same."""

    def test_table_is_the_import_rules(self):
        rows = page_table(page_section(PAGE.read_text(),
                                       'What each layer may import'))
        page = {}
        for cells in rows[1:]:
            layer = page_layer(_backticked(cells[0])[0])
            page[layer] = {layer} | {
                page_layer(token) for token in _backticked(cells[1])
                if page_layer(token)}
        self.assertEqual(MAY_IMPORT, page)

    def test_picture_names_every_module(self):
        text = PAGE.read_text()
        picture = text[text.index('every import points down::'):
                       text.index('``testbed/``')]
        words = set(re.findall(r'[A-Za-z_][A-Za-z0-9_]*', picture))
        missing = []
        for rel, _text in product_modules():
            name = rel.parent.name if rel.stem == '__init__' else rel.stem
            if name and name not in words:
                missing.append('migrationclient/%s' % rel)
        for rel, _text in collection_modules():
            if rel.stem != '__init__' and rel.stem not in words:
                missing.append('ansible_collections/openstack/migration/%s'
                               % rel)
        self.assertEqual([], missing)
