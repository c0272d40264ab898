#!/usr/bin/env python3
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

"""Run the main job on the test bed: drain a compute host.

Starts the fake cloud (real Nova 34 + Placement on 127.0.0.1, its own
process, stopped by its PID at the end), boots a realistic mix of servers
on ``compute1`` and runs::

    openstack compute drain compute1 --dry-run
    openstack compute drain compute1 ...        (live progress on stderr)

then prints the JSON report.  The mix: plain servers with live migrations
that take a few seconds, a volume-backed one, a config-drive one, stopped
ones (cold migration, confirmed), a paused and a locked one, one in ERROR
(skipped with the reason), one whose live migration fails and rolls back,
and one that stalls (stuck -> aborted, the guest keeps running).  With
``--libvirt`` (the libvirt-mode bed) pinned, SR-IOV and PCI servers join.
``--short`` is the short form CI runs (test_demo): three servers that all
move, the dry-run, the drain and the report.

Exit status: 0 when the drain ended as the mix expects (4, servers remain,
for the full mix: ``broken`` is skipped and ``busy-db`` aborted; 0 for
``--short``), 1 otherwise.

Usage: ``python tools/demo.py [--libvirt] [--short] [--keep]``
(``tools/demo.sh`` installs what it needs and runs it).
"""

import argparse
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from testbed import client  # noqa: E402

SOURCE = 'compute1'

MIX = (
    # (name, kind, metadata, what the fake hypervisor does with it)
    ('web-1', 'image', {'fakecloud:hold': '4'}, 'live migration, 4 s'),
    ('web-2', 'image', {'fakecloud:hold': '4'}, 'live migration, 4 s'),
    ('web-3', 'image', {'fakecloud:hold': '3'}, 'live migration, 3 s'),
    ('db-volume', 'volume', {'fakecloud:hold': '5'},
     'boots from a volume; live migration, 5 s'),
    ('cfg-drive', 'config_drive', {'fakecloud:hold': '2'},
     'has a config drive; live migration, 2 s'),
    ('batch-off', 'shutoff', {}, 'stopped: cold migration'),
    ('archive-off', 'shutoff', {'fakecloud:cold_hold': '3'},
     'stopped: cold migration, 3 s'),
    ('paused-1', 'paused', {}, 'paused: live migration'),
    ('locked-1', 'locked', {'fakecloud:hold': '2'},
     'locked: live migration, 2 s'),
    ('broken', 'error', {}, 'in ERROR: skipped, stays'),
    ('flaky', 'image', {'fakecloud:hold': '2', 'fakecloud:fail': '1'},
     'live migration fails and rolls back: stays'),
    ('busy-db', 'image', {'fakecloud:stall': '60'},
     'live migration stalls at 60%: aborted, stays'),
)
LIBVIRT_MIX = (
    ('pinned-1', 'pinned', {}, 'pinned CPUs'),
    ('sriov-1', 'sriov', {}, 'SR-IOV port'),
    ('pci-1', 'pci', {}, 'PCI passthrough device'),
)
#: The short form (CI): servers that all move, so the drain exits 0.
SHORT_MIX = (
    ('web-1', 'image', {'fakecloud:hold': '2'}, 'live migration, 2 s'),
    ('db-volume', 'volume', {'fakecloud:hold': '2'},
     'boots from a volume; live migration, 2 s'),
    ('batch-off', 'shutoff', {}, 'stopped: cold migration'),
)
#: Exit statuses of ``openstack compute drain`` (migrationclient/exitcodes).
DRAIN_STATUS = {0: 'the host is empty', 4: 'servers remain on the host',
                5: 'the drain was interrupted'}


class KeptBed(client.Bed):
    """The bed of ``--keep``: it outlives this process.

    ``Bed`` passes ``--parent-pid``, with which the bed stops when its
    parent exits; a kept bed must not watch this process.
    """

    def command(self):
        cmd = super().command()
        i = cmd.index('--parent-pid')
        return cmd[:i] + cmd[i + 2:]


def banner(text, *notes):
    sys.stdout.write('\n=== %s\n' % text)
    for note in notes:
        sys.stdout.write('    %s\n' % note)
    sys.stdout.write('\n')
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--libvirt', action='store_true',
                        help='use the libvirt-mode bed and add pinned, '
                             'SR-IOV and PCI servers')
    parser.add_argument('--short', action='store_true',
                        help='the short form (CI): three servers that all '
                             'move, the dry-run, the drain and the report')
    parser.add_argument('--keep', action='store_true',
                        help='leave the bed and the report in place at the '
                             'end (prints how to stop the bed)')
    args = parser.parse_args()

    banner('starting the test bed: real Nova 34 + Placement on 127.0.0.1, '
           '3 computes (about 20 s)',
           'nothing here touches a real cloud; the bed is stopped at the end'
           if not args.keep else
           'nothing here touches a real cloud; --keep: the bed stays up')
    bed = (KeptBed if args.keep else client.Bed)(
        driver='libvirt' if args.libvirt else 'fake',
        extra_args=['--max-concurrent-live-migrations', '2'])
    try:
        bed.start()
    except client.BedError as exc:
        print('demo FAILED: the test bed did not start: %s' % exc)
        return 1
    print('bed ready: pid %s, clouds.yaml and logs in %s'
          % (bed.pid, bed.state_dir))
    state_home = tempfile.mkdtemp(prefix='drain-demo-')
    try:
        return run(bed, args, state_home)
    finally:
        if args.keep:
            print('\nbed left running (pid %s), report kept in %s; to use '
                  'the bed:\n'
                  '  export OS_CLIENT_CONFIG_FILE=%s OS_CLOUD=fakecloud\n'
                  'to stop it:  kill -TERM %s'
                  % (bed.pid, state_home, bed.clouds_yaml, bed.pid))
            bed.owned = False
        else:
            bed.stop()
            shutil.rmtree(state_home, ignore_errors=True)
            print('\nbed stopped (pid %s), its state and the report removed '
                  '(--keep keeps them)' % bed.pid)


