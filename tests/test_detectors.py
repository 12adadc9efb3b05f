"""Each anomaly detector fires on its kernel-made sample with the right
details, stays silent on normal traffic, and honours its threshold."""
import json

import pytest
from click.testing import CliRunner
from conftest import SAMPLES
from pcapgen import Trace

from tcpflow_analyze import detectors
from tcpflow_analyze.analysis import AnalysisOptions, analyze
from tcpflow_analyze.cli import main


def found(sample, **cfg):
    analysis = analyze([str(SAMPLES / sample)], AnalysisOptions(unanswered=cfg.get("half_open_timeout", 5.0)))
    return detectors.run(analysis, cfg)


def only(anomalies, kind):
    return [a for a in anomalies if a.type == kind]


NORMAL = ["client_close_first.pcap", "server_close_first.pcap", "half_close.pcap", "ipv6.pcap",
          "sll2_any.pcap", "pcapng.pcapng", "midstream.pcap", "bulk_loss.pcap", "simultaneous_close.pcap",
          "rst_abort.pcap", "close_wait.pcap", "simultaneous_open.pcap"]


@pytest.mark.parametrize("sample", NORMAL)
def test_normal_traffic_raises_nothing(sample):
    assert found(sample) == []


def test_half_open_peer_reset_on_reboot():
    [a] = found("half_open_reboot.pcap")
    assert (a.type, a.details["kind"]) == ("half_open", "peer_reset")
    assert a.details["lost_by"] == "10.201.0.1:40001"
    assert a.details["kept_state"] == "ESTABLISHED"


def test_half_open_unanswered_on_silence():
    [a] = found("half_open_silence.pcap")
    assert a.details["kind"] == "unanswered"
    assert a.details["sender"] == "10.201.0.2:8080"
    assert a.details["silent_for"] > 5
    assert a.details["retransmissions"] >= 5
    # Above the threshold: the peer is not yet called gone.
    assert found("half_open_silence.pcap", half_open_timeout=30.0) == []


def test_half_open_challenge_ack_on_client_reboot():
    [a] = found("challenge_ack_reboot.pcap")
    assert a.details["kind"] == "challenge_ack"
    assert a.details["server_state"] == "ESTABLISHED"
    assert a.connections == [1, 2]
    assert 0 < a.details["retry_delay"] < 1.5


def test_half_open_embryonic_syn_flood():
    [a] = found("syn_flood.pcap")
    d = a.details
    assert (a.type, d["kind"], a.severity) == ("half_open", "embryonic", "critical")
    assert d["syn_flood"] and d["count"] == 300 and d["sources"] == 132
    assert d["syn_received_at_end"] == 129 and d["syn_cookies"] == 171
    assert "SYN flood" in a.message
    [small] = found("syn_flood.pcap", syn_flood_threshold=1000)
    assert small.severity == "warning" and not small.details["syn_flood"]


def test_rst_on_stale_syn():
    [a] = found("stale_syn.pcap")
    assert a.type == "rst_on_stale_syn"
    assert a.details["client"] == "10.201.0.1:45555"
    assert a.details["syn_origin"] == "unknown"


def test_rst_on_stale_syn_says_retransmission_or_replay(run_trace, tmp_path):
    t = Trace().c("S", 1000).c("S", 1000, dt=1.0).s("SA", 5000, 1001).c("R", 1001)
    conns = run_trace(t)
    from tcpflow_analyze.analysis import Analysis, CaptureStats
    analysis = Analysis(CaptureStats(files=["x"], end=conns[-1].last_seen), conns, AnalysisOptions())
    [a] = only(detectors.run(analysis), "rst_on_stale_syn")
    assert a.details["syn_origin"] == "retransmission"

    t = Trace().handshake(1000, 5000)
    t.c("FA", 1001, 5001).s("FA", 5001, 1002).c("A", 1002, 5002)
    t.c("S", 1000, dt=100.0).s("SA", 9000, 1001).c("R", 1001)  # the old SYN, replayed
    conns = run_trace(t)
    analysis = Analysis(CaptureStats(files=["x"], end=conns[-1].last_seen), conns, AnalysisOptions())
    [a] = only(detectors.run(analysis), "rst_on_stale_syn")
    assert a.details["syn_origin"] == "replay" and a.details["replay_of"] == 1


