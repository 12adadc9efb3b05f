"""The command line, run in-process with click's runner; as a subprocess only where the process is what is
tested (the console entry point's exits, Ctrl-C, real pipes)."""
import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from clirun import invoke
from pcapgen import Trace

from tcpflow_analyze.cli import main

C, S = 1000, 5000


def closed_trace(port=40000, t0=1_700_000_000.0):
    t = Trace(client=("10.0.0.1", port), t0=t0).handshake(C, S)
    t.c("FA", C + 1, S + 1).s("FA", S + 1, C + 2).c("A", C + 2, S + 2)
    return t


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_json_report_has_contract_shape(tmp_path):
    path = closed_trace().write(str(tmp_path / "t.pcap"))
    res = run("analyze", "--format", "json", path)
    assert res.exit_code == 0
    rep = json.loads(res.output)
    assert rep["schema_version"] == 1
    assert rep["tool"]["name"] == "tcpflow-analyze"
    assert rep["capture"]["packets"] == 6 and rep["capture"]["tcp_packets"] == 6
    assert rep["capture"]["truncated"] is False
    [c] = rep["connections"]
    assert c["id"] == 1
    assert c["client"] == {"ip": "10.0.0.1", "port": 40000, "state": "TIME_WAIT"}
    assert c["server"] == {"ip": "10.0.0.2", "port": 80, "state": "CLOSED"}
    assert c["handshake"] == "complete" and c["close"] == "fin" and c["conn_state"] == "SF"
    assert rep["summary"]["states"] == {"client": {"TIME_WAIT": 1}, "server": {"CLOSED": 1}}


def test_table_report(tmp_path):
    path = closed_trace().write(str(tmp_path / "t.pcap"))
    res = run("analyze", path)
    assert res.exit_code == 0
    assert "TIME_WAIT" in res.output and "10.0.0.1:40000" in res.output
    assert "No anomalies found." in res.output
    res = run("analyze", "--table-format", "github", path)
    assert "| id " in res.output


def test_unknown_table_format_is_a_usage_error(tmp_path):
    path = closed_trace().write(str(tmp_path / "t.pcap"))
    res = CliRunner().invoke(main, ["analyze", "--table-format", "nonsense", path])
    assert res.exit_code == 2


@pytest.mark.parametrize("make,needle", [
    (lambda d: str(d / "missing.pcap"), "no such file"),
    (lambda d: str(d), "is a directory"),
    (lambda d: (d / "empty.pcap").write_bytes(b"") or str(d / "empty.pcap"), "empty file"),
    (lambda d: (d / "text.pcap").write_text("hello world\n") and str(d / "text.pcap"), "not a pcap"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, make, needle):
    path = make(tmp_path)
    proc = invoke("analyze", path)
    assert proc.code == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in proc.stderr


def test_stdin_and_gzip(tmp_path):
    path = closed_trace().write(str(tmp_path / "t.pcap"))
    raw = open(path, "rb").read()
    gz = tmp_path / "t.pcap.gz"
    gz.write_bytes(gzip.compress(raw))
    ref = json.loads(run("analyze", "--format", "json", path).output)
    res = invoke("analyze", "--format", "json", gz)
    assert res.code == 0, res.stderr
    assert json.loads(res.stdout)["connections"] == ref["connections"]
    # Standard input from a real pipe: a process.
    for data in (raw, gzip.compress(raw)):
        proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "analyze", "--format", "json", "-"],
                              input=data, capture_output=True)
        assert proc.returncode == 0, proc.stderr
        rep = json.loads(proc.stdout)
        assert rep["connections"] == ref["connections"]


def test_nanosecond_and_big_endian_pcap(tmp_path):
    t = closed_trace()
    ns = t.write(str(tmp_path / "ns.pcap"), nano=True)
    rep = json.loads(run("analyze", "--format", "json", ns).output)
    assert rep["connections"][0]["client"]["state"] == "TIME_WAIT"
    assert abs(rep["capture"]["start"] - 1_700_000_000.001) < 1e-6


