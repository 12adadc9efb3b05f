"""TCP inside tunnels and encapsulations (issue #16 section 1).

Real captures (../shared/pcaps/encapsulation) must give tshark's
conversations and frame counts; for what no public capture carries, the
kernel-made samples' packets are wrapped here with dpkt in each
encapsulation, and the inner connections must come out as the unwrapped
capture's: same endpoints, states, counts and history.
"""
import json
import socket
import struct
from collections import Counter

import dpkt
import pytest
from clirun import invoke
from conftest import ROOT, SAMPLES
from pcapgen import write_frames
from tshark_reference import parse_conv

from tcpflow_analyze import analysis
from tcpflow_analyze.decode import decode
from tcpflow_analyze.engine import loop as packet_loop
from tcpflow_analyze.views.report import build_report

ENCAP = ROOT.parent / "shared" / "pcaps" / "encapsulation"
ENCAP_CAPTURES = sorted(ENCAP.glob("*.pcap")) if ENCAP.is_dir() else []

# What each public capture's connections are carried in.
EXPECTED_ENCAP = {
    "suricata-6in4-tcp.pcap": {("6in4", None)},
    "suricata-erspan-ii-http.pcap": {("erspan", None)},
    "suricata-geneve-gre-http.pcap": {("geneve+gre", "vni=0")},
    "suricata-gre-eth-http.pcap": {("gre", None)},
    "suricata-gre-ip-ssh.pcap": {("gre", None)},
    "suricata-ipip-tcp.pcap": {("ipip", None)},
    "suricata-vxlan-http.pcap": {("vxlan", "vni=11")},
    "suricata-vxlan-ssh.pcap": {("vxlan", "vni=5569041")},
    "tcpdump-geneve-gcp-ip-tcp.pcap": {("geneve", "vni=0")},
    # Open vSwitch tags each direction with its own VNI: one connection.
    "tcpdump-geneve-ssh.pcap": {("geneve", "vni=11 / vni=10")},
    "tcpdump-gso-vxlan-ipv4-tcp.pcap": {("vxlan", "vni=5001")},
    "tcpdump-gso-vxlan-ipv6-tcp.pcap": {("vxlan", "vni=5001")},
    "tcpdump-ipoib-ssh.pcap": {(None, None)},
    "tcpdump-ppp-mpls-bgp.pcap": {("mpls", None)},
    "tcpdump-wccp-gre-smb.pcap": {("wccp", None)},
}


def report_of(path, *args):
    proc = invoke("analyze", "--format", "json", *args, str(path), timeout=120)
    assert proc.code == 0 and "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.skipif(not ENCAP.is_dir(), reason="../shared/pcaps/encapsulation not present")
@pytest.mark.parametrize("path", ENCAP_CAPTURES, ids=lambda p: p.name)
def test_public_encapsulation_capture_matches_tshark(path):
    rep = report_of(path)
    ref = parse_conv((ENCAP / "reference" / (path.name + ".conv.txt")).read_text())
    ours = Counter()
    for c in rep["connections"]:
        ends = frozenset([(c["client"]["ip"], c["client"]["port"]), (c["server"]["ip"], c["server"]["port"])])
        ours[(ends, c["packets"]["client"] + c["packets"]["server"])] += 1
    theirs = Counter((frozenset([r["a"], r["b"]]), r["frames"]) for r in ref)
    assert ours == theirs
    assert {(c["encapsulation"], c["tunnel_id"]) for c in rep["connections"]} == EXPECTED_ENCAP[path.name]
    tunneled = sum(c["packets"]["client"] + c["packets"]["server"] for c in rep["connections"]
                   if c["encapsulation"])
    assert sum(rep["capture"]["encapsulations"].values()) == tunneled
    # The same report with two processes (the tunnel id is in the flow key).
    assert report_of(path, "--jobs", "2")["connections"] == rep["connections"]


# -- Wrapping real packets ------------------------------------------------------

OUTER_MAC = b"\x02\x00\x00\x00\xaa\x01", b"\x02\x00\x00\x00\xaa\x02"
VTEP = "192.0.2.1", "192.0.2.2"
VTEP6 = "2001:db8::1", "2001:db8::2"


