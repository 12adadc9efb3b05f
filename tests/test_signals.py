"""A signal ends a run, children and all (issue #17): SIGTERM and SIGHUP end
it as SIGINT does (one line, exit 128+n, no partial ``-o`` and no temporary
file beside it), and no child -- a ``--jobs`` worker, a gzip-inflating child,
a forked report writer -- outlives the run or keeps its stdout open, so
``tcpflow-analyze ... | cat`` ends.  Real processes, real signals: the CLI
runs in a subprocess, its stdout piped through ``cat``."""
import gzip
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc for the children")

ROOT = Path(__file__).resolve().parent.parent
# How long a signalled run may take to end, its pipeline with it.
ENDS_WITHIN = 5.0


@pytest.fixture(scope="session")
def capture(tmp_path_factory):
    """Mixed traffic that keeps ``--jobs 2`` busy for about a second on the
    compiled core (600,000 packets took 0.4 s after issue 14's tenth round:
    a run could end before the signal the tests send it 0.3 s in)."""
    path = tmp_path_factory.mktemp("signals") / "mixed.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_capture.py"), "--packets", "2000000",
                    "--snaplen", "96", "--seed", "1", "-q", "-o", str(path)], check=True)
    return path


@pytest.fixture(scope="session")
def flood(tmp_path_factory):
    """A SYN flood: one connection per packet, so a small file lists more
    connections than ``runtime.MIN_CONNECTIONS`` and a ``--jobs`` run forks a
    report writer (gen_capture needs ten times the packets for as many)."""
    path = tmp_path_factory.mktemp("signals") / "flood.pcap"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_syn_flood.py"), "-n", "60000",
                    "-o", str(path)], check=True)
    return path


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(p) for p in fh.read().split()]
    except OSError:
        return []


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _default_signals():
    # A test run in the background of a shell inherits SIGINT ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


class Run:
    """``tcpflow-analyze ARGS | cat``: the CLI's pid, and every descendant it
    was seen with (polled: ``wait_for``)."""

    def __init__(self, args, tmp_path, stdin=subprocess.DEVNULL):
        self.err = open(tmp_path / "stderr", "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "tcpflow_analyze", *map(str, args)],
                                     stdin=stdin, stdout=subprocess.PIPE, stderr=self.err,
                                     preexec_fn=_default_signals)
        self.cat = subprocess.Popen(["cat"], stdin=self.proc.stdout, stdout=subprocess.PIPE)
        self.proc.stdout.close()  # cat's stdin only: its EOF is when every holder of the pipe is gone
        self.seen: set[int] = set()

    def descendants(self) -> set[int]:
        found, todo = set(), [self.proc.pid]
        while todo:
            for kid in children(todo.pop()):
                found.add(kid)
                todo.append(kid)
        self.seen |= found
        return found

    def wait_for(self, what, timeout: float = 30.0):
        """Poll until ``what(self)`` is true; fails if the CLI ended first."""
        deadline = time.monotonic() + timeout
        while True:
            self.descendants()
            got = what(self)
            if got:
                return got
            if self.proc.poll() is not None:
                self.err.seek(0)
                pytest.fail(f"the run ended (exit {self.proc.returncode}) before the test's moment: {self.err.read()}")
            assert time.monotonic() < deadline, "the test's moment never came"
            time.sleep(0.003)

    def signal(self, sig) -> None:
        self.descendants()
        self.proc.send_signal(sig)

    def end(self):
        """The pipeline's end: cat's EOF, the CLI's exit code, its stderr."""
        try:
            self.cat.communicate(timeout=ENDS_WITHIN)
        except subprocess.TimeoutExpired:
            pytest.fail(f"| cat did not end within {ENDS_WITHIN} s: stdout still held by "
                        f"{[p for p in self.seen if alive(p)]} (the CLI {'ran' if self.proc.poll() is None else 'ended'})")
        code = self.proc.wait(timeout=ENDS_WITHIN)
        self.err.seek(0)
        return code, self.err.read()

    def leftovers(self) -> list[int]:
        """Children still alive a moment after the run ended."""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and any(alive(p) for p in self.seen):
            time.sleep(0.01)
        return [p for p in self.seen if alive(p)]

    def close(self) -> None:
        for p in [self.proc.pid, *self.seen]:
            if alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        for p in (self.proc, self.cat):
            if p.poll() is None:
                p.kill()
            p.wait()
        self.cat.stdout.close()
        self.err.close()


