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

"""``openstack migration precheck`` against real Nova: fidelity and input.

The fidelity tests run the precheck for one server and one destination,
then ask Nova to do that migration and compare.  A precheck "yes" that
Nova refuses (synchronously or asynchronously) is a false OK and fails the
test; a "no" that Nova allows fails too unless the case names the reason
(a rule Nova does not enforce in this configuration).  Each test prints
its agreement table (also attached to the result as ``agreement``).
"""

import os
import time

import fixtures
from openstack import exceptions as sdk_exc
from testtools import content

from migrationclient.cloud import gather as cloud_gather
from migrationclient import exitcodes
from migrationclient.tests.functional import base

LIVE_FINAL = ('completed', 'error', 'failed', 'cancelled')
COLD_FINAL = ('finished', 'confirmed', 'error', 'failed', 'reverted')


class Case:
    """One fidelity case: ``make()`` returns a fresh (server, dest)."""

    def __init__(self, name, make, setup=None, undo=None, allowed_false_no=()):
        self.name = name
        self.make = make
        self.setup = setup
        self.undo = undo
        #: {kind: reason} where a "no" Nova allows is expected
        self.allowed_false_no = dict(allowed_false_no)


class PrecheckMixin:

    def precheck_row(self, server_id, dest, *extra):
        res = self.osc('migration', 'precheck', server_id, '--host', dest,
                       '-f', 'json', *extra, check=False)
        self.assertIn(res.returncode, (exitcodes.OK,
                                       exitcodes.PRECHECK_BLOCKED),
                      res.stderr)
        rows = res.json()
        self.assertEqual(1, len(rows), rows)
        row = rows[0]
        movable = {'yes', 'maybe'} & {row['Live'], row['Cold']}
        self.assertEqual(exitcodes.OK if movable
                         else exitcodes.PRECHECK_BLOCKED, res.returncode)
        return row

    def raise_quotas(self):
        compute = self.connection().compute
        compute.update_quota_set(self.bed.state['admin_project'],
                                 instances=500, cores=5000, ram=10 ** 8)

    def _new_migrations(self, server_id, before):
        compute = self.connection().compute
        return sorted((m for m in compute.migrations(instance_uuid=server_id)
                       if m.id not in before), key=lambda m: m.id)

    def _wait_final(self, server_id, before, final, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            migs = self._new_migrations(server_id, before)
            if migs and migs[-1].status in final:
                return migs[-1]
            if time.monotonic() > deadline:
                self.fail('migration of %s not final: %s' % (
                    server_id, [m.status for m in migs]))
            time.sleep(0.3)

    def _settle(self, server_id, timeout=60):
        compute = self.connection().compute
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = compute.get_server(server_id)
            if not server.task_state:
                return server
            time.sleep(0.3)
        return server

    def try_live(self, server, dest):
        """Ask Nova for the live migration: (allowed, what happened)."""
        compute = self.connection().compute
        before = {m.id for m in compute.migrations(instance_uuid=server.id)}
        try:
            compute.live_migrate_server(server, host=dest,
                                        block_migration='auto')
        except sdk_exc.HttpException as exc:
            return False, 'refused %s' % exc.status_code
        mig = self._wait_final(server.id, before, LIVE_FINAL)
        after = self._settle(server.id)
        ok = mig.status == 'completed' and after.compute_host == dest
        return ok, '%s (now on %s)' % (mig.status, after.compute_host)

    def try_cold(self, server, dest):
        compute = self.connection().compute
        before = {m.id for m in compute.migrations(instance_uuid=server.id)}
        try:
            compute.migrate_server(server, host=dest)
        except sdk_exc.HttpException as exc:
            return False, 'refused %s' % exc.status_code
        mig = self._wait_final(server.id, before, COLD_FINAL)
        after = self._settle(server.id)
        if mig.status in ('finished', 'confirmed') and \
                after.status == 'VERIFY_RESIZE':
            compute.confirm_server_resize(server)
            after = self._settle(server.id)
            return after.compute_host == dest, 'finished (now on %s)' % (
                after.compute_host)
        return False, '%s (%s on %s)' % (mig.status, after.status,
                                         after.compute_host)

    #: extra arguments of every precheck (``--ssh ...`` in the SSH classes)
    precheck_args = ()
    #: a "maybe" is a failure (with --ssh every fact is readable)
    strict_maybe = False

    def variants(self):
        """``[(title, precheck args, strict_maybe)]``: each trial's prechecks.

        All run on the server before its one migration (the precheck
        changes nothing: several variants judge the same trial).
        """
        return [('', self.precheck_args, self.strict_maybe)]

    def run_cases(self, cases, kinds=('live', 'cold')):
        """One table per variant (``{title: rows}``)."""
        variants = self.variants()
        tables = {title: [] for title, _a, _s in variants}
        #: seconds the prechecks of each variant took (printed)
        self._precheck_seconds = {}
        problems = []
        try:
            for case in cases:
                self._run_case(case, kinds, variants, tables, problems)
        finally:
            text = '\n\n'.join(
                (title + ':\n' if title else '') + self._table(table) +
                '\n' + self._totals(table) + '; prechecks %.1f s' % (
                    self._precheck_seconds.get(title, 0))
                for title, table in tables.items())
            print('\n' + text + '\n')
            self.addDetail('agreement', content.text_content(text))
        self.assertEqual([], problems, text)
        return tables if len(tables) > 1 else tables[variants[0][0]]

    def _verdict(self, case, kind, row, allowed, problems, strict_maybe):
        said = row['Live' if kind == 'live' else 'Cold']
        predicted = said == 'yes'
        if said == 'maybe':
            # not a prediction: a fact that decides was not readable
            agree = 'unverified (%s)' % ', '.join(sorted({
                w.split(' ')[0] for w in row['Warnings']
                if '[unknown' in w}))
            if strict_maybe:
                agree = 'MAYBE ' + agree
                problems.append((case.name, kind, row))
        elif predicted == allowed:
            agree = 'agree'
        elif predicted:
            agree = 'FALSE OK'
            problems.append((case.name, kind, row))
        elif kind in case.allowed_false_no:
            agree = 'no, Nova allows: %s' % case.allowed_false_no[kind]
        else:
            agree = 'FALSE BLOCK'
            problems.append((case.name, kind, row))
        return said, agree

    def _run_case(self, case, kinds, variants, tables, problems):
        if case.setup:
            case.setup()
        try:
            kept = None
            for kind in kinds:
                server, dest = kept or case.make()
                kept = None
                rows = []
                for title, args, _s in variants:
                    started = time.monotonic()
                    rows.append(self.precheck_row(server.id, dest, *args))
                    self._precheck_seconds[title] = self._precheck_seconds.get(
                        title, 0) + time.monotonic() - started
                try_ = self.try_live if kind == 'live' else self.try_cold
                source = server.compute_host
                allowed, what = try_(server, dest)
                for (title, _a, strict), row in zip(variants, rows):
                    said, agree = self._verdict(case, kind, row, allowed,
                                                problems, strict)
                    tables[title].append(
                        (case.name, kind, dest, said, what, agree,
                         ' | '.join(row['Blockers'])[:90]))
                after = self.connection().compute.get_server(server.id)
                if not allowed and after.status == 'ACTIVE' and \
                        after.compute_host == source:
                    kept = (after, dest)    # refused, untouched: reuse it
                else:
                    # free the capacity for the next trial
                    self.bed.delete_server(server)
            if kept:
                self.bed.delete_server(kept[0])
        finally:
            if case.undo:
                case.undo()

    def _table(self, table):
        rows = [self.HEADER] + table
        widths = [max(len(str(r[i])) for r in rows)
                  for i in range(len(self.HEADER))]
        return '\n'.join('  '.join(str(c).ljust(w) for c, w in zip(r, widths))
                         for r in rows)

    def _totals(self, table):
        """The counts issue 15 asks: verdicts, maybes, false yes."""
        said = [r[3] for r in table]
        return ('%d verdicts: %d yes, %d no, %d maybe; %d agree, '
                '%d false yes, %d false no' % (
                    len(table), said.count('yes'), said.count('no'),
                    said.count('maybe'),
                    sum(1 for r in table if r[5] == 'agree'),
                    sum(1 for r in table if r[5] == 'FALSE OK'),
                    sum(1 for r in table if r[5] == 'FALSE BLOCK')))

    HEADER = ('case', 'type', 'dest', 'precheck', 'nova', 'result',
              'blockers')


class TestPrecheckFidelityFake(PrecheckMixin, base.FunctionalTestCase):
    """Fake driver bed (nova 34, 2.104): every kind it can make."""

    def setUp(self):
        super().setUp()
        self.raise_quotas()

    def kind(self, kind, host='compute1', **kwargs):
        def make():
            return self.create_server(kind, host=host, **kwargs), 'compute2'
        return make

    def test_server_kinds(self):
        cases = [Case(k, self.kind(k)) for k in (
            'image', 'volume', 'config_drive', 'shutoff', 'paused', 'error',
            'locked')]
        self.run_cases(cases)

    def test_hosts_and_capacity(self):
        compute = self.connection().compute

        def to(dest, kind='image'):
            def make():
                return self.create_server(kind, host='compute1'), dest
            return make

        def set_compute3(enabled=True, forced_down=None):
            svc = [s for s in compute.services(binary='nova-compute')
                   if s.host == 'compute3'][0]
            if forced_down is not None:
                compute.update_service_forced_down(svc, forced=forced_down)
            elif enabled:
                compute.enable_service(svc)
            else:
                compute.disable_service(svc, disabled_reason='p3 test')

        big = self.bed.flavor('p3.big', 1, 120000, 1)
        cases = [
            Case('dest is source', to('compute1')),
            Case('disabled dest', to('compute3'),
                 setup=lambda: set_compute3(False),
                 undo=lambda: set_compute3(True)),
            Case('forced-down dest', to('compute3'),
                 setup=lambda: set_compute3(forced_down=True),
                 undo=lambda: set_compute3(forced_down=False)),
            Case('dest RAM full', lambda: (self.create_server(
                'image', host='compute1', flavor=big), 'compute2'),
                setup=lambda: self.create_server('image', host='compute2',
                                                 flavor=big)),
        ]
        self.run_cases(cases)

    def set_trait(self, host, trait, present=True):
        """Add / remove a custom trait on a compute node's provider."""
        placement = self.connection().placement
        version = '1.6'
        placement.put('/traits/%s' % trait, microversion=version)
        hv = [h for h in self.connection().compute.hypervisors(details=True)
              if (h.service_details or {}).get('host') == host][0]
        providers = placement.get(
            '/resource_providers', params={'name': hv.name},
            microversion=version).json()['resource_providers']
        uuid = providers[0]['uuid']
        url = '/resource_providers/%s/traits' % uuid
        body = placement.get(url, microversion=version).json()
        traits = set(body['traits'])
        traits = traits | {trait} if present else traits - {trait}
        placement.put(url, json={
            'traits': sorted(traits),
            'resource_provider_generation':
                body['resource_provider_generation']},
            microversion=version).raise_for_status()

    def test_placement_traits(self):
        # issue 15: the verdict is Placement's answer to the scheduler's
        # question; a destination without a required trait is "no" (named)
        # and Nova refuses it (NoValidHost), one with it is "yes"
        for host in ('compute1', 'compute3'):
            self.set_trait(host, 'CUSTOM_P15_GOLD')
            self.addCleanup(self.set_trait, host, 'CUSTOM_P15_GOLD', False)
        gold = self.bed.flavor('p15.gold', 1, 512, 1, extra_specs={
            'trait:CUSTOM_P15_GOLD': 'required'})

        def to(dest):
            def make():
                return self.create_server('image', host='compute1',
                                          flavor=gold), dest
            return make

        table = self.run_cases([Case('required trait, dest lacks it',
                                     to('compute2')),
                                Case('required trait, dest has it',
                                     to('compute3'))])
        said = {(r[0], r[1]): r[3] for r in table}
        self.assertEqual('no', said['required trait, dest lacks it', 'live'])
        self.assertEqual('yes', said['required trait, dest has it', 'cold'])
        server, dest = to('compute2')()
        row = self.precheck_row(server.id, dest)
        self.assertIn('required trait CUSTOM_P15_GOLD: the destination does '
                      'not have it', ' '.join(row['Blockers']))

    def test_server_groups(self):
        def member_pair(policy, peer_host, dest):
            def make():
                group = self.create_server_group(policy)
                self.create_server('image', host=peer_host, group=group)
                return self.create_server('image', host='compute1',
                                          group=group), dest
            return make

        cases = [
            Case('anti-affinity peer on dest',
                 member_pair('anti-affinity', 'compute2', 'compute2')),
            Case('anti-affinity peer elsewhere',
                 member_pair('anti-affinity', 'compute3', 'compute2')),
            Case('affinity peer on source',
                 member_pair('affinity', 'compute1', 'compute2')),
            Case('soft-anti-affinity peer on dest',
                 member_pair('soft-anti-affinity', 'compute2', 'compute2')),
        ]
        self.run_cases(cases)

    def test_running_operation(self):
        # A live migration held for 20 s: task_state "migrating".
        server = self.create_server('image', host='compute1',
                                    metadata={'fakecloud:hold': '20'})
        compute = self.connection().compute
        compute.live_migrate_server(server, host='compute2',
                                    block_migration='auto')
        self.wait_for_migration(server, ('running',))
        row = self.precheck_row(server.id, 'compute3')
        self.assertEqual(('no', 'no'), (row['Live'], row['Cold']))
        self.assertIn('task_state', ' '.join(row['Blockers']))
        allowed, what = self.try_live(server, 'compute3')
        self.assertFalse(allowed)
        self.assertEqual('refused 409', what)
        allowed, what = self.try_cold(server, 'compute3')
        self.assertEqual('refused 409', what)


class TestPrecheckCommand(PrecheckMixin, base.FunctionalTestCase):
    """Output, exit statuses, bad input, request counts."""

    def test_source_host_rows_and_commands(self):
        a = self.create_server('image', host='compute2')
        b = self.create_server('shutoff', host='compute2')
        rows = self.osc_json('migration', 'precheck', '--source-host',
                             'compute2')
        mine = [r for r in rows if r['Server'] in (a.id, b.id)]
        self.assertEqual({('compute1', a.id), ('compute3', a.id),
                          ('compute1', b.id), ('compute3', b.id)},
                         {(r['Destination'], r['Server']) for r in mine})
        for row in mine:
            if row['Server'] == a.id:
                self.assertEqual(('yes', 'yes'), (row['Live'], row['Cold']))
                self.assertIn('--live-migration', row['Command'])
            else:
                self.assertEqual(('no', 'yes'), (row['Live'], row['Cold']))
                self.assertTrue(row['Command'].startswith(
                    'openstack --os-compute-api-version 2.56 server migrate '
                    '--host '))
        # The command it prints works.
        row = [r for r in mine if r['Server'] == b.id][0]
        words = row['Command'].split()[1:]
        words.remove('--wait')
        self.osc(*words)
        self.wait_for_server(b, 'VERIFY_RESIZE')
        self.connection().compute.confirm_server_resize(b)
        moved = self.wait_for_server(b, 'SHUTOFF')
        self.assertEqual(row['Destination'], moved.compute_host)

    def test_long_live_only_and_value_format(self):
        a = self.create_server('image', host='compute1')
        rows = self.osc_json('migration', 'precheck', a.id, '--live',
                             '--long', '--host', 'compute2')
        self.assertEqual('skipped', rows[0]['Cold'])
        rules = {f.split(' ')[0] for f in rows[0]['Findings']}
        self.assertIn('memory', rules)
        self.assertIn('server-group', rules)
        res = self.osc('migration', 'precheck', a.id, '--host', 'compute2',
                       '-f', 'value', '-c', 'Live', '-c', 'Cold')
        self.assertEqual('yes yes', res.stdout.strip())

    def test_blocked_exit_status(self):
        err = self.create_server('error', host='compute1')
        res = self.osc('migration', 'precheck', err.id, check=False)
        self.assertEqual(exitcodes.PRECHECK_BLOCKED, res.returncode)
        self.assertIn('cannot move', res.stderr)

    def test_ssh_reads_no_host(self):
        # --ssh, and no compute host answers: not 0 with warnings, but
        # PRECHECK_NO_SSH_FACTS; --ssh-optional accepts API-only verdicts
        a = self.create_server('image', host='compute1')
        args = ['migration', 'precheck', a.id, '--host', 'compute2',
                '-f', 'json', '--ssh', '--ssh-config', '', '--ssh-timeout',
                '3', '--ssh-no-agent']
        for host in self.bed.hosts:
            args += ['--ssh-host', '%s=127.0.0.1:1' % host]
        res = self.osc(*args, check=False)
        self.assertEqual(exitcodes.PRECHECK_NO_SSH_FACTS, res.returncode,
                         res.stderr)
        self.assertEqual(11, res.returncode)
        self.assertNotIn('Traceback', res.stderr)
        self.assertIn('none of the 2 compute host(s) could be read',
                      res.stderr)
        self.assertIn('--ssh-optional', res.stderr)
        rows = res.json()
        self.assertEqual(['compute2'], [r['Destination'] for r in rows])
        self.assertIn(rows[0]['Live'], ('yes', 'maybe'))
        res = self.osc(*(args + ['--ssh-optional']), check=False)
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        self.assertIn('none of the 2 compute host(s) could be read',
                      res.stderr)
        self.assertEqual(rows, res.json())
        # a blocker from the API facts stands: 3, not 11
        err = self.create_server('error', host='compute1')
        args[2] = err.id
        res = self.osc(*args, check=False)
        self.assertEqual(exitcodes.PRECHECK_BLOCKED, res.returncode,
                         res.stderr)

    def test_bad_input(self):
        a = self.create_server('image', host='compute1', name='p3-dup')
        self.create_server('image', host='compute2', name='p3-dup')
        for args, text in (
                (('no-such-server',), 'No server with a name or ID'),
                (('p3-dup',), 'More than one server'),
                ((a.id, '--host', 'compute'), 'unknown host compute'),
                ((a.id, '--host', 'compute22'), 'unknown host compute22'),
                (('--source-host', 'compute'), 'unknown host compute'),
                ((), 'give at least one server')):
            res = self.osc('migration', 'precheck', *args, check=False)
            self.assertEqual(exitcodes.ERROR, res.returncode, args)
            self.assertIn(text, res.stderr)
            self.assertNotIn('Traceback', res.stderr)
            self.assertEqual(1, len([ln for ln in res.stderr.splitlines()
                                     if ln.strip()]), res.stderr)

    def test_not_admin(self):
        a = self.create_server('image', host='compute1')
        res = self.osc('migration', 'precheck', a.id, check=False,
                       cloud='fakecloud-member')
        self.assertEqual(exitcodes.ERROR, res.returncode,
                         res.stdout + res.stderr)
        self.assertNotIn('Traceback', res.stderr)
        self.assertTrue(res.stderr.strip(), res.stderr)

    def test_microversion_the_cloud_lacks(self):
        a = self.create_server('image', host='compute1')
        res = self.osc('--os-compute-api-version', '2.999', 'migration',
                       'precheck', a.id, check=False)
        self.assertEqual(exitcodes.ERROR, res.returncode,
                         res.stdout + res.stderr)
        self.assertNotIn('Traceback', res.stderr)

    def test_placement_and_network_unreachable(self):
        import yaml
        a = self.create_server('image', host='compute1')
        with open(self.bed.clouds_yaml) as handle:
            clouds = yaml.safe_load(handle)
        cloud = clouds['clouds']['fakecloud']
        # a port nothing listens on (port 1 needs root to bind)
        cloud['placement_endpoint_override'] = 'http://127.0.0.1:1'
        cloud['network_endpoint_override'] = 'http://127.0.0.1:1/'
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'clouds.yaml')
        with open(path, 'w') as handle:
            yaml.safe_dump(clouds, handle)
        res = self.openstack('migration', 'precheck', a.id, '--host',
                             'compute2', '-f', 'json', check=False,
                             env={'OS_CLIENT_CONFIG_FILE': path})
        self.assertEqual(exitcodes.OK, res.returncode, res.stderr)
        self.assertNotIn('Traceback', res.stderr)
        row = res.json()[0]
        self.assertEqual(('maybe', 'maybe'), (row['Live'], row['Cold']))
        warnings = ' '.join(row['Warnings'])
        self.assertIn('placement not read', warnings)
        self.assertIn('network service not read', warnings)
        self.assertIn('placement not read', res.stderr)

    def count_gather(self, **kwargs):
        conn = self.connection()
        seen = []

        def hook(response, *args, **kw):
            seen.append('%s %s' % (response.request.method, response.url))
        hooks = conn.session.session.hooks['response']
        hooks.append(hook)
        try:
            gathered = cloud_gather.gather(conn.compute, conn, **kwargs)
        finally:
            hooks.remove(hook)
        return gathered, seen

    def test_requests_do_not_grow_with_servers(self):
        self.create_server('image', host='compute3')
        self.count_gather(source_host='compute3')   # version discovery
        one, seen_one = self.count_gather(source_host='compute3')
        for _i in range(3):
            self.create_server('image', host='compute3')
        four, seen_four = self.count_gather(source_host='compute3')
        self.assertEqual(len(one.server_ids) + 3, len(four.server_ids))
        self.assertEqual(len(seen_one), len(seen_four),
                         '\n'.join(seen_four))
        # Placement: the scheduler's question once for the one flavor
        # (issue 15), no per-host inventory, usage or trait read: every
        # host has room and is in the answer.
        placement = [s for s in seen_four if '/resource_providers' in s]
        self.assertEqual([], placement)
        asked = [s for s in seen_four if '/allocation_candidates' in s]
        self.assertEqual(1, len(asked), seen_four)
        answer = four.snapshot.placement_for(four.server_ids[0])
        self.assertEqual({'compute1', 'compute2', 'compute3'},
                         set(answer.rooms))
        self.addDetail('requests', content.text_content(
            '\n'.join(seen_four)))


