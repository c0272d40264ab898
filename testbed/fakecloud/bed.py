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
"""The bed: Nova's functional fixtures set up once, served over HTTP.

``FakeCloud`` is a nova ``TestCase`` that is never run as a test: the bed
process calls ``setUp()`` once, serves the API apps on 127.0.0.1 ports until
SIGTERM, then runs the cleanups.  RPC casts stay asynchronous (no
``CastAsCall``), so a migrate request returns while the migration runs.
"""

import json
import logging as std_logging
import os
import sys
from unittest import mock

import eventlet
import fixtures

from nova import context as nova_context
from nova import test
from nova.tests import fixtures as nova_fixtures
from nova.tests.functional import fixtures as func_fixtures
from nova.tests.functional.libvirt import base as libvirt_base
from oslo_log import log as logging

from testbed import fakecloud
from testbed.fakecloud import driver
from testbed.fakecloud import livepool
from testbed.fakecloud import wsgi

LOG = logging.getLogger(__name__)

#: Filters of a production-like (TripleO / OSP) scheduler on top of Nova 34's
#: defaults, which lack the NUMA and PCI ones.
EXTRA_FILTERS = [
    'AggregateInstanceExtraSpecsFilter',
    'NUMATopologyFilter',
    'PciPassthroughFilter',
]

#: Paths on which Nova 34's own responses fail its response schema
#: (an ERROR server with a fault); validation is ``warn`` there only.
RELAXED_VALIDATION = [
    r'^/v2(\.1)?(/[0-9a-f]{32})?/servers/detail$',
    r'^/v2(\.1)?(/[0-9a-f]{32})?/servers/[0-9a-f-]{36}$',
]


class FileLogging(fixtures.Fixture):
    """Log to ``DIR/bed.log`` instead of nova's in-memory capture.

    nova's StandardLogging keeps every INFO line in memory, which a
    long-running bed cannot afford.
    """

    path = None
    debug = False

    class _Output:
        output = ''

    def setUp(self):
        super().setUp()
        root = std_logging.getLogger()
        handler = std_logging.FileHandler(self.path or os.devnull)
        handler.setFormatter(std_logging.Formatter(
            '%(asctime)s %(levelname)s [%(name)s] %(message)s'))
        level = std_logging.DEBUG if self.debug else std_logging.INFO
        handler.setLevel(level)
        old = root.handlers[:]
        root.handlers[:] = [handler]
        root.setLevel(level)
        for name in ('migrate.versioning.api', 'alembic',
                     'oslo_db.sqlalchemy', 'fakecloud.http'):
            std_logging.getLogger(name).setLevel(
                std_logging.DEBUG if self.debug else std_logging.WARNING)
        self.logger = self._Output()
        self.addCleanup(setattr, root, 'handlers', old)
        self.useFixture(fixtures.MonkeyPatch(
            'oslo_log.log.setup', lambda *a, **k: None))

    def delete_stored_logs(self):
        pass


def _api_paste_ini():
    candidates = [os.path.join(sys.prefix, 'etc', 'nova', 'api-paste.ini')]
    import nova
    site = os.path.dirname(os.path.dirname(nova.__file__))
    candidates.append(os.path.join(site, 'etc', 'nova', 'api-paste.ini'))
    for path in candidates:
        if os.path.exists(path):
            return os.path.abspath(path)
    raise RuntimeError('api-paste.ini of nova not found in %s' % candidates)


def cap_microversion(version):
    """Make real Nova advertise and enforce ``version`` as its maximum."""
    from nova.api.openstack import api_version_request as avr
    from nova.api.openstack.compute import versions
    avr._MAX_API_VERSION = version
    versions.VERSIONS['v2.1']['version'] = version


