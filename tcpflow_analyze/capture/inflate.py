"""gzip inflated in a child process, beside the packet loop.

Inflating costs about 1.2 s per GB of capture, as much as a fifth of the
analysis.  In a thread it gains nothing: zlib releases the GIL only while it
fills each output block and must take it back for the next, so the thread
waits on the packet loop at every block (measured slower than inline).  A
forked child runs the same reader (``_GzipStream``, with its handling of cut
and corrupt streams) and writes what it inflates into a pipe; this process
reads the pipe as it reads standard input.  The child's verdict -- a damaged
stream, a read error -- comes back on a second pipe when the data ends.
"""
from __future__ import annotations

import os
import signal
import threading

from ..children import fork, forked_child

# What the child inflates and writes at a time: small enough that a live
# capture's packets come through as they arrive, not a megabyte at a time.
PIECE = 1 << 16


def usable() -> bool:
    """A child may be forked: a POSIX system, and no other thread that could
    hold a lock at the moment of the fork (a parallel run's pool, a Dask
    worker's threads).  Otherwise gzip is inflated in this process."""
    return hasattr(os, "fork") and threading.active_count() == 1


class InflatingChild:
    """``read(n)`` of the inflated stream; ``error`` once it has ended."""

    def __init__(self, gzip_stream, source, widen=None):
        """``gzip_stream``: the reader to run in the child (its ``error`` says
        how it ended); ``source``: the raw stream under it (its ``error``: a
        read error, which comes first)."""
        data_r, data_w = os.pipe()
        status_r, status_w = os.pipe()
        if widen is not None:
            widen(data_w)
        parent = os.getpid()
        pid = fork()
        if pid == 0:  # the child
            os.close(data_r)
            os.close(status_r)
            code = 0
            try:
                forked_child(parent)
                _inflate(gzip_stream, data_w)
                verdict = source.error or gzip_stream.error or ""
                os.write(status_w, verdict.encode("utf-8", "replace"))
            except BrokenPipeError:
                pass  # the reader stopped early: nothing more is wanted
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(data_w)
        os.close(status_w)
        self._pid = pid
        # The pid is reaped by whichever thread sees the end (a read-ahead
        # thread) or stops the child; a pid reaped may be reused at once.
        self._pid_lock = threading.Lock()
        self._data = os.fdopen(data_r, "rb", buffering=0)
        self._status = status_r
        self._error: str | None = None
        self._ended = False

    def read(self, n: int = -1) -> bytes:
        if self._ended:
            return b""
        out = self._data.read(n)  # a pipe's read: what is there, up to n (all, for -1)
        if not out:
            self._end()
        return out

    @property
    def error(self) -> str | None:
        return self._error

    def _end(self) -> None:
        self._ended = True
        verdict = b""
        while True:
            more = os.read(self._status, 4096)
            if not more:
                break
            verdict += more
        with self._pid_lock:
            if self._pid is None:
                return  # stopped: no verdict to wait for
            _, status = os.waitpid(self._pid, 0)
            self._pid = None
        if verdict:
            self._error = verdict.decode("utf-8", "replace")
        elif status != 0:
            self._error = "gzip reader process failed"

    def stop(self) -> None:
        """Reading stopped early: end the child, which may be waiting on a
        pipe no longer read, or on input that never comes (a live pipe).
        Its end of the data pipe closes, so a reader blocked on it returns."""
        with self._pid_lock:
            if self._pid is not None:
                try:
                    os.kill(self._pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def close(self) -> None:
        self.stop()
        with self._pid_lock:
            if self._pid is not None:
                os.waitpid(self._pid, 0)
                self._pid = None
        self._data.close()
        if self._status is not None:
            os.close(self._status)
            self._status = None


def _inflate(gzip_stream, fd: int) -> None:
    while True:
        piece = gzip_stream.read(PIECE)
        if not piece:
            return
        view = memoryview(piece)
        while view:
            view = view[os.write(fd, view):]
