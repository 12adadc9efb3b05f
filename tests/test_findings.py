"""Triage first (issue #15): every text output opens with the header, what
the report could not see (notices), and the findings summary worst first;
then the states, each type's groups with what it means once, then the
connections.  --top 0 drops the connections, --min-severity hides lesser
findings, and a notice always reaches stderr."""
import json
import re

import pytest
from clirun import invoke
from conftest import PUBLIC, SAMPLES

from tcpflow_analyze.detectors import DETECTORS

EXPLANATIONS = {d.TYPE: d.EXPLANATION for d in DETECTORS}

RANK = {"critical": 0, "warning": 1, "info": 2}
# Types of several severities: a storm (warning at 500), refused ports, a
# leak, port reuse (info), a SYN flood (critical).
MIXED = [str(SAMPLES / n) for n in ("port_reuse.pcap", "time_wait_storm.pcap", "closed_port.pcap",
                                     "close_wait_leak.pcap", "syn_flood.pcap")]
CUT = PUBLIC / "synthetic-cut-mid-record.pcap"
needs_public = pytest.mark.skipif(not PUBLIC.is_dir(), reason="no ../shared/pcaps/public")


def run(*args):
    res = invoke(*map(str, args))
    assert res.code == 0, res.stderr
    return res


def report(*args):
    return json.loads(run("analyze", "--format", "json", *args).stdout)


def _expected_order(rep):
    """The types worst first, worked out from the anomalies themselves:
    worst severity, then distinct connections (listed and folded)."""
    by = {}
    for a in rep["anomalies"]:
        t = by.setdefault(a["type"], {"sev": 2, "ids": set(), "folded": 0})
        t["sev"] = min(t["sev"], RANK[a["severity"]])
        t["ids"].update(a["connections"])
        t["folded"] += a["details"].get("omitted", 0) if isinstance(a["details"].get("omitted"), int) else 0
    return sorted(by, key=lambda k: (by[k]["sev"], -(len(by[k]["ids"]) + by[k]["folded"])))


def _line_of(lines, pattern) -> int:
    return next(i for i, line in enumerate(lines) if re.search(pattern, line))


def test_summary_is_worst_first_not_by_time():
    rep = report("--time-wait-threshold", "500", *MIXED)
    summary = rep["summary"]["findings"]
    kinds = [f["type"] for f in summary]
    assert kinds == _expected_order(rep)
    assert [RANK[f["severity"]] for f in summary] == sorted(RANK[f["severity"]] for f in summary)
    assert summary[0]["severity"] == "critical" and summary[-1]["type"] == "port_reuse_in_time_wait"
    # Not time order: the first anomaly in time is not what the summary leads with.
    assert rep["anomalies"][0]["type"] != kinds[0]
    for f in summary:
        mine = [a for a in rep["anomalies"] if a["type"] == f["type"]]
        assert f["anomalies"] == len(mine)
        assert f["worst"]["message"] in {a["message"] for a in mine}
        assert f["explanation"] == EXPLANATIONS[f["type"]]


def test_table_reads_summary_states_groups_then_connections():
    text = run("analyze", "--time-wait-threshold", "500", *MIXED).stdout
    lines = text.splitlines()
    summary = _line_of(lines, r"^severity\s+anomaly\s+groups\s+conns\s+worst")
    states = _line_of(lines, r"^state\s+clients\s+servers")
    first_type = _line_of(lines, r"^\w+ \((critical|warning|info)\): ")
    connections = _line_of(lines, r"^id\s+client\s+server")
    assert summary < states < first_type < connections
    for kind, meaning in EXPLANATIONS.items():
        # What a type means, once per type found, never once per anomaly.
        assert text.count(meaning[:60]) == (1 if f"\n{kind} (" in text else 0), kind
    assert text.count("what it means: ") == 5