class FakeCloud(test.TestCase):
    """Nova + Placement, set up once and kept running."""

    REQUIRES_LOCKING = True
    USES_DB = True

    def __init__(self, options):
        super().__init__('serve')
        self.options = options
        self.listeners = {}
        self.stopped = {}
        self.compute_hosts = ['compute%d' % (i + 1)
                              for i in range(options.computes)]

    def serve(self):
        """Only here because a TestCase needs a test method."""

    # -- set-up ------------------------------------------------------------

    def setUp(self):
        FileLogging.path = os.path.join(self.options.state_dir, 'bed.log')
        FileLogging.debug = self.options.debug
        with mock.patch.object(nova_fixtures, 'StandardLogging',
                               FileLogging):
            super().setUp()
        instances = os.path.join(self.options.state_dir, 'instances')
        os.makedirs(instances, exist_ok=True)
        self.flags(instances_path=instances)
        self.flags(api_paste_config=_api_paste_ini(), group='wsgi')
        opts = self.options
        self.keystone = None
        if getattr(opts, 'keystone', False):
            # Started first: it sets itself up while Nova starts.
            from testbed import keystone
            self.keystone = keystone.Keystone(
                os.path.join(opts.state_dir, 'keystone'),
                token_expiration=getattr(opts, 'token_expiration', 3600),
                debug=opts.debug).start()
            self.addCleanup(self.keystone.stop)
        if opts.max_microversion:
            cap_microversion(opts.max_microversion)
        self._configure()

        self.placement_fixture = self.useFixture(
            func_fixtures.PlacementFixture())
        self.placement = self.placement_fixture.api
        if opts.driver == 'libvirt':
            self.neutron = self.useFixture(
                libvirt_base.LibvirtNeutronFixture(self))
        else:
            self.neutron = self.useFixture(nova_fixtures.NeutronFixture(self))
        self._add_networks()
        self.cinder = self.useFixture(nova_fixtures.CinderFixture(self))
        self.glance = self.useFixture(nova_fixtures.GlanceFixture(self))
        self._add_images()
        self.policy = self.useFixture(nova_fixtures.RealPolicyFixture())
        self.useFixture(nova_fixtures.AllServicesCurrent())

        self.useFixture(nova_fixtures.ConfPatcher(host='controller'))
        self.conductor = self.start_service('conductor', host='controller')
        self.scheduler = self.start_service('scheduler', host='controller')

        # One live-migration pool per compute, as one process each would
        # have (Nova's pool is process-wide; the bed is one process).
        self.useFixture(livepool.PerComputeLivePools())
        if opts.driver == 'libvirt':
            from testbed.fakecloud import libvirt
            self.libvirt_mode = libvirt.LibvirtMode(self)
            self.libvirt_mode.setUp()
        else:
            self.libvirt_mode = None
        for host in self.compute_hosts:
            self._start_one_compute(host)

        if self.keystone:
            from testbed.keystone import middleware
            self.keystone.wait_ready()
            self.keystone.provision()
            # Nova's own api-paste pipeline (authtoken, keystonecontext)
            # with auth_token configured against the bed's Keystone.
            self.useFixture(fixtures.MonkeyPatch(
                'keystonemiddleware.auth_token.filter_factory',
                middleware.nova_filter_factory(self.keystone.info())))
        with nova_fixtures.ConfPatcher(host='controller'):
            self.api_fixture = self.useFixture(nova_fixtures.OSAPIFixture(
                api_version='v2.1', stub_keystone=not self.keystone))
        wsgi.install_validation_switch()
        self._post_start()
        self._serve()
        self._start_periodics()

    def _configure(self):
        opts = self.options
        driver.DEFAULTS['hold'] = opts.live_hold
        driver.DEFAULTS['cold_hold'] = opts.cold_hold
        driver.DEFAULTS['sizes'] = dict(opts.host_size or ())
        if opts.driver == 'fake':
            driver.register()
            driver.FakeCloudDriver.vcpus = opts.compute_vcpus
            driver.FakeCloudDriver.memory_mb = opts.compute_ram_mb
            driver.FakeCloudDriver.local_gb = opts.compute_disk_gb
            self.flags(compute_driver='fakecloud.FakeCloudDriver')
        filters = list(self._default_filters()) + [
            f for f in EXTRA_FILTERS if f not in self._default_filters()]
        self.flags(enabled_filters=filters, group='filter_scheduler')
        self.flags(max_concurrent_live_migrations=opts
                   .max_concurrent_live_migrations)
        big = 1000000
        self.flags(instances=big, cores=big, ram=big * 1024,
                   key_pairs=big, server_groups=big,
                   server_group_members=big, metadata_items=big,
                   group='quota')
        self.flags(report_interval=opts.report_interval,
                   service_down_time=opts.service_down_time)
        self.flags(periodic_fuzzy_delay=0)
        if opts.periodic_interval:
            self.flags(update_resources_interval=opts.periodic_interval)
        # Nothing of the bed dials out of 127.0.0.0/8: the global my_ip
        # (libvirt's migration address) and each hypervisor's host_ip
        # (_report_host_ips) are loopback addresses.
        self.flags(my_ip='127.0.0.1')
        self._report_host_ips()
        self.flags(allow_resize_to_same_host=False)

    def _report_host_ips(self):
        """Each compute node's ``host_ip``: ``fakecloud.host_ip(host)``.

        The resource tracker writes the one global ``CONF.my_ip`` into
        every compute node record; the bed's computes share one
        configuration, so the address is set per tracker (``rt.host``)
        before the record is written.
        """
        from nova.compute import resource_tracker
        original = resource_tracker.ResourceTracker._update_available_resource

        def _update_available_resource(rt, context, resources,
                                       startup=False):
            resources['host_ip'] = fakecloud.host_ip(rt.host)
            return original(rt, context, resources, startup=startup)
        self.useFixture(fixtures.MonkeyPatch(
            'nova.compute.resource_tracker.ResourceTracker.'
            '_update_available_resource', _update_available_resource))

    def _start_periodics(self):
        """Run ``update_available_resource`` every ``--periodic-interval``.

        nova's test configuration disables the services' periodic tasks
        (``periodic_enable=False``); a bed without them keeps the usage of
        migrated guests on their source host for ever (pinned CPUs of the
        compute node's NUMA topology, PCI devices).  This green thread
        runs the resource tracker's periodic on every running compute,
        as nova-compute does every ``update_resources_interval``.
        """
        interval = self.options.periodic_interval
        if not interval:
            return

        def loop():
            while True:
                eventlet.sleep(interval)
                self.periodic_runs += 1
                self.run_periodics()
        self.periodic_runs = 0
        self._periodic_thread = eventlet.spawn(loop)
        self.addCleanup(self._periodic_thread.kill)

    @staticmethod
    def _default_filters():
        from nova.conf import scheduler
        for opt in scheduler.filter_scheduler_opts:
            if opt.name == 'enabled_filters':
                return list(opt.default)
        return []

    def _add_networks(self):
        """Expose nova's SR-IOV capable network (physnet2) as well."""
        fixture = nova_fixtures.NeutronFixture
        net2 = getattr(fixture, 'network_2', None)
        sub2 = getattr(fixture, 'subnet_2', None)
        if net2 and net2['id'] not in self.neutron._networks:
            self.neutron._networks[net2['id']] = net2
        if sub2 and sub2['id'] not in self.neutron._subnets:
            self.neutron._subnets[sub2['id']] = sub2

    def _add_images(self):
        ctx = nova_context.get_admin_context()
        for image_id, name, props in (
                (fakecloud.IMAGE_CIRROS, 'cirros', {}),
                (fakecloud.IMAGE_RHEL, 'rhel', {'os_distro': 'rhel'})):
            self.glance.create(ctx, {
                'id': image_id, 'name': name, 'status': 'active',
                'container_format': 'bare', 'disk_format': 'raw',
                'size': 25165824, 'min_ram': 0, 'min_disk': 0,
                'visibility': 'public', 'protected': False,
                'properties': dict(props, architecture='x86_64')})

    def _start_one_compute(self, host, driver_obj=None):
        if self.libvirt_mode:
            return self.libvirt_mode.start_compute(host)
        if driver_obj is not None:
            with mock.patch('nova.virt.driver.load_compute_driver',
                            return_value=driver_obj):
                return self._start_compute(host)
        return self._start_compute(host)

    def _post_start(self):
        if self.libvirt_mode:
            self.libvirt_mode.post_start()

    # -- serving -----------------------------------------------------------

    def _serve(self):
        opts = self.options
        app = self.api_fixture.app()
        relaxed = wsgi.ValidationSwitch(
            app, [] if opts.strict_response_validation
            else RELAXED_VALIDATION)
        admin = wsgi.AuthDefaults(
            relaxed, fakecloud.ADMIN_USER, fakecloud.ADMIN_PROJECT,
            ['reader', 'member', 'admin'])
        member = wsgi.AuthDefaults(
            relaxed, fakecloud.MEMBER_USER, fakecloud.MEMBER_PROJECT,
            ['reader', 'member'])
        from placement import deploy
        placement_conf = self.placement_fixture.conf_fixture.conf
        placement_app = wsgi.AuthDefaults(
            deploy.loadapp(placement_conf),
            'admin', fakecloud.ADMIN_PROJECT, ['admin'], token='admin')
        apps = {
            'compute': admin,
            'compute_member': member,
            'placement': placement_app,
            'identity': wsgi.IdentityResponder(),
            'image': wsgi.ImageResponder(self.glance),
            'network': wsgi.NetworkResponder(self.neutron,
                                             self.compute_hosts),
            'control': wsgi.ControlResponder(self),
        }
        if self.keystone:
            from testbed.keystone import middleware
            # Identity comes from tokens: no default identity, no
            # trusted-headers member listener; the real Keystone replaces
            # the identity responder.  Public and internal interfaces are
            # separate listeners of the same app.
            placement_app = middleware.placement_app(
                placement_conf, self.keystone.info())
            del apps['compute_member'], apps['identity']
            apps.update({
                'compute': relaxed,
                'compute_internal': relaxed,
                'placement': placement_app,
                'placement_internal': placement_app,
            })
        for name, wsgi_app in apps.items():
            self.listeners[name] = wsgi.Listener(
                name, wsgi_app, host=opts.bind).start()
        self.addCleanup(self._stop_listeners)
        self.api_process = None
        if getattr(opts, 'api_process', False):
            if self.keystone:
                raise ValueError('--api-process is not made for --keystone')
            self.api_process = ApiProcess(
                self.listeners['compute'].url, opts.state_dir, opts.bind)
            self.api_process.start()
            self.addCleanup(self.api_process.stop)
        if self.keystone:
            urls = self.endpoints()
            self.keystone.register_services({
                'compute': {'public': urls['compute'],
                            'internal': urls['compute_internal']},
                'placement': {'public': urls['placement'],
                              'internal': urls['placement_internal']},
                'network': urls['network'],
                'image': urls['image'],
            })

    def _stop_listeners(self):
        for listener in self.listeners.values():
            listener.stop()

    def endpoints(self):
        urls = {name: lst.url for name, lst in self.listeners.items()}
        if getattr(self, 'api_process', None) is not None:
            # Clients get the front process; the bed's own listener
            # stays reachable (tests' own checks need no restart).
            urls['compute_direct'] = urls['compute']
            urls['compute'] = self.api_process.url
        for name in ('compute', 'compute_member', 'compute_internal',
                     'compute_direct'):
            if name in urls:
                urls[name] += '/v2.1'
        return urls

    def state(self):
        return {
            'pid': os.getpid(),
            'driver': self.options.driver,
            'computes': list(self.compute_hosts),
            'max_microversion': self.options.max_microversion or
            self._max_microversion(),
            'max_concurrent_live_migrations':
                self.options.max_concurrent_live_migrations,
            'service_down_time': self.options.service_down_time,
            'host_sizes': {h: list(v) for h, v in
                           dict(self.options.host_size or ()).items()},
            'endpoints': self.endpoints(),
            'clouds_yaml': os.path.join(self.options.state_dir,
                                        'clouds.yaml'),
            'clouds': [fakecloud.CLOUD_ADMIN, fakecloud.CLOUD_MEMBER],
            'admin_project': fakecloud.ADMIN_PROJECT,
            'member_project': fakecloud.MEMBER_PROJECT,
            'log': os.path.join(self.options.state_dir, 'bed.log'),
            'images': {'cirros': fakecloud.IMAGE_CIRROS,
                       'rhel': fakecloud.IMAGE_RHEL},
            'networks': sorted(self.neutron._networks),
            'sriov_network': self._sriov_network(),
            'libvirt': (self.libvirt_mode.describe()
                        if self.libvirt_mode else None),
            'keystone': self._keystone_state(),
            'api_process': (self.api_process.describe()
                            if getattr(self, 'api_process', None) else None),
        }

    def _keystone_state(self):
        if not self.keystone:
            return None
        d = self.options.state_dir
        return {
            'pid': self.keystone.pid,
            'auth_url': self.keystone.public_url,
            'internal_auth_url': self.keystone.internal_url,
            'region': 'regionOne',
            'overcloudrc': os.path.join(d, 'overcloudrc'),
            'overcloudrc_member': os.path.join(d, 'overcloudrc-member'),
            'info': self.keystone.info_path,
            'access_log': self.keystone.access_log_path,
            'ready_seconds': self.keystone.ready_seconds,
        }

    def _sriov_network(self):
        if self.libvirt_mode:
            return libvirt_base.LibvirtNeutronFixture.network_4['id']
        net = getattr(nova_fixtures.NeutronFixture, 'network_2', None)
        return net['id'] if net else None

    @staticmethod
    def _max_microversion():
        from nova.api.openstack import api_version_request as avr
        return avr._MAX_API_VERSION

    def clouds_yaml(self):
        urls = self.endpoints()

        def cloud(compute):
            return {
                'auth_type': 'none',
                'auth': {'endpoint': compute},
                'region_name': 'RegionOne',
                'compute_endpoint_override': compute,
                'placement_endpoint_override': urls['placement'],
                'image_endpoint_override': urls['image'],
                'identity_endpoint_override': urls['identity'],
                'network_endpoint_override': urls['network'],
                'compute_api_version': '2',
            }
        if self.keystone:
            # Same cloud names, real password auth and the catalog.
            from testbed import keystone
            clouds = self.keystone.clouds()
            return {'clouds': dict(clouds, **{
                fakecloud.CLOUD_ADMIN: dict(clouds[keystone.CLOUD_ADMIN],
                                            compute_api_version='2'),
                fakecloud.CLOUD_MEMBER: dict(clouds[keystone.CLOUD_MEMBER],
                                             compute_api_version='2'),
            })}
        return {'clouds': {
            fakecloud.CLOUD_ADMIN: cloud(urls['compute']),
            fakecloud.CLOUD_MEMBER: cloud(urls['compute_member']),
        }}

    def write_state(self):
        d = self.options.state_dir
        if self.keystone:
            self.keystone.write_rc_files(d)
        _write_atomic(os.path.join(d, 'clouds.yaml'),
                      _to_yaml(self.clouds_yaml()))
        _write_atomic(os.path.join(d, 'state.json'),
                      json.dumps(self.state(), indent=2, sort_keys=True))

    # -- control -----------------------------------------------------------

    def api_state(self):
        if self.api_process is None:
            raise KeyError('api')
        return self.api_process.describe()

    def restart_api(self, down=0.0):
        """Stop the nova-api front process (by its PID), start it again."""
        if self.api_process is None:
            raise KeyError('api')
        self.api_process.stop()
        LOG.info('fakecloud: nova-api front process stopped; down %.1f s',
                 down)
        if down > 0:
            eventlet.sleep(down)
        self.api_process.start()
        self.api_process.restarts += 1
        self.write_state()
        LOG.info('fakecloud: nova-api front process started again (pid '
                 '%s)', self.api_process.pid)
        return self.api_process.describe()

    def compute_states(self):
        return {host: ('stopped' if host in self.stopped else 'up')
                for host in self.compute_hosts}

    #: control plane services the control endpoint can stop and start
    CONTROL_SERVICES = ('scheduler', 'conductor')

    def stop_control_service(self, name):
        """Stop nova-scheduler / nova-conductor.

        Its heartbeat stops too: the API lists it down after
        ``service_down_time``.
        """
        if name not in self.CONTROL_SERVICES:
            raise KeyError(name)
        service = getattr(self, name)
        if service is None:
            raise ValueError('%s is already stopped' % name)
        service.stop()
        setattr(self, name, None)
        LOG.info('fakecloud: stopped nova-%s', name)

    def start_control_service_again(self, name):
        if name not in self.CONTROL_SERVICES:
            raise KeyError(name)
        if getattr(self, name) is not None:
            raise ValueError('%s is not stopped' % name)
        setattr(self, name, self.start_service(name, host='controller'))
        LOG.info('fakecloud: started nova-%s again', name)

    def control_states(self):
        return {name: ('stopped' if getattr(self, name) is None else 'up')
                for name in self.CONTROL_SERVICES}

    def stop_compute(self, host):
        if host not in self.compute_hosts:
            raise KeyError(host)
        if host in self.stopped:
            raise ValueError('%s is already stopped' % host)
        compute = self.computes.pop(host)
        compute.stop()
        self.stopped[host] = compute
        LOG.info('fakecloud: stopped nova-compute on %s', host)

    def start_compute_again(self, host):
        if host not in self.compute_hosts:
            raise KeyError(host)
        if host not in self.stopped:
            raise ValueError('%s is not stopped' % host)
        old = self.stopped.pop(host)
        if self.libvirt_mode:
            self.libvirt_mode.restart_compute(host, old)
        else:
            self._start_one_compute(host, driver_obj=old.manager.driver)
        LOG.info('fakecloud: started nova-compute on %s again', host)

    def run_periodics(self):
        """``update_available_resource`` on every running compute.

        With an untargeted admin context, as nova-compute's own periodic
        task runs it (the bed has one cell).  Not inside ``target_cell``:
        nova's cell database fixture holds a read lock for the whole
        ``with`` block, and Nova 34 runs the per-node update on an
        executor green thread that takes the read lock again; with a
        writer of another request waiting in between (writers go first),
        the two wait for each other for ever (seen as a bed that no longer
        answers API calls which touch the database).
        """
        ctx = nova_context.get_admin_context()
        for host, compute in list(self.computes.items()):
            try:
                compute.manager.update_available_resource(ctx)
            except Exception:
                LOG.exception('periodic on %s failed', host)

    # -- tear-down ---------------------------------------------------------

    def shutdown(self):
        """Run every cleanup registered during setUp, newest first."""
        for compute in list(self.computes.values()):
            try:
                compute.stop()
            except Exception:
                LOG.exception('stopping a compute failed')
        self.computes = {}
        cleanups = getattr(self, '_cleanups', [])
        while cleanups:
            entry = cleanups.pop()
            fn, args, kwargs = entry
            try:
                fn(*args, **kwargs)
            except Exception:
                LOG.debug('cleanup %r failed', fn, exc_info=True)