def test_rotated_files_merge_in_time_order(tmp_path):
    t = closed_trace()
    frames = t.frames
    from pcapgen import write_frames
    # Split one connection across two files, given in the wrong order.
    a = write_frames(str(tmp_path / "a.pcap"), frames[:3])
    b = write_frames(str(tmp_path / "b.pcap"), frames[3:])
    rep = json.loads(run("analyze", "--format", "json", b, a).output)
    assert len(rep["connections"]) == 1
    assert rep["connections"][0]["client"]["state"] == "TIME_WAIT"
    assert rep["capture"]["packets"] == 6 and len(rep["capture"]["files"]) == 2


def test_output_file_written(tmp_path):
    path = closed_trace().write(str(tmp_path / "t.pcap"))
    out = tmp_path / "report.json"
    res = run("analyze", "--format", "json", "-o", str(out), path)
    assert res.exit_code == 0 and res.output == ""
    assert json.loads(out.read_text())["summary"]["connections"] == 1
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tcpflow")] == []


def test_truncated_capture_reports_where(tmp_path):
    path = closed_trace().write(str(tmp_path / "t.pcap"))
    raw = open(path, "rb").read()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(raw[:-10])
    res = run("analyze", "--format", "json", str(cut))
    assert res.exit_code == 0
    rep = json.loads(res.stdout)  # stderr has the one-line notice of the damage
    assert rep["capture"]["truncated"] is True
    assert rep["capture"]["packets"] == 5
    assert rep["capture"]["truncation"]["packet"] == 5
    assert rep["capture"]["truncation"]["offset"] > 24


def test_schema_command_prints_json_schema():
    res = run("schema")
    assert json.loads(res.output)["title"] == "tcpflow-analyze JSON report"


def test_console_script_installed():
    # The script beside the running interpreter first: in the README's venv
    # (.venv/bin/python -m pytest) PATH need not include .venv/bin.
    beside = Path(sys.executable).with_name("tcpflow-analyze")
    exe = str(beside) if beside.exists() else shutil.which("tcpflow-analyze")
    if exe is None:
        pytest.skip("package not installed as a console script")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and "0.1.0" in proc.stdout


def test_reports_validate_against_schema(tmp_path):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(run("schema").output)
    path = closed_trace().write(str(tmp_path / "t.pcap"))
    rep = json.loads(run("analyze", "--format", "json", path).output)
    jsonschema.validate(rep, schema)


