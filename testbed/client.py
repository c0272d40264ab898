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
"""The test bed seen from a test process: one fake cloud per configuration.

``Bed.get()`` starts (once per process and per configuration) the fake cloud
of ``testbed.fakecloud`` in a subprocess of its own
session, records its PID, waits for ``state.json`` and stops that PID (SIGTERM,
then SIGKILL after a timeout) at exit.  Nothing else is ever signalled.

Set ``FAKECLOUD_STATE_DIR=DIR`` to use a bed already running from
``DIR`` (started by hand) instead; ``FAKECLOUD_KEEP=1`` keeps the state
directory (with ``bed.log``) of the beds this process started.

``BedTestCase`` gives tests the bed, the CLI runners (real
``openstack`` in a subprocess, or OSC in-process over the real HTTP ports),
an openstacksdk connection and server helpers that clean up after
themselves.
"""

import atexit
import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import testtools

import testbed
from testbed import fakecloud

MODULE = 'testbed.fakecloud'

#: Server kinds ``create_server`` knows.
KINDS = (
    'image', 'volume', 'config_drive', 'shutoff', 'paused', 'error',
    'error_fault', 'locked', 'pinned', 'pinned_aggregate', 'hugepages',
    'numa', 'pci', 'sriov', 'affinity', 'anti-affinity',
)
#: Seconds between two ``GET /servers/{id}`` of the server helpers
#: (``wait_for_server``, ``delete_server``).  Each costs the bed about 60 ms
#: of CPU (Nova's API with policy and response validation): at 0.2 s the
#: polls of a boot cost the bed almost as much CPU as the boot itself.
#: They wait for stable states only (ACTIVE, SHUTOFF, gone...);
#: ``wait_for_migration`` (a cheap ``GET /os-migrations``) still polls
#: every 0.2 s, since it also waits for short-lived states.
SERVER_POLL = 0.5

#: Kinds that need ``Bed.get(driver='libvirt')``.
LIBVIRT_KINDS = ('pinned', 'pinned_aggregate', 'hugepages', 'numa', 'pci',
                 'sriov')

#: Flavors the helpers create on demand: name -> (vcpus, ram, disk, specs).
FLAVORS = {
    'image': ('fc.small', 1, 512, 1, {}),
    'volume': ('fc.small', 1, 512, 1, {}),
    'pinned': ('fc.pinned', 2, 1024, 1, {'hw:cpu_policy': 'dedicated'}),
    'pinned_aggregate': ('fc.pinned.agg', 2, 1024, 1, {
        'hw:cpu_policy': 'dedicated',
        'aggregate_instance_extra_specs:pinned': 'true'}),
    'hugepages': ('fc.hugepages', 1, 1024, 1, {'hw:mem_page_size': '2048'}),
    'numa': ('fc.numa2', 4, 2048, 1, {'hw:numa_nodes': '2'}),
    'pci': ('fc.pci', 1, 512, 1, {'pci_passthrough:alias': 'fc-pci:1'}),
}


class BedError(Exception):
    pass


