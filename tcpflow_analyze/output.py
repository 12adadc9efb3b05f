"""Writing reports: stdout, or a file replaced atomically.

A report written with ``-o`` goes to a temporary file in the same directory
and is renamed into place, so an interrupted run never leaves half a report.
"""
from __future__ import annotations

import os
import sys
import tempfile


def write_text(text: str, path: str | None) -> None:
    if path is None or path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tcpflow-analyze-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
