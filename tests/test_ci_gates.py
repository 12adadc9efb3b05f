"""Triage in CI (issue #15, first items): a --fail-on gate that explains
itself, an empty gate refused, and --top that cuts the list, never the counts.
All on kernel-made samples."""
from __future__ import annotations

import json
from pathlib import Path

from clirun import invoke

SAMPLES = Path(__file__).resolve().parent.parent / "sample_pcaps"
LEAK = str(SAMPLES / "close_wait_leak.pcap")      # one lingering_close_wait (warning), 3 connections
REUSE = str(SAMPLES / "port_reuse.pcap")          # two instances of one 4-tuple, different end states


def test_tripped_gate_names_what_matched_even_with_o(tmp_path):
    out = tmp_path / "r.json"
    res = invoke("analyze", "--format", "json", "-o", str(out), "--fail-on", "warning", LEAK)
    assert res.code == 1
    line, = res.stderr.strip().splitlines()
    report = json.loads(out.read_text())
    first = [a for a in report["anomalies"] if a["severity"] in ("warning", "critical")][0]
    assert line.startswith("tcpflow-analyze: --fail-on matched 1 anomaly (lingering_close_wait x1); first: ")
    assert line.endswith(first["message"])


def test_gate_that_does_not_trip_is_silent():
    res = invoke("analyze", "--fail-on", "critical", LEAK)
    assert res.code == 0 and res.stderr == ""


def test_gate_counts_each_type():
    res = invoke("analyze", "--format", "json", "--fail-on", "info", REUSE)
    assert res.code == 1
    report = json.loads(res.stdout)
    counts = {}
    for a in report["anomalies"]:
        counts[a["type"]] = counts.get(a["type"], 0) + 1
    kinds = ", ".join(f"{t} x{n}" for t, n in counts.items())
    assert f"matched {len(report['anomalies'])} " in res.stderr and f"({kinds})" in res.stderr


def test_empty_gate_is_a_usage_error():
    for value in ("", " , "):
        res = invoke("analyze", "--fail-on", value, LEAK)
        assert res.code == 2 and res.stdout == ""
        assert res.stderr.strip() == ("tcpflow-analyze: error: --fail-on: the list is empty; "
                                      "give anomaly types or a severity")


def test_top_cuts_the_list_not_the_counts():
    whole = json.loads(invoke("analyze", "--format", "json", REUSE).stdout)
    top = json.loads(invoke("analyze", "--format", "json", "--top", "1", REUSE).stdout)
    assert len(whole["connections"]) == 2 and len(top["connections"]) == 1
    assert top["summary"]["connections"] == whole["summary"]["connections"] == 2
    assert top["summary"]["states"] == whole["summary"]["states"]
    assert top["selection"] == {"matched": 2, "shown": 1, "total": 2, "sort": "id", "top": 1}
    table = invoke("analyze", "--top", "1", REUSE).stdout
    assert "connections  2\n" in table and "showing 1 of 2 matching connections" in table


def test_filters_still_narrow_the_counts():
    # A filter chooses what the report is about; --top only how much is listed.
    narrowed = json.loads(invoke("analyze", "--format", "json", "--state", "ESTABLISHED", REUSE).stdout)
    assert narrowed["summary"]["connections"] == len(narrowed["connections"]) == 1
