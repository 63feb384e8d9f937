"""Progress on a terminal: one line on stderr, rewritten in place, only when stderr is a TTY."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Report phases and counts of a long command; silent unless enabled."""

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._phase = ""
        self._total = 0
        self._started = time.monotonic()
        self._last_draw = 0.0

    def phase(self, name: str, total: int = 0) -> None:
        self._end_line()
        self._phase, self._total = name, total
        self._started = time.monotonic()
        self._draw(0, 0, force=True)

    def update(self, done: int, rows: int) -> None:
        self._draw(done, rows)

    def done(self) -> None:
        self._end_line()

    def _draw(self, done: int, rows: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < 0.2:
            return
        self._last_draw = now
        elapsed = max(now - self._started, 1e-9)
        share = f" {100 * done / self._total:5.1f}%" if self._total else ""
        self.stream.write(
            f"\r{self._phase}:{share} {rows:,} rows, {rows / elapsed:,.0f}/s, {elapsed:.0f}s\x1b[K"
        )
        self.stream.flush()

    def _end_line(self) -> None:
        if self.enabled and self._phase:
            self.stream.write("\n")
            self.stream.flush()
            self._phase = ""
