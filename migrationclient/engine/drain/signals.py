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

"""SIGINT / SIGTERM during a drain: stop starting, then stop watching."""

import signal


class Signals:
    """SIGINT / SIGTERM -> ``drain.request_stop`` from the first write on.

    The handlers are installed before the report is first written, so a
    signal that arrives while the services are being disabled is not lost:
    it is kept and handed to the drain as soon as it exists, and the drain
    then starts nothing and ends "interrupted" with its report.
    """

    def __init__(self, drain=None):
        self.drain = drain
        self.pending = []
        self.saved = {}

    def __enter__(self):
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.saved[sig] = signal.signal(sig, self._handler)
            except ValueError:      # not the main thread
                pass
        return self

    def attach(self, drain):
        self.drain = drain
        for why in self.pending:
            drain.request_stop(why)
        self.pending = []

    def _handler(self, signum, frame):
        why = signal.Signals(signum).name
        if self.drain is None:
            self.pending.append(why)
        else:
            self.drain.request_stop(why)

    def __exit__(self, *exc):
        for sig, old in self.saved.items():
            signal.signal(sig, old)
        return False
