"""The command line run in-process (click's runner), held to what a user's
process would show.

A subprocess costs most of a second of interpreter start and imports; the
runner costs a few milliseconds.  Where the process itself is not what a test
is about (signals, the console entry point's exit, real pipes, file
descriptors), the runner proves the same things, provided nothing escapes it
that a process would have printed:

* an exception out of the command is raised here (``catch_exceptions=False``),
  where a process would have printed a traceback;
* an exception in a thread of the run, or one Python could only report as
  "Exception ignored in ...", fails the run too (a process prints those on
  its stderr);
* a run that does not finish within ``timeout`` seconds is stopped by SIGALRM
  (``Hang``), as ``subprocess.run(timeout=...)`` stopped a hung process.

``cli.main`` switches the cyclic collector off for its run and back on when
the command ends; it is switched on here again whatever happened.
"""
from __future__ import annotations

import gc
import signal
import sys
import threading
from dataclasses import dataclass

from click.testing import CliRunner

from tcpflow_analyze.cli import main


class Hang(BaseException):
    """The command ran past its time.  Not an Exception: the CLI's own
    mapping of exceptions to one-line errors must not swallow it."""


@dataclass
class Run:
    code: int
    stdout: str
    stderr: str


def invoke(*args, input=None, env=None, timeout: float = 60) -> Run:
    """``tcpflow-analyze ARGS...`` in this process: its exit code, stdout and stderr."""
    unraisable, thread_errors = [], []
    hooks = sys.unraisablehook, threading.excepthook
    sys.unraisablehook = unraisable.append
    threading.excepthook = thread_errors.append

    def alarm(signum, frame):
        raise Hang(f"tcpflow-analyze {' '.join(map(str, args))}: no answer within {timeout} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        res = CliRunner().invoke(main, [str(a) for a in args], input=input, env=env, catch_exceptions=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        sys.unraisablehook, threading.excepthook = hooks
        gc.enable()
    assert not thread_errors, [(t.thread, t.exc_type, t.exc_value) for t in thread_errors]
    assert not unraisable, [(u.err_msg, u.object, u.exc_value) for u in unraisable]
    return Run(res.exit_code, res.stdout, res.stderr)
