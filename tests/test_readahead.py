"""The read-ahead thread (capture.readahead): whatever the walker asks for,
it gets the file's own bytes, from a chunk read ahead when the stop lies in
the overlap and from a read of its own when not; errors reach the walker;
no thread outlives the reading."""
import random
import threading

import pytest
from conftest import SAMPLES

from tcpflow_analyze.capture import pcap, read_windows
from tcpflow_analyze.capture.readahead import ReadAhead


def reader(data: bytes, log=None):
    def read_at(offset, n):
        if log is not None:
            log.append((offset, n))
        return data[offset:offset + n]
    return read_at


def threads():
    return {t for t in threading.enumerate() if t.name == "capture read-ahead"}


@pytest.mark.parametrize("seed", range(8))
def test_every_read_is_the_files_bytes(seed):
    rng = random.Random(seed)
    data = rng.randbytes(rng.randrange(20_000, 200_000))
    size, overlap = rng.choice([(4096, 1024), (1000, 250), (65536, 300)])
    log = []
    ra = ReadAhead(reader(data, log), size, overlap)
    offset, served = 0, 0
    while True:
        need = rng.randrange(1, 2 * overlap)
        buf, base, at_end = ra.read(offset, need)
        assert buf[base:] == data[offset:offset + len(buf) - base]
        assert len(buf) - base >= need or at_end
        if at_end:
            assert offset + len(buf) - base == len(data)
            break
        served += base > 0
        # Walk on: usually into the chunk's last `overlap` bytes (a record
        # cut by the chunk's end), sometimes less far (a long record).
        end = offset + len(buf) - base
        offset = max(offset + 1, end - rng.randrange(1, overlap if rng.random() < 0.9 else 3 * overlap))
    ra.close()
    assert not threads()
    if len(data) > 4 * size:
        assert served > 0  # the read-ahead chunks were used, not only own reads


def test_stops_in_the_overlap_never_read_twice():
    # A walker that always stops inside the overlap reads each byte at most
    # twice (the overlap) and never waits on a read of its own after the first.
    data = bytes(range(256)) * 2000
    log = []
    ra = ReadAhead(reader(data, log), 8192, 1024)
    offset = 0
    own = 0
    while True:
        buf, base, at_end = ra.read(offset, 16)
        own += base == 0 and offset > 0
        if at_end:
            break
        offset += len(buf) - base - 500
    ra.close()
    assert own == 0
    assert sum(n for _, n in log) <= len(data) * 1.2 + 2 * 8192


def test_an_error_in_the_thread_reaches_the_walker():
    data = bytes(100_000)

    def read_at(offset, n):
        if offset > 30_000:
            raise RuntimeError("disk on fire")
        return data[offset:offset + n]

    ra = ReadAhead(read_at, 4096, 512)
    with pytest.raises(RuntimeError, match="disk on fire"):
        offset = 0
        while True:
            buf, base, at_end = ra.read(offset, 16)
            offset += len(buf) - base - 100
    ra.close()
    assert not threads()


def test_an_abandoned_read_leaves_no_thread(monkeypatch):
    # The packet loop may stop early (an error, a closed pipe): closing the
    # window generator stops and joins the read-ahead.
    monkeypatch.setattr(pcap, "CHUNK", 4096)
    windows = read_windows([str(SAMPLES / "bulk_loss.pcap")], [])
    buf, pos, end, _ = next(windows)
    windows.send((pos, 0))
    assert threads()
    windows.close()
    assert not threads()
