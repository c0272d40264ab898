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

"""Fake compute hosts: one real sshd per host, real virsh (test driver).

Each host is an ``sshd`` listening on its own loopback address
(127.0.0.x, a free port), started under ``unshare --mount --uts`` so that
it (and every session it spawns) gets its own view of the machine:

* hostname (UTS namespace);
* ``/usr/bin/virsh``: a shim that runs the real virsh on the host's own
  libvirt test driver file (``test:///<dir>/state/host.xml``, real
  domains: dumpxml, vcpupin, vcpuinfo, numatune, emulatorpin, list) and
  prints recorded-format files for ``capabilities`` / ``freepages`` (the
  test driver cannot describe host cells in a custom file);
* ``/usr/bin/lscpu``, ``/usr/bin/numactl``: the host's recorded outputs;
* ``/sys/class/net`` and ``/sys/bus/pci/devices``: the host's NICs and
  PCI devices with their ``numa_node``;
* ``/etc/passwd`` and ``/etc/shadow`` with a test user (``migtest``,
  shell /bin/sh, password field ``*``), so the machine's user database
  is never modified;
* nova.conf at one of the paths the product reads
  (:data:`NOVA_CONF_PATHS`: ``/etc/nova/nova.conf``, the OSP 13+
  containerised ``/var/lib/config-data/puppet-generated/nova_libvirt/
  etc/nova/nova.conf``, kolla's ``/etc/kolla/nova-compute/nova.conf``)
  when the host has one (``nova_conf``).  ``/etc`` and ``/var/lib`` are
  overlay mounts inside the host's mount namespace (lower: the machine's
  directory, upper: the host's temp dir), so nothing is created on the
  machine itself; each path is a symlink to the host's
  ``state/novaconf/<n>.conf``, rewritten by :meth:`FakeHost.write_nova_conf`
  (no file: the path is not readable, as on a host without nova.conf).

Hosts of :meth:`SSHHosts.from_bed` show a compute of the running test
bed instead: their ``virsh``, ``lscpu`` and ``numactl`` are one shim
that fetches the compute's view from the bed's control endpoint
(``GET /hosts/<name>``) at every call, and the real virsh answers for
the domains Nova defined there (``bedview``); nova.conf and /sys come
from the bed too (doc/source/contributor/testbed.rst, "SSH test hosts").

A host built with ``missing=('numactl',)`` also gets ``SetEnv PATH=`` a
directory of links to what it does have: the program really is absent
from that host's PATH (exit status 127).  A host whose state has
``hang`` set has a virsh that blocks (as with a hung libvirtd).

Teardown stops only the processes this fixture started: the recorded
listener PIDs and their descendants (found through ``/proc``).  Nothing
is ever killed by name, pattern, group or namespace.
"""

import json
import os
import shutil
import signal
import socket
import subprocess  # nosec B404: the test bed starts sshd
import tempfile
import time
import urllib.request

import fixtures

from testbed.sshhosts import render

USER = 'migtest'
UID = 64321
PROGRAMS = ('unshare', 'mount', 'ssh-keygen', 'virsh')
SSHD = '/usr/sbin/sshd'
APT_PACKAGES = ('libvirt-clients', 'openssh-server', 'openssh-client',
                'numactl')
# What a host's minimal PATH holds when some program is "missing".
BASIC_TOOLS = ('sh', 'env', 'cat', 'printf', 'readlink', 'sleep', 'virsh',
               'lscpu', 'numactl')
#: Where a host's nova.conf can be (the product's
#: ``migrationclient.host.commands.NOVA_CONF_PATHS``, kept equal by
#: testbed/tests/test_sshhosts.py): package install, OSP 13+ container
#: (puppet-generated config of nova_libvirt), kolla-ansible.
NOVA_CONF_PATHS = (
    '/etc/nova/nova.conf',
    '/var/lib/config-data/puppet-generated/nova_libvirt/etc/nova/nova.conf',
    '/etc/kolla/nova-compute/nova.conf',
)
#: Short names for :data:`NOVA_CONF_PATHS` (``nova_conf_path``).
NOVA_CONF_LAYOUTS = {'package': NOVA_CONF_PATHS[0],
                     'osp13': NOVA_CONF_PATHS[1],
                     'kolla': NOVA_CONF_PATHS[2]}
