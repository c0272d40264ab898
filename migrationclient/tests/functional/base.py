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
"""Shared base of the functional tests of python-migrationclient.

The fake cloud they run on is the test bed, the top-level ``testbed``
package of this repository (``testbed.client``: one bed per test process
and configuration, the CLI runners and server helpers;
doc/source/contributor/testbed.rst).  This module adds what only the
tests of this client need.
"""

import json
import os
import time

from testbed import client

# The bed client's names, as the functional tests know them.
Bed = client.Bed
BedError = client.BedError
CLIError = client.CLIError
CLIResult = client.CLIResult
FLAVORS = client.FLAVORS
KINDS = client.KINDS
LIBVIRT_KINDS = client.LIBVIRT_KINDS
_openstack_binary = client.openstack_binary


class FunctionalTestCase(client.BedTestCase):
    """Base of functional tests: ``self.bed`` is a running fake cloud.

    Class attributes choose the bed (``testbed.client.BedTestCase``):
    ``BED_DRIVER`` (``fake`` or ``libvirt``), ``BED_COMPUTES``,
    ``BED_MAX_MICROVERSION`` (e.g. ``'2.38'``), ``BED_ARGS``.
    """

    def counting_proxy(self, directory):
        """A counting proxy in front of the bed's admin cloud.

        Returns ``(proxy, clouds.yaml written in directory)``; the proxy
        stops at cleanup.
        """
        from testbed import fakecloud
        from testbed import httpproxy
        proxy = httpproxy.CountingProxy.for_cloud(
            self.bed.clouds_yaml, fakecloud.CLOUD_ADMIN, max_lifetime=600,
            idle_timeout=300)
        proxy.start()
        self.addCleanup(proxy.stop)
        return proxy, httpproxy.write_proxied_clouds_yaml(
            self.bed.clouds_yaml, os.path.join(directory, 'clouds.yaml'),
            proxy, fakecloud.CLOUD_ADMIN)

    def wait_report_entry(self, path, server, states, timeout=60,
                          interval=0.1):
        """The entry of ``server`` once the drain report shows a state.

        Waits until the report ``path`` has ``server`` in one of
        ``states``.  The report is rewritten atomically while the drain
        runs: a missing or unreadable file is "not yet".
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(path) as stream:
                    entries = json.load(stream)['servers']
            except (OSError, ValueError, KeyError):
                entries = []
            for e in entries:
                if e['id'] == server.id and e['state'] in states:
                    return e
            time.sleep(interval)
        self.fail('%s never reached %s in %s' % (server.id, states, path))


class SSHHostsMixin:
    """SSH test hosts named after the bed's computes (``SSH_HOSTS``).

    Real sshd hosts (:mod:`testbed.sshhosts`) with hand-written state;
    skipped where they cannot run (not root, programs missing).
    """

    SSH_HOSTS = ('compute1', 'compute2', 'compute3')

    def setUp(self):
        super().setUp()
        from testbed import sshhosts
        from testbed.sshhosts import render
        reason = sshhosts.missing_prerequisites()
        if reason:
            self.skipTest(reason)
        self.sshhosts = sshhosts
        self.render = render
        self.hosts = self.useFixture(sshhosts.SSHHosts(
            {name: {} for name in self.SSH_HOSTS}))


def read_terminal(master):
    """Everything a child wrote to a pseudo-terminal, until it closed it."""
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:        # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    return b''.join(chunks)