class TestPrecheckOldCloud(PrecheckMixin, base.FunctionalTestCase):
    """A cloud capped at compute 2.38 (OSP 10)."""

    BED_MAX_MICROVERSION = '2.38'

    def test_newton_cloud(self):
        compute = self.connection().compute
        flavor = compute.create_flavor(name='p3.private', vcpus=1, ram=256,
                                       disk=1, is_public=False)
        self.addCleanup(compute.delete_flavor, flavor)
        a = self.create_server('image', host='compute1', flavor=flavor)
        # Below 2.47 the precheck reads the flavor as it is now (from
        # /flavors/detail, private ones too, and os-extra_specs): a spec
        # added after the boot shows.  vPMEM blocks live before Ussuri.
        compute.create_flavor_extra_specs(flavor, {'hw:pmem': '1GB'})
        row = self.precheck_row(a.id, 'compute2')
        self.assertEqual(('no', 'yes'), (row['Live'], row['Cold']))
        self.assertIn('vPMEM', ' '.join(row['Blockers']))
        b = self.create_server('image', host='compute1')
        row = self.precheck_row(b.id, 'compute2')
        self.assertEqual(('yes', 'yes'), (row['Live'], row['Cold']))
        # No cold migration target before 2.56: the scheduler chooses.
        self.assertIn('--os-compute-api-version 2.30', row['Command'])
        rows = self.osc_json('migration', 'precheck', b.id, '--cold')
        self.assertEqual({'openstack server migrate --wait %s' % b.id},
                         {r['Command'] for r in rows})
        allowed, what = self.try_live(b, 'compute2')
        self.assertTrue(allowed, what)


