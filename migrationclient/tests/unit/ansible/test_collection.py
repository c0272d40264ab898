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

"""What ``ansible-test sanity`` (validate-modules, yamllint) would check.

ansible-test's sanity venvs bootstrap pip from ci-files.testing.ansible.com,
which this test machine cannot reach; these tests make the checks that do
not need it: the documentation blocks parse, the documented options are the
argument spec (types, defaults, choices, aliases, elements, required), the
examples and the playbooks use documented options only, the collection
metadata is complete.
"""

import ast

import testtools
import yaml

from migrationclient.tests.unit.ansible import base

FRAGMENT = base.COLLECTION / 'plugins' / 'doc_fragments' / 'openstack.py'
PREFIX = 'openstack.migration.'


def blocks(path):
    """DOCUMENTATION / EXAMPLES / RETURN of a plugin, parsed, no import."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                getattr(node.targets[0], 'id', None) in (
                    'DOCUMENTATION', 'EXAMPLES', 'RETURN'):
            found[node.targets[0].id] = yaml.safe_load(node.value.value)
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.Assign) and \
                        sub.targets[0].id == 'DOCUMENTATION':
                    found['DOCUMENTATION'] = yaml.safe_load(sub.value.value)
    return found


def documented_options(name):
    """The module's options with the doc fragment's (module wins)."""
    doc = blocks(base.COLLECTION / 'plugins' / 'modules' / (name + '.py'))[
        'DOCUMENTATION']
    options = {}
    for fragment in doc.get('extends_documentation_fragment', []):
        assert fragment.startswith(PREFIX), fragment
        path = FRAGMENT.parent / (fragment[len(PREFIX):] + '.py')
        options.update(blocks(path)['DOCUMENTATION']['options'])
    options.update(doc['options'])
    return options


def spec_of(name):
    openstack = base.load('module_utils.openstack')
    mod = base.load('modules.' + name)
    classes = [v for v in vars(mod).values() if isinstance(v, type) and
               issubclass(v, openstack.OpenStackModule) and
               v is not openstack.OpenStackModule]
    assert len(classes) == 1, classes
    return openstack.openstack_full_argument_spec(
        **classes[0].argument_spec), classes[0]


def tasks_of(playbook):
    for play in playbook:
        for key in ('tasks', 'pre_tasks', 'post_tasks', 'handlers'):
            yield from play.get(key, []) or []
        if 'tasks' not in play and ('name' in play or any(
                k.startswith(PREFIX) or '.' in k for k in play)):
            yield play


class TestDocumentation(testtools.TestCase):

    def test_blocks_parse(self):
        for name in base.MODULES:
            found = blocks(base.COLLECTION / 'plugins' / 'modules' /
                           (name + '.py'))
            self.assertEqual({'DOCUMENTATION', 'EXAMPLES', 'RETURN'},
                             set(found), name)
            doc = found['DOCUMENTATION']
            self.assertEqual(name, doc['module'])
            for key in ('short_description', 'description', 'author',
                        'version_added', 'options'):
                self.assertIn(key, doc, name)
            self.assertIsInstance(found['EXAMPLES'], list, name)
            for key, ret in found['RETURN'].items():
                for field in ('description', 'returned', 'type'):
                    self.assertIn(field, ret, '%s: %s' % (name, key))

    def test_documented_options_are_the_argument_spec(self):
        for name in base.MODULES:
            spec, _cls = spec_of(name)
            self.assert_spec_is_documented(name, spec,
                                           documented_options(name))

    def assert_spec_is_documented(self, name, spec, docs):
        """Every option of ``spec`` as ``docs`` says, sub-options too."""
        self.assertEqual(sorted(spec), sorted(docs), name)
        for opt, want in spec.items():
            doc = docs[opt]
            where = '%s: %s' % (name, opt)
            self.assertEqual(sorted(want.get('options') or {}),
                             sorted(doc.get('suboptions') or {}), where)
            if want.get('options'):
                self.assert_spec_is_documented(where, want['options'],
                                               doc['suboptions'])
            self.assertEqual(want.get('type', 'str'), doc.get('type'),
                             where)
            self.assertEqual(want.get('default'), doc.get('default'),
                             where)
            self.assertEqual(sorted(want.get('choices') or []),
                             sorted(doc.get('choices') or []), where)
            self.assertEqual(sorted(want.get('aliases') or []),
                             sorted(doc.get('aliases') or []), where)
            self.assertEqual(want.get('elements'), doc.get('elements'),
                             where)
            self.assertEqual(bool(want.get('required')),
                             bool(doc.get('required')), where)
            self.assertTrue(doc.get('description'), where)

    def test_examples_use_documented_options(self):
        for name in base.MODULES:
            docs = documented_options(name)
            known = set(docs) | {a for d in docs.values()
                                 for a in d.get('aliases', [])}
            examples = blocks(base.COLLECTION / 'plugins' / 'modules' /
                              (name + '.py'))['EXAMPLES']
            used = [t[PREFIX + name] for t in examples
                    if PREFIX + name in t]
            self.assertTrue(used, name)
            for args in used:
                self.assertEqual(set(), set(args) - known, name)

    def test_info_modules_change_nothing_and_all_support_check_mode(self):
        for name in base.MODULES:
            _spec, cls = spec_of(name)
            self.assertTrue(cls.module_kwargs.get('supports_check_mode'),
                            name)


class TestCollectionFiles(testtools.TestCase):

    def test_galaxy_and_runtime(self):
        galaxy = yaml.safe_load((base.COLLECTION / 'galaxy.yml').read_text())
        self.assertEqual(('openstack', 'migration'),
                         (galaxy['namespace'], galaxy['name']))
        for key in ('version', 'readme', 'authors', 'license',
                    'description'):
            self.assertTrue(galaxy.get(key), key)
        self.assertTrue((base.COLLECTION / galaxy['readme']).is_file())
        runtime = yaml.safe_load(
            (base.COLLECTION / 'meta' / 'runtime.yml').read_text())
        self.assertEqual('>=2.19.0', runtime['requires_ansible'])
        self.assertEqual(sorted(base.MODULES),
                         sorted(runtime['action_groups']['migration']))

    def test_playbooks_use_documented_options(self):
        books = sorted((base.COLLECTION / 'playbooks').rglob('*.yml'))
        self.assertTrue(books)
        used = set()
        for path in books:
            data = yaml.safe_load(path.read_text())
            self.assertIsInstance(data, list, path)
            for task in tasks_of(data):
                for key, args in task.items():
                    if not key.startswith(PREFIX):
                        continue
                    name = key[len(PREFIX):]
                    self.assertIn(name, base.MODULES, path)
                    docs = documented_options(name)
                    known = set(docs) | {a for d in docs.values()
                                         for a in d.get('aliases', [])}
                    self.assertEqual(set(), set(args) - known,
                                     '%s: %s' % (path.name, key))
                    used.add(name)
        self.assertEqual({'compute_drain', 'migration_precheck_info'},
                         used)
        book = yaml.safe_load((base.COLLECTION / 'playbooks' /
                               'rolling_maintenance.yml').read_text())[0]
        self.assertIn('max_fail_percentage', book)
        self.assertIn('maintenance_serial', book['serial'])
