"""The ladder's memory is bounded by what it shows, not by the segments drawn:
``ladder --full`` streams every segment from compact records, the folded
``ladder`` folds long quiet runs as it records them, and the HTML report
draws at most a budget of segments (issue 17, item 6).

One connection with a long life: a data phase, then the server goes silent
and the client retransmits into the silence (a half_open anomaly, and the
timer that says the server is lost lands in the middle of the run).  Peak
RSS is measured on real processes (``os.wait4`` gives the child's own).
"""
import struct
import subprocess
import sys

import pytest

from tcpflow_analyze.cli import HTML_LADDER_SEGMENTS

SMALL, LARGE = 40_000, 80_000
_IP = struct.Struct("!BBHHHBBH4s4s")
_TCP = struct.Struct("!HHIIBBHHH")
_REC = struct.Struct("<IIII")
_ETH = b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00"


def _ip_checksum(header: bytes) -> int:
    s = sum(struct.unpack("!10H", header))
    s = (s & 0xFFFF) + (s >> 16)
    return ~((s & 0xFFFF) + (s >> 16)) & 0xFFFF


def write_long_connection(path, n: int) -> None:
    """``n`` segments of one connection: handshake, data and ACKs, then the
    client retransmitting its last segment every 10 ms into silence."""
    usec = [1_700_000_000 * 1_000_000]

    def frame(c2s, flags, seq, ack, plen):
        src, dst, ports = (b"\n\0\0\1", b"\n\0\0\2", (40000, 80)) if c2s else (b"\n\0\0\2", b"\n\0\0\1", (80, 40000))
        ip = _IP.pack(0x45, 0, 40 + plen, 0, 0, 64, 6, 0, src, dst)
        ip = ip[:10] + struct.pack("!H", _ip_checksum(ip)) + ip[12:]
        return _ETH + ip + _TCP.pack(*ports, seq, ack, 0x50, flags, 65535, 0, 0) + bytes(plen)

    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))

        def put(c2s, flags, seq, ack, plen, dt):
            usec[0] += dt
            raw = frame(c2s, flags, seq, ack, plen)
            out.write(_REC.pack(usec[0] // 1_000_000, usec[0] % 1_000_000, len(raw), len(raw)) + raw)

        cs, ss = 1000, 5000
        put(True, 0x02, cs, 0, 0, 0)
        put(False, 0x12, ss, cs + 1, 0, 100)
        put(True, 0x10, cs + 1, ss + 1, 0, 100)
        cs, ss = cs + 1, ss + 1
        pairs = (n - 3) // 4
        for _ in range(pairs):
            put(True, 0x18, cs, ss, 10, 100)
            cs += 10
            put(False, 0x10, ss, cs, 0, 100)
        for _ in range(n - 3 - 2 * pairs):
            put(True, 0x18, cs, ss, 10, 10_000)


@pytest.fixture(scope="session")
def long_captures(tmp_path_factory):
    d = tmp_path_factory.mktemp("long")
    out = {}
    for n in (SMALL, LARGE):
        out[n] = str(d / f"long{n}.pcap")
        write_long_connection(out[n], n)
    return out


# Started from this process, the child's peak would include pytest's own: the
# kernel carries the high-water mark of the memory it replaced across
# execve(2) (getrusage(2): ru_maxrss), and vfork shares this process's
# memory until then.  A small launcher's is what the child inherits instead.
_LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss(args, tmp_path) -> tuple[int, str]:
    """Peak RSS in bytes of ``tcpflow-analyze ARGS -o FILE``, and FILE's text."""
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "tcpflow_analyze", *args,
                           "-o", str(out)], capture_output=True, text=True, check=True)
    code, maxrss = map(int, done.stdout.split())
    assert code == 0, done.stderr
    return maxrss * 1024, out.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def analysis_peaks(long_captures, tmp_path_factory):
    """The analysis' own peak (``analyze --format json``) at each size: the
    reader's buffers fill up to their cap over the first megabytes read."""
    d = tmp_path_factory.mktemp("json")
    return {n: peak_rss(["analyze", "--format", "json", path], d)[0] for n, path in long_captures.items()}


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_full_ladder_memory_does_not_grow_by_the_segment_drawn(long_captures, analysis_peaks, tmp_path, fmt):
    cost = {}
    for n in (SMALL, LARGE):
        peak, out = peak_rss(["ladder", "--conn", "1", "--full", "--format", fmt, long_captures[n]], tmp_path)
        # Every segment is written: one line (text) or one object (JSON) each.
        assert out.count("seq " if fmt == "text" else '"kind": "segment"') == n
        cost[n] = peak - analysis_peaks[n]
    # A segment held as objects (its event, its dict or line) cost over a
    # kilobyte; now the segments are written as they are made, from compact
    # records of a few dozen bytes each.
    per_segment = (cost[LARGE] - cost[SMALL]) / (LARGE - SMALL)
    assert per_segment < 100, cost


def test_html_report_stays_within_twice_the_json_report(long_captures, analysis_peaks, tmp_path):
    html_peak, page = peak_rss(["analyze", "--format", "html", long_captures[LARGE]], tmp_path)
    assert html_peak <= 2 * analysis_peaks[LARGE], (analysis_peaks[LARGE], html_peak)
    # What was not drawn is said, with how to see it all.
    assert f"{LARGE - HTML_LADDER_SEGMENTS:,} more segments not drawn" in page
    assert "tcpflow-analyze ladder --conn 1 --full</code> draws every one" in page
    assert "anomalies name: every segment" not in page
    assert page.count('<svg class="ladder-svg"') == 1
    # The anomaly is dated among the segments not drawn: listed under the
    # diagram, not marked on a drawn segment it is not about.
    assert 'class="amark"' not in page and "<code>half_open</code>" in page