def test_lingering_close_wait():
    [a] = found("close_wait_leak.pcap")
    d = a.details
    assert a.type == "lingering_close_wait"
    assert d["service"] == "10.201.0.2:8080"
    assert d["count"] == 3 and d["still_open"] == 3
    assert 10 < d["oldest_age"] < 15
    assert found("close_wait_leak.pcap", close_wait_timeout=60.0) == []


def test_time_wait_storm():
    assert found("time_wait_storm.pcap") == []  # 600 is below the default 1000
    [a] = found("time_wait_storm.pcap", time_wait_threshold="500")
    d = a.details
    assert a.type == "time_wait_storm"
    assert d["host"] == "10.201.0.1" and d["peak"] == 600 and d["threshold"] == 500
    assert d["remotes"][0] == {"endpoint": "10.201.0.2:8080", "count": 600}
    assert d["ephemeral_ports_at_peak"] == 600 and d["port_range_size"] == 28232
    assert d["active_close_share"] == 1.0
    assert d["projection"]["rate"] > 100
    assert len(a.connections) == 600
    # A share of the port range works as a threshold too: 2% of 28232 = 564.
    assert only(found("time_wait_storm.pcap", time_wait_threshold="2%"), "time_wait_storm")
    # A narrower range makes the same 600 ports a larger share.
    [b] = found("time_wait_storm.pcap", time_wait_threshold="500", port_range="40000-41000")
    assert b.details["port_range_size"] == 1001


def test_connection_refused():
    [a] = found("closed_port.pcap")
    assert a.type == "connection_refused" and a.details["service"] == "10.201.0.2:8081"


def test_syn_unanswered():
    [a] = found("syn_dropped.pcap")
    assert a.type == "syn_unanswered" and a.details["max_syns"] == 3
    assert found("syn_dropped.pcap", syn_retries=5) == []


def test_port_reuse_in_time_wait_is_info_when_accepted():
    [a] = found("port_reuse.pcap")
    assert (a.type, a.severity) == ("port_reuse_in_time_wait", "info")
    d = a.details
    assert (d["time_wait_holder"], d["accepted"], d["client"]) == ("server", True, "10.201.0.1:40001")
    assert (d["service"], d["count"], d["first_time"]) == ("10.201.0.2:8080", 1, d["last_time"])
    assert d["examples"] == [{"time": d["first_time"], "connections": [2], "time_wait_holder": "server",
                              "accepted": True, "client": "10.201.0.1:40001"}]


def test_syn_to_time_wait():
    [a] = found("syn_to_time_wait.pcap")
    assert a.type == "syn_to_time_wait"
    assert a.connections == [1, 2]
    assert 0 < a.details["delay"] < 1.5


def _analysis(conns):
    from tcpflow_analyze.analysis import Analysis, CaptureStats
    return Analysis(CaptureStats(files=["x"], end=conns[-1].last_seen), conns, AnalysisOptions())


def test_reset_storm(run_trace):
    # 60 established connections, each aborted by the server's RST.
    t = Trace()
    for i in range(60):
        t.client = ("10.0.0.1", 41000 + i)
        t.c("S", 1000, dt=0.05).s("SA", 5000, 1001).c("A", 1001, 5001).s("RA", 5001, 1001)
    analysis = _analysis(run_trace(t))
    storms = only(detectors.run(analysis), "reset_storm")
    assert [a.details["host"] for a in storms] == ["10.0.0.2"]
    assert storms[0].details["count"] == 60
    assert only(detectors.run(analysis, {"reset_storm_count": 100}), "reset_storm") == []


def test_refusals_are_no_reset_storm(run_trace):
    # 60 SYNs answered by RST: refused, not aborted -- no connection existed.
    t = Trace()
    for i in range(60):
        t.client = ("10.0.0.1", 41000 + i)
        t.c("S", 1000 + i, dt=0.05).s("RA", 0, 1001 + i)
    analysis = _analysis(run_trace(t))
    assert only(detectors.run(analysis, {"reset_storm_count": 1}), "reset_storm") == []
    assert only(detectors.run(analysis), "connection_refused")[0].details["count"] == 60


# Kernel samples with a RST accepted: which of them aborted a connection.
ABORTS = {"rst_abort.pcap": "10.201.0.1", "half_open_reboot.pcap": "10.201.0.1",
          "challenge_ack_reboot.pcap": "10.201.0.1",
          "closed_port.pcap": None,        # SYN answered by RST/ACK: refused
          "stale_syn.pcap": None,          # RST answering an unexpected SYN-ACK: server SYN_RECEIVED
          "syn_to_time_wait.pcap": None}   # RST ending a TIME_WAIT: already closed on both sides