def _catches(pid: int, sig: int) -> bool:
    """Whether the process has a handler for ``sig`` (SigCgt in /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as status:
        caught = next(int(line.split()[1], 16) for line in status if line.startswith("SigCgt:"))
    return bool(caught >> (sig - 1) & 1)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads /proc/PID/status")
def test_ctrl_c_exits_130_without_a_partial_report(tmp_path):
    import signal
    import time
    flood = tmp_path / "flood.pcap"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    subprocess.run([sys.executable, os.path.join(root, "scripts", "gen_syn_flood.py"), "-n", "400000",
                    "-o", str(flood)], check=True)
    out = tmp_path / "report.json"
    proc = subprocess.Popen([sys.executable, "-m", "tcpflow_analyze", "analyze", "--format", "json", "-o", str(out),
                             str(flood)], stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # Ctrl-C once the command is under way -- it has set its SIGTERM handler
    # (runtime.end_on_signals) -- not after a fixed sleep that a loaded
    # machine overruns while the interpreter is still importing (there an
    # interrupt ends Python itself, by SIGINT).
    deadline = time.monotonic() + 60
    while not _catches(proc.pid, signal.SIGTERM):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert err.strip() == "tcpflow-analyze: error: interrupted"
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tcpflow")] == []


def test_output_to_dev_null_leaves_the_device(tmp_path):
    import stat
    path = closed_trace().write(str(tmp_path / "t.pcap"))
    res = run("analyze", "--format", "json", "-o", os.devnull, path)
    assert res.exit_code == 0
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)


def test_fast_json_lines_equal_the_encoder():
    # The report writes connections without building dicts; the text must
    # be what json.dumps writes for the same entry, for every kind of
    # connection the samples hold.
    from conftest import SAMPLES

    from tcpflow_analyze import detectors
    from tcpflow_analyze.analysis import analyze
    from tcpflow_analyze.views.report import build_report
    for sample in sorted(SAMPLES.glob("*.pcap*")):
        analysis = analyze([str(sample)])
        report = build_report(analysis, detectors.run(analysis))
        entries = report["connections"]
        assert list(entries.json_lines()) == [json.dumps(e) for e in entries], sample.name
        # The report writes them joined, in chunks: on the compiled core
        # printed in place into a C buffer (record.json_chunks), not by the
        # f-string.
        assert _text(entries.json_chunks(",\n    ")) == ",\n    ".join(entries.json_lines()), sample.name


def _text(chunks):
    # A chunk is text, or (the compiled build's) its UTF-8 bytes.
    return "".join(c if isinstance(c, str) else c.decode("utf-8") for c in chunks)


def test_json_chunks_are_the_lines_joined_in_chunks():
    # Many chunks (the lines run past jsontext.CHUNK_BYTES many times), and
    # one line far larger than the writer's buffer: its anomaly list.
    from conftest import SAMPLES

    from tcpflow_analyze.analysis import analyze
    from tcpflow_analyze.views import record
    from tcpflow_analyze.views.jsontext import CHUNK_BYTES
    conns = analyze([str(SAMPLES / "time_wait_storm.pcap")]).connections * 40
    types = {conns[7].id: ["half_open"] * 200_000, conns[9].id: ["syn_unanswered"]}
    for sep in (",\n    ", "\n"):
        lines = list(record.json_lines(conns, types))
        chunks = list(record.json_chunks(conns, types, sep))
        assert _text(chunks) == sep.join(lines)
        assert sum(map(len, lines)) > 8 * CHUNK_BYTES and len(chunks) > 8
        assert all(_text([chunk]).startswith(sep) for chunk in chunks[1:])
    assert list(record.json_chunks([], {}, "\n")) == []


def test_generated_json_lines_module_is_what_the_record_makes():
    # views/record_lines.py is written from RECORD (so that the compiled core
    # can compile it): a field added or changed there must be written again.
    from tcpflow_analyze.views import record
    assert record.LINES_MODULE.read_text() == record.lines_module_source(), \
        "views/record_lines.py is stale: python3 -m tcpflow_analyze.views.record writes it anew"


def test_anomaly_list_text():
    from tcpflow_analyze.views.jsontext import anomaly_list_text
    assert anomaly_list_text([]) == "[]"
    assert anomaly_list_text(["half_open"]) == json.dumps(["half_open"])
    assert anomaly_list_text(("a", "b")) == json.dumps(["a", "b"])


from hypothesis import given, settings, strategies as st


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=1e-3),
    st.floats(min_value=1e9, max_value=5e9),
    st.integers(min_value=0, max_value=2 ** 33).map(lambda n: n / 1e6),
    st.sampled_from([None, 0.0, -0.0, 1e-4, 9.99999e-05, 4294967296.0, 4294967295.9999995, 0.5e-6]),
))
def test_json_time_writes_what_the_encoder_writes(t):
    # The connection lines print times by a shortcut: the text must be
    # json.dumps's for the same rounded value, at every magnitude.
    # (test_json_time_at_every_magnitude below sweeps them deterministically.)
    from tcpflow_analyze.views.record import _json_time, report_time
    assert _json_time(t) == json.dumps(report_time(t))


def _json_time_sweep():
    """Floats of every binade from 2**-1074 to 2**43 (both signs from 2**-40), microsecond
    multiples up to 2**33 us with their neighbours one ulp away and the
    half-microsecond ties between them, and the last few hundred doubles on
    each side of the shortcut's bounds (1e-4, 2**32)."""
    import math
    import random
    rng = random.Random(13)
    out = [None, 0.0, -0.0, math.inf, -math.inf, math.nan]
    for e in range(-40, 43):
        lo = 2.0 ** e
        out += [rng.uniform(lo, 2 * lo) for _ in range(400)]
        out += [-rng.uniform(lo, 2 * lo) for _ in range(40)]
    # Down to the subnormals: the compiled build's exact count of
    # microseconds below 1e-4 stops shifting below 2**-74.
    for e in range(-1074, -40):
        lo = 2.0 ** e
        out += [lo, rng.uniform(lo, 2 * lo)]
    for _ in range(8000):
        n = rng.randrange(0, 2 ** 33)
        t = n / 1e6
        out += [t, math.nextafter(t, math.inf), math.nextafter(t, 0.0), (n + 0.5) / 1e6]
    # Exact ties at the seventh decimal (odd multiples of 2**-7 are the
    # doubles whose 7th decimal digit is a final 5): rounded half to even.
    out += [k / 128 for k in range(1, 4000, 2)]
    out += [rng.randrange(0, 2 ** 32) + k / 128 for k in range(1, 128, 2) for _ in range(20)]
    for bound in (1e-4, 4294967296.0):
        up = down = bound
        for _ in range(300):
            up, down = math.nextafter(up, math.inf), math.nextafter(down, 0.0)
            out += [up, down]
        out.append(bound)
    return out


