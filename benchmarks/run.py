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

"""The runner: ``python -m benchmarks [--smoke] [--only NAME] [-v]``.

Runs the registered benchmarks, prints one table and writes every figure
(with its raw samples) to ``benchmarks/results/<UTC time>[-smoke].json``
(git-ignored) and ``benchmarks/results/latest.json``.

Exit status: 0 when every benchmark ran (targets missed are reported, not
fatal, unless ``--strict``), 1 with ``--strict`` when a target was missed,
2 when a benchmark failed to run.
"""

import argparse
import dataclasses
import json
import os
import time
import traceback

# Importing a module registers its benchmarks, in this order.
from benchmarks import byhand  # noqa: F401
from benchmarks import capacity  # noqa: F401
from benchmarks import commands  # noqa: F401
from benchmarks import common
from benchmarks import drain  # noqa: F401
from benchmarks import precheck_matrix  # noqa: F401
from benchmarks import rules_engine  # noqa: F401
from benchmarks import scale  # noqa: F401
from benchmarks import startup  # noqa: F401

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       'results')
ORDER = ('startup-help', 'startup-import', 'rules-engine', 'capacity-speed',
         'capacity-quality')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks',
        description='Benchmarks of python-migrationclient.')
    parser.add_argument('--smoke', action='store_true',
                        help='short run for CI (under 2 minutes)')
    parser.add_argument('--only', action='append', default=[],
                        metavar='NAME', help='run only this benchmark '
                        '(repeatable; prefix match)')
    parser.add_argument('--no-bed', action='store_true',
                        help='skip the benchmarks that need the test bed')
    parser.add_argument('--list', action='store_true',
                        help='list the benchmarks and exit')
    parser.add_argument('--json', metavar='PATH',
                        help='write the results here (default: '
                        'benchmarks/results/<time>.json)')
    parser.add_argument('--strict', action='store_true',
                        help='exit 1 when a target is missed')
    parser.add_argument('-v', '--verbose', action='store_true',
                        help='progress on stderr')
    return parser.parse_args(argv)


def selected(args):
    chosen = []
    for bench in sorted(common.REGISTRY, key=lambda b: (
            b.name not in ORDER, ORDER.index(b.name) if b.name in ORDER
            else 0)):
        if args.only and not any(bench.name.startswith(o)
                                 for o in args.only):
            continue
        if args.smoke and not bench.smoke and not args.only:
            continue
        chosen.append(bench)
    return chosen


def format_value(row):
    value = row.value
    if isinstance(value, float):
        value = ('%.3f' % value).rstrip('0').rstrip('.')
    text = str(value)
    return '%s %s' % (text, row.unit) if row.unit else text


def table(rows):
    header = ('benchmark', 'metric', 'value', 'target', 'verdict', 'note')
    lines = [(r.benchmark, r.metric, format_value(r), r.target, r.verdict,
              r.note) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    widths[-1] = min(widths[-1], 60)

    def fmt(cells):
        return '  '.join(str(c)[:w].ljust(w)
                         for c, w in zip(cells, widths)).rstrip()
    out = [fmt(header), fmt(['-' * w for w in widths])]
    out += [fmt(line) for line in lines]
    return '\n'.join(out)


def main(argv=None):
    args = parse_args(argv)
    benches = selected(args)
    if args.list:
        for bench in benches:
            print('%-22s %-5s %-6s %s' % (
                bench.name, 'bed' if bench.needs_bed else '',
                'smoke' if bench.smoke else '', bench.doc))
        return 0
    ctx = common.Context(smoke=args.smoke, use_bed=not args.no_bed,
                         verbose=args.verbose)
    rows, failed, timings = [], [], {}
    started = time.monotonic()
    try:
        for bench in benches:
            if bench.needs_bed and args.no_bed:
                rows.append(common.Row(bench.name, '(skipped)', '-',
                                       note='--no-bed'))
                continue
            ctx.log('running %s', bench.name)
            t0 = time.monotonic()
            try:
                rows.extend(bench.func(ctx))
            except Exception as exc:
                failed.append(bench.name)
                rows.append(common.Row(
                    bench.name, '(error)', type(exc).__name__, ok=False,
                    note=str(exc).splitlines()[0][:200] if str(exc) else '',
                    data={'traceback': traceback.format_exc()}))
                if args.verbose:
                    traceback.print_exc()
            timings[bench.name] = round(time.monotonic() - t0, 1)
    finally:
        ctx.close()
    print(table(rows))
    total = time.monotonic() - started
    print('\n%d figures, %d benchmarks in %.0f s%s' % (
        len(rows), len(benches), total,
        '; FAILED: %s' % ', '.join(failed) if failed else ''))
    document = {
        'smoke': args.smoke,
        'environment': common.environment(),
        'seconds': round(total, 1),
        'benchmark_seconds': timings,
        'failed': failed,
        'rows': [dataclasses.asdict(r) for r in rows],
    }
    path = args.json
    if not path:
        os.makedirs(RESULTS, exist_ok=True)
        path = os.path.join(RESULTS, time.strftime(
            '%Y%m%dT%H%M%SZ', time.gmtime()) + ('-smoke' if args.smoke
                                                else '') + '.json')
    with open(path, 'w') as f:
        json.dump(document, f, indent=1, default=str)
    if not args.json:
        with open(os.path.join(RESULTS, 'latest.json'), 'w') as f:
            json.dump(document, f, indent=1, default=str)
    print('results: %s' % path)
    if failed:
        return 2
    if args.strict and any(r.ok is False for r in rows):
        return 1
    return 0