@pytest.mark.parametrize("sample", sorted(ABORTS))
def test_reset_storm_counts_aborts_only_on_kernel_samples(sample):
    storms = only(found(sample, reset_storm_count=1), "reset_storm")
    if ABORTS[sample] is None:
        assert storms == []
    else:
        [a] = storms
        assert (a.details["host"], a.details["count"], a.details["total_resets"]) == (ABORTS[sample], 1, 1)


def test_port_scan_refusals_are_no_reset_storm():
    # 231 refusals by the scanned host (196 connect()s, 29 SYN-scan probes,
    # the 6 refusals of port 9999), with scans off: still no abort.
    assert only(found("port_scan.pcap", scan_ports=0, reset_storm_count=1), "reset_storm") == []


def test_accept_queue_overflow():
    truth = json.loads((SAMPLES / "accept_queue_overflow.truth.json").read_text())
    held = [c["client"]["port"] for c in truth["connections"] if c["server"]["state"] == "SYN_RECEIVED"]
    [a] = found("accept_queue_overflow.pcap")
    d = a.details
    assert (a.type, a.severity, d["service"], d["count"], d["still_waiting"]) == (
        "accept_queue_overflow", "warning", "10.201.0.2:8080", 2, 2)
    assert sorted(int(e["client"].rsplit(":", 1)[1]) for e in d["examples"]) == sorted(held) and len(held) == 2
    # The SYN-ACK went out again at 1, 3 and 7 s; the clients waited from
    # their final ACK to the end of the capture, over 7 s.
    assert d["synack_retransmissions"] == 3 and d["total_synack_retransmissions"] == 6
    assert 7.0 < d["median_wait"] <= d["longest_wait"] < 8.0
    assert "raise the listen() backlog" in a.message


