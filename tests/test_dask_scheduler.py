"""--engine dask against a scheduler address that is wrong, closed, silent,
or not a Dask scheduler at all: one line naming the address, exit 2, within
--scheduler-timeout; Ctrl-C while connecting ends the run (issue 17).

Real sockets and real processes: what is tested is how a run ends.
"""
from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from clirun import invoke
from conftest import ROOT, SAMPLES

pytest.importorskip("dask.distributed")

CAPTURE = str(SAMPLES / "closed_port.pcap")
TIMEOUT = 2.0
# Starting the interpreter and importing distributed, on a busy machine.
SLACK = 8.0


def cli(*args, timeout=TIMEOUT + SLACK + 10):
    """A real process: its exit code, stderr lines and how long it ran."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "analyze", *args, CAPTURE],
                          capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    return proc.returncode, proc.stderr.strip().splitlines(), time.monotonic() - start


def serve(handle, accepted=None):
    """A listening socket on 127.0.0.1 whose connections go to ``handle``
    in a thread (``accepted`` set at the first); its address."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    held = []

    def accept():
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            held.append(conn)
            if accepted is not None:
                accepted.set()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    return _Server(srv, thread, held), f"tcp://127.0.0.1:{srv.getsockname()[1]}"


class _Server:
    """The listening socket and its threads, ended by ``close``: a thread
    left blocked in accept() would outlive the test, and other tests (the
    forked writers) refuse to fork beside a live thread."""

    def __init__(self, srv, thread, held):
        self.srv, self.thread, self.held = srv, thread, held

    def close(self):
        # close() alone does not wake a thread blocked in accept() on
        # Linux; shutdown() does (it fails with EINVAL there).
        try:
            self.srv.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.srv.close()
        for conn in self.held:
            conn.close()
        self.thread.join(5)
        assert not self.thread.is_alive()


class Silent(str):
    """The address of a server that accepts and never answers."""
    accepted: threading.Event


@pytest.fixture
def silent():
    """Accepts and never answers: the kernel completes the handshake from
    the listen backlog whatever the program does."""
    accepted = threading.Event()
    srv, addr = serve(lambda conn: None, accepted)
    addr = Silent(addr)
    addr.accepted = accepted
    yield addr
    srv.close()


@pytest.fixture
def http():
    """A tiny HTTP server: reads the request, answers 400 and closes, as a
    web server on the scheduler's port would."""
    def handle(conn):
        try:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.0 400 Bad Request\r\nContent-Length: 11\r\n\r\nBad Request")
        finally:
            conn.close()
    srv, addr = serve(handle)
    yield addr
    srv.close()


@pytest.fixture
def closed():
    """A port bound but not listening: connecting is refused (RST)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield f"tcp://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def assert_unreachable(code, lines, elapsed, addr):
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"tcpflow-analyze: error: cannot reach the Dask scheduler at {addr}: "), lines
    assert "internal error" not in lines[0]
    assert elapsed < TIMEOUT + SLACK, elapsed


def test_silent_scheduler_times_out(silent):
    # Before: distributed's handshake read has no timeout -- the run hung.
    code, lines, elapsed = cli("--engine", "dask", "--scheduler", silent, "--scheduler-timeout", str(TIMEOUT))
    assert_unreachable(code, lines, elapsed, silent)
    assert "no answer" in lines[0] and "--scheduler-timeout" in lines[0]
    assert elapsed >= TIMEOUT


def test_http_server_is_not_a_scheduler(http):
    # Before: "internal error: MemoryError: Unable to allocate 3.07 EiB"
    # (the HTTP status line read as a frame count).
    code, lines, elapsed = cli("--engine", "dask", "--scheduler", http, "--scheduler-timeout", str(TIMEOUT))
    assert_unreachable(code, lines, elapsed, http)
    assert "not a Dask scheduler" in lines[0]


def test_closed_port_is_refused(closed):
    # Before: "internal error: OSError: Timed out trying to connect ... after 30 s".
    code, lines, elapsed = cli("--engine", "dask", "--scheduler", closed, "--scheduler-timeout", str(TIMEOUT))
    assert_unreachable(code, lines, elapsed, closed)
    assert "refused" in lines[0]


@pytest.mark.parametrize("addr", ["", "   ", "not-an-address", "tcp://", "tcp://127.0.0.1:http",
                                  "tcp://127.0.0.1:70000", "nosuchscheme://127.0.0.1:8786"])
def test_bad_address_is_a_usage_error(addr):
    # Before: "internal error: ValueError: missing port number ... please report it".
    start = time.monotonic()
    run = invoke("analyze", "--engine", "dask", "--scheduler", addr, CAPTURE, timeout=20)
    lines = run.stderr.strip().splitlines()
    assert run.code == 2 and run.stdout == "", run.stderr
    assert len(lines) == 1 and lines[0].startswith("tcpflow-analyze: error: --scheduler: "), lines
    assert repr(addr) in lines[0] and "internal error" not in lines[0]
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_scheduler_timeout_is_validated(value):
    run = invoke("analyze", "--engine", "dask", f"--scheduler-timeout={value}", CAPTURE)
    assert run.code == 2 and "Invalid value for '--scheduler-timeout'" in run.stderr, run.stderr


def test_sigint_while_connecting_ends_the_run(silent):
    proc = subprocess.Popen([sys.executable, "-m", "tcpflow_analyze", "analyze", "--engine", "dask",
                             "--scheduler", silent, "--scheduler-timeout", "60", CAPTURE],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        # Connected to the silent socket, waiting for its answer.
        assert silent.accepted.wait(20), proc.communicate()
        time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        start = time.monotonic()
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    assert time.monotonic() - start < 5
    assert proc.returncode == 130 and out == ""
    assert err.strip().splitlines() == ["tcpflow-analyze: error: interrupted"]


CLUSTER = """
import sys
from dask.distributed import LocalCluster
if __name__ == "__main__":
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None)
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()
"""


def test_a_real_scheduler_still_serves():
    # The handshake probe hangs up; the Client that follows gets the work.
    cluster = subprocess.Popen([sys.executable, "-c", CLUSTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    try:
        addr = cluster.stdout.readline().strip()
        assert addr.startswith("tcp://"), addr
        run = invoke("analyze", "--format", "json", "--engine", "dask", "--scheduler", addr,
                     "--scheduler-timeout", "20", CAPTURE)
    finally:
        cluster.stdin.close()
        cluster.wait(20)
    assert run.code == 0, run.stderr
    alone = invoke("analyze", "--format", "json", CAPTURE)
    assert json.loads(run.stdout)["summary"] == json.loads(alone.stdout)["summary"]
