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
"""The main job's demo (``tools/demo.py``, ``tools/demo.sh``) cannot rot.

Runs the short form, ``tools/demo.py --short`` (its own bed, three
servers, the dry-run, one drain, the report), as a user would: a
subprocess with the user's warning filters (no ``PYTHONWARNINGS``).  It
must exit 0 and its output, stdout and stderr, must carry none of
``FORBIDDEN``: case-sensitive substrings that every Python warning
(``DeprecationWarning``, ``UserWarning``, ``ResourceWarning``... all end
in ``Warning``) and every traceback print, and that nothing the demo or
the CLI says on purpose contains.
"""

import os
import subprocess
import sys

import testtools

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
DEMO = os.path.join(TOP, 'tools', 'demo.py')

#: Case-sensitive substrings the demo's output must not contain.
FORBIDDEN = ('Warning', 'Traceback')


class TestDemo(testtools.TestCase):

    def test_short_demo_clean(self):
        if not os.path.exists(DEMO):
            self.skipTest('no tools/demo.py (installed tests package)')
        env = {k: v for k, v in os.environ.items()
               if k != 'PYTHONWARNINGS'}
        proc = subprocess.run([sys.executable, DEMO, '--short'],
                              capture_output=True, text=True, timeout=400,
                              env=env, stdin=subprocess.DEVNULL, cwd=TOP)
        output = 'stdout:\n%s\nstderr:\n%s' % (proc.stdout, proc.stderr)
        self.assertEqual(0, proc.returncode, output)
        for pattern in FORBIDDEN:
            self.assertNotIn(pattern, proc.stdout, output)
            self.assertNotIn(pattern, proc.stderr, output)
        # The narration and the three parts of the main job are there.
        self.assertIn('=== openstack compute drain compute1 --dry-run',
                      proc.stdout)
        self.assertIn('=== openstack compute drain compute1 --max-parallel',
                      proc.stdout)
        self.assertIn('3/3 moved', proc.stderr)
        self.assertIn('"summary": "3/3 moved"', proc.stdout)
        # The report's capacity plan is summed up, not dumped.
        self.assertIn('"plan": "feasible: 3 placed, 0 not placed"',
                      proc.stdout)
        self.assertNotIn('"placements"', proc.stdout)
        self.assertIn('demo done: the drain ended as expected', proc.stdout)
        self.assertIn('bed stopped', proc.stdout)
