"""What every child this program forks does first: end when its parent ends,
and let go of what is its parent's to hold.

A forked child shares its parent's file descriptors.  One that outlives the
parent -- a ``--jobs`` worker still tracking, or blocked writing its result
into a pipe whose read end it inherited itself; an inflating child waiting
on a live capture -- keeps the run's stdout open, so ``... | cat`` never
ends.  The parent ends its children when it can (on a signal it handles);
this covers the parent that could not (SIGKILL, a crash).  Standard library
only: the capture and analysis layers fork children too.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager

# <linux/prctl.h>
PR_SET_PDEATHSIG = 1
# How often a child without prctl looks for its parent.
WATCH_INTERVAL = 0.2
# The signals that end a run (the CLI raises on each: runtime.end_on_signals).
ENDING = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}


@contextmanager
def signals_held():
    """SIGINT, SIGTERM and SIGHUP held back (blocked, so pending, not lost)
    while the block forks.  Python runs a handler at the next bytecode of
    the main thread; in a fork that may be an ``os.register_at_fork``
    callback, whose exception Python prints and drops ("Exception ignored
    in ...": the run goes on as if never signalled), or the middle of a
    process pool's start (left half made).  Unblocked, a pending signal is
    delivered at once, past the fork.  A child starts with its parent's
    mask and no pending signal (POSIX fork): ``forked_child`` unblocks them
    once the child's own handling is in place."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, ENDING)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def fork() -> int:
    """``os.fork()`` with the ending signals held across it (``signals_held``);
    in the child they stay blocked until it calls ``forked_child``."""
    if not hasattr(signal, "pthread_sigmask"):
        return os.fork()
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, ENDING)
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        raise
    if pid != 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return pid


def forked_child(parent: int) -> None:
    """Called first in a child forked by process ``parent`` (its pid, taken
    before the fork): the child dies with it, leaves signals to it, and does
    not hold the run's stdout.  The fork must have been made by ``parent``'s
    main thread (see ``die_with_parent``)."""
    leave_signals_to_parent()
    die_with_parent(parent)
    release_stdout()


def die_with_parent(parent: int, prctl: bool = True) -> None:
    """SIGKILL this process when ``parent`` ends.

    Linux: PR_SET_PDEATHSIG, sent by the kernel when the *thread* that forked
    this process exits (prctl(2)) -- every fork here is made by the main
    thread, which lives as long as the process.  Elsewhere (or ``prctl``
    false): a daemon thread that notices the re-parenting (getppid() changes
    once the parent is gone, POSIX) and exits -- a second thread, so such a
    worker inflates gzip itself (``inflate.usable``).  Either way, a parent that
    died between the fork and this call is caught by the same getppid()
    check, made after the death signal is armed so no moment is missed."""
    if not (prctl and _set_pdeathsig(signal.SIGKILL)):
        threading.Thread(target=_watch_parent, args=(parent,), name="watch-parent", daemon=True).start()
    if os.getppid() != parent:
        os._exit(1)


def leave_signals_to_parent() -> None:
    """Ctrl-C (SIGINT to the terminal's whole process group) and a hangup
    reach the children too; the parent handles them and ends its children,
    which must not print a traceback of their own meanwhile.  SIGTERM and
    SIGHUP get their default action back (the parent's handlers raise into
    its own cleanup, which a child does not run)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, ENDING)


def release_stdout() -> None:
    """Point fd 1 at /dev/null: a reader of the run's stdout sees its end
    when the parent closes it, whatever a child still does.  Nothing written
    here was for stdout (the parent writes the report), and whatever the
    parent had buffered in ``sys.stdout`` at the fork is not written twice
    should the child flush it (multiprocessing does, at a worker's exit)."""
    fd = os.open(os.devnull, os.O_WRONLY)
    try:
        if fd != 1:
            os.dup2(fd, 1)
    finally:
        if fd != 1:
            os.close(fd)


def _set_pdeathsig(sig: int) -> bool:
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (ImportError, OSError, AttributeError):
        return False  # not Linux (or no ctypes): the watching thread instead
    return prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_INTERVAL)
    os._exit(1)