def test_json_time_at_every_magnitude():
    from tcpflow_analyze.views.record import _json_time, report_time
    values = _json_time_sweep()
    assert len(values) > 60_000
    wrong = [t for t in values if _json_time(t) != json.dumps(report_time(t))]
    assert not wrong, [(t, _json_time(t), json.dumps(report_time(t))) for t in wrong[:5]]


def test_ip_text_writes_what_inet_ntop_writes():
    # The compiled build writes an IPv4 address's text itself
    # (model.text._v4_text): every octet value, in every position, as
    # inet_ntop writes it.
    import random
    import socket

    from tcpflow_analyze.model.text import ip_text
    rng = random.Random(7)
    addrs = [bytes(rng.randrange(256) if j != i else v for j in range(4)) for i in range(4) for v in range(256)]
    addrs += [bytes(4), b"\xff" * 4, bytes([10, 0, 100, 9]), bytes([1, 20, 255, 0])]
    wrong = [a for a in addrs if ip_text(a) != socket.inet_ntop(socket.AF_INET, a)]
    assert not wrong, [(a, ip_text(a)) for a in wrong[:5]]
    v6 = bytes(range(16))
    assert ip_text(v6) == socket.inet_ntop(socket.AF_INET6, v6)


def test_progress_on_a_terminal_only(tmp_path):
    import io

    from tcpflow_analyze import analysis as analyzer
    from tcpflow_analyze.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    path = closed_trace().write(str(tmp_path / "t.pcap"))
    tty = Terminal()
    analyzer.analyze([path], progress=Progress([path], stream=tty, after=0.0))
    shown = tty.getvalue()
    assert "100% " in shown and "6 packets" in shown
    assert shown.endswith("\r\x1b[K")  # the line is cleared for the report
    piped = io.StringIO()
    analyzer.analyze([path], progress=Progress([path], stream=piped, after=0.0))
    assert piped.getvalue() == ""
    # Shown only once the read has taken longer than `after`.
    slow = Terminal()
    analyzer.analyze([path], progress=Progress([path], stream=slow, after=3600))
    assert slow.getvalue() == ""
    # With --jobs, this process reads the whole capture too: its reading is shown.
    from tcpflow_analyze.analysis import parallel
    from tcpflow_analyze.cli import DEFAULT_MAX_CONNECTIONS
    jobs = Terminal()
    options = parallel.AnalysisOptions(max_connections=DEFAULT_MAX_CONNECTIONS, max_report_connections=1000)
    a = parallel.analyze_parallel([path], 2, options, progress=Progress([path], stream=jobs, after=0.0))
    assert a.stats.packets == 6 and "100% " in jobs.getvalue() and jobs.getvalue().endswith("\r\x1b[K")


