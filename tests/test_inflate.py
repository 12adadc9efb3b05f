"""gzip inflated by a forked child (capture.inflate): used for a capture read
alone, the same bytes as inflating here, and no child outlives the reading --
not even one waiting on input that never comes."""
import gzip
import os
import threading
import time

import pytest
from conftest import SAMPLES, walk_windows as walk

from tcpflow_analyze.capture import inflate, read_windows, source

BULK = SAMPLES / "bulk_loss.pcap"


def gone(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True  # reaped
    return False


@pytest.fixture
def children(monkeypatch):
    """The children started, by pid."""
    started = []

    class Spy(inflate.InflatingChild):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            started.append(self._pid)

    monkeypatch.setattr(inflate, "InflatingChild", Spy)
    return started


def test_a_gzip_capture_read_alone_is_inflated_by_a_child(tmp_path, children, monkeypatch):
    gz = tmp_path / "bulk.pcap.gz"
    gz.write_bytes(gzip.compress(BULK.read_bytes()))
    by_child = walk(read_windows([str(gz)], []))
    assert len(children) == 1 and gone(children[0])
    monkeypatch.setattr(inflate, "usable", lambda: False)
    here = walk(read_windows([str(gz)], []))
    assert len(children) == 1
    assert by_child == here and len(here) == 4283


def test_not_while_other_threads_run(tmp_path, children):
    # A fork while another thread may hold a lock (a parallel run's pool, a
    # Dask worker): inflated here instead.
    gz = tmp_path / "bulk.pcap.gz"
    gz.write_bytes(gzip.compress(BULK.read_bytes()))
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert len(walk(read_windows([str(gz)], []))) == 4283
    finally:
        stop.set()
        t.join()
    assert children == []


def test_stopping_early_ends_a_child_waiting_on_a_live_pipe(monkeypatch, children):
    # Standard input from a capture still running: the child waits for more
    # while the walker gives up (here: after the first packets).  Closing must
    # neither hang nor leave the child behind.
    data = gzip.compress(BULK.read_bytes())
    r, w = os.pipe()
    os.write(w, data[:len(data) // 3])  # and the write end stays open
    monkeypatch.setattr(source, "open_capture", lambda path: os.fdopen(r, "rb"))
    try:
        t0 = time.monotonic()
        got = walk(read_windows(["-"], []), stop_after=10)
        assert len(got) >= 10
        assert time.monotonic() - t0 < 5
        [pid] = children
        assert gone(pid)
        assert not [t for t in threading.enumerate() if t.name == "capture read-ahead"]
    finally:
        os.close(w)
