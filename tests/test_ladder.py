"""The ladder diagram on kernel-made captures: the state columns must draw
RFC 9293's diagram exactly, and end where the kernel's ss said they were."""
import json
import re

import pytest
from conftest import SAMPLES

from tcpflow_analyze.analysis import AnalysisOptions
from tcpflow_analyze.model.states import STATE_NAMES
from tcpflow_analyze.render.ladder import Fold, display_rows, render_ladder
from tcpflow_analyze.views.ladder import ladder_json, parse_select, record_ladder, record_ladders

TUPLE = "10.201.0.1:40001-10.201.0.2:8080"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
TIME = re.compile(r"^\d+\.\d{6} ")


def sample(name):
    return [str(SAMPLES / f"{name}.pcap")]


def truth(name, index=0):
    conn = json.loads((SAMPLES / f"{name}.truth.json").read_text())["connections"][index]
    return conn["client"]["state"], conn["server"]["state"]


def columns(text):
    """The state names written in the client and server columns of a rendered
    ladder, read back by column position (the initial-states line sets them)."""
    lines = text.splitlines()
    init = next(i for i, ln in enumerate(lines) if ln.split() and ln.split()[0] in STATE_NAMES)
    cstart = len(lines[init]) - len(lines[init].lstrip())
    sstart = lines[init].rindex(" ") + 1
    client, server = [lines[init].split()[0]], [lines[init].split()[-1]]
    for ln in lines[init + 1:]:
        indent = len(ln) - len(ln.lstrip())
        if not (indent in (cstart, sstart) or (indent == 0 and TIME.match(ln))):
            continue   # anomaly messages, folds, header and footer
        cell = ln[cstart:cstart + len("SYN_RECEIVED")].strip()
        if cell:
            assert cell in STATE_NAMES, ln
            client.append(cell)
        cell = ln[sstart:].strip()
        if cell:
            assert cell in STATE_NAMES, ln
            server.append(cell)
    return client, server


# (capture, select, truth index, client states, server states): RFC 9293 figure 5
# and section 3.6's closing sequences, as the capture shows them.
OPEN_C = ["CLOSED", "SYN_SENT", "ESTABLISHED"]
OPEN_S = ["LISTEN", "SYN_RECEIVED", "ESTABLISHED"]
DIAGRAMS = [
    ("client_close_first", 1, 0,
     OPEN_C + ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"], OPEN_S + ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]),
    ("server_close_first", 1, 0,
     OPEN_C + ["CLOSE_WAIT", "LAST_ACK", "CLOSED"], OPEN_S + ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]),
    # The client's first FIN is dropped before the server's socket: both send
    # FIN, the client reaches TIME_WAIT through CLOSING (RFC 9293 figure 13).
    ("simultaneous_close", 1, 0,
     OPEN_C + ["FIN_WAIT_1", "CLOSING", "TIME_WAIT"], OPEN_S + ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]),
    ("half_close", 1, 0,
     OPEN_C + ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"], OPEN_S + ["CLOSE_WAIT", "LAST_ACK", "CLOSED"]),
    ("rst_abort", 1, 0, OPEN_C + ["CLOSED"], OPEN_S + ["CLOSED"]),
    # Nothing listens on 8081: the SYN meets a CLOSED port and its RST.
    ("closed_port", 1, 0, ["CLOSED", "SYN_SENT", "CLOSED"], ["CLOSED"]),
    ("port_reuse", TUPLE + "#2", 1, OPEN_C, OPEN_S),
    # The server closed first; its TIME_WAIT answers the new SYN with the old
    # ACK, the client's RST ends it (RFC 1337's TIME-WAIT assassination).
    ("syn_to_time_wait", 1, 0,
     OPEN_C + ["CLOSE_WAIT", "LAST_ACK", "CLOSED"],
     OPEN_S + ["FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSED"]),
    ("syn_to_time_wait", 2, 1, OPEN_C, OPEN_S),
]


@pytest.mark.parametrize("name,select,index,client,server", DIAGRAMS,
                         ids=[f"{d[0]}-{d[1]}" for d in DIAGRAMS])
def test_state_columns_draw_the_rfc_diagram(name, select, index, client, server):
    ladder = record_ladder(sample(name), select)
    assert ladder.states("client") == client
    assert ladder.states("server") == server
    # The rendered columns say the same, and end at the kernel's truth.
    assert columns(render_ladder(ladder)) == (client, server)
    assert (ladder.final("client"), ladder.final("server")) == truth(name, index)
    assert (ladder.summary["client"]["state"], ladder.summary["server"]["state"]) == truth(name, index)


