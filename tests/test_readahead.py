"""The read-ahead thread (capture.readahead): whatever the walker asks for,
it gets the file's own bytes, from a chunk read ahead when the stop lies in
the overlap and from a read of its own when not; errors reach the walker;
no thread outlives the reading."""
import random
import threading

import pytest
from conftest import SAMPLES, walk_windows

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
    buf, pos, end, _, _ = next(windows)
    windows.send((pos, 0))
    assert threads()
    windows.close()
    assert not threads()


class Trickle:
    """A pipe that hands out odd-sized pieces."""

    def __init__(self, data: bytes, seed: int):
        self.data, self.pos, self.rng = data, 0, random.Random(seed)

    def read(self, n=-1):
        k = self.rng.randrange(1, 5000) if n is None or n < 0 else min(n, self.rng.randrange(1, 5000))
        out = self.data[self.pos:self.pos + k]
        self.pos += len(out)
        return out


@pytest.mark.parametrize("seed", range(4))
def test_a_stream_read_ahead_reads_as_the_stream(seed):
    from tcpflow_analyze.capture.readahead import StreamAhead
    rng = random.Random(seed)
    data = rng.randbytes(300_000)
    ahead = StreamAhead(Trickle(data, seed), rng.choice([1000, 65536]))
    got = []
    while True:
        n = rng.choice([1, 16, 700, 5000, 1 << 20])
        piece = ahead.read(n)
        assert len(piece) <= n
        if not piece:
            break
        got.append(piece)
        if rng.random() < 0.02:
            got.append(ahead.read(-1))  # the rest, at once
    assert b"".join(got) == data
    assert ahead.read(10) == b""
    ahead.close()
    assert not threads()


def test_stdin_is_read_ahead_and_reads_as_the_file(monkeypatch):
    # A pipe (not seekable: no positional reads) goes through StreamAhead.
    import io

    from tcpflow_analyze.capture import source
    path = SAMPLES / "bulk_loss.pcap"
    data = path.read_bytes()
    monkeypatch.setattr(source, "_is_regular", lambda raw: False)
    monkeypatch.setattr(source, "open_capture", lambda p: io.BufferedReader(io.BytesIO(data)))
    used = []
    real = source.StreamAhead

    def spy(stream, size):
        used.append(size)
        return real(stream, size)

    monkeypatch.setattr(source, "StreamAhead", spy)
    from records import read_records
    got = walk_windows(read_windows(["-"], []))
    want = [(ts, lt, bytes(buf[off:off + n])) for ts, lt, buf, off, n in read_records([str(path)], [])]
    assert used and got == want and len(got) == 4283
    assert not threads()

