"""Grouping (issue #15): a detector that finds one instance per connection
reports one finding per service (or host, or scanning source), with every
connection id kept; a port scan is one finding, not one per port."""
import json

import jsonschema
import pytest
from clirun import invoke
from conftest import ROOT, SAMPLES

from tcpflow_analyze import detectors
from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.detectors.base import GROUP_EXAMPLES, GROUP_FIELDS
from tcpflow_analyze.model.states import TIME_WAIT
from tcpflow_analyze.views.report import build_report

SCHEMA = json.loads((ROOT / "tcpflow_analyze" / "views" / "report.schema.json").read_text())


@pytest.fixture(scope="module")
def bench(bench_200k):
    """A generated busy host: hundreds of half-open and reused-port connections."""
    analysis = analyze([bench_200k])
    return analysis, build_report(analysis, detectors.run(analysis))


def of_type(report, kind):
    return [a for a in report["anomalies"] if a["type"] == kind]


def follows_the_convention(a):
    """details names one place, counts its instances, spans them, and keeps
    a few examples whose connections are the finding's."""
    d = a["details"]
    named = [name for name in GROUP_FIELDS if d.get(name)]
    assert len(named) == 1, (a["type"], named)
    assert isinstance(d["count"], int) and d["count"] >= 1, a["type"]
    assert d["first_time"] is not None and d["first_time"] <= d["last_time"], a["type"]
    for example in d.get("examples", []):
        assert set(example["connections"]) <= set(a["connections"]), a["type"]
    assert len(d.get("examples", [])) <= GROUP_EXAMPLES


def test_half_open_is_one_finding_per_service_and_kind(bench):
    analysis, report = bench
    found = of_type(report, "half_open")
    keys = [(a["details"]["service"], a["details"]["kind"]) for a in found]
    assert len(found) == len(set(keys))
    peer_reset = [a for a in found if a["details"]["kind"] == "peer_reset"]
    # One instance per connection: the ids are exact, each in one group only.
    ids = [i for a in peer_reset for i in a["connections"]]
    assert len(ids) == len(set(ids)) == sum(a["details"]["count"] for a in peer_reset)
    assert len(peer_reset) < len(ids)          # a busy capture groups
    many = max(peer_reset, key=lambda a: a["details"]["count"])
    d = many["details"]
    assert d["count"] > 1 and len(d["examples"]) == min(d["count"], GROUP_EXAMPLES)
    assert "lost_by" in d["examples"][0] and "lost_by" not in d  # it differs between instances
    assert d["service"] in many["message"] and f"{d['count']} clients" in many["message"]
    assert many["time"] == d["first_time"] == d["examples"][0]["time"]
    # Each connection still names its anomaly.
    by_id = {c["id"]: c for c in report["connections"]}
    assert all("half_open" in by_id[i]["anomalies"] for i in ids)


def test_port_reuse_is_one_finding_per_service(bench):
    analysis, report = bench
    found = of_type(report, "port_reuse_in_time_wait")
    services = [a["details"]["service"] for a in found]
    assert len(services) == len(set(services))
    reused = sorted(c.id for c in analysis.connections
                    if TIME_WAIT in (c.rare.reused_peer_state, c.rare.reused_own_state))
    assert sorted(i for a in found for i in a["connections"]) == reused
    assert sum(a["details"]["count"] for a in found) == len(reused) > len(found)


def test_every_finding_follows_the_convention(bench):
    _, report = bench
    assert {a["type"] for a in report["anomalies"]} >= {
        "half_open", "port_reuse_in_time_wait", "connection_refused", "syn_unanswered", "time_wait_storm"}
    for a in report["anomalies"]:
        follows_the_convention(a)
    jsonschema.validate(report["anomalies"], SCHEMA["properties"]["anomalies"])


# The kernel-made samples between them raise every other type; the scan
# sample with scans off raises rst_on_stale_syn, and rst_abort's one abort
# is a reset_storm at a threshold of 1.
SAMPLE_CASES = [(name, {}) for name in (
    "half_open_reboot.pcap", "half_open_silence.pcap", "challenge_ack_reboot.pcap", "syn_flood.pcap",
    "stale_syn.pcap", "close_wait_leak.pcap", "closed_port.pcap", "syn_dropped.pcap", "port_reuse.pcap",
    "syn_to_time_wait.pcap", "port_scan.pcap", "accept_queue_overflow.pcap")] + [
    ("time_wait_storm.pcap", {"time_wait_threshold": "500"}), ("port_scan.pcap", {"scan_ports": 0}),
    ("rst_abort.pcap", {"reset_storm_count": 1})]


