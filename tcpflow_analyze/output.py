"""Writing reports: stdout, or a file replaced atomically.

A report written with ``-o`` goes to a temporary file in the same directory
and is renamed into place, so an interrupted run never leaves half a report.
"""
from __future__ import annotations

import os
import stat
import sys
import tempfile


def write_text(text, path: str | None) -> None:
    """Write ``text`` (a string, or an iterable of string chunks) to ``path``
    or to stdout when ``path`` is None or ``-``."""
    chunks = (text,) if isinstance(text, str) else text
    if path is None or path == "-":
        out = sys.stdout
        for chunk in chunks:
            out.write(chunk)
        out.flush()
        return
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        # A FIFO, a terminal, /dev/null: write into it.  Renaming a file over
        # it would replace the device itself (as root, /dev/null).
        with open(path, "w", encoding="utf-8") as fh:
            for chunk in chunks:
                fh.write(chunk)
        return
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tcpflow-analyze-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", buffering=1 << 20) as fh:
            for chunk in chunks:
                fh.write(chunk)
        # mkstemp makes the file private (0600); a report gets the usual
        # permissions a new file would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