@pytest.fixture
def run(tmp_path):
    started = []

    def start(*args, **kw):
        started.append(Run(args, tmp_path, **kw))
        return started[-1]

    yield start
    for r in started:
        r.close()


def assert_ended_by(r: Run, sig) -> None:
    """The pipeline ended, as ``sig`` ends a run, and no child outlived it."""
    code, err = r.end()
    if sig == signal.SIGKILL:
        # No handler, no cleanup: the kernel ends the children (PR_SET_PDEATHSIG).
        assert (code, err) == (-signal.SIGKILL, "")
    else:
        name = "interrupted" if sig == signal.SIGINT else f"interrupted by {signal.Signals(sig).name}"
        assert (code, err) == (128 + sig, f"tcpflow-analyze: error: {name}\n")
    assert r.leftovers() == []


def temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".tcpflow-analyze-"))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_mid_analysis_ends_the_run_and_its_workers(run, capture, tmp_path, sig):
    out = tmp_path / "report.json"
    r = run("analyze", "--jobs", "2", "--format", "json", "-o", out, capture)
    workers = r.wait_for(lambda r: r.descendants())
    time.sleep(0.3)  # the workers are tracking connections
    r.signal(sig)
    assert_ended_by(r, sig)
    assert workers <= r.seen
    assert not out.exists() and temporaries(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_as_the_workers_are_forked(run, capture, sig):
    # Caught in the fork (an at-fork callback, the pool half started), the
    # signal was dropped -- the run went on and ended 0 -- or the pool's
    # RuntimeError replaced it.
    r = run("analyze", "--jobs", "2", "--format", "json", capture)
    r.wait_for(lambda r: r.descendants())
    r.signal(sig)
    assert_ended_by(r, sig)


def test_workers_die_with_a_killed_parent(run, capture):
    # Without PR_SET_PDEATHSIG the workers would track on, then block
    # forever writing their result into a pipe no one reads.
    r = run("analyze", "--jobs", "2", "--format", "json", capture)
    r.wait_for(lambda r: r.descendants())
    time.sleep(0.3)
    r.signal(signal.SIGKILL)
    assert_ended_by(r, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_gzip_capture_on_stdin_that_never_ends(run, capture, tmp_path, sig):
    # A live capture (tcpdump -w - | gzip | tcpflow-analyze analyze -): the
    # inflating child waits on input that never comes.
    gz = tmp_path / "head.pcap.gz"
    with open(capture, "rb") as fh:
        gz.write_bytes(gzip.compress(fh.read(1 << 20)))
    writer = subprocess.Popen(["sh", "-c", f'cat "{gz}"; exec sleep 60'], stdout=subprocess.PIPE)
    try:
        r = run("analyze", "-", stdin=writer.stdout)
        writer.stdout.close()
        r.wait_for(lambda r: r.descendants())  # the inflating child
        time.sleep(0.5)  # the megabyte read, the child waiting for more
        r.signal(sig)
        assert_ended_by(r, sig)
    finally:
        writer.kill()
        writer.wait()


def test_a_signal_while_a_gzip_file_is_inflated(run, capture, tmp_path):
    gz = tmp_path / "mixed.pcap.gz"
    gz.write_bytes(gzip.compress(capture.read_bytes(), compresslevel=1))
    r = run("analyze", "--jobs", "1", gz)
    r.wait_for(lambda r: r.descendants())  # the inflating child
    time.sleep(0.3)
    r.signal(signal.SIGHUP)
    assert_ended_by(r, signal.SIGHUP)


def test_a_signal_while_a_forked_writer_writes(run, flood, tmp_path):
    out = tmp_path / "report.txt"
    r = run("analyze", "--jobs", "2", "-o", out, flood)
    workers = r.wait_for(lambda r: set(children(r.proc.pid)))
    # The report writer: a child forked once the workers are done.
    r.wait_for(lambda r: set(children(r.proc.pid)) - workers)
    time.sleep(0.1)
    r.signal(signal.SIGTERM)
    assert_ended_by(r, signal.SIGTERM)
    assert not out.exists() and temporaries(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGINT])
def test_a_signal_in_the_output_write_window(run, flood, tmp_path, sig):
    # The report is being written into its temporary file beside the target.
    out = tmp_path / "report.json"
    r = run("analyze", "--jobs", "2", "--format", "json", "-o", out, flood)
    r.wait_for(lambda r: temporaries(tmp_path))
    r.signal(sig)
    assert_ended_by(r, sig)
    assert not out.exists() and temporaries(tmp_path) == []


# A parent that forks a child which calls children.die_with_parent, then
# sleeps; the child writes its pid, then what became of it, into OUT.
FAMILY = """
import os, sys, time
from tcpflow_analyze import children
out, prctl, parent_first = sys.argv[1], sys.argv[2] == "prctl", sys.argv[3] == "exits-first"
parent = os.getpid()
if os.fork() == 0:
    with open(out, "w") as fh:
        fh.write(f"{os.getpid()}\\n")
    if parent_first:
        while os.getppid() == parent:  # the parent gone before the child could arm its death signal
            time.sleep(0.01)
    children.die_with_parent(parent, prctl=prctl)
    with open(out, "a") as fh:
        fh.write("armed\\n")
    time.sleep(60)
    os._exit(0)
if not parent_first:
    time.sleep(60)
"""


def family(tmp_path, prctl: bool, parent_first: bool):
    out = tmp_path / "child"
    parent = subprocess.Popen([sys.executable, "-c", FAMILY, str(out), "prctl" if prctl else "watch",
                               "exits-first" if parent_first else "stays"], cwd=ROOT)
    deadline = time.monotonic() + 10
    while not (out.exists() and out.read_text().endswith("\n")):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return parent, int(out.read_text().split()[0]), out


def gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return False
        time.sleep(0.01)
    return True


@pytest.mark.parametrize("prctl", [True, False], ids=["prctl", "watching-thread"])
def test_a_child_dies_with_its_parent(tmp_path, prctl):
    parent, child, out = family(tmp_path, prctl, parent_first=False)
    while "armed" not in out.read_text():
        time.sleep(0.01)
    parent.kill()
    parent.wait()
    assert gone_within(child, 2.0)


def test_a_child_whose_parent_is_already_gone_ends(tmp_path):
    parent, child, out = family(tmp_path, True, parent_first=True)
    parent.wait()
    assert gone_within(child, 2.0)
    assert "armed" not in out.read_text()


def test_nohup_keeps_sighup_ignored(tmp_path):
    # A run started with SIGHUP ignored (nohup) goes on when the terminal
    # hangs up.
    r, w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "tcpflow_analyze", "analyze", "--format", "json", "-"],
                            stdin=r, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    os.close(r)
    try:
        os.write(w, (ROOT / "sample_pcaps" / "bulk_loss.pcap").read_bytes()[:100_000])
        time.sleep(1.0)  # started, reading, waiting for more
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        assert proc.poll() is None
    finally:
        os.close(w)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and b'"connections"' in out


def test_the_handlers_go_when_the_command_ends(tmp_path):
    # In-process runs (tests, a library caller) get their handlers back.
    from clirun import invoke
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    res = invoke("analyze", "--format", "json", ROOT / "sample_pcaps" / "bulk_loss.pcap")
    assert res.code == 0
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)) == before
