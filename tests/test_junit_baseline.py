"""CI gates (issue #15): a capture with no TCP is a finding (no_tcp_traffic,
``--fail-on no-tcp``), ``--baseline OLD.json`` fails only on what is new,
and ``--format junit`` shows the findings as test results.  On kernel-made
samples and the public corpus."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from clirun import invoke
from conftest import PUBLIC, SAMPLES
from tcpflow_analyze import detectors
from tcpflow_analyze.analysis import analyze

UDP = str(SAMPLES / "udp_only.pcap")                    # tcpdump 'not tcp': UDP, ICMP and ARP only
LEAK = str(SAMPLES / "close_wait_leak.pcap")            # one lingering_close_wait (warning)
REFUSED = str(SAMPLES / "closed_port.pcap")             # one connection_refused (warning)
REUSE = str(SAMPLES / "port_reuse.pcap")                # info findings only
EMPTY_PUBLIC = ["tcpdump-empty.pcapng", "zeek-empty-header-only.pcap"]
WITH_TCP = sorted(p for p in SAMPLES.glob("*.pcap*") if p.name != "udp_only.pcap")


def no_tcp(path):
    return [a for a in detectors.run(analyze([str(path)])) if a.type == "no_tcp_traffic"]


# -- no_tcp_traffic ---------------------------------------------------------

@pytest.mark.parametrize("name", EMPTY_PUBLIC)
def test_an_empty_capture_has_no_tcp(name):
    if not PUBLIC.is_dir():
        pytest.skip("../shared/pcaps/public is absent")
    [a] = no_tcp(PUBLIC / name)
    assert a.severity == "warning" and a.connections == []
    assert "the capture holds no packets at all" in a.message
    assert a.details == {"packets": 0, "skipped": {}}


def test_a_capture_filtered_to_udp_says_what_it_held():
    analysis = analyze([UDP])
    [a] = [a for a in detectors.run(analysis) if a.type == "no_tcp_traffic"]
    # tcpdump's own count of what it wrote, from the truth file.
    truth = json.loads((SAMPLES / "udp_only.truth.json").read_text())
    written = int(re.search(r"(\d+) packets captured", truth["notes"])[1])
    skipped = analysis.stats.skipped
    assert a.details["packets"] == written and skipped["non_tcp"] and skipped["non_ip"]
    assert (f"{written} packets, none TCP: {skipped['non_tcp']} IP but not TCP (UDP, ICMP ...), "
            f"{skipped['non_ip']} not IP") in a.message
    assert "wrong interface" in a.message


def test_a_capture_of_another_protocol_on_a_cooked_link():
    if not PUBLIC.is_dir():
        pytest.skip("../shared/pcaps/public is absent")
    [a] = no_tcp(PUBLIC / "zeek-linux-sll2.pcap")       # ICMP only
    assert a.details["packets"] == 6 and "none TCP" in a.message


@pytest.mark.parametrize("path", WITH_TCP, ids=lambda p: p.name)
def test_a_capture_with_tcp_never_raises_it(path):
    assert no_tcp(path) == []


@pytest.mark.parametrize("gate", ["no-tcp", "no_tcp_traffic", "warning", "no-tcp,critical"])
def test_fail_on_no_tcp(gate):
    res = invoke("analyze", "--fail-on", gate, UDP)
    assert res.code == 1
    # (Another line may say, apart from any gate, that no TCP was seen.)
    line, = [ln for ln in res.stderr.splitlines() if ln.startswith("tcpflow-analyze: --fail-on")]
    assert "(no_tcp_traffic x1)" in line and "none TCP" in line
    assert invoke("analyze", "--fail-on", gate, LEAK if gate != "warning" else REUSE).code == 0


def test_fail_on_takes_types_spelled_with_dashes():
    assert invoke("analyze", "--fail-on", "lingering-close-wait", LEAK).code == 1
    assert invoke("analyze", "--fail-on", "no-tcp-traffic", LEAK).code == 0


def test_table_shows_the_finding():
    res = invoke("analyze", UDP)
    assert res.code == 0 and "no_tcp_traffic" in res.stdout


# -- --baseline -------------------------------------------------------------

def report_of(tmp_path, name, *captures):
    path = tmp_path / name
    res = invoke("analyze", "--format", "json", "-o", str(path), *captures)
    assert res.code == 0, res.stderr
    return path


def test_baseline_must_be_a_report_of_this_tool(tmp_path):
    wrong = {"missing.json": None, "capture.json": Path(LEAK).read_bytes(), "list.json": b"[1, 2]",
             "other.json": json.dumps({"schema_version": 1, "tool": {"name": "tshark"}}).encode(),
             "future.json": json.dumps({"schema_version": 99, "tool": {"name": "tcpflow-analyze"},
                                        "anomalies": []}).encode(),
             "broken.json": json.dumps({"schema_version": 1, "tool": {"name": "tcpflow-analyze"},
                                        "anomalies": [{"type": 3}]}).encode()}
    for name, body in wrong.items():
        path = tmp_path / name
        if body is not None:
            path.write_bytes(body)
        res = invoke("analyze", "--baseline", str(path), "--fail-on", "warning", LEAK)
        assert res.code == 2 and res.stdout == "", name
        line, = res.stderr.splitlines()
        assert line.startswith("tcpflow-analyze: error: --baseline: ") and str(path) in line, line
    for name in (str(tmp_path), ""):  # a directory, an empty name
        res = invoke("analyze", "--baseline", name, LEAK)
        assert res.code == 2 and res.stderr.startswith("tcpflow-analyze: error: --baseline: ")
        assert len(res.stderr.splitlines()) == 1, res.stderr


def test_the_same_capture_against_its_own_report_passes(tmp_path):
    old = report_of(tmp_path, "old.json", LEAK)
    res = invoke("analyze", "--format", "json", "--baseline", str(old), "--fail-on", "warning", LEAK)
    assert res.code == 0
    assert res.stderr.strip() == ("tcpflow-analyze: --fail-on matched 1 anomaly, all known from the "
                                  f"baseline ({old})")
    report = json.loads(res.stdout)
    assert report["summary"]["baseline"] == {"file": str(old), "new": 0, "known": 1, "gone": 0}
    assert [a["new"] for a in report["anomalies"]] == [False]


def test_one_new_problem_fails_naming_only_it(tmp_path):
    # Yesterday's report, today's capture with one more problem (a refused
    # connection merged in): the gate names the refusal only.
    old = report_of(tmp_path, "old.json", LEAK)
    res = invoke("analyze", "--format", "json", "--baseline", str(old), "--fail-on", "warning", LEAK, REFUSED)
    assert res.code == 1
    report = json.loads(res.stdout)
    new = [a for a in report["anomalies"] if a["new"]]
    assert [a["type"] for a in new] == ["connection_refused"]
    line, = res.stderr.strip().splitlines()
    assert line == ("tcpflow-analyze: --fail-on matched 1 new anomaly (connection_refused x1); 1 known from "
                    f"the baseline; first: {new[0]['message']}")
    assert "lingering_close_wait" not in line
    assert report["summary"]["baseline"] == {"file": str(old), "new": 1, "known": 1, "gone": 0}


def test_a_problem_gone_is_counted(tmp_path):
    old = report_of(tmp_path, "old.json", LEAK, REFUSED)
    res = invoke("analyze", "--format", "json", "--baseline", str(old), "--fail-on", "warning", LEAK)
    assert res.code == 0
    assert json.loads(res.stdout)["summary"]["baseline"] == {"file": str(old), "new": 0, "known": 1, "gone": 1}


def test_ci_can_overwrite_its_baseline_with_the_new_report(tmp_path):
    # A CI job keeps one file: read as the baseline, then replaced by today's report.
    kept = report_of(tmp_path, "kept.json", LEAK)
    res = invoke("analyze", "--format", "json", "-o", str(kept), "--baseline", str(kept), "--fail-on", "warning",
                 LEAK, REFUSED)
    assert res.code == 1 and "1 new anomaly (connection_refused x1)" in res.stderr
    assert json.loads(kept.read_text())["summary"]["baseline"]["new"] == 1
    again = invoke("analyze", "--baseline", str(kept), "--fail-on", "warning", LEAK, REFUSED)
    assert again.code == 0


def test_a_report_with_baseline_fields_follows_the_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(invoke("schema").stdout)
    old = report_of(tmp_path, "old.json", LEAK)
    res = invoke("analyze", "--format", "json", "--baseline", str(old), LEAK, REFUSED)
    jsonschema.validate(json.loads(res.stdout), schema)
    # Declared, not merely allowed: the schema is the fields' documentation.
    assert schema["properties"]["anomalies"]["items"]["properties"]["new"]["type"] == "boolean"
    assert set(schema["properties"]["summary"]["properties"]["baseline"]["required"]) == \
        set(json.loads(res.stdout)["summary"]["baseline"])
    # A report with the fields is a baseline too.
    again = tmp_path / "again.json"
    again.write_text(res.stdout)
    assert invoke("analyze", "--baseline", str(again), "--fail-on", "warning", LEAK, REFUSED).code == 0


# -- --format junit ---------------------------------------------------------

def junit(*args):
    res = invoke("analyze", "--format", "junit", *args)
    root = ET.fromstring(res.stdout)
    return res, root


def check_shape(root):
    """What JUnit readers (Jenkins' junit.xsd, GitLab, GitHub reporters)
    require, and that the counts add up."""
    assert root.tag == "testsuites"
    suite, = root.findall("testsuite")
    cases = suite.findall("testcase")
    failed = [c for c in cases if c.find("failure") is not None]
    assert suite.get("name") and int(suite.get("tests")) == len(cases)
    assert int(suite.get("failures")) == len(failed) and suite.get("errors") == "0" and suite.get("skipped") == "0"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == \
        (suite.get("tests"), suite.get("failures"), "0")
    # Ant's junit.xsd order: properties, testcases, system-out.
    assert [c.tag for c in suite][0] == "properties" and suite[-1].tag == "system-out"
    for case in cases:
        assert case.get("classname") == "tcpflow-analyze" and case.get("name")
        for failure in case.findall("failure"):
            assert failure.get("message") and failure.get("type") in detectors.SEVERITIES and failure.text
    return {c.get("name"): c for c in cases}, {c.get("name") for c in failed}


def test_junit_has_one_case_per_type_and_fails_warnings_by_default():
    res, root = junit(LEAK)
    assert res.code == 0  # without --fail-on the exit status does not gate
    cases, failed = check_shape(root)
    assert list(cases) == list(detectors.TYPES)
    assert failed == {"lingering_close_wait"}
    failure = cases["lingering_close_wait"].find("failure")
    report = json.loads(invoke("analyze", "--format", "json", LEAK).stdout)
    assert report["anomalies"][0]["message"] in failure.text
    props = {p.get("name"): p.get("value") for p in root.find("testsuite/properties")}
    assert props["packets"] == str(report["capture"]["packets"]) and props["gate"] == "warning"
    assert "connections" in root.find("testsuite/system-out").text


@pytest.mark.parametrize("gate, failed, code", [
    ("critical", set(), 0),
    ("lingering_close_wait", {"lingering_close_wait"}, 1),
    ("connection_refused", set(), 0),
])
def test_junit_fails_exactly_what_fail_on_matches(gate, failed, code):
    res, root = junit("--fail-on", gate, LEAK)
    assert res.code == code
    assert check_shape(root)[1] == failed
    assert root.find("testsuite/properties/property[@name='gate']").get("value") == gate


def test_junit_info_findings_fail_only_when_asked():
    _, quiet = junit(REUSE)
    cases, failed = check_shape(quiet)
    found = json.loads(invoke("analyze", "--format", "json", REUSE).stdout)["anomalies"]
    types = {a["type"] for a in found}
    assert failed == set() and types
    for a in found:  # listed, not failed
        assert a["message"] in cases[a["type"]].find("system-out").text
    _, strict = junit("--fail-on", "info", REUSE)
    assert check_shape(strict)[1] == types


def test_junit_with_baseline_fails_only_new(tmp_path):
    old = report_of(tmp_path, "old.json", LEAK)
    res, root = junit("--baseline", str(old), "--fail-on", "warning", LEAK, REFUSED)
    assert res.code == 1
    cases, failed = check_shape(root)
    assert failed == {"connection_refused"}
    assert "known from the baseline" in cases["lingering_close_wait"].find("system-out").text


def test_junit_no_tcp():
    _, root = junit(UDP)
    cases, failed = check_shape(root)
    assert failed == {"no_tcp_traffic"} and "none TCP" in cases["no_tcp_traffic"].find("failure").get("message")


def test_junit_escapes_a_hostile_file_name(tmp_path, monkeypatch):
    from test_text_escaping import HOSTILE, UNSAFE
    from tcpflow_analyze.model.text import printable
    monkeypatch.chdir(tmp_path)
    Path(HOSTILE).parent.mkdir(parents=True, exist_ok=True)
    Path(HOSTILE).write_bytes(Path(LEAK).read_bytes())
    res, root = junit(HOSTILE)
    assert not UNSAFE.findall(res.stdout)
    check_shape(root)
    assert printable(HOSTILE) in root.find("testsuite").get("name")
    assert root.find("testsuite/properties/property[@name='files']").get("value") == printable(HOSTILE)


def test_junit_to_a_file(tmp_path):
    out = tmp_path / "findings.xml"
    res = invoke("analyze", "--format", "junit", "-o", str(out), "--fail-on", "warning", LEAK)
    assert res.code == 1 and res.stdout == ""
    assert check_shape(ET.parse(out).getroot())[1] == {"lingering_close_wait"}


# -- a busy capture, as CI would see it -------------------------------------

def retimed(src: Path, dst: Path, start: float) -> str:
    """A classic little-endian pcap (the kernel samples) moved to begin at
    ``start``: an extra problem inside another capture's time, not years
    after it (a later end would age every open connection)."""
    import struct
    data = src.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    out, pos, first = bytearray(data[:24]), 24, None
    while pos < len(data):
        sec, usec, incl, orig = struct.unpack_from("<IIII", data, pos)
        first = sec if first is None else first
        out += struct.pack("<IIII", sec - first + int(start), usec, incl, orig) + data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
    dst.write_bytes(out)
    return str(dst)


@pytest.fixture(scope="module")
def busy(tmp_path_factory):
    """A generated busy host's capture (bench/gen_capture.py, deterministic)
    and its JSON report, as yesterday's CI run kept it."""
    import subprocess
    import sys
    d = tmp_path_factory.mktemp("busy")
    capture = d / "busy.pcap"
    subprocess.run([sys.executable, str(SAMPLES.parent / "bench" / "gen_capture.py"), "--packets", "60000", "-q",
                    "-o", str(capture)], check=True)
    return str(capture), report_of(d, "yesterday.json", str(capture))


def test_busy_capture_against_its_own_report_passes(busy):
    capture, old = busy
    baseline = json.loads(old.read_text())
    warnings = [a for a in baseline["anomalies"] if a["severity"] != "info"]
    assert len(warnings) > 50  # the point: many findings, every one matched
    res = invoke("analyze", "--baseline", str(old), "--fail-on", "warning", capture)
    assert res.code == 0 and f"matched {len(warnings)} anomalies, all known" in res.stderr


def test_busy_capture_with_one_more_problem_names_only_it(busy, tmp_path):
    capture, old = busy
    start = json.loads(old.read_text())["capture"]["start"]
    refused = retimed(Path(REFUSED), tmp_path / "refused.pcap", start + 1)
    res = invoke("analyze", "--format", "json", "--baseline", str(old), "--fail-on", "warning", capture, refused)
    assert res.code == 1
    report = json.loads(res.stdout)
    new = [a for a in report["anomalies"] if a["new"]]
    assert [(a["type"], a["details"]["service"]) for a in new] == [("connection_refused", "10.201.0.2:8081")]
    line = [ln for ln in res.stderr.splitlines() if "--fail-on" in ln][0]
    assert "1 new anomaly (connection_refused x1)" in line and line.endswith(new[0]["message"])
