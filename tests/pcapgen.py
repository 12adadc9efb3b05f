"""Hand-built captures for what a kernel cannot easily be made to do.

dpkt writes the packets; each test states its segments in TCP's own terms.
"""
from __future__ import annotations

import socket

import dpkt

FLAG_BITS = {"F": dpkt.tcp.TH_FIN, "S": dpkt.tcp.TH_SYN, "R": dpkt.tcp.TH_RST,
             "P": dpkt.tcp.TH_PUSH, "A": dpkt.tcp.TH_ACK, "U": dpkt.tcp.TH_URG}


def tcp_flags(spec: str) -> int:
    bits = 0
    for ch in spec:
        bits |= FLAG_BITS[ch]
    return bits


def frame(src, sport, dst, dport, flags, seq, ack=0, data=b"", win=65535, opts=b"", vlan=None):
    """One Ethernet frame carrying a TCP segment (IPv4 or IPv6 by address)."""
    tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=seq & 0xFFFFFFFF, ack=ack & 0xFFFFFFFF,
                       flags=tcp_flags(flags), win=win, opts=opts, data=data)
    tcp.off = (20 + len(opts)) // 4
    if ":" in src:
        ip = dpkt.ip6.IP6(src=socket.inet_pton(socket.AF_INET6, src), dst=socket.inet_pton(socket.AF_INET6, dst),
                          nxt=6, hlim=64, data=tcp, plen=len(bytes(tcp)))
        etype = dpkt.ethernet.ETH_TYPE_IP6
    else:
        ip = dpkt.ip.IP(src=socket.inet_aton(src), dst=socket.inet_aton(dst), p=6, ttl=64, data=tcp)
        ip.len = 20 + len(bytes(tcp))
        etype = dpkt.ethernet.ETH_TYPE_IP
    eth = dpkt.ethernet.Ethernet(src=b"\x02\x00\x00\x00\x00\x01", dst=b"\x02\x00\x00\x00\x00\x02",
                                 type=etype, data=ip)
    raw = bytes(eth)
    if vlan is not None:
        raw = raw[:12] + b"\x81\x00" + vlan.to_bytes(2, "big") + raw[12:]
    return raw


class Trace:
    """A client and a server exchanging segments; ``c``/``s`` add one each."""

    def __init__(self, client=("10.0.0.1", 40000), server=("10.0.0.2", 80), t0=1_700_000_000.0):
        self.client = client
        self.server = server
        self.t = t0
        self.frames: list[tuple[float, bytes]] = []

    def _add(self, src, dst, flags, seq, ack, data, win, dt, opts):
        self.t += dt
        self.frames.append((self.t, frame(src[0], src[1], dst[0], dst[1], flags, seq, ack, data, win, opts)))
        return self

    def c(self, flags, seq, ack=0, data=b"", win=65535, dt=0.001, opts=b""):
        return self._add(self.client, self.server, flags, seq, ack, data, win, dt, opts)

    def s(self, flags, seq, ack=0, data=b"", win=65535, dt=0.001, opts=b""):
        return self._add(self.server, self.client, flags, seq, ack, data, win, dt, opts)

    def other(self, flags, seq, ack=0, dt=0.001):
        """A segment of an unrelated connection (client port + 1)."""
        return self._add((self.client[0], self.client[1] + 1), self.server, flags, seq, ack, b"", 65535, dt, b"")

    def handshake(self, cisn=1000, sisn=5000):
        return self.c("S", cisn).s("SA", sisn, cisn + 1).c("A", cisn + 1, sisn + 1)

    def write(self, path, nano=False):
        with open(path, "wb") as fh:
            w = dpkt.pcap.Writer(fh, nano=nano)
            for ts, raw in self.frames:
                w.writepkt(raw, ts=ts)
        return path


def write_frames(path, frames, linktype=dpkt.pcap.DLT_EN10MB):
    with open(path, "wb") as fh:
        w = dpkt.pcap.Writer(fh, linktype=linktype)
        for ts, raw in frames:
            w.writepkt(raw, ts=ts)
    return path
