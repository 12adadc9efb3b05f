"""The inline fast paths of the packet loop (Ethernet + IPv4, Ethernet + IPv6)
must give exactly what the general decoder gives: every capture analyzed both
ways yields the same report."""
from pathlib import Path

import pytest
from conftest import PUBLIC, SAMPLES
from pcapgen import Trace

from tcpflow_analyze import detectors
from tcpflow_analyze.engine import loop as analyzer
from tcpflow_analyze import analysis
from tcpflow_analyze.errors import CaptureError
from tcpflow_analyze.views.report import build_report
from tcpflow_analyze.render.json_out import dumps

ENCAP = PUBLIC.parent / "encapsulation"   # tunnels: the VXLAN ones take the loop's VXLAN read
CAPTURES = sorted(SAMPLES.glob("*.pcap*")) + (sorted(p for p in PUBLIC.glob("*.pcap*")) if PUBLIC.is_dir() else []) \
    + (sorted(ENCAP.glob("*.pcap")) if ENCAP.is_dir() else [])


def report(path):
    a = analysis.analyze([str(path)])
    return dumps(build_report(a, detectors.run(a)))


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_fast_paths_equal_the_decoder(path, monkeypatch):
    try:
        fast = report(path)
    except CaptureError:
        return
    monkeypatch.setattr(analyzer, "FAST_PATHS", {})  # every packet through decode()
    assert report(path) == fast


def test_ipv6_fast_path_edges(tmp_path, monkeypatch):
    # SYNs with options, data, a jumbo-style zero payload length is left to
    # the decoder's rules; all must match.
    t = Trace(client=("fd00::1", 40000), server=("fd00::2", 443)).handshake(1000, 5000)
    t.c("PA", 1001, 5001, b"x" * 100).s("A", 5001, 1101).c("FA", 1101, 5001).s("FA", 5001, 1102)
    t.c("A", 1102, 5002)
    path = t.write(str(tmp_path / "v6.pcap"))
    fast = report(path)
    monkeypatch.setattr(analyzer, "FAST_PATHS", {})
    assert report(path) == fast


def rewritten(tmp_path, linktype, frame_of, source=SAMPLES / "bulk_loss.pcap"):
    """``source`` (by default bulk_loss.pcap, a kernel capture: Ethernet,
    IPv4, no tags) with each frame replaced by ``frame_of(i, frame)``, under
    ``linktype``."""
    import struct
    data = Path(source).read_bytes()
    out = bytearray(data[:24])
    struct.pack_into("<I", out, 20, linktype)
    pos, i = 24, 0
    while pos + 16 <= len(data):
        sec, frac, caplen, wirelen = struct.unpack_from("<IIII", data, pos)
        frame = data[pos + 16:pos + 16 + caplen]
        new = frame_of(i, frame)
        out += struct.pack("<IIII", sec, frac, len(new), wirelen + len(new) - len(frame)) + new
        pos += 16 + caplen
        i += 1
    path = tmp_path / "rewritten.pcap"
    path.write_bytes(bytes(out))
    return str(path)


def fast_and_decoded(monkeypatch, path):
    """The analysis of ``path`` with the fast paths (and how many packets
    still went to decode()), and with decode() alone; and the original's."""
    calls = []
    real_decode = analyzer.decode

    def counting_decode(*args):
        calls.append(1)
        return real_decode(*args)
    monkeypatch.setattr(analyzer, "decode", counting_decode)
    original = analysis.analyze([str(SAMPLES / "bulk_loss.pcap")])
    calls.clear()
    fast = analysis.analyze([path])
    decoded = len(calls)
    monkeypatch.setattr(analyzer, "FAST_PATHS", {})
    slow = analysis.analyze([path])
    rows = [list(build_report(a)["connections"]) for a in (original, fast, slow)]
    assert rows[0] == rows[1] == rows[2] and rows[0]
    assert fast.stats.skipped == slow.stats.skipped == original.stats.skipped
    return decoded, fast


