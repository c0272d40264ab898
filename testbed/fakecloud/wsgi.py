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
"""HTTP side of the bed: listeners, auth defaults and small responders.

Everything here runs inside the (eventlet-patched) bed process.  The
responders are deliberately small: they serve just what the ``openstack``
CLI and openstacksdk need (identity version discovery, a read-only image
service over nova's Glance fixture, a Neutron v2.0 port responder over
nova's Neutron fixture) and a loopback control endpoint for bed faults.
"""

import copy
import datetime
import json
import logging as std_logging
import random
import re
import threading
import urllib.parse
import uuid

import eventlet
import eventlet.wsgi
from oslo_log import log as logging

LOG = logging.getLogger(__name__)

#: Per-request (per green thread) switches, see ValidationSwitch.
_REQUEST = threading.local()


def _json(start_response, status, body, headers=()):
    data = json.dumps(body, default=_default).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(data)))]
                   + list(headers))
    return [data]


def _default(value):
    if isinstance(value, (datetime.datetime, datetime.date)):
        if isinstance(value, datetime.datetime) and value.tzinfo:
            value = value.astimezone(datetime.timezone.utc).replace(
                tzinfo=None)
        return value.isoformat() + ('Z' if isinstance(
            value, datetime.datetime) else '')
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _not_found(start_response, what='not found'):
    return _json(start_response, '404 Not Found',
                 {'NotFound': {'code': 404, 'message': what}})


def _base_url(environ):
    host = environ.get('HTTP_HOST') or '%s:%s' % (
        environ['SERVER_NAME'], environ['SERVER_PORT'])
    return 'http://%s' % host


def _read_json(environ):
    try:
        length = int(environ.get('CONTENT_LENGTH') or 0)
    except ValueError:
        length = 0
    if not length:
        return {}
    return json.loads(environ['wsgi.input'].read(length) or b'{}')


# -- auth defaults -----------------------------------------------------------

class AuthDefaults:
    """Give requests without identity headers a fixed identity.

    Nova's test stack (``OSAPIFixture(stub_keystone=True)``) builds the
    request context from ``X-Auth-User``, ``X-Auth-Project-Id`` and
    ``X-Roles``; a client that sends its own headers keeps them.
    Placement (noauth2) wants ``X-Auth-Token: admin``.
    """

    def __init__(self, app, user, project, roles, token=None):
        self.app = app
        self.user = user
        self.project = project
        self.roles = ','.join(roles)
        self.token = token

    def __call__(self, environ, start_response):
        if 'HTTP_X_AUTH_USER' not in environ:
            environ['HTTP_X_AUTH_USER'] = self.user
            environ['HTTP_X_AUTH_PROJECT_ID'] = self.project
            environ['HTTP_X_ROLES'] = self.roles
        environ.setdefault('HTTP_X_AUTH_PROJECT_ID', self.project)
        environ.setdefault('HTTP_X_ROLES', 'reader,member')
        if self.token and 'HTTP_X_AUTH_TOKEN' not in environ:
            environ['HTTP_X_AUTH_TOKEN'] = self.token
        return self.app(environ, start_response)


class ValidationSwitch:
    """Relax Nova's response validation to ``warn`` on chosen paths only.

    ``[api]response_validation=error`` stays in force everywhere else; the
    paths matched here are the ones where Nova 34 itself emits responses its
    schema rejects (see doc/source/contributor/testbed.rst).
    """

    def __init__(self, app, relaxed_patterns):
        self.app = app
        self.relaxed = [re.compile(p) for p in relaxed_patterns]

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '')
        relaxed = environ.get('REQUEST_METHOD') == 'GET' and any(
            p.search(path) for p in self.relaxed)
        _REQUEST.relaxed = relaxed
        try:
            return self.app(environ, start_response)
        finally:
            _REQUEST.relaxed = False


class _ApiGroupProxy:
    def __init__(self, group):
        self._group = group

    def __getattr__(self, name):
        if name == 'response_validation' and getattr(
                _REQUEST, 'relaxed', False):
            value = getattr(self._group, name)
            return 'warn' if value == 'error' else value
        return getattr(self._group, name)


class _ConfProxy:
    def __init__(self, conf):
        self._conf = conf

    def __getattr__(self, name):
        if name == 'api':
            return _ApiGroupProxy(self._conf.api)
        return getattr(self._conf, name)


def install_validation_switch():
    """Make nova.api.validation read its CONF through the switch."""
    from nova.api import validation
    if not isinstance(validation.CONF, _ConfProxy):
        validation.CONF = _ConfProxy(validation.CONF)


