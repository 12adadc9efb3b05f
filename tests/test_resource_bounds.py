"""Memory stays bounded by the live connections and the report caps, not by
the capture: a SYN flood from many spoofed sources becomes one anomaly with
counts, and the connection table evicts when full."""
import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

from tcpflow_analyze import detectors
from tcpflow_analyze.analysis import AnalysisOptions, analyze
from tcpflow_analyze.capture import pcap
from tcpflow_analyze.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def floods(tmp_path_factory):
    d = tmp_path_factory.mktemp("flood")
    out = {}
    for n in (5_000, 10_000, 20_000):
        path = d / f"flood{n}.pcap"
        subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_syn_flood.py"), "-n", str(n), "-o", str(path)],
                       check=True)
        out[n] = str(path)
    return out


def test_flood_is_one_anomaly_with_counts(floods):
    res = CliRunner().invoke(main, ["analyze", "--format", "json", "--max-connections", "2000",
                                    "--max-report-connections", "5000", floods[20_000]])
    assert res.exit_code == 0
    rep = json.loads(res.stdout)
    # What the report could not see is also said on stderr, in one line.
    assert "evicted" in res.stderr and "folded" in res.stderr and len(res.stderr.splitlines()) == 1
    cap = rep["capture"]
    assert cap["evicted"] > 0
    assert rep["summary"]["connections_total"] == 20_000
    assert rep["summary"]["connections"] + cap["connections_omitted"] == 20_000
    assert rep["summary"]["connections"] <= 2000 + 500   # live table + failed attempts' share of the cap
    [a] = rep["anomalies"]
    assert a["type"] == "syn_unanswered" and a["severity"] == "critical"
    assert a["details"]["count"] == 20_000 and a["details"]["syn_flood"]
    assert len(a["details"]["top_sources"]) == 5
    [omitted] = cap["omitted"]
    assert omitted["kind"] == "syn_only" and omitted["service"] == "10.0.0.2:80"
    assert sum(rep["summary"]["states"]["client"].values()) == 20_000


def _peak(path, max_connections=500, max_report_connections=1250):
    tracemalloc.start()
    try:
        analysis = analyze([path], AnalysisOptions(max_connections=max_connections,
                                                   max_report_connections=max_report_connections))
        detectors.run(analysis)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_flood(floods, monkeypatch):
    # Both floods run far past the caps (a tenth and a quarter of the
    # smaller).  The reader reads 64 KiB at a time here: its usual 4 MiB
    # window alone would outweigh the connections of floods this size and
    # hide any growth under it.
    monkeypatch.setattr(pcap, "CHUNK", 64 << 10)
    small, large = _peak(floods[5_000]), _peak(floods[10_000])
    # The peak measured is the connections': without the caps it is several
    # times higher (about 6x), and twice as high for twice the SYNs.
    assert _peak(floods[5_000], 10 ** 9, 10 ** 9) > 3 * small, small
    # Twice the SYNs, the same caps: not twice the memory.
    assert large < small * 1.3, (small, large)


def test_default_caps_keep_every_connection_of_a_normal_capture():
    analysis = analyze([str(ROOT / "sample_pcaps" / "time_wait_storm.pcap")])
    assert len(analysis.connections) == 600
    assert analysis.stats.evicted == 0 and analysis.stats.connections_omitted == 0
