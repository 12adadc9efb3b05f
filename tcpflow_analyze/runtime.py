"""Process tricks the command line uses: each buys speed at the cost of
ordinary process hygiene, so they live here, where the CLI switches them on,
and nothing below the CLI (the engine, the documents, the renderers) knows
of them.  What each buys is measured by ``bench/tricks.py`` (bench/README.md,
*Tricks*); one that stops paying 3% of the run it serves goes.

* ``pause_cyclic_gc``: no cyclic garbage collection while a command runs
  (buys 16% of a 2M-packet JSON run);
* ``exit_without_teardown``: the process ends without freeing its heap
  (6%, a noisy measurement);
* ``ForkedTable``: after a ``--jobs`` run, a forked child writes the default
  table's connections while this process runs the detectors (10% of a
  ``--jobs 2`` table run's wall time at 2M packets).

And what keeps a run's end orderly: ``end_on_signals`` makes SIGTERM and
SIGHUP end a command as Ctrl-C does.
"""
from __future__ import annotations

import gc
import os
import signal
import sys
import tempfile
import threading

from .children import fork, forked_child

_exiting_fast = False
_kept: list = []


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the main thread was, as Python raises
    KeyboardInterrupt for SIGINT: a KeyboardInterrupt, so every cleanup that
    runs on Ctrl-C runs (the ``-o`` temporary file removed, the children
    ended, the pool's workers killed) and the CLI maps it the same way."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_terminated(signum, frame):
    raise Terminated(signum)


def end_on_signals(on_close) -> None:
    """SIGTERM and SIGHUP raise ``Terminated`` for the rest of the command;
    ``on_close(callback)`` registers what puts the previous handlers back.
    Their default action would end the process at once: no cleanup, the
    children orphaned (still holding the run's stdout), the ``-o``
    temporary file left behind.  A signal ignored when the program started
    (``nohup``: SIGHUP) stays ignored.  Only the main thread may set
    handlers (an in-process caller may run the command in another)."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            previous[sig] = signal.signal(sig, _raise_terminated)
    if previous:
        on_close(lambda: [signal.signal(sig, handler) for sig, handler in previous.items()])


def interruption(exc: KeyboardInterrupt) -> tuple[str, int]:
    """What ended the command (``Terminated``, or Ctrl-C's plain
    KeyboardInterrupt): its one-line message and exit code, 128 + the
    signal's number, as a shell reports a process a signal killed."""
    signum = getattr(exc, "signum", signal.SIGINT)
    if signum == signal.SIGINT:
        return "interrupted", 128 + signal.SIGINT
    return f"interrupted by {signal.Signals(signum).name}", 128 + signum


def exit_without_teardown(main) -> None:
    """Run ``main`` (a click command), then end the process without tearing
    its heap down: an analysis is millions of objects, and freeing them one by
    one when the command returns, and again at interpreter shutdown, costs
    time for nothing.  Streams are flushed first; the exit code is main's."""
    global _exiting_fast
    _exiting_fast = True
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)  # sys.exit("message"): printed, as Python does
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            # The reader of our output went away (| head): not an error of ours.
            pass
    os._exit(code)


def keep_until_exit(obj) -> None:
    """With ``exit_without_teardown``, ``obj`` (an analysis) is never freed
    object by object: the exit frees the memory whole."""
    if _exiting_fast:
        _kept.append(obj)


def pause_cyclic_gc(on_close) -> None:
    """No cyclic garbage collection for the rest of the command.  An analysis
    is a large graph of long-lived objects: the collector would rescan it at
    every generation-0 threshold (700 allocations) while nothing in it is
    garbage.  ``on_close(callback)`` registers what turns it back on when the
    command ends (for callers that stay: tests); before a fast exit it stays
    off, as a last pass would only scan the heap the exit frees anyway.
    Forked ``--jobs`` workers inherit the pause."""
    if gc.isenabled():
        gc.disable()
        if not _exiting_fast:
            on_close(gc.enable)

from .views.report import ConnectionEntries

