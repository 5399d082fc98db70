"""Progress of an export or import on stderr: records per section, and the rate."""

from __future__ import annotations

import sys
import time
from typing import TextIO

EVERY_SECONDS = 1.0


class StderrProgress:
    """``exported messages: 42,000/100,000  42% (8,400/s)``, at most once a second per
    section, and once when a section ends; on a terminal the line is rewritten in place."""

    def __init__(self, verb: str, stream: TextIO | None = None) -> None:
        self.verb = verb
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.section = ""
        self.section_started = self.started
        self.shown = 0.0

    def __call__(self, section: str, count: int, total: int) -> None:
        now = time.monotonic()
        if section != self.section:
            self._end_line()
            self.section, self.section_started, self.shown = section, now, 0.0
        if now - self.shown < EVERY_SECONDS and count < total:
            return
        self.shown = now
        rate = count / max(now - self.section_started, 1e-6)
        share = f" {100 * count // total:3d}%" if total else ""
        text = f"{self.verb} {section}: {count:,}/{total:,}{share} ({rate:,.0f}/s)"
        if self.tty:
            self.stream.write("\r" + text.ljust(60))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def _end_line(self) -> None:
        if self.tty and self.section:
            self.stream.write("\n")

    def done(self, summary: str) -> None:
        self._end_line()
        self.section = ""
        elapsed = time.monotonic() - self.started
        self.stream.write(f"{summary} in {elapsed:.1f} s\n")
        self.stream.flush()
