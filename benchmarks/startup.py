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

"""Start-up cost of the plugin.

* ``help-ratio``: ``openstack <cmd> --help`` for every command of the
  ``openstack.migration.v1`` group registered *at run time*, against
  ``openstack server migrate --help``, same interpreter, runs interleaved
  round by round (order rotated each round); the figure is the median of
  the per-round ratios of CPU time (user + system of the child process;
  the wall-time ratio is reported too).  Target <= 1.05.
* ``import``: ``python -X importtime`` of ``migrationclient.plugin`` alone
  (cold: it drags in osc_lib), its marginal cost inside ``openstack``
  (OSC imports every plugin module at start-up; the plugin's own modules
  are re-imported, timed, with OSC's already loaded), and which heavy
  modules are loaded with it (paramiko, the constraint library, anything
  of nova, the command modules): none is allowed.
"""

import os
import re
import resource
import subprocess
import sys
import time

from benchmarks import common

BASELINE = ('server', 'migrate')
GROUP = 'openstack.migration.v1'

#: Modules that must not be imported when OSC loads the plugin.
HEAVY = (
    ('paramiko', 'SSH library'),
    ('migrationclient.constraints', 'constraint library'),
    ('migrationclient.host', 'SSH fact gathering'),
    ('migrationclient.engine', 'orchestration'),
    ('migrationclient.v1', 'command modules'),
    ('nova', 'Nova'),
)


def plugin_commands():
    """Command words of every registered ``openstack.migration.v1`` entry."""
    from importlib import metadata
    eps = metadata.entry_points(group=GROUP)
    return sorted(tuple(ep.name.split('_')) for ep in eps)


def openstack_binary():
    path = os.path.join(os.path.dirname(sys.executable), 'openstack')
    if os.path.exists(path):
        return path
    import shutil
    return shutil.which('openstack')


def _clean_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith('OS_')}
    env['PYTHONDONTWRITEBYTECODE'] = env.get('PYTHONDONTWRITEBYTECODE', '')
    return env


def _children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_help(words):
    """``(CPU seconds, wall seconds)`` of one ``openstack WORDS --help``.

    CPU time (user + system of the child) is what the command costs; wall
    time on a shared machine mostly measures the neighbours.
    """
    cmd = [openstack_binary()] + list(words) + ['--help']
    cpu = _children_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, env=_clean_env(),
                          timeout=120)
    elapsed = time.perf_counter() - start
    cpu = _children_cpu() - cpu
    if proc.returncode != 0:
        raise RuntimeError('%s failed: %s' % (' '.join(cmd),
                                              proc.stderr[-500:]))
    return cpu, elapsed


def interleaved(commands, rounds, timer=time_help):
    """``{words: [timer(words) per round]}``, every command once a round.

    The order is rotated each round so that no command always runs first
    (cold caches) or right after the same neighbour.
    """
    samples = {c: [] for c in commands}
    for r in range(rounds):
        shift = r % len(commands)
        for words in commands[shift:] + commands[:shift]:
            samples[words].append(timer(words))
    return samples


@common.benchmark('startup-help')
def help_ratio(ctx):
    """openstack <plugin cmd> --help vs openstack server migrate --help."""
    commands = plugin_commands()
    if not commands:
        return [common.Row('startup-help', 'plugin commands', 0,
                           note='no command registered in %s' % GROUP)]
    rounds = 2 if ctx.smoke else 7
    time_help(BASELINE)  # warm the page cache once, not measured
    samples = interleaved([BASELINE] + commands, rounds)
    base = samples[BASELINE]
    rows = [common.Row(
        'startup-help', 'openstack server migrate --help (CPU)',
        round(common.median([c for c, _w in base]), 3), 's',
        note='median of %d; wall %.2f s' % (
            rounds, common.median([w for _c, w in base])),
        data={'cpu': [c for c, _w in base], 'wall': [w for _c, w in base]})]
    for words in commands:
        cpu = [c / b[0] for (c, _w), b in zip(samples[words], base)]
        wall = [w / b[1] for (_c, w), b in zip(samples[words], base)]
        rows.append(common.judged(
            'startup-help', 'openstack %s --help / baseline (CPU)'
            % ' '.join(words), round(common.median(cpu), 3), 'x', '<=',
            1.05, note='wall ratio %.3f; median %.2f s CPU' % (
                common.median(wall),
                common.median([c for c, _w in samples[words]])),
            data={'samples': samples[words], 'cpu_ratios': cpu,
                  'wall_ratios': wall}))
    return rows


_LINE = re.compile(r'^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$')