def test_streamed_ladders_read_as_the_documents_they_stream():
    # The streams are the layouts of the whole documents, one ladder or several.
    from pathlib import Path

    from tcpflow_analyze.render.json_out import iter_view_dumps
    from tcpflow_analyze.render.ladder import iter_ladders_json, iter_ladders_text, render_ladder
    from tcpflow_analyze.views.ladder import ladder_json, record_ladders

    path = str(Path(__file__).resolve().parent.parent / "sample_pcaps" / "syn_to_time_wait.pcap")
    ladders = list(record_ladders([path], [1, 2]).values())
    for some in (ladders[:1], ladders):
        docs = [ladder_json(lad) for lad in some]
        whole = "".join(iter_view_dumps(docs[0] if len(docs) == 1 else docs))
        assert "".join(iter_ladders_json([ladder_json(lad, stream=True) for lad in some])) == whole
        text = "\n\n".join(render_ladder(lad, full=True, width=90) for lad in some) + "\n"
        assert "".join(iter_ladders_text(some, full=True, width=90)) == text


# The recording pass's own peak, read in the process itself: the kernel's
# high-water mark (VmHWM) is reset as the pass starts (clear_refs, "5"), so
# the first analysis' peak, and its freed memory the pass reuses, cannot
# hide what the pass holds.
_PASS_PEAK = """
import os, runpy, sys
from tcpflow_analyze.views import ladder

def status(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024

inner, start, peak_file = ladder.analyze_recording, [], sys.argv[1]

def recording(*args, **kw):
    if not start:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        start.append(status("VmRSS"))
    return inner(*args, **kw)

ladder.analyze_recording = recording
real_exit = os._exit

def leaving(code):
    with open(peak_file, "w") as f:
        f.write(str(status("VmHWM") - start[0]))
    real_exit(code)

os._exit = leaving
sys.argv = ["tcpflow-analyze", *sys.argv[2:]]
runpy.run_module("tcpflow_analyze", run_name="__main__")
"""

# Past the first megabytes the reader's buffers are full: between these two
# the recording pass's peak grows only with what it keeps.
FOLD_SMALL, FOLD_LARGE = 200_000, 600_000


def pass_peak(args, tmp_path) -> tuple[int, str]:
    """Peak RSS in bytes of the recording pass of ``tcpflow-analyze ARGS -o
    FILE`` over its RSS when it started, and FILE's text."""
    out, peak = tmp_path / "out", tmp_path / "peak"
    subprocess.run([sys.executable, "-c", _PASS_PEAK, str(peak), *args, "-o", str(out)],
                   capture_output=True, text=True, check=True)
    return int(peak.read_text()), out.read_text(encoding="utf-8")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self (VmHWM, clear_refs)")
def test_folded_ladder_memory_does_not_grow_with_segments(tmp_path):
    cost, text = {}, {}
    for n in (FOLD_SMALL, FOLD_LARGE):
        path = tmp_path / f"long{n}.pcap"
        write_long_connection(path, n)
        cost[n], text[n] = pass_peak(["ladder", "--conn", "1", str(path)], tmp_path)
        assert f"{n:,} segments in" in text[n]
        path.unlink()
    # Recording every segment (about thirty bytes each in columns, and the
    # columns' growth) cost several megabytes more here; folded as it is
    # recorded, the ladder keeps its few dozen shown rows and one window of
    # the latest.
    assert cost[FOLD_LARGE] - cost[FOLD_SMALL] < 4 * 2**20, cost
    # The data phase and the retransmissions into silence fold into a line
    # each, on either side of the timer that lands among them.
    for n in (FOLD_SMALL, FOLD_LARGE):
        assert text[n].count(" data segments, ") == 2
        assert "server silent 5 s: connection lost" in text[n] and "half_open" in text[n]


def _both_ways(paths, ids, analysis):
    """Each ladder's text recorded whole and folded as it went (a folding
    pass every few rows, so that runs are folded across many passes)."""
    from tcpflow_analyze.render.ladder import render_ladder
    from tcpflow_analyze.views import ladder as views

    whole = views.record_ladders(paths, ids, analysis.options, analysis=analysis)
    for every in (1, 3, 7, 4096):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(views, "_FOLD_PASS", every)
            folded = views.record_ladders(paths, ids, analysis.options, analysis=analysis, folded=True)
        for cid in ids:
            for width in (80, 120):
                yield render_ladder(whole[cid], width=width), render_ladder(folded[cid], width=width)


def test_folding_while_recording_draws_what_folding_at_the_end_did(tmp_path):
    from pathlib import Path

    from tcpflow_analyze.analysis import analyze

    samples = sorted(p for p in (Path(__file__).resolve().parent.parent / "sample_pcaps").iterdir()
                     if p.suffix in (".pcap", ".pcapng"))
    path = tmp_path / "long.pcap"
    write_long_connection(path, 3_000)
    for capture in [path] + samples:
        analysis = analyze([str(capture)])
        ids = [c.id for c in analysis.connections][:20]
        for whole, folded in _both_ways([str(capture)], ids, analysis):
            assert folded == whole, capture.name
