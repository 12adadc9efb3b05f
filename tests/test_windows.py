"""The packet loop walks read windows (capture.read_windows): wherever the
windows happen to cut the file, and however the file is read, the analysis is
the same as record-at-a-time reading gives."""
import gzip
import itertools
import struct
import shutil

import pytest
from conftest import SAMPLES, walk_windows as walked
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tcpflow_analyze.analysis import analyze
from records import read_records, walk_records
from tcpflow_analyze.capture import pcap, read_windows, source

from tcpflow_analyze.views.report import build_report
from tcpflow_analyze.render.json_out import dumps

BULK = SAMPLES / "bulk_loss.pcap"          # 4,283 packets, records up to ~1.5 kB
REUSE = SAMPLES / "port_reuse.pcap"


def report_text(paths):
    a = analyze([str(p) for p in paths])
    return dumps(build_report(a)), a


@pytest.fixture(scope="module")
def reference():
    return {p: report_text([p]) for p in (BULK, REUSE)}


@pytest.mark.parametrize("chunk", [16, 97, 1500, 4096])
@pytest.mark.parametrize("reading", ["mapped", "positional", "stream"])
def test_any_window_size_same_records(monkeypatch, chunk, reading):
    # Chunks and map windows smaller than a record header, than one record,
    # and of odd sizes: records cross every kind of boundary, and records
    # bigger than a chunk are read whole.
    monkeypatch.setattr(pcap, "CHUNK", chunk)
    monkeypatch.setattr(pcap, "WINDOW", chunk)
    monkeypatch.setattr(source, "_is_regular", lambda raw: reading != "stream")
    if reading == "positional":
        monkeypatch.setattr(source, "_map", lambda raw: None)
    got = walked(read_windows([str(BULK)], []))
    want = [(ts, lt, bytes(buf[off:off + n])) for ts, lt, buf, off, n in read_records([str(BULK)], [])]
    assert len(got) == 4283
    assert got == want


@pytest.mark.parametrize("chunk", [16, 1500])
def test_small_windows_same_report(monkeypatch, reference, chunk):
    monkeypatch.setattr(pcap, "CHUNK", chunk)
    monkeypatch.setattr(pcap, "WINDOW", chunk)
    for path, (text, _) in reference.items():
        assert report_text([path])[0] == text


def test_stdin_and_gzip_read_as_the_file(monkeypatch, reference, tmp_path):
    # gzip is a stream (no positional reads): the same windows protocol, with
    # the tail of each buffer carried into the next.
    gz = tmp_path / "bulk.pcap.gz"
    with open(BULK, "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    text, a = report_text([gz])
    want_text, want = reference[BULK]
    assert a.stats.packets == want.stats.packets == 4283
    assert text.replace(str(gz), str(BULK)) == want_text


def test_merged_files_are_walked_in_record_order():
    # Several files are merged window by window, each window bounded by the
    # time another file's next packet comes first: the records, in the
    # order read_records merges them one by one.
    paths = [str(SAMPLES / "pcapng.pcapng"), str(SAMPLES / "sll2_any.pcap"), str(REUSE)]
    got = walked(read_windows(paths, []))
    want = [(ts, lt, bytes(buf[off:off + n])) for ts, lt, buf, off, n in read_records(paths, [])]
    assert len(got) == len(want) > 50
    assert got == want
    assert {lt for _, lt, _ in got} == {1, 276}


def test_window_damage_is_where_record_reading_puts_it(tmp_path):
    # A file cut inside its last record: both shapes of reading stop at the
    # same offset, after the same packets, for the same reason.
    data = BULK.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[:len(data) - 7])
    d1, d2 = [], []
    assert len(walked(read_windows([str(cut)], d1))) == len(list(read_records([str(cut)], d2))) == 4282
    assert d1 == d2 and d1[0].reason.startswith("last record cut short")


@pytest.mark.parametrize("read_size", [1, 7, 64, 1500])
def test_pcapng_blocks_across_any_read_boundary(monkeypatch, read_size):
    # Enhanced Packet Blocks are read in place from the read buffer; a block
    # that crosses its end takes the careful path.  Either way, the same
    # records in the same order, and the same damage, as with large reads.
    from tcpflow_analyze.capture import pcapng
    paths = [str(SAMPLES / "pcapng.pcapng")]
    want_damage, got_damage = [], []
    want = [(ts, lt, bytes(buf[off:off + n])) for ts, lt, buf, off, n in read_records(paths, want_damage)]
    monkeypatch.setattr(pcapng, "READ_SIZE", read_size)
    got = [(ts, lt, bytes(buf[off:off + n])) for ts, lt, buf, off, n in read_records(paths, got_damage)]
    assert got == want and len(got) > 10 and got_damage == want_damage


