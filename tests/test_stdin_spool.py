"""Standard input for the views that read the capture twice (``analyze
--format html``, ``ladder``): the first pass reads stdin as any command does,
copying what it reads into a spool file for the second (issue 17).

* the header is checked on the first bytes, not after EOF: a stream of zeros
  or an endless pipe is refused at once, naming ``<stdin>``;
* the spool is bounded (--spool-limit) and never left behind: not after a
  run, an error, Ctrl-C or SIGTERM;
* the one-pass outputs (table, json, markdown, csv, timewait, states) never
  spool.

Real processes and pipes: what is tested is what a shell pipeline sees.
"""
from __future__ import annotations

import fcntl
import gzip
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLES

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="Linux /proc only")

SMALL = SAMPLES / "challenge_ack_reboot.pcap"   # anomalies: the HTML report draws ladders
BIG = SAMPLES / "bulk_loss.pcap"                # 4.7 MB
TWICE = {"html": ["analyze", "--format", "html", "-"], "ladder": ["ladder", "--conn", "2", "--no-color", "-"]}
ONCE = {fmt: ["analyze", "--format", fmt, "-"] for fmt in ("table", "json", "markdown", "csv")}
ONCE.update(timewait=["timewait", "-"], states=["states", "-"])


def spawn(args, tmpdir, env=None):
    """The CLI on a pipe we hold open, its TMPDIR a directory of the test's."""
    return subprocess.Popen([sys.executable, "-m", "tcpflow_analyze", *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT,
                            env={**os.environ, "TMPDIR": str(tmpdir), **(env or {})})


def finish(proc, timeout=20):
    if proc.stdin is not None and proc.stdin.closed:
        proc.stdin = None  # communicate() would flush it
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        proc.kill()
        proc.wait()
    return proc.returncode, out, err.decode().strip().splitlines()


def unread(pipe) -> int:
    """Bytes written into the pipe and not yet read (FIONREAD works on
    either end of a Linux pipe)."""
    return struct.unpack("i", fcntl.ioctl(pipe.fileno(), termios.FIONREAD, b"\0" * 4))[0]


def wait_read(proc, timeout=20):
    """Until the process has read everything written to its stdin."""
    deadline = time.monotonic() + timeout
    while unread(proc.stdin) and proc.poll() is None:
        assert time.monotonic() < deadline, "the process does not read its stdin"
        time.sleep(0.05)


def open_in(pid, tmpdir) -> list[str]:
    """The files under ``tmpdir`` process ``pid`` holds open, deleted or not."""
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(tmpdir) + "/"):
            held.append(target)
    return held


@pytest.mark.parametrize("gz", [False, True])
def test_twice_read_views_from_a_pipe_match_the_file(tmp_path, gz):
    # cat FILE | tcpflow-analyze ... -: what the file gives, and nothing left
    # in TMPDIR.  Gzip is spooled as it came and inflated by each pass.
    capture = SMALL
    if gz:
        capture = tmp_path / (SMALL.name + ".gz")
        capture.write_bytes(gzip.compress(SMALL.read_bytes()))
    spools = tmp_path / "tmp"
    spools.mkdir()
    for name, args in TWICE.items():
        with capture.open("rb") as cat:
            piped = subprocess.run([sys.executable, "-m", "tcpflow_analyze", *args], stdin=cat,
                                   capture_output=True, cwd=ROOT, env={**os.environ, "TMPDIR": str(spools)})
        direct = subprocess.run([sys.executable, "-m", "tcpflow_analyze", *args[:-1], str(capture)],
                                capture_output=True, cwd=ROOT)
        assert piped.returncode == 0 and direct.returncode == 0, (piped.stderr, direct.stderr)
        assert piped.stdout.replace(b"&lt;stdin&gt;", str(capture).encode()) == direct.stdout, name
        assert b"ESTABLISHED" in piped.stdout
    assert os.listdir(spools) == []


@pytest.mark.parametrize("view", sorted(TWICE))
def test_not_a_capture_is_refused_before_eof(tmp_path, view):
    # Before: stdin was copied to the spool until EOF -- forever, from an
    # endless pipe -- and then refused naming the spool file.
    proc = spawn(TWICE[view], tmp_path)
    written = [0]

    def zeros():
        block = b"\0" * (1 << 16)
        try:
            while True:
                proc.stdin.write(block)
                written[0] += len(block)
        except (BrokenPipeError, ValueError, OSError):
            pass

    writer = threading.Thread(target=zeros, daemon=True)
    writer.start()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    code, out, err = finish(proc, timeout=1)
    writer.join(5)
    assert code == 2 and out == b"", err
    assert err == ["tcpflow-analyze: error: <stdin>: not a pcap or pcapng capture (starts with 00000000)"]
    assert written[0] < 64 << 20  # refused on its first bytes, not after spooling them
    assert os.listdir(tmp_path) == []


def damaged_at(data: bytes, offset: int) -> bytes:
    """``data`` (a pcap) with the first record header past ``offset`` claiming 4 GiB."""
    pos = 24
    while pos < offset:
        pos += 16 + struct.unpack_from("<I", data, pos + 8)[0]
    return data[:pos + 8] + b"\xff" * 8 + data[pos + 16:]