#: Machine directories overlaid (upper dir in the host's temp dir) inside
#: each host's mount namespace, so files can appear under them there.
OVERLAID = ('/etc', '/var/lib')


def missing_prerequisites():
    """A skip reason when the test bed cannot run here, else None."""
    if os.geteuid() != 0:
        return 'the SSH test hosts need root (mount namespaces)'
    missing = [p for p in PROGRAMS if shutil.which(p) is None]
    if not os.path.exists(SSHD):
        missing.append(SSHD)
    if missing:
        return ('missing %s; install: apt-get install -y '
                '--no-install-recommends %s'
                % (', '.join(missing), ' '.join(APT_PACKAGES)))
    return None


def _free_port(address):
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


def _children_of(pids):
    """Descendants of ``pids`` (from /proc), deepest last."""
    found, frontier = [], set(pids)
    while frontier:
        nxt = set()
        for entry in os.listdir('/proc'):
            if not entry.isdigit():
                continue
            try:
                with open('/proc/%s/stat' % entry) as handle:
                    stat = handle.read()
            except OSError:
                continue
            ppid = int(stat.rsplit(')', 1)[1].split()[1])
            if ppid in frontier and int(entry) not in found:
                nxt.add(int(entry))
        found.extend(sorted(nxt))
        frontier = nxt
    return found


def _mount_namespace(pid):
    try:
        return os.readlink('/proc/%d/ns/mnt' % pid)
    except OSError:
        return None


_VIRSH_SHIM = '''#!/bin/sh
H=%(dir)s
echo $$ >> "$H/run/pids"
if [ -e "$H/state/hang" ]; then sleep 30; fi
case "$1" in
  capabilities) exec cat "$H/state/capabilities.xml" ;;
  freepages) exec cat "$H/state/freepages.txt" ;;
esac
exec "$H/bin/virsh.real" -c "test://$H/state/host.xml" "$@"
'''

_CAT_SHIM = '''#!/bin/sh
exec cat %(file)s
'''

# A host backed by the bed (SSHHosts.from_bed): virsh, lscpu and numactl
# in one program (by the name it is called as).  Each call fetches the
# compute's view from the bed's control endpoint (GET /hosts/<name>,
# no proxy), refreshes the host's nova.conf from it (unless a test
# wrote its own), and answers: capabilities / freepages / lscpu /
# numactl from the rendered files, every other virsh command from the
# real virsh on a test driver file of Nova's domains written for this
# call.  A bed without libvirt (fake driver) has no files: the host's
# hand-written state answers, as in the default mode.
_BED_SHIM = '''#!/usr/bin/python3 -IS
import json
import os
import subprocess
import sys
import time
import urllib.request

H = %(dir)r
URL = %(url)r
NOVA_CONF = %(nova_conf)r


def out(text):
    sys.stdout.buffer.write(text.encode())
    sys.stdout.flush()
    return 0


def write(path, text):
    tmp = '%%s.%%d.tmp' %% (path, os.getpid())
    with open(tmp, 'w') as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def state(name):
    with open(os.path.join(H, 'state', name)) as handle:
        return handle.read()


def main():
    with open(H + '/run/pids', 'a') as handle:
        handle.write('%%d\\n' %% os.getpid())
    if os.path.exists(H + '/state/hang'):
        time.sleep(30)
    prog = os.path.basename(sys.argv[0])
    args = sys.argv[1:]
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(URL, timeout=30) as resp:
            view = json.load(resp)
    except (OSError, ValueError) as exc:
        sys.stderr.write('error: failed to connect to the hypervisor\\n'
                         'error: %%s\\n' %% exc)
        return 1
    if view.get('nova_conf') is not None and not os.path.exists(
            os.path.join(os.path.dirname(NOVA_CONF), 'fixed')):
        try:
            with open(NOVA_CONF) as handle:
                same = handle.read() == view['nova_conf']
        except OSError:
            same = False
        if not same:
            write(NOVA_CONF, view['nova_conf'])
    files = view.get('files')
    if files is None:
        files = {name: state(name) for name in (
            'capabilities.xml', 'freepages.txt', 'lscpu.json',
            'numactl.txt', 'host.xml')}
    if prog == 'lscpu':
        return out(files['lscpu.json'])
    if prog == 'numactl':
        return out(files['numactl.txt'])
    if args[:1] == ['capabilities']:
        return out(files['capabilities.xml'])
    if args[:1] == ['freepages']:
        return out(files['freepages.txt'])
    host = os.path.join(H, 'run', 'host-%%d.xml' %% os.getpid())
    write(host, files['host.xml'])
    try:
        done = subprocess.run([H + '/bin/virsh.real', '-c',
                               'test://' + host] + args)
    finally:
        os.unlink(host)
    return done.returncode


sys.exit(main())
'''


