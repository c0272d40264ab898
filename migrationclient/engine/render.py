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

"""Renderers for watched migrations: TTY progress bars, plain lines, JSON.

Pure formatting: each renderer gets the engine's events and states and
writes text to a stream.  It never talks to the cloud.

* :class:`PlainRenderer` (stdout not a TTY): one line per event::

    2026-11-27T10:12:03Z status migration=12 server=8600d31b-... \
status=running type=live-migration source=compute1 dest=compute2 \
queued -> running

* :class:`JsonLinesRenderer` (``-f json``): one JSON object per event and
  per line (``Event.to_dict()``), keys sorted.
* :class:`TtyRenderer`: status transitions, stuck reports and actions are
  printed as plain lines; below them one progress bar per migration is
  redrawn in place.
* :class:`ItemLog` (``compute drain``): one line per state change of a
  drained server; on a TTY a summary line below them, redrawn in place.

Both TTY renderers are :class:`TtyBlock`: lines that scroll, and below
them a block that is redrawn in place.
"""

import json
import shutil
import time

from migrationclient._i18n import _

SUFFIXES = ('B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB')

ESC_UP = '\x1b[%dA'
ESC_CLEAR_DOWN = '\x1b[J'
ESC_CLEAR_LINE = '\x1b[K'


def human_bytes(n):
    """``1536`` -> ``'1.5 KiB'``; None -> ``'-'``."""
    if n is None:
        return '-'
    value = float(n)
    for suffix in SUFFIXES:
        if abs(value) < 1024 or suffix == SUFFIXES[-1]:
            if suffix == 'B':
                return '%d B' % value
            return '%.1f %s' % (value, suffix)
        value /= 1024.0
    return '%.1f %s' % (value, SUFFIXES[-1])   # pragma: no cover


def human_rate(bps):
    """Bytes per second as text; None -> ``'-'``."""
    if bps is None:
        return '-'
    return human_bytes(bps) + '/s'


def human_duration(seconds):
    """``65`` -> ``'1m05s'``; None -> ``'-'``."""
    if seconds is None:
        return '-'
    s = int(round(seconds))
    if s < 60:
        return '%ds' % s
    m, s = divmod(s, 60)
    if m < 60:
        return '%dm%02ds' % (m, s)
    h, m = divmod(m, 60)
    return '%dh%02dm' % (h, m)


def bar(percent, width=20):
    """A text progress bar: ``[#####...............]``."""
    if percent is None:
        return '[' + '?' * width + ']'
    filled = int(round(width * max(0.0, min(100.0, percent)) / 100.0))
    return '[' + '#' * filled + '.' * (width - filled) + ']'


def progress_text(label, est):
    """``memory 512.0 MiB/1.0 GiB 50.0% 100.0 MiB/s left 512.0 MiB ETA 5s``.

    ``est`` is a progress.Estimate (or None: empty string).
    """
    if est is None or est.current is None:
        return ''
    cur = est.current
    pct = cur.percent
    parts = [
        '%s %s/%s' % (label, human_bytes(
            None if cur.remaining is None or cur.total is None
            else max(0, cur.total - cur.remaining)), human_bytes(cur.total)),
        '-' if pct is None else '%.1f%%' % pct,
        human_rate(est.transfer_rate),
        'left %s' % human_bytes(cur.remaining),
        'ETA %s' % human_duration(est.eta),
    ]
    return ' '.join(parts)


def _short_id(server_id):
    return server_id or '-'


def state_fields(state):
    m = state.migration
    return ('migration=%s server=%s status=%s type=%s source=%s dest=%s' % (
        m.id, _short_id(m.server_id), m.status, m.migration_type or '-',
        m.source_compute or '-', m.dest_compute or '-'))


def event_line(event):
    """The plain one-line form of an engine Event."""
    state = event.state
    stamp = event.time.strftime('%Y-%m-%dT%H:%M:%SZ')
    parts = [stamp, event.kind, state_fields(state)]
    if event.kind in ('progress', 'stuck', 'new', 'status', 'ended'):
        for label, est in (('memory', state.memory), ('disk', state.disk)):
            text = progress_text(label, est)
            if text:
                parts.append(text)
    if event.message:
        parts.append(event.message)
    return ' '.join(parts)


class PlainRenderer:
    """One line per event; for pipes, logs and ``grep``."""

    def __init__(self, stream):
        self.stream = stream

    def render(self, events, states=(), now=None):
        for ev in events:
            self.stream.write(event_line(ev) + '\n')
        if events:
            self.stream.flush()

    def close(self, states=(), now=None):
        pass


class JsonLinesRenderer:
    """One JSON object per line and per event (``Event.to_dict()``)."""

    def __init__(self, stream):
        self.stream = stream

    def render(self, events, states=(), now=None):
        for ev in events:
            self.stream.write(json.dumps(ev.to_dict(), sort_keys=True,
                                         default=str) + '\n')
        if events:
            self.stream.flush()

    def close(self, states=(), now=None):
        pass