# -- identity ----------------------------------------------------------------

class IdentityResponder:
    """Keystone v3 version discovery only (OSC wants to see a v3)."""

    def __call__(self, environ, start_response):
        base = _base_url(environ)
        path = environ.get('PATH_INFO', '/').rstrip('/')
        version = {
            'id': 'v3.14',
            'status': 'stable',
            'updated': '2020-04-07T00:00:00Z',
            'links': [{'rel': 'self', 'href': base + '/v3/'}],
            'media-types': [{
                'base': 'application/json',
                'type': 'application/vnd.openstack.identity-v3+json'}],
        }
        if path == '':
            return _json(start_response, '300 Multiple Choices',
                         {'versions': {'values': [version]}})
        if path == '/v3':
            return _json(start_response, '200 OK', {'version': version})
        return _not_found(start_response)


# -- image -------------------------------------------------------------------

_IMAGE_CORE = ('id', 'name', 'status', 'container_format', 'disk_format',
               'size', 'min_ram', 'min_disk', 'protected', 'visibility',
               'tags', 'created_at', 'updated_at', 'checksum', 'owner')


def glance_v2_image(image, base):
    out = {k: image.get(k) for k in _IMAGE_CORE if k in image}
    out.setdefault('tags', [])
    out.setdefault('visibility', 'public')
    out.setdefault('protected', False)
    out.setdefault('os_hidden', False)
    for key, value in (image.get('properties') or {}).items():
        out.setdefault(key, value)
    out['self'] = '/v2/images/%s' % image['id']
    out['file'] = '/v2/images/%s/file' % image['id']
    out['schema'] = '/v2/schemas/image'
    return out


class ImageResponder:
    """Read-only Glance v2 over nova's GlanceFixture."""

    def __init__(self, glance_fixture):
        self.glance = glance_fixture

    def __call__(self, environ, start_response):
        base = _base_url(environ)
        path = environ.get('PATH_INFO', '/').rstrip('/')
        method = environ.get('REQUEST_METHOD')
        if path in ('', '/v2') and method == 'GET':
            return _json(start_response, '300 Multiple Choices' if not path
                         else '200 OK', {'versions': [{
                             'id': 'v2.9', 'status': 'CURRENT',
                             'links': [{'rel': 'self',
                                        'href': base + '/v2/'}]}]})
        if method != 'GET':
            return _json(start_response, '405 Method Not Allowed',
                         {'error': 'the bed image service is read-only'})
        if path == '/v2/images':
            query = urllib.parse.parse_qs(environ.get('QUERY_STRING', ''))
            images = sorted(self.glance.images.values(),
                            key=lambda i: i['id'])
            for key in ('name', 'id', 'status', 'visibility'):
                if key in query:
                    images = [i for i in images
                              if str(i.get(key)) == query[key][0]]
            if 'marker' in query:
                ids = [i['id'] for i in images]
                marker = query['marker'][0]
                images = images[ids.index(marker) + 1:] if marker in ids \
                    else []
            return _json(start_response, '200 OK', {
                'images': [glance_v2_image(i, base) for i in images],
                'schema': '/v2/schemas/images',
                'first': '/v2/images'})
        match = re.match(r'^/v2/images/([^/]+)$', path)
        if match:
            image = self.glance.images.get(match.group(1))
            if image is None:
                return _not_found(start_response, 'image not found')
            return _json(start_response, '200 OK',
                         glance_v2_image(image, base))
        return _not_found(start_response)


# -- network -----------------------------------------------------------------

_VIF_TYPE = {
    'direct': 'hw_veb',
    'macvtap': 'hw_veb',
    'direct-physical': 'hostdev_physical',
}


