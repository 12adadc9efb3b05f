"""Start-up: a run imports what its command and format use, nothing more.

A small capture's analysis takes milliseconds; the interpreter importing
what the run never calls (tabulate and its wcwidth tables, multiprocessing,
the other formats' renderers) took most of its time.  Each case runs the
real command in a fresh interpreter and lists the modules it loaded.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAPTURE = ROOT / "sample_pcaps" / "closed_port.pcap"

# The command run in-process (not cli.run: it ends the process without
# returning), then the names of every module it loaded.
PROBE = """
import sys
from tcpflow_analyze import cli
try:
    cli.main(sys.argv[1:], standalone_mode=False)
except SystemExit as exc:
    assert not exc.code, exc.code
print("\\n".join(sorted(sys.modules)))
"""

# Never needed by a plain local analysis, whatever the format: the optional
# engines and plots, the test suite's libraries, the process pool.
NEVER = [
    "dask", "distributed", "matplotlib", "numpy", "dpkt", "hypothesis", "jsonschema",
    "multiprocessing", "concurrent.futures",
    "tcpflow_analyze.analysis.parallel",
    "tcpflow_analyze.render.html", "tcpflow_analyze.render.junit", "tcpflow_analyze.render.figure",
    "tcpflow_analyze.render.ladder", "tcpflow_analyze.views.ladder", "tcpflow_analyze.views.baseline",
    "tcpflow_analyze.render.states", "tcpflow_analyze.views.states",
    "tcpflow_analyze.render.timewait", "tcpflow_analyze.views.timewait", "tcpflow_analyze.render.services",
    # Found only where a finding needs it (accept_queue_overflow's median wait).
    "statistics",
]

# Besides NEVER, what each format does not use.
NOT_FOR = {
    "json": ["tabulate", "wcwidth", "tcpflow_analyze.render.table", "tcpflow_analyze.render.markdown",
             "tcpflow_analyze.render.csv_out"],
    "table": ["tcpflow_analyze.render.json_out", "tcpflow_analyze.render.markdown",
              "tcpflow_analyze.render.csv_out"],
}


def loaded_modules(*args: str, cwd: Path = ROOT) -> set[str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


def _among(names, loaded) -> list[str]:
    """The names in ``names`` loaded, themselves or a submodule of theirs."""
    return [n for n in names if any(m == n or m.startswith(n + ".") for m in loaded)]


@pytest.mark.parametrize("fmt", sorted(NOT_FOR))
def test_analyze_loads_only_its_format(fmt, tmp_path):
    loaded = loaded_modules("analyze", str(CAPTURE), "--format", fmt, "--output", str(tmp_path / "out"))
    assert "tcpflow_analyze.detectors" in loaded  # the probe ran the analysis
    assert _among(NEVER + NOT_FOR[fmt], loaded) == []


def test_unused_table_format_is_still_checked():
    """--table-format's choices come from tabulate, read only when a value
    other than the default is given: a wrong one is still refused."""
    proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "analyze", str(CAPTURE), "--table-format",
                           "nonesuch"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    assert "'nonesuch' is not one of 'asciidoc'," in proc.stderr