def cli(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_fail_on_exit_codes():
    reboot = str(SAMPLES / "half_open_reboot.pcap")
    normal = str(SAMPLES / "client_close_first.pcap")
    assert cli("analyze", "--fail-on", "half_open", reboot).exit_code == 1
    assert cli("analyze", "--fail-on", "time_wait_storm,syn_unanswered", reboot).exit_code == 0
    assert cli("analyze", "--fail-on", "warning", reboot).exit_code == 1
    assert cli("analyze", "--fail-on", "critical", reboot).exit_code == 0
    assert cli("analyze", "--fail-on", "critical", str(SAMPLES / "syn_flood.pcap")).exit_code == 1
    assert cli("analyze", "--fail-on", "info", str(SAMPLES / "port_reuse.pcap")).exit_code == 1
    assert cli("analyze", "--fail-on", "warning", str(SAMPLES / "port_reuse.pcap")).exit_code == 0
    assert cli("analyze", "--fail-on", "warning", normal).exit_code == 0
    res = CliRunner().invoke(main, ["analyze", "--fail-on", "half_opne", normal])
    assert res.exit_code == 2 and "half_opne" in res.output


def test_json_report_carries_anomalies():
    res = cli("analyze", "--format", "json", "--time-wait-threshold", "500", str(SAMPLES / "time_wait_storm.pcap"))
    rep = json.loads(res.output)
    assert rep["summary"]["anomalies"] == {"time_wait_storm": 1}
    [a] = rep["anomalies"]
    assert a["severity"] in ("warning", "critical") and a["details"]["peak"] == 600
    assert all(c["anomalies"] == ["time_wait_storm"] for c in rep["connections"])


def test_markdown_summary():
    res = cli("analyze", "--format", "markdown", str(SAMPLES / "close_wait_leak.pcap"))
    assert res.exit_code == 0
    assert "| severity | anomaly |" in res.output and "`lingering_close_wait`" in res.output
    # What the type means, once, under its heading (issue #15).
    assert res.output.count("*What it means:*") == 1 and "### " in res.output


def test_threshold_options_are_validated():
    res = CliRunner().invoke(main, ["analyze", "--port-range", "9-1", str(SAMPLES / "ipv6.pcap")])
    assert res.exit_code == 2
    res = CliRunner().invoke(main, ["analyze", "--time-wait-threshold", "150%", str(SAMPLES / "ipv6.pcap")])
    assert res.exit_code == 2


def test_timewait_command_on_storm():
    res = cli("timewait", "--format", "json", "--time-wait-threshold", "500", str(SAMPLES / "time_wait_storm.pcap"))
    view = json.loads(res.output)
    [h] = view["time_wait"]
    assert h["host"] == "10.201.0.1" and h["peak"] == 600 and h["over_threshold"]
    assert h["active_close_share"] == 1.0 and h["connections_opened"] == 600
    assert any("keep-alive" in a for a in h["advice"]) and any("SO_LINGER" in a for a in h["advice"])
    assert h["mean_lifetime"] < 0.1
    text = cli("timewait", str(SAMPLES / "time_wait_storm.pcap")).output
    assert "closes first" in text and "█" in text and "tcp_tw_reuse" in text


def test_time_wait_entered_at_the_capture_end_is_counted():
    # The peer's FIN is the capture's last packet, too recent to have been
    # answered: the client is taken to have it, FIN_WAIT_2 -> TIME_WAIT, and
    # that TIME_WAIT counts in the per-host view like any other.
    from tcpflow_analyze.model.states import TIME_WAIT
    from tcpflow_analyze.analysis.timewait import time_wait_by_host
    t = Trace()
    t.handshake()
    t.c("FA", 1001, 5001)
    t.s("A", 5001, 1002)
    t.s("FA", 5001, 1002, dt=0.01)
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        analysis = analyze([t.write(d + "/t.pcap")])
    [c] = analysis.connections
    assert c.client.state == TIME_WAIT and c.client.tw_entries == 1
    hosts = time_wait_by_host(analysis)
    assert hosts["10.0.0.1"].time_wait == 1 and hosts["10.0.0.1"].at_end == 1


def test_one_storming_host_is_counted_as_among_many(tmp_path):
    # With one host left at the threshold, time_wait_by_host compares each
    # endpoint's address with it rather than looking it up: the same
    # answer as when it is one of several.
    from tcpflow_analyze.analysis.timewait import time_wait_by_host
    t = Trace()
    for client in [("10.0.0.1", 40000 + i) for i in range(3)] + [("10.0.0.3", 41000)]:
        t.client = client
        t.handshake()
        t.c("FA", 1001, 5001)
        t.s("FA", 5001, 1002)
        t.c("A", 1002, 5002)
    analysis = analyze([t.write(str(tmp_path / "t.pcap"))])
    several = time_wait_by_host(analysis)
    assert {host: h.time_wait for host, h in several.items()} == {"10.0.0.1": 3, "10.0.0.3": 1}
    alone = time_wait_by_host(analysis, min_time_wait=2)
    assert list(alone) == ["10.0.0.1"]
    assert alone["10.0.0.1"].as_dict(60.0) == several["10.0.0.1"].as_dict(60.0)
    assert alone["10.0.0.1"].opened == 3 and alone["10.0.0.1"].active_closes == 3


def test_timewait_command_close_wait_view():
    view = json.loads(cli("timewait", "--format", "json", str(SAMPLES / "close_wait_leak.pcap")).output)
    [svc] = [d for d in view["close_wait"] if d["at_end"]]
    assert svc["service"] == "10.201.0.2:8080" and svc["at_end"] == 3 and svc["lingering"] == 3
    assert view["time_wait"] == []


def test_timewait_plot(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "tw.png"
    res = cli("timewait", "--plot", str(png), str(SAMPLES / "time_wait_storm.pcap"))
    assert res.exit_code == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_port_range_given_to_the_detectors_is_the_one_they_use():
    # Once a defect: a port range given to detectors.run (not through the
    # CLI, which parsed it itself) was ignored, and a share of it found nothing.
    analysis = analyze([str(SAMPLES / "time_wait_storm.pcap")])
    [storm] = only(detectors.run(analysis, {"time_wait_threshold": "10%", "port_range": "40000-40999"}),
                   "time_wait_storm")
    assert storm.details["threshold"] == 100 and storm.details["port_range_size"] == 1000
    # 10% of Linux's default range (28,232 ports) is more than this capture's 600.
    assert not only(detectors.run(analysis, {"time_wait_threshold": "10%"}), "time_wait_storm")


@pytest.mark.parametrize("values, named", [
    ({"port_range": "40000"}, "--port-range"),
    ({"time_wait_threshold": "150%"}, "--time-wait-threshold"),
    ({"close_wait_timeout": float("nan")}, "--close-wait-timeout"),
    ({"reset_storm_count": -1}, "--reset-storm-count"),
    ({"no_such_threshold": 1}, "no_such_threshold"),
])
def test_detector_options_are_validated_where_they_are_made(values, named):
    with pytest.raises(ValueError, match=named):
        detectors.config(values)