def test_client_close_first_segments():
    ladder = record_ladder(sample("client_close_first"), TUPLE)
    segs = [e for e in ladder.events if e.kind == "segment"]
    assert [e.flag_text for e in segs] == ["S", "SA", "A", "PA", "A", "PA", "A", "FA", "A", "FA", "A"]
    assert [e.from_client for e in segs] == [True, False, True, True, False, False, True, True, False, False, True]
    # Relative numbers start at 0 (the ISN) on each side; the request is 34
    # bytes, the response 52, and each FIN takes one sequence number.
    assert [(e.rel_seq, e.rel_ack, e.length) for e in segs] == [
        (0, None, 0), (0, 1, 0), (1, 1, 0), (1, 1, 34), (1, 35, 0), (1, 35, 52), (35, 53, 0),
        (35, 53, 0), (53, 36, 0), (53, 36, 0), (36, 54, 0)]
    assert segs[0].seq != 0 and (segs[1].ack - segs[0].seq) % 2**32 == 1
    assert all(e.time >= ladder.start for e in segs)
    assert not any(e.retransmission or e.rst_ignored or e.anomalies for e in segs)


def test_select_by_tuple_either_order_and_instance():
    a = record_ladder(sample("port_reuse"), "10.201.0.2:8080-10.201.0.1:40001")
    b = record_ladder(sample("port_reuse"), TUPLE + "#1")
    c = record_ladder(sample("port_reuse"), TUPLE + "#2")
    assert a.conn_id == b.conn_id == 1 and c.conn_id == 2
    assert (a.instance, a.instances, c.instance) == (1, 2, 2)
    # The new SYN's connection took the tuple over from the server's
    # TIME_WAIT: a line of its own in the first instance's ladder.
    handovers = [e for e in a.events if e.kind == "handover"]
    assert len(handovers) == 1 and "#2" in handovers[0].note
    assert STATE_NAMES[handovers[0].server_state] == "CLOSED"
    assert [x.type for x in c.anomalies] == ["port_reuse_in_time_wait"]


def test_select_errors():
    with pytest.raises(ValueError, match="instance"):
        record_ladder(sample("port_reuse"), TUPLE + "#3")
    with pytest.raises(ValueError, match="no connection 9"):
        record_ladder(sample("port_reuse"), 9)
    with pytest.raises(ValueError, match="no connection on that 4-tuple"):
        record_ladder(sample("port_reuse"), "10.9.9.9:1-10.9.9.8:2")
    for bad in ("nonsense", "10.0.0.1:80", "10.0.0.1:1-[::1]:2", "10.0.0.1:99999-10.0.0.2:80", 0):
        with pytest.raises(ValueError):
            parse_select(bad)
    assert parse_select("[fd00:201::1]:40001-[fd00:201::2]:8080#2").nth == 2
    assert parse_select("7").conn_id == 7


def test_ipv6_tuple():
    ladder = record_ladder(sample("ipv6"), "[fd00:201::1]:40001-[fd00:201::2]:8080")
    assert ladder.client == "[fd00:201::1]:40001"
    assert (ladder.final("client"), ladder.final("server")) == truth("ipv6")


def test_anomaly_on_the_segment_it_is_about():
    ladder = record_ladder(sample("syn_to_time_wait"), 1)
    marked = [e for e in ladder.events if e.anomalies]
    assert len(marked) == 1
    ev = marked[0]
    # The TIME_WAIT socket's ACK carrying the old numbers, from the server.
    assert ev.anomalies[0].type == "syn_to_time_wait"
    assert (ev.flag_text, ev.from_client, ev.rel_seq, ev.rel_ack) == ("A", False, 54, 36)
    assert STATE_NAMES[ev.server_state] == "TIME_WAIT"
    text = render_ladder(ladder)
    assert "▲ warning syn_to_time_wait" in text


def test_refused_connection_marks_the_rst():
    ladder = record_ladder(sample("closed_port"), 1)
    rst = ladder.events[-1]
    assert rst.flag_text == "RA" and not rst.from_client
    assert [a.type for a in rst.anomalies] == ["connection_refused"]


def test_retransmission_into_silence_and_timer_line():
    ladder = record_ladder(sample("half_open_silence"), 1)
    segs = [e for e in ladder.events if e.kind == "segment"]
    assert sum(e.retransmission for e in segs) == ladder.summary["retransmissions"]["server"] == 6
    timers = [e for e in ladder.events if e.kind == "timer"]
    assert len(timers) == 1 and timers[0].side == "client" and "silent" in timers[0].note
    times = [e.time for e in ladder.events]
    assert times == sorted(times)
    # Segments after the inferred loss keep the client CLOSED.
    after = [e for e in ladder.events if e.time > timers[0].time]
    assert after and all(STATE_NAMES[e.client_state] == "CLOSED" for e in after)
    assert ladder.states("client")[-2:] == ["ESTABLISHED", "CLOSED"]
    assert (ladder.final("client"), ladder.final("server")) == truth("half_open_silence")