class NetworkResponder:
    """Neutron v2.0 ports (and networks) over nova's NeutronFixture.

    ``GET /v2.0/ports`` filters on any top-level field given in the query
    (``device_id``, ``network_id``, ``binding:vnic_type`` ...);
    ``POST /v2.0/ports`` creates a port in the fixture so that e.g. SR-IOV
    ports (``binding:vnic_type`` direct / direct-physical / macvtap) can be
    made from outside and then used to boot a server.
    ``GET /v2.0/agents``: one Open vSwitch agent per compute host of
    ``hosts``, kernel OVS (``datapath_type`` ``system``), in the shape of
    neutron-lib's api-ref sample ``agents/agents-list-response.json``.
    """

    def __init__(self, neutron_fixture, hosts=()):
        self.neutron = neutron_fixture
        self.hosts = hosts

    def _agents(self):
        return [self._ovs_agent(host) for host in self.hosts]

    @staticmethod
    def _ovs_agent(host):
        return {
            'binary': 'neutron-openvswitch-agent', 'description': None,
            'availability_zone': None,
            'heartbeat_timestamp': '2017-09-12 19:40:08',
            'admin_state_up': True, 'alive': True,
            'id': str(uuid.uuid5(uuid.NAMESPACE_DNS, 'ovs-agent.' + host)),
            'topic': 'N/A', 'host': host,
            'agent_type': 'Open vSwitch agent',
            'started_at': '2017-09-12 19:35:38',
            'created_at': '2017-09-12 19:35:38', 'resources_synced': True,
            'configurations': {
                'datapath_type': 'system',
                'vhostuser_socket_dir': '/var/run/openvswitch',
                'ovs_capabilities': {
                    'datapath_types': ['netdev', 'system'],
                    'iface_types': ['geneve', 'gre', 'internal', 'patch',
                                    'system', 'tap', 'vxlan']},
                'bridge_mappings': {'public': 'br-ex'},
                'tunnel_types': ['vxlan'], 'devices': 0}}

    def _port(self, port_id):
        port = copy.deepcopy(self.neutron._ports[port_id])
        self.neutron._merge_in_active_binding(port)
        port.setdefault('binding:host_id', None)
        port.setdefault('device_owner', '')
        port.setdefault('name', '')
        port.setdefault('project_id', port.get('tenant_id'))
        return port

    def __call__(self, environ, start_response):
        base = _base_url(environ)
        path = environ.get('PATH_INFO', '/').rstrip('/')
        method = environ.get('REQUEST_METHOD')
        query = urllib.parse.parse_qs(environ.get('QUERY_STRING', ''))
        if path == '' and method == 'GET':
            return _json(start_response, '200 OK', {'versions': [{
                'id': 'v2.0', 'status': 'CURRENT',
                'links': [{'rel': 'self', 'href': base + '/v2.0/'}]}]})
        if path == '/v2.0' and method == 'GET':
            return _json(start_response, '200 OK', {'resources': [
                {'name': n, 'collection': n + 's', 'links': []}
                for n in ('port', 'network', 'subnet', 'agent')]})
        if path == '/v2.0/extensions':
            return _json(start_response, '200 OK', {'extensions': []})
        if path == '/v2.0/ports' and method == 'GET':
            ports = [self._port(pid) for pid in sorted(self.neutron._ports)]
            return _json(start_response, '200 OK',
                         {'ports': _filter(ports, query)})
        if path == '/v2.0/ports' and method == 'POST':
            body = _read_json(environ).get('port', {})
            try:
                port = self.create_port(body)
            except ValueError as e:
                return _json(start_response, '400 Bad Request',
                             {'NeutronError': {'message': str(e)}})
            return _json(start_response, '201 Created',
                         {'port': self._port(port['id'])})
        match = re.match(r'^/v2.0/ports/([^/]+)$', path)
        if match:
            port_id = match.group(1)
            if port_id not in self.neutron._ports:
                return _not_found(start_response, 'port not found')
            if method == 'DELETE':
                self.neutron._ports.pop(port_id, None)
                self.neutron._port_bindings.pop(port_id, None)
                start_response('204 No Content', [])
                return [b'']
            return _json(start_response, '200 OK',
                         {'port': self._port(port_id)})
        if path == '/v2.0/networks' and method == 'GET':
            nets = [copy.deepcopy(n) for n in self.neutron._networks.values()]
            return _json(start_response, '200 OK',
                         {'networks': _filter(nets, query)})
        match = re.match(r'^/v2.0/networks/([^/]+)$', path)
        if match and method == 'GET':
            net = self.neutron._networks.get(match.group(1))
            if net is None:
                return _not_found(start_response, 'network not found')
            return _json(start_response, '200 OK',
                         {'network': copy.deepcopy(net)})
        if path == '/v2.0/agents' and method == 'GET':
            return _json(start_response, '200 OK',
                         {'agents': _filter(self._agents(), query)})
        if path == '/v2.0/subnets' and method == 'GET':
            subnets = [copy.deepcopy(s)
                       for s in self.neutron._subnets.values()]
            return _json(start_response, '200 OK',
                         {'subnets': _filter(subnets, query)})
        return _not_found(start_response)

    def create_port(self, body):
        network_id = body.get('network_id')
        network = self.neutron._networks.get(network_id)
        if network is None:
            raise ValueError('network %s not found' % network_id)
        subnet_ids = [s if isinstance(s, str) else s['id']
                      for s in network.get('subnets', [])]
        vnic_type = body.get('binding:vnic_type', 'normal')
        port_id = str(uuid.uuid4())
        port = {
            'id': port_id,
            'name': body.get('name', ''),
            'description': body.get('description', ''),
            'network_id': network_id,
            'admin_state_up': True,
            'status': 'DOWN',
            'mac_address': 'fa:16:3e:' + ':'.join(
                '%02x' % random.randint(0, 255) for _ in range(3)),
            'fixed_ips': [{
                'ip_address': '10.%d.%d.%d' % (
                    random.randint(0, 255), random.randint(0, 255),
                    random.randint(2, 254)),
                'subnet_id': subnet_ids[0]}] if subnet_ids else [],
            'tenant_id': network.get('tenant_id'),
            'project_id': network.get('tenant_id'),
            'device_id': '',
            'device_owner': '',
            'resource_request': None,
            'binding:profile': {},
            'binding:vif_details': (
                {'vlan': network.get('provider:segmentation_id')}
                if vnic_type != 'normal' else {}),
            'binding:vif_type': _VIF_TYPE.get(vnic_type, 'ovs'),
            'binding:vnic_type': vnic_type,
            'port_security_enabled': vnic_type == 'normal',
        }
        self.neutron._ports[port_id] = port
        return port


