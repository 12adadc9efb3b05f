"""The inline fast paths of the packet loop (Ethernet + IPv4, Ethernet + IPv6)
must give exactly what the general decoder gives: every capture analyzed both
ways yields the same report."""
import pytest
from conftest import PUBLIC, SAMPLES
from pcapgen import Trace

from tcpflow_analyze import analyzer, detectors
from tcpflow_analyze.errors import CaptureError
from tcpflow_analyze.report import build_report
from tcpflow_analyze.report.json_out import dumps

CAPTURES = sorted(SAMPLES.glob("*.pcap*")) + (sorted(p for p in PUBLIC.glob("*.pcap*")) if PUBLIC.is_dir() else [])


def report(path):
    a = analyzer.analyze([str(path)])
    return dumps(build_report(a, detectors.run(a)))


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_fast_paths_equal_the_decoder(path, monkeypatch):
    try:
        fast = report(path)
    except CaptureError:
        return
    monkeypatch.setattr(analyzer, "FAST_MIN_CAPLEN", 1 << 30)  # every packet through decode()
    assert report(path) == fast


def test_ipv6_fast_path_edges(tmp_path, monkeypatch):
    # SYNs with options, data, a jumbo-style zero payload length is left to
    # the decoder's rules; all must match.
    t = Trace(client=("fd00::1", 40000), server=("fd00::2", 443)).handshake(1000, 5000)
    t.c("PA", 1001, 5001, b"x" * 100).s("A", 5001, 1101).c("FA", 1101, 5001).s("FA", 5001, 1102)
    t.c("A", 1102, 5002)
    path = t.write(str(tmp_path / "v6.pcap"))
    fast = report(path)
    monkeypatch.setattr(analyzer, "FAST_MIN_CAPLEN", 1 << 30)
    assert report(path) == fast