def _clean_env(extra=None):
    """os.environ without a developer's OS_* cloud settings."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith('OS_') and k not in (
               'OS_STDOUT_CAPTURE', 'OS_STDERR_CAPTURE', 'OS_LOG_CAPTURE',
               'OS_TEST_TIMEOUT', 'OS_DEBUG'))}
    env.update(extra or {})
    return env


def openstack_binary():
    path = os.path.join(sys.prefix, 'bin', 'openstack')
    if os.path.exists(path):
        return path
    found = shutil.which('openstack')
    if not found:
        raise BedError('no openstack CLI in %s/bin or on PATH' % sys.prefix)
    return found


def _reset_osc_client_cache():
    """Forget the API clients an earlier in-process OSC run made.

    OSC keeps each plugin's client in a ``ClientCache`` descriptor on the
    ``ClientManager`` *class*, so a second ``OpenStackShell().run()`` in the
    same process would reuse the first run's endpoints (another cloud's).
    """
    from openstackclient.common import clientmanager
    for klass in clientmanager.ClientManager.__mro__:
        for value in vars(klass).values():
            if hasattr(value, '_handle') and hasattr(value, 'factory'):
                value._handle = None


class CLIError(Exception):
    def __init__(self, args, returncode, stdout, stderr):
        self.args_ = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__('openstack %s -> %d\nstdout: %s\nstderr: %s' % (
            ' '.join(args), returncode, stdout[-2000:], stderr[-2000:]))


class CLIResult:
    def __init__(self, args, returncode, stdout, stderr, seconds):
        self.args = args
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    def json(self):
        return json.loads(self.stdout) if self.stdout.strip() else None


class Bed:
    """One running fake cloud, seen from a test process."""

    _beds = {}
    _lock = threading.Lock()
    START_TIMEOUT = 180
    STOP_TIMEOUT = 25

    def __init__(self, driver='fake', computes=3, max_microversion=None,
                 extra_args=(), state_dir=None):
        self.driver = driver
        self.computes = computes
        self.max_microversion = max_microversion
        self.extra_args = list(extra_args)
        self.state_dir = state_dir
        self.proc = None
        self.pid = None
        self.owned = False
        self.state = None
        self._conns = {}
        self.cli_calls = []

    # -- life cycle --------------------------------------------------------

    @classmethod
    def get(cls, driver='fake', computes=3, max_microversion=None,
            extra_args=()):
        """The bed of this configuration, started on first use."""
        key = (driver, computes, max_microversion, tuple(extra_args))
        with cls._lock:
            bed = cls._beds.get(key)
            if bed is None or not bed.alive():
                external = os.environ.get('FAKECLOUD_STATE_DIR')
                if external and key == ('fake', 3, None, ()):
                    bed = cls(state_dir=external).attach()
                else:
                    bed = cls(driver, computes, max_microversion,
                              extra_args).start()
                cls._beds[key] = bed
            return bed

    def command(self):
        cmd = [sys.executable, '-m', MODULE, '--state-dir', self.state_dir,
               '--driver', self.driver, '--computes', str(self.computes),
               '--parent-pid', str(os.getpid())]
        if self.max_microversion:
            cmd += ['--max-microversion', str(self.max_microversion)]
        return cmd + self.extra_args

    def start(self):
        self.state_dir = self.state_dir or tempfile.mkdtemp(
            prefix='fakecloud-', dir=os.environ.get('FAKECLOUD_STATE_ROOT'))
        state_file = os.path.join(self.state_dir, 'state.json')
        if os.path.exists(state_file):
            os.unlink(state_file)
        out = open(os.path.join(self.state_dir, 'bed.out'), 'ab')
        started = time.monotonic()
        self.proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
            env=_clean_env({'PYTHONPATH': os.pathsep.join(
                p for p in (testbed.ROOT, os.environ.get('PYTHONPATH'))
                if p)}))
        out.close()
        self.pid = self.proc.pid
        self.owned = True
        atexit.register(self.stop)
        while time.monotonic() - started < self.START_TIMEOUT:
            if self.proc.poll() is not None:
                raise BedError('fake cloud exited with %s; see %s' % (
                    self.proc.returncode,
                    os.path.join(self.state_dir, 'bed.out')))
            if os.path.exists(state_file):
                self.state = self._read_state()
                if self.state:
                    self.startup_seconds = time.monotonic() - started
                    return self
            time.sleep(0.1)
        self.stop()
        raise BedError('fake cloud not ready after %ss' % self.START_TIMEOUT)

    def attach(self):
        self.state = self._read_state()
        if not self.state:
            raise BedError('no state.json in %s' % self.state_dir)
        self.pid = self.state['pid']
        self.driver = self.state['driver']
        return self

    def _read_state(self):
        try:
            with open(os.path.join(self.state_dir, 'state.json')) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def alive(self):
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and os.path.exists(
            os.path.join(self.state_dir, 'state.json'))

    def stop(self):
        """SIGTERM our bed (by its PID only), SIGKILL if it lingers."""
        if not self.owned or self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.proc.wait(self.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(10)
            except ProcessLookupError:
                pass
        self.owned = False
        if not os.environ.get('FAKECLOUD_KEEP') and self.state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- facts -------------------------------------------------------------

    @property
    def clouds_yaml(self):
        return os.path.join(self.state_dir, 'clouds.yaml')

    @property
    def endpoints(self):
        return self.state['endpoints']

    @property
    def hosts(self):
        return list(self.state['computes'])

    def env(self):
        return _clean_env({'OS_CLIENT_CONFIG_FILE': self.clouds_yaml})

    # -- clients -----------------------------------------------------------

    def openstack(self, *args, cloud=fakecloud.CLOUD_ADMIN, check=True,
                  timeout=180, env=None):
        """Run the real ``openstack`` CLI in a subprocess."""
        cmd = [openstack_binary(), '--os-cloud', cloud] + [
            str(a) for a in args]
        started = time.monotonic()
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              timeout=timeout,
                              env=dict(self.env(), **(env or {})))
        result = CLIResult(list(args), proc.returncode, proc.stdout,
                           proc.stderr, time.monotonic() - started)
        self.cli_calls.append(result.seconds)
        if check and proc.returncode != 0:
            raise CLIError(list(args), proc.returncode, proc.stdout,
                           proc.stderr)
        return result

    def openstack_json(self, *args, **kwargs):
        return self.openstack(*(list(args) + ['-f', 'json']),
                              **kwargs).json()

    def osc(self, *args, cloud=fakecloud.CLOUD_ADMIN, check=True):
        """Run OSC in this process (fast) over the bed's real HTTP ports."""
        from openstackclient import shell
        _reset_osc_client_cache()
        argv = ['--os-cloud', cloud] + [str(a) for a in args]
        out, err = io.StringIO(), io.StringIO()
        saved = dict(os.environ)
        # Built before the clear: env() starts from this process's
        # environment (HOME, XDG_STATE_HOME, ...), as the subprocess CLI's.
        env = self.env()
        started = time.monotonic()
        try:
            os.environ.clear()
            os.environ.update(env)
            with contextlib.redirect_stdout(out), \
                    contextlib.redirect_stderr(err):
                try:
                    rc = shell.OpenStackShell().run(argv)
                except SystemExit as e:
                    rc = e.code if isinstance(e.code, int) else 1
        finally:
            os.environ.clear()
            os.environ.update(saved)
        result = CLIResult(list(args), rc, out.getvalue(), err.getvalue(),
                           time.monotonic() - started)
        if check and rc != 0:
            raise CLIError(list(args), rc, result.stdout, result.stderr)
        return result

    def osc_json(self, *args, **kwargs):
        return self.osc(*(list(args) + ['-f', 'json']), **kwargs).json()

    def connection(self, cloud=fakecloud.CLOUD_ADMIN):
        """An openstacksdk connection to the bed (cached per cloud)."""
        conn = self._conns.get(cloud)
        if conn is None:
            import openstack.config
            config = openstack.config.OpenStackConfig(
                config_files=[self.clouds_yaml])
            region = config.get_one(cloud=cloud)
            import openstack.connection
            conn = openstack.connection.Connection(config=region)
            self._conns[cloud] = conn
        return conn

    # -- bed control (loopback control endpoint) ---------------------------

    def control(self, method, path):
        import urllib.request
        req = urllib.request.Request(
            self.endpoints['control'] + path, method=method,
            data=b'' if method == 'POST' else None)
        with urllib.request.urlopen(req, timeout=60) as resp:
            return json.loads(resp.read() or b'null')

    def stop_compute(self, host):
        """Stop one nova-compute service of the bed (it goes down)."""
        return self.control('POST', '/computes/%s/stop' % host)

    def start_compute(self, host):
        return self.control('POST', '/computes/%s/start' % host)

    def compute_states(self):
        return self.control('GET', '/computes')

    def stop_control_service(self, name):
        """Stop the bed's nova-scheduler or nova-conductor (it goes down)."""
        return self.control('POST', '/services/%s/stop' % name)

    def start_control_service(self, name):
        return self.control('POST', '/services/%s/start' % name)

    def control_states(self):
        return self.control('GET', '/services')

    def run_periodics(self):
        return self.control('POST', '/periodic')

    def api_process(self):
        """The nova-api front process (``--api-process`` beds): PID..."""
        return self.control('GET', '/api')

    def restart_api(self, down=0.0):
        """Stop the nova-api process (by its PID), ``down`` s, start it."""
        return self.control('POST', '/api/restart?down=%g' % down)

    # -- server helpers ------------------------------------------------------

    def flavor(self, name, vcpus=1, ram=512, disk=1, extra_specs=None):
        """Find or create a public flavor."""
        compute = self.connection().compute
        flavor = compute.find_flavor(name, ignore_missing=True)
        if flavor is None:
            flavor = compute.create_flavor(name=name, vcpus=vcpus, ram=ram,
                                           disk=disk, is_public=True)
            if extra_specs:
                compute.create_flavor_extra_specs(flavor, extra_specs)
        return flavor

    def create_server_group(self, policy, name=None, cleanup=None):
        compute = self.connection().compute
        group = compute.create_server_group(
            name=name or 'fc-%s-%s' % (policy, uuid.uuid4().hex[:6]),
            policy=policy)
        if cleanup:
            cleanup(self._ignore_missing, compute.delete_server_group,
                    group)
        return group

    @staticmethod
    def _ignore_missing(fn, *args):
        import openstack.exceptions
        try:
            fn(*args)
        except openstack.exceptions.NotFoundException:
            pass

    def create_server(self, kind='image', host=None, metadata=None,
                      flavor=None, name=None, group=None, cloud=None,
                      wait=True, cleanup=None, image=None, port=None):
        """Create a server of one of ``KINDS``.

        ``host`` pins the boot to that compute (``nova:HOST``);
        ``metadata`` e.g. ``{'fakecloud:hold': '5'}``; ``group`` a server
        group (kinds ``affinity`` / ``anti-affinity`` make one when not
        given); ``cleanup`` is a test's ``addCleanup``.
        """
        if kind not in KINDS:
            raise ValueError('unknown kind %r; one of %s' % (kind, KINDS))
        if kind in LIBVIRT_KINDS and self.driver != 'libvirt':
            raise BedError("kind %r needs Bed.get(driver='libvirt')" % kind)
        conn = self.connection(cloud or fakecloud.CLOUD_ADMIN)
        compute = conn.compute
        admin = self.connection().compute
        spec = FLAVORS.get(kind, FLAVORS['image'])
        if flavor is None:
            flavor = self.flavor(spec[0], spec[1], spec[2], spec[3], spec[4])
        elif isinstance(flavor, str):
            flavor = self.flavor(flavor)
        attrs = {
            'name': name or 'fc-%s-%s' % (kind, uuid.uuid4().hex[:8]),
            'flavor_id': flavor.id,
            'networks': 'none',
            'metadata': dict(metadata or {}),
        }
        image_id = image or fakecloud.IMAGE_CIRROS
        if kind == 'volume':
            attrs['block_device_mapping'] = [{
                'boot_index': 0, 'uuid': str(uuid.uuid4()),
                'source_type': 'volume', 'destination_type': 'volume',
                'delete_on_termination': False}]
        else:
            attrs['image_id'] = image_id
        if kind == 'config_drive':
            attrs['config_drive'] = True
        if kind == 'sriov':
            if port is None:
                port = self.create_port(vnic_type='direct', cleanup=cleanup)
            attrs['networks'] = [{'port': port['id']}]
        if kind in ('affinity', 'anti-affinity') and group is None:
            group = self.create_server_group(kind, cleanup=cleanup)
        if group is not None:
            attrs['scheduler_hints'] = {'group': getattr(group, 'id', group)}
        if host:
            attrs['availability_zone'] = 'nova:%s' % host
        if kind == 'error_fault':
            # More RAM than any host has: NoValidHost, ERROR with a fault.
            flavor = self.flavor('fc.huge', 1, 10 ** 8, 1)
            attrs['flavor_id'] = flavor.id
            attrs.pop('availability_zone', None)
        server = compute.create_server(**attrs)
        if cleanup:
            cleanup(self.delete_server, server.id)
        if not wait:
            return server
        if kind == 'error_fault':
            return self.wait_for_server(server, 'ERROR')
        server = self.wait_for_server(server, 'ACTIVE')
        if kind == 'shutoff':
            compute.stop_server(server)
            server = self.wait_for_server(server, 'SHUTOFF')
        elif kind == 'paused':
            compute.pause_server(server)
            server = self.wait_for_server(server, 'PAUSED')
        elif kind == 'locked':
            compute.lock_server(server)
            server = compute.get_server(server.id)
        elif kind == 'error':
            admin.reset_server_state(server, 'error')
            server = self.wait_for_server(server, 'ERROR')
        return server

    def create_port(self, network=None, vnic_type='direct', cleanup=None):
        """Create a Neutron port in the bed (e.g. an SR-IOV VF port)."""
        import urllib.request
        network = network or self.state.get('sriov_network') or \
            self.state['networks'][0]
        body = json.dumps({'port': {
            'network_id': network, 'binding:vnic_type': vnic_type}}).encode()
        req = urllib.request.Request(
            self.endpoints['network'] + '/v2.0/ports', data=body,
            method='POST', headers={'Content-Type': 'application/json'})
        with urllib.request.urlopen(req, timeout=30) as resp:
            port = json.loads(resp.read())['port']
        if cleanup:
            cleanup(self._delete_port, port['id'])
        return port

    def _delete_port(self, port_id):
        import urllib.error
        import urllib.request
        req = urllib.request.Request(
            self.endpoints['network'] + '/v2.0/ports/' + port_id,
            method='DELETE')
        try:
            urllib.request.urlopen(req, timeout=30).close()
        except urllib.error.HTTPError:
            pass

    def wait_for_server(self, server, status, timeout=60):
        compute = self.connection().compute
        deadline = time.monotonic() + timeout
        server_id = getattr(server, 'id', server)
        while True:
            server = compute.get_server(server_id)
            if server.status == status and not server.task_state:
                return server
            if server.status == 'ERROR' and status != 'ERROR':
                raise BedError('server %s went ERROR: %s' % (
                    server_id, server.fault))
            if time.monotonic() > deadline:
                raise BedError('server %s is %s/%s, not %s after %ss' % (
                    server_id, server.status, server.task_state, status,
                    timeout))
            time.sleep(SERVER_POLL)

    def last_migration(self, server):
        """The newest os-migrations record of ``server``, or None."""
        migs = sorted(self.connection().compute.migrations(
            instance_uuid=getattr(server, 'id', server)), key=lambda m: m.id)
        return migs[-1] if migs else None

    def wait_for_migration(self, server, statuses=('completed',),
                           migration_type=None, timeout=60,
                           newer_than=None):
        """Wait until the newest migration of ``server`` is in ``statuses``.

        Returns the os-migrations ``Migration`` (use its ``id`` for abort /
        force-complete).  ``newer_than`` (a migration or its id, e.g.
        ``last_migration()`` taken before the request) ignores older
        records: Nova creates the record asynchronously after a 202.
        """
        compute = self.connection().compute
        server_id = getattr(server, 'id', server)
        floor = getattr(newer_than, 'id', newer_than) or 0
        deadline = time.monotonic() + timeout
        while True:
            migs = sorted(compute.migrations(instance_uuid=server_id),
                          key=lambda m: m.id)
            migs = [m for m in migs if m.id > floor]
            if migration_type:
                migs = [m for m in migs if m.migration_type == migration_type]
            if migs and migs[-1].status in statuses:
                return migs[-1]
            if time.monotonic() > deadline:
                raise BedError('migration of %s: %s, wanted %s' % (
                    server_id, [m.status for m in migs], statuses))
            time.sleep(0.2)

    def delete_server(self, server, wait=True, timeout=60):
        import openstack.exceptions
        compute = self.connection().compute
        server_id = getattr(server, 'id', server)
        try:
            server = compute.get_server(server_id)
            if server.is_locked:
                compute.unlock_server(server)
            if server.status == 'ERROR' or server.task_state:
                compute.reset_server_state(server, 'active')
            compute.delete_server(server_id, force=False)
        except openstack.exceptions.NotFoundException:
            return
        if wait:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    compute.get_server(server_id)
                except openstack.exceptions.NotFoundException:
                    return
                time.sleep(SERVER_POLL)


