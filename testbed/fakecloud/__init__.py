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
"""A fake cloud that runs real Nova and Placement code on 127.0.0.1.

Start it with::

    python -m testbed.fakecloud --state-dir DIR

This package module itself imports nothing from Nova, so test processes can
read the constants below without pulling in eventlet; the bed process
monkey-patches in ``__main__`` before anything else.
"""

#: Cloud names written into ``DIR/clouds.yaml``.
CLOUD_ADMIN = 'fakecloud'
CLOUD_MEMBER = 'fakecloud-member'

#: Identity the admin listeners give to requests that carry none.
ADMIN_USER = 'admin'
ADMIN_PROJECT = '6f70656e737461636b20342065766572'  # nova's test PROJECT_ID
#: Identity of the ``fakecloud-member`` listeners (a plain project member).
MEMBER_USER = 'demo'
MEMBER_PROJECT = 'a5d1b1d2e4f74c2c9e3b7e0c4f2d3a10'

#: Server metadata keys steering the controllable fake driver.
#: Seconds the live migration stays ``running`` (memory progress written
#: every 0.5 s).
META_HOLD = 'fakecloud:hold'
#: Percentage at which memory progress stops until abort / force-complete.
META_STALL = 'fakecloud:stall'
#: ``1``: the live migration fails after its hold and rolls back (server
#: stays ACTIVE on the source, migration ``failed``).
META_FAIL = 'fakecloud:fail'
#: Seconds the live migration stays ``preparing`` (destination
#: pre_live_migration).
META_PREPARE_HOLD = 'fakecloud:prepare_hold'
#: Seconds a cold migration / resize stays ``migrating`` on the source.
META_COLD_HOLD = 'fakecloud:cold_hold'

#: Images the bed registers besides the Glance fixture's own.
IMAGE_CIRROS = 'a8b2e5c4-1d3f-4e5a-9b7c-0d1e2f3a4b5c'
IMAGE_RHEL = 'b7c3f6d5-2e4a-4f6b-8c8d-1e2f3a4b5c6d'


def host_ip(host):
    """The loopback address the bed's hypervisor ``host`` reports.

    ``computeN`` reports ``host_ip`` 127.0.0.(N+1): one distinct address
    per compute in 127.0.0.0/8, the addresses ``testbed.sshhosts`` gives
    its hosts when started for ``compute1``, ``compute2``, ... in order
    (first address 127.0.0.2), so that ``--ssh`` without a host map stays
    on this machine.
    """
    prefix = 'compute'
    if not host.startswith(prefix) or not host[len(prefix):].isdigit():
        raise ValueError('not a compute of the bed: %s' % host)
    index = int(host[len(prefix):])
    if not 1 <= index <= 253:
        raise ValueError('no loopback address for %s' % host)
    return '127.0.0.%d' % (index + 1)