def test_damage_ends_the_run_before_eof(tmp_path):
    # A capture whose records turn to garbage half-way, on a pipe still
    # open: the reader stops at the damage, so the report comes without
    # waiting for EOF (before: the copy to the spool waited for it).
    data = damaged_at(BIG.read_bytes(), 3 << 20)
    proc = spawn(TWICE["html"], tmp_path)
    proc.stdin.write(data)
    proc.stdin.flush()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pass
    still_running = proc.poll() is None
    code, out, err = finish(proc, timeout=1)
    assert not still_running, "the report waited for EOF"
    assert code == 0, err
    assert out.lstrip().lower().startswith(b"<!doctype html") and b"damage" in out.lower()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("how", ["option", "env"])
def test_spool_is_bounded(tmp_path, how):
    limit = ["--spool-limit", "1M"] if how == "option" else []
    env = {"TCPFLOW_ANALYZE_SPOOL_LIMIT": "1M"} if how == "env" else None
    args = TWICE["html"][:-1] + limit + ["-"]
    proc = spawn(args, tmp_path, env)
    try:
        proc.stdin.write(BIG.read_bytes())
        proc.stdin.close()
    except BrokenPipeError:
        pass  # refused before the whole capture was written: what is wanted
    code, out, err = finish(proc)
    assert code == 2 and out == b"", err
    assert err == ["tcpflow-analyze: error: standard input is larger than --spool-limit (1 MiB), which "
                   "--format html keeps in TMPDIR for its second pass: save it to a file and pass its name"]
    assert os.listdir(tmp_path) == []
    # Under the limit it runs.
    with BIG.open("rb") as cat:
        ok = subprocess.run([sys.executable, "-m", "tcpflow_analyze", *TWICE["html"][:-1], "--spool-limit", "5M",
                             "-"], stdin=cat, capture_output=True, cwd=ROOT, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert ok.returncode == 0, ok.stderr
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("value", ["0", "-1M", "lots", "1Q", ""])
def test_spool_limit_is_validated(value):
    proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "ladder", "--conn", "1",
                           f"--spool-limit={value}", str(SMALL)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2 and "Invalid value for '--spool-limit'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_signal_while_spooling_leaves_no_spool(tmp_path, sig):
    # Before: Ctrl-C or SIGTERM during the copy left the spool behind.
    # SIGKILL runs no cleanup at all: the spool has no name by then.
    data = BIG.read_bytes()
    proc = spawn(TWICE["html"], tmp_path)
    proc.stdin.write(data[:len(data) // 2])  # half a capture, the pipe left open: a live capture
    proc.stdin.flush()
    wait_read(proc)
    assert proc.poll() is None
    held = open_in(proc.pid, tmp_path)
    assert len(held) == 1 and "tcpflow-analyze-stdin-" in held[0], held
    proc.send_signal(sig)
    code, out, err = finish(proc, timeout=10)
    if sig == signal.SIGKILL:
        assert code == -sig
    else:
        assert code == 128 + sig, err
        assert len(err) == 1 and err[0].startswith("tcpflow-analyze: error: interrupted"), err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("view", sorted(ONCE))
def test_one_pass_outputs_never_spool(tmp_path, view):
    proc = spawn(ONCE[view], tmp_path)
    proc.stdin.write(SMALL.read_bytes())
    proc.stdin.flush()
    wait_read(proc)  # the whole capture read, the pipe still open
    assert proc.poll() is None
    held = open_in(proc.pid, tmp_path)
    proc.stdin.close()
    code, out, err = finish(proc)
    assert code == 0 and out, err
    assert held == [] and os.listdir(tmp_path) == []


def test_a_full_spool_file_system_is_one_line(tmp_path):
    # The spool's writes failing (here EFBIG from RLIMIT_FSIZE, as ENOSPC
    # would from a full TMPDIR): one line naming TMPDIR, nothing left.
    import resource

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))  # Python ignores SIGXFSZ

    with BIG.open("rb") as cat:
        proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", *TWICE["ladder"]], stdin=cat,
                              capture_output=True, text=True, cwd=ROOT, preexec_fn=small_files,
                              env={**os.environ, "TMPDIR": str(tmp_path), "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    assert proc.stderr.splitlines() == [
        f"tcpflow-analyze: error: cannot keep standard input in TMPDIR ({tmp_path}) for the second pass of "
        f"ladder: File too large: save it to a file and pass its name"]
    assert os.listdir(tmp_path) == []


def test_without_proc_the_named_spool_is_removed(tmp_path, monkeypatch):
    # Where a file cannot be reopened by descriptor, the spool keeps its
    # name until the run ends, and is removed then, error or not.
    import tempfile
    from clirun import invoke
    from tcpflow_analyze.capture.source import StdinSpool
    monkeypatch.setattr(StdinSpool, "BY_FD", str(tmp_path / "no-proc" / "{}"))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen = []
    real = StdinSpool.__init__

    def spy(self, limit):
        real(self, limit)
        seen.append(self.path)

    monkeypatch.setattr(StdinSpool, "__init__", spy)
    run = invoke("analyze", "--format", "html", "-", input=SMALL.read_bytes())
    assert run.code == 0 and "<svg" in run.stdout, run.stderr
    assert seen and seen[0].startswith(str(tmp_path / "tcpflow-analyze-stdin-"))
    assert os.listdir(tmp_path) == []
    run = invoke("ladder", "--conn", "2", "--spool-limit", "1K", "-", input=SMALL.read_bytes())
    assert run.code == 2 and "larger than --spool-limit (1 KiB)" in run.stderr
    assert len(seen) == 2 and os.listdir(tmp_path) == []
