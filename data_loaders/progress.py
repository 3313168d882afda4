"""A one-line progress display on stderr for long imports: rows read and rows per second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    """Call with the rows read so far; redraws one line on a terminal, else logs every chunk.

    Parameters
    ----------
    label
        What is being read (the file name).
    total_bytes
        The file's size, shown for orientation.
    stream
        Where to draw (stderr by default, so ``--json`` output on stdout stays clean).
    """

    def __init__(self, label: str, total_bytes: int = 0, stream: TextIO | None = None) -> None:
        self.label = label
        self.total_mb = total_bytes / 1e6
        self.stream = stream or sys.stderr
        self.started = time.perf_counter()
        self.tty = self.stream.isatty()

    def __call__(self, rows: int) -> None:
        """Show ``rows`` read so far and the rate since the start."""
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        line = (
            f"{self.label} ({self.total_mb:,.1f} MB): {rows:,} rows, "
            f"{rows / elapsed:,.0f} rows/s, {elapsed:,.1f} s"
        )
        self.stream.write(f"\r{line}\x1b[K" if self.tty else line + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End the line on a terminal."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