class ApiProcess:
    """The nova-api front process of ``--api-process`` (see apiproc).

    Listens on one fixed port for the bed's life; its PID is recorded
    here (and in ``state.json``) and only that PID is ever signalled.
    """

    MODULE = 'testbed.fakecloud.apiproc'

    def __init__(self, upstream, state_dir, bind='127.0.0.1'):
        from testbed.fakecloud import apiproc
        self.upstream = upstream
        self.bind = bind
        self.port = apiproc.free_port(bind)
        self.ready_file = os.path.join(state_dir, 'api-process.pid')
        self.proc = None
        self.restarts = 0
        self.history = []       # PIDs, oldest first

    @property
    def url(self):
        return 'http://%s:%d' % (self.bind, self.port)

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    def describe(self):
        return {'pid': self.pid, 'url': self.url, 'port': self.port,
                'running': self.proc is not None and
                self.proc.poll() is None,
                'restarts': self.restarts, 'pids': list(self.history)}

    def start(self, timeout=30):
        import subprocess
        import time
        if self.proc is not None and self.proc.poll() is None:
            raise ValueError('the nova-api process is running')
        try:
            os.unlink(self.ready_file)
        except FileNotFoundError:
            pass
        self.proc = subprocess.Popen(
            [sys.executable, '-m', self.MODULE, '--bind', self.bind,
             '--port', str(self.port), '--upstream', self.upstream,
             '--parent-pid', str(os.getpid()), '--ready-file',
             self.ready_file], stdin=subprocess.DEVNULL)
        self.history.append(self.proc.pid)
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.ready_file):
            if self.proc.poll() is not None:
                raise RuntimeError('nova-api process exited with %s' %
                                   self.proc.returncode)
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError('nova-api process not listening after '
                                   '%ss' % timeout)
            eventlet.sleep(0.05)

    def stop(self, timeout=5.0):
        """SIGTERM our PID, SIGKILL after ``timeout``; reap it."""
        import signal
        import time
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while proc.poll() is None and time.monotonic() < deadline:
            eventlet.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            while proc.poll() is None:
                eventlet.sleep(0.05)


def _write_atomic(path, text):
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text)
    os.replace(tmp, path)


def _to_yaml(data, indent=0):
    """Tiny YAML writer for nested dicts of scalars (no PyYAML needed)."""
    lines = []
    pad = '  ' * indent
    for key, value in data.items():
        if isinstance(value, dict):
            lines.append('%s%s:' % (pad, key))
            lines.append(_to_yaml(value, indent + 1))
        else:
            lines.append('%s%s: %s' % (pad, key, json.dumps(value)))
    return '\n'.join(lines) + ('\n' if indent == 0 else '')