def test_top_zero_keeps_summary_and_findings_without_connections():
    whole = run("analyze", "--time-wait-threshold", "500", *MIXED).stdout
    top0 = run("analyze", "--time-wait-threshold", "500", "--top", "0", *MIXED).stdout
    assert top0 == run("analyze", "--time-wait-threshold", "500", "--no-connections", *MIXED).stdout
    assert not re.search(r"(?m)^id\s+client\s+server", top0) and re.search(r"(?m)^id\s+client\s+server", whole)
    assert "showing 0 of" not in top0
    # Everything above the connections is the same.
    assert whole.startswith(top0.rstrip("\n"))
    md = run("analyze", "--format", "markdown", "--top", "0", *MIXED).stdout
    assert "Flagged connections" not in md and "| severity | anomaly |" in md
    rep, all_ = report("--top", "0", *MIXED), report(*MIXED)
    assert rep["connections"] == [] and all_["connections"]
    assert rep["summary"]["connections"] == len(all_["connections"])
    assert rep["summary"]["states"] == all_["summary"]["states"]


def test_min_severity_hides_lesser_findings_from_text_only():
    args = ("--time-wait-threshold", "500", *MIXED)
    text = run("analyze", "--min-severity", "warning", *args).stdout
    assert "port_reuse_in_time_wait" not in text.split("\nid ")[0].split("\n", 1)[1]
    assert "--min-severity warning: 1 info finding hidden" in text
    crit = run("analyze", "--min-severity", "critical", "--top", "0", *args).stdout
    everything = report(*args)["anomalies"]
    lesser = [a for a in everything if a["severity"] != "critical"]
    n = {s: sum(a["severity"] == s for a in lesser) for s in ("warning", "info")}
    worst = {a["type"] for a in everything if a["severity"] == "critical"}
    assert worst and all(f"\n{t} (critical)" in crit for t in worst)
    below_files = crit.split("\n", 1)[1]  # a sample's name is a type's
    assert all(a["type"] not in below_files for a in lesser if a["type"] not in worst)
    assert f"--min-severity critical: {n['warning']} warning, {n['info']} info findings hidden" in crit
    md = run("analyze", "--format", "markdown", "--min-severity", "warning", *args).stdout
    assert "port_reuse_in_time_wait" not in md.split("### Flagged")[0] and "1 info finding hidden" in md
    rep = report("--min-severity", "warning", *args)
    assert "port_reuse_in_time_wait" in rep["summary"]["anomalies"]


def test_busy_capture_leads_with_the_storm(bench_200k):
    res = run("analyze", bench_200k)
    lines = res.stdout.splitlines()
    storm = _line_of(lines, "time_wait_storm")
    assert storm < 15, lines[:20]
    # It is not the first anomaly in time: the summary ordered it there.
    assert _line_of(lines, r"^\w+ \((critical|warning|info)\): ") > storm
    md = run("analyze", "--format", "markdown", bench_200k).stdout
    assert md.index("`time_wait_storm`") < md.index("| state |")
    # Groups are cut in the text, with the way to all of them.
    assert "more services: --format json lists them all" in res.stdout
    assert res.stderr == ""


def test_evicted_and_folded_said_at_the_top_and_on_stderr(bench_200k, tmp_path):
    caps = ("--max-connections", "500", "--max-report-connections", "1000", bench_200k)
    out = tmp_path / "r.txt"
    res = invoke("analyze", "-o", str(out), *caps)
    assert res.code == 0 and res.stdout == ""
    [line] = res.stderr.splitlines()
    assert line.startswith("tcpflow-analyze: warning: ") and "evicted (--max-connections 500)" in line
    assert "folded (--max-report-connections 1000)" in line
    lines = out.read_text().splitlines()
    evicted, folded = _line_of(lines, r"^evicted\s+[\d,]+ connections evicted"), _line_of(lines, r"^folded\s+")
    assert evicted < folded < _line_of(lines, r"^severity\s+anomaly") < 10
    # The header's count is the states table's.
    rep = json.loads(invoke("analyze", "--format", "json", *caps).stdout)
    total = rep["summary"]["connections_total"]
    assert sum(rep["summary"]["states"]["client"].values()) == total > rep["summary"]["connections"]
    assert re.search(rf"(?m)^connections\s+{total:,} \({rep['summary']['connections']:,} listed", "\n".join(lines))
    assert [n["kind"] for n in rep["summary"]["notices"]] == ["evicted", "folded"]
    md = invoke("analyze", "--format", "markdown", "--top", "0", *caps).stdout
    assert md.index("**evicted**") < md.index("**folded**") < md.index("| severity |")


