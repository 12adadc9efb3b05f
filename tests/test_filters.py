"""--host, --port, --state, --anomaly, --since/--until, --sort, --top, csv and colour."""
import csv
import io
import json

from click.testing import CliRunner
from conftest import SAMPLES

from tcpflow_analyze.cli import main
from tcpflow_analyze.analysis.filters import parse_time


def run(*args):
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return res


def ids(*args):
    res = run("analyze", "--format", "json", *args)
    assert res.exit_code == 0, res.output
    return [c["id"] for c in json.loads(res.output)["connections"]]


LEAK = str(SAMPLES / "close_wait_leak.pcap")   # 3 CLOSE_WAIT leaks (40001-40003) + a pinger (40100)
STALE = str(SAMPLES / "stale_syn.pcap")        # an injected SYN from 45555, then a normal connection


def test_state_filter_with_side():
    assert ids("--state", "CLOSE_WAIT", LEAK) == [1, 2, 3]
    assert ids("--state", "server:CLOSE_WAIT", LEAK) == [1, 2, 3]
    assert ids("--state", "client:CLOSE_WAIT", LEAK) == []
    assert ids("--state", "estab", LEAK) == [4]


def test_port_and_host_filters():
    assert ids("--port", "40002", LEAK) == [2]
    assert ids("--port", "40002", "--port", "40100", LEAK) == [2, 4]
    assert ids("--host", "10.201.0.0/24", LEAK) == [1, 2, 3, 4]
    assert ids("--host", "10.9.9.9", LEAK) == []
    assert ids("--host", "fd00::/8", LEAK) == []


def test_anomaly_filter_keeps_matching_anomalies_only():
    res = run("analyze", "--format", "json", "--anomaly", "rst_on_stale_syn", STALE)
    rep = json.loads(res.output)
    assert [c["client"]["port"] for c in rep["connections"]] == [45555]
    assert [a["type"] for a in rep["anomalies"]] == ["rst_on_stale_syn"]
    assert rep["selection"]["matched"] == 1 and rep["selection"]["total"] == 2


def test_since_until():
    rep = json.loads(run("analyze", "--format", "json", LEAK).output)
    start = rep["capture"]["start"]
    firsts = {c["id"]: c["first_seen"] for c in rep["connections"]}
    # The pinger lives to the end; the leaks' last packets are in the first second.
    assert ids("--since", "+5s", LEAK) == [4]
    assert ids("--until", str(firsts[2] - 1e-6), LEAK) == [1]
    assert ids("--since", "start", "--until", "end", LEAK) == [1, 2, 3, 4]
    assert abs(parse_time("+2.5s", start, None) - (start + 2.5)) < 1e-9
    assert parse_time("2024-01-01T00:00:00Z", None, None) == 1704067200.0
    bad = CliRunner().invoke(main, ["analyze", "--since", "yesterday", LEAK])
    assert bad.exit_code == 2 and "yesterday" in bad.output


def test_sort_and_top():
    assert ids("--sort", "packets", "--top", "1", LEAK) == [4]
    res = run("analyze", "--top", "2", LEAK)
    assert "showing 2 of 4 matching connections" in res.output


def test_bad_filter_values_are_usage_errors():
    for args in (["--state", "WAITING"], ["--host", "not-an-ip"], ["--anomaly", "nope"]):
        res = CliRunner().invoke(main, ["analyze", *args, LEAK])
        assert res.exit_code == 2, args


def test_fail_on_respects_the_selection():
    assert run("analyze", "--fail-on", "lingering_close_wait", LEAK).exit_code == 1
    assert run("analyze", "--fail-on", "lingering_close_wait", "--port", "40100", LEAK).exit_code == 0


def test_csv_output():
    res = run("analyze", "--format", "csv", str(SAMPLES / "port_reuse.pcap"))
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert [r["id"] for r in rows] == ["1", "2"]
    assert rows[1]["client_state"] == "ESTABLISHED" and rows[1]["anomalies"] == "port_reuse_in_time_wait"
    assert rows[0]["history"] == "ShADadfF"


def test_colour_only_when_asked_or_on_a_terminal():
    plain = run("analyze", LEAK).output
    assert "\x1b[" not in plain  # CliRunner's stdout is not a terminal
    coloured = run("analyze", "--color", LEAK).output
    assert "\x1b[35mCLOSE_WAIT\x1b[0m" in coloured
    assert "\x1b[33mwarning\x1b[0m" in coloured


def test_timewait_command_takes_filters():
    res = run("timewait", "--format", "json", "--port", "40100", LEAK)
    view = json.loads(res.output)
    assert view["close_wait"] == []