class TtyBlock:
    """Lines that scroll, and below them a block redrawn in place.

    The block's last line may be left open (no newline: the cursor stays
    on it), as the drain's one summary line is; it is then cleared with
    a carriage return, else the cursor goes up over the block.
    """

    #: terminal lines (None: asked of the terminal at each draw)
    height = None

    def __init__(self, stream):
        self.stream = stream
        self._drawn = 0         # closed block lines on screen
        self._open = False      # an open last line is on screen

    def _rows(self):
        if self.height:
            return self.height
        return shutil.get_terminal_size((100, 24)).lines

    def fit(self, block, open_last=False):
        """``block`` cut to the screen, with a line saying what is not shown.

        The cursor cannot go up past the top of the screen: a block taller
        than the terminal leaves stale copies in the scrollback at every
        redraw (measured: 56 migrations in flight on 30 lines, 1,225 lines
        in 40 s).  The block keeps one line for the scrolling ones above
        it; an open last line (a summary) always stays.
        """
        block = list(block)
        limit = max(3, self._rows() - 2)
        if len(block) <= limit:
            return block
        tail = [block.pop()] if open_last else []
        keep = limit - 1 - len(tail)
        more = len(block) - keep
        return block[:keep] + [
            _('... and %d more, not shown (the terminal has %d lines)')
            % (more, self._rows())] + tail

    def draw(self, lines, block=(), open_last=False):
        """Clear the block, write ``lines``, draw ``block`` below them."""
        block = self.fit(block, open_last)
        out = []
        if self._open:
            # Back to the start of the block: its closed lines, if any,
            # are above the open one.
            out.append('\r' + ESC_CLEAR_LINE)
            if self._drawn:
                out.append(ESC_UP % self._drawn + ESC_CLEAR_DOWN)
        elif self._drawn:
            out.append(ESC_UP % self._drawn + '\r' + ESC_CLEAR_DOWN)
        out.extend(line + '\n' for line in lines)
        block = list(block)
        self._open = bool(open_last and block)
        if self._open:
            last = block.pop()
        out.extend(line + '\n' for line in block)
        if self._open:
            out.append(last)
        self._drawn = len(block)
        self.stream.write(''.join(out))
        self.stream.flush()

    def end(self):
        """Leave the block on screen; the next output starts below it."""
        if self._open:
            self.stream.write('\n')
            self.stream.flush()
        self._drawn = 0
        self._open = False


class TtyRenderer(TtyBlock):
    """Progress bars redrawn in place below scrolling event lines.

    One bar per migration; ANSI cursor movement redraws the block.
    """

    LOGGED = ('new', 'status', 'stuck', 'unstuck', 'action', 'warning',
              'ended')

    def __init__(self, stream, width=None, height=None):
        super().__init__(stream)
        self.width = width
        self.height = height

    def _columns(self):
        if self.width:
            return self.width
        return shutil.get_terminal_size((100, 24)).columns

    def block_line(self, state, now=None):
        m = state.migration
        est = state.memory
        pct = est.percent if est else None
        head = '%-8s %-10s %s->%s' % (m.id, m.status, m.source_compute or '?',
                                      m.dest_compute or '?')
        if state.ended:
            done = 100.0 if state.outcome == 'completed' else pct
            return '%s %s %s' % (head, bar(done), state.outcome)
        tail = ''
        if est is not None:
            tail = ' %s %s ETA %s' % (
                '-' if pct is None else '%5.1f%%' % pct,
                human_rate(est.transfer_rate), human_duration(est.eta))
        if state.disk is not None and state.disk.percent is not None:
            tail += ' disk %.0f%%' % state.disk.percent
        if state.stuck:
            tail += ' STUCK'
        if est is None and not m.is_live:
            # cold migration / resize: Nova reports no byte counters
            return '%s %s%s' % (head, m.migration_type or '', tail)
        return '%s %s%s' % (head, bar(pct), tail)

    def render(self, events, states=(), now=None):
        cols = max(20, self._columns() - 1)
        lines = [event_line(ev)[:cols] for ev in events
                 if ev.kind in self.LOGGED]
        # What needs the operator first, when the screen cannot hold all:
        # stuck, then running, then ended (stable within each).
        states = sorted(states, key=lambda s: (not s.stuck, bool(s.ended)))
        self.draw(lines, [self.block_line(s, now)[:cols] for s in states])

    def close(self, states=(), now=None):
        self.end()


class ItemLog(TtyBlock):
    """One line per state change of a drained server (``on_event``).

    On a TTY, a summary line of ``items`` (``summarize(items)``) stays
    below the lines, redrawn in place.
    """

    #: ``callable(items) -> str``: the summary line
    summarize = None
    #: ``callable(item) -> str or None``: a line below the scrolling
    #: ones for an item (a migration in flight), None for none
    describe = None

    def __init__(self, stream, tty=None, clock=None):
        super().__init__(stream)
        if tty is None:
            isatty = getattr(stream, 'isatty', None)
            tty = bool(isatty and isatty())
        self.tty = tty
        self.items = []

    def __call__(self, item, text):
        stamp = time.strftime('%H:%M:%S')
        line = '%s %s %s (%s) %s: %s' % (
            stamp, item.name or '-', item.id, item.original_host,
            item.action, text)
        if not self.tty:
            self.stream.write(line + '\n')
            self.stream.flush()
            return
        self.draw([line], self.block(), open_last=True)

    def block(self):
        """The lines redrawn in place: one per item, then the summary."""
        if not self.items:
            return []
        lines = []
        if self.describe is not None:
            cols = max(20, shutil.get_terminal_size((100, 24)).columns - 1)
            lines = [text[:cols] for text in map(self.describe, self.items)
                     if text]
        return lines + [self.summarize(self.items)]

    def refresh(self):
        """Redraw the block (a poll changed the progress, no new line)."""
        if self.tty and self.items:
            self.draw([], self.block(), open_last=True)

    def close(self):
        if self.tty:
            self.end()


def renderer_for(stream, json_lines=False, tty=None):
    """Pick the renderer: JSON lines, TTY bars or plain lines."""
    if json_lines:
        return JsonLinesRenderer(stream)
    if tty is None:
        isatty = getattr(stream, 'isatty', None)
        tty = bool(isatty and isatty())
    return TtyRenderer(stream) if tty else PlainRenderer(stream)
