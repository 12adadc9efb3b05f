"""The read-ahead thread of a pipe (capture.readahead.StreamAhead): it
reads as the stream itself, and no thread outlives the reading."""
import random
import threading

import pytest
from conftest import SAMPLES, walk_windows

from tcpflow_analyze.capture import read_windows


def threads():
    return {t for t in threading.enumerate() if t.name == "capture read-ahead"}


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