class BedTestCase(testtools.TestCase):
    """Base of tests on the bed: ``self.bed`` is a running fake cloud.

    Class attributes choose the bed: ``BED_DRIVER`` (``fake`` or
    ``libvirt``), ``BED_COMPUTES``, ``BED_MAX_MICROVERSION`` (e.g.
    ``'2.38'``), ``BED_ARGS`` (extra command-line options of the bed).
    """

    BED_DRIVER = 'fake'
    BED_COMPUTES = 3
    BED_MAX_MICROVERSION = None
    BED_ARGS = ()

    def setUp(self):
        super().setUp()
        self.bed = Bed.get(self.BED_DRIVER, self.BED_COMPUTES,
                           self.BED_MAX_MICROVERSION, tuple(self.BED_ARGS))

    # Shorthands that register cleanups with this test.

    def openstack(self, *args, **kwargs):
        return self.bed.openstack(*args, **kwargs)

    def openstack_json(self, *args, **kwargs):
        return self.bed.openstack_json(*args, **kwargs)

    def osc(self, *args, **kwargs):
        return self.bed.osc(*args, **kwargs)

    def osc_json(self, *args, **kwargs):
        return self.bed.osc_json(*args, **kwargs)

    def connection(self, cloud=fakecloud.CLOUD_ADMIN):
        return self.bed.connection(cloud)

    def create_server(self, kind='image', **kwargs):
        kwargs.setdefault('cleanup', self.addCleanup)
        return self.bed.create_server(kind, **kwargs)

    def create_server_group(self, policy, **kwargs):
        kwargs.setdefault('cleanup', self.addCleanup)
        return self.bed.create_server_group(policy, **kwargs)

    def create_port(self, **kwargs):
        kwargs.setdefault('cleanup', self.addCleanup)
        return self.bed.create_port(**kwargs)

    def stop_compute(self, host):
        """Stop a nova-compute of the bed; it is started again at cleanup."""
        self.bed.stop_compute(host)
        self.addCleanup(self._start_compute_if_stopped, host)

    def stop_control_service(self, name):
        """Stop nova-scheduler / nova-conductor; started again at cleanup."""
        self.bed.stop_control_service(name)
        self.addCleanup(self._start_control_if_stopped, name)

    def _start_control_if_stopped(self, name):
        if self.bed.control_states().get(name) == 'stopped':
            self.bed.start_control_service(name)
            # Up again in Nova's eyes before the next test's health gate.
            self.wait_binary_up('nova-%s' % name)

    def wait_binary_up(self, binary, timeout=90):
        compute = self.bed.connection().compute
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(s.binary == binary and s.state == 'up'
                   for s in compute.services()):
                return
            time.sleep(0.5)
        raise AssertionError('%s not up within %ds' % (binary, timeout))

    def _start_compute_if_stopped(self, host):
        if self.bed.compute_states().get(host) == 'stopped':
            self.bed.start_compute(host)

    def wait_for_server(self, server, status, timeout=60):
        return self.bed.wait_for_server(server, status, timeout)

    def wait_for_migration(self, server, statuses=('completed',), **kwargs):
        return self.bed.wait_for_migration(server, statuses, **kwargs)

    def last_migration(self, server):
        return self.bed.last_migration(server)