def sample_frames(name):
    with open(SAMPLES / name, "rb") as fh:
        return [(ts, bytes(buf)) for ts, buf in dpkt.pcap.Reader(fh)]


def eth(payload, etype, macs=OUTER_MAC):
    return bytes(dpkt.ethernet.Ethernet(dst=macs[1], src=macs[0], type=etype, data=payload))


def ipv4(payload, proto, src=VTEP[0], dst=VTEP[1]):
    ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=proto, ttl=64, data=payload)
    ip.len = 20 + len(payload)
    return bytes(ip)


def ipv6(payload, nxt, src=VTEP6[0], dst=VTEP6[1]):
    ip = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src), dst=socket.inet_pton(socket.AF_INET6, dst),
                      nxt=nxt, hlim=64, plen=len(payload), data=payload)
    return bytes(ip)


def udp(payload, dport, sport=49152):
    u = dpkt.udp.UDP(sport=sport, dport=dport, data=payload)
    u.ulen = 8 + len(payload)
    return bytes(u)


def over_ipv4_udp(payload, dport, sport=49152, outer=VTEP):
    return eth(ipv4(udp(payload, dport, sport), dpkt.ip.IP_PROTO_UDP, *outer), dpkt.ethernet.ETH_TYPE_IP)


def vxlan_header(vni):
    return struct.pack("!BxxxI", 0x08, vni << 8)


def gre_header(proto, key=None, seq=None, csum=False):
    flags = (0x8000 if csum else 0) | (0x2000 if key is not None else 0) | (0x1000 if seq is not None else 0)
    out = struct.pack("!HH", flags, proto)
    if csum:
        out += b"\0\0\0\0"
    if key is not None:
        out += struct.pack("!I", key)
    if seq is not None:
        out += struct.pack("!I", seq)
    return out


def over_gre(payload, proto, key=None, seq=None, csum=False):
    return eth(ipv4(gre_header(proto, key, seq, csum) + payload, dpkt.ip.IP_PROTO_GRE), dpkt.ethernet.ETH_TYPE_IP)


def mpls_stack(*labels):
    out = b""
    for i, label in enumerate(labels):
        out += struct.pack("!I", (label << 12) | (1 << 8 if i == len(labels) - 1 else 0) | 64)
    return out


def from_client(frame, client_ip):
    """Whether an Ethernet/IP frame was sent by ``client_ip`` (for per-direction tunnel fields)."""
    if frame[12:14] == b"\x08\x00":
        return frame[26:30] == socket.inet_aton(client_ip)
    return frame[22:38] == socket.inet_pton(socket.AF_INET6, client_ip)


def gtpu(frame, i, up):
    # Uplink and downlink TEIDs differ (each end chooses the one it receives
    # on); a sequence number and one (PDU session container) extension header.
    teid = 0x1000 if up else 0x2000
    ext = bytes([1, 0x00, 0x01, 0x00])     # length 1 (4 bytes), content, next type 0
    inner = frame[14:]
    body = struct.pack("!HBB", i & 0xFFFF, 0, 0x85) + ext + inner
    header = struct.pack("!BBHI", 0x32, 0xFF, len(body), teid)
    outer = VTEP if up else VTEP[::-1]
    return over_ipv4_udp(header + body, 2152, 2152, outer)


IPV4_SAMPLE = "client_close_first.pcap"
IPV6_SAMPLE = "ipv6.pcap"

