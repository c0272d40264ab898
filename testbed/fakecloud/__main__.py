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
"""Run the fake cloud until SIGTERM.

    python -m testbed.fakecloud --state-dir DIR \
        [--driver fake|libvirt] [--computes N] [--max-microversion 2.38]

When ready it writes ``DIR/clouds.yaml`` (clouds ``fakecloud`` and
``fakecloud-member``) and then ``DIR/state.json`` (endpoints, pid).
With ``--keystone`` a real Keystone runs beside the bed (its own process,
``DIR/keystone/``), Nova and Placement validate tokens against it, the
clouds use password auth and the catalog (``overcloud`` and
``overcloud-member`` too), and ``DIR/overcloudrc`` /
``DIR/overcloudrc-member`` are written in TripleO's shape.
"""

import os

# The bed must not inherit a test runner's timeouts or capture settings.
os.environ['OS_TEST_TIMEOUT'] = '0'
for _name in ('OS_STDOUT_CAPTURE', 'OS_STDERR_CAPTURE', 'OS_LOG_CAPTURE'):
    os.environ[_name] = '0'
os.environ.pop('OS_NOVA_DISABLE_EVENTLET_PATCHING', None)

# Eventlet must patch before anything else of Nova's is imported.
from nova import monkey_patch  # noqa: E402
monkey_patch.patch()

import argparse  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402


def _host_size(text):
    host, _, size = text.partition('=')
    try:
        vcpus, ram, disk = (int(x) for x in size.split(','))
    except ValueError:
        raise argparse.ArgumentTypeError(
            'want HOST=VCPUS,RAM_MB,DISK_GB, got %r' % text)
    return host, (vcpus, ram, disk)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog='python -m testbed.fakecloud',
        description='A fake cloud running real Nova and Placement code.')
    p.add_argument('--state-dir', required=True,
                   help='where clouds.yaml, state.json and bed.log go')
    p.add_argument('--driver', choices=('fake', 'libvirt'), default='fake')
    p.add_argument('--computes', type=int, default=3,
                   help='number of nova-compute services (compute1..N)')
    p.add_argument('--max-microversion', default=None,
                   help='emulate an older cloud, e.g. 2.38 (OSP 10), '
                        '2.60 (OSP 13), 2.79 (OSP 16), 2.88 (OSP 17)')
    p.add_argument('--max-concurrent-live-migrations', type=int, default=1,
                   help="per compute (Nova's default: 1)")
    p.add_argument('--live-hold', type=float, default=0.0,
                   help='default seconds a live migration stays running '
                        '(per server: metadata fakecloud:hold)')
    p.add_argument('--cold-hold', type=float, default=1.0,
                   help='default seconds a cold migration stays migrating '
                        '(per server: metadata fakecloud:cold_hold)')
    p.add_argument('--compute-vcpus', type=int, default=64)
    p.add_argument('--compute-ram-mb', type=int, default=131072)
    p.add_argument('--compute-disk-gb', type=int, default=2000)
    p.add_argument('--host-size', action='append', type=_host_size,
                   metavar='HOST=VCPUS,RAM_MB,DISK_GB',
                   help='size of one fake-driver host (repeatable), e.g. '
                        'compute2=8,4096,100')
    p.add_argument('--report-interval', type=int, default=2,
                   help='service heartbeat interval (s)')
    p.add_argument('--service-down-time', type=int, default=12,
                   help='a service without heartbeat for this long is down')
    p.add_argument('--periodic-interval', type=int, default=None,
                   help='update_available_resource interval (s); '
                        'libvirt mode default 1')
    p.add_argument('--strict-response-validation', action='store_true',
                   help='no "warn" relaxation for GET /servers/detail and '
                        '/servers/{id} (shows the Nova schema failure of '
                        'ERROR servers with a fault)')
    p.add_argument('--bind', default='127.0.0.1')
    p.add_argument('--parent-pid', type=int, default=None,
                   help='stop when this process is gone')
    p.add_argument('--debug', action='store_true',
                   help='DEBUG logging into bed.log')
    p.add_argument('--keystone', action=argparse.BooleanOptionalAction,
                   default=False,
                   help='real Keystone (password auth, catalog, '
                        'DIR/overcloudrc); --no-keystone: trusted '
                        'headers, auth_type none (faster)')
    p.add_argument('--api-process', action='store_true',
                   help='serve the compute endpoint from a nova-api front '
                        'process of its own (PID in state.json), which the '
                        'control endpoint can restart (POST /api/restart)')
    p.add_argument('--token-expiration', type=int, default=3600,
                   help="with --keystone: Keystone's [token] expiration "
                        '(seconds a token lives)')
    args = p.parse_args(argv)
    if args.periodic_interval is None and args.driver == 'libvirt':
        args.periodic_interval = 1
    args.state_dir = os.path.abspath(args.state_dir)
    return args


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.state_dir, exist_ok=True)
    tmp = os.path.join(args.state_dir, 'tmp')
    os.makedirs(tmp, exist_ok=True)
    tempfile.tempdir = tmp
    os.environ['TMPDIR'] = tmp
    for name in ('state.json', 'clouds.yaml', 'overcloudrc',
                 'overcloudrc-member'):
        try:
            os.unlink(os.path.join(args.state_dir, name))
        except FileNotFoundError:
            pass

    stop = {'requested': False}

    def _on_signal(signum, frame):
        stop['requested'] = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)

    import eventlet

    from testbed.fakecloud import bed as bed_mod

    started = time.monotonic()
    cloud = bed_mod.FakeCloud(args)
    try:
        cloud.setUp()
    except BaseException:
        import traceback
        with open(os.path.join(args.state_dir, 'bed-failed.txt'), 'w') as f:
            traceback.print_exc(file=f)
        traceback.print_exc()
        cloud.shutdown()
        os._exit(1)
    cloud.write_state()
    sys.stdout.write('fakecloud ready in %.1f s: %s\n' % (
        time.monotonic() - started,
        os.path.join(args.state_dir, 'clouds.yaml')))
    sys.stdout.flush()

    while not stop['requested']:
        eventlet.sleep(0.5)
        if args.parent_pid and not _alive(args.parent_pid):
            break

    # Never hang on the way out.
    def _watchdog():
        eventlet.sleep(20)
        os._exit(3)
    eventlet.spawn(_watchdog)
    try:
        os.unlink(os.path.join(args.state_dir, 'state.json'))
    except FileNotFoundError:
        pass
    cloud.shutdown()
    sys.stdout.flush()
    os._exit(0)


if __name__ == '__main__':
    main()