def _filter(items, query):
    for key, values in query.items():
        if key in ('fields', 'limit', 'marker', 'sort_key', 'sort_dir'):
            continue
        items = [i for i in items if str(i.get(key)) in values
                 or (i.get(key) in (None, '') and '' in values)]
    return items


# -- control -----------------------------------------------------------------

class ControlResponder:
    """Loopback control endpoint for bed-side faults.

    ``GET /computes``: ``{host: "up" | "stopped"}``;
    ``POST /computes/<host>/stop`` and ``/start``: stop / restart that
    nova-compute service (its RPC server and heartbeat stop, so Nova sees the
    service go down after ``service_down_time``);
    ``GET /services``: ``{"scheduler" | "conductor": "up" | "stopped"}``;
    ``POST /services/<scheduler|conductor>/stop`` and ``/start``: stop /
    restart that control plane service (down after ``service_down_time``);
    ``POST /periodic``: run ``update_available_resource`` on every running
    compute now; ``GET /periodic``: ``{"interval": s, "runs": n}``, the
    ``--periodic-interval`` and how many timed runs have happened;
    ``GET /api``: the nova-api front process of ``--api-process`` (PID,
    URL, restarts); ``POST /api/restart?down=S``: stop it (SIGTERM by its
    recorded PID), wait S seconds, start it again on the same port.

    ``GET /hosts``: ``{host: driver}``; ``GET /hosts/<host>``: that
    compute as its kernel and libvirt would show it, read from the bed at
    request time: ``nova_conf`` (the INI text of its Nova configuration),
    and on a ``--driver libvirt`` bed ``facts`` (cells, domains with the
    XML Nova gave libvirt, PCI devices: ``libvirt.host_facts``),
    ``usage`` (free pages, pinned CPUs, assigned PCI devices) and
    ``files`` (``virsh capabilities``, ``virsh freepages --all``,
    ``numactl --hardware``, ``lscpu -J``, the libvirt test driver host
    file: ``testbed.sshhosts.bedview``); ``GET /hosts/<host>/nova.conf``:
    the INI text alone.  The SSH test hosts' ``from_bed`` mode serves
    these.
    """

    def __init__(self, bed):
        self.bed = bed

    def __call__(self, environ, start_response):
        path = environ.get('PATH_INFO', '/').rstrip('/')
        method = environ.get('REQUEST_METHOD')
        if path == '/computes' and method == 'GET':
            return _json(start_response, '200 OK', self.bed.compute_states())
        match = re.match(r'^/computes/([^/]+)/(stop|start)$', path)
        if match and method == 'POST':
            host, action = match.groups()
            try:
                if action == 'stop':
                    self.bed.stop_compute(host)
                else:
                    self.bed.start_compute_again(host)
            except KeyError:
                return _not_found(start_response, 'no compute %s' % host)
            except ValueError as e:
                return _json(start_response, '409 Conflict',
                             {'error': str(e)})
            return _json(start_response, '200 OK', self.bed.compute_states())
        if path == '/services' and method == 'GET':
            return _json(start_response, '200 OK', self.bed.control_states())
        match = re.match(r'^/services/([^/]+)/(stop|start)$', path)
        if match and method == 'POST':
            name, action = match.groups()
            try:
                if action == 'stop':
                    self.bed.stop_control_service(name)
                else:
                    self.bed.start_control_service_again(name)
            except KeyError:
                return _not_found(start_response, 'no service %s' % name)
            except ValueError as e:
                return _json(start_response, '409 Conflict',
                             {'error': str(e)})
            return _json(start_response, '200 OK', self.bed.control_states())
        if path.startswith('/api'):
            return self._api(environ, start_response, path, method)
        if path.startswith('/hosts') and method == 'GET':
            return self._hosts(start_response, path)
        if path == '/periodic' and method == 'POST':
            self.bed.run_periodics()
            return _json(start_response, '200 OK', {'ran': True})
        if path == '/periodic' and method == 'GET':
            return _json(start_response, '200 OK', {
                'interval': self.bed.options.periodic_interval,
                'runs': getattr(self.bed, 'periodic_runs', 0)})
        if path == '' and method == 'GET':
            return _json(start_response, '200 OK', self.bed.state())
        return _not_found(start_response)

    def host_view(self, host):
        """``GET /hosts/<host>`` (see the class docstring)."""
        from testbed.fakecloud import libvirt
        if host not in self.bed.compute_hosts:
            raise KeyError(host)
        driver = self.bed.options.driver
        view = {'host': host, 'driver': driver,
                'nova_conf': libvirt.nova_conf(host, driver),
                'facts': None, 'usage': None, 'files': None}
        mode = self.bed.libvirt_mode
        if mode is not None and host in mode.connections:
            from testbed.sshhosts import bedview
            view['facts'] = mode.host_view(host)
            view['usage'] = bedview.usage(view['facts'])
            view['files'] = bedview.files(view['facts'])
        return view

    def _hosts(self, start_response, path):
        parts = path.split('/')[2:]
        if not parts:
            return _json(start_response, '200 OK', {
                h: self.bed.options.driver for h in self.bed.compute_hosts})
        try:
            view = self.host_view(parts[0])
        except KeyError:
            return _not_found(start_response, 'no compute %s' % parts[0])
        if parts[1:] == ['nova.conf']:
            data = view['nova_conf'].encode()
            start_response('200 OK', [('Content-Type', 'text/plain'),
                                      ('Content-Length', str(len(data)))])
            return [data]
        if len(parts) > 1:
            return _not_found(start_response)
        return _json(start_response, '200 OK', view)

    def _api(self, environ, start_response, path, method):
        """``GET /api``, ``POST /api/restart?down=S`` (--api-process)."""
        try:
            if path == '/api' and method == 'GET':
                return _json(start_response, '200 OK', self.bed.api_state())
            if path == '/api/restart' and method == 'POST':
                query = urllib.parse.parse_qs(
                    environ.get('QUERY_STRING', ''))
                down = float(query.get('down', ['0'])[0])
                return _json(start_response, '200 OK',
                             self.bed.restart_api(down))
        except KeyError:
            return _not_found(start_response, 'the bed runs without '
                              '--api-process')
        except ValueError as e:
            return _json(start_response, '400 Bad Request',
                         {'error': str(e)})
        return _not_found(start_response)


