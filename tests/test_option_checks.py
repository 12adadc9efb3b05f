"""Option checks from issue #15's validation list: an empty time window,
a capture given twice, TERM=dumb."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

from clirun import invoke
from conftest import ss_truth

from tcpflow_analyze import cli

SAMPLES = Path(__file__).resolve().parent.parent / "sample_pcaps"
REUSE = str(SAMPLES / "port_reuse.pcap")


def test_since_after_until_is_a_usage_error():
    res = invoke("analyze", "--since", "+0.5", "--until", "+0.1", REUSE)
    assert res.code == 2 and res.stdout == ""
    assert res.stderr.strip() == ("tcpflow-analyze: error: --since +0.5 is after --until +0.1: "
                                  "no moment is in both")
    assert invoke("analyze", "--since", "+0.1", "--until", "+0.1", REUSE).code == 0


def test_a_capture_given_twice_is_read_once(tmp_path):
    once = json.loads(invoke("analyze", "--format", "json", REUSE).stdout)
    link = tmp_path / "again.pcap"
    os.symlink(REUSE, link)
    for again in (REUSE, str(link)):
        res = invoke("analyze", "--format", "json", REUSE, again)
        assert res.code == 0
        twice = json.loads(res.stdout)
        assert twice["capture"]["files"] == [REUSE]
        assert twice["capture"]["packets"] == once["capture"]["packets"]
        assert twice["connections"] == once["connections"]
        assert res.stderr.strip() == f"tcpflow-analyze: warning: {again} is {REUSE} again: read once"


def test_dumb_terminal_gets_no_colour(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr(cli.sys, "stdout", Tty())
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert cli.use_color(None, None) is True
    monkeypatch.setenv("TERM", "dumb")
    assert cli.use_color(None, None) is False
    assert cli.use_color(True, None) is True  # --color still wins


# ---------------------------------------------------------------------- durations and thresholds
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections import defaultdict  # noqa: E402

import click  # noqa: E402
import pytest  # noqa: E402

from tcpflow_analyze import detectors  # noqa: E402

STORM = str(SAMPLES / "time_wait_storm.pcap")
# Every command that analyzes captures shares the analysis and filter options.
ANALYZING = sorted(name for name, cmd in cli.main.commands.items()
                   if any(p.name == "captures" for p in cmd.params))


def seconds_options(command: str) -> list[str]:
    return [p.opts[-1] for p in cli.main.commands[command].params if isinstance(p.type, cli.Seconds)]


def test_every_duration_option_is_checked_by_one_type():
    # A FloatRange lets nan and inf through (nan < 0 is false): no plain
    # float option is left, in any command.
    assert {"analyze", "ladder", "states", "timewait"} <= set(ANALYZING)
    floats = {p.opts[-1] for name in ANALYZING for p in cli.main.commands[name].params
              if isinstance(p.type, click.types.FloatParamType)}
    assert not floats
    thresholds = {o.flag for o in detectors.all_options() if o.type is float}
    for name in ANALYZING:
        assert {"--time-wait", "--fin-timeout", "--scheduler-timeout"} | thresholds <= set(seconds_options(name))


def json_format(command: str) -> list[str]:
    """``--format json`` where the command has it: no half a document may be written."""
    fmt = [p for p in cli.main.commands[command].params if p.name == "fmt"]
    return ["--format", "json"] if fmt and "json" in getattr(fmt[0].type, "choices", ()) else []


@pytest.mark.parametrize("command", ANALYZING)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e400", "ten"])
def test_a_bad_duration_is_a_usage_error_naming_its_option(command, value):
    for option in seconds_options(command):
        res = invoke(command, *json_format(command), option, value, STORM)
        assert res.code == 2 and res.stdout == "", (option, value, res.stdout[:200])
        error = res.stderr.strip().splitlines()[-1]
        assert error.startswith(f"Error: Invalid value for '{option}': "), (option, error)
        assert "Invalid value" not in res.stderr.replace(error, "")  # that option alone


def test_the_check_comes_before_the_capture_is_read(tmp_path):
    res = invoke("analyze", "--time-wait", "nan", str(tmp_path / "missing.pcap"))
    assert res.code == 2 and "Invalid value for '--time-wait'" in res.stderr and "no such file" not in res.stderr


def test_zero_where_it_means_nothing():
    # 0 s of TIME_WAIT or FIN_WAIT_2 is a stack to model (the socket goes at
    # once); 0 s of CLOSE_WAIT would flag every passive close, a 0 s window
    # or a threshold of 0 resets would make every RST a storm.
    assert invoke("analyze", "--time-wait", "0", "--fin-timeout", "0", "--syn-retries", "0", STORM).code == 0
    positive = [o.flag for o in detectors.all_options() if o.positive] + ["--scheduler-timeout"]
    assert {"--close-wait-timeout", "--half-open-timeout", "--reset-storm-window", "--reset-storm-count",
            "--syn-flood-threshold"} <= set(positive)
    for option in positive:
        res = invoke("analyze", option, "0", STORM)
        assert res.code == 2 and f"Invalid value for '{option}'" in res.stderr, option


@pytest.mark.parametrize("option, value", [
    ("--time-wait-threshold", "inf"), ("--time-wait-threshold", "nan%"), ("--time-wait-threshold", "0"),
    ("--port-range", "9-1"), ("--port-range", "low-high"),
])
def test_text_thresholds_are_checked_as_parsed(option, value, tmp_path):
    res = invoke("analyze", option, value, str(tmp_path / "missing.pcap"))
    assert res.code == 2 and f"Invalid value for '{option}'" in res.stderr, res.stderr
    assert "invalid literal" not in res.stderr


@pytest.mark.parametrize("args", [
    ["analyze", "--since", "nan"], ["analyze", "--until", "inf"], ["analyze", "--since", "-5"],
    ["states", "--at", "nan"], ["states", "--format", "json", "--at", "1e400"], ["states", "--at", "+inf"],
    ["analyze", "--until", "yesterday"], ["analyze", "--host", "not-an-ip"], ["analyze", "--table-format", "x"],
])
def test_bad_moments_and_filters_are_usage_errors_as_parsed(args, tmp_path):
    # Before: --at 1e400 with --format json was an internal error, --since nan
    # selected every connection; the filters failed only after the analysis.
    res = invoke(*args, str(tmp_path / "missing.pcap"))
    assert res.code == 2 and f"Invalid value for '{args[-2]}'" in res.stderr, res.stderr
    assert "internal error" not in res.stderr


# ---------------------------------------------------------------------- ss's state names
def ss_sockets(sample: str) -> dict[str, set]:
    """ss's state name -> {(local, peer)} of the connected sockets ss listed
    at the end of a kernel sample."""
    truth = json.loads((SAMPLES / f"{sample}.truth.json").read_text())
    out = defaultdict(set)
    for side in truth["ss"]:
        for sock in ss_truth.sockets(truth, side):
            if sock["state"] != "LISTEN":
                out[sock["state"]].add((sock["local"], sock["peer"]))
    return out


def selected_sockets(path: str, *args) -> set:
    res = invoke("analyze", "--format", "json", *args, path)
    assert res.code == 0, res.stderr
    conns = json.loads(res.stdout)["connections"]
    return {(f"{c[a]['ip']}:{c[a]['port']}", f"{c[b]['ip']}:{c[b]['port']}")
            for c in conns for a, b in (("client", "server"), ("server", "client"))}


def test_ss_state_names_select_what_ss_listed():
    seen = set()
    for sample in ("close_wait", "syn_flood", "syn_dropped", "port_reuse", "client_close_first"):
        path = str(SAMPLES / f"{sample}.pcap")
        for state, sockets in ss_sockets(sample).items():
            seen.add(state)
            ours = selected_sockets(path, "--state", state)
            assert sockets <= ours, (sample, state)
            for spelling in (state.lower(), state.replace("-", "_").title()):
                assert selected_sockets(path, "--state", spelling) == ours, (sample, spelling)
    assert {"SYN-RECV", "SYN-SENT", "ESTAB", "CLOSE-WAIT", "FIN-WAIT-2", "TIME-WAIT"} <= seen


def test_every_ss_name_is_a_state():
    from tcpflow_analyze.model.states import SS_NAMES, STATE_NAMES, parse_state
    for name, ss in SS_NAMES.items():
        if ss != "?":
            for spelling in (ss, ss.lower(), ss.replace("-", "_"), ss.lower().replace("-", " ")):
                assert STATE_NAMES[parse_state(spelling)] == name
    # ss's name for a TCP socket in CLOSE; `states --at` prints it.
    closed = str(SAMPLES / "closed_port.pcap")
    assert selected_sockets(closed, "--state", "UNCONN") == selected_sockets(closed, "--state", "CLOSED") != set()
    res = invoke("analyze", "--state", "SYN-RECEIVING", STORM)
    assert res.code == 2 and "SYN-RECV" in res.stderr and "Invalid value for '--state'" in res.stderr


# ---------------------------------------------------------------------- standard input at a terminal
WAITING = "tcpflow-analyze: reading a capture from standard input (pipe one in, or press Ctrl-D)"


def _run_module(*args, **kw):
    env = dict(os.environ, PYTHONPATH=str(SAMPLES.parent))
    return subprocess.Popen([sys.executable, "-m", "tcpflow_analyze", *args], cwd=SAMPLES.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def test_a_terminal_on_stdin_is_told_what_is_awaited():
    import pty
    import select
    master, slave = pty.openpty()
    try:
        proc = _run_module("analyze", "-", stdin=slave)
        os.close(slave)
        ready, _, _ = select.select([proc.stderr], [], [], 60)
        assert ready, "nothing said while waiting on the terminal"
        first = os.read(proc.stderr.fileno(), 4096).decode()
        assert first.splitlines()[0] == WAITING
        os.write(master, b"\x04")  # Ctrl-D: end of input
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(master)
    assert proc.returncode == 2 and out == b"" and "empty" in err.decode()


def test_a_pipe_on_stdin_is_read_without_a_word():
    with open(REUSE, "rb") as capture:
        proc = _run_module("analyze", "-", stdin=subprocess.PIPE)
        out, err = proc.communicate(capture.read(), timeout=60)
    assert proc.returncode == 0 and b"connections" in out and err == b""


# ---------------------------------------------------------------------- ladder without --conn
def test_ladder_draws_the_only_connection():
    res = invoke("ladder", str(SAMPLES / "closed_port.pcap"))
    assert res.code == 0, res.stderr
    assert res.stdout.startswith("connection 1: 10.201.0.1:40001 → 10.201.0.2:8081")


def test_ladder_names_the_choices():
    res = invoke("ladder", STORM)
    assert res.code == 2 and res.stdout == ""
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("tcpflow-analyze: error: the capture holds 600 connections: say which with --conn")
    assert "1 = 10.201.0.1:40001-10.201.0.2:8080, 2 = 10.201.0.1:40002-10.201.0.2:8080" in line
    assert "'analyze' lists all 600" in line
    # A named 4-tuple is one --conn takes.
    assert invoke("ladder", "--conn", "10.201.0.1:40002-10.201.0.2:8080", STORM).stdout.startswith("connection 2:")
