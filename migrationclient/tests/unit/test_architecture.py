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

Imports point down the layers; only ``v1/`` raises ``CommandError``;
``engine/`` makes no cloud call of its own; product modules and classes
stay small enough to read.
"""

import ast
import pathlib

import testtools

TOP = pathlib.Path(__file__).resolve().parents[3]
PACKAGE = TOP / 'migrationclient'

#: layer of each top-level part of the package
LAYERS = {
    'v1': 'v1', 'engine': 'engine', 'cloud': 'cloud', 'host': 'host',
    'constraints': 'constraints', 'microversions': 'base',
    'exitcodes': 'base', 'errors': 'base', '_i18n': 'base',
    'plugin': 'plugin', '__init__': 'base',
}

#: which layers each layer may import (itself included)
MAY_IMPORT = {
    'plugin': {'plugin', 'base'},
    'v1': {'v1', 'engine', 'cloud', 'host', 'constraints', 'base'},
    'engine': {'engine', 'cloud', 'host', 'constraints', 'base'},
    'cloud': {'cloud', 'constraints', 'base'},
    'host': {'host', 'constraints', 'base'},
    'constraints': {'constraints', 'base'},
    'base': {'base'},
}

#: third-party packages a layer must not import
FORBIDDEN = {
    'engine': ('openstack', 'keystoneauth1', 'osc_lib', 'cliff',
               'paramiko'),
    'cloud': ('osc_lib', 'cliff', 'paramiko'),
    'host': ('openstack', 'keystoneauth1', 'osc_lib', 'cliff'),
    'constraints': ('openstack', 'keystoneauth1', 'osc_lib', 'cliff',
                    'paramiko', 'requests', 'socket', 'subprocess'),
    'base': ('openstack', 'keystoneauth1', 'cliff', 'paramiko'),
}

MAX_MODULE_LINES = 800
MAX_CLASS_LINES = 300


def product_modules():
    for path in sorted(PACKAGE.rglob('*.py')):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == 'tests':
            continue
        yield rel, path.read_text()


def layer_of(rel):
    return LAYERS.get(rel.parts[0].removesuffix('.py'), 'unknown')


def imported_modules(tree, rel):
    """Dotted names of everything a module imports (absolute)."""
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
            if module == 'migrationclient':
                for alias in node.names:
                    yield 'migrationclient.' + alias.name
            else:
                yield module


class TestArchitecture(testtools.TestCase):

    def test_imports_point_down(self):
        wrong = []
        for rel, text in product_modules():
            layer = layer_of(rel)
            for name in imported_modules(ast.parse(text), rel):
                parts = name.split('.')
                if parts[0] == 'migrationclient':
                    target = LAYERS.get(parts[1] if len(parts) > 1
                                        else '__init__')
                    if target not in MAY_IMPORT.get(layer, ()):
                        wrong.append('%s (%s) imports %s (%s)'
                                     % (rel, layer, name, target))
                elif parts[0] in FORBIDDEN.get(layer, ()):
                    wrong.append('%s (%s) imports %s' % (rel, layer, name))
        self.assertEqual([], wrong)

    def test_command_error_only_in_commands(self):
        wrong = []
        for rel, text in product_modules():
            if layer_of(rel) in ('v1', 'plugin'):
                continue
            for node in ast.walk(ast.parse(text)):
                name = getattr(node, 'attr', None) or getattr(node, 'id',
                                                              None)
                if name == 'CommandError':
                    wrong.append('%s:%d' % (rel, node.lineno))
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
