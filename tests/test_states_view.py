"""'ss -tan at time T' and per-host state timelines, against the kernel's own ss."""
import datetime as dt
import json

import pytest
from conftest import SAMPLES, capture_lacks_evidence, ss_truth

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.views.ladder import record_ladder
from tcpflow_analyze.analysis.timeline import bucket_peaks
from tcpflow_analyze.render.states import plot_timelines, render_states_at, render_timelines
from tcpflow_analyze.views.states import parse_time, state_timelines, states_at
from tcpflow_analyze.model.states import STATE_NAMES

# Samples whose capture lacks packets the sockets exchanged (deleted after the
# fact, or kept out by a capture filter) keep the kernel's ss truth, which no
# passive view can match where the capture holds no evidence of it:
# tests/test_kernel_samples.py holds them to "right or flagged".
TRUTHS = sorted(p for p in SAMPLES.glob("*.truth.json") if not capture_lacks_evidence(json.loads(p.read_text())))
# The lab (sample_pcaps/README.md): the client namespace holds .1, the server .2.
NAMESPACE_HOSTS = {"client": {"10.201.0.1", "fd00:201::1"}, "server": {"10.201.0.2", "fd00:201::2"}}


def namespace_hosts(truth) -> dict:
    """Each namespace's addresses: the lab's, and those its connections used
    (the routed lab puts the server in another subnet, 10.202.0.2)."""
    hosts = {side: set(addrs) for side, addrs in NAMESPACE_HOSTS.items()}
    for conn in truth.get("connections", []):
        for side in hosts:
            hosts[side].add(conn[side]["ip"])
    return hosts


def load(name):
    return analyze([str(SAMPLES / f"{name}.pcap")])


def ss_sockets(lines):
    """(local, peer, state) from a truth's raw ss lines (``ss -tan`` or
    ``-tanoi``: header first; scripts/ss_truth.py reads them)."""
    return {(s["local"], s["peer"], s["state"]) for s in ss_truth.parse(lines)}


def our_sockets(view, hosts):
    return {(s["local"], s["peer"], s["ss_state"]) for h in view["hosts"] if h["host"] in hosts
            for s in h["sockets"]}


def without_listen(sockets):
    return {s for s in sockets if s[2] != "LISTEN"}


@pytest.mark.parametrize("truth_path", TRUTHS, ids=lambda p: p.name.split(".")[0])
def test_states_at_end_equal_kernel_ss(truth_path):
    truth = json.loads(truth_path.read_text())
    analysis = analyze([str(SAMPLES / truth["capture"])])
    view = states_at(analysis, parse_time("end", analysis))
    assert view["in_capture"]
    assert view["offset"] == pytest.approx(analysis.stats.end - analysis.stats.start, abs=1e-6)
    namespaces = namespace_hosts(truth)
    for side, hosts in namespaces.items():
        expected = without_listen(ss_sockets(truth["ss"][side]))
        assert without_listen(our_sockets(view, hosts)) == expected, side
    # Hosts in no namespace (spoofed sources, a destroyed host) hold nothing.
    lab = set().union(*namespaces.values())
    assert not our_sockets(view, {h["host"] for h in view["hosts"]} - lab)
    # A listener is inferred only where the kernel had one.
    ours = {s for s in our_sockets(view, lab) if s[2] == "LISTEN"}
    assert ours <= {s for side in truth["ss"].values() for s in ss_sockets(side)}


def test_listen_inferred_from_syn_ack():
    truth = json.loads((SAMPLES / "client_close_first.truth.json").read_text())
    listen = {s for s in ss_sockets(truth["ss"]["server"]) if s[2] == "LISTEN"}
    assert listen == {("10.201.0.2:8080", "0.0.0.0:*", "LISTEN")}
    analysis = load("client_close_first")
    view = states_at(analysis, parse_time("end", analysis))
    server = next(h for h in view["hosts"] if h["host"] == "10.201.0.2")
    assert {(s["local"], s["peer"], s["ss_state"]) for s in server["sockets"]} == listen
    assert server["counts"] == {"LISTEN": 1}
    # Before the SYN-ACK nothing showed a listener.
    assert not states_at(analysis, analysis.stats.start)["totals"].get("LISTEN")
    # IPv6 listeners are written as ss writes them.
    v6 = load("ipv6")
    socks = our_sockets(states_at(v6, parse_time("end", v6)), {"fd00:201::2"})
    assert socks == {("[fd00:201::2]:8080", "[::]:*", "LISTEN")}


def test_refused_port_is_not_a_listener():
    analysis = load("closed_port")
    assert states_at(analysis, parse_time("end", analysis))["totals"] == {}


def test_states_mid_capture_follow_the_ladder():
    """At every segment's time, ss-at-T agrees with the ladder's state columns."""
    analysis = load("client_close_first")
    ladder = record_ladder([str(SAMPLES / "client_close_first.pcap")], 1)
    for ev in ladder.events:
        view = states_at(analysis, ev.time)
        by_host = {h["host"]: {s["state"] for s in h["sockets"] if s["state"] != "LISTEN"}
                   for h in view["hosts"]}
        for host, st in (("10.201.0.1", ev.client_state), ("10.201.0.2", ev.server_state)):
            name = STATE_NAMES[st]
            assert by_host.get(host, set()) == (set() if name in ("CLOSED", "LISTEN") else {name})