# -- serving -----------------------------------------------------------------

class _LogAdapter:
    def __init__(self, name):
        self.logger = std_logging.getLogger('fakecloud.http.' + name)

    def write(self, text):
        text = text.rstrip()
        if text:
            self.logger.debug('%s', text)

    def info(self, msg, *args):
        self.logger.debug(msg, *args)

    def debug(self, msg, *args):
        self.logger.debug(msg, *args)

    def error(self, msg, *args):
        self.logger.error(msg, *args)

    def exception(self, msg, *args):
        self.logger.exception(msg, *args)


class Listener:
    """One WSGI app served on a free 127.0.0.1 port in a green thread."""

    def __init__(self, name, app, host='127.0.0.1', port=0):
        self.name = name
        self.app = app
        self.sock = eventlet.listen((host, port))
        self.host, self.port = self.sock.getsockname()[:2]
        self.thread = None

    @property
    def url(self):
        return 'http://%s:%d' % (self.host, self.port)

    def start(self):
        log = _LogAdapter(self.name)
        self.thread = eventlet.spawn(
            eventlet.wsgi.server, self.sock, self.app, log=log,
            max_size=200, keepalive=True, socket_timeout=300,
            log_output=True, debug=False)
        return self

    def stop(self):
        if self.thread is not None:
            self.thread.kill()
            self.thread = None
        try:
            self.sock.close()
        except OSError:
            pass