def parse_importtime(stderr):
    """``[(module, self_us, cumulative_us, depth)]`` in output order."""
    out = []
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if match:
            out.append((match.group(4), int(match.group(1)),
                        int(match.group(2)), len(match.group(3)) // 2))
    return out


def importtime(code):
    """Parsed ``-X importtime`` of ``python -c CODE`` (fresh process)."""
    proc = subprocess.run([sys.executable, '-X', 'importtime', '-c', code],
                          capture_output=True, text=True, env=_clean_env(),
                          timeout=120)
    if proc.returncode != 0:
        raise RuntimeError('python -c %r failed: %s' % (code,
                                                        proc.stderr[-800:]))
    return parse_importtime(proc.stderr)


def imported_after(entries, anchor):
    """Entries after the top-level ``anchor`` import finished.

    ``-X importtime`` prints a module when its import ends, children
    first, and never prints a module twice: what follows the anchor's
    top-level line was imported by the statements after it.
    """
    for i, (name, _self, _cum, depth) in enumerate(entries):
        if name == anchor and depth == 0:
            return entries[i + 1:]
    raise ValueError('%s not found in importtime output' % anchor)


def heavy_in(modules):
    found = []
    for prefix, what in HEAVY:
        hits = sorted(m for m in modules
                      if m == prefix or m.startswith(prefix + '.'))
        if hits:
            found.append('%s (%s)' % (prefix, what))
    return found


def _top_level_total(entries):
    return sum(cum for _n, _s, cum, depth in entries if depth == 0)


#: Run in a fresh interpreter: OSC imports every plugin module when
#: ``openstackclient.common.clientmanager`` is imported; the plugin's
#: modules are then dropped and imported again, timed, with everything
#: else OSC loads already in place.
_MARGINAL = """
import json, sys, time
import openstackclient.shell
mine = [m for m in sys.modules
        if m == 'migrationclient' or m.startswith('migrationclient.')]
for m in mine:
    del sys.modules[m]
before = set(sys.modules)
start = time.perf_counter()
import migrationclient.plugin
seconds = time.perf_counter() - start
print(json.dumps({'seconds': seconds, 'loaded_by_osc': sorted(mine),
                  'modules': sorted(set(sys.modules) - before)}))
"""


def marginal_import():
    """``{'seconds', 'modules', 'loaded_by_osc'}`` (see _MARGINAL)."""
    import json
    proc = subprocess.run([sys.executable, '-c', _MARGINAL],
                          capture_output=True, text=True, env=_clean_env(),
                          timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-800:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


@common.benchmark('startup-import')
def import_cost(ctx):
    """python -X importtime of migrationclient.plugin; heavy modules."""
    repeats = 2 if ctx.smoke else 5
    alone, marginal, modules = [], [], set()
    startup = {e[0] for e in importtime('pass')}
    for _i in range(repeats):
        entries = [e for e in importtime('import migrationclient.plugin')
                   if e[0] not in startup]
        alone.append(_top_level_total(entries))
        modules |= {e[0] for e in entries}
        result = marginal_import()
        marginal.append(result['seconds'] * 1e6)
        modules |= set(result['loaded_by_osc'])
    heavy = heavy_in(modules)
    rows = [
        common.Row('startup-import', 'import migrationclient.plugin (alone)',
                   round(common.median(alone) / 1000.0, 1), 'ms',
                   note='%d modules' % len(modules),
                   data={'samples_us': alone, 'modules': sorted(modules)}),
        common.Row('startup-import',
                   'import migrationclient.plugin within openstack',
                   round(common.median(marginal) / 1000.0, 2), 'ms',
                   note='modules: %s' % ', '.join(result['modules']),
                   data={'samples_us': marginal,
                         'loaded_by_osc': result['loaded_by_osc']}),
        common.Row('startup-import', 'heavy modules at plugin load',
                   ', '.join(heavy) or 'none', target='none',
                   ok=not heavy, data={'heavy': heavy}),
    ]
    # Informational: what each command module costs when its --help or
    # its run needs it (after OSC is loaded).  Not in the smoke run.
    for words in ([] if ctx.smoke else plugin_commands()):
        ep = _entry_point(words)
        module = ep.value.split(':')[0]
        after = imported_after(importtime(
            'import openstackclient.shell; import %s' % module),
            'openstackclient.shell')
        rows.append(common.Row(
            'startup-import', 'import %s after OSC' % module,
            round(_top_level_total(after) / 1000.0, 1), 'ms',
            note='heavy: %s' % (', '.join(
                h for h in heavy_in({e[0] for e in after})
                if not h.startswith('migrationclient.v1')) or 'none'),
            data={'modules': sorted(e[0] for e in after)}))
    return rows


def _entry_point(words):
    from importlib import metadata
    name = '_'.join(words)
    for ep in metadata.entry_points(group=GROUP):
        if ep.name == name:
            return ep
    raise KeyError(name)