def run(bed, args, state_home):
    if args.short:
        mix = SHORT_MIX
    else:
        mix = MIX + (LIBVIRT_MIX if args.libvirt else ())
    expected = 0 if args.short else 4
    why = ('all servers move' if args.short else
           'broken is skipped, flaky rolls back, busy-db is aborted')
    banner('booting %d servers on %s' % (len(mix), SOURCE))
    row = '  %-12s %-13s %-36s %-8s %s'
    print(row % ('NAME', 'KIND', 'ID', 'STATUS', 'ON THE TEST BED'))
    for name, kind, meta, what in mix:
        server = bed.create_server(kind, host=SOURCE, metadata=meta,
                                   name=name)
        print(row % (name, kind, server.id, server.status, what))
    # The drain's report goes under XDG_STATE_HOME: a directory of the
    # demo's own, never the user's ~/.local/state.
    env = dict(bed.env(), XDG_STATE_HOME=state_home)
    openstack = [client.openstack_binary(), '--os-cloud', 'fakecloud']

    banner('openstack compute drain %s --dry-run' % SOURCE,
           'the plan: what would move where, and why not; nothing moves')
    dry = subprocess.run(openstack + ['compute', 'drain', SOURCE,
                                      '--dry-run', '-c', 'Name', '-c',
                                      'Action', '-c', 'Destination', '-c',
                                      'Reason'],
                         env=env, check=False)

    drain_args = ['compute', 'drain', SOURCE, '--max-parallel', '2',
                  '--max-per-target', '1', '--max-failures', '3',
                  '--stuck-after', '10', '--on-stuck', 'abort', '--retry',
                  '--poll-interval', '1', '--disable-reason',
                  'demo: hardware maintenance']
    banner('openstack %s' % shlex.join(drain_args),
           'disables %s, moves its servers 2 at a time (at most 1 per '
           'destination),' % SOURCE,
           'aborts a migration that makes no progress for 10 s; live '
           'progress below, then the result table')
    started = time.monotonic()
    res = subprocess.run(
        openstack + drain_args + [
            '-c', 'Name', '-c', 'Action', '-c', 'Destination', '-c',
            'Now on', '-c', 'State', '-c', 'Reason'], env=env, check=False)
    print('drain exit status %d (%s) after %.0f s; expected here: %d (%s)'
          % (res.returncode, DRAIN_STATUS.get(res.returncode, 'an error'),
             time.monotonic() - started, expected, why))

    # The default report is keyed by the cloud: clouds/<cloud>/.
    found = glob.glob(os.path.join(state_home, 'migrationclient', '**',
                                   'drain-%s.json' % SOURCE), recursive=True)
    report = found[0] if found else os.path.join(
        state_home, 'migrationclient', 'drain-%s.json' % SOURCE)
    banner('the drain report: %s' % report,
           'its summary (the file also holds the options and the whole '
           'capacity plan), then one line per server: where it is now, '
           'migration id, seconds')
    try:
        with open(report) as stream:
            data = json.load(stream)
    except (OSError, ValueError) as exc:
        print('demo FAILED: no readable report: %s' % exc)
        return 1
    shown = {k: v for k, v in data.items()
             if k not in ('servers', 'options', 'plan')}
    plan = data.get('plan')
    if plan:
        # The plan's placements fill a screen per few servers: its verdict
        # here, the rest in the file (and in --dry-run -f json).
        shown['plan'] = '%s: %d placed, %d not placed' % (
            'feasible' if plan.get('feasible') else 'NOT feasible',
            plan.get('placed', 0), plan.get('unplaced', 0))
    print(json.dumps(shown, indent=2, sort_keys=True))
    print('  %-12s %-6s %-9s %-9s %-14s %-8s %6s  %s' % (
        'NAME', 'ACTION', 'WAS ON', 'NOW ON', 'STATE', 'MIGR.', 'SECS',
        'REASON'))
    for entry in data['servers']:
        print('  %-12s %-6s %-9s %-9s %-14s %-8s %6s  %s' % (
            entry['name'], entry['action'], entry['original_host'],
            entry['final_host'] or entry['original_host'], entry['state'],
            entry['migration_id'] if entry['migration_id'] is not None
            else '-', entry['duration'] if entry['duration'] is not None
            else '-', entry['error'] or entry['reason'] or ''))
    if dry.returncode != 0 or res.returncode != expected:
        print('\ndemo FAILED: dry-run exit status %d (expected 0), drain '
              'exit status %d (expected %d)'
              % (dry.returncode, res.returncode, expected))
        return 1
    print('\ndemo done: the drain ended as expected.  %s stays disabled '
          '(on a real cloud, after the maintenance:\n'
          '  openstack compute service set --enable %s nova-compute)'
          % (SOURCE, SOURCE))
    return 0


if __name__ == '__main__':
    sys.exit(main())
