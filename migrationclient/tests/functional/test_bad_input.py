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

"""Bad input for the four commands: one clear line, the documented status.

A table of cases (:data:`CASES`): a command line, the cloud it runs
against, the exit status it must return (``migrationclient.exitcodes``, 1
for errors, 2 for a command line ``argparse`` refuses) and a regular
expression the error line must match.  For every case the test also checks
that:

* stderr holds one clear line (at most :data:`MAX_LINES` non-empty lines;
  for status 2 the ``usage:`` block plus one ``error:`` line), with no
  ``Traceback`` and nothing on stdout;
* nothing changed: no migration record created, every nova-compute
  service as it was (status and reason), every server on the host and in
  the status it had, no file written or removed in the case's directory
  or in ``$XDG_STATE_HOME`` (drain reports).

Most cases run OSC in-process (``Bed.osc``: the real shell, the real
plugin, the real HTTP error path, about 0.3 s each); the cases marked
``cli=True`` run the real ``openstack`` executable, whose exit status and
stderr are exactly what a user sees.

Fixture (created once per class on the default bed): two servers named
``bi-dup`` on compute1, ``bi-plain`` on compute2, a server with a unicode
name on compute2, a server of the member project on compute2 and the ID of
a deleted server.  compute3 holds nothing (drain cases name it, so that an
accepted bad input changes as little as possible).  A second bed capped at
compute API 2.21 serves the "cloud too old" cases.
"""

import dataclasses
import json
import os
import re
import shutil
import tempfile
import uuid

import fixtures

from migrationclient.engine import report as report_mod
from migrationclient.host import topology
from migrationclient.tests.functional import base
from testbed import fakecloud

ADMIN = fakecloud.CLOUD_ADMIN
MEMBER = fakecloud.CLOUD_MEMBER
#: non-empty stderr lines an error may print
MAX_LINES = 2
#: the capped bed of the "needs a newer compute API" cases
LOW_MV = '2.21'
UNICODE_NAME = 'bi-ünïcødé-сервер-服务器'
LONG_NAME = 'bi-' + 'x' * 997


@dataclasses.dataclass
class Case:
    name: str
    argv: tuple
    status: int
    regex: str
    cloud: str = ADMIN
    bed: str = 'main'           # 'main' or 'lowmv'
    cli: bool = False           # run the real openstack executable


def C(name, argv, status, regex, **kw):
    return Case(name, tuple(argv.split()) if isinstance(argv, str)
                else tuple(argv), status, regex, **kw)


PRE = ('migration', 'precheck')
DRAIN = ('compute', 'drain')
WATCH = ('migration', 'watch')
NUMA = ('numa', 'compare')
SSH = ('--ssh-timeout', '3', '--ssh-config', '/dev/null')

