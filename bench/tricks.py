#!/usr/bin/env python3
"""What each of the process's speed tricks buys, measured: the trick on
against the same command with the trick switched off, alternating.

The project's rule: a speed trick stays only while it pays for itself in the
benchmark (3% or more of the run it serves); this prints, per trick, the
median wall time with it and without it and the share it saves, so the
claim in ``tcpflow_analyze/runtime.py`` and bench/README.md can be checked by
anyone.  A trick is switched off by a few lines run in the process before
the CLI starts (``OFF`` below), never by an option of the tool itself.

    python3 bench/tricks.py bench/out/synth-2m-full.pcap --runs 5
    python3 bench/tricks.py CAPTURE --only gc,exit --runs 3

Standard library only; the package is imported from the working tree (or
from ``--tree DIR``), never from the current directory by accident.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Every pipe read without the read-ahead thread.
_NO_READ_AHEAD = (
    "import tcpflow_analyze.analysis as a\n"
    "_read = a.read_windows\n"
    "a.read_windows = lambda paths, damages, opened=None, read_ahead=True: _read(paths, damages, opened, False)"
)

# trick -> (what it is, the command's arguments before the capture, how it is switched off,
#           how the capture is given: "file" or "pipe")
TRICKS = {
    "gc": (
        "the cyclic garbage collector paused for the whole run (runtime.pause_cyclic_gc)",
        ["analyze", "--format", "json", "--jobs", "1"],
        "import gc\ngc.disable = lambda: None",
        "file",
    ),
    "exit": (
        "the process ends without freeing its heap object by object (runtime.exit_without_teardown)",
        ["analyze", "--format", "json", "--jobs", "1"],
        "ENTRY = 'main'",
        "file",
    ),
    "mmap": (
        "a regular pcap file is mapped and walked in place, not read into buffers (capture.mapped)",
        ["analyze", "--format", "json", "--jobs", "1"],
        "import tcpflow_analyze.capture.source as s\ns._map = lambda raw: None",
        "file",
    ),
    "read_ahead_pipe": (
        "a thread reads a pipe's next chunk while the packet loop walks this one "
        "(capture.readahead.StreamAhead; cat FILE | tcpflow-analyze analyze -)",
        ["analyze", "--format", "json", "--jobs", "1"], _NO_READ_AHEAD, "pipe",
    ),
    "forked_table": (
        "after a --jobs run, a forked child writes the table's connections section (runtime.ForkedTable)",
        ["analyze", "--format", "table", "--jobs", "2"],
        "import tcpflow_analyze.runtime as r\nr.ForkedTable.start = classmethod(lambda cls, *a, **k: None)",
        "file",
    ),
    "json_lines": (
        "the connection JSON lines written by code generated from the record spec, not json.dumps "
        "per entry (views.record.json_lines, json_chunks)",
        ["analyze", "--format", "json", "--jobs", "1"],
        "import json\nimport tcpflow_analyze.views.record as rec\n"
        "_entry = rec.connection_entry\n"
        "def _plain(conns, types):\n"
        "    for conn, cid in rec.numbered(conns):\n"
        "        yield json.dumps(_entry(conn, cid, types.get(cid, [])))\n"
        "from tcpflow_analyze.views.jsontext import joined\n"
        "rec.json_chunks = lambda conns, types, sep: joined(_plain(conns, types), sep)",
        "file",
    ),
    "simple_table": (
        "the default table (tabulate's 'simple' format) written directly, not by tabulate "
        "(render.table)",
        ["analyze", "--format", "table", "--jobs", "1"],
        "import tcpflow_analyze.render.table as t\n"
        "t._connections_table = lambda rows, fmt, color, width, sort=None: t._tabulated_table(rows, fmt, width, sort)",
        "file",
    ),
}

LAUNCH = """\
import sys
sys.path[:0] = [{tree!r}]
ENTRY = 'run'
{off}
from tcpflow_analyze import cli
sys.argv[0] = 'tcpflow-analyze'
if ENTRY == 'run':
    cli.run()
else:
    cli.main()
"""


def command(tree: str, off: str | None, args: list, capture: str, how: str):
    code = LAUNCH.format(tree=tree, off=off or "")
    argv = [sys.executable, "-P", "-c", code, *args]
    if how == "pipe":
        return ["sh", "-c", 'cat "$0" | "$@" -', capture, *argv]
    return [*argv, capture]


def timed(argv) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the largest child) of one run."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"run failed: {' '.join(argv[:3])} ...: {err.strip()[-500:]}")
    return wall, usage.ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("capture")
    ap.add_argument("--runs", type=int, default=5, help="runs of each side (alternating)")
    ap.add_argument("--only", default=None, help="comma-separated tricks (default: all): " + ", ".join(TRICKS))
    ap.add_argument("--tree", default=str(REPO), help="directory holding tcpflow_analyze/ (default: this repo)")
    ap.add_argument("--json", default=None, help="also write the results here")
    opts = ap.parse_args()
    names = opts.only.split(",") if opts.only else list(TRICKS)
    results = []
    subprocess.run(["cat", opts.capture], stdout=subprocess.DEVNULL, check=True)   # into the page cache
    for name in names:
        what, args, off, how = TRICKS[name]
        on_cmd = command(opts.tree, None, args, opts.capture, how)
        off_cmd = command(opts.tree, off, args, opts.capture, how)
        timed(on_cmd)   # warm-up
        on, off_ = [], []
        for i in range(opts.runs):
            pair = [(on, on_cmd), (off_, off_cmd)]
            for out, cmd in (pair if i % 2 == 0 else pair[::-1]):
                out.append(timed(cmd))
        w_on = statistics.median(w for w, _ in on)
        w_off = statistics.median(w for w, _ in off_)
        m_on = max(m for _, m in on)
        m_off = max(m for _, m in off_)
        row = {"trick": name, "what": what, "command": " ".join(args) + (" (pipe)" if how == "pipe" else ""),
               "with_s": round(w_on, 3), "without_s": round(w_off, 3),
               "saves": round(1 - w_on / w_off, 4) if w_off else None,
               "with_mb": round(m_on), "without_mb": round(m_off), "runs": opts.runs}
        results.append(row)
        print(f"{name:16} {w_on:7.2f} s with, {w_off:7.2f} s without: saves {row['saves']:.1%}  "
              f"(peak {m_on:.0f} / {m_off:.0f} MB; {row['command']})", flush=True)
    if opts.json:
        Path(opts.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