# name -> (sample, wrap(frame, i, from_client), encapsulation, tunnel_id, link type)
WRAPS = {
    "vxlan": (IPV4_SAMPLE, lambda f, i, up: over_ipv4_udp(vxlan_header(77) + f, 4789, 50000 + i % 7),
              "vxlan", "vni=77", 1),
    "vxlan-ipv6-outer": (IPV4_SAMPLE, lambda f, i, up: eth(ipv6(udp(vxlan_header(78) + f, 4789), 17),
                                                          dpkt.ethernet.ETH_TYPE_IP6), "vxlan", "vni=78", 1),
    "geneve-options": (IPV4_SAMPLE, lambda f, i, up: over_ipv4_udp(
        struct.pack("!BBHI", 2, 0, 0x6558, 4242 << 8) + b"\x01\x02\x03\x01" + b"\0" * 4 + f, 6081),
        "geneve", "vni=4242", 1),
    "gre-key-teb": (IPV4_SAMPLE, lambda f, i, up: over_gre(f, 0x6558, key=7, seq=i, csum=True), "gre", "key=7", 1),
    "gre-key-ip": (IPV4_SAMPLE, lambda f, i, up: over_gre(f[14:], 0x0800, key=0xFFFFFFFF), "gre",
                   "key=4294967295", 1),
    "erspan-i": (IPV4_SAMPLE, lambda f, i, up: over_gre(f, 0x88BE), "erspan", None, 1),
    "erspan-ii": (IPV4_SAMPLE, lambda f, i, up: over_gre(struct.pack("!HHI", 0x1000 | 10, 3, 0) + f, 0x88BE,
                                                         seq=i), "erspan", None, 1),
    "erspan-iii": (IPV4_SAMPLE, lambda f, i, up: over_gre(
        struct.pack("!HHIHH", 0x2000 | 10, 3, 123456, 0, 1) + b"\0" * 8 + f, 0x22EB, seq=i), "erspan", None, 1),
    "erspan-iii-ip": (IPV4_SAMPLE, lambda f, i, up: over_gre(
        struct.pack("!HHIHH", 0x2000 | 10, 3, 123456, 0, 2 << 10) + f[14:], 0x22EB, seq=i), "erspan", None, 1),
    "ipip": (IPV4_SAMPLE, lambda f, i, up: eth(ipv4(f[14:], 4), 0x0800), "ipip", None, 1),
    "4in6": (IPV4_SAMPLE, lambda f, i, up: eth(ipv6(f[14:], 4), 0x86DD), "4in6", None, 1),
    "6in4": (IPV6_SAMPLE, lambda f, i, up: eth(ipv4(f[14:], 41), 0x0800), "6in4", None, 1),
    "6in6": (IPV6_SAMPLE, lambda f, i, up: eth(ipv6(f[14:], 41), 0x86DD), "6in6", None, 1),
    "mpls-ethernet-stack": (IPV4_SAMPLE, lambda f, i, up: eth(mpls_stack(16, 17, 18 + up) + f[14:], 0x8847),
                            "mpls", None, 1),
    "mpls-pseudowire": (IPV4_SAMPLE, lambda f, i, up: eth(mpls_stack(100, 200) + b"\0\0\0\0" + f, 0x8847),
                        "mpls", None, 1),
    "mpls-ppp": (IPV4_SAMPLE, lambda f, i, up: b"\xff\x03\x02\x81" + mpls_stack(30, 31) + f[14:], "mpls", None, 9),
    "pbb": (IPV4_SAMPLE, lambda f, i, up: OUTER_MAC[1] + OUTER_MAC[0] + struct.pack("!HH", 0x88A8, 100)
            + struct.pack("!HI", 0x88E7, 0x00ABCDE) + f, "pbb", "isid=703710", 1),
    "vntag": (IPV4_SAMPLE, lambda f, i, up: f[:12] + struct.pack("!HI", 0x8926, 0x80010002 if up else 0x00020001)
              + f[12:], "vntag", None, 1),
    "gtpu": (IPV4_SAMPLE, lambda f, i, up: gtpu(f, i, up), "gtpu", "peers=192.0.2.1,192.0.2.2", 1),
    "teredo": (IPV6_SAMPLE, lambda f, i, up: over_ipv4_udp(struct.pack("!HH4s", 0, 40000, b"\1\2\3\4") + f[14:],
                                                           3544 if up else 51000, 51000 if up else 3544),
               "teredo", None, 1),
    "ayiya": (IPV6_SAMPLE, lambda f, i, up: over_ipv4_udp(bytes([0x41, 0x52, 0x11, 41]) + struct.pack("!I", 0)
                                                          + f[22:38] + b"\0" * 20 + f[14:], 5072),
              "ayiya", None, 1),
    "gre-vxlan-nested": (IPV4_SAMPLE, lambda f, i, up: over_gre(ipv4(udp(vxlan_header(9) + f, 4789), 17), 0x0800,
                                                                key=5), "gre+vxlan", "key=5,vni=9", 1),
    "fddi": (IPV4_SAMPLE, lambda f, i, up: b"\x50" + f[:12] + b"\xaa\xaa\x03\0\0\0" + f[12:], None, None, 10),
}


