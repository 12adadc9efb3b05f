"""arenas: a run's heap from huge-page chunks changes nothing but its speed."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from tcpflow_analyze import _core

COMPILED = "arenas" in _core.compiled_modules()
needs_compiled = pytest.mark.skipif(not COMPILED or not sys.platform.startswith("linux"),
                                    reason="the arena allocator is the compiled core's, on Linux")

# A fresh interpreter (the allocator is the process's): analyze a capture,
# fill arenas and free them, analyze again, then say what was mapped and
# what the report was.
SCRIPT = """
import hashlib, io, json, sys
from contextlib import redirect_stdout
from tcpflow_analyze import arenas, cli
def report():
    out = io.StringIO()
    with redirect_stdout(out):
        try:
            cli.main(["analyze", "--format", "json", sys.argv[1]], standalone_mode=False)
        except SystemExit:
            pass
    return out.getvalue()
first = report()
# Some 100 MB of small objects, then none: their arenas are given back,
# and handed out again to the next.
junk = [(i, str(i)) for i in range(1_000_000)]
del junk
second = report()
assert first == second
print(json.dumps({"chunks": arenas.chunks(), "report": hashlib.sha256(first.encode()).hexdigest()}))
"""


def _run(capture, **env):
    res = subprocess.run([sys.executable, "-c", SCRIPT, capture], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, **env}, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    import json
    return json.loads(res.stdout.strip().splitlines()[-1])


@needs_compiled
def test_same_report_with_and_without_huge_page_arenas(bench_200k):
    on = _run(bench_200k)
    off = _run(bench_200k, TCPFLOW_ANALYZE_HUGE_PAGES="0")
    assert on["report"] == off["report"]
    mapped, advised, given_back = on["chunks"]
    assert mapped >= 1      # 200k packets: some tens of MB of objects
    assert given_back > 0
    assert off["chunks"] == [0, 0, 0]
    enabled = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if enabled.exists() and "[never]" not in enabled.read_text():
        assert advised == mapped


def test_pure_build_does_nothing():
    res = subprocess.run([sys.executable, "-c", "from tcpflow_analyze import arenas; "
                          "print(arenas.huge_page_arenas(), arenas.chunks())"],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, _core.PURE_ENV: "1"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "(0,", "0,", "0)"]
