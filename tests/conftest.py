import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from tcpflow_analyze.analysis import AnalysisOptions, analyze  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_pcaps"
PUBLIC = ROOT.parent / "shared" / "pcaps" / "public"


def _script(name: str):
    """A module of scripts/ (not a package), loaded by path."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# How the generator and the tests read the kernel's ss text in a truth file
# (ss -tan or ss -tanoi, by the truth's "ss_command").
ss_truth = _script("ss_truth")


def capture_lacks_evidence(truth: dict) -> bool:
    """A kernel sample whose capture lacks packets its sockets exchanged:
    deleted after the fact (scripts/make_lossy.py, "derived_from") or kept
    out by the capture filter ("capture_lacks").  Its truth is still the
    kernel's ss, which no passive view can match where the capture holds no
    evidence of it: tests/test_kernel_samples.py holds such samples to
    "right, or flagged inferred or unknown" instead."""
    return "derived_from" in truth or "capture_lacks" in truth


def stale_compiled_modules(root: Path = ROOT) -> list[str]:
    """Modules whose compiled form (an in-place build's extension module) is
    older than their ``.py`` or ``.pxd``: Python imports the extension
    module where both exist, so the tests would run the code as it was at
    the last build, not the source in front of the developer."""
    from tcpflow_analyze import _core
    stale = []
    for name in _core.COMPILED:
        base = root / "tcpflow_analyze" / Path(*name.split("."))
        built = list(base.parent.glob(base.name + ".*.so"))
        sources = [p for p in (base.with_suffix(".py"), base.with_suffix(".pxd")) if p.exists()]
        if built and sources and max(p.stat().st_mtime for p in built) < max(p.stat().st_mtime for p in sources):
            stale.append(name)
    return stale


def pytest_configure(config):
    from tcpflow_analyze import _core
    if _core.pure_requested():
        return
    stale = stale_compiled_modules()
    if stale:
        raise pytest.UsageError(
            f"the compiled core is older than its source ({', '.join(stale)}): rebuild it "
            "(pip install -e . or python setup.py build_ext --inplace), or test the pure build "
            f"({_core.PURE_ENV}=1)")


@pytest.fixture
def run_trace(tmp_path):
    """Write a pcapgen.Trace and analyze it; returns the connection list."""
    def run(trace, **opts):
        path = trace.write(str(tmp_path / "trace.pcap"))
        return analyze([path], AnalysisOptions(**opts)).connections
    return run


@pytest.fixture(scope="session")
def bench_200k(tmp_path_factory):
    """A busy host's capture, 200,000 packets from bench/gen_capture.py
    (deterministic: ~9,600 connections, a TIME_WAIT storm, refused ports,
    unanswered SYNs), made once per session: big enough that findings must
    be grouped and summarised, small enough for seconds per test."""
    path = tmp_path_factory.mktemp("bench") / "busy-200k.pcap"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_capture.py"), "--packets", "200000", "-q",
                    "-o", str(path)], check=True)
    return str(path)


@pytest.fixture(scope="session")
def lossy_storm(tmp_path_factory):
    """The kernel-made time_wait_storm.pcap (600 short connections, one after
    another) with a seeded 5% of its packets deleted by scripts/make_lossy.py
    (its usage example): 300 of 6,002 packets, 49 of them data and 68 FINs."""
    out = tmp_path_factory.mktemp("lossy")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_lossy.py"), "--source", "time_wait_storm",
                    "--share", "0.05", "--seed", "7", "--out", str(out)], check=True, capture_output=True)
    return out / "lossy_time_wait_storm.pcap"


def states(conn):
    from tcpflow_analyze.model.states import STATE_NAMES
    return STATE_NAMES[conn.client.state], STATE_NAMES[conn.server.state]


def walk_windows(windows, stop_after=None):
    """Every record of a window stream (capture.read_windows) as
    ``(ts, linktype, bytes)``, walked the way the packet loop walks it: the
    tests' oracle for the window protocol, written apart from
    capture.windows.walk_records.  ``stop_after``: close the stream once that
    many records are in hand."""
    out = []
    window = next(windows, None)
    while window is not None:
        buf, pos, end, (unpack, hlen, scale, lt, max_caplen, epb), ts_end = window
        n = 0
        while pos + hlen <= end:
            if epb is None:
                sec, frac, caplen, _ = unpack(buf, pos)
                if pos + hlen + caplen > end or caplen > max_caplen:
                    break
                ts = sec + frac * scale
                step = hlen + caplen
            else:
                # A pcapng EPB of the window's interface, whole, with both
                # lengths equal (pcapng spec 4.3).
                btype, blen, iface, hi, lo, caplen, _ = unpack(buf, pos)
                if (btype != 6 or iface != epb[0] or pos + blen > end or blen % 4 or 32 + caplen > blen
                        or epb[2](buf, pos + blen - 4)[0] != blen):
                    break
                ts = (hi * 2 ** 32 + lo) * scale + epb[1]
                step = blen
            if ts > ts_end:
                break
            out.append((ts, lt, bytes(buf[pos + hlen:pos + hlen + caplen])))
            pos += step
            n += 1
        if stop_after is not None and len(out) >= stop_after:
            windows.close()
            break
        try:
            window = windows.send((pos, n))
        except StopIteration:
            window = None
    return out
