"""Hostile and broken input: captures are untrusted data.

Every damaged capture here is written byte by byte (``struct``), so each test
says exactly which field lies.  Each goes through the CLI, in-process with
click's runner (``clirun``: an exception, a thread's or a finalizer's error,
or a run past its time fails the test, as a process's traceback or hang
would): the answer is exit 0 with a valid JSON report (no NaN or Infinity,
valid against the shipped schema) or exit 2 with one line on stderr -- never
a traceback, never an "internal error", never a hang.  And what was read
before the damage is in the report: every test puts a whole, good connection
in front of the damage.  What only a process shows (standard input from a
real pipe) still runs in one.

``tests/crashers/`` holds the inputs ``scripts/fuzz.py`` found crashing; each
is replayed here.
"""
from __future__ import annotations

import gc
import gzip
import json
import os
import socket
import stat
import struct
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path

import pytest

from tcpflow_analyze.analysis import analyze
from clirun import invoke
from records import read_records
from tcpflow_analyze.decode import SKIP_NAMES, decode
from tcpflow_analyze.errors import CaptureError

ROOT = Path(__file__).resolve().parent.parent
CRASHERS = sorted(p for p in (ROOT / "tests" / "crashers").glob("*") if p.is_file() and p.name != "README.md")

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
T0 = 1_700_000_000.0
C_ISN, S_ISN = 1000, 5000


# ------------------------------------------------------------ packet builders
def tcp_hdr(sport, dport, seq, ack, flags, win=65535, doff=5, opts=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                       (doff & 0xF) << 4, flags, win, 0, 0) + opts


def ipv4(src, dst, payload, proto=6, ihl=5, total=None, frag=0, opts=b""):
    """An IPv4 header (any IHL and total length, true or not) + payload."""
    if total is None:
        total = ihl * 4 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | (ihl & 0xF), 0, total & 0xFFFF, 1, frag, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    return hdr + opts + payload


def ipv6(src, dst, nxt, payload, plen=None):
    if plen is None:
        plen = len(payload)
    return struct.pack("!IHBB16s16s", 0x60000000, plen, nxt, 64, socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


def eth(payload, etype=0x0800, tags=()):
    """Ethernet II, with any stack of 802.1Q tags in front of ``etype``."""
    out = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01"
    for tpid in tags:
        out += struct.pack("!HH", tpid, 7)
    return out + struct.pack("!H", etype) + payload


def seg(src, sport, dst, dport, seq, ack, flags, data=b""):
    """One well-formed Ethernet/IPv4/TCP frame."""
    return eth(ipv4(src, dst, tcp_hdr(sport, dport, seq, ack, flags) + data))


CLIENT = ("10.0.0.1", 40000)
SERVER = ("10.0.0.2", 80)


def good_connection(c=CLIENT, s=SERVER, cisn=C_ISN, sisn=S_ISN):
    """A whole connection: handshake, a request, a response, both FINs, last ACK (8 frames)."""
    def cs(seq, ack, flags, data=b""):
        return seg(c[0], c[1], s[0], s[1], seq, ack, flags, data)

    def sc(seq, ack, flags, data=b""):
        return seg(s[0], s[1], c[0], c[1], seq, ack, flags, data)
    return [
        cs(cisn, 0, SYN), sc(sisn, cisn + 1, SYN | ACK), cs(cisn + 1, sisn + 1, ACK),
        cs(cisn + 1, sisn + 1, PSH | ACK, b"GET /"), sc(sisn + 1, cisn + 6, PSH | ACK, b"200 OK"),
        cs(cisn + 6, sisn + 7, FIN | ACK), sc(sisn + 7, cisn + 7, FIN | ACK), cs(cisn + 7, sisn + 8, ACK),
    ]


# ------------------------------------------------------------ file builders
def pcap_header(linktype=1, snaplen=65535, endian="<", magic=0xA1B2C3D4, major=2, minor=4):
    return struct.pack(endian + "IHHiIII", magic, major, minor, 0, 0, snaplen, linktype)


def pcap_record(ts, frame, caplen=None, wirelen=None, endian="<"):
    sec = int(ts)
    usec = int(round((ts - sec) * 1e6))
    caplen = len(frame) if caplen is None else caplen
    return struct.pack(endian + "IIII", sec, usec, caplen, len(frame) if wirelen is None else wirelen) + frame


def pcap_file(frames, linktype=1, snaplen=65535, t0=T0, dt=0.001):
    """A whole pcap; ``frames`` are bytes or (ts, bytes)."""
    out = pcap_header(linktype, snaplen)
    for i, f in enumerate(frames):
        ts, f = f if isinstance(f, tuple) else (t0 + i * dt, f)
        out += pcap_record(ts, f)
    return out


def record_offsets(frames):
    """File offset of each record header of ``pcap_file(frames)``, and of the end."""
    offs = [24]
    for f in frames:
        offs.append(offs[-1] + 16 + len(f if isinstance(f, bytes) else f[1]))
    return offs


def ng_block(btype, body, endian="<"):
    body += bytes(-len(body) % 4)
    n = len(body) + 12
    return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)


def ng_shb(endian="<"):
    return ng_block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1), endian)


def ng_idb(linktype=1, snaplen=65535, endian="<"):
    return ng_block(1, struct.pack(endian + "HHI", linktype, 0, snaplen), endian)


def ng_epb(ts, frame, if_id=0, caplen=None, endian="<"):
    t = int(round(ts * 1e6))
    caplen = len(frame) if caplen is None else caplen
    return ng_block(6, struct.pack(endian + "IIIII", if_id, t >> 32, t & 0xFFFFFFFF, caplen, len(frame)) + frame,
                    endian)


def pcapng_file(frames, t0=T0, dt=0.001):
    out = ng_shb() + ng_idb()
    for i, f in enumerate(frames):
        out += ng_epb(t0 + i * dt, f)
    return out


# ------------------------------------------------------------ running
def _reject_constant(name):
    raise AssertionError(f"JSON report contains {name}: not valid JSON")


def cli(path, *args, timeout=60):
    """Run the CLI on ``path``; exit 0 with a valid report or 2 with one line, nothing else."""
    run = invoke("analyze", "--format", "json", *args, path, timeout=timeout)
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    assert run.code in (0, 2), (run.code, run.stderr)
    if run.code == 2:
        assert run.stdout == ""
        assert len(run.stderr.strip().splitlines()) == 1, run.stderr
        return 2, run.stderr.strip()
    return 0, json.loads(run.stdout, parse_constant=_reject_constant)


def report(path, *args):
    rc, rep = cli(path, *args)
    assert rc == 0, rep
    _validate(rep)
    return rep


def not_a_capture(path) -> str:
    rc, line = cli(path)
    assert rc == 2, line
    return line


_SCHEMA = None