def test_jobs_by_default(tmp_path, monkeypatch):
    from tcpflow_analyze import _core, cli
    small = closed_trace().write(str(tmp_path / "t.pcap"))
    monkeypatch.setattr(_core, "compiled_modules", lambda: [])   # the pure-Python core
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    assert cli.auto_jobs([small]) == 1            # too small to gain
    assert cli.auto_jobs(["-"]) == 1              # stdin is read once
    monkeypatch.setattr(cli, "PARALLEL_MIN_BYTES", 100)
    assert cli.auto_jobs([small]) == 4
    assert cli.auto_jobs([small, str(tmp_path / "missing.pcap")]) == 1
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert cli.auto_jobs([small]) == 1
    # The compiled core: its own, higher size threshold.
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(_core, "compiled_modules", lambda: list(_core.COMPILED))
    monkeypatch.setattr(cli, "PARALLEL_MIN_BYTES_COMPILED", 10 ** 9)
    assert cli.auto_jobs([small]) == 1
    monkeypatch.setattr(cli, "PARALLEL_MIN_BYTES_COMPILED", 100)
    assert cli.auto_jobs([small]) == 4


def test_table_fits_a_narrow_terminal():
    from conftest import SAMPLES

    from tcpflow_analyze.analysis import analyze
    from tcpflow_analyze.views.report import build_report
    from tcpflow_analyze.render.table import render
    report = build_report(analyze([str(SAMPLES / "port_reuse.pcap")]))
    wide = render(report)
    assert "bytes" in wide and "left out" not in wide
    narrow = render(report, width=80)
    table = narrow[narrow.index("id "):narrow.index("(narrow terminal")]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "ESTABLISHED" in table and "bytes" not in table


def test_reader_closing_the_pipe_early_is_not_an_error():
    # `tcpflow-analyze analyze ... | head`: the report is larger than a pipe's
    # buffer, head leaves after a few bytes.  No error line, exit 0.
    from conftest import SAMPLES
    proc = subprocess.Popen([sys.executable, "-m", "tcpflow_analyze", "analyze", "--format", "json",
                             str(SAMPLES / "time_wait_storm.pcap")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(10) == b'{\n  "schem'
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0 and err == b""


def test_console_entry_exit_codes(tmp_path):
    # `run`, the console entry point, ends the process with os._exit: the
    # exit codes and everything written must survive it.
    from conftest import SAMPLES
    path = closed_trace().write(str(tmp_path / "t.pcap"))
    out = tmp_path / "r.json"
    for args, code in ((["analyze", path, "--format", "json", "-o", str(out)], 0),
                       (["analyze", str(SAMPLES / "close_wait_leak.pcap"), "--fail-on", "warning"], 1),
                       (["analyze", str(tmp_path / "missing.pcap")], 2), (["--version"], 0), (["nonsense"], 2)):
        proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", *args], capture_output=True, text=True)
        assert proc.returncode == code, (args, proc.stderr)
        if code == 2:
            assert proc.stderr.strip() and proc.stdout == ""
    assert json.loads(out.read_text())["summary"]["connections"] == 1
    proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "analyze", path], capture_output=True, text=True)
    assert proc.returncode == 0 and "ESTABLISHED" not in proc.stderr and "files" in proc.stdout


@pytest.mark.skipif(not hasattr(__import__("fcntl"), "F_GETPIPE_SZ"), reason="Linux pipes only")
def test_stdin_pipe_is_widened(tmp_path):
    # A capture piped in crosses a 64 KiB pipe in tiny pieces unless the
    # reader widens it (capture.source._widen_pipe).
    import fcntl
    from conftest import SAMPLES
    data = (SAMPLES / "bulk_loss.pcap").read_bytes()
    r, w = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "tcpflow_analyze", "analyze", "--format", "json", "-"],
                            stdin=r, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    os.close(r)
    with os.fdopen(w, "wb") as pipe:
        pipe.write(data)
        pipe.flush()
        size = fcntl.fcntl(pipe.fileno(), fcntl.F_GETPIPE_SZ)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)["capture"]["packets"] == 4283
    assert size >= 1 << 20