def test_close_wait_leak_mid_capture():
    analysis = load("close_wait_leak")
    view = states_at(analysis, parse_time("+5s", analysis))
    assert view["totals"] == {"LISTEN": 1, "ESTABLISHED": 2, "FIN_WAIT_2": 3, "CLOSE_WAIT": 3}
    server = next(h for h in view["hosts"] if h["host"] == "10.201.0.2")
    assert [s["peer"] for s in server["sockets"] if s["state"] == "CLOSE_WAIT"] == [
        "10.201.0.1:40001", "10.201.0.1:40002", "10.201.0.1:40003"]
    text = render_states_at(view)
    assert "CLOSE-WAIT  10.201.0.2:8080       10.201.0.1:40001" in text
    assert "(capture +5.000000s)" in text
    # Before the first packet: nothing at all.
    assert states_at(analysis, analysis.stats.start - 1)["totals"] == {}
    assert "[outside the capture]" in render_states_at(states_at(analysis, analysis.stats.start - 1))


def test_render_limit_and_quiet_hosts():
    analysis = load("syn_flood")
    text = render_states_at(states_at(analysis, parse_time("end", analysis)), limit=3)
    assert "10.201.0.2: LISTEN 1, SYN-RECV 129" in text
    assert "… 127 more (JSON has them all)" in text
    assert "no open sockets: 10.201.0." in text


def test_parse_time():
    analysis = load("client_close_first")
    start, end = analysis.stats.start, analysis.stats.end
    assert parse_time("end", analysis) == end
    assert parse_time("START", analysis) == start
    assert parse_time("+12.5s", analysis) == pytest.approx(start + 12.5)
    assert parse_time("+12.5", analysis) == pytest.approx(start + 12.5)
    assert parse_time("+250ms", analysis) == pytest.approx(start + 0.25)
    assert parse_time("+2m", analysis) == pytest.approx(start + 120)
    assert parse_time(f"{start:.6f}", analysis) == pytest.approx(start)
    iso = dt.datetime.fromtimestamp(start, dt.timezone.utc)
    assert parse_time(iso.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), analysis) == pytest.approx(start, abs=1e-6)
    assert parse_time(iso.strftime("%Y-%m-%d %H:%M:%S.%f"), analysis) == pytest.approx(start, abs=1e-6)
    later = iso.astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert parse_time(later.isoformat(), analysis) == pytest.approx(start, abs=1e-6)
    for bad in ("soon", "+-1s", "+1 fortnight", ""):
        with pytest.raises(ValueError):
            parse_time(bad, analysis)


def test_time_wait_builds_up_in_the_storm():
    analysis = load("time_wait_storm")
    view = state_timelines(analysis)
    client = next(h for h in view["hosts"] if h["host"] == "10.201.0.1")
    tw = client["states"]["TIME_WAIT"]
    counts = [n for _, n in tw["series"]]
    assert counts == sorted(counts) and counts[-1] == 600
    assert (tw["peak"], tw["at_end"], tw["entered"]) == (600, 600, 600)
    start, end = view["capture"]["start"], view["capture"]["end"]
    quarters = bucket_peaks(tw["series"], start, end, 4)
    assert quarters == sorted(quarters) and 0 < quarters[0] < 300 and quarters[-1] == 600
    # The server closed second: its sockets went through LAST_ACK to CLOSED.
    server = next(h for h in view["hosts"] if h["host"] == "10.201.0.2")
    assert "TIME_WAIT" not in server["states"] and server["states"]["LAST_ACK"]["at_end"] == 0
    text = render_timelines(view, width=40)
    line = next(ln for ln in text.splitlines() if ln.strip().startswith("TIME_WAIT"))
    spark = line.split("│")[1]
    assert len(spark) == 40
    assert spark[-1] == "█" and spark[0] in " ▁▂" and "peak 600" in line and "600 at end" in line


def test_timelines_host_filter_and_last_instant():
    analysis = load("client_close_first")
    view = state_timelines(analysis, hosts=["10.201.0.1"])
    assert [h["host"] for h in view["hosts"]] == ["10.201.0.1"]
    states = view["hosts"][0]["states"]
    assert list(states) == ["SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT"]
    # TIME_WAIT began with the capture's last packet and still shows.
    line = next(ln for ln in render_timelines(view, width=30).splitlines() if "TIME_WAIT" in ln)
    assert line.split("│")[1].rstrip().endswith("█")


def test_plot_timelines(tmp_path):
    pytest.importorskip("matplotlib")
    analysis = load("time_wait_storm")
    out = tmp_path / "timelines.png"
    out.write_bytes(plot_timelines(state_timelines(analysis)))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 5000