class TestPrecheckSSH(base.SSHHostsMixin, PrecheckMixin,
                      base.FunctionalTestCase):
    """--ssh: host-side facts from real sshd + virsh hosts.

    The SSH hosts are named after the bed's computes (the bed's fake driver
    has no libvirt of its own).
    """

    SSH_HOSTS = ('compute1', 'compute2')

    #: Nova's iso9660 config drive as libvirt shows it (a read-only CD-ROM)
    CONFIG_DRIVE = (
        "      <disk type='file' device='cdrom'><driver name='qemu' "
        "type='raw'/><source file='/var/lib/nova/instances/%s/disk.config'/>"
        "<target dev='hdd' bus='ide'/><readonly/></disk>")

    def test_ssh_facts(self):
        server = self.create_server('image', host='compute1')
        server = self.connection().compute.get_server(server.id)
        drive = self.create_server('config_drive', host='compute1')
        drive = self.connection().compute.get_server(drive.id)
        domain_xml = self.render.domain_xml

        def with_config_drive(guest, number):
            text = domain_xml(guest, number)
            if guest.name != drive.instance_name:
                return text
            return text.replace('    </devices>', self.CONFIG_DRIVE % drive.id
                                + '\n    </devices>', 1)

        self.useFixture(fixtures.MonkeyPatch(
            'testbed.sshhosts.render.domain_xml',
            with_config_drive))
        self.hosts.hosts['compute1'].write_state(self.render.HostState(
            guests=(self.render.Guest(server.instance_name),
                    self.render.Guest(drive.instance_name))))
        args = ['--ssh', '--ssh-user', self.sshhosts.USER,
                '--ssh-key', self.hosts.client_key, '--ssh-no-agent',
                '--ssh-config', '', '--ssh-known-hosts',
                self.hosts.known_hosts]
        for name, host in self.hosts.hosts.items():
            args += ['--ssh-host', '%s=%s:%d' % (name, host.address,
                                                 host.port)]
        # compute3 has no sshd: a warning, its rules stay unknown
        args += ['--ssh-host', 'compute3=127.0.0.1:1']
        rows = self.osc_json('migration', 'precheck', server.id, '--long',
                             *args)
        by_dest = {r['Destination']: r for r in rows}
        self.assertEqual({'compute2', 'compute3'}, set(by_dest))
        findings = by_dest['compute2']['Findings']
        model = [x for x in findings if x.startswith('cpu-model')]
        self.assertIn('guest CPU mode host-passthrough', model[0])
        self.assertEqual('yes', by_dest['compute2']['Live'])
        warnings = ' '.join(by_dest['compute3']['Warnings'])
        self.assertIn('SSH', warnings)
        self.assertIn('compute3', warnings)
        drives = [x for x in findings if x.startswith('readonly-drives')]
        self.assertEqual(['readonly-drives [ok, live]: no read-only drive'],
                         drives)
        # the config drive as the host shows it; without --ssh: not checked
        rows = self.osc_json('migration', 'precheck', drive.id, '--long',
                             '--host', 'compute2', *args)
        drives = [x for x in rows[0]['Findings']
                  if x.startswith('readonly-drives')]
        self.assertEqual(1, len(drives), drives)
        self.assertIn('[warning, live]: iso9660 config drive (cdrom hdd '
                      '(ide)): read-only', drives[0])
        self.assertEqual('yes', rows[0]['Live'])
        rows = self.osc_json('migration', 'precheck', drive.id, '--long',
                             '--host', 'compute2')
        drives = [x for x in rows[0]['Findings']
                  if x.startswith('readonly-drives')]
        self.assertEqual(
            ['readonly-drives [not-checked, live]: config drive of unknown '
             'format'], drives)


