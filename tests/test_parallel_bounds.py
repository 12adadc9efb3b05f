"""bench/parallel_bounds.py: the capture cut by time holds every record once, in order."""
import sys

from conftest import ROOT, SAMPLES

sys.path.insert(0, str(ROOT / "bench"))
from parallel_bounds import split_by_time  # noqa: E402

from tcpflow_analyze.analysis import analyze  # noqa: E402


def test_halves_by_time_hold_every_packet_once_in_order(tmp_path):
    capture = str(SAMPLES / "time_wait_storm.pcap")
    first, second = split_by_time(capture, str(tmp_path))
    whole = analyze([capture]).stats
    a, b = analyze([first]).stats, analyze([second]).stats
    assert a.packets + b.packets == whole.packets
    assert abs(a.packets - b.packets) <= 1
    assert a.start == whole.start and b.end == whole.end and a.end <= b.start


def test_time_split_floor_writes_one_report_of_both_halves(tmp_path):
    """The floor's one document holds each half's connections, the second's
    numbered after the first's, and both halves' anomalies."""
    import json
    import os
    import subprocess

    import pytest

    from parallel_bounds import TIME_SPLIT_FLOOR
    from tcpflow_analyze import detectors

    if not hasattr(os, "memfd_create"):
        pytest.skip("the floor ships the child's lines in a memfd (Linux)")
    first, second = split_by_time(str(SAMPLES / "port_scan.pcap"), str(tmp_path))
    out = subprocess.run([sys.executable, "-c", TIME_SPLIT_FLOOR, first, second], capture_output=True,
                         check=True, cwd=str(ROOT)).stdout
    report = json.loads(out)
    halves = [analyze([first]), analyze([second])]
    assert [c["id"] for c in report["connections"]] == list(range(1, 1 + sum(len(h.connections) for h in halves)))
    second_ids = report["connections"][len(halves[0].connections):]
    assert [(c["client"]["port"], c["server"]["port"]) for c in second_ids] == \
        [(c.client.port, c.server.port) for c in halves[1].connections]
    found = [len(detectors.run(h)) for h in halves]
    assert all(found) and len(report["anomalies"]) == sum(found)
