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

"""The ``ssh`` option: host facts read over SSH (the CLI's ``--ssh``)."""


class ModuleDocFragment:

    # Host facts over SSH, as the commands' --ssh / --ssh-* options
    DOCUMENTATION = r'''
options:
  ssh:
    description:
      - Read each compute host's facts over SSH (NUMA cells, pinned CPUs,
        huge pages, PCI devices and VFs, C(nova.conf)), as
        C(openstack migration precheck --ssh) and
        C(openstack compute drain --ssh) do - verdicts for NUMA, pinned,
        huge page, PCI and SR-IOV servers are then yes or no instead of
        maybe, and a drain's capacity plan and per-source live migration
        limits rest on the hosts' facts.
      - Unset (the default) - the cloud's API facts only, no SSH.
      - Every option and file is checked before the cloud or any host is
        contacted (the commands' checks); a bad one fails the task with
        one line naming it.
      - The SSH connections start where the module runs (usually the
        control node, C(delegate_to=localhost)); host keys are verified
        against known_hosts unless I(ssh.accept_new_host_key).
    type: dict
    suboptions:
      user:
        description:
          - Remote user (TripleO - C(heat-admin) or C(tripleo-admin)).
            Default - the SSH config's C(User), else the local user.
        type: str
      key:
        description:
          - Private key files (each must be readable). The SSH agent and
            the SSH config's C(IdentityFile) are also tried.
        type: list
        elements: path
      no_agent:
        description:
          - Do not use the SSH agent.
        type: bool
        default: false
      port:
        description:
          - Remote port (default - the SSH config's, else 22).
        type: int
      proxy_jump:
        description:
          - Reach the compute hosts through this host, C([user@]host[:port])
            (for instance the undercloud). Default - the SSH config's
            C(ProxyJump).
        type: str
      sudo:
        description:
          - Run virsh through C(sudo -n) (a remote user that is not root).
        type: bool
        default: false
      virsh_container:
        description:
          - Run virsh inside this container on the compute hosts (TripleO
            OSP 13 and later - C(nova_libvirt)).
        type: str
      container_engine:
        description:
          - Engine of I(ssh.virsh_container).
        type: str
        choices: [podman, docker]
        default: podman
      timeout:
        description:
          - Seconds allowed for connecting and for each remote command.
        type: float
        default: 20.0
      config:
        description:
          - OpenSSH client config to honour (C(HostName), C(User),
            C(Port), C(IdentityFile), C(ProxyJump), C(UserKnownHostsFile)).
            Default - C(~/.ssh/config) when it exists; an empty string -
            none.
        type: path
      known_hosts:
        description:
          - known_hosts file; it must exist unless
            I(ssh.accept_new_host_key). Default - C(~/.ssh/known_hosts)
            and C(/etc/ssh/ssh_known_hosts).
        type: path
      accept_new_host_key:
        description:
          - Accept and save the key of a host not yet in known_hosts (trust
            on first use). A changed host key is always refused.
        type: bool
        default: false
      hosts:
        description:
          - Address to reach a compute host at, C(address) or
            C(address:port) (C([v6]:port) for IPv6), per compute host name,
            instead of the hypervisor's C(host_ip) from the compute API
            (the commands' C(--ssh-host)). Overrides I(ssh.host_map).
        type: dict
      host_map:
        description:
          - File of C(<compute-host> <address>[:<port>]) lines overriding
            the address taken from the compute API (the commands'
            C(--ssh-host-map)).
        type: path
      optional:
        description:
          - When no compute host at all can be read over SSH, go on with
            the API facts alone (a warning), as the commands'
            C(--ssh-optional).
          - C(false) - the task fails and, for
            M(openstack.migration.compute_drain), nothing is changed
            (the commands' exit status 11).
        type: bool
        default: false
'''
