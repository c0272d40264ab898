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


"""Sizes of the product code: the longest modules and classes.

    python tools/class-sizes.py [--top N]

The architecture page (doc/source/contributor/architecture.rst) keeps
product modules under about 800 lines and classes under about 300;
``migrationclient/tests/unit/test_architecture.py`` enforces it.
"""

import argparse
import ast
import pathlib
import sys

TOP = pathlib.Path(__file__).resolve().parent.parent

#: the limits test_architecture enforces
MAX_MODULE_LINES = 800
MAX_CLASS_LINES = 300


def product_modules(top=TOP):
    for path in sorted((top / 'migrationclient').rglob('*.py')):
        rel = path.relative_to(top)
        if 'tests' in rel.parts:
            continue
        yield rel, path.read_text()


def class_sizes(source):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            yield node.name, node.end_lineno - node.lineno + 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--top', type=int, default=10)
    args = parser.parse_args(argv)
    modules, classes = [], []
    for rel, text in product_modules():
        modules.append((len(text.splitlines()), str(rel)))
        classes.extend((size, '%s:%s' % (rel, name))
                       for name, size in class_sizes(text))
    for what, limit, sizes in (('modules', MAX_MODULE_LINES, modules),
                               ('classes', MAX_CLASS_LINES, classes)):
        print('longest %s (lines; limit %d, "!" within 10 %% of it):'
              % (what, limit))
        for size, name in sorted(sizes, reverse=True)[:args.top]:
            print('  %5d %s %s' % (size, '!' if size >= 0.9 * limit
                                   else ' ', name))
    return 0


if __name__ == '__main__':
    sys.exit(main())
