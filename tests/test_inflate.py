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



# ------------------------------------------------------------ damaged gzip
# A capture of 6,002 small packets: 59 whole ones in its first 5,000 bytes.
STORM = SAMPLES / "time_wait_storm.pcap"


def record_ends(raw: bytes) -> list[int]:
    """The offset just past each whole pcap record of ``raw`` (the file
    header's end first)."""
    import struct
    ends, pos = [24], 24
    while pos + 16 <= len(raw):
        caplen = struct.unpack_from("<I", raw, pos + 8)[0]
        if pos + 16 + caplen > len(raw):
            break
        pos += 16 + caplen
        ends.append(pos)
    return ends


def bad_block_after(raw: bytes, good: int) -> tuple[bytes, int]:
    """``raw[:good]`` deflated and flushed to a byte boundary, then a block of
    the reserved type 3 (RFC 1951 3.2.3, zlib's "invalid block type"): the
    stream, and the offset of the damaged byte in it."""
    import zlib
    z = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = z.compress(raw[:good]) + z.flush(zlib.Z_FULL_FLUSH)
    return head + b"\x07" + bytes(64), len(head)


@pytest.fixture(params=["child", "here"])
def inflating(request, monkeypatch):
    monkeypatch.setattr(inflate, "usable", lambda: request.param == "child")
    return request.param


def damage_of(path):
    from tcpflow_analyze.analysis import analyze
    a = analyze([str(path)])
    return a.stats.packets, [(d.offset, d.packet, d.reason) for d in a.stats.damages]


@pytest.mark.parametrize("good", [5000, 200_000])
def test_every_packet_before_a_damaged_block_is_analyzed(tmp_path, good, inflating):
    # zlib drops what a failing call had inflated: read in big pieces (a
    # parallel run's 4 MiB) or small ones (the child's 64 KiB), everything
    # before the damaged block must still be analyzed, and the report says
    # which compressed byte is damaged.
    raw = STORM.read_bytes()
    blob, at = bad_block_after(raw, good)
    path = tmp_path / "bad.pcap.gz"
    path.write_bytes(blob)
    ends = [e for e in record_ends(raw) if e <= good]
    packets, [(offset, packet, reason)] = damage_of(path)
    assert (packets, packet, offset) == (len(ends) - 1, len(ends) - 1, ends[-1])
    assert reason.startswith(f"gzip stream damaged: invalid block type at byte {at} of the compressed file; last ")


@pytest.mark.parametrize("piece", [1, 7, 4096, 1 << 16, 1 << 22])
def test_read_size_does_not_change_what_a_damaged_stream_gives(piece):
    # The --jobs 1 and --jobs 2 reports differed only because their reads
    # were of different sizes.
    import io
    raw = STORM.read_bytes()[:120_000]
    blob, at = bad_block_after(raw, 100_000)
    stream = source._GzipStream(io.BytesIO(blob))
    got = []
    while True:
        more = stream.read(piece)
        if not more:
            break
        assert len(more) <= piece
        got.append(more)
    assert b"".join(got) == raw[:100_000]
    assert stream.error == f"gzip stream damaged: invalid block type at byte {at} of the compressed file"


@pytest.mark.parametrize("piece", [1, 7, 4096, 1 << 22])
def test_read_size_does_not_move_the_damaged_byte(piece):
    # A distance too far back, found by the fuzzer: read in small pieces,
    # zlib had taken the damaged byte in before it was decoded, and the
    # damage was put one byte later.
    import io
    blob = (SAMPLES.parent / "tests" / "crashers" / "gzip-bad-distance-position-varies").read_bytes()
    stream = source._GzipStream(io.BytesIO(blob))
    got = b""
    while more := stream.read(piece):
        got += more
    assert len(got) == 24
    assert stream.error == "gzip stream damaged: invalid distance too far back at byte 27 of the compressed file"


def gz_cases(raw: bytes) -> dict:
    """Damaged (or odd) gzip files of ``raw``: the file, how many of ``raw``'s
    bytes are readable from it, what the damage is and the compressed byte
    where it shows (None: no damage)."""
    import zlib
    whole = gzip.compress(raw)
    crc, size = bytearray(whole), bytearray(whole)
    crc[-8] ^= 1      # the trailer's CRC-32 (RFC 1952 2.2)
    size[-1] ^= 1     # the trailer's ISIZE
    half = len(raw) // 2
    first = gzip.compress(raw[:half])
    second, at = bad_block_after(raw[half:], 20_000)
    cut = whole[:len(whole) // 2]
    return {
        "crc": (bytes(crc), len(raw), "the trailer's CRC-32 does not match the data", len(whole) - 5),
        "isize": (bytes(size), len(raw), "the trailer's length does not match the data", len(whole) - 1),
        "cut": (cut, len(zlib.decompressobj(31).decompress(cut)),
                "Compressed file ended before the end-of-stream marker was reached", len(cut)),
        "members": (first + bytes(8) + gzip.compress(raw[half:]), len(raw), None, None),
        "member 2 damaged": (first + second, half + 20_000, "invalid block type", len(first) + at),
        "garbage after": (whole + b"trailing garbage", len(raw), "not gzip data after the end of the stream,",
                          len(whole)),
    }


@pytest.mark.parametrize("case", ["crc", "isize", "cut", "members", "member 2 damaged", "garbage after"])
def test_damaged_gzip_keeps_every_readable_packet_and_says_where(tmp_path, case, inflating):
    whole = STORM.read_bytes()
    raw = whole[:max(e for e in record_ends(whole) if e <= 150_000)]  # whole records only
    blob, readable, what, at = gz_cases(raw)[case]
    path = tmp_path / "x.pcap.gz"
    path.write_bytes(blob)
    ends = [e for e in record_ends(raw) if e <= readable]
    packets, damages = damage_of(path)
    assert packets == len(ends) - 1
    if what is None:
        assert damages == []
        return
    [(offset, packet, reason)] = damages
    assert (offset, packet) == (ends[-1], packets)
    why = f"gzip stream damaged: {what} at byte {at} of the compressed file"
    assert reason == why if readable == ends[-1] else reason.startswith(why + "; last record"), reason