def rows(rep):
    keep = ("client", "server", "roles_inferred", "packets", "bytes", "retransmissions", "handshake", "close",
            "history", "conn_state", "first_seen", "last_seen")
    return [{k: c[k] for k in keep} for c in rep["connections"]]


def wrapped(tmp_path, name, wrap, linktype=1):
    """The sample's IP frames (its ARP and neighbour discovery left out), as
    they are and wrapped by ``wrap``."""
    frames = [(ts, f) for ts, f in sample_frames(name) if f[12:14] in (b"\x08\x00", b"\x86\xdd")]
    plain = write_frames(str(tmp_path / "plain.pcap"), frames)
    first_tcp = next(f for _, f in frames if f[12:14] in (b"\x08\x00", b"\x86\xdd")
                     and (f[23] == 6 or f[20] == 6))
    client_ip = socket.inet_ntoa(first_tcp[26:30]) if first_tcp[12:14] == b"\x08\x00" \
        else socket.inet_ntop(socket.AF_INET6, first_tcp[22:38])
    out = [(ts, wrap(f, i, from_client(f, client_ip))) for i, (ts, f) in enumerate(frames)]
    return plain, write_frames(str(tmp_path / "wrapped.pcap"), out, linktype)


@pytest.mark.parametrize("case", sorted(WRAPS))
def test_wrapped_sample_gives_the_unwrapped_states(tmp_path, case):
    sample, wrap, encap, tunnel_id, linktype = WRAPS[case]
    plain, tunneled = wrapped(tmp_path, sample, wrap, linktype)
    want, got = report_of(plain), report_of(tunneled)
    assert got["connections"] and rows(got) == rows(want)
    assert {(c["encapsulation"], c["tunnel_id"]) for c in got["connections"]} == {(encap, tunnel_id)}
    tcp = got["capture"]["tcp_packets"]
    assert tcp == want["capture"]["tcp_packets"]
    assert got["capture"]["encapsulations"] == ({encap: tcp} if encap else {})
    assert got["capture"]["link_types"] == [linktype]


def test_two_tunnels_carrying_the_same_inner_connection_stay_apart(tmp_path):
    # Two VPCs, one 10.0.0.0/8: the same kernel-made connection mirrored from
    # VNI 1 and from VNI 2, interleaved packet by packet (the second a
    # millisecond later); and once more inside GRE with keys 1 and 2.
    frames = sample_frames(IPV4_SAMPLE)
    plain = report_of(write_frames(str(tmp_path / "plain.pcap"), frames))
    assert len(plain["connections"]) == 1
    for label, wrap, ids in (
            ("vxlan", lambda f, n: over_ipv4_udp(vxlan_header(n) + f, 4789), ("vni=1", "vni=2")),
            ("gre", lambda f, n: over_gre(f[14:], 0x0800, key=n), ("key=1", "key=2"))):
        both = []
        for ts, f in frames:
            both += [(ts, wrap(f, 1)), (ts + 0.0005, wrap(f, 2))]
        path = write_frames(str(tmp_path / f"{label}.pcap"), both)
        for jobs in ("1", "2"):
            rep = report_of(path, "--jobs", jobs)
            conns = rep["connections"]
            assert sorted(c["tunnel_id"] for c in conns) == sorted(ids), label
            for c in conns:
                assert (c["client"], c["server"], c["packets"], c["history"], c["retransmissions"]) == (
                    plain["connections"][0]["client"], plain["connections"][0]["server"],
                    plain["connections"][0]["packets"], plain["connections"][0]["history"],
                    plain["connections"][0]["retransmissions"]), label
            assert not rep["anomalies"] or all("retrans" not in a["type"] for a in rep["anomalies"])


