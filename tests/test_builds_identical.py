"""The compiled core and the pure-Python one give the same bytes (issue #14).

Both come from one installation: a process started with
``TCPFLOW_ANALYZE_PURE=1`` imports the ``.py`` sources of the compiled
modules (``tcpflow_analyze._core``), so the two runs differ in nothing but
the core.  Each side is one process that runs every capture through the
command line in-process (a process per capture and format would cost most of
a second each) and hands back every output and exit code; a difference is
reported by capture and command, with the first differing line.

Skipped where the package is not compiled: there is then one core only.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import PUBLIC, ROOT, SAMPLES

from tcpflow_analyze import _core

pytestmark = pytest.mark.skipif(not _core.compiled_modules(), reason="the package is not compiled: one core only")

SAMPLE_CAPTURES = sorted(p for p in SAMPLES.glob("*") if p.suffix in (".pcap", ".pcapng"))
PUBLIC_CAPTURES = sorted(p for p in PUBLIC.glob("*") if p.is_file() and p.suffix != ".md") if PUBLIC.is_dir() else []
# Tunnels: the VXLAN ones through the compiled walk's mirror loads.
ENCAP = ROOT.parent / "shared" / "pcaps" / "encapsulation"
ENCAP_CAPTURES = sorted(p for p in ENCAP.glob("*.pcap*") if p.is_file()) if ENCAP.is_dir() else []

# Every format of the report and the views that re-walk their own data:
# the states and TIME_WAIT views compute from the same engine output, but
# through their own paths (timelines, per-host sweeps); the Zeek conn.log
# from the compiled engine.zeek's rows and counters.
COMMANDS = (
    ("analyze", "--format", "json", "--jobs", "1"),
    ("analyze", "--format", "table", "--jobs", "1"),
    ("analyze", "--format", "csv", "--jobs", "1"),
    ("analyze", "--format", "markdown", "--jobs", "1"),
    ("analyze", "--format", "zeek", "--jobs", "1"),
    ("states", "--format", "json"),
    ("timewait", "--format", "json"),
)

# Runs in the child: the command line in-process, as tests/clirun.py does,
# every capture with every command; stdout and the exit code of each.
_CHILD = r"""
import json, sys
from click.testing import CliRunner
from tcpflow_analyze import _core
from tcpflow_analyze.cli import main
captures, commands = json.loads(sys.stdin.read())
out = {"core": _core.describe(), "runs": []}
for capture in captures:
    for command in commands:
        res = CliRunner().invoke(main, [*command, capture], catch_exceptions=True, env={"COLUMNS": "120"})
        error = None if res.exception is None or isinstance(res.exception, SystemExit) else repr(res.exception)
        out["runs"].append([capture, command, res.exit_code, res.output, error])
json.dump(out, sys.stdout)
"""


def outputs(captures, pure: bool, commands=COMMANDS) -> dict:
    env = dict(os.environ)
    env.pop(_core.PURE_ENV, None)
    if pure:
        env[_core.PURE_ENV] = "1"
    proc = subprocess.run([sys.executable, "-c", _CHILD], input=json.dumps([[str(c) for c in captures], commands]),
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def first_difference(a: str, b: str) -> str:
    for n, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), 1):
        if x != y:
            return f"line {n}:\n  compiled: {x[:300]}\n  pure:     {y[:300]}"
    return f"one output is a prefix of the other ({len(a)} against {len(b)} characters)"


def assert_identical(captures, commands=COMMANDS):
    compiled = outputs(captures, pure=False, commands=commands)
    pure = outputs(captures, pure=True, commands=commands)
    assert compiled["core"].startswith("compiled core"), compiled["core"]
    assert pure["core"] == "pure Python"
    assert len(compiled["runs"]) == len(pure["runs"]) == len(captures) * len(commands)
    differ = []
    for (capture, command, code, out, error), (_, _, pcode, pout, perror) in zip(compiled["runs"], pure["runs"]):
        # A crash is a failure even when both builds crash alike.
        assert error is None and perror is None, (capture, command, error, perror)
        if (code, out) != (pcode, pout):
            differ.append(f"{capture} {' '.join(command)}: exit {code}/{pcode}, {first_difference(out, pout)}")
    assert not differ, "\n".join(differ)


def test_sample_captures_identical():
    assert len(SAMPLE_CAPTURES) > 20
    assert_identical(SAMPLE_CAPTURES)


@pytest.mark.skipif(not PUBLIC_CAPTURES, reason="../shared/pcaps/public not present")
def test_public_captures_identical():
    assert_identical(PUBLIC_CAPTURES)


@pytest.mark.skipif(not ENCAP_CAPTURES, reason="../shared/pcaps/encapsulation not present")
def test_encapsulation_captures_identical():
    assert_identical(ENCAP_CAPTURES)


def test_benchmark_capture_identical(bench_200k):
    # Big enough for eviction-free tables of thousands of connections, reuse
    # of port tuples and TIME_WAIT storms: the paths the samples touch once.
    assert_identical([bench_200k])


def test_evicting_table_identical(bench_200k):
    # A table a fraction of the capture's connections: eviction every few
    # hundred packets, each one taking keys out of the compiled build's
    # flow table (engine.flowtable: slots emptied and shifted back as they
    # go), and connections cut in two
    # by it, the rest of each starting anew mid-stream.  With a report cap
    # too, the evicted connections are folded, and their capture counts
    # summed by the fold (engine.folding.capture_sums) in each build.
    evicting = [["analyze", "--format", "json", "--jobs", "1", "--max-connections", str(n)] for n in (50, 700)]
    evicting.append(["analyze", "--format", "json", "--jobs", "1", "--max-connections", "700",
                     "--max-report-connections", "300"])
    assert_identical([bench_200k], evicting)


@pytest.mark.parametrize("variant", [("--pcapng",), ("--encap", "vxlan")], ids=["pcapng", "vxlan-mirror"])
def test_benchmark_variants_identical(tmp_path, variant):
    # The compiled walk's other loads: pcapng blocks, and the VXLAN mirror's
    # one read of every header (with inner IPv6 and tags as the generator mixes them).
    path = tmp_path / "busy-60k.cap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_capture.py"), "--packets", "60000", "-q",
                    *variant, "-o", str(path)], check=True)
    assert_identical([path])