def test_time_wait_expiry_is_its_own_line():
    ladder = record_ladder(sample("client_close_first"), 1, AnalysisOptions(time_wait=0.0))
    last = ladder.events[-1]
    assert last.kind == "timer" and last.side == "client" and "TIME_WAIT" in last.note
    assert ladder.states("client")[-2:] == ["TIME_WAIT", "CLOSED"]
    assert columns(render_ladder(ladder))[0][-2:] == ["TIME_WAIT", "CLOSED"]


def test_syn_cookie_and_spoofed_client():
    ladders = record_ladders(sample("syn_flood"), [1, 300])
    notes = {i: [e.note for e in lad.events if e.kind == "timer"] for i, lad in ladders.items()}
    assert all(any("SYN-ACK unanswered" in n for n in ns) for ns in notes.values())
    finals = {(lad.final("client"), lad.final("server")) for lad in ladders.values()}
    assert finals <= {("CLOSED", "SYN_RECEIVED"), ("CLOSED", "CLOSED")}


def test_lone_syn_turns_unknown_on_a_timer_line():
    """sample_pcaps/syns_only holds SYNs only: 40001's SYN never came again
    though the capture ran on 4 s, so both sides turn UNKNOWN at the SYN,
    each on a timer line that says why (not "SYN retries exhausted", the
    note of a SYN_SENT's end before); 40005, retried up to the end, stays
    SYN_SENT with no timer line, as ss says."""
    ladders = record_ladders(sample("syns_only"), [1, 5])
    timers = [e for e in ladders[1].events if e.kind == "timer"]
    assert [e.side for e in timers] == ["client", "server"]
    assert all(e.note == "SYN not repeated in 3 s: answer not captured?" for e in timers)
    assert (ladders[1].states("client"), ladders[1].states("server")) == (["CLOSED", "SYN_SENT", "UNKNOWN"],
                                                                         ["CLOSED", "UNKNOWN"])
    assert [e.kind for e in ladders[5].events] == ["segment"] * 5
    assert (ladders[5].final("client"), ladders[5].final("server")) == truth("syns_only", 4)


def test_folding_on_bulk_loss():
    ladder = record_ladder(sample("bulk_loss"), 1)
    folded = render_ladder(ladder)
    full = render_ladder(ladder, full=True)
    segs = [e for e in ladder.events if e.kind == "segment"]
    assert len(segs) > 4000
    assert len(full.splitlines()) > len(segs)
    assert len(folded.splitlines()) < 40
    folds = [r for r in display_rows(ladder) if isinstance(r, Fold)]
    assert folds and sum(f.count for f in folds) > 4000
    retx = sum(f.retransmissions for f in folds)
    assert retx > 50
    assert f"{retx:,} retransmissions" in folded
    total = ladder.summary["retransmissions"]
    assert sum(e.retransmission for e in segs) == total["client"] + total["server"]
    # Handshake and close stay visible; the state columns are the same folded or not.
    assert columns(folded) == columns(full)
    assert (ladder.final("client"), ladder.final("server")) == truth("bulk_loss")


@pytest.mark.parametrize("width", [60, 80, 120])
def test_width_and_colour(width):
    ladder = record_ladder(sample("half_close"), 1)
    plain = render_ladder(ladder, width=width)
    assert max(len(line) for line in plain.splitlines()) <= width
    assert "\x1b[" not in plain
    colored = render_ladder(ladder, width=width, color=True)
    assert "\x1b[32mESTABLISHED" in colored
    assert ANSI.sub("", colored) == plain


def test_absolute_numbers():
    ladder = record_ladder(sample("client_close_first"), 1)
    syn = ladder.events[0]
    assert f"seq {syn.seq} " in render_ladder(ladder, absolute=True)
    assert "S seq 0 " in render_ladder(ladder)


