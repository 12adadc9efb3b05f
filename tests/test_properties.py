"""Property tests: whatever segments or bytes arrive, the analysis holds together.

(a) Segment sequences straight into the ``ConnectionTable``: pure garbage, and
    plausible connections (a handshake, data, a close) with random damage --
    drops, duplicates, reorderings, flipped flags, shifted numbers -- so the
    interesting paths of the state machines are reached, not only the "no
    such connection" ones.  The tracker never raises, every endpoint ends in
    a legal state, and the packet counts add up.  Undamaged connections end
    in exactly the states the kernel would be in, wherever the sequence
    numbers start (2**32 wrap included).
(b) Byte mutations of real captures (``sample_pcaps/``, and
    ``../shared/pcaps/public/`` when present) through the whole pipeline
    (``analyze()`` in-process, a few through the CLI): a report or a
    CaptureError, nothing else.

Deterministic: every test is ``derandomize=True`` (examples derived from the
test itself), so CI sees the same inputs every run.  Set
``TCPFLOW_PROPERTY_SCALE=10`` to run ten times as many examples by hand.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from clirun import invoke
from tcpflow_analyze import detectors
from tcpflow_analyze.analysis import Analysis, CaptureStats, analyze
from tcpflow_analyze.model.connection import transitions
from tcpflow_analyze.errors import CaptureError
from tcpflow_analyze.views.report import build_report
from tcpflow_analyze.model.states import STATE_NAMES
from tcpflow_analyze.analysis import AnalysisOptions
from tcpflow_analyze.engine.table import ConnectionTable
from tcpflow_analyze.engine.zeek import conn_state

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_pcaps"
PUBLIC = ROOT.parent / "shared" / "pcaps" / "public"

SCALE = max(1, int(os.environ.get("TCPFLOW_PROPERTY_SCALE", "1")))


@pytest.fixture(autouse=True, scope="module")
def _cyclic_collector_on():
    # A CLI test run in-process earlier in the session may have left the
    # collector off (cli.main disables it for its own short process); these
    # tests build thousands of connection graphs.
    import gc
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def cfg(n):
    return settings(max_examples=n * SCALE, deadline=None, derandomize=True, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
M32 = 0xFFFFFFFF
T0 = 1_700_000_000.0
HISTORY_RE = re.compile(r"^[\^A-Za-z]*$")
CONN_STATES = {"S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0", "RSTRH", "SH", "SHR", "OTH"}


def key(src, sport, dst, dport) -> bytes:
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    return socket.inet_pton(fam, src) + socket.inet_pton(fam, dst) + struct.pack("!HH", sport, dport)


# ------------------------------------------------------------------ checks
def check_connections(conns, segments, *, monotonic=True, folded=0):
    """What must hold of any tracker output."""
    assert len({c.id for c in conns}) == len(conns)
    assert sorted(c.id for c in conns) == list(range(1, len(conns) + 1))
    for c in conns:
        for ep in (c.client, c.server):
            assert 0 <= ep.state < len(STATE_NAMES), ep.state
            assert ep.packets >= 0 and ep.bytes >= 0 and ep.retransmits >= 0
            pairs = transitions(ep)
            assert len(ep.trans_flat) == 2 * len(pairs)
            assert all(0 <= st_ < len(STATE_NAMES) for _, st_ in pairs)
            # Dated in order (a capture's clock may step back; a history may not),
            # and ending in the state the endpoint is in.
            assert all(a[0] <= b[0] for a, b in zip(pairs, pairs[1:])), pairs
            assert not pairs or pairs[-1][1] == ep.state, (pairs, ep.state)
        assert HISTORY_RE.match(c.history), c.history
        assert c.handshake in ("complete", "partial", "none")
        assert c.close in ("fin", "rst", "none")
        assert conn_state(c) in CONN_STATES
        assert c.client.packets + c.server.packets >= 1
        if monotonic:
            assert c.first_seen <= c.last_seen
    if not folded:
        # Every segment is counted once, in exactly one connection.
        assert sum(c.client.packets + c.server.packets for c in conns) == len(segments)
        # Payload is counted by sequence space: never more than was sent.
        sent = sum(s[8] for s in segments if not s[6] & RST)
        assert sum(c.client.bytes + c.server.bytes for c in conns) <= sent


def report_of(conns, end):
    """The report the CLI would build for these connections (detectors included)."""
    stats = CaptureStats(files=["<test>"], packets=0, tcp_packets=0)
    stats.start, stats.end = T0, end
    analysis = Analysis(stats=stats, connections=conns,
                        options=AnalysisOptions())
    rep = build_report(analysis, detectors.run(analysis))
    return json.loads(json.dumps(rep, allow_nan=False, default=list))


def run_tracker(segments, end=None, **opts):
    tr = ConnectionTable(AnalysisOptions(**opts))
    for s in segments:
        tr.segment(*s)
    last = max((s[0] for s in segments), default=T0)
    conns = tr.finalize(last if end is None else end)
    folds = getattr(getattr(tr, "folds", None), "total", 0)
    return tr, conns, folds


# ------------------------------------------------------- (a) garbage segments
HOSTS = [("10.0.0.1", 40000), ("10.0.0.2", 80), ("10.0.0.1", 40001), ("10.0.0.3", 80)]
HOSTS6 = [("2001:db8::1", 40000), ("2001:db8::2", 443)]
SEQ_BASES = (0, 1, 1000, 5000, 0x7FFFFFFF, 0x80000000, M32 - 100, M32)

seqs = st.one_of(
    st.integers(0, M32),
    st.builds(lambda b, d: (b + d) & M32, st.sampled_from(SEQ_BASES), st.integers(-3, 3000)),
)
flag_sets = st.one_of(
    st.integers(0, 255),
    st.sampled_from([SYN, SYN | ACK, ACK, PSH | ACK, FIN | ACK, RST, RST | ACK, FIN, SYN | FIN, SYN | RST,
                     FIN | RST, SYN | FIN | RST, 0]),
)


# The strategies a garbage segment is drawn from, made once: a strategy made
# afresh for every draw is validated afresh, a third of these tests' time.
_PAIRS = {len(h): st.sampled_from([(i, j) for i in range(len(h)) for j in range(len(h)) if i != j])
          for h in (HOSTS, HOSTS6)}
_STEPS = st.sampled_from([0.0, 0.0001, 0.01, 0.5, 2.0, 70.0, 200.0])
_WINDOWS = st.integers(0, 65535)
_PAYLOADS = st.sampled_from([0, 0, 1, 10, 1460, 65535])
_WSCALES = st.integers(-1, 14)


@st.composite
def garbage_segments(draw):
    n = draw(st.integers(1, 40))
    v6 = draw(st.booleans())
    hosts = HOSTS6 if v6 else HOSTS
    pairs = _PAIRS[len(hosts)]
    ts = T0
    out = []
    for _ in range(n):
        a, b = draw(pairs)
        (src, sport), (dst, dport) = hosts[a], hosts[b]
        ts += draw(_STEPS)
        out.append((ts, key(src, sport, dst, dport), sport, dport, draw(seqs), draw(seqs), draw(flag_sets),
                    draw(_WINDOWS), draw(_PAYLOADS), draw(_WSCALES)))
    return out


@cfg(400)
@given(garbage_segments(), st.integers(1, 3), st.integers(0, 3))
def test_garbage_segments_never_break_the_tracker(segments, max_connections, max_report):
    tr, conns, folds = run_tracker(segments)
    check_connections(conns, segments, folded=folds)
    report_of(conns, segments[-1][0])
    # The same garbage through a tiny connection table: eviction and folding
    # reached on every few packets.  (Once a test of its own, with 150
    # examples of its own; drawing them costs twenty times what tracking
    # them does, so every example here now serves both.)
    tr, conns, folds = run_tracker(segments, max_connections=max_connections, max_report_connections=max_report)
    check_connections(conns, segments, folded=folds)


# ---------------------------------------------- (a) plausible connections
def ideal_connection(cisn, sisn, data, close, c=("10.0.0.1", 40000), s=("10.0.0.2", 80), dt=0.001, t0=T0):
    """A clean connection: handshake, ``data`` [(from_client, nbytes)], then ``close``.

    Returns the segments (without timestamps) and the end states the kernel
    would report a moment after the last one (TIME_WAIT lasts 60 s).
    """
    ck, sk = key(c[0], c[1], s[0], s[1]), key(s[0], s[1], c[0], c[1])
    segs = []

    def cs(seq, ack, flags, n=0):
        segs.append((ck, c[1], s[1], seq & M32, ack & M32, flags, 65535, n, -1))

    def sc(seq, ack, flags, n=0):
        segs.append((sk, s[1], c[1], seq & M32, ack & M32, flags, 65535, n, -1))

    cs(cisn, 0, SYN)
    sc(sisn, cisn + 1, SYN | ACK)
    cn, sn = cisn + 1, sisn + 1
    cs(cn, sn, ACK)
    for from_client, n in data:
        if from_client:
            cs(cn, sn, PSH | ACK, n)
            cn += n
            sc(sn, cn, ACK)
        else:
            sc(sn, cn, PSH | ACK, n)
            sn += n
            cs(cn, sn, ACK)
    if close == "client_first":
        cs(cn, sn, FIN | ACK)
        sc(sn, cn + 1, ACK)
        sc(sn, cn + 1, FIN | ACK)
        cs(cn + 1, sn + 1, ACK)
        want = ("TIME_WAIT", "CLOSED")
    elif close == "server_first":
        sc(sn, cn, FIN | ACK)
        cs(cn, sn + 1, FIN | ACK)
        sc(sn + 1, cn + 1, ACK)
        want = ("CLOSED", "TIME_WAIT")
    elif close == "simultaneous":
        cs(cn, sn, FIN | ACK)
        sc(sn, cn, FIN | ACK)
        cs(cn + 1, sn + 1, ACK)
        sc(sn + 1, cn + 1, ACK)
        want = ("TIME_WAIT", "TIME_WAIT")
    elif close == "half_close":
        cs(cn, sn, FIN | ACK)
        sc(sn, cn + 1, ACK)
        want = ("FIN_WAIT_2", "CLOSE_WAIT")
    elif close == "rst":
        cs(cn, sn, RST | ACK)
        want = ("CLOSED", "CLOSED")
    else:
        want = ("ESTABLISHED", "ESTABLISHED")
    out = [(t0 + i * dt,) + seg for i, seg in enumerate(segs)]
    return out, want


isns = st.one_of(st.integers(0, M32), st.sampled_from([0, 1, M32, M32 - 1, M32 - 3000, 0x7FFFFFFF, 0x80000000]))
data_plan = st.lists(st.tuples(st.booleans(), st.integers(1, 70000)), max_size=12)
closes = st.sampled_from(["client_first", "server_first", "simultaneous", "half_close", "rst", "open"])


@cfg(300)
@given(isns, isns, data_plan, closes)
def test_clean_connections_end_in_the_kernels_states(cisn, sisn, data, close):
    segments, want = ideal_connection(cisn, sisn, data, close)
    tr, conns, folds = run_tracker(segments)
    check_connections(conns, segments)
    [c] = conns
    assert (STATE_NAMES[c.client.state], STATE_NAMES[c.server.state]) == want
    assert c.client.bytes == sum(n for fc, n in data if fc)
    assert c.server.bytes == sum(n for fc, n in data if not fc)
    assert c.client.retransmits == c.server.retransmits == 0
    assert c.handshake == "complete" and not c.roles_inferred
    assert c.close == {"rst": "rst", "open": "none"}.get(close, "fin")


MUTATIONS = ("drop", "dup", "swap", "flags", "seq", "ack", "plen", "reverse", "move")


@st.composite
def damaged_connection(draw):
    segments, _ = ideal_connection(draw(isns), draw(isns), draw(data_plan), draw(closes))
    segs = [list(s) for s in segments]
    for _ in range(draw(st.integers(1, 6))):
        if not segs:
            break
        op = draw(st.sampled_from(MUTATIONS))
        i = draw(st.integers(0, len(segs) - 1))
        if op == "drop":
            del segs[i]
        elif op == "dup":
            segs.insert(i, list(segs[i]))
        elif op == "swap" and i + 1 < len(segs):
            segs[i], segs[i + 1] = segs[i + 1], segs[i]
        elif op == "move":
            segs.insert(draw(st.integers(0, len(segs))), segs.pop(i))
        elif op == "flags":
            segs[i][6] ^= draw(st.sampled_from([FIN, SYN, RST, ACK, PSH, 0xC0, FIN | RST, SYN | FIN]))
        elif op == "seq":
            segs[i][4] = (segs[i][4] + draw(st.integers(-70000, 70000))) & M32
        elif op == "ack":
            segs[i][5] = (segs[i][5] + draw(st.integers(-70000, 70000))) & M32
        elif op == "plen":
            segs[i][8] = draw(st.integers(0, 70000))
        elif op == "reverse":
            # The same segment, as if sent by the other side.
            s = segs[i]
            k = s[1]
            alen = (len(k) - 4) // 2
            s[1] = k[alen:2 * alen] + k[:alen] + k[2 * alen + 2:] + k[2 * alen:2 * alen + 2]
            s[2], s[3] = s[3], s[2]
    # Re-time: in order (occasionally a step back, as merged captures do).
    ts = T0
    out = []
    for s in segs:
        ts += draw(st.sampled_from([0.0, 0.0005, 0.001, 0.3, 1.2, 6.0, 65.0, -0.002]))
        out.append(tuple([ts] + s[1:]))
    return out


@cfg(400)
@given(damaged_connection())
def test_damaged_connections_never_break_the_tracker(segments):
    assume(segments)
    tr, conns, folds = run_tracker(segments)
    check_connections(conns, segments, monotonic=False, folded=folds)
    report_of(conns, max(s[0] for s in segments))


@cfg(100)
@given(damaged_connection(), st.sampled_from([0.0, 1.0, 1000.0]))
def test_damaged_connections_judged_late(segments, later):
    # The capture's end long after the last packet: every timer fires.
    assume(segments)
    tr, conns, folds = run_tracker(segments, end=max(s[0] for s in segments) + later,
                                   time_wait=later / 2, fin_timeout=later / 3)
    check_connections(conns, segments, monotonic=False, folded=folds)


def test_a_connection_wrapping_2_32_many_times():
    # 10 GB each way in 64 KiB segments from ISNs near the wrap: every byte
    # counted once, nothing taken for a retransmission.
    plan = [(True, 65536)] * 80000 + [(False, 65536)] * 80000
    segments, want = ideal_connection(M32 - 10, M32 - 70000, plan, "client_first", dt=1e-6)
    tr, conns, _ = run_tracker(segments)
    [c] = conns
    assert c.client.bytes == c.server.bytes == 80000 * 65536
    assert c.client.retransmits == c.server.retransmits == 0
    assert (STATE_NAMES[c.client.state], STATE_NAMES[c.server.state]) == want


# --------------------------------------------- (b) mutated real captures
def _captures():
    files = sorted(p for p in SAMPLES.glob("*.pcap*") if p.is_file())
    if PUBLIC.is_dir():
        files += sorted(p for p in PUBLIC.iterdir() if p.is_file() and p.suffix in (".pcap", ".pcapng"))
    return files


CAPTURES = _captures()
CAPTURE_BYTES = {p.name: p.read_bytes()[:65536] for p in CAPTURES}  # big ones: their first 64 KiB
NAMES = sorted(CAPTURE_BYTES)


def _load_fuzz():
    spec = importlib.util.spec_from_file_location("tcpflow_fuzz", ROOT / "scripts" / "fuzz.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


FUZZ = _load_fuzz()

positions = st.floats(0, 1, allow_nan=False)


@st.composite
def mutated_capture(draw):
    name = draw(st.sampled_from(NAMES))
    b = bytearray(CAPTURE_BYTES[name])
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "truncate", "insert", "delete", "splice", "structured"]))
        n = len(b)
        at = min(int(draw(positions) * n), max(n - 1, 0))
        if op == "flip" and n:
            b[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "set" and n:
            b[at:at + 4] = draw(st.sampled_from([b"\x00", b"\xff", b"\xff\xff\xff\xff", b"\x00\x00\x00\x00",
                                                 b"\x7f\xff\xff\xff", b"\x0c\x00\x00\x00", b"\x45", b"\x4f"]))
        elif op == "truncate":
            del b[at:]
        elif op == "insert":
            b[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif op == "delete" and n:
            del b[at:at + draw(st.integers(1, 64))]
        elif op == "splice":
            other = CAPTURE_BYTES[draw(st.sampled_from(NAMES))]
            j = int(draw(positions) * len(other))
            b[at:] = other[j:j + draw(st.integers(1, 4096))]
        elif op == "structured":
            # The fuzzer's structure-aware mutations (packet headers, record
            # and block lengths), driven by a drawn seed.
            import random
            b = bytearray(FUZZ.mutate(bytes(b), random.Random(draw(st.integers(0, 2 ** 32))), []))
    return name, bytes(b)


def pipeline(path):
    """What the CLI does, in-process: analysis, detectors, the JSON report."""
    try:
        a = analyze([str(path)])
    except CaptureError:
        return None
    s = a.stats
    assert s.packets == s.tcp_packets + sum(s.skipped.values())
    if not getattr(s, "connections_omitted", 0):
        assert sum(c.client.packets + c.server.packets for c in a.connections) == s.tcp_packets
    for d in s.damages:
        assert d.offset >= 0 and d.packet >= 0 and d.reason
    check_connections(a.connections, [], monotonic=False, folded=True)
    rep = build_report(a, detectors.run(a))
    try:
        from tcpflow_analyze.render.json_out import dumps
        text = dumps(rep)
    except ImportError:
        text = json.dumps(rep, allow_nan=False)
    json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in the JSON report"))
    return a


@pytest.mark.skipif(not CAPTURES, reason="no captures")
@cfg(800)
@given(mutated_capture())
def test_mutated_captures_through_the_pipeline(tmp_path_factory, sample):
    name, data = sample
    path = tmp_path_factory.getbasetemp() / "mutant.pcap"
    path.write_bytes(data)
    pipeline(path)


@pytest.mark.skipif(not CAPTURES, reason="no captures")
@cfg(60)
@given(mutated_capture(), mutated_capture())
def test_mutated_captures_merged(tmp_path_factory, one, two):
    base = tmp_path_factory.getbasetemp()
    p1, p2 = base / "m1.pcap", base / "m2.pcap"
    p1.write_bytes(one[1])
    p2.write_bytes(two[1])
    try:
        a = analyze([str(p1), str(p2)])
    except CaptureError:
        return
    assert a.stats.packets == a.stats.tcp_packets + sum(a.stats.skipped.values())


def _reject(name):
    raise AssertionError(f"{name} in the JSON report")


@pytest.mark.skipif(not CAPTURES, reason="no captures")
@cfg(12)
@given(mutated_capture(), st.sampled_from(["json", "table"]))
def test_mutated_captures_through_the_cli(tmp_path_factory, sample, fmt):
    name, data = sample
    path = tmp_path_factory.getbasetemp() / "cli-mutant.pcap"
    path.write_bytes(data)
    # In-process (clirun: an escaping exception, a thread's error or a hang
    # fails it, as a process's traceback would).
    proc = invoke("analyze", "--format", fmt, path, timeout=120)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    assert proc.code in (0, 2), proc.stderr
    if proc.code == 2:
        assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1
    elif fmt == "json":
        json.loads(proc.stdout, parse_constant=_reject)


# ------------------------------------------------ (a) metamorphic properties
def _summary(conns):
    return [(STATE_NAMES[c.client.state], STATE_NAMES[c.server.state], c.client.bytes, c.server.bytes,
             c.handshake, c.close) for c in conns]


@cfg(200)
@given(isns, isns, data_plan, closes, st.data())
def test_a_duplicated_segment_changes_nothing_but_retransmissions(cisn, sisn, data, close, draw):
    # A segment repeated at once (the same packet captured twice: a span
    # port, tcpdump -i any on a router) changes no state and no byte count,
    # and is a capture duplicate, not a retransmission: none comes within
    # 2 ms of its original (the RTO is at least 200 ms).
    segments, _ = ideal_connection(cisn, sisn, data, close)
    i = draw.draw(st.integers(0, len(segments) - 1))
    dup = segments[:i + 1] + [segments[i]] + segments[i + 1:]
    _, conns, _ = run_tracker(dup)
    check_connections(conns, dup)
    assert _summary(conns) == _summary(run_tracker(segments)[1])
    [c] = conns
    x = c.client if segments[i][1] == c.ckey else c.server
    assert x.retransmits == 0
    assert x.rare.duplicates == (1 if segments[i][8] and not segments[i][6] & RST else 0)


@cfg(100)
@given(damaged_connection(), st.sampled_from([-T0 + 1, -1000.0, 12345.678, 1e9]))
def test_shifting_all_timestamps_changes_nothing(segments, shift):
    assume(segments)
    _, a, _ = run_tracker(segments)
    moved = [(s[0] + shift,) + s[1:] for s in segments]
    _, b, _ = run_tracker(moved)
    assert _summary(a) == _summary(b)


# ----------------------------------------- (b) the readers, exactly
def _pcap_parts(data):
    """(header, [(ts, record bytes)]) of a classic pcap's whole records."""
    recs = FUZZ.pcap_records(data)
    if not recs:
        return None, []
    e = recs[0][2]
    nano = data[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    out = []
    for pos, caplen, _ in recs:
        sec, frac = struct.unpack_from(e + "II", data, pos)
        out.append((sec + frac * (1e-9 if nano else 1e-6), data[pos:pos + 16 + caplen]))
    return data[:24], out


def _valid_pcap(name):
    from tcpflow_analyze.capture.pcap import parse_file_header
    data = CAPTURE_BYTES[name]
    try:
        parse_file_header(name, data[:24])
    except CaptureError:
        return False
    return bool(_pcap_parts(data)[1])


PCAP_NAMES = [n for n in NAMES if _valid_pcap(n)]


def _result(a):
    s = a.stats
    return (s.packets, s.tcp_packets, dict(s.skipped), len(a.connections),
            [(c.client.addr, c.client.port, c.server.addr, c.server.port, c.client.packets, c.server.packets)
             for c in a.connections], _summary(a.connections))


@pytest.mark.skipif(not PCAP_NAMES, reason="no pcap captures")
@cfg(200)
@given(st.sampled_from(PCAP_NAMES), positions)
def test_a_capture_cut_anywhere_keeps_every_whole_record(tmp_path_factory, name, where):
    data = CAPTURE_BYTES[name]
    header, recs = _pcap_parts(data)
    whole = header + b"".join(r for _, r in recs)
    cut = int(where * len(whole))
    path = tmp_path_factory.getbasetemp() / "cut.pcap"
    path.write_bytes(whole[:cut])
    if cut < 24:
        with pytest.raises(CaptureError):
            analyze([str(path)])
        return
    a = analyze([str(path)])
    ends = [24]
    for _, r in recs:
        ends.append(ends[-1] + len(r))
    n = max(i for i, e in enumerate(ends) if e <= cut)
    assert a.stats.packets == n
    if cut == ends[n]:
        assert a.stats.damages == []
    else:
        [d] = a.stats.damages
        assert (d.offset, d.packet) == (ends[n], n)


@pytest.mark.skipif(not PCAP_NAMES, reason="no pcap captures")
@cfg(150)
@given(st.sampled_from(PCAP_NAMES), positions, st.booleans(), st.booleans())
def test_split_files_merge_back_into_the_same_analysis(tmp_path_factory, name, where, gz_a, gz_b):
    # Rotated captures (tcpdump -C / -G), either part possibly gzipped, given
    # in either order: one trace, the same analysis as the whole file.
    import gzip
    header, recs = _pcap_parts(CAPTURE_BYTES[name])
    times = [t for t, _ in recs]
    assume(times == sorted(times))
    i = int(where * len(recs))
    base = tmp_path_factory.getbasetemp()
    whole, a, b = base / "whole.pcap", base / "a.pcap", base / "b.pcap"
    whole.write_bytes(header + b"".join(r for _, r in recs))
    pa = header + b"".join(r for _, r in recs[:i])
    pb = header + b"".join(r for _, r in recs[i:])
    a.write_bytes(gzip.compress(pa) if gz_a else pa)
    b.write_bytes(gzip.compress(pb) if gz_b else pb)
    ref = _result(analyze([str(whole)]))
    assert _result(analyze([str(a), str(b)])) == ref
    # Given in the wrong order: the same, unless the parts start at the same
    # instant (then nothing says which came first).
    if 0 < i < len(recs) and times[0] < times[i]:
        assert _result(analyze([str(b), str(a)])) == ref


@pytest.mark.skipif(not PCAP_NAMES, reason="no pcap captures")
@cfg(100)
@given(st.sampled_from(PCAP_NAMES), st.sampled_from(["<", ">"]))
def test_pcap_and_pcapng_of_the_same_packets_agree(tmp_path_factory, name, endian):
    header, recs = _pcap_parts(CAPTURE_BYTES[name])
    e0 = "<" if header[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    nano = header[:4] in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    snaplen, linkfield = struct.unpack_from(e0 + "II", header, 16)

    def block(btype, body):
        body += bytes(-len(body) % 4)
        return struct.pack(endian + "II", btype, len(body) + 12) + body + struct.pack(endian + "I", len(body) + 12)

    opts = struct.pack(endian + "HHB3x", 9, 1, 9 if nano else 6) + struct.pack(endian + "HH", 0, 0)
    out = [block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1)),
           block(1, struct.pack(endian + "HHI", linkfield & 0xFFFF, 0, snaplen) + opts)]
    for _, r in recs:
        sec, frac, caplen, wirelen = struct.unpack_from(e0 + "IIII", r)
        t = sec * (10 ** 9 if nano else 10 ** 6) + frac
        out.append(block(6, struct.pack(endian + "IIIII", 0, t >> 32, t & M32, caplen, wirelen) + r[16:]))
    base = tmp_path_factory.getbasetemp()
    p1, p2 = base / "same.pcap", base / "same.pcapng"
    p1.write_bytes(header + b"".join(r for _, r in recs))
    p2.write_bytes(b"".join(out))
    assert _result(analyze([str(p2)])) == _result(analyze([str(p1)]))