def test_vxlan_mirror_takes_the_fast_path_and_agrees_with_decode(tmp_path, monkeypatch):
    # The kernel capture bulk_loss.pcap mirrored in VXLAN (AWS VPC Traffic
    # Mirroring's shape): every TCP packet through the loop's VXLAN read, and
    # the same analysis through decode() alone.
    frames = sample_frames("bulk_loss.pcap")
    out = [(ts, over_ipv4_udp(vxlan_header(5569041) + f, 4789, 40000 + i % 100)) for i, (ts, f) in enumerate(frames)]
    # One frame with a VLAN tag on the outer Ethernet, taken a tag on.
    ts, f = out[5]
    out[5] = (ts, f[:12] + b"\x81\x00\x00\x0a" + f[12:])
    path = write_frames(str(tmp_path / "mirror.pcap"), out)
    calls = []
    real = packet_loop.decode
    monkeypatch.setattr(packet_loop, "decode", lambda *a: calls.append(1) or real(*a))
    fast = analysis.analyze([path])
    decoded = len(calls)
    monkeypatch.setattr(packet_loop, "FAST_PATHS", {})
    slow = analysis.analyze([path])
    assert list(build_report(fast)["connections"]) == \
        list(build_report(slow)["connections"])
    assert fast.stats.encapsulations == slow.stats.encapsulations == {"vxlan": fast.stats.tcp_packets}
    assert decoded <= 2          # the sample's two ARP frames


def test_vxlan_fast_path_leaves_odd_packets_to_decode(tmp_path, monkeypatch):
    # Inner IPv4 options, inner IPv6, a short UDP length, GSO (inner length
    # 0), a fragment, a non-TCP inner packet: decode() decides each, and
    # both ways agree.
    frames = [f for _, f in sample_frames(IPV4_SAMPLE)]
    tcp4 = [f for f in frames if f[12:14] == b"\x08\x00" and f[23] == 6]
    v6 = [f for _, f in sample_frames(IPV6_SAMPLE) if f[12:14] == b"\x86\xdd" and f[20] == 6]
    out = []
    for i, f in enumerate(tcp4):
        out.append(over_ipv4_udp(vxlan_header(3) + f, 4789))
        opts = f[:14] + bytes([0x46]) + f[15:16] + struct.pack("!H", int.from_bytes(f[16:18], "big") + 4) \
            + f[18:34] + b"\x01\x01\x01\x00" + f[34:]
        out.append(over_ipv4_udp(vxlan_header(3) + opts, 4789))
        gso = f[:16] + b"\0\0" + f[18:]
        out.append(over_ipv4_udp(vxlan_header(4) + gso, 4789))
        short = bytearray(over_ipv4_udp(vxlan_header(5) + f, 4789))
        struct.pack_into("!H", short, 38, 30)
        out.append(bytes(short))
        frag = bytearray(over_ipv4_udp(vxlan_header(6) + f, 4789))
        struct.pack_into("!H", frag, 20, 0x2000)
        out.append(bytes(frag))
    out += [over_ipv4_udp(vxlan_header(3) + f, 4789) for f in v6]
    path = write_frames(str(tmp_path / "odd.pcap"), [(1_700_000_000 + i * 0.001, f) for i, f in enumerate(out)])
    fast = analysis.analyze([path])
    monkeypatch.setattr(packet_loop, "FAST_PATHS", {})
    slow = analysis.analyze([path])
    assert list(build_report(fast)["connections"]) == list(build_report(slow)["connections"])
    assert fast.stats.skipped == slow.stats.skipped
    assert fast.stats.encapsulations == slow.stats.encapsulations
    assert fast.stats.skipped["truncated_header"] == len(tcp4)      # the short UDP length
    assert fast.stats.skipped["non_tcp"] == len(tcp4)               # the fragments


