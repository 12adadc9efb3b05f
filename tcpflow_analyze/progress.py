"""A progress line on stderr for long reads: bytes read of the total, and
packets per second.  Only for a person at a terminal, and only once a read
has taken more than a second; nothing in pipes, files or CI logs."""
from __future__ import annotations

import os
import sys
import time

BAR_WIDTH = 24


def _size(path: str) -> int:
    try:
        return os.path.getsize(path) if path != "-" else 0
    except OSError:
        return 0


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class Progress:
    def __init__(self, paths, stream=None, after: float = 1.0):
        self.stream = stream if stream is not None else sys.stderr
        try:
            self.enabled = self.stream.isatty()
        except (AttributeError, ValueError):
            self.enabled = False
        self.total = sum(_size(p) for p in paths)
        self.after = after
        self.files = []
        self.start = time.monotonic()
        self.shown = False

    def opened(self, raw) -> None:
        """A capture file was opened (the reader's hook); its offset is the progress."""
        self.files.append(raw)

    def bytes_read(self) -> int:
        done = 0
        for raw in self.files:
            try:
                done += os.fstat(raw.fileno()).st_size if raw.closed else os.lseek(raw.fileno(), 0, os.SEEK_CUR)
            except (OSError, ValueError, AttributeError):
                continue  # stdin, or a file already gone
        return done

    def update(self, packets: int) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.start
        if elapsed < self.after:
            return
        rate = packets / elapsed if elapsed > 0 else 0.0
        done = self.bytes_read()
        if self.total:
            share = min(1.0, done / self.total)
            filled = int(share * BAR_WIDTH)
            bar = "#" * filled + "-" * (BAR_WIDTH - filled)
            text = f"[{bar}] {share:4.0%} {_human(done)} of {_human(self.total)}, {packets:,} packets, {rate:,.0f}/s"
        else:
            text = f"{_human(done)} read, {packets:,} packets, {rate:,.0f}/s"
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()
        self.shown = True

    def finish(self) -> None:
        """Clear the line, so the report (or an error) starts clean."""
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False