CASES = [
    # -- precheck ----------------------------------------------------------
    C('precheck_unknown_server', PRE + ('bi-nosuch',), 1,
      r'bi-nosuch', cli=True),
    C('precheck_ambiguous_server', PRE + ('bi-dup',), 1,
      r'(?i)more than one.*bi-dup|bi-dup.*(ID|more than one)'),
    C('precheck_deleted_server', PRE + ('{deleted}',), 1, r'{deleted}'),
    C('precheck_unknown_source_host', PRE + ('--source-host', 'nosuch'), 1,
      r'nosuch'),
    C('precheck_partial_source_host', PRE + ('--source-host', 'compute'), 1,
      r'\bcompute\b(?!\d)'),
    C('precheck_partial_dest_host',
      PRE + ('bi-plain', '--host', 'compute'), 1, r'\bcompute\b(?!\d)'),
    C('precheck_live_and_cold', PRE + ('--live', '--cold', 'bi-plain'), 2,
      r'--cold.*--live|--live.*--cold', cli=True),
    C('precheck_nothing_to_check', PRE, 1, r'--source-host'),
    C('precheck_non_admin', PRE + ('bi-member',), 1, r'(?i)admin',
      cloud=MEMBER),
    C('precheck_unicode_unknown', PRE + (UNICODE_NAME + '-x',), 1,
      re.escape(UNICODE_NAME + '-x')),
    C('precheck_long_name', PRE + (LONG_NAME,), 1, r'bi-xxxxx'),
    C('precheck_empty_name', PRE + ('',), 1, r'(?i)server|name'),
    C('precheck_empty_source_host', PRE + ('--source-host', ''), 1,
      r'(?i)host'),
    C('precheck_unicode_host', PRE + ('--source-host', 'compüte1'), 1,
      r'compüte1'),
    C('precheck_requested_version_above_cloud',
      PRE + ('--os-compute-api-version', '2.200', 'bi-plain'), 1,
      r'2\.200'),
    C('precheck_bad_ssh_port', PRE + ('bi-plain', '--ssh', '--ssh-port',
                                      '70000'), 2, r'--ssh-port'),
    C('precheck_bad_ssh_host_map', PRE + ('bi-plain', '--ssh', '--ssh-host',
                                          'compute1'), 1, r'--ssh-host'),
    # SSH options: checked before any cloud or SSH call (issue 18)
    C('precheck_ssh_key_missing',
      PRE + ('bi-plain', '--ssh', '--ssh-key', '{dir}/no-key') + SSH, 1,
      r'^--ssh-key \S*no-key: cannot read it \(No such file', cli=True),
    C('precheck_ssh_key_directory',
      PRE + ('bi-plain', '--ssh', '--ssh-key', '{dir}') + SSH, 1,
      r'^--ssh-key \S+: cannot read it'),
    C('precheck_ssh_host_port_not_a_number',
      PRE + ('bi-plain', '--ssh', '--ssh-host', 'compute1=127.0.0.1:ssh')
      + SSH, 1, r'--ssh-host compute1=127\.0\.0\.1:ssh.*not a number',
      cli=True),
    C('precheck_ssh_known_hosts_missing',
      PRE + ('bi-plain', '--ssh', '--ssh-known-hosts', '{dir}/no-known')
      + SSH, 1, r'^--ssh-known-hosts \S*no-known: cannot read it'),
    C('precheck_ssh_config_missing',
      PRE + ('bi-plain', '--ssh', '--ssh-timeout', '3', '--ssh-config',
             '{dir}/no-config'), 1, r'^--ssh-config \S*no-config: cannot '
      r'read it'),
    C('precheck_ssh_config_directory',
      PRE + ('bi-plain', '--ssh', '--ssh-config', '{dir}'), 1,
      r'^--ssh-config \S+: cannot read it'),
    C('precheck_ssh_optional_without_ssh',
      PRE + ('bi-plain', '--ssh-optional'), 1, r'--ssh-optional.*--ssh'),
    C('precheck_old_cloud', PRE + ('--source-host', 'compute1'), 1,
      r'2\.38', bed='lowmv', cli=True),

    # -- drain: hosts, rights, options -----------------------------------
    C('drain_unknown_host', DRAIN + ('nosuch',), 1, r'nosuch'),
    C('drain_partial_host', DRAIN + ('compute',), 1,
      r'\bcompute\b(?!\d).*exact', cli=True),
    C('drain_no_host', DRAIN, 1, r'(?i)host'),
    C('drain_unicode_host', DRAIN + ('compüte3',), 1, r'compüte3'),
    C('drain_long_host', DRAIN + (LONG_NAME,), 1, r'bi-xxxxx'),
    C('drain_non_admin', DRAIN + ('compute3',), 1, r'(?i)admin',
      cloud=MEMBER, cli=True),
    C('drain_resume_and_restore',
      DRAIN + ('--resume', '{dir}/r-other-host.json', '--restore',
               '{dir}/r-other-host.json'), 1, r'--restore.*--resume'),
    C('drain_restore_with_host',
      DRAIN + ('compute3', '--restore', '{dir}/r-other-host.json'), 1,
      r'--restore'),
    C('drain_enable_service_without_restore',
      DRAIN + ('compute3', '--enable-service'), 1, r'--enable-service'),
    C('drain_max_parallel_zero', DRAIN + ('compute3', '--max-parallel',
                                          '0'), 1, r'--max-parallel'),
    C('drain_max_parallel_negative', DRAIN + ('compute3', '--max-parallel',
                                              '-1'), 1, r'--max-parallel'),
    C('drain_max_parallel_text', DRAIN + ('compute3', '--max-parallel',
                                          'two'), 1, r'--max-parallel'),
    C('drain_max_per_target_negative',
      DRAIN + ('compute3', '--max-per-target', '-2'), 1,
      r'--max-per-target'),
    C('drain_timeout_negative', DRAIN + ('compute3', '--timeout', '-5'), 1,
      r'--timeout'),
    C('drain_timeout_zero', DRAIN + ('compute3', '--timeout', '0'), 1,
      r'--timeout'),
    C('drain_timeout_text', DRAIN + ('compute3', '--timeout', '10m'), 1,
      r'--timeout'),
    C('drain_timeout_nan', DRAIN + ('compute3', '--timeout', 'nan'), 1,
      r'--timeout'),
    C('drain_poll_interval_zero',
      DRAIN + ('compute3', '--poll-interval', '0'), 1, r'--poll-interval'),
    C('drain_poll_interval_nan',
      DRAIN + ('compute3', '--poll-interval', 'nan'), 1, r'--poll-interval',
      cli=True),
    C('drain_stuck_after_negative',
      DRAIN + ('compute3', '--stuck-after', '-1'), 1, r'--stuck-after'),
    C('drain_empty_host', DRAIN + ('',), 1, r'(?i)host'),
    C('drain_disable_reason_too_long',
      DRAIN + ('compute3', '--disable-reason', 'r' * 300), 1,
      r'(?i)reason|255|disable'),
    C('drain_grace_period_negative',
      DRAIN + ('compute3', '--grace-period', '-1'), 1, r'--grace-period'),
    C('drain_target_is_source',
      DRAIN + ('compute3', '--target-host', 'compute3'), 1, r'compute3'),
    C('drain_target_partial',
      DRAIN + ('compute3', '--target-host', 'compute'), 1,
      r'\bcompute\b(?!\d)'),
    C('drain_target_unknown',
      DRAIN + ('compute3', '--target-host', 'nosuch'), 1, r'nosuch'),
    C('drain_target_aggregate_unknown',
      DRAIN + ('compute3', '--target-aggregate', 'bi-noagg'), 1,
      r'bi-noagg'),
    C('drain_report_path_unwritable',
      DRAIN + ('compute3', '--report', '{dir}/plainfile/report.json'), 1,
      r'plainfile', cli=True),
    C('drain_report_of_another_job',
      DRAIN + ('compute3', '--report', '{dir}/r-other-host.json'), 1,
      r'r-other-host\.json'),

    # -- drain: report files for --resume / --restore --------------------
    C('drain_resume_missing_file',
      DRAIN + ('--resume', '{dir}/r-missing.json'), 1, r'r-missing\.json'),
    C('drain_resume_directory', DRAIN + ('--resume', '{dir}'), 1,
      r'(?i)cannot read|directory'),
    C('drain_resume_corrupt_json',
      DRAIN + ('--resume', '{dir}/r-truncated.json'), 1,
      r'r-truncated\.json.*JSON', cli=True),
    C('drain_resume_empty_file', DRAIN + ('--resume', '{dir}/r-empty.json'),
      1, r'r-empty\.json'),
    C('drain_resume_binary', DRAIN + ('--resume', '{dir}/r-binary.json'), 1,
      r'r-binary\.json'),
    C('drain_resume_json_list', DRAIN + ('--resume', '{dir}/r-list.json'),
      1, r'r-list\.json.*not a usable drain report'),
    C('drain_resume_servers_not_list',
      DRAIN + ('--resume', '{dir}/r-servers-dict.json'), 1,
      r'"servers"'),
    C('drain_resume_server_lacks_keys',
      DRAIN + ('--resume', '{dir}/r-server-keys.json'), 1, r'lacks'),
    C('drain_resume_duplicate_server',
      DRAIN + ('--resume', '{dir}/r-dup-server.json'), 1, r'twice'),
    C('drain_resume_hosts_empty',
      DRAIN + ('--resume', '{dir}/r-no-hosts.json'), 1, r'"hosts"'),
    C('drain_resume_other_host',
      DRAIN + ('compute3', '--resume', '{dir}/r-other-host.json'), 1,
      r'compute2'),
    C('drain_resume_report_partial_host',
      DRAIN + ('--resume', '{dir}/r-partial-host.json'), 1,
      r'\bcompute\b(?!\d)'),
    C('drain_restore_corrupt', DRAIN + ('--restore',
                                        '{dir}/r-truncated.json'), 1,
      r'r-truncated\.json'),
    C('drain_restore_future_version',
      DRAIN + ('--restore', '{dir}/r-version99.json'), 1, r'99'),
    C('drain_restore_of_restore_report',
      DRAIN + ('--restore', '{dir}/r-restore-kind.json'), 1,
      r'(?i)not a drain report'),
    C('drain_restore_unknown_host',
      DRAIN + ('--restore', '{dir}/r-unknown-host.json'), 1, r'nosuch'),

    # -- watch -------------------------------------------------------------
    C('watch_unknown_server', WATCH + ('bi-nosuch',), 1, r'bi-nosuch'),
    C('watch_ambiguous_server', WATCH + ('bi-dup',), 1,
      r'(?i)more than one.*bi-dup'),
    C('watch_deleted_server', WATCH + ('{deleted}',), 1, r'{deleted}'),
    C('watch_unknown_host', WATCH + ('--host', 'nosuch'), 1, r'nosuch'),
    C('watch_partial_host', WATCH + ('--host', 'compute'), 1,
      r'\bcompute\b(?!\d)'),
    C('watch_all_and_server', WATCH + ('--all', 'bi-plain'), 1,
      r'--all'),
    C('watch_all_and_host', WATCH + ('--all', '--host', 'compute1'), 2,
      r'--host.*--all|--all.*--host'),
    C('watch_nothing', WATCH, 1, r'--all'),
    C('watch_interval_zero', WATCH + ('--all', '--interval', '0'), 1,
      r'--interval'),
    C('watch_interval_negative', WATCH + ('--all', '--interval', '-1'), 1,
      r'--interval'),
    C('watch_interval_text', WATCH + ('--all', '--interval', 'fast'), 1,
      r'--interval'),
    C('watch_interval_nan', WATCH + ('--all', '--interval', 'nan'), 1,
      r'--interval', cli=True),
    C('watch_interval_inf', WATCH + ('--all', '--interval', '1e999'), 1,
      r'--interval'),
    C('watch_empty_host', WATCH + ('--host', ''), 1, r'--host'),
    C('watch_timeout_zero', WATCH + ('--all', '--timeout', '0'), 1,
      r'--timeout'),
    C('watch_stuck_window_negative',
      WATCH + ('--all', '--stuck-window', '-3'), 1, r'--stuck-window'),
    C('watch_unknown_migration', WATCH + ('bi-plain', '999999'), 1,
      r'999999'),
    C('watch_no_migration_unicode_server', WATCH + (UNICODE_NAME,), 1,
      r'(?i)no migration'),
    C('watch_long_name', WATCH + (LONG_NAME,), 1, r'bi-xxxxx'),
    C('watch_non_admin_all', WATCH + ('--all',), 1,
      r'(?i)admin|not allowed', cloud=MEMBER, cli=True),
    C('watch_non_admin_own_server', WATCH + ('bi-member',), 1,
      r'(?i)admin|not allowed|no migration', cloud=MEMBER),
    C('watch_abort_old_cloud', WATCH + ('--all', '--abort-after', '5'), 1,
      r'2\.24', bed='lowmv'),
    C('watch_force_complete_old_cloud',
      WATCH + ('--all', '--force-complete-after', '5'), 1, r'2\.22',
      bed='lowmv'),

    # -- numa compare ------------------------------------------------------
    C('numa_snapshot_corrupt',
      NUMA + ('bi-plain', '--before', '{dir}/n-truncated.json') + SSH, 1,
      r'n-truncated\.json.*JSON', cli=True),
    C('numa_snapshot_empty',
      NUMA + ('bi-plain', '--before', '{dir}/n-empty.json') + SSH, 1,
      r'n-empty\.json'),
    C('numa_snapshot_binary',
      NUMA + ('bi-plain', '--before', '{dir}/n-binary.json') + SSH, 1,
      r'n-binary\.json'),
    C('numa_snapshot_list',
      NUMA + ('bi-plain', '--before', '{dir}/n-list.json') + SSH, 1,
      r'n-list\.json.*format'),
    C('numa_snapshot_drain_report',
      NUMA + ('bi-plain', '--before', '{dir}/r-other-host.json') + SSH, 1,
      r'format'),
    C('numa_snapshot_future_version',
      NUMA + ('bi-plain', '--before', '{dir}/n-version99.json') + SSH, 1,
      r'99'),
    C('numa_snapshot_missing_fields',
      NUMA + ('bi-plain', '--before', '{dir}/n-no-placement.json') + SSH, 1,
      r'n-no-placement\.json'),
    C('numa_snapshot_wrong_types',
      NUMA + ('bi-plain', '--before', '{dir}/n-wrong-types.json') + SSH, 1,
      r'n-wrong-types\.json'),
    C('numa_snapshot_huge',
      NUMA + ('bi-plain', '--before', '{dir}/n-huge.json') + SSH, 1,
      r'n-huge\.json'),
    C('numa_snapshot_missing',
      NUMA + ('bi-plain', '--before', '{dir}/n-missing.json') + SSH, 1,
      r'n-missing\.json'),
    C('numa_snapshot_directory',
      NUMA + ('bi-plain', '--before', '{dir}') + SSH, 1,
      r'(?i)directory|cannot read'),
    C('numa_save_and_before',
      NUMA + ('bi-plain', '--save', '{dir}/n-new.json', '--before',
              '{dir}/n-truncated.json'), 2, r'--before.*--save|--save'),
    C('numa_hosts_and_server',
      NUMA + ('bi-plain', '--hosts', 'compute1', 'compute2') + SSH, 1,
      r'--hosts'),
    C('numa_nothing', NUMA, 1, r'--hosts'),
    C('numa_server_without_mode', NUMA + ('bi-plain',), 1, r'--save'),
    C('numa_unknown_server',
      NUMA + ('bi-nosuch', '--save', '{dir}/n-new.json') + SSH, 1,
      r'bi-nosuch'),
    C('numa_ambiguous_server',
      NUMA + ('bi-dup', '--save', '{dir}/n-new.json') + SSH, 1, r'bi-dup'),
    C('numa_deleted_server',
      NUMA + ('{deleted}', '--save', '{dir}/n-new.json') + SSH, 1,
      r'{deleted}'),
    C('numa_non_admin',
      NUMA + ('bi-member', '--save', '{dir}/n-new.json') + SSH, 1,
      r'(?i)admin', cloud=MEMBER),
    C('numa_unknown_hosts',
      NUMA + ('--hosts', 'bi-nosuch1', 'bi-nosuch2') + SSH, 1,
      r'bi-nosuch[12]'),
    C('numa_bad_ssh_host',
      NUMA + ('--hosts', 'compute1', 'compute2', '--ssh-host', 'compute1')
      + SSH, 1, r'--ssh-host'),
    C('numa_ssh_key_missing',
      NUMA + ('bi-plain', '--save', '{dir}/n-new.json', '--ssh-key',
              '{dir}/no-key') + SSH, 1,
      r'^--ssh-key \S*no-key: cannot read it', cli=True),
    C('numa_ssh_host_port_not_a_number',
      NUMA + ('--hosts', 'compute1', 'compute2', '--ssh-host',
              'compute1=[::1]:x') + SSH, 1,
      r'--ssh-host compute1=\[::1\]:x'),
    C('numa_ssh_known_hosts_directory',
      NUMA + ('--hosts', 'compute1', 'compute2', '--ssh-known-hosts',
              '{dir}') + SSH, 1, r'^--ssh-known-hosts \S+: cannot read it'),
    C('numa_ssh_config_missing',
      NUMA + ('--hosts', 'compute1', 'compute2', '--ssh-config',
              '{dir}/no-config'), 1, r'^--ssh-config \S*no-config'),
]