def _ng(btype, body, endian="<"):
    body += bytes(-len(body) % 4)
    return struct.pack(endian + "II", btype, len(body) + 12) + body + struct.pack(endian + "I", len(body) + 12)


def _mixed_pcapng(path):
    """A pcapng of every kind of block around runs of EPBs, and the records it
    holds as (ts, linktype, bytes): what any reader must give."""
    want, out = [], []

    def shb(e):
        out.append(_ng(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1), e))

    def idb(e, linktype, opts=b""):
        out.append(_ng(1, struct.pack(e + "HHI", linktype, 0, 65535) + opts, e))

    def epb(e, if_id, t, frame, scale, offset, linktype, opts=b""):
        body = struct.pack(e + "IIIII", if_id, t >> 32, t & 0xFFFFFFFF, len(frame), len(frame)) + frame
        body += bytes(-len(body) % 4) + opts
        out.append(_ng(6, body, e))
        want.append((t * scale + offset, linktype, frame))

    def frame(n, tag):
        return bytes([tag]) * n

    le, be = "<", ">"
    shb(le)
    idb(le, 1)                                                   # 0: Ethernet, microseconds
    idb(le, 101, struct.pack(le + "HHB3x", 9, 1, 9)              # 1: raw IP, nanoseconds,
        + struct.pack(le + "HHq", 14, 8, 100) + struct.pack(le + "HH", 0, 0))   # 100 s offset
    t = 1_700_000_000_000_000
    for n in (60, 61, 62, 63):                                   # every padding
        epb(le, 0, t + n, frame(n, n), 1e-6, 0, 1)
    epb(le, 0, t + 70, frame(64, 7), 1e-6, 0, 1,                 # with options: flags, then the end
        struct.pack(le + "HHI", 2, 4, 1) + struct.pack(le + "HH", 0, 0))
    for k in range(2):                                           # the other interface
        epb(le, 1, (t + 80 + k) * 1000, frame(40 + k, 80 + k), 1e-9, 100, 101)
    out.append(_ng(4, struct.pack(le + "HH", 0, 0)))             # name resolution: nothing to read
    epb(le, 0, t + 90, frame(66, 90), 1e-6, 0, 1)
    spb = frame(58, 91)                                          # no time: the packet's before it
    out.append(_ng(3, struct.pack(le + "I", len(spb)) + spb))
    want.append((want[-1][0], 1, spb))
    opb = frame(59, 92)                                          # obsolete packet block, interface 1
    tt = (t + 95) * 1000
    out.append(_ng(2, struct.pack(le + "HHIIII", 1, 0, tt >> 32, tt & 0xFFFFFFFF, len(opb), len(opb)) + opb))
    want.append((tt * 1e-9 + 100, 101, opb))
    for n in (67, 68):
        epb(le, 0, t + n + 30, frame(n, n), 1e-6, 0, 1)
    shb(be)                                                      # a new section, big-endian
    idb(be, 1)
    for n in (69, 70):
        epb(be, 0, t + n + 40, frame(n, n), 1e-6, 0, 1)
    path.write_bytes(b"".join(out))
    return want


@pytest.mark.parametrize("read_size", [7, 64, 1500, None])
def test_pcapng_epb_runs_are_walked_in_place(tmp_path, monkeypatch, read_size):
    # Runs of Enhanced Packet Blocks go to the walker as they lie in the read
    # buffer (the packet loop's pcapng path); every other block (interfaces,
    # options, SPB, OPB, another section, a block across the buffer's end) is
    # taken by the reader.  Records, times and link types are what was written.
    from tcpflow_analyze.capture import pcapng
    path = tmp_path / "mixed.pcapng"
    want = _mixed_pcapng(path)
    if read_size is not None:
        monkeypatch.setattr(pcapng, "READ_SIZE", read_size)
    layouts = []
    real = pcapng.pcapng_windows

    def spy(*args):
        gen = real(*args)
        sent = None
        while True:
            try:
                window = gen.send(sent)
            except StopIteration:
                return
            layouts.append(window[3][5])
            assert window[4] == float("inf")  # one file: no time bound
            sent = yield window
    monkeypatch.setattr(source, "pcapng_windows", spy)
    damages = []
    assert walked(read_windows([str(path)], damages)) == want
    assert damages == []
    assert [(ts, lt, bytes(b[o:o + n])) for ts, lt, b, o, n in read_records([str(path)], [])] == want
    if read_size is None:
        # EPB runs of both interfaces and both sections, and packed single records.
        assert {e[0] for e in layouts if e is not None} == {0, 1}
        assert None in layouts
    a = analyze([str(path)])
    assert a.stats.packets == len(want) and not a.stats.damages