def test_ladder_json():
    ladder = record_ladder(sample("syn_to_time_wait"), 1)
    doc = json.loads(json.dumps(ladder_json(ladder), allow_nan=False))
    assert doc["connection"]["id"] == 1 and doc["instances"] == 2
    assert doc["final"] == {"client": "CLOSED", "server": "CLOSED"}
    segs = [e for e in doc["events"] if e["kind"] == "segment"]
    assert len(segs) == doc["connection"]["packets"]["client"] + doc["connection"]["packets"]["server"]
    assert segs[0] == {**segs[0], "direction": "client->server", "flags": "S", "seq": 0, "ack": None,
                       "client_state": "SYN_SENT", "server_state": "LISTEN"}
    assert segs[-1]["flags"] == "R" and segs[-1]["server_state"] == "CLOSED"
    assert [e["anomalies"] for e in segs if e["anomalies"]] == [["syn_to_time_wait"]]
    assert [a["type"] for a in doc["anomalies"]] == ["syn_to_time_wait"]


def test_stdin_is_read_once():
    """From standard input (read once) a selection by id still works: every
    connection is recorded in the single pass."""
    import subprocess
    import sys
    code = ("from tcpflow_analyze.views.ladder import record_ladder; "
            "lad = record_ladder(['-'], 2); print(lad.conn_id, lad.instance, lad.final('client'))")
    with open(SAMPLES / "port_reuse.pcap", "rb") as capture:
        out = subprocess.run([sys.executable, "-c", code], stdin=capture, capture_output=True, text=True,
                             check=True, cwd=str(SAMPLES.parent)).stdout
    assert out.split() == ["2", "2", "ESTABLISHED"]


CAPTURES = sorted(p.name for p in SAMPLES.iterdir() if p.suffix in (".pcap", ".pcapng"))


@pytest.mark.parametrize("name", CAPTURES)
def test_every_ladder_agrees_with_the_report(name):
    """The recording tracker sees what the normal one sees: for every
    connection of every sample, one segment per packet and the same end states."""
    from tcpflow_analyze.analysis import analyze
    paths = [str(SAMPLES / name)]
    analysis = analyze(paths)
    ladders = record_ladders(paths, [c.id for c in analysis.connections], analysis=analysis)
    for conn in analysis.connections:
        ladder = ladders[conn.id]
        segs = [e for e in ladder.events if e.kind == "segment"]
        assert len(segs) == conn.client.packets + conn.server.packets
        assert sum(e.from_client for e in segs) == conn.client.packets
        assert (ladder.final("client"), ladder.final("server")) == (
            STATE_NAMES[conn.client.state], STATE_NAMES[conn.server.state])


def _same_ladders(a, b):
    assert a.keys() == b.keys()
    for cid in a:
        assert ladder_json(a[cid]) == ladder_json(b[cid])


@pytest.mark.parametrize("names", [["port_reuse"], ["time_wait_storm", "syn_to_time_wait", "stale_syn"]])
def test_a_ladder_with_the_analysis_tracks_only_its_own_connections(names, monkeypatch):
    # With the full analysis at hand, the recording pass tracks only the
    # connections whose ports XOR like a watched one's; the ladders (ids,
    # instances, handovers, anomalies) are those of a full recording pass.
    from tcpflow_analyze import analysis as analyzer
    from tcpflow_analyze.views import ladder as L
    paths = [p for n in names for p in sample(n)]
    analysis = analyzer.analyze(paths)
    picks = [c for c in analysis.connections if c.client.port in (40001, 40002)][:3] or analysis.connections[:3]
    ids = [c.id for c in picks] + [analysis.connections[-1].id]
    full = record_ladders(paths, ids)                     # no analysis given: made inside
    seen = []
    real = L.analyze_recording
    monkeypatch.setattr(L, "analyze_recording", lambda *a, **k: seen.append(k.get("owned")) or real(*a, **k))
    quick = record_ladders(paths, ids, analysis=analysis)
    assert seen and seen[-1] is not None
    _same_ladders(full, quick)
    assert {lad.conn_id for lad in quick.values()} == set(ids)


def test_a_ladder_falls_back_to_the_full_pass_where_the_analysis_lists_other_instances(monkeypatch):
    # An analysis whose memory caps folded a connection away lists fewer
    # instances of its 4-tuple than the watched-only pass finds: the two
    # cannot be matched, so the full recording pass is made, as before.
    import dataclasses

    from tcpflow_analyze import analysis as analyzer
    from tcpflow_analyze.views import ladder as L
    paths = sample("port_reuse")
    analysis = analyzer.analyze(paths)
    assert len(analysis.connections) == 2
    folded = dataclasses.replace(analysis, connections=analysis.connections[1:])
    calls = []
    real = L.analyze_recording
    monkeypatch.setattr(L, "analyze_recording", lambda *a, **k: calls.append(k.get("owned")) or real(*a, **k))
    got = record_ladders(paths, [2], analysis=folded)
    assert calls[0] is not None and calls[1:] == [None]
    _same_ladders(got, record_ladders(paths, [2]))