@pytest.mark.parametrize("linktype", [113, 276])
def test_linux_cooked_captures_take_the_fast_path_and_agree(tmp_path, monkeypatch, linktype):
    # ``tcpdump -i any`` writes Linux cooked headers (SLL: 16 bytes, SLL2: 20)
    # instead of Ethernet's 14.  The same kernel capture rewritten with each
    # gives the same connections, through the fast path and through decode().
    import struct

    def cooked(i, frame):
        etype, src_mac, payload = frame[12:14], frame[6:12], frame[14:]
        if linktype == 113:
            return struct.pack("!HHH", 0, 1, 6) + src_mac + b"\0\0" + etype + payload
        return etype + b"\0\0" + struct.pack("!IHBB", 2, 1, 0, 6) + src_mac + b"\0\0" + payload
    decoded, fast = fast_and_decoded(monkeypatch, rewritten(tmp_path, linktype, cooked))
    assert decoded < fast.stats.packets // 100   # nearly every packet took the fast path
    assert fast.stats.linktypes == {linktype}


def test_vlan_tagged_frames_take_the_fast_path_and_agree(tmp_path, monkeypatch):
    # The kernel capture rewritten with 802.1Q tags (every third frame two
    # tags, every fifth an 802.1ad outer tag): the same connections as
    # untagged, through the fast path and through decode().
    import struct

    def tagged(i, frame):
        tags = struct.pack("!HH", 0x8100, 10 + i % 7)
        if i % 3 == 0:
            tags += struct.pack("!HH", 0x8100, 20)
        if i % 5 == 0:
            tags = struct.pack("!HH", 0x88A8, 30) + tags
        return frame[:12] + tags + frame[12:]
    decoded, fast = fast_and_decoded(monkeypatch, rewritten(tmp_path, 1, tagged))
    # Single tags (8 frames in 15) take the fast path; the rest go to decode().
    assert decoded < fast.stats.packets * 0.6


@pytest.mark.parametrize("linktype", [101, 228, 12])
def test_raw_ip_captures_take_the_fast_path_and_agree(tmp_path, monkeypatch, linktype):
    # Raw IP (LINKTYPE_RAW from a tun device, LINKTYPE_IPV4, OpenBSD's DLT 12):
    # the kernel capture without its Ethernet headers.
    decoded, fast = fast_and_decoded(monkeypatch, rewritten(tmp_path, linktype, lambda i, frame: frame[14:]))
    assert decoded < fast.stats.packets // 100
    assert fast.stats.linktypes == {linktype}


def test_raw_ipv6_fast_path_agrees_with_the_decoder(tmp_path, monkeypatch):
    # Raw IPv6, some packets with a traffic class whose high nibble makes the
    # first byte other than 0x60 (DSCP-marked), one with IPv4 inside a
    # version-6 link type's capture: what decode() makes of each.
    t = Trace(client=("fd00::1", 40000), server=("fd00::2", 443)).handshake(1000, 5000)
    t.c("PA", 1001, 5001, b"x" * 100).s("A", 5001, 1101).c("FA", 1101, 5001).s("FA", 5001, 1102)
    t.c("A", 1102, 5002)
    v6 = t.write(str(tmp_path / "v6.pcap"))

    def raw(i, frame):
        ip = bytearray(frame[14:])
        if i % 2:
            ip[0] = 0x6B   # traffic class 0xB0: decode() reads it as IPv6 all the same
        return bytes(ip)
    path = rewritten(tmp_path, 229, raw, source=v6)
    calls = []
    real_decode = analyzer.decode
    monkeypatch.setattr(analyzer, "decode", lambda *a: calls.append(1) or real_decode(*a))
    fast = report(path)
    assert calls == []   # every packet took the fast path
    monkeypatch.setattr(analyzer, "FAST_PATHS", {})
    assert report(path) == fast
    assert "fd00::1" in fast