def _validate(rep):
    global _SCHEMA
    jsonschema = pytest.importorskip("jsonschema")
    if _SCHEMA is None:
        _SCHEMA = json.loads((ROOT / "tcpflow_analyze" / "views" / "report.schema.json").read_text())
    jsonschema.validate(rep, _SCHEMA)


def skipped(rep, **expected):
    """capture.skipped equals ``expected`` (reasons not named are zero)."""
    want = {name: 0 for name in SKIP_NAMES}
    want.update(expected)
    assert rep["capture"]["skipped"] == want


def the_good_connection(rep, c=CLIENT, s=SERVER):
    """The good connection in front of the damage was read whole."""
    [conn] = [x for x in rep["connections"] if x["client"]["port"] == c[1] and x["server"]["port"] == s[1]]
    assert conn["client"] == {"ip": c[0], "port": c[1], "state": "TIME_WAIT"}
    assert conn["server"] == {"ip": s[0], "port": s[1], "state": "CLOSED"}
    assert conn["packets"] == {"client": 5, "server": 3}
    assert conn["bytes"] == {"client": 5, "server": 6}
    assert conn["handshake"] == "complete" and conn["close"] == "fin"
    return conn


def write(tmp_path, name, data: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


# ===================================================================== pcap
@pytest.mark.parametrize("cut", [0, 1, 3, 4, 10, 23])
def test_pcap_file_header_cut_is_not_a_capture(tmp_path, cut):
    data = pcap_file(good_connection())[:cut]
    line = not_a_capture(write(tmp_path, "h.pcap", data))
    if cut == 0:
        assert "empty file" in line
    elif cut < 4:
        assert "not a pcap" in line
    else:
        assert f"pcap file header cut short ({cut} of 24 bytes)" in line


@pytest.mark.parametrize("cut", [1, 7, 15])
def test_pcap_record_header_cut(tmp_path, cut):
    frames = good_connection()
    data = pcap_file(frames)
    rep = report(write(tmp_path, "r.pcap", data + pcap_record(T0 + 1, frames[0])[:cut]))
    cap = rep["capture"]
    assert cap["truncated"] is True
    assert cap["truncation"] == {"file": str(tmp_path / "r.pcap"), "offset": len(data), "packet": 8,
                                 "reason": f"last record header cut short ({cut} of 16 bytes)"}
    assert cap["packets"] == 8
    the_good_connection(rep)


def test_pcap_cut_inside_a_packet(tmp_path):
    frames = good_connection()
    data = pcap_file(frames)
    offs = record_offsets(frames)
    # Cut 30 bytes into the 6th packet (index 5): 5 whole packets before it.
    cut = offs[5] + 16 + 30
    rep = report(write(tmp_path, "p.pcap", data[:cut]))
    cap = rep["capture"]
    assert cap["truncated"] is True
    assert cap["truncation"]["offset"] == offs[5] == 24 + 3 * (16 + 54) + (16 + 59) + (16 + 60)
    assert cap["truncation"]["packet"] == 5
    assert cap["truncation"]["reason"] == f"last record cut short (30 of {len(frames[5])} bytes)"
    assert cap["packets"] == cap["tcp_packets"] == 5
    [conn] = rep["connections"]
    assert conn["packets"] == {"client": 3, "server": 2} and conn["bytes"] == {"client": 5, "server": 6}
    assert conn["client"]["state"] == conn["server"]["state"] == "ESTABLISHED"


@pytest.mark.parametrize("snaplen", [65535, 0xFFFFFFFF, 0])
def test_pcap_caplen_beyond_any_snaplen_stops_without_allocating(tmp_path, monkeypatch, snaplen):
    frames = good_connection()
    data = pcap_header(snaplen=snaplen) + b"".join(pcap_record(T0 + i, f) for i, f in enumerate(frames))
    bad = struct.pack("<IIII", int(T0) + 9, 0, 0x7FFFFFF0, 0x7FFFFFF0)
    # 64 MiB of what the lying record would cover follow it (a sparse file).
    path = write(tmp_path, "huge.pcap", data + bad)
    with open(path, "r+b") as fh:
        fh.truncate(len(data) + 16 + (64 << 20))
    rep = report(path)
    cap = rep["capture"]
    assert cap["truncation"]["offset"] == len(data) and cap["truncation"]["packet"] == 8
    assert "record length 2147483632 exceeds" in cap["truncation"]["reason"]
    the_good_connection(rep)
    # In-process: the 2 GiB the record claims is never allocated, nor the
    # 64 MiB that follow it read: mapped, nothing is read into memory; read
    # by position (a file that cannot be mapped), the 4 MiB chunk walked.
    from tcpflow_analyze.capture import source
    for mapped in (True, False):
        if not mapped:
            monkeypatch.setattr(source, "_map", lambda raw: None)
        tracemalloc.start()
        try:
            analyze([str(path)])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < (0 if mapped else 4 << 20) + (2 << 20), (mapped, peak)


def test_pcap_caplen_over_snaplen_but_plausible_is_read(tmp_path):
    # snaplen 64, but records up to libpcap's own ceiling (262144) are read
    # as libpcap does: the data is there.
    frames = good_connection()
    rep = report(write(tmp_path, "s.pcap", pcap_file(frames, snaplen=64)))
    assert rep["capture"]["truncated"] is False
    the_good_connection(rep)


def test_pcap_caplen_larger_than_the_file(tmp_path):
    frames = good_connection()
    data = pcap_file(frames)
    bad = struct.pack("<IIII", int(T0) + 9, 0, 60000, 60000) + frames[0]
    rep = report(write(tmp_path, "big.pcap", data + bad))
    assert rep["capture"]["truncation"] == {
        "file": str(tmp_path / "big.pcap"), "offset": len(data), "packet": 8,
        "reason": f"last record cut short ({len(frames[0])} of 60000 bytes)"}
    the_good_connection(rep)


def test_pcap_zero_length_records_and_header_only(tmp_path):
    rep = report(write(tmp_path, "z.pcap", pcap_header() + pcap_record(T0, b"") * 3))
    assert rep["capture"]["packets"] == 3
    skipped(rep, truncated_header=3)
    rep = report(write(tmp_path, "e.pcap", pcap_header()))
    assert rep["capture"]["packets"] == 0 and rep["connections"] == [] and rep["capture"]["start"] is None


@pytest.mark.parametrize("header,needle", [
    (pcap_header(major=1), "unsupported pcap version 1.4"),
    (pcap_header(linktype=0x00010001), "reserved bits"),
    (b"\xd4\xc3\xb2\xa0" + pcap_header()[4:], "not a pcap"),
])
def test_pcap_bad_header_is_not_a_capture(tmp_path, header, needle):
    assert needle in not_a_capture(write(tmp_path, "b.pcap", header + pcap_record(T0, good_connection()[0])))


# =================================================================== pcapng
def _ng_good():
    frames = good_connection()
    return frames, pcapng_file(frames)


@pytest.mark.parametrize("length,reason", [
    (8, "block length 8 is impossible"),
    (30, "block length 30 is impossible"),
    (0x01000004, "block length 16777220 is impossible"),
    (0xFFFFFFFC, "block length 4294967292 is impossible"),
])
def test_pcapng_block_length_impossible(tmp_path, length, reason):
    frames, data = _ng_good()
    blk = bytearray(ng_epb(T0 + 1, frames[0]))
    struct.pack_into("<I", blk, 4, length)
    path = write(tmp_path, "l.pcapng", data + bytes(blk) + ng_epb(T0 + 2, frames[1]))
    rep = report(path)
    assert rep["capture"]["truncation"] == {"file": str(path), "offset": len(data), "packet": 8, "reason": reason}
    the_good_connection(rep)


def test_pcapng_block_larger_than_the_file(tmp_path):
    frames, data = _ng_good()
    blk = bytearray(ng_epb(T0 + 1, frames[0]))
    struct.pack_into("<I", blk, 4, 4096)
    path = write(tmp_path, "big.pcapng", data + bytes(blk))
    rep = report(path)
    assert rep["capture"]["truncation"] == {
        "file": str(path), "offset": len(data), "packet": 8,
        "reason": f"block cut short ({len(blk)} of 4096 bytes)"}
    the_good_connection(rep)


def test_pcapng_block_trailer_mismatch(tmp_path):
    frames, data = _ng_good()
    blk = bytearray(ng_epb(T0 + 1, frames[0]))
    struct.pack_into("<I", blk, len(blk) - 4, len(blk) + 4)
    path = write(tmp_path, "t.pcapng", data + bytes(blk) + ng_epb(T0 + 2, frames[1]))
    rep = report(path)
    assert rep["capture"]["truncation"] == {
        "file": str(path), "offset": len(data), "packet": 8,
        "reason": f"block lengths do not match ({len(blk)} vs {len(blk) + 4})"}
    the_good_connection(rep)


@pytest.mark.parametrize("mapped", [True, False])
@pytest.mark.parametrize("read_ahead", [False, True])
def test_pcapng_block_claiming_16_mib_is_not_read(tmp_path, monkeypatch, read_ahead, mapped):
    # The block claims 16 MiB + 4 and 20 MiB of data follow: the reader does
    # not read it in to see; a read-ahead thread holds its own two chunks at
    # most (one queued, one it is reading), whatever the block claims -- three
    # with the walker's own window: about 2 MiB read alone, 10 MiB or, when the
    # thread reads its next chunk before the walker lets go of the last, 14
    # MiB with the thread (a bound of two chunks failed in 1 run of 12, and
    # in 4 of 12 once the compiled walk got faster).  Reading the claimed
    # block in would pass 18 MiB.  A regular file is mapped: the block's
    # header is read from the map and nothing after it copied out; unmapped,
    # it is read as above.
    from tcpflow_analyze.engine.loop import CaptureStats, run
    from tcpflow_analyze.capture import read_windows
    from tcpflow_analyze.capture.readahead import STREAM_CHUNK
    from tcpflow_analyze.analysis import AnalysisOptions
    from tcpflow_analyze.engine.table import ConnectionTable
    from tcpflow_analyze.capture import source
    if not mapped:
        monkeypatch.setattr(source, "_map", lambda raw: None)
    frames, data = _ng_good()
    path = write(tmp_path, "m.pcapng", data + struct.pack("<II", 6, (16 << 20) + 4))
    with open(path, "r+b") as fh:
        fh.truncate(len(data) + (20 << 20))
    stats = CaptureStats(files=[str(path)])
    tracemalloc.start()
    try:
        run(read_windows([str(path)], stats.damages, read_ahead=read_ahead), ConnectionTable(AnalysisOptions()), stats)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stats.packets == 8 and stats.damages[0].offset == len(data)
    assert peak < (3 * STREAM_CHUNK if read_ahead else 0) + (4 << 20), peak


def test_pcapng_epb_naming_an_undefined_interface(tmp_path):
    frames, data = _ng_good()
    path = write(tmp_path, "i.pcapng", data + ng_epb(T0 + 1, frames[0], if_id=3))
    rep = report(path)
    assert rep["capture"]["truncation"] == {
        "file": str(path), "offset": len(data), "packet": 8,
        "reason": "packet names interface 3, which was never described"}
    the_good_connection(rep)


def test_pcapng_epb_caplen_larger_than_its_block(tmp_path):
    frames, data = _ng_good()
    path = write(tmp_path, "c.pcapng", data + ng_epb(T0 + 1, frames[0], caplen=5000))
    rep = report(path)
    assert rep["capture"]["truncation"]["reason"] == "packet length 5000 overruns its block"
    assert rep["capture"]["truncation"]["offset"] == len(data)
    the_good_connection(rep)


def test_pcapng_caplen_larger_than_snaplen_is_read(tmp_path):
    # The interface says snaplen 40, the packets are 54+ bytes and all there.
    frames = good_connection()
    data = ng_shb() + ng_idb(snaplen=40) + b"".join(ng_epb(T0 + i * 0.001, f) for i, f in enumerate(frames))
    rep = report(write(tmp_path, "s.pcapng", data))
    assert rep["capture"]["truncated"] is False
    the_good_connection(rep)


@pytest.mark.parametrize("data,needle", [
    (b"\x0a\x0d\x0d\x0a", "cut short"),
    (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00", "cut short"),
    (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x4d\x3c\x2b", "cut short"),
    (ng_shb()[:20], "cut short"),
    # A section header whose lengths agree but which is too short to hold
    # its own fields (the fuzzer's first find: a struct.error).
    (struct.pack("<III", 0x0A0D0D0A, 16, 0x1A2B3C4D) + struct.pack("<I", 16), "impossible length 16"),
    (struct.pack("<III", 0x0A0D0D0A, 20, 0x1A2B3C4D) + struct.pack("<HHI", 1, 0, 20), "impossible length 20"),
    (struct.pack("<III", 0x0A0D0D0A, 12, 0x1A2B3C4D), "impossible length"),
    (struct.pack("<III", 0x0A0D0D0A, 30, 0x1A2B3C4D) + bytes(18), "impossible length"),
    (struct.pack("<III", 0x0A0D0D0A, 28, 0x1A2B3C4D) + bytes(16), "lengths do not match"),
    (ng_idb() + ng_shb(), "not a pcap"),
])
def test_pcapng_broken_section_header_is_not_a_capture(tmp_path, data, needle):
    assert needle in not_a_capture(write(tmp_path, "s.pcapng", data))


def test_pcapng_spb_before_any_interface(tmp_path):
    frames, data = _ng_good()
    spb = ng_block(3, struct.pack("<I", len(frames[0])) + frames[0])
    path = write(tmp_path, "p.pcapng", ng_shb() + spb + data[len(ng_shb()):])
    rep = report(path)
    assert rep["capture"]["truncation"]["reason"] == "simple packet block without an interface"
    assert rep["capture"]["truncation"]["offset"] == len(ng_shb()) and rep["capture"]["packets"] == 0


def test_pcapng_second_section_forgets_interfaces(tmp_path):
    # Each section has its own interfaces: an EPB naming interface 0 of the
    # first section after a second SHB is damage.
    frames, data = _ng_good()
    path = write(tmp_path, "two.pcapng", data + ng_shb() + ng_epb(T0 + 1, frames[0]))
    rep = report(path)
    assert rep["capture"]["truncation"]["offset"] == len(data) + len(ng_shb())
    assert rep["capture"]["truncation"]["reason"] == "packet names interface 0, which was never described"
    the_good_connection(rep)


# ===================================================================== gzip
@pytest.fixture(params=["child", "here"])
def inflating(request, monkeypatch):
    """gzip inflated by a forked child (the default for a capture read alone)
    or in this process (a parallel run's parent): the same verdicts."""
    from tcpflow_analyze.capture import inflate
    monkeypatch.setattr(inflate, "usable", lambda: request.param == "child")
    return request.param


@pytest.mark.parametrize("frac", [0.1, 0.5, 0.99])
def test_gzip_stream_cut_in_the_middle_keeps_what_was_read(tmp_path, frac, inflating):
    # 200 connections (1600 packets, 114 KB): the stream is cut part-way, and
    # every whole packet the cut stream still holds is analyzed -- inflated
    # by a child or here (the CLI runs in this process: ``inflating`` holds).
    frames = []
    for i in range(200):
        frames += good_connection(c=("10.0.0.1", 20000 + i))
    raw = pcap_file(frames)
    gz = gzip.compress(raw)
    cut = gz[:int(len(gz) * frac)]
    # What a decompressor can still get out of the cut stream:
    readable = len(zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(cut))
    offs = record_offsets(frames)
    whole = max(i for i in range(len(frames) + 1) if offs[i] <= readable)
    path = write(tmp_path, "cut.pcap.gz", cut)
    rep = report(path)
    cap = rep["capture"]
    assert cap["truncated"] is True
    assert cap["packets"] == whole
    [d] = cap["damage"]
    assert d["offset"] == offs[whole] and d["packet"] == whole
    assert d["reason"].startswith("gzip stream damaged: Compressed file ended before the end-of-stream marker")
    assert cap["truncation"] == d
    done = [c for c in rep["connections"] if c["client"]["state"] == "TIME_WAIT"]
    assert len(done) == whole // 8


def test_gzip_of_nothing_and_corrupt_gzip(tmp_path, inflating):
    assert "empty file" in not_a_capture(write(tmp_path, "e.gz", gzip.compress(b"")))
    assert "gzip" in not_a_capture(write(tmp_path, "c.gz", b"\x1f\x8b\x08\x00" + bytes(20)))
    gz = bytearray(gzip.compress(pcap_file(good_connection())))
    gz[-8] ^= 0xFF  # CRC mismatch, found only at the very end
    rep = report(write(tmp_path, "crc.gz", bytes(gz)))
    assert rep["capture"]["packets"] == 8 and rep["capture"]["truncated"] is True
    assert "gzip stream damaged" in rep["capture"]["truncation"]["reason"]
    the_good_connection(rep)


def test_gzip_inflated_by_a_child_says_what_inflating_here_says(tmp_path, monkeypatch):
    # The child's verdicts come back on their own pipe: a cut stream, a bad
    # CRC at the very end, nothing at all -- the same packets and damage as
    # when this process inflates.
    from tcpflow_analyze.capture import inflate
    frames = []
    for i in range(50):
        frames += good_connection(c=("10.0.0.1", 20000 + i))
    gz = gzip.compress(pcap_file(frames))
    crc = bytearray(gz)
    crc[-8] ^= 0xFF
    cases = {"cut": gz[:len(gz) // 2], "crc": bytes(crc), "whole": gz, "empty": gzip.compress(b"")}
    for name, blob in cases.items():
        path = write(tmp_path, name + ".pcap.gz", blob)
        seen = {}
        for mode in ("child", "here"):
            monkeypatch.setattr(inflate, "usable", lambda: mode == "child")
            try:
                a = analyze([str(path)])
                seen[mode] = (a.stats.packets, [(d.offset, d.packet, d.reason) for d in a.stats.damages],
                              [(c.client.state, c.server.state) for c in a.connections])
            except CaptureError as exc:
                seen[mode] = str(exc)
        assert seen["child"] == seen["here"], name


# =========================================================== lying packets
def _one_bad_packet(tmp_path, bad: bytes, linktype=1):
    """The good connection, then ``bad``, then one more good packet of another connection."""
    frames = good_connection()
    after = seg("10.0.0.3", 50000, "10.0.0.2", 80, 77, 0, SYN)
    rep = report(write(tmp_path, "bad.pcap", pcap_file(frames + [bad, after], linktype=linktype)))
    assert rep["capture"]["packets"] == 10
    assert rep["capture"]["truncated"] is False
    the_good_connection(rep)
    assert any(c["client"]["ip"] == "10.0.0.3" for c in rep["connections"])  # read past the bad packet
    return rep


T = tcp_hdr(41000, 80, 1, 0, SYN)


@pytest.mark.parametrize("bad,reason", [
    # IPv4 IHL < 5
    (eth(ipv4("10.9.0.1", "10.9.0.2", T, ihl=4)), "malformed"),
    (eth(ipv4("10.9.0.1", "10.9.0.2", T, ihl=0)), "malformed"),
    # IHL > total length
    (eth(ipv4("10.9.0.1", "10.9.0.2", T, ihl=15, total=40, opts=bytes(40))), "malformed"),
    # IHL past what was captured (total length agrees)
    (eth(ipv4("10.9.0.1", "10.9.0.2", b"", ihl=15, total=100, opts=bytes(10))), "truncated_header"),
    # IHL leaving no room for TCP in the total length
    (eth(ipv4("10.9.0.1", "10.9.0.2", b"", ihl=15, opts=bytes(40))), "malformed"),
    # total length smaller than the header
    (eth(ipv4("10.9.0.1", "10.9.0.2", T, total=10)), "malformed"),
    (eth(ipv4("10.9.0.1", "10.9.0.2", T, total=19)), "malformed"),
    # total length covers less than the TCP header
    (eth(ipv4("10.9.0.1", "10.9.0.2", T, total=30)), "malformed"),
    # version 5 in an IPv4 ethertype
    (eth(b"\x55" + ipv4("10.9.0.1", "10.9.0.2", T)[1:]), "malformed"),
    # TCP data offset < 5
    (eth(ipv4("10.9.0.1", "10.9.0.2", tcp_hdr(41000, 80, 1, 0, SYN, doff=4))), "malformed"),
    (eth(ipv4("10.9.0.1", "10.9.0.2", tcp_hdr(41000, 80, 1, 0, SYN, doff=0))), "malformed"),
    # TCP data offset past the end of the IP packet
    (eth(ipv4("10.9.0.1", "10.9.0.2", tcp_hdr(41000, 80, 1, 0, SYN, doff=15))), "malformed"),
    (eth(ipv4("10.9.0.1", "10.9.0.2", tcp_hdr(41000, 80, 1, 0, SYN, doff=6))), "malformed"),
    # TCP header cut by the capture; shorter than 20 bytes by the IP header
    (eth(ipv4("10.9.0.1", "10.9.0.2", T[:19], total=40)), "truncated_header"),
    (eth(ipv4("10.9.0.1", "10.9.0.2", T[:19])), "malformed"),
    (eth(ipv4("10.9.0.1", "10.9.0.2", T, total=40)[:30]), "truncated_header"),
    # Ethernet cut inside its own header, IPv4 cut inside its header
    (eth(b"")[:13], "truncated_header"),
    (eth(ipv4("10.9.0.1", "10.9.0.2", T))[:14 + 19], "truncated_header"),
    # fragments: more-fragments, and a non-zero offset
    (eth(ipv4("10.9.0.1", "10.9.0.2", T, frag=0x2000)), "fragment"),
    (eth(ipv4("10.9.0.1", "10.9.0.2", T, frag=0x0010)), "fragment"),
    # not TCP, not IP
    (eth(ipv4("10.9.0.1", "10.9.0.2", bytes(8), proto=17)), "non_tcp"),
    (eth(bytes(28), etype=0x0806), "non_ip"),
    # 802.3 length field without SNAP; with SNAP cut short
    (eth(b"\x42\x42\x03" + bytes(40), etype=46), "non_ip"),
    (eth(b"\xaa\xaa\x03\x00\x00", etype=46), "truncated_header"),
    # PPPoE session header cut inside the PPP protocol field (a fuzzer find:
    # an IndexError reading one byte past the packet)
    (eth(b"\x11\x00\x00\x01\x00\x02" + b"\x00", etype=0x8864), "truncated_header"),
    (eth(b"\x11\x00\x00\x01\x00\x02", etype=0x8864), "truncated_header"),
    # VLAN tags running off the end of the packet
    (eth(b"", etype=0x8100, tags=(0x8100,) * 3)[:-2], "truncated_header"),
])
def test_lying_ipv4_and_link_headers(tmp_path, bad, reason):
    rep = _one_bad_packet(tmp_path, bad)
    skipped(rep, **{reason: 1})
    assert rep["capture"]["tcp_packets"] == 9


def test_total_length_larger_than_captured_is_a_snaplen_cut(tmp_path):
    # The IP header says 1500 bytes, 60 were captured: a capture cut by its
    # snaplen looks exactly so, and the payload length comes from the IP
    # header (as Zeek and tshark take it).
    bad = eth(ipv4("10.0.0.2", "10.0.0.1", tcp_hdr(80, 40000, S_ISN + 8, C_ISN + 7, ACK), total=1500))
    frames = good_connection()[:7] + [bad]
    rep = report(write(tmp_path, "snap.pcap", pcap_file(frames)))
    skipped(rep)
    [c] = rep["connections"]
    assert c["packets"] == {"client": 4, "server": 4}
    assert c["bytes"]["server"] == 6 + 1460


def test_options_cut_by_snaplen_keep_the_fixed_header(tmp_path):
    opts = b"\x02\x04\x05\xb4\x01\x03\x03\x07"  # MSS, NOP, window scale 7
    syn = eth(ipv4("10.9.0.1", "10.9.0.2", tcp_hdr(41000, 80, 1, 0, SYN, doff=7, opts=opts)))
    rep = _one_bad_packet(tmp_path, syn[:14 + 20 + 20 + 3])  # cut inside the options
    skipped(rep)
    assert rep["capture"]["tcp_packets"] == 10


IP6A, IP6B = "2001:db8::1", "2001:db8::2"
T6 = tcp_hdr(41000, 80, 1, 0, SYN)


def _ext(nxt, length_units=0, fill=0):
    """A generic IPv6 extension header of (length_units + 1) * 8 bytes."""
    return bytes([nxt, length_units]) + bytes([fill]) * (6 + 8 * length_units)


@pytest.mark.parametrize("bad,reason", [
    # 20 hop-by-hop headers in a row (a chain no stack sends)
    (eth(ipv6(IP6A, IP6B, 0, b"".join(_ext(0) for _ in range(19)) + _ext(6) + T6), etype=0x86DD), "malformed"),
    # destination options naming themselves, again and again
    (eth(ipv6(IP6A, IP6B, 60, _ext(60) * 30), etype=0x86DD), "malformed"),
    # a routing header whose length runs past the end of the packet
    (eth(ipv6(IP6A, IP6B, 43, bytes([6, 200]) + bytes(6) + T6), etype=0x86DD), "malformed"),
    # ... and past the end of what was captured of a longer packet
    (eth(ipv6(IP6A, IP6B, 43, bytes([6, 200]) + bytes(6) + T6, plen=2000), etype=0x86DD), "truncated_header"),
    # payload length shorter than the extension header
    (eth(ipv6(IP6A, IP6B, 0, _ext(6, 1) + T6, plen=8), etype=0x86DD), "malformed"),
    # an extension header cut by the capture
    (eth(ipv6(IP6A, IP6B, 0, _ext(6)[:5]), etype=0x86DD), "truncated_header"),
    # fragment header: a real fragment; AH cut short
    (eth(ipv6(IP6A, IP6B, 44, struct.pack("!BBHI", 6, 0, 0x0009, 1) + T6), etype=0x86DD), "fragment"),
    (eth(ipv6(IP6A, IP6B, 51, bytes([6, 100]) + bytes(10) + T6), etype=0x86DD), "malformed"),
    # no next header (59), and UDP
    (eth(ipv6(IP6A, IP6B, 59, b""), etype=0x86DD), "non_tcp"),
    (eth(ipv6(IP6A, IP6B, 17, bytes(8)), etype=0x86DD), "non_tcp"),
    # IPv6 header cut, version nibble lying
    (eth(ipv6(IP6A, IP6B, 6, T6)[:39], etype=0x86DD), "truncated_header"),
    (eth(b"\x40" + ipv6(IP6A, IP6B, 6, T6)[1:], etype=0x86DD), "malformed"),
    # TCP data offset past the IPv6 payload
    (eth(ipv6(IP6A, IP6B, 6, tcp_hdr(41000, 80, 1, 0, SYN, doff=9)), etype=0x86DD), "malformed"),
])
def test_lying_ipv6_extension_chains(tmp_path, bad, reason):
    rep = _one_bad_packet(tmp_path, bad)
    skipped(rep, **{reason: 1})


def test_ipv6_atomic_fragment_and_short_chain_are_tcp(tmp_path):
    ok = eth(ipv6(IP6A, IP6B, 44, struct.pack("!BBHI", 0, 0, 0, 1) + _ext(60) + _ext(6, 1) + T6), etype=0x86DD)
    rep = _one_bad_packet(tmp_path, ok)
    skipped(rep)
    assert any(c["client"]["ip"] == IP6A for c in rep["connections"])


def test_ten_stacked_vlan_tags(tmp_path):
    inner = ipv4("10.9.0.1", "10.9.0.2", T)
    tagged = eth(inner, tags=(0x88A8,) + (0x8100,) * 9)
    rep = _one_bad_packet(tmp_path, tagged)
    skipped(rep)
    assert rep["capture"]["tcp_packets"] == 10
    assert any(c["client"] == {"ip": "10.9.0.1", "port": 41000, "state": "SYN_SENT"} for c in rep["connections"])
    # A thousand tags: still decoded, still no recursion or loop.
    rep = _one_bad_packet(tmp_path, eth(inner, tags=(0x8100,) * 1000))
    skipped(rep)


def test_syn_fin_rst_all_set_without_payload(tmp_path):
    frames = good_connection()
    weird = [seg("10.9.0.1", 41000, "10.9.0.2", 80, 7, 0, SYN | FIN | RST),
             seg("10.9.0.2", 80, "10.9.0.1", 41000, 9, 8, SYN | FIN | RST | ACK | PSH | 0xE0),
             seg("10.9.0.1", 41000, "10.9.0.2", 80, 8, 10, FIN | RST | ACK)]
    rep = report(write(tmp_path, "x.pcap", pcap_file(frames + weird)))
    skipped(rep)
    assert rep["capture"]["tcp_packets"] == 11
    the_good_connection(rep)
    mine = [c for c in rep["connections"] if c["client"]["port"] == 41000 or c["server"]["port"] == 41000]
    assert sum(c["packets"]["client"] + c["packets"]["server"] for c in mine) == 3
    assert all(c["bytes"] == {"client": 0, "server": 0} for c in mine)


def test_sequence_numbers_wrap_at_2_32(tmp_path):
    # 3000 segments of 1000 bytes starting 1 MB below 2**32: the client's
    # sequence numbers and the server's acks wrap once.
    cisn = (1 << 32) - 1_000_000
    c, s = CLIENT, SERVER
    frames = [seg(c[0], c[1], s[0], s[1], cisn, 0, SYN),
              seg(s[0], s[1], c[0], c[1], S_ISN, cisn + 1, SYN | ACK),
              seg(c[0], c[1], s[0], s[1], cisn + 1, S_ISN + 1, ACK)]
    seq = cisn + 1
    for i in range(3000):
        frames.append(seg(c[0], c[1], s[0], s[1], seq, S_ISN + 1, ACK, b"x" * 1000))
        seq += 1000
        if i % 2:
            frames.append(seg(s[0], s[1], c[0], c[1], S_ISN + 1, seq, ACK))
    frames += [seg(c[0], c[1], s[0], s[1], seq, S_ISN + 1, FIN | ACK),
               seg(s[0], s[1], c[0], c[1], S_ISN + 1, seq + 1, FIN | ACK),
               seg(c[0], c[1], s[0], s[1], seq + 1, S_ISN + 2, ACK)]
    assert seq > 1 << 32
    rep = report(write(tmp_path, "wrap.pcap", pcap_file(frames, dt=0.0001)))
    [conn] = rep["connections"]
    assert conn["bytes"] == {"client": 3_000_000, "server": 0}
    assert conn["retransmissions"] == {"client": 0, "server": 0}
    assert conn["client"]["state"] == "TIME_WAIT" and conn["server"]["state"] == "CLOSED"
    assert conn["history"] == "ShADaFf"


def test_timestamps_going_backwards_in_one_file(tmp_path):
    frames = good_connection()
    times = [T0 + 5, T0 + 4, T0 + 3, T0 + 6, T0 + 1, T0 + 7, T0 + 2, T0 + 8]
    rep = report(write(tmp_path, "back.pcap", pcap_file(list(zip(times, frames)))))
    cap = rep["capture"]
    # The capture spans its earliest to its latest packet, whatever the order.
    assert cap["start"] == T0 + 1 and cap["end"] == T0 + 8 and cap["duration"] == 7.0
    the_good_connection(rep)
    # Far in the past, far in the future, zero: still finite, still JSON.
    extremes = [0.0, 4294967295.999999, 1.0, 4294967295.0, 0.5, 3.0, 2.0, 1.0]
    rep = report(write(tmp_path, "ext.pcap", pcap_file(list(zip(extremes, frames)))))
    assert rep["capture"]["start"] == 0.0 and rep["capture"]["end"] == 4294967295.999999
    run = invoke("analyze", tmp_path / "ext.pcap")  # the table too
    assert run.code == 0, run.stderr


def test_timestamps_going_backwards_between_merged_files(tmp_path):
    # File b starts before file a ends and itself runs backwards; a third
    # file holds the end of a's connection, a second too early.
    frames = good_connection()
    a = write(tmp_path, "a.pcap", pcap_file(list(zip([T0 + i for i in range(5)], frames[:5]))))
    other = good_connection(c=("10.0.0.5", 40001))
    b = write(tmp_path, "b.pcap", pcap_file(list(zip([T0 + 3, T0 + 2.5, T0 + 2, T0 + 9, T0 + 1, T0 + 1, T0, T0],
                                                     other))))
    c = write(tmp_path, "c.pcap", pcap_file(list(zip([T0 + 3.5, T0 + 3.6, T0 + 3.7], frames[5:]))))
    rc, rep = cli(a, str(b), str(c))
    assert rc == 0
    _validate(rep)
    assert rep["capture"]["packets"] == 16 and len(rep["capture"]["files"]) == 3
    assert rep["capture"]["start"] == T0 and rep["capture"]["end"] == T0 + 9
    ports = sorted(x["client"]["port"] for x in rep["connections"])
    assert 40000 in ports and 40001 in ports


def test_damaged_file_among_merged_files(tmp_path):
    frames = good_connection()
    good = write(tmp_path, "good.pcap", pcap_file(frames))
    cut = write(tmp_path, "cut.pcap", pcap_file(good_connection(c=("10.0.0.5", 40001)))[:200])
    rep = report(good, str(cut))
    assert rep["capture"]["truncated"] is True and rep["capture"]["truncation"]["file"] == str(cut)
    the_good_connection(rep)
    bad = write(tmp_path, "bad.pcap", b"not a capture at all")
    rc, line = cli(good, str(bad))
    assert rc == 2 and "bad.pcap" in line


# =========================================== timestamps past what a clock shows
def _ng_with_clock(opts: bytes, units):
    """The good connection in a pcapng whose interface has ``opts`` and whose
    packets carry the raw timestamps ``units`` (in the interface's resolution)."""
    idb = ng_block(1, struct.pack("<HHI", 1, 0, 65535) + opts + struct.pack("<HH", 0, 0))
    blocks = [ng_block(6, struct.pack("<IIIII", 0, t >> 32, t & 0xFFFFFFFF, len(f), len(f)) + f)
              for t, f in zip(units, good_connection())]
    return ng_shb() + idb + b"".join(blocks)


TSRESOL_SECONDS = struct.pack("<HHB3x", 9, 1, 0)
TSOFFSET_MIN = struct.pack("<HHq", 14, 8, -(1 << 62))
FAR_CLOCKS = {
    # 2**64 - 100 seconds after 1970: the year 584 billion.
    "far-future": _ng_with_clock(TSRESOL_SECONDS, [(1 << 64) - 100 + i for i in range(8)]),
    # if_tsoffset -2**62 s: long before the Big Bang.
    "far-past": _ng_with_clock(TSOFFSET_MIN, [1000 + i for i in range(8)]),
}


@pytest.mark.parametrize("name", sorted(FAR_CLOCKS))
def test_timestamps_no_calendar_holds_are_still_a_report(tmp_path, name):
    # The timestamps are the file's claim: kept, finite, valid JSON and tables.
    path = write(tmp_path, name + ".pcapng", FAR_CLOCKS[name])
    rep = report(path)
    assert rep["capture"]["packets"] == 8
    # (Seconds are lost at that magnitude -- a double has 53 bits -- so all
    # eight packets share one instant; their order is the file's.)
    assert rep["capture"]["start"] == rep["capture"]["end"]
    the_good_connection(rep)
    for fmt in ("table", "markdown", "csv"):
        run = invoke("analyze", "--format", fmt, path)
        assert run.code == 0 and "internal error" not in run.stderr, run.stderr


@pytest.mark.parametrize("name", sorted(FAR_CLOCKS))
@pytest.mark.parametrize("command", [
    ["analyze", "--format", "html"], ["timewait"], ["states"],
], ids=["html", "timewait", "states"])
def test_timestamps_no_calendar_holds_in_other_views(tmp_path, name, command):
    path = write(tmp_path, name + ".pcapng", FAR_CLOCKS[name])
    run = invoke(*command, path)
    assert "Traceback" not in run.stderr
    assert "internal error" not in run.stderr, run.stderr
    assert run.code == 0 and run.stdout


# ====================================================== read errors, stdin
class _FailingFile:
    """A file whose reads fail with EIO from byte ``fail_at`` on (a dying disk)."""

    def __init__(self, data: bytes, fail_at: int):
        self.data, self.fail_at, self.pos = data, fail_at, 0

    def read(self, n=-1):
        if self.pos >= self.fail_at:
            raise OSError(5, "Input/output error")
        end = self.fail_at if n is None or n < 0 else min(self.pos + n, self.fail_at)
        out = self.data[self.pos:end]
        self.pos = end
        return out

    def seek(self, pos):
        self.pos = pos

    def close(self):
        pass


@pytest.mark.parametrize("compress,positional", [(False, False), (True, False), (False, True)])
def test_read_error_mid_file_keeps_what_was_read(monkeypatch, compress, positional, inflating):
    from tcpflow_analyze.capture import source
    # positional: read as a regular file is, by offset (capture.source._Guarded.read_at).
    monkeypatch.setattr(source, "_is_regular", lambda raw: positional)
    frames = good_connection()
    data = pcap_file(frames)
    offs = record_offsets(frames)
    blob = gzip.compress(data) if compress else data
    # Fail inside the 5th record (plain), or half-way through the gzip stream.
    fail_at = offs[4] + 20 if not compress else len(blob) // 2
    monkeypatch.setattr(source, "open_capture", lambda path: _FailingFile(blob, fail_at))
    a = analyze(["dying.pcap"])
    [d] = a.stats.damages
    assert d.reason.startswith("read error: Input/output error")
    assert d.packet == a.stats.packets and d.offset == offs[d.packet]
    if not compress:
        assert d.packet == 4 and d.reason.endswith("last record cut short (4 of 60 bytes)")
    # At a record boundary: nothing cut, but the file did not end cleanly.
    monkeypatch.setattr(source, "open_capture", lambda path: _FailingFile(data, offs[6]))
    a = analyze(["dying.pcap"])
    assert [(d.offset, d.packet, d.reason) for d in a.stats.damages] == [
        (offs[6], 6, "read error: Input/output error")]
    # In the file header: not a capture.
    monkeypatch.setattr(source, "open_capture", lambda path: _FailingFile(data, 10))
    with pytest.raises(CaptureError, match="read error: Input/output error"):
        analyze(["dying.pcap"])


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="Linux /proc only")
def test_unreadable_file_is_one_line():
    # Reading /proc/self/mem at offset 0 fails with EIO.
    rc, line = cli("/proc/self/mem")
    assert rc == 2 and "read error" in line


def test_stdin_given_twice_is_a_usage_error(tmp_path):
    # A process: standard input is a real pipe here.
    data = pcap_file(good_connection())
    proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "analyze", "-", "-"], input=data,
                          capture_output=True, cwd=ROOT)
    assert proc.returncode == 2 and proc.stdout == b""
    assert b"standard input" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_output_to_a_fifo_writes_into_it(tmp_path):
    # Found here: -o renamed a temporary file over its target even when that
    # was a FIFO or a device, so `-o /dev/null` (as root) replaced /dev/null
    # with a regular file (fixed in output.py, f5fa2a0).
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    cap = write(tmp_path, "c.pcap", pcap_file(good_connection()))
    reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
    try:
        run = invoke("analyze", "--format", "json", "-o", fifo, cap)
        assert run.code == 0, run.stderr
        still_fifo = stat.S_ISFIFO(os.lstat(fifo).st_mode)
        if still_fifo:
            out, _ = reader.communicate(timeout=30)
            assert json.loads(out)["summary"]["connections"] == 1
        assert still_fifo, "the FIFO was replaced by a regular file"
    finally:
        if reader.poll() is None:
            reader.kill()  # blocked opening a FIFO nobody will write
            reader.wait()


# ================================================ the reader and decoder direct
def test_every_cut_of_a_small_capture(tmp_path):
    """Each prefix of a pcap and a pcapng: a report (or not-a-capture), and
    the packet count never goes down as the prefix grows."""
    frames = good_connection()
    for name, data in (("p.pcap", pcap_file(frames)), ("n.pcapng", pcapng_file(frames))):
        last = 0
        path = tmp_path / name
        for cut in range(len(data) + 1):
            path.write_bytes(data[:cut])
            damages: list = []
            try:
                recs = list(read_records([str(path)], damages))
            except Exception as exc:  # noqa: BLE001
                assert isinstance(exc, CaptureError), (cut, exc)
                assert last == 0
                continue
            assert len(recs) >= last
            last = len(recs)
            assert bool(damages) == (cut not in (len(data), *_clean_cuts(name, frames))), (name, cut, damages)
            for _ts, lt, buf, off, caplen in recs:
                assert off + caplen <= len(buf)
                decode(lt, buf, off, caplen)
        assert last == 8


def _clean_cuts(name, frames):
    if name.endswith(".pcap"):
        return record_offsets(frames)
    offs = [len(ng_shb()), len(ng_shb()) + len(ng_idb())]
    for f in frames:
        offs.append(offs[-1] + len(ng_epb(T0, f)))
    return offs


IP4 = ipv4("10.9.0.1", "10.9.0.2", T)


def nflog(payload, family=2, tlv_len=None, tlv_type=9):
    tlv = struct.pack("<HH", 4 + len(payload) if tlv_len is None else tlv_len, tlv_type) + payload
    return bytes([family, 0, 0, 0]) + struct.pack("<HH", 8, 1) + b"\x00" * 4 + tlv + bytes(-len(tlv) % 4)


OTHER_LINKS = [
    # (linktype, frame, what it is counted as)
    (113, b"\x00\x00\x00\x01\x00\x06" + bytes(8) + b"\x08\x00" + IP4, None),        # Linux SLL
    (113, (b"\x00\x00\x00\x01\x00\x06" + bytes(8) + b"\x08\x00")[:15], "truncated_header"),
    (113, b"\x00\x00\x00\x01\x00\x06" + bytes(8) + b"\x08\x06" + bytes(28), "non_ip"),
    (276, b"\x08\x00" + bytes(18) + IP4, None),                                        # SLL2
    (276, (b"\x08\x00" + bytes(18))[:19], "truncated_header"),
    (276, b"\x86\xdd" + bytes(18) + IP4, "malformed"),                                  # IPv4 under an IPv6 type
    (101, IP4, None),                                                                   # raw IP
    (101, b"", "truncated_header"),
    (101, b"\x70" + IP4[1:], "non_ip"),
    (228, IP4[:19], "truncated_header"),
    (0, struct.pack("<I", 2) + IP4, None),                                              # BSD null, little endian
    (0, struct.pack(">I", 2) + IP4, None),                                              # ... and big endian
    (0, struct.pack("<I", 7) + IP4, "non_ip"),
    (0, b"\x02\x00\x00", "truncated_header"),
    (108, struct.pack(">I", 2) + IP4, None),                                            # OpenBSD loop
    (9, b"\xff\x03\x00\x21" + IP4, None),                                              # PPP in HDLC framing
    (9, b"\x21" + IP4, None),                                                           # ... protocol compressed
    (9, b"\xff\x03\x00", "truncated_header"),
    (9, b"\xff\x03\xc0\x21" + bytes(8), "non_ip"),                                       # LCP
    (239, nflog(IP4), None),                                                            # NFLOG
    (239, nflog(IP4, tlv_len=2), "malformed"),                                          # a TLV shorter than itself
    (239, nflog(IP4, tlv_len=4 + 10), "truncated_header"),                              # payload TLV cut short
    (239, nflog(IP4, tlv_type=3), "non_ip"),                                            # no payload TLV
    (239, nflog(IP4)[:3], "truncated_header"),
    (147, IP4, "unsupported_link"),                                                     # a user link type
    (0xFFFF, IP4, "unsupported_link"),
]


@pytest.mark.parametrize("linktype,frame,reason", OTHER_LINKS, ids=[f"lt{lt}-{i}" for i, (lt, _, _) in
                                                                     enumerate(OTHER_LINKS)])
def test_other_link_types_lying_and_cut(tmp_path, linktype, frame, reason):
    rep = report(write(tmp_path, "lt.pcap", pcap_file([frame, frame], linktype=linktype)))
    assert rep["capture"]["packets"] == 2
    if reason is None:
        skipped(rep)
        [c] = rep["connections"]
        assert c["client"] == {"ip": "10.9.0.1", "port": 41000, "state": "SYN_SENT"}
    else:
        skipped(rep, **{reason: 2})
        assert rep["connections"] == []


def test_decode_never_reads_past_caplen():
    """The packet is decoded from buf[off:off + caplen] only: bytes after it
    (the next record, in a shared read buffer) never change the answer."""
    samples = [f for f in good_connection()] + [
        eth(b"\x11\x00\x00\x01\x00\x02\x00\x21" + ipv4("10.9.0.1", "10.9.0.2", T), etype=0x8864),
        eth(ipv6(IP6A, IP6B, 0, _ext(6) + T6), etype=0x86DD),
        eth(ipv4("10.9.0.1", "10.9.0.2", T), tags=(0x8100, 0x8100)),
    ]
    cases = [(1, f) for f in samples] + [(lt, f) for lt, f, _ in OTHER_LINKS]
    for lt, frame in cases:
        for cut in range(len(frame) + 1):
            a = decode(lt, frame[:cut] + b"\x00" * 64, 0, cut)
            b = decode(lt, frame[:cut] + b"\xff" * 64, 0, cut)
            c = decode(lt, b"\x55" * 3 + frame[:cut], 3, cut)
            assert a == b == c, (lt, frame.hex(), cut, a, b)


# ================================================================ crashers
@pytest.mark.parametrize("path", CRASHERS, ids=lambda p: p.name)
def test_fuzzer_crashers(path):
    """Every input scripts/fuzz.py once crashed on: exit 0 or 2, no traceback, no hang."""
    rc, rep = cli(path, timeout=120)
    if rc == 0:
        assert rep["capture"]["packets"] == rep["capture"]["tcp_packets"] + sum(rep["capture"]["skipped"].values())


VIEW_COMMANDS = (["analyze", "--format", "html"], ["analyze", "--format", "markdown"], ["analyze", "--format", "csv"],
                 ["timewait"], ["states"], ["states", "--at", "end"], ["ladder", "--full"])


@pytest.mark.parametrize("path", [p for p in CRASHERS if p.name.startswith("views-")], ids=lambda p: p.name)
def test_fuzzer_crashers_in_every_view(path):
    """The fuzzer's ``views`` target finds: every other command and format too."""
    for cmd in VIEW_COMMANDS:
        run = invoke(*cmd, path, timeout=120)
        assert run.code in (0, 2) and "internal error" not in run.stdout + run.stderr, (cmd, run.stderr[-500:])


def test_cli_in_process_leaves_the_cyclic_collector_on(tmp_path):
    from click.testing import CliRunner

    from tcpflow_analyze.cli import main
    path = write(tmp_path, "c.pcap", pcap_file(good_connection()))
    gc.enable()
    try:
        res = CliRunner().invoke(main, ["analyze", "--format", "json", str(path)])
        assert res.exit_code == 0
        assert gc.isenabled()
    finally:
        gc.enable()
