"""Exit codes and the one exception type that reaches the CLI.

Modelled on httpie's ``ExitStatus``: every failure a user can cause maps to one
documented code and a one-line message; no traceback ever reaches a terminal.
"""
from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    OK = 0            # report written (anomalies or not)
    FAIL_ON = 1       # --fail-on matched an anomaly
    USAGE = 2         # bad usage, unreadable input, or not a capture at all
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT); SIGTERM 143, SIGHUP 129: runtime.interruption


class CaptureError(Exception):
    """Input that cannot be read as a capture at all (exit 2).

    Damage *inside* a readable capture is not an error: it is counted and the
    analysis goes on (see ``CaptureStats``).
    """

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message

    def __reduce__(self):
        # Raised in a worker process, re-raised in the parent: pickle the
        # two fields, not the formatted text.
        return (CaptureError, (self.path, self.message))
