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

import argparse

from osc_lib import exceptions
import testtools

from migrationclient.v1 import arguments


class TestNumber(testtools.TestCase):

    def test_none_passes_through(self):
        self.assertIsNone(arguments.number('--x', None))

    def test_kinds(self):
        self.assertEqual(3, arguments.number('--x', '3', int))
        self.assertEqual(2.5, arguments.number('--x', '2.5'))

    def test_refuses_non_finite_and_text(self):
        for bad in ('nan', 'inf', '-inf', 'two', '10m', ''):
            e = self.assertRaises(exceptions.CommandError,
                                  arguments.number, '--timeout', bad)
            self.assertIn('--timeout', str(e))
            self.assertIn('not a finite number', str(e))

    def test_minimum_and_positive(self):
        self.assertEqual(0, arguments.number('--x', '0', int))
        e = self.assertRaises(exceptions.CommandError,
                              arguments.number, '--x', '-1', int)
        self.assertIn('--x must be at least 0', str(e))
        e = self.assertRaises(exceptions.CommandError,
                              arguments.number, '--x', '0', positive=True)
        self.assertIn('--x must be more than 0', str(e))
        e = self.assertRaises(exceptions.CommandError,
                              arguments.number, '--x', '0.05', minimum=0.1)
        self.assertIn('at least 0.1', str(e))


class TestSeconds(testtools.TestCase):

    def test_zero_only_when_allowed(self):
        self.assertEqual(0, arguments.seconds('--a', '0', allow_zero=True))
        self.assertRaises(exceptions.CommandError,
                          arguments.seconds, '--a', '0')
        self.assertRaises(exceptions.CommandError,
                          arguments.seconds, '--a', '-2', allow_zero=True)

    def test_argparse_type(self):
        self.assertEqual(1.5, arguments.positive_seconds('1.5'))
        for bad in ('0', '-1', 'nan', 'inf', 'x'):
            self.assertRaises(argparse.ArgumentTypeError,
                              arguments.positive_seconds, bad)