# ------------------------------------------------- merging, window by window
def _capture_bytes(kind, records):
    """A pcap or (little-endian) pcapng of ``records``: (microseconds, frame)."""
    if kind == "pcap":
        out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
        for t, frame in records:
            out += struct.pack("<IIII", t // 10 ** 6, t % 10 ** 6, len(frame), len(frame)) + frame
        return out
    out = _ng(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)) + _ng(1, struct.pack("<HHI", 1, 0, 65535))
    for t, frame in records:
        out += _ng(6, struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(frame), len(frame)) + frame)
    return out


_streams = st.lists(
    st.tuples(st.sampled_from(["pcap", "pcapng"]),
              st.lists(st.tuples(st.integers(1_700_000_000 * 10 ** 6, 1_700_000_000 * 10 ** 6 + 40),
                                 st.integers(0, 120)), max_size=60),
              st.sampled_from(["sorted", "as drawn"])),
    min_size=2, max_size=4)


# A new name for every file the examples write (listing tmp_path to count the
# files there, as this once did, grew to a third of the test's time).
_FILE_NUMBERS = itertools.count()


@settings(max_examples=300, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(streams=_streams, chunk=st.sampled_from([97, 4096]))
def test_merged_windows_give_the_records_in_merge_order(tmp_path, monkeypatch, streams, chunk):
    # Timestamps from a 40-microsecond span: ties across files, and within
    # files when drawn unsorted (a clock stepping back).  Files that alternate
    # record by record (packed windows), run in blocks or not at all; reads
    # of 97 bytes (the reader stops the walker often) or 4 KiB.  The window
    # merge gives exactly the records, in the order, that merging record by
    # record (read_records, heapq.merge) gives.
    from tcpflow_analyze.capture import pcapng
    monkeypatch.setattr(pcap, "CHUNK", chunk)
    monkeypatch.setattr(pcap, "WINDOW", chunk)
    monkeypatch.setattr(pcapng, "READ_SIZE", chunk)
    paths = []
    for i, (kind, records, order) in enumerate(streams):
        if order == "sorted":
            records = sorted(records)
        frames = [(t, bytes([i, n % 256]) * (7 + n)) for n, (t, _) in enumerate(records)]
        path = tmp_path / f"merge-{next(_FILE_NUMBERS)}.{kind}"
        path.write_bytes(_capture_bytes(kind, frames))
        paths.append(str(path))
    want = [(ts, lt, bytes(b[o:o + n])) for ts, lt, b, o, n in read_records(paths, [])]
    assert walked(read_windows(paths, [])) == want
    assert [(ts, lt, bytes(b[o:o + n])) for ts, lt, b, o, n in walk_records(read_windows(paths, []))] == want


def test_interleaved_captures_are_packed_and_disjoint_ones_walked_in_place(tmp_path):
    from tcpflow_analyze.capture import windows as W
    t0 = 1_700_000_000 * 10 ** 6
    frame = bytes(60)
    every_other = [tmp_path / "a.pcap", tmp_path / "b.pcap"]
    for k, path in enumerate(every_other):
        path.write_bytes(_capture_bytes("pcap", [(t0 + 2 * i + k, frame) for i in range(2000)]))
    rotated = [tmp_path / "c.pcap", tmp_path / "d.pcap"]
    for k, path in enumerate(rotated):
        path.write_bytes(_capture_bytes("pcap", [(t0 + 10_000 * k + i, frame) for i in range(2000)]))

    def shapes(paths):
        # (kind, records walked) of each window, walked by record_at's rule.
        out = []
        windows = read_windows([str(p) for p in paths], [])
        window = next(windows, None)
        while window is not None:
            buf, pos, end, layout, ts_end = window
            n = 0
            while (record := W.record_at(buf, pos, end, layout)) is not None and record[0] <= ts_end:
                pos = record[2]
                n += 1
            if n:
                out.append(("packed" if layout[0] == W.PACKED.unpack_from else "in place", n))
            try:
                window = windows.send((pos, n))
            except StopIteration:
                window = None
        return out
    alternating = shapes(every_other)
    assert sum(n for _, n in alternating) == 4000
    assert sum(n for kind, n in alternating if kind == "packed") > 3500
    disjoint = shapes(rotated)
    assert disjoint == [("in place", 2000), ("in place", 2000)]
