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