def sample_report(name, cfg):
    analysis = analyze([str(SAMPLES / name)])
    return build_report(analysis, detectors.run(analysis, cfg))


@pytest.mark.parametrize("name,cfg", SAMPLE_CASES,
                         ids=[name + "".join(f"-{k}={v}" for k, v in cfg.items()) for name, cfg in SAMPLE_CASES])
def test_sample_findings_follow_the_convention(name, cfg):
    report = sample_report(name, cfg)
    assert report["anomalies"]
    for a in report["anomalies"]:
        follows_the_convention(a)


def test_every_type_is_checked_somewhere():
    types = {a["type"] for name, cfg in SAMPLE_CASES for a in sample_report(name, cfg)["anomalies"]}
    assert set(detectors.TYPES) - types <= {"no_tcp_traffic"}


# The messages the kernel samples' one-instance findings had before grouping.
ONE_INSTANCE = {
    "half_open_reboot.pcap": "10.201.0.1:40001 answered 10.201.0.2:8080 with a bare RST (no ACK) although it "
                             "never closed the connection: it had lost it (crashed or rebooted); "
                             "10.201.0.2:8080 kept it ESTABLISHED until then",
    "port_reuse.pcap": "10.201.0.1:40001 opened a new connection to 10.201.0.2:8080 on a 4-tuple the server "
                       "still held in TIME_WAIT; the kernel accepted it",
    "stale_syn.pcap": "10.201.0.1:45555 answered 10.201.0.2:8080's SYN-ACK with RST: the SYN was a SYN its "
                      "sender does not recognise (stale, replayed before the capture, or forged)",
}


@pytest.mark.parametrize("name", sorted(ONE_INSTANCE))
def test_one_instance_reads_as_before(name):
    [a] = sample_report(name, {})["anomalies"]
    assert a["message"] == ONE_INSTANCE[name] and a["details"]["count"] == 1


def test_port_scan_is_one_finding_per_source():
    report = sample_report("port_scan.pcap", {})
    scans = {a["details"]["source"]: a for a in of_type(report, "port_scan")}
    assert sorted(scans) == ["10.201.0.1", "10.201.0.6"]
    connect = scans["10.201.0.1"]["details"]
    assert (connect["target"], connect["ports"], connect["port_ranges"]) == ("10.201.0.2", 200, "8000-8199")
    assert (connect["refused"], connect["unanswered"], connect["answered"]) == (196, 1, 3)
    assert connect["answered_ports"] == [8022, 8080, 8181] and connect["unanswered_ports"] == [8100]
    syn_scan = scans["10.201.0.6"]["details"]
    assert (syn_scan["ports"], syn_scan["refused"], syn_scan["answered"]) == (32, 29, 3)
    assert "port scan" in scans["10.201.0.1"]["message"] and "200 ports" in scans["10.201.0.1"]["message"]
    # The scans' connections are told once: the burst of refusals from three
    # ordinary clients is all that connection_refused still reports.
    [refused] = of_type(report, "connection_refused")
    assert refused["details"]["service"] == "10.201.0.2:9999" and refused["details"]["count"] == 6
    assert {a["type"] for a in report["anomalies"]} == {"port_scan", "connection_refused"}
    claimed = {i for a in scans.values() for i in a["connections"]}
    assert len(claimed) == 232 and not claimed & set(refused["connections"])


def test_without_scans_the_probes_are_told_port_by_port():
    report = sample_report("port_scan.pcap", {"scan_ports": 0})
    counts = report["summary"]["anomalies"]
    # One refusal per closed port, a SYN-ACK reset per open port of the SYN
    # scan, and the filtered port.  The target's 231 RSTs are refusals, not
    # aborts: no reset_storm.
    assert counts == {"connection_refused": 197, "syn_unanswered": 1, "rst_on_stale_syn": 3}
    stale = of_type(report, "rst_on_stale_syn")
    assert sorted(a["details"]["service"] for a in stale) == [f"10.201.0.2:{p}" for p in (8022, 8080, 8181)]
    # Above the threshold: 32 ports are no scan, 200 are.
    assert len(of_type(sample_report("port_scan.pcap", {"scan_ports": 33}), "port_scan")) == 1


def test_scan_ports_option_on_the_command_line():
    run = invoke("analyze", "--format", "json", "--scan-ports", "201", str(SAMPLES / "port_scan.pcap"))
    assert run.code == 0
    assert "port_scan" not in json.loads(run.stdout)["summary"]["anomalies"]
