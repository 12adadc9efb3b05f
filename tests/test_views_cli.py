"""The ladder, states and HTML views from the command line."""
import json
import os

from click.testing import CliRunner
from conftest import SAMPLES

from tcpflow_analyze.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_ladder_by_id_and_by_tuple():
    path = str(SAMPLES / "client_close_first.pcap")
    by_id = run("ladder", "--conn", "1", "--no-color", path)
    assert by_id.exit_code == 0
    for state in ("SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "SYN_RECEIVED",
                  "CLOSE_WAIT", "LAST_ACK"):
        assert state in by_id.output
    by_tuple = run("ladder", "--conn", "10.201.0.2:8080-10.201.0.1:40001", "--no-color", path)
    assert by_tuple.output == by_id.output


def test_ladder_json_and_filters():
    res = run("ladder", "--format", "json", "--anomaly", "syn_to_time_wait", str(SAMPLES / "syn_to_time_wait.pcap"))
    doc = json.loads(res.output)
    events = doc["events"]
    assert events[-1]["client_state"] == "CLOSED" and events[-1]["server_state"] == "CLOSED"


def test_ladder_errors_are_one_line():
    path = str(SAMPLES / "client_close_first.pcap")
    # Two connections and no --conn: which one?  (One alone is drawn.)
    assert CliRunner().invoke(main, ["ladder", str(SAMPLES / "port_reuse.pcap")]).exit_code == 2
    res = CliRunner().invoke(main, ["ladder", "--conn", "99", path])
    assert res.exit_code == 2 and "Traceback" not in res.output
    res = CliRunner().invoke(main, ["ladder", "--port", "1", path])
    assert res.exit_code == 2 and "no connection matches" in res.output


def test_states_at_end_matches_kernel_truth():
    res = run("states", "--format", "json", "--at", "end", str(SAMPLES / "close_wait_leak.pcap"))
    view = json.loads(res.output)
    text = json.dumps(view)
    assert text.count("CLOSE_WAIT") + text.count("CLOSE-WAIT") >= 3
    table = run("states", "--at", "end", str(SAMPLES / "close_wait_leak.pcap")).output
    assert "CLOSE-WAIT  10.201.0.2:8080" in table and "FIN-WAIT-2" in table


def test_states_timelines_and_filters():
    res = run("states", "--width", "20", str(SAMPLES / "time_wait_storm.pcap"))
    assert "TIME_WAIT" in res.output and "peak 600" in res.output
    res = run("states", "--at", "end", "--port", "40001", str(SAMPLES / "time_wait_storm.pcap"))
    assert res.output.count("TIME-WAIT  10.201.0.1:") == 1


def test_states_bad_time():
    res = CliRunner().invoke(main, ["states", "--at", "noon", str(SAMPLES / "ipv6.pcap")])
    assert res.exit_code == 2 and "noon" in res.output


def test_html_report_file(tmp_path):
    out = tmp_path / "report.html"
    res = run("analyze", "--format", "html", "-o", str(out), str(SAMPLES / "challenge_ack_reboot.pcap"))
    assert res.exit_code == 0
    page = out.read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    assert "<svg" in page and "half_open" in page and "challenge" in page
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page
    assert oct(os.stat(out).st_mode & 0o777) != oct(0o600)


def test_views_that_read_twice_work_from_stdin(tmp_path):
    import subprocess
    import sys
    data = (SAMPLES / "challenge_ack_reboot.pcap").read_bytes()
    for args in (["ladder", "--conn", "2", "--no-color", "-"], ["analyze", "--format", "html", "-"]):
        proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", *args], input=data, capture_output=True)
        assert proc.returncode == 0, proc.stderr
        assert b"ESTABLISHED" in proc.stdout
    assert not [p for p in os.listdir(tempfile_dir()) if p.startswith("tcpflow-analyze-stdin-")]


def tempfile_dir():
    import tempfile
    return tempfile.gettempdir()
