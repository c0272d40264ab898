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

Usage: ``python tools/demo.py [--libvirt] [--keep]``
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from testbed import client  # noqa: E402

SOURCE = 'compute1'

MIX = (
    # (name, kind, metadata)
    ('web-1', 'image', {'fakecloud:hold': '4'}),
    ('web-2', 'image', {'fakecloud:hold': '4'}),
    ('web-3', 'image', {'fakecloud:hold': '3'}),
    ('db-volume', 'volume', {'fakecloud:hold': '5'}),
    ('cfg-drive', 'config_drive', {'fakecloud:hold': '2'}),
    ('batch-off', 'shutoff', {}),
    ('archive-off', 'shutoff', {'fakecloud:cold_hold': '3'}),
    ('paused-1', 'paused', {}),
    ('locked-1', 'locked', {'fakecloud:hold': '2'}),
    ('broken', 'error', {}),
    ('flaky', 'image', {'fakecloud:hold': '2', 'fakecloud:fail': '1'}),
    ('busy-db', 'image', {'fakecloud:stall': '60'}),
)
LIBVIRT_MIX = (
    ('pinned-1', 'pinned', {}),
    ('sriov-1', 'sriov', {}),
    ('pci-1', 'pci', {}),
)


def banner(text):
    sys.stdout.write('\n=== %s\n\n' % text)
    sys.stdout.flush()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--libvirt', action='store_true',
                        help='use the libvirt-mode bed and add pinned, '
                             'SR-IOV and PCI servers')
    parser.add_argument('--keep', action='store_true',
                        help='leave the bed running (prints its PID)')
    args = parser.parse_args()

    banner('starting the test bed (real Nova 34 + Placement, 3 computes)')
    bed = client.Bed(driver='libvirt' if args.libvirt else 'fake',
                     extra_args=['--max-concurrent-live-migrations', '2'])
    bed.start()
    print('bed pid %s, state %s' % (bed.pid, bed.state_dir))
    try:
        return run(bed, args)
    finally:
        if args.keep:
            print('bed left running: kill -TERM %s' % bed.pid)
            bed.owned = False
        else:
            bed.stop()


def run(bed, args):
    mix = MIX + (LIBVIRT_MIX if args.libvirt else ())
    banner('booting %d servers on %s' % (len(mix), SOURCE))
    for name, kind, meta in mix:
        server = bed.create_server(kind, host=SOURCE, metadata=meta,
                                   name=name)
        print('  %-12s %-13s %s %s' % (name, kind, server.id,
                                       server.status))
    state_home = tempfile.mkdtemp(prefix='drain-demo-')
    env = dict(bed.env(), XDG_STATE_HOME=state_home)
    openstack = [client.openstack_binary(), '--os-cloud', 'fakecloud']

    banner('openstack compute drain %s --dry-run' % SOURCE)
    subprocess.run(openstack + ['compute', 'drain', SOURCE, '--dry-run',
                                '-c', 'Name', '-c', 'Action', '-c',
                                'Destination', '-c', 'Reason'],
                   env=env, check=False)

    drain_args = ['compute', 'drain', SOURCE, '--max-parallel', '2',
                  '--max-per-target', '1', '--max-failures', '3',
                  '--stuck-after', '10', '--on-stuck', 'abort', '--retry',
                  '--poll-interval', '1', '--disable-reason',
                  'demo: hardware maintenance']
    banner('openstack %s' % ' '.join(drain_args))
    started = time.monotonic()
    res = subprocess.run(openstack + drain_args + [
        '-c', 'Name', '-c', 'Action', '-c', 'Destination', '-c', 'State',
        '-c', 'Reason'], env=env, check=False)
    print('exit status %d after %.0f s (0: host empty, 4: servers remain)'
          % (res.returncode, time.monotonic() - started))

    report = os.path.join(state_home, 'migrationclient',
                          'drain-%s.json' % SOURCE)
    banner('report %s' % report)
    with open(report) as stream:
        data = json.load(stream)
    print(json.dumps({k: v for k, v in data.items() if k != 'servers'},
                     indent=2, sort_keys=True))
    for entry in data['servers']:
        print('  %-12s %-5s %-9s -> %-9s %-14s mig=%-4s %5ss  %s' % (
            entry['name'], entry['action'], entry['original_host'],
            entry['final_host'] or '-', entry['state'],
            entry['migration_id'] if entry['migration_id'] is not None
            else '-', entry['duration'] if entry['duration'] is not None
            else '-', entry['error'] or entry['reason']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
