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

"""How many live migrations a drain lets leave each source host at once.

Nova runs ``[DEFAULT] max_concurrent_live_migrations`` outbound live
migrations per compute host and queues the others; a queued migration
shows no progress, so the drain sends no more than that (``--stuck-after``
could not tell a queued migration from a stuck one).  Per source host, in
this order:

1. ``--max-live-per-source`` when given (0: no limit);
2. the host's nova.conf, read over SSH (``compute drain --ssh``:
   :func:`read`), when it was read and is not 0;
3. Nova's default, 1 (also when nova.conf says 0: no limit in Nova, so
   the option's default applies).

:func:`table` says which applied, per host (the report's ``live_limits``,
the lines :func:`lines` prints).
"""

from migrationclient._i18n import _
from migrationclient.engine.drain import model
from migrationclient.host import novaconf

#: Nova's default [DEFAULT] max_concurrent_live_migrations (and the
#: option's default)
NOVA_DEFAULT_LIVE = 1

FROM_OPTION = 'option'
FROM_NOVA_CONF = 'nova.conf'
#: nova.conf says 0 (no limit in Nova): the option's default
FROM_UNLIMITED = 'nova.conf 0'
FROM_DEFAULT = 'default'


def live_limit(options, host):
    """The live limit of source ``host`` (0: no limit) and where from."""
    given = getattr(options, 'max_live_per_source', None)
    if given is not None:
        return given, FROM_OPTION
    read_limits = getattr(options, 'live_limits', None) or {}
    value = read_limits.get(host)
    if value is None:
        return NOVA_DEFAULT_LIVE, FROM_DEFAULT
    if value <= 0:
        return NOVA_DEFAULT_LIVE, FROM_UNLIMITED
    return value, FROM_NOVA_CONF


def sources(items):
    """The source hosts of the drain's live migrations, sorted."""
    return sorted({i.original_host for i in items
                   if i.action == model.LIVE and i.original_host})


def table(options, hosts):
    """``{host: {'limit': n, 'source': ..., 'nova_conf': n or None}}``."""
    read_limits = getattr(options, 'live_limits', None) or {}
    out = {}
    for host in hosts:
        limit, source = live_limit(options, host)
        out[host] = {'limit': limit, 'source': source,
                     'nova_conf': read_limits.get(host)}
    return out


def lines(limits):
    """One line per host of :func:`table`'s answer, for the operator."""
    out = []
    for host, entry in sorted(limits.items()):
        limit = (_('no limit') if entry['limit'] == 0 else
                 _('%d at a time') % entry['limit'])
        conf = entry.get('nova_conf')
        why = {
            FROM_OPTION: _('--max-live-per-source') + (
                _('; nova.conf says %d') % conf if conf is not None
                else ''),
            FROM_NOVA_CONF: _('[DEFAULT] max_concurrent_live_migrations '
                              'in its nova.conf'),
            FROM_UNLIMITED: _('its nova.conf says 0, no limit in Nova: '
                              'the --max-live-per-source default'),
            FROM_DEFAULT: _('nova.conf not read: Nova\'s default; give '
                            '--max-live-per-source to match it'),
        }[entry['source']]
        out.append(_('%(host)s: live migrations %(limit)s (%(why)s)')
                   % {'host': host, 'limit': limit, 'why': why})
    return out


def read(options, hosts, pool):
    """Read the hosts' nova.conf limits into ``options.live_limits``.

    ``pool``: a :class:`~migrationclient.host.ssh.HostPool` (or anything
    with its ``run_parsed``).  Returns ``(warnings, lines)``: a host whose
    nova.conf could not be read is a warning (the option, or Nova's
    default, then applies); ``lines`` say which limit applies per host.
    """
    found, notes = novaconf.live_limits(pool, hosts)
    return _apply(options, hosts, found, notes)


def _apply(options, hosts, found, notes):
    merged = dict(getattr(options, 'live_limits', None) or {})
    merged.update(found)
    options.live_limits = merged
    return notes, lines(table(options, hosts))


def read_for_job(job, ssh_options, pool_factory=None):
    """:func:`read` for a prepared drain job (``compute drain --ssh``).

    The source hosts of its live migrations, reached as every SSH-using
    command reaches them (``--ssh-host``, else the hypervisor's
    ``host_ip``); ``pool_factory(ssh_options, addresses)`` makes the pool
    (default :class:`~migrationclient.host.ssh.HostPool`).  Returns
    ``(warnings, lines)``; no live migration: nothing is read.  A host
    whose nova.conf the plan's host reading gave (``job.host_confs``) is
    not read again.
    """
    hosts = sources(job.items)
    if not hosts:
        return [], []
    # the nova.conf files the plan's host reading gave: not read again
    known = getattr(job, 'host_confs', None) or {}
    found = {h: known[h].max_concurrent_live_migrations
             for h in hosts if h in known}
    notes = ['%s: %s' % (h, n) for h in hosts if h in known
             for n in known[h].notes]
    missing = [h for h in hosts if h not in known]
    if not missing:
        return _apply(job.options, hosts, found, notes)
    snapshot = getattr(job, 'snapshot', None)
    facts = snapshot.hosts if snapshot is not None else {}
    addresses = {h: facts[h].host_ip for h in missing
                 if h in facts and facts[h].host_ip}
    if pool_factory is None:
        from migrationclient.host import ssh
        pool_factory = ssh.HostPool
    with pool_factory(ssh_options, addresses) as pool:
        read_now, more = novaconf.live_limits(pool, missing)
    found.update(read_now)
    return _apply(job.options, hosts, found, notes + more)
