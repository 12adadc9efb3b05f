"""Issue #15's acceptance on a busy host's capture: the finding that matters
is the first thing a person sees.

The 1M-packet benchmark capture (bench/gen_capture.py, deterministic) holds
one ``time_wait_storm`` among some 2,600 per-connection findings: before the
summary-first outputs it was row 2,633 of an 8,600-line anomaly section, and
the markdown for CI never showed it.  This is the one test file that pays for
the 1M capture (~10 s to make, ~10 s per run).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def big_capture(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "busy-host-1m.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_capture.py"), "--packets", "1000000", "-o", str(path),
                    "-q"], check=True, timeout=600)
    return path


def _analyze(capture: Path, *args: str) -> str:
    env = dict(os.environ, COLUMNS="120", PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "analyze", str(capture), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _first_line_naming(text: str, word: str) -> int:
    for number, line in enumerate(text.splitlines(), 1):
        if word in line:
            return number
    raise AssertionError(f"{word} is nowhere in the output")


@pytest.fixture(scope="module")
def table(big_capture) -> str:
    return _analyze(big_capture)


def test_storm_in_the_first_15_lines_of_the_table(table):
    assert _first_line_naming(table, "time_wait_storm") <= 15


def test_storm_in_the_markdown_before_the_connections(big_capture):
    markdown = _analyze(big_capture, "--format", "markdown")
    storm = _first_line_naming(markdown, "time_wait_storm")
    connections = next(n for n, line in enumerate(markdown.splitlines(), 1) if line.startswith("| id "))
    assert storm < connections
    # The projection, the answer to "why are we out of ports?", is in the summary line itself.
    assert "%" in markdown.splitlines()[storm - 1]


def test_findings_are_grouped_not_one_row_per_connection(table):
    # 1,602 port reuses on one service were 1,602 rows (4,800 lines); grouped,
    # the type's whole detail fits on a screen.
    lines = [line for line in table.splitlines() if "port_reuse_in_time_wait" in line]
    assert 1 <= len(lines) <= 15


def test_summary_only_is_bounded(big_capture):
    summary = _analyze(big_capture, "--top", "0")
    assert _first_line_naming(summary, "time_wait_storm") <= 15
    # Header, summary, states and at most ten groups per type: a few hundred
    # lines whatever the capture's size (the full table is 50,000).
    assert len(summary.splitlines()) < 400
    assert not any(line.startswith("id ") for line in summary.splitlines())
