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
"""The static partition of the functional suite over stestr workers."""

import collections
import os
import unittest

from stestr import scheduler
import testtools


class TestWorkerFile(testtools.TestCase):
    """``workers.yaml`` (tox -e functional) runs every test exactly once."""

    def test_every_test_on_exactly_one_worker(self):
        here = os.path.dirname(os.path.abspath(__file__))
        top = os.path.dirname(os.path.dirname(os.path.dirname(here)))
        suite = unittest.defaultTestLoader.discover(here, top_level_dir=top)
        ids = [t.id() for t in testtools.iterate_tests(suite)]
        self.assertIn(self.id(), ids)
        # The bed's own tests run in the same stestr run (load_tests of
        # this package).
        self.assertIn('testbed.tests.test_bed.TestBedServices.'
                      'test_state_file', ids)
        parts = scheduler.generate_worker_partitions(
            ids, os.path.join(here, 'workers.yaml'))
        self.assertEqual(3, len(parts))
        seen = collections.Counter(i for part in parts for i in part)
        self.assertEqual([], sorted(i for i in ids if seen[i] != 1))
        self.assertEqual(len(ids), sum(len(part) for part in parts))