def _report(hosts=('compute2',), kind='drain', state='interrupted',
            servers=(), **changes):
    data = {'format': report_mod.FORMAT, 'version': report_mod.VERSION,
            'kind': kind, 'hosts': list(hosts), 'state': state,
            'started_at': '2026-01-01T00:00:00.000000Z',
            'updated_at': '2026-01-01T00:00:00.000000Z',
            'finished_at': None, 'service': {}, 'options': {},
            'servers': list(servers)}
    data.update(changes)
    return data


def _server_entry(server_id, host='compute2', state='done'):
    return {'id': server_id, 'name': 'bi', 'original_host': host,
            'action': 'live', 'state': state}


def _snapshot(**changes):
    data = {'format': topology.SNAPSHOT_FORMAT,
            'version': topology.SNAPSHOT_VERSION,
            'taken_at': '2026-01-01T00:00:00+00:00',
            'server': {'id': str(uuid.uuid4()), 'name': 'bi-plain'},
            'placement': {}, 'host_topology': {}}
    data.update(changes)
    return data


def write_files(directory):
    """The bad files the cases name (``{dir}/...``)."""
    def put(name, content):
        mode = 'wb' if isinstance(content, bytes) else 'w'
        with open(os.path.join(directory, name), mode) as f:
            f.write(content if not isinstance(content, (dict, list))
                    else json.dumps(content))
    good = json.dumps(_report())
    put('r-truncated.json', good[:len(good) // 2])
    put('r-empty.json', '')
    put('r-binary.json', b'\xff\xfe\x00\x81garbage\x00' * 8)
    put('r-list.json', [_report()])
    put('r-servers-dict.json', dict(_report(), servers={'a': 1}))
    put('r-server-keys.json', _report(servers=[{'id': 'x'}]))
    put('r-dup-server.json', _report(servers=[_server_entry('x'),
                                              _server_entry('x')]))
    put('r-no-hosts.json', _report(hosts=()))
    put('r-other-host.json', _report())
    put('r-partial-host.json', _report(hosts=('compute',)))
    put('r-version99.json', _report(version=99))
    put('r-restore-kind.json', _report(kind='restore'))
    put('r-unknown-host.json', _report(
        hosts=('nosuch',), state='complete',
        servers=[_server_entry(str(uuid.uuid4()), host='nosuch')]))
    snap = json.dumps(_snapshot())
    put('n-truncated.json', snap[:len(snap) // 2])
    put('n-empty.json', '')
    put('n-binary.json', b'\x00\xff\xfe\x81' * 64)
    put('n-list.json', [_snapshot()])
    put('n-version99.json', _snapshot(version=99))
    no_placement = _snapshot()
    del no_placement['placement']
    put('n-no-placement.json', no_placement)
    put('n-wrong-types.json', _snapshot(placement=[1, 2], host_topology='x',
                                        server='bi-plain'))
    with open(os.path.join(directory, 'n-huge.json'), 'wb') as f:
        f.truncate(5 * 1024 * 1024)          # sparse, 5 MiB of NULs
    put('plainfile', 'not a directory\n')


def cloud_state(bed):
    """What a bad command line must not change."""
    compute = bed.connection().compute
    return {
        'migrations': sorted(str(m.id) for m in compute.migrations()),
        'services': sorted((s.host, s.status, s.disabled_reason or '')
                           for s in compute.services(binary='nova-compute')),
        'servers': sorted((s.id, s.compute_host or '-', s.status)
                          for s in compute.servers(details=True,
                                                   all_projects=True)),
    }


def files_state(*directories):
    found = {}
    for directory in directories:
        for root, _dirs, names in os.walk(directory):
            for name in names:
                path = os.path.join(root, name)
                st = os.lstat(path)
                found[path] = (st.st_size, st.st_mtime_ns)
    return found


def diff(before, after):
    lines = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b != a:
            if isinstance(b, list) and isinstance(a, list):
                lines.append('%s: -%s +%s' % (
                    key, sorted(set(map(str, b)) - set(map(str, a))),
                    sorted(set(map(str, a)) - set(map(str, b)))))
            else:
                lines.append('%s: %r -> %r' % (key, b, a))
    return lines


def problems_of(case, result, message_lines=MAX_LINES):
    """What is wrong with one run's status and output (empty: fine)."""
    problems = []
    if result.returncode != case.status:
        problems.append('exit status %s, expected %s' % (
            result.returncode, case.status))
    stderr = result.stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    if 'Traceback' in stderr:
        problems.append('a Traceback on stderr')
    if case.status == 2:
        message = lines[-1] if lines else ''
        if 'error:' not in message:
            problems.append('last stderr line is not an argparse error')
    else:
        message = '\n'.join(lines)
        if not lines:
            problems.append('nothing on stderr')
        elif len(lines) > message_lines:
            problems.append('%d stderr lines (at most %d)' % (
                len(lines), message_lines))
    if not re.search(case.regex, message):
        problems.append('stderr does not match %r' % case.regex)
    if result.stdout.strip():
        problems.append('stdout not empty: %r' % result.stdout[:300])
    return problems


class BadInputTest(base.FunctionalTestCase):
    """One test per :data:`CASES` entry (``test_<case name>``)."""

    fixture = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        bed = base.Bed.get()
        made = []
        try:
            def server(name, host, cloud=None):
                made.append(bed.create_server(
                    'image', host=host, name=name, cloud=cloud))
                return bed.connection().compute.get_server(made[-1].id)
            server('bi-dup', 'compute1')
            server('bi-dup', 'compute1')
            server('bi-plain', 'compute2')
            server(UNICODE_NAME, 'compute2')
            member = server('bi-member', None, cloud=MEMBER)
            if member.compute_host != 'compute2':
                # A member cannot pick the host: move it so that compute3
                # (what the drain cases name) stays empty.
                bed.connection().compute.live_migrate_server(
                    member, host='compute2', block_migration=False)
                bed.wait_for_migration(member, ('completed',))
            gone = bed.create_server('image', host='compute2',
                                     name='bi-deleted')
            bed.delete_server(gone.id)
        except Exception:
            for s in made:
                bed.delete_server(s.id)
            raise
        BadInputTest.fixture = {'servers': [s.id for s in made],
                                'deleted': gone.id}

    @classmethod
    def tearDownClass(cls):
        if cls.fixture:
            bed = base.Bed.get()
            for server_id in cls.fixture['servers']:
                bed.delete_server(server_id)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix='bad-input-')
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)
        self.xdg = tempfile.mkdtemp(prefix='bad-input-xdg-')
        self.addCleanup(shutil.rmtree, self.xdg, ignore_errors=True)
        self.useFixture(fixtures.EnvironmentVariable('XDG_STATE_HOME',
                                                     self.xdg))
        # Bed.osc() clears os.environ before it calls bed.env(), so an
        # in-process command would run with OS_CLIENT_CONFIG_FILE alone
        # (no HOME, no XDG_STATE_HOME: drain reports land in the real
        # ~/.local/state).  Give both runners the same full environment.
        # (patched per case in run_case)
        write_files(self.dir)
        self.addCleanup(self._enable_services)

    def _enable_services(self):
        # Only needed when a case failed by draining something.
        for bed in list(base.Bed._beds.values()):
            if not bed.alive():
                continue
            compute = bed.connection().compute
            for svc in compute.services(binary='nova-compute'):
                if svc.status != 'enabled':
                    compute.enable_service(svc, host=svc.host,
                                           binary='nova-compute')

    def bed_for(self, case):
        if case.bed == 'lowmv':
            return base.Bed.get(computes=2, max_microversion=LOW_MV)
        return self.bed

    def run_case(self, case):
        bed = self.bed_for(case)
        env = dict(bed.env(), XDG_STATE_HOME=self.xdg)
        self.patch(bed, 'env', lambda: dict(env))
        values = {'dir': self.dir, 'deleted': self.fixture['deleted']}
        argv = [a.format(**values) for a in case.argv]
        case = dataclasses.replace(case, regex=case.regex.replace(
            '{deleted}', values['deleted']))
        cloud_before = cloud_state(bed)
        files_before = files_state(self.dir, self.xdg)
        if case.cli:
            result = bed.openstack(*argv, cloud=case.cloud, check=False,
                                   env={'XDG_STATE_HOME': self.xdg},
                                   timeout=300)
        else:
            result = bed.osc(*argv, cloud=case.cloud, check=False)
        cloud_after = cloud_state(bed)
        files_after = files_state(self.dir, self.xdg)
        runner = 'openstack' if case.cli else 'in-process OSC'
        self.addDetail('command', _text('%s --os-cloud %s %s' % (
            runner, case.cloud, ' '.join(argv))))
        self.addDetail('result', _text('exit %s\n--- stderr\n%s--- stdout\n'
                                       '%s' % (result.returncode,
                                               result.stderr,
                                               result.stdout[:3000])))
        problems = problems_of(case, result)
        problems += ['cloud changed: ' + d
                     for d in diff(cloud_before, cloud_after)]
        problems += ['files changed: ' + d
                     for d in diff(files_before, files_after)]
        if problems:
            self.fail('%s: openstack --os-cloud %s %s\n  %s\n  stderr: %s' % (
                case.name, case.cloud, ' '.join(argv)[:300],
                '\n  '.join(problems), result.stderr[-1500:]))


class TestSSHOptionsContactNothing(base.FunctionalTestCase):
    """A bad --ssh-* option: one line, exit 1, not one request sent.

    The real ``openstack`` executable talks to the bed through a
    :class:`~testbed.httpproxy.CountingProxy`, which sees every request;
    none may reach compute or placement.
    """

    def test_no_request_before_the_error(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        key_dir = os.path.join(tmp, 'keys')
        os.mkdir(key_dir)
        proxy, clouds = self.counting_proxy(tmp)
        cases = {
            'key missing': (PRE + ('bi', '--ssh', '--ssh-key',
                                   os.path.join(tmp, 'nokey')), '--ssh-key'),
            'key unreadable': (NUMA + ('--hosts', 'compute1', 'compute2',
                                       '--ssh-key', key_dir), '--ssh-key'),
            'port': (PRE + ('bi', '--ssh', '--ssh-host', 'compute1=h:22x'),
                     '--ssh-host'),
            'known_hosts': (NUMA + ('bi', '--save', os.path.join(tmp, 's'),
                                    '--ssh-known-hosts', key_dir),
                            '--ssh-known-hosts'),
            'config': (PRE + ('bi', '--ssh', '--ssh-config',
                              os.path.join(tmp, 'noconf')), '--ssh-config'),
        }
        for name, (argv, option) in cases.items():
            res = self.bed.openstack(*argv, check=False, env={
                'OS_CLIENT_CONFIG_FILE': clouds})
            lines = res.stderr.strip().splitlines()
            self.assertEqual((1, 1), (res.returncode, len(lines)),
                             '%s: %s' % (name, res.stderr))
            self.assertTrue(lines[0].startswith(option), (name, lines))
            self.assertNotIn('Traceback', res.stderr)
            self.assertEqual('', res.stdout)
        # (osc-lib itself may authenticate before any command runs: the
        # plugin's own calls are to compute and placement)
        self.assertEqual([], [(e.service, e.method, e.path)
                              for e in proxy.events()
                              if e.service != 'identity'])
        # control: the proxy does see a command that goes on
        res = self.bed.openstack(*(PRE + ('bi-nosuch-x',)), check=False,
                                 env={'OS_CLIENT_CONFIG_FILE': clouds})
        self.assertEqual(1, res.returncode, res.stderr)
        self.assertTrue([e for e in proxy.events()
                         if e.service == 'compute'])


def _text(text):
    from testtools import content
    return content.text_content(text)


def _make_test(case):
    def test(self):
        self.run_case(case)
    test.__name__ = 'test_' + case.name
    test.__doc__ = '%s -> %d' % (' '.join(case.argv)[:80], case.status)
    return test


for _case in CASES:
    assert not hasattr(BadInputTest, 'test_' + _case.name), _case.name
    setattr(BadInputTest, 'test_' + _case.name, _make_test(_case))