# ---------------------------------------------------------------------- forked writers
# After a parallel analysis, everything left -- the detectors and the
# report -- would run in one process while the other cores sat idle.  The
# default table's connections section does not need the detectors (it has
# no anomaly column), so a forked child (it shares the finished connections
# copy-on-write, nothing is shipped) writes it into an unlinked temporary
# file; the parent runs the detectors meanwhile, then streams the file to
# the output.  The text is byte-identical to what the parent would write
# (the child runs the same code); if the child cannot be forked or fails,
# the parent writes it itself.  Used only where it can gain: a run that
# asked for several processes (``--jobs``), on a machine with more than one
# core, and a report listing enough connections to be worth a fork.  (The
# JSON lines had a child of their own until the compiled core wrote them in
# place: then the child's copy-on-write faults cost more than it saved,
# bench/README.md.)

def usable_cores() -> int:
    """``analysis.parallel.usable_cores``, imported when a fork is weighed:
    that module brings multiprocessing, which a small run never uses."""
    from .analysis.parallel import usable_cores as cores
    return cores()


# Below this many connections the section takes a few tens of milliseconds,
# about what a fork of a large process costs.
MIN_CONNECTIONS = 20_000


class _Forked:
    """Text about ``conns`` being written by a child into a temporary file
    (``_write``, the subclass's), read back once the child is done."""

    def __init__(self, conns):
        self._conns = conns
        self._file = tempfile.TemporaryFile()
        self._pid = None
        parent = os.getpid()
        try:
            pid = fork()
        except OSError:
            self._file.close()
            raise
        if pid == 0:  # the child: write, and leave without running any cleanup of the parent's
            code = 1
            try:
                forked_child(parent)
                out = open(self._file.fileno(), "w", encoding="utf-8", closefd=False, buffering=1 << 20)
                self._write(out)
                out.flush()
                code = 0
            finally:
                os._exit(code)
        self._pid = pid

    @classmethod
    def start(cls, conns, jobs: int, *args):
        """A child writing about ``conns`` (``args``: the subclass's own),
        where that gains: see the module's doc.  None otherwise, or if no
        child could be started."""
        if jobs < 2 or len(conns) < MIN_CONNECTIONS or not hasattr(os, "fork") or usable_cores() < 2:
            return None
        # A fork while another thread holds a lock would leave the child
        # waiting on it forever.
        if threading.active_count() != 1:
            return None
        try:
            return cls(conns, *args)
        except OSError:
            return None

    def _write(self, out) -> None:
        raise NotImplementedError

    def _written(self):
        """The child's text to read, if it wrote all of it; else None."""
        if self._pid is None:
            return None
        _, status = os.waitpid(self._pid, 0)
        self._pid = None
        if os.waitstatus_to_exitcode(status) != 0:
            return None
        self._file.seek(0)
        return open(self._file.fileno(), "r", encoding="utf-8", closefd=False, buffering=1 << 20)

    def close(self) -> None:
        """Stop the child if it still runs (the report was abandoned), and
        drop the file."""
        if self._pid is not None:
            try:
                os.kill(self._pid, signal.SIGKILL)
                os.waitpid(self._pid, 0)
            except OSError:
                pass
            self._pid = None
        self._file.close()


class ForkedTable(_Forked):
    """The default table's connections section of ``conns`` (``table.
    connections_section``: every connection, in order, with ``color`` and
    ``width`` as the table is asked for); ``chunks()`` gives its text."""

    def __init__(self, conns, color: bool, width: int | None):
        self._color = color
        self._width = width
        super().__init__(conns)

    def _section(self):
        from .render.table import connections_section
        return connections_section(ConnectionEntries(self._conns, {}), "simple", self._color, self._width)

    def _write(self, out) -> None:
        for chunk in self._section():
            out.write(chunk)

    def chunks(self):
        text = self._written()
        if text is None:
            yield from self._section()
            return
        while True:
            chunk = text.read(1 << 20)
            if not chunk:
                break
            yield chunk
