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

"""Rate, ETA and stuck arithmetic (pure)."""

from hypothesis import given
from hypothesis import strategies as st
import testtools

from migrationclient.engine import progress

GIB = 1024 ** 3


class TestBytes(testtools.TestCase):

    def test_percent_from_remaining_not_processed(self):
        # processed > total happens when dirtied pages are copied again
        b = progress.Bytes(0, 1000, 1500, 250)
        self.assertEqual(75.0, b.percent)

    def test_percent_unknown(self):
        self.assertIsNone(progress.Bytes(0, None, None, None).percent)
        self.assertIsNone(progress.Bytes(0, 0, 1, 0).percent)

    def test_percent_clamped(self):
        self.assertEqual(0.0, progress.Bytes(0, 100, 1, 150).percent)

    @given(st.integers(1, 10 ** 12), st.integers(0, 10 ** 12))
    def test_percent_in_range(self, total, remaining):
        pct = progress.Bytes(0, total, 1, remaining).percent
        self.assertTrue(0.0 <= pct <= 100.0)


class TestEta(testtools.TestCase):

    def test_eta(self):
        self.assertEqual(5.0, progress.eta(500, 100.0))

    def test_eta_done(self):
        self.assertEqual(0.0, progress.eta(0, None))

    def test_eta_unknown_when_not_shrinking(self):
        self.assertIsNone(progress.eta(500, 0.0))
        self.assertIsNone(progress.eta(500, -3.0))
        self.assertIsNone(progress.eta(500, None))
        self.assertIsNone(progress.eta(None, 10.0))

    @given(st.integers(1, 10 ** 12), st.floats(1.0, 1e10))
    def test_eta_times_rate_is_remaining(self, remaining, rate):
        self.assertAlmostEqual(remaining, progress.eta(remaining, rate) *
                               rate, delta=remaining * 1e-9)


class TestTracker(testtools.TestCase):

    def test_rates_and_eta(self):
        tr = progress.Tracker(rate_window=10, stuck_window=30)
        tr.observe(0, 1000, 1, 1000)
        tr.observe(5, 1000, 501, 500)
        est = tr.estimate(5)
        self.assertEqual(100.0, est.transfer_rate)
        self.assertEqual(100.0, est.shrink_rate)
        self.assertEqual(0.0, est.dirty_rate)
        self.assertEqual(5.0, est.eta)
        self.assertEqual(50.0, est.percent)
        self.assertFalse(est.stuck)

    def test_dirty_rate(self):
        # 1000 B copied in 10 s but remaining only fell by 200 B: the guest
        # dirtied 800 B again.
        tr = progress.Tracker(rate_window=20, stuck_window=30)
        tr.observe(0, 10000, 1, 1000)
        tr.observe(10, 10000, 1001, 800)
        est = tr.estimate(10)
        self.assertEqual(100.0, est.transfer_rate)
        self.assertEqual(20.0, est.shrink_rate)
        self.assertEqual(80.0, est.dirty_rate)
        self.assertEqual(40.0, est.eta)

    def test_remaining_grows_no_eta(self):
        tr = progress.Tracker(rate_window=20, stuck_window=30)
        tr.observe(0, 10000, 1, 1000)
        tr.observe(10, 10000, 1001, 1100)
        est = tr.estimate(10)
        self.assertEqual(-10.0, est.shrink_rate)
        self.assertEqual(110.0, est.dirty_rate)
        self.assertIsNone(est.eta)

    def test_unchanged_observations_do_not_dilute_rate(self):
        # Nova saves counters every 5 s; polls every 2 s repeat them.
        tr = progress.Tracker(rate_window=10, stuck_window=60)
        tr.observe(0, 1000, 1, 1000)
        self.assertFalse(tr.observe(2, 1000, 1, 1000))
        self.assertFalse(tr.observe(4, 1000, 1, 1000))
        self.assertTrue(tr.observe(5, 1000, 501, 500))
        self.assertFalse(tr.observe(7, 1000, 501, 500))
        est = tr.estimate(7)
        self.assertEqual(100.0, est.transfer_rate)
        self.assertEqual(2, len(tr.samples))

    def test_counters_standing_still_for_a_window_means_zero_rate(self):
        tr = progress.Tracker(rate_window=10, stuck_window=60)
        tr.observe(0, 1000, 1, 1000)
        tr.observe(5, 1000, 501, 500)
        est = tr.estimate(25)
        self.assertEqual(20.0, est.transfer_rate)   # 500 B over 25 s
        tr2 = progress.Tracker(rate_window=10, stuck_window=60)
        tr2.observe(0, 1000, 1, 1000)
        est2 = tr2.estimate(11)
        self.assertEqual(0.0, est2.transfer_rate)
        self.assertIsNone(est2.eta)

    def test_window_drops_old_samples(self):
        tr = progress.Tracker(rate_window=10, stuck_window=60)
        # fast at first, slow later: the rate follows the recent samples
        tr.observe(0, 100000, 1, 100000)
        tr.observe(5, 100000, 50001, 50000)
        for t in range(10, 40, 5):
            tr.observe(t, 100000, 50001 + (t - 5) * 10,
                       50000 - (t - 5) * 10)
        est = tr.estimate(35)
        self.assertEqual(10.0, est.transfer_rate)
        self.assertLessEqual(len(tr.samples), 4)

    def test_stuck_when_remaining_has_no_new_low_for_window(self):
        tr = progress.Tracker(rate_window=10, stuck_window=30)
        for t in range(0, 31, 5):
            # copying goes on (processed grows) but remaining stays: the
            # guest dirties memory as fast as it is copied
            tr.observe(t, GIB, 1 + t * 1000, GIB // 2)
        est = tr.estimate(30)
        self.assertTrue(est.stuck)
        self.assertEqual(30.0, est.stalled_for)
        self.assertEqual(1000.0, est.transfer_rate)
        self.assertEqual(1000.0, est.dirty_rate)
        self.assertIsNone(est.eta)

    def test_not_stuck_before_window(self):
        tr = progress.Tracker(rate_window=10, stuck_window=30)
        tr.observe(0, GIB, 1, GIB // 2)
        tr.observe(25, GIB, 2, GIB // 2)
        self.assertFalse(tr.estimate(29).stuck)
        self.assertTrue(tr.estimate(30).stuck)

    def test_new_low_resets_stall(self):
        tr = progress.Tracker(rate_window=10, stuck_window=30)
        tr.observe(0, 1000, 1, 600)
        tr.observe(20, 1000, 300, 700)     # dirtied: worse
        tr.observe(29, 1000, 600, 590)     # new low
        est = tr.estimate(40)
        self.assertEqual(11.0, est.stalled_for)
        self.assertFalse(est.stuck)

    def test_finished_is_never_stuck(self):
        tr = progress.Tracker(rate_window=10, stuck_window=5)
        tr.observe(0, 1000, 1, 0)
        self.assertFalse(tr.estimate(100).stuck)

    def test_unknown_counters_ignored(self):
        tr = progress.Tracker()
        self.assertFalse(tr.observe(0, None, None, None))
        est = tr.estimate(0)
        self.assertIsNone(est.current)
        self.assertIsNone(est.percent)

    def test_bad_windows(self):
        self.assertRaises(ValueError, progress.Tracker, 0, 10)
        self.assertRaises(ValueError, progress.Tracker, 10, -1)
