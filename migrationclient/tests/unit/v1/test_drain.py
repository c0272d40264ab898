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

"""``compute drain`` command: arguments and their validation."""

import types

from osc_lib import exceptions
import testtools

from migrationclient.engine import drain as engine
from migrationclient.v1 import drain


class TestDrainParser(testtools.TestCase):

    def setUp(self):
        super().setUp()
        app = types.SimpleNamespace(client_manager=types.SimpleNamespace(
            compute=None, sdk_connection=None))
        self.cmd = drain.DrainCompute(app, None)
        self.parser = self.cmd.get_parser('openstack compute drain')

    def parse(self, *argv):
        return self.parser.parse_args(list(argv))

    def test_defaults(self):
        args = self.parse('compute1')
        opts = self.cmd._options(args)
        self.assertEqual(['compute1'], args.hosts)
        self.assertEqual((2, 1, 1, 'abort', 'abort', True, 300.0, None),
                         (opts.max_parallel, opts.max_per_target,
                          opts.max_failures, opts.on_stuck,
                          opts.on_interrupt, opts.confirm, opts.stuck_after,
                          opts.timeout))
        self.assertFalse(args.dry_run)
        self.assertIsNone(opts.progress_interval)   # from --stuck-after
        self.assertEqual(12.0, self.cmd._options(self.parse(
            'compute1', '--progress-interval', '12')).progress_interval)

    def test_options(self):
        args = self.parse('c1', 'c2', '--target-host', 'c3',
                          '--target-host', 'c4', '--max-parallel', '3',
                          '--max-per-target', '0', '--no-confirm',
                          '--stuck-after', '0', '--on-stuck',
                          'force-complete', '--timeout', '600', '--retry',
                          '--no-live', '--allow-partial')
        opts = self.cmd._options(args)
        self.assertEqual(['c1', 'c2'], args.hosts)
        self.assertEqual(('c3', 'c4'), opts.target_hosts)
        self.assertEqual((3, 0, False, None, 'force-complete', 600.0),
                         (opts.max_parallel, opts.max_per_target,
                          opts.confirm, opts.stuck_after, opts.on_stuck,
                          opts.timeout))
        self.assertTrue(opts.retry and opts.no_live and opts.allow_partial)

    def test_bad_numbers(self):
        for argv in (('c1', '--max-parallel', 'two'),
                     ('c1', '--max-parallel', '0'),
                     ('c1', '--max-per-target', '-1'),
                     ('c1', '--timeout', 'soon'),
                     ('c1', '--timeout', '0'),
                     ('c1', '--timeout', 'nan'),
                     ('c1', '--poll-interval', 'inf'),
                     ('c1', '--poll-interval', '0'),
                     ('c1', '--progress-interval', '-1'),
                     ('c1', '--progress-interval', 'nan')):
            self.assertRaises(exceptions.CommandError, self.cmd._options,
                              self.parse(*argv))

    def test_disable_reason_length_checked_before_anything(self):
        # Nova refuses a reason over 255 characters only once the drain
        # has written its report: refuse it up front.  The drain claim
        # "[drain:<12 hex>] " takes 21 of them (engine/drain/claim.py).
        for reason in ('', 'r' * 235, 'r' * 256):
            exc = self.assertRaises(
                exceptions.CommandError, self.cmd._options,
                self.parse('c1', '--disable-reason', reason))
            self.assertIn('--disable-reason', str(exc))
        self.cmd._options(self.parse('c1', '--disable-reason', 'r' * 234))

    def test_choices(self):
        self.assertEqual(engine.ON_STUCK, ('abort', 'force-complete', 'wait'))
        self.assertRaises(SystemExit, self.parse, 'c1', '--on-stuck',
                          'ignore')

    def test_target_host_and_aggregate_exclusive(self):
        self.assertRaises(SystemExit, self.parse, 'c1', '--target-host',
                          'c2', '--target-aggregate', 'agg')

    def test_restore_takes_no_host(self):
        args = self.parse('c1', '--restore', 'r.json')
        exc = self.assertRaises(exceptions.CommandError, self.cmd._job,
                                args, self.cmd._options(args), None)
        self.assertIn('--restore takes no <host>', str(exc))

    def test_needs_a_host(self):
        args = self.parse()
        exc = self.assertRaises(exceptions.CommandError, self.cmd._job,
                                args, self.cmd._options(args), None)
        self.assertIn('Name the compute host', str(exc))

    def test_enable_service_only_with_restore(self):
        args = self.parse('c1', '--enable-service')
        self.assertRaises(exceptions.CommandError, self.cmd._job, args,
                          self.cmd._options(args), None)