class LibvirtMatrix(PrecheckMixin):
    """The fidelity matrix of issue 15 on the libvirt bed.

    compute1 / compute2: 2 NUMA nodes (2 dedicated CPUs, 1024 x 2 MiB
    pages each), 2 ``fc-pci`` devices and 4 VFs on physnet4; compute3: 1
    node (4 dedicated CPUs), no huge pages, no PCI.  Each case boots a
    server, prechecks it against one target, then asks Nova for the
    migration, live and cold (a server Nova refused, still where it was,
    serves the next kind).
    """

    BED_DRIVER = 'libvirt'

    def setUp(self):
        super().setUp()
        self.raise_quotas()

    def boot(self, kind, host='compute1', flavor=None):
        """A server of ``kind`` (or a flavor ``(name, vcpus, ram, specs)``)."""
        if flavor is not None:
            name, vcpus, ram, specs = flavor
            flavor = self.bed.flavor(name, vcpus, ram, 1, specs)
        return self.create_server(kind, host=host, flavor=flavor)

    def cases(self):
        pinned4 = ('fc.pinned4', 4, 1024, {'hw:cpu_policy': 'dedicated'})
        pinned_split = ('fc.pinned.split', 2, 1024, {
            'hw:cpu_policy': 'dedicated', 'hw:numa_nodes': '2'})
        hugepages2g = ('fc.hugepages2g', 1, 2048,
                       {'hw:mem_page_size': '2048'})
        fill = []

        def to(dest, kind, host='compute1', flavor=None):
            def make():
                return self.boot(kind, host, flavor), dest
            return make

        def filler(host, flavor, count):
            def setup():
                for _i in range(count):
                    fill.append(self.boot('pinned', host, flavor))
            return setup

        def unfill():
            while fill:
                self.bed.delete_server(fill.pop())

        cases = []
        for kind in ('pinned', 'pinned_aggregate', 'hugepages', 'numa',
                     'pci', 'sriov'):
            for dest in ('compute2', 'compute3'):
                cases.append(Case('%s -> %s' % (kind, dest), to(dest, kind)))
        cases += [
            # a pinned guest larger than any cell of compute2 (2 + 2)
            Case('pinned 4 CPUs compute3 -> compute2',
                 to('compute2', 'pinned', 'compute3', pinned4)),
            # Placement has 2 free PCPU on compute2, one per cell: the
            # 2-CPU guest fits no cell
            Case('pinned -> compute2 one CPU free per cell',
                 to('compute2', 'pinned'),
                 setup=filler('compute2', pinned_split, 1), undo=unfill),
            # no 2 MiB pages left on either cell of compute2
            Case('hugepages -> compute2 without free pages',
                 to('compute2', 'hugepages'),
                 setup=filler('compute2', hugepages2g, 2), undo=unfill),
        ]
        return cases


