"""What the command shows: status lines on stderr, a progress bar for the upload.

On a terminal the bar redraws in place; elsewhere (a pipe, a log) each step is its own line.
stdout gets only what a script may want to read (the URL).
"""

from __future__ import annotations

import sys
from typing import TextIO

from jupyter_substratus.backends import UploadProgress

BAR = 30


class Terminal:
    def __init__(self, stream: TextIO = sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self._bar_open = False
        self._last = ""

    def say(self, text: str) -> None:
        self._end_bar()
        print(text, file=self.stream, flush=True)

    def state(self, text: str) -> None:
        """A state line, shown when it differs from the last one."""
        if text != self._last:
            self._last = text
            self.say(text)

    def upload(self, state: UploadProgress) -> None:
        if state.step != "uploading":
            self.state(f"upload: {state.message}")
            return
        fraction = state.sent / max(state.total, 1)
        filled = int(fraction * BAR)
        line = f"uploading [{'#' * filled}{'.' * (BAR - filled)}] {fraction:4.0%} of {_size(state.total)}"
        if self.tty:
            print(f"\r{line}", end="", file=self.stream, flush=True)
            self._bar_open = True
        elif state.sent in (0, state.total) or line != self._last:
            self._last = line
            print(line, file=self.stream, flush=True)

    def _end_bar(self) -> None:
        if self._bar_open:
            print(file=self.stream, flush=True)
            self._bar_open = False


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"