@needs_public
@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "csv", "html"])
def test_truncated_capture_is_said_whatever_the_format(fmt, tmp_path):
    res = invoke("analyze", "--format", fmt, str(CUT))
    assert res.code == 0
    [line] = res.stderr.splitlines()
    assert "truncated at byte 290" in line, line
    res_o = invoke("analyze", "--format", fmt, "-o", str(tmp_path / "r"), str(CUT))
    assert res_o.stderr == res.stderr and res_o.stdout == ""
    if fmt == "table":
        lines = res.stdout.splitlines()
        assert _line_of(lines, r"^truncated\s+.*damaged at byte 290 after packet 3") <= 7
    elif fmt == "markdown":
        assert res.stdout.splitlines()[4].startswith("> ⚠️ **truncated**")
    elif fmt == "json":
        [n] = json.loads(res.stdout)["summary"]["notices"]
        assert n["kind"] == "truncated" and "cut short" in n["message"]


@needs_public
def test_no_tcp_and_unreadable_packets_are_notices():
    [n] = report(str(PUBLIC / "zeek-linux-sll2.pcap"))["summary"]["notices"]
    assert n["kind"] == "no_tcp" and "none of the 6 packets is TCP" in n["message"]
    res = run("analyze", str(PUBLIC / "zeek-ipv4-truncated-broken-header.pcap"))
    assert re.search(r"(?m)^skipped\s+1 packet skipped, their TCP not analyzed: 1 malformed", res.stdout)
    assert "no TCP in the capture; 1 packet skipped as unreadable" in res.stderr


def test_clean_capture_has_no_notice():
    res = run("analyze", str(SAMPLES / "port_reuse.pcap"))
    assert res.stderr == "" and report(str(SAMPLES / "port_reuse.pcap"))["summary"]["notices"] == []


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_capture_loss_is_said_at_the_top_and_on_stderr(fmt):
    """sample_pcaps/lossy_close_mix lost 2% of its packets after the fact
    (scripts/make_lossy.py): above Zeek's 0.1% the report says so at its
    top and on the one stderr line, whatever the format."""
    lossy = SAMPLES / "lossy_close_mix.pcap"
    res = run("analyze", "--format", fmt, lossy)
    [line] = res.stderr.splitlines()
    assert re.search(r"capture loss 2\.\d+% \(\d+ of [\d,]+ ACKs saw unseen bytes\)", line), line
    if fmt == "table":
        lines = res.stdout.splitlines()
        assert _line_of(lines, r"^capture_loss\s+the capture lost packets: 2\.\d+% of ACKs") < \
            _line_of(lines, r"^state\s+clients\s+servers")
    elif fmt == "markdown":
        top = res.stdout.splitlines()[:8]
        assert any(ln.startswith("> ⚠️ **capture_loss**") for ln in top), top
    else:
        rep = json.loads(res.stdout)
        [n] = rep["summary"]["notices"]
        loss = rep["capture"]["capture_loss"]
        assert n["kind"] == "capture_loss" and f"{loss['percent']:g}%" in n["message"]
        assert f"the states of {rep['capture']['states_inferred']} connections are inferred" in n["message"]
    # The clean source of the same connections: no notice, no stderr line.
    clean = run("analyze", "--format", fmt, SAMPLES / "close_mix.pcap")
    assert clean.stderr == "" and "the capture lost packets" not in clean.stdout
    if fmt == "json":
        assert json.loads(clean.stdout)["summary"]["notices"] == []