def _mixed_mirror_frames():
    """Plain TCP, VXLAN mirror packets (untagged; an outer tag; an inner tag;
    IPv6 inside) and ones the fast paths leave to decode() (a fragment, a
    short UDP length), interleaved: the loop's mirror read goes first after
    a VXLAN packet and must hand every other packet back as it was.  The
    frames, and how many are left to decode()."""
    v4 = [f for _, f in sample_frames(IPV4_SAMPLE) if f[12:14] == b"\x08\x00" and f[23] == 6]
    v6 = [f for _, f in sample_frames(IPV6_SAMPLE) if f[12:14] == b"\x86\xdd" and f[20] == 6]
    plain = [f for _, f in sample_frames("bulk_loss.pcap") if f[12:14] == b"\x08\x00"]
    out = []
    odd = 0
    for i, f in enumerate(v4):
        mirrored = over_ipv4_udp(vxlan_header(7) + f, 4789, 40000 + i % 5)
        kind = i % 6
        if kind == 1:
            mirrored = mirrored[:12] + b"\x81\x00\x00\x0a" + mirrored[12:]          # outer tag
            out.append(plain[i])        # after a plain packet: the plain read meets it first
        elif kind == 2:
            mirrored = over_ipv4_udp(vxlan_header(8) + f[:12] + b"\x81\x00\x00\x0b" + f[12:], 4789)  # inner tag
        elif kind in (3, 4):
            broken = bytearray(mirrored)
            if kind == 3:
                struct.pack_into("!H", broken, 20, 0x2000)      # a fragment
            else:
                struct.pack_into("!H", broken, 38, 30)          # a UDP length short of the inner headers
            out.append(bytes(broken))
            odd += 1
        out.append(mirrored)
        out.append(over_ipv4_udp(vxlan_header(9) + v6[i % len(v6)], 4789))
        if i % 4 == 0:
            out += plain[i:i + 3]
    return out, odd


@pytest.mark.parametrize("link", ["ethernet", "sll", "raw", "pcapng"])
def test_vxlan_mirror_read_hands_back_what_it_does_not_take(tmp_path, monkeypatch, link):
    frames, odd = _mixed_mirror_frames()
    if link in ("sll", "raw"):
        # Linux cooked capture (a 16-byte header instead of Ethernet's) or
        # raw IP; no outer tags there (decode() skips tags on Ethernet only).
        tagged = sum(1 for f in frames if f[12:14] == b"\x81\x00")
        frames = [f for f in frames if f[12:14] != b"\x81\x00"]
        assert tagged
        head = (lambda f: struct.pack("!HHH8sH", 0, 1, 6, f[6:12] + b"\0\0", 0x0800)) if link == "sll" \
            else (lambda f: b"")
        frames = [head(f) + f[14:] for f in frames]
    timed = [(1_700_000_000 + i * 0.001, f) for i, f in enumerate(frames)]
    if link == "pcapng":
        path = str(tmp_path / "mixed.pcapng")
        with open(path, "wb") as fh:
            w = dpkt.pcapng.Writer(fh)
            for ts, f in timed:
                w.writepkt(f, ts=ts)
    else:
        path = str(tmp_path / "mixed.pcap")
        linktype = {"ethernet": dpkt.pcap.DLT_EN10MB, "sll": dpkt.pcap.DLT_LINUX_SLL, "raw": 101}[link]
        write_frames(path, timed, linktype=linktype)
    calls = []
    real = packet_loop.decode
    monkeypatch.setattr(packet_loop, "decode", lambda *a: calls.append(1) or real(*a))
    fast = analysis.analyze([path])
    decoded = len(calls)
    monkeypatch.setattr(packet_loop, "FAST_PATHS", {})
    slow = analysis.analyze([path])
    assert list(build_report(fast)["connections"]) == list(build_report(slow)["connections"])
    assert (fast.stats.packets, fast.stats.tcp_packets, fast.stats.skipped, fast.stats.encapsulations) == \
        (slow.stats.packets, slow.stats.tcp_packets, slow.stats.skipped, slow.stats.encapsulations)
    assert fast.stats.packets == len(frames)
    assert fast.stats.encapsulations["vxlan"] > len(frames) // 2
    assert decoded == odd       # each once: the fragments and the short UDP lengths


# -- Hostile input ----------------------------------------------------------------

def test_nesting_past_the_limit_is_malformed_not_a_crash():
    inner = bytes(sample_frames(IPV4_SAMPLE)[2][1])
    assert inner[23] == 6
    packet = inner[14:]
    for depth in range(1, 40):
        packet = ipv4(packet, 4)
        r = decode(1, eth(packet, 0x0800), 0, 14 + len(packet))
        if depth <= 8:
            assert r.__class__ is tuple and r[10][0] == "+".join(["ipip"] * depth)
        else:
            assert r == 2          # SKIP_MALFORMED
    # Tunnels of every kind nested: GRE in VXLAN in Geneve in ... the limit holds.
    frame = inner
    for i in range(30):
        frame = [lambda f: over_ipv4_udp(vxlan_header(i) + f, 4789),
                 lambda f: over_gre(f, 0x6558, key=i),
                 lambda f: eth(mpls_stack(i + 16) + f[14:], 0x8847) if f[12:14] == b"\x08\x00" else f,
                 lambda f: over_ipv4_udp(struct.pack("!BBHI", 0, 0, 0x6558, i << 8) + f, 6081)][i % 4](frame)
    assert decode(1, frame, 0, len(frame)) == 2