class TestPrecheckFidelityLibvirt(LibvirtMatrix, base.FunctionalTestCase):
    """Libvirt driver on fakelibvirt, each trial without and with --ssh.

    Each server is prechecked without and with --ssh, then migrated once.

    Without --ssh the precheck cannot see free huge pages, per-cell
    capacity or free devices: those verdicts are "maybe" (shown as
    unverified), never "yes"; the table ends with the maybe count.

    With --ssh (issue 15): no maybe, 100 % agreement with Nova.  The SSH
    test hosts show each compute as its kernel and libvirt would, from
    the bed's own fakelibvirt state (``SSHHosts.from_bed``): nova.conf,
    every domain's XML, free huge pages, PCI devices with their ids.
    """

    def setUp(self):
        super().setUp()
        from testbed import sshhosts
        reason = sshhosts.missing_prerequisites()
        if reason:
            self.skipTest(reason)
        hosts = self.useFixture(sshhosts.SSHHosts.from_bed(
            self.bed.endpoints['control']))
        self.ssh_args = ('--ssh',) + tuple(hosts.ssh_args())

    def variants(self):
        return [('without --ssh', (), False),
                # a "maybe" is a failure: every fact is readable
                ('with --ssh', self.ssh_args, True)]

    def test_libvirt_kinds(self):
        self.run_cases(self.cases())

    def test_pcpu_full_destination(self):
        # issue 15: Placement has no free PCPU on compute2 (two 2-CPU
        # pinned guests hold its 4 dedicated CPUs); only Nova's VCPU
        # fallback question finds it, and compute2 reports PCPU: "no",
        # naming PCPU, and Nova refuses (NoValidHost)
        def fill():
            for _i in range(2):
                self.create_server('pinned', host='compute2')

        def make():
            return self.create_server('pinned', host='compute1'), 'compute2'

        tables = self.run_cases([Case('pinned -> PCPU-full compute2', make,
                                      setup=fill)])
        for table in tables.values():
            self.assertEqual({'no'}, {r[3] for r in table})
        server, dest = make()
        row = self.precheck_row(server.id, dest)
        self.assertIn('no free PCPU', ' '.join(row['Blockers']))