class FakeHost:
    """One fake compute host (see the module docstring)."""

    def __init__(self, name, address, root, missing=(), bed=None,
                 nova_conf_path=NOVA_CONF_PATHS[0]):
        self.name = name
        self.address = address
        self.port = _free_port(address)
        self.dir = os.path.join(root, name)
        self.missing = tuple(missing)
        self.process = None
        self.host_key_pub = None
        # from_bed: the control endpoint's URL of this compute's view
        self.bed_url = ('%s/hosts/%s' % (bed.rstrip('/'), name)
                        if bed else None)
        self.nova_conf_path = NOVA_CONF_LAYOUTS.get(nova_conf_path,
                                                    nova_conf_path)

    # -- nova.conf --------------------------------------------------------

    def _nova_conf_file(self, path):
        return os.path.join(self.dir, 'state', 'novaconf',
                            '%d.conf' % NOVA_CONF_PATHS.index(path))

    def write_nova_conf(self, text, path=NOVA_CONF_PATHS[0]):
        """Make the host show ``text`` as its nova.conf at ``path``.

        ``path``: one of :data:`NOVA_CONF_PATHS` or a short name of
        :data:`NOVA_CONF_LAYOUTS` (``package``, ``osp13``, ``kolla``).
        The other paths become unreadable; ``text`` None removes them all
        (a host without nova.conf).  Effective from the next command.
        On a host of :meth:`SSHHosts.from_bed`, the bed's nova.conf is
        no longer fetched after this.
        """
        self._write_nova_conf(text, path)
        # a bed-backed host no longer refreshes it from the bed
        self._write(os.path.join('state', 'novaconf', 'fixed'), '')

    def _write_nova_conf(self, text, path):
        path = NOVA_CONF_LAYOUTS.get(path, path)
        if path not in NOVA_CONF_PATHS:
            raise ValueError('no nova.conf path %r (one of %s)'
                             % (path, ', '.join(NOVA_CONF_PATHS)))
        for other in NOVA_CONF_PATHS:
            if other != path or text is None:
                try:
                    os.unlink(self._nova_conf_file(other))
                except FileNotFoundError:
                    pass
        if text is not None:
            target = self._nova_conf_file(path)
            tmp = target + '.tmp'
            with open(tmp, 'w') as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)

    # -- bed-backed hosts ---------------------------------------------------

    def fetch_view(self):
        """The compute's view from the bed (``GET /hosts/<name>``)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(self.bed_url, timeout=60) as resp:
            return json.load(resp)

    def refresh(self):
        """Take nova.conf and /sys (the static parts) from the bed again.

        virsh, lscpu and numactl fetch at every call; the PCI devices
        under /sys do not change while the bed runs, and nova.conf is
        also refreshed by each of those calls.
        """
        view = self.fetch_view()
        if not os.path.exists(os.path.join(self.dir, 'state', 'novaconf',
                                           'fixed')):
            self._write_nova_conf(view['nova_conf'], self.nova_conf_path)
        if view.get('facts'):
            from testbed.sshhosts import bedview
            state = bedview.host_state(view['facts'])
            self._write_sysfs(state)
        return view

    def _prepare_overlays(self):
        """Upper dirs of the /etc and /var/lib overlays: nova.conf links."""
        os.makedirs(os.path.join(self.dir, 'state', 'novaconf'),
                    mode=0o755, exist_ok=True)
        for index, top in enumerate(OVERLAID):
            for sub in ('upper%d' % index, 'work%d' % index):
                os.makedirs(os.path.join(self.dir, 'overlay', sub),
                            mode=0o755)
        for path in NOVA_CONF_PATHS:
            index = [i for i, top in enumerate(OVERLAID)
                     if path.startswith(top + '/')][0]
            inside = os.path.join(self.dir, 'overlay', 'upper%d' % index,
                                  os.path.relpath(path, OVERLAID[index]))
            os.makedirs(os.path.dirname(inside), mode=0o755, exist_ok=True)
            os.symlink(self._nova_conf_file(path), inside)

    # -- files ------------------------------------------------------------

    def _write(self, relative, text, mode=0o644):
        path = os.path.join(self.dir, relative)
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        with open(path, 'w') as handle:
            handle.write(text)
        os.chmod(path, mode)
        return path

    def write_state(self, state, hang=False, corrupt=None):
        """Make the host show ``state`` from the next command on.

        ``corrupt`` names a recorded output ('capabilities.xml', ...) to
        truncate in the middle (a malformed output).
        """
        files = {'capabilities.xml': render.capabilities(state),
                 'freepages.txt': render.freepages(state),
                 'lscpu.json': render.lscpu(state),
                 'numactl.txt': render.numactl(state),
                 'host.xml': render.host_xml(state)}
        if corrupt:
            files[corrupt] = files[corrupt][:len(files[corrupt]) // 2]
        for name, text in files.items():
            self._write(os.path.join('state', name), text)
        hang_file = os.path.join(self.dir, 'state', 'hang')
        if hang:
            self._write(os.path.join('state', 'hang'), '')
        elif os.path.exists(hang_file):
            os.unlink(hang_file)
        self._write_sysfs(state)

    def _write_sysfs(self, state):
        """/sys/class/net and /sys/bus/pci/devices of ``state``."""
        # sysfs: rebuild both trees in place (they are bind-mounted)
        for tree in ('sys/class/net', 'sys/bus/pci/devices'):
            path = os.path.join(self.dir, tree)
            os.makedirs(path, mode=0o755, exist_ok=True)
            for entry in os.listdir(path):
                full = os.path.join(path, entry)
                if os.path.isdir(full) and not os.path.islink(full):
                    shutil.rmtree(full)
                else:
                    os.unlink(full)
        pci = dict(state.pci)
        for nic, (node, address) in state.nics.items():
            pci.setdefault(address, node)
        for address, node in pci.items():
            self._write(os.path.join('sys/bus/pci/devices', address,
                                     'numa_node'), '%d\n' % node)
        for nic, (node, address) in state.nics.items():
            net = os.path.join(self.dir, 'sys/class/net', nic)
            os.makedirs(net, mode=0o755)
            os.symlink('/sys/bus/pci/devices/' + address,
                       os.path.join(net, 'device'))

    def _prepare(self, authorized_key):
        os.makedirs(self.dir, mode=0o755)
        os.chmod(self.dir, 0o755)
        for sub in ('bin', 'home', 'state', 'etc', 'run'):
            os.makedirs(os.path.join(self.dir, sub), mode=0o755,
                        exist_ok=True)
        # the shims record their PIDs here (as the test user)
        os.chown(os.path.join(self.dir, 'run'), UID, UID)
        key = os.path.join(self.dir, 'ssh_host_ed25519_key')
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '',
                        '-C', self.name, '-f', key], check=True,
                       stdout=subprocess.DEVNULL)
        with open(key + '.pub') as handle:
            self.host_key_pub = ' '.join(handle.read().split()[:2])
        self._write('authorized_keys', authorized_key)
        self._prepare_overlays()
        shutil.copy2(shutil.which('virsh'),
                     os.path.join(self.dir, 'bin', 'virsh.real'))
        self._write('bin/virsh', _VIRSH_SHIM % {'dir': self.dir}, 0o755)
        if self.bed_url:
            self._write('bin/bedshim', _BED_SHIM % {
                'dir': self.dir, 'url': self.bed_url,
                'nova_conf': self._nova_conf_file(self.nova_conf_path)},
                0o755)
            # the shim refreshes nova.conf as the test user
            os.chown(os.path.join(self.dir, 'state', 'novaconf'), UID, UID)
        self._write('bin/lscpu', _CAT_SHIM % {
            'file': os.path.join(self.dir, 'state', 'lscpu.json')}, 0o755)
        self._write('bin/numactl', _CAT_SHIM % {
            'file': os.path.join(self.dir, 'state', 'numactl.txt')}, 0o755)
        with open('/etc/passwd') as handle:
            passwd = handle.read()
        self._write('etc/passwd', passwd.rstrip('\n') + '\n%s:x:%d:%d:'
                    'migrationclient test:%s:/bin/sh\n'
                    % (USER, UID, UID, os.path.join(self.dir, 'home')))
        with open('/etc/shadow') as handle:
            shadow = handle.read()
        self._write('etc/shadow', shadow.rstrip('\n')
                    + '\n%s:*:19000:0:99999:7:::\n' % USER, 0o640)
        path_line = ''
        if self.missing:
            minimal = os.path.join(self.dir, 'minbin')
            os.makedirs(minimal, mode=0o755)
            for tool in BASIC_TOOLS:
                if tool in self.missing:
                    continue
                os.symlink(shutil.which(tool) if tool not in (
                    'virsh', 'lscpu', 'numactl') else '/usr/bin/' + tool,
                    os.path.join(minimal, tool))
            path_line = 'SetEnv PATH=%s\n' % minimal
        self._write('sshd_config', (
            'ListenAddress %(addr)s:%(port)d\n'
            'HostKey %(key)s\n'
            'PidFile none\n'
            'UsePAM no\n'
            'PasswordAuthentication no\n'
            'KbdInteractiveAuthentication no\n'
            'PubkeyAuthentication yes\n'
            'AuthorizedKeysFile %(auth)s\n'
            'StrictModes no\n'
            'PermitRootLogin no\n'
            'AllowUsers %(user)s\n'
            'AllowTcpForwarding yes\n'
            'X11Forwarding no\n'
            'PrintMotd no\n'
            'UseDNS no\n'
            'MaxStartups 50\n'
            'LogLevel ERROR\n'
            '%(path)s') % {
                'addr': self.address, 'port': self.port, 'key': key,
                'auth': os.path.join(self.dir, 'authorized_keys'),
                'user': USER, 'path': path_line})

    # -- process ----------------------------------------------------------

    def _namespace_script(self):
        d = self.dir
        tools = 'bin/bedshim' if self.bed_url else None
        binds = [('etc/passwd', '/etc/passwd'),
                 ('etc/shadow', '/etc/shadow'),
                 (tools or 'bin/virsh', '/usr/bin/virsh'),
                 (tools or 'bin/lscpu', '/usr/bin/lscpu'),
                 (tools or 'bin/numactl', '/usr/bin/numactl'),
                 ('sys/class/net', '/sys/class/net'),
                 ('sys/bus/pci/devices', '/sys/bus/pci/devices')]
        lines = ['set -e', 'hostname %s' % self.name,
                 'mkdir -p /run/sshd', 'chmod 755 /run/sshd']
        # Overlays first: the bind mounts below go on top of them.
        for index, top in enumerate(OVERLAID):
            lines.append(
                'mount -t overlay overlay -o lowerdir=%s,upperdir=%s,'
                'workdir=%s %s' % (
                    top, os.path.join(d, 'overlay', 'upper%d' % index),
                    os.path.join(d, 'overlay', 'work%d' % index), top))
        lines += ['mount --bind %s %s' % (os.path.join(d, src), dst)
                  for src, dst in binds]
        lines.append('exec %s -D -e -f %s' % (
            SSHD, os.path.join(d, 'sshd_config')))
        return '\n'.join(lines)

    def start(self, timeout=15):
        log = open(os.path.join(self.dir, 'sshd.log'), 'w')
        self.process = subprocess.Popen(  # nosec B603: fixed argv
            ['unshare', '--mount', '--uts', '--propagation', 'private',
             'sh', '-c', self._namespace_script()],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError('sshd for %s exited %s: %s' % (
                    self.name, self.process.returncode, self.log()))
            try:
                with socket.create_connection((self.address, self.port),
                                              timeout=1) as sock:
                    if sock.recv(4).startswith(b'SSH-'):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError('sshd for %s not listening after %ss: %s'
                           % (self.name, timeout, self.log()))

    def log(self):
        try:
            with open(os.path.join(self.dir, 'sshd.log')) as handle:
                return handle.read()[-2000:]
        except OSError:
            return ''

    def stop(self):
        """Stop the listener and its sessions (recorded PIDs only)."""
        if self.process is None:
            return
        pid = self.process.pid
        # Commands whose session already ended (a client timeout closes
        # the channel, sshd does not kill the command) are orphans, no
        # longer below the listener: the shims recorded their PIDs.  Only
        # a recorded PID still in this sshd's mount namespace is ours.
        namespace = _mount_namespace(pid)
        recorded = []
        try:
            with open(os.path.join(self.dir, 'run', 'pids')) as handle:
                recorded = [int(x) for x in handle.read().split()
                            if x.isdigit()]
        except OSError:
            pass
        recorded = [p for p in recorded
                    if namespace and _mount_namespace(p) == namespace]
        victims = _children_of([pid] + recorded) + recorded
        for child in reversed(victims):
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None

    def known_hosts_line(self, key=None):
        return '[%s]:%d %s\n' % (self.address, self.port,
                                 key or self.host_key_pub)


class SSHHosts(fixtures.Fixture):
    """Start fake hosts ``{name: spec}`` on 127.0.0.x.

    ``spec`` (a dict, may be empty or None): ``missing`` (programs absent
    from the host's PATH), ``nova_conf`` (the text of the host's
    nova.conf; default none) and ``nova_conf_path`` (where it is: a path
    of :data:`NOVA_CONF_PATHS` or ``package`` / ``osp13`` / ``kolla``;
    default ``/etc/nova/nova.conf``).

    ``bed`` (the bed's control endpoint URL) makes the host show that
    compute of the bed (see :meth:`from_bed`); ``address`` gives the
    host's loopback address (default: 127.0.0.``first_address`` + the
    host's index in name order).

    Attributes: ``hosts`` (name -> FakeHost), ``client_key`` (private key
    file), ``known_hosts`` (file listing every host), ``dir``.
    """

    def __init__(self, hosts, first_address=2):
        super().__init__()
        self.specs = hosts
        self.first_address = first_address

    @classmethod
    def from_bed(cls, control_url, names=None, specs=None):
        """Hosts that show the bed's computes as they are now.

        ``control_url``: the bed's control endpoint
        (``bed.endpoints['control']``); ``names``: the computes (default:
        all of the bed's).  Each host's ``virsh`` / ``lscpu`` /
        ``numactl`` fetch the compute's view (``GET /hosts/<name>``) at
        every call, so they show what Nova pinned, migrated or freed a
        moment ago; its nova.conf is the bed's running configuration
        (``specs[name]['nova_conf']`` replaces it, ``nova_conf_path``
        moves it); /sys shows the compute's PCI devices.  On a
        fake-driver bed only nova.conf comes from the bed (virsh shows
        the hand-written state of :meth:`FakeHost.write_state`).  Each
        host listens on the address the bed reports as that compute's
        ``host_ip`` (``fakecloud.host_ip``).
        """
        from testbed import fakecloud
        if names is None:
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({}))
            with opener.open(control_url.rstrip('/') + '/hosts',
                             timeout=60) as resp:
                names = sorted(json.load(resp))
        hosts = {}
        for name in names:
            spec = dict((specs or {}).get(name) or {}, bed=control_url)
            try:
                spec.setdefault('address', fakecloud.host_ip(name))
            except ValueError:
                pass
            hosts[name] = spec
        return cls(hosts)

    def _setUp(self):
        reason = missing_prerequisites()
        if reason:
            raise RuntimeError(reason)
        self.dir = tempfile.mkdtemp(prefix='migration-sshhosts-')
        os.chmod(self.dir, 0o755)
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.client_key = os.path.join(self.dir, 'client_key')
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '',
                        '-C', 'migrationclient-tests', '-f',
                        self.client_key], check=True,
                       stdout=subprocess.DEVNULL)
        with open(self.client_key + '.pub') as handle:
            public = handle.read()
        self.hosts = {}
        base = self.first_address
        for offset, (name, spec) in enumerate(sorted(self.specs.items())):
            spec = spec or {}
            address = spec.get('address') or '127.0.0.%d' % (base + offset)
            host = FakeHost(name, address, self.dir,
                            missing=spec.get('missing', ()),
                            bed=spec.get('bed'),
                            nova_conf_path=spec.get('nova_conf_path',
                                                    NOVA_CONF_PATHS[0]))
            host._prepare(public)
            host.write_state(render.HostState())
            if spec.get('nova_conf') is not None:
                host.write_nova_conf(spec['nova_conf'], host.nova_conf_path)
            if host.bed_url:
                host.refresh()
            self.hosts[name] = host
        for host in self.hosts.values():
            self.addCleanup(host.stop)
            host.start()
        self.known_hosts = self.write_known_hosts('known_hosts')

    def write_known_hosts(self, name, keys=None, skip=()):
        """Write a known_hosts file; ``keys`` overrides some hosts' keys."""
        path = os.path.join(self.dir, name)
        with open(path, 'w') as handle:
            for host_name, host in sorted(self.hosts.items()):
                if host_name in skip:
                    continue
                handle.write(host.known_hosts_line(
                    (keys or {}).get(host_name)))
        return path

    def host_map(self):
        return {name: host.address for name, host in self.hosts.items()}

    def ssh_host_args(self):
        """``--ssh-host NAME=ADDRESS:PORT`` for every host (CLI args)."""
        args = []
        for name, host in sorted(self.hosts.items()):
            args += ['--ssh-host', '%s=%s:%d' % (name, host.address,
                                                 host.port)]
        return args

    def ssh_args(self):
        """Every ``--ssh-*`` argument the CLI needs to reach these hosts.

        ``--ssh-user``, ``--ssh-key``, ``--ssh-no-agent``, ``--ssh-config
        ''``, ``--ssh-known-hosts`` and one ``--ssh-host`` per host (add
        ``--ssh`` where the command wants it).
        """
        return ['--ssh-user', USER, '--ssh-key', self.client_key,
                '--ssh-no-agent', '--ssh-config', '',
                '--ssh-known-hosts', self.known_hosts] + self.ssh_host_args()

    def ssh(self, name, command, timeout=60):
        """Run ``command`` (a shell line) on host ``name`` with ``ssh``.

        The real OpenSSH client as the test user through the host's real
        sshd, host key verified (BatchMode, StrictHostKeyChecking).
        Returns the CompletedProcess (text).
        """
        host = self.hosts[name]
        return subprocess.run(  # nosec B603: fixed argv, test hosts only
            ['ssh', '-F', '/dev/null', '-i', self.client_key,
             '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
             '-o', 'StrictHostKeyChecking=yes',
             '-o', 'UserKnownHostsFile=%s' % self.known_hosts,
             '-o', 'ConnectTimeout=15', '-p', str(host.port),
             '%s@%s' % (USER, host.address), command],
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout)

    def other_key(self):
        """A valid public key no host has (a "changed" key)."""
        path = os.path.join(self.dir, 'other_key')
        if not os.path.exists(path):
            subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '',
                            '-f', path], check=True,
                           stdout=subprocess.DEVNULL)
        with open(path + '.pub') as handle:
            return ' '.join(handle.read().split()[:2])