def test_truncated_inner_headers_are_counted_as_damage(tmp_path):
    inner = sample_frames(IPV4_SAMPLE)[2][1]
    frames = []
    for wrap in (lambda f: over_ipv4_udp(vxlan_header(1) + f, 4789), lambda f: over_gre(f, 0x6558, key=3),
                 lambda f: over_gre(f, 0x88BE, seq=1), lambda f: eth(mpls_stack(20, 21) + f[14:], 0x8847),
                 lambda f: gtpu(f, 0, True), lambda f: over_ipv4_udp(struct.pack("!BBHI", 0, 0, 0x6558, 0) + f, 6081)):
        whole = wrap(inner)
        # Cut by the snaplen in every place after the outer UDP/GRE header.
        for cut in range(42, len(whole)):
            frames.append((1_700_000_000 + len(frames) * 0.001, whole[:cut]))
    path = write_frames(str(tmp_path / "cut.pcap"), frames)
    rep = report_of(path)
    assert rep["capture"]["packets"] == len(frames)
    skipped = rep["capture"]["skipped"]
    assert skipped["truncated_header"] > len(frames) // 2
    assert skipped["truncated_header"] + skipped["malformed"] + skipped["non_ip"] + skipped["non_tcp"] \
        + rep["capture"]["tcp_packets"] == len(frames)


def test_gre_with_a_bad_version_or_routing_is_not_decoded():
    f = sample_frames(IPV4_SAMPLE)[2][1]
    for flags in (0x0001, 0x4000):
        frame = eth(ipv4(struct.pack("!HH", flags, 0x0800) + f[14:], 47), 0x0800)
        assert decode(1, frame, 0, len(frame)) == 1     # SKIP_NON_TCP


def test_ladder_and_states_views_follow_a_tunneled_connection(tmp_path):
    path = wrapped(tmp_path, IPV4_SAMPLE, WRAPS["vxlan"][1])[1]
    proc = invoke("ladder", "--conn", "1", path, timeout=60)
    assert proc.code == 0, proc.stderr
    plain = invoke("ladder", "--conn", "1", str(tmp_path / "plain.pcap"), timeout=60)
    assert proc.stdout.count("\n") == plain.stdout.count("\n")


def test_csv_has_the_encapsulation_columns(tmp_path):
    path = wrapped(tmp_path, IPV4_SAMPLE, WRAPS["gre-key-teb"][1])[1]
    proc = invoke("analyze", "--format", "csv", path, timeout=60)
    header, row = proc.stdout.splitlines()[:2]
    cells = dict(zip(header.split(","), row.split(",")))
    assert cells["encapsulation"] == "gre" and cells["tunnel_id"] == "key=7"


def test_table_summary_names_the_tunnels(tmp_path):
    path = wrapped(tmp_path, IPV4_SAMPLE, WRAPS["gtpu"][1])[1]
    proc = invoke("analyze", path, timeout=60)
    assert "tunnels      gtpu 11 TCP" in proc.stdout
    plain = invoke("analyze", str(tmp_path / "plain.pcap"), timeout=60)
    assert "tunnels" not in plain.stdout


@pytest.mark.skipif(not ENCAP.is_dir(), reason="../shared/pcaps/encapsulation not present")
def test_ladder_follows_a_connection_whose_way_back_has_another_vni():
    # Open vSwitch's VNI 10 one way, 11 back: the ladder's recording pass
    # watches the 4-tuple whatever the tag, and draws all 33 segments.
    proc = invoke("ladder", "--conn", "1", str(ENCAP / "tcpdump-geneve-ssh.pcap"), timeout=60)
    assert proc.code == 0, proc.stderr
    assert "33 segments" in proc.stdout.splitlines()[1]
