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

import datetime
import json
import os
import stat
from unittest import mock

import fixtures
import testtools

from migrationclient.engine import report


def _entry(**kw):
    entry = {'id': 'srv-1', 'original_host': 'compute1', 'action': 'live',
             'state': 'done'}
    entry.update(kw)
    return entry


class TestWriteAtomic(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path

    def test_mode_0600_and_content(self):
        path = os.path.join(self.dir, 'sub', 'r.json')
        data = report.new_report('drain', ['compute1'], {'max_parallel': 2})
        report.write_atomic(path, data)
        self.assertEqual(0o600, stat.S_IMODE(os.stat(path).st_mode))
        self.assertEqual(0o700, stat.S_IMODE(
            os.stat(os.path.dirname(path)).st_mode))
        with open(path) as stream:
            self.assertEqual(data, json.load(stream))

    def test_no_partial_file_on_failure(self):
        path = os.path.join(self.dir, 'r.json')
        report.write_atomic(path, {'first': 1})
        # An object json cannot encode fails half-way through the dump.
        self.assertRaises(TypeError, report.write_atomic, path,
                          {'bad': object()})
        with open(path) as stream:
            self.assertEqual({'first': 1}, json.load(stream))
        self.assertEqual(['r.json'], os.listdir(self.dir))

    def test_replace_is_atomic(self):
        path = os.path.join(self.dir, 'r.json')
        report.write_atomic(path, {'n': 1})
        with mock.patch('os.replace', side_effect=OSError('disk full')):
            self.assertRaises(OSError, report.write_atomic, path, {'n': 2})
        with open(path) as stream:
            self.assertEqual({'n': 1}, json.load(stream))
        self.assertEqual(['r.json'], os.listdir(self.dir))


class TestLoad(testtools.TestCase):

    def setUp(self):
        super().setUp()
        self.dir = self.useFixture(fixtures.TempDir()).path
        self.path = os.path.join(self.dir, 'r.json')

    def _write(self, data):
        with open(self.path, 'w') as stream:
            if isinstance(data, str):
                stream.write(data)
            else:
                json.dump(data, stream)

    def _valid(self):
        data = report.new_report('drain', ['compute1'], {})
        data['servers'] = [_entry()]
        return data

    def test_round_trip(self):
        data = self._valid()
        report.write_atomic(self.path, data)
        self.assertEqual(data, report.load(self.path))

    def test_missing(self):
        exc = self.assertRaises(report.ReportError, report.load,
                                self.path + '.nope')
        self.assertIn('does not exist', str(exc))

    def test_corrupt_json(self):
        self._write('{"format": "migrationclient-drain-report", ')
        exc = self.assertRaises(report.ReportError, report.load, self.path)
        self.assertIn('not valid JSON', str(exc))
        self.assertEqual(1, len(str(exc).splitlines()))

    def test_not_a_report(self):
        self._write({'servers': []})
        exc = self.assertRaises(report.ReportError, report.load, self.path)
        self.assertIn('format is not', str(exc))

    def test_bad_entries(self):
        cases = [
            ({'version': 2}, 'unsupported version'),
            ({'kind': 'evacuate'}, 'unknown kind'),
            ({'hosts': []}, '"hosts"'),
            ({'state': 'weird'}, 'unknown state'),
            ({'servers': {}}, '"servers" must be a list'),
            ({'servers': ['x']}, 'not an object'),
            ({'servers': [_entry(state='')]}, 'lacks state'),
            ({'servers': [_entry(), _entry()]}, 'appears twice'),
        ]
        for change, message in cases:
            data = self._valid()
            data.update(change)
            self._write(data)
            exc = self.assertRaises(report.ReportError, report.load,
                                    self.path)
            self.assertIn(message, str(exc))


class TestPaths(testtools.TestCase):

    def test_default_path_uses_xdg_state_home(self):
        self.useFixture(fixtures.EnvironmentVariable('XDG_STATE_HOME',
                                                     '/st'))
        self.assertEqual('/st/migrationclient/drain-compute1+c_2.json',
                         report.default_path(['compute1', 'c/2']))

    def test_default_path_home(self):
        self.useFixture(fixtures.EnvironmentVariable('XDG_STATE_HOME'))
        self.useFixture(fixtures.EnvironmentVariable('HOME', '/h'))
        self.assertEqual('/h/.local/state/migrationclient/restore-c1.json',
                         report.default_path(['c1'], 'restore'))

    def test_default_path_keyed_by_cloud(self):
        self.useFixture(fixtures.EnvironmentVariable('XDG_STATE_HOME',
                                                     '/st'))
        self.assertEqual(
            '/st/migrationclient/clouds/ks_5000-R1-0a1b2c3d/drain-c1.json',
            report.default_path(['c1'], cloud='ks_5000-R1-0a1b2c3d'))
        self.assertNotEqual(report.default_path(['c1'], cloud='a'),
                            report.default_path(['c1'], cloud='b'))
        self.assertEqual('/st/migrationclient/drain-c1.json',
                         report.legacy_path(['c1']))

    def test_missing_directories_are_private(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        path = os.path.join(tmp, 'migrationclient', 'clouds', 'k', 'r.json')
        report.write_atomic(path, {'a': 1})
        for d in ('migrationclient', 'migrationclient/clouds',
                  'migrationclient/clouds/k'):
            self.assertEqual(0o700, stat.S_IMODE(os.stat(os.path.join(
                tmp, d)).st_mode), d)

    def test_archive_path(self):
        when = datetime.datetime(2026, 11, 27, 10, 5, 3,
                                 tzinfo=datetime.timezone.utc)
        self.assertEqual('/x/drain-c1-20261127T100503Z.json',
                         report.archive_path('/x/drain-c1.json', when))
