#!/usr/bin/env python3
"""Generate large, realistic, deterministic synthetic TCP captures for benchmarking.

    python3 bench/gen_capture.py --packets 2000000 --seed 1 -o bench/out/synth-2m.pcap
    python3 bench/gen_capture.py --packets 200000 --pcapng -o bench/out/synth-200k.pcapng

The capture point is a tap next to the servers: a server's answers appear a
few microseconds after what it answers, a client's one round-trip time later.
Every connection is scripted from start to end with consistent sequence and
acknowledgment numbers (ACKs acknowledge exactly what was sent and received),
then its packets are merged with everybody else's in timestamp order.  See
bench/README.md for the traffic mix.

Speed: frames are packed with precompiled ``struct.Struct``s (one Ethernet
prefix per connection direction, one IPv4+TCP or IPv6+TCP header struct),
padding comes from preallocated zero strings, and records are sorted in
~1-second buckets and written with one large ``write`` per bucket; no dpkt
object is built per packet.

Checksums: the IPv4 header checksum is always correct (computed
incrementally: only the total length and IP ID change per packet).  The TCP
checksum is 0 unless ``--tcp-checksums`` is given; then it is correct for the
full (zero-filled) segment, even though only ``--snaplen`` bytes are stored.

Payload bytes are zeros and frames are cut at ``--snaplen`` (default 96):
caplen is at most 96 while the IP length fields, and the record's original
length, give the full packet size.

``--encap vxlan`` mirrors every frame in VXLAN, as AWS VPC Traffic Mirroring
delivers it: outer Ethernet, IPv4 (172.31.255.1 -> 172.31.255.2, DF set),
UDP to port 4789 from a source port per connection (RFC 7348's entropy),
VXLAN with one of 4 VNIs per connection; ``--snaplen`` then cuts the inner
frame (the record holds the 50 outer bytes besides), so both captures show
the same inner bytes.

Only the standard library is used.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import struct
import sys
import time
from collections import defaultdict
from operator import itemgetter

# ---------------------------------------------------------------- constants
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
SA = SYN | ACK
FA = FIN | ACK
PA = PSH | ACK
RA = RST | ACK
M32 = 0xFFFFFFFF
C, S = 0, 1  # directions: client->server, server->client

PCAP_HEADER = struct.Struct("<IHHiIII")
REC = struct.Struct("<IIII")                    # pcap record header
EPB = struct.Struct("<IIIIIII")                 # pcapng enhanced packet block head
U32 = struct.Struct("<I")
IP4TCP = struct.Struct("!BBHHHBBH4s4sHHIIBBHHH")  # IPv4 (20) + TCP (20)
# --encap vxlan: outer Ethernet (14) + IPv4 (20) + UDP (8) + VXLAN (8)
VXLAN_OUTER = struct.Struct("!12sHBBHHHBBH4s4sHHHHII")
VXLAN_LEN = VXLAN_OUTER.size
VTEP_MACS = b"\x02\x00\x00\xff\x00\x02" + b"\x02\x00\x00\xff\x00\x01"
VTEPS = (bytes((172, 31, 255, 1)), bytes((172, 31, 255, 2)))
VNIS = (5569041, 5569041, 4242, 77)
IP6TCP = struct.Struct("!IHBB16s16sHHIIBBHHH")    # IPv6 (40) + TCP (20)

# Timestamps are integer microseconds; records are sorted in buckets of
# 2**20 us (~1 s).  A bucket is written once no future connection can start
# in it (every packet of a connection is at or after its start).
BUCKET_SHIFT = 20
BASE_US = 1_704_067_200 * 1_000_000  # 2024-01-01 00:00:00 UTC

EPHEMERAL_LO, EPHEMERAL_HI = 32768, 60999  # Linux ip_local_port_range
OPEN_PORTS = (443, 443, 443, 80, 80, 8080)
CLOSED_PORTS = (81, 3306, 8443, 9000, 9200)
TW_SERVER_PORT = 6379

# Traffic mix by number of connections (bulk flows are scheduled apart).
MIX = (
    ("client_close", 0.44),
    ("server_close", 0.18),
    ("time_wait", 0.20),
    ("half_close", 0.05),
    ("rst_abort", 0.05),
    ("closed_port", 0.05),
    ("syn_unanswered", 0.03),
)
KINDS = tuple(k for k, _ in MIX) + ("bulk",)
IPV6_SHARE = 0.125     # of the non-TIME_WAIT connections (-> ~10% of all)
VLAN_SHARE = 0.0625    # likewise (-> ~5% of all)
LOSS = 0.01            # share of data segments lost after the tap and retransmitted
PKTS_PER_CONN = 20.3   # measured average, used to turn --packets into a connection rate
CONN_RATE = 2000.0     # connections per second when --duration is not given
BULK_PKTS = 150_000    # one bulk flow per this many packets (at least 2)


def _syn_opts(mss: int) -> bytes:
    # MSS, NOP, window scale 7, NOP, NOP, SACK permitted: 12 bytes.
    return struct.pack("!BBH", 2, 4, mss) + b"\x01\x03\x03\x07\x01\x01\x04\x02"


def _ones_sum(data: bytes) -> int:
    if len(data) & 1:
        data += b"\0"
    return sum(struct.unpack("!%dH" % (len(data) // 2), data))


def _fold(s: int) -> int:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


class Flow:
    """One TCP connection's two directions: addresses, counters, and the packer."""

    __slots__ = ("g", "v6", "eth", "ethlen", "hdrlen", "src", "dst", "sp", "dp", "ttl", "win",
                 "ipid", "ipsum", "tsum", "nxt", "rtt", "rd", "gap", "mss", "syn_opts", "last",
                 "flowlabel", "vx_sport", "vni")

    def __init__(self, g, v6, vlan, cmac, smac, caddr, saddr, cport, sport, rtt, proc, rng):
        self.g = g
        self.v6 = v6
        if vlan:
            tag = struct.pack("!HH", 0x8100, vlan)
            et = b"\x86\xdd" if v6 else b"\x08\x00"
            self.eth = (smac + cmac + tag + et, cmac + smac + tag + et)
        else:
            et = b"\x86\xdd" if v6 else b"\x08\x00"
            self.eth = (smac + cmac + et, cmac + smac + et)
        self.ethlen = len(self.eth[0])
        self.hdrlen = self.ethlen + (60 if v6 else 40)
        self.src = (caddr, saddr)
        self.dst = (saddr, caddr)
        self.sp = (cport, sport)
        self.dp = (sport, cport)
        cttl = 64 - rng.randint(3, 20)
        self.ttl = (cttl, 64)
        self.win = (rng.choice((502, 501, 2048, 8192, 64240)), rng.choice((509, 510, 1024, 4096)))
        self.ipid = [rng.getrandbits(16), rng.getrandbits(16)]
        if v6:
            self.ipsum = (0, 0)
            self.flowlabel = (0x60000000 | rng.getrandbits(20), 0x60000000 | rng.getrandbits(20))
            pseudo = _ones_sum(caddr + saddr) + 6
        else:
            self.flowlabel = None
            a = _ones_sum(caddr + saddr)
            self.ipsum = (0x4500 + 0x4000 + ((cttl << 8) | 6) + a, 0x4500 + 0x4000 + ((64 << 8) | 6) + a)
            pseudo = a + 6
        self.tsum = (pseudo + cport + sport, pseudo + cport + sport)
        self.nxt = [0, 0]
        self.rtt = rtt
        # rd[d]: from a packet seen at the tap to the answer of direction d's
        # sender seen at the tap.  Clients answer one RTT later, servers at once.
        self.rd = (rtt, proc)
        self.gap = 12
        self.mss = 1440 if v6 else 1460
        self.syn_opts = _syn_opts(self.mss)
        self.last = 0
        if g.encap:
            self.vx_sport = 49152 + (cport ^ sport) % 16384
            self.vni = VNIS[(cport + sport) % len(VNIS)]

    def emit(self, ts, d, seq, ack, flags, plen, opts=b""):
        """Pack one frame and queue its record under its timestamp (integer us)."""
        g = self.g
        olen = len(opts)
        thl = 20 + olen
        win = 64240 if olen else self.win[d]  # only SYNs carry options here
        if g.tcp_checksums:
            s = (self.tsum[d] + thl + plen + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16) + (ack & 0xFFFF)
                 + ((thl << 10) | flags) + win)
            if olen:
                s += g.opt_sums[opts]
            s = (s & 0xFFFF) + (s >> 16)
            s = (s & 0xFFFF) + (s >> 16)
            tcsum = ~s & 0xFFFF
        else:
            tcsum = 0
        if self.v6:
            hdr = IP6TCP.pack(self.flowlabel[d], thl + plen, 6, self.ttl[d], self.src[d], self.dst[d],
                              self.sp[d], self.dp[d], seq, ack, thl << 2, flags, win, tcsum, 0)
            wire = self.ethlen + 40 + thl + plen
        else:
            total = 20 + thl + plen
            ipid = self.ipid[d] = (self.ipid[d] + 1) & 0xFFFF
            s = self.ipsum[d] + total + ipid
            s = (s & 0xFFFF) + (s >> 16)
            s = (s & 0xFFFF) + (s >> 16)
            hdr = IP4TCP.pack(0x45, 0, total, ipid, 0x4000, self.ttl[d], 6, ~s & 0xFFFF, self.src[d],
                              self.dst[d], self.sp[d], self.dp[d], seq, ack, thl << 2, flags,
                              win, tcsum, 0)
            wire = self.ethlen + total
        snap = g.snaplen
        hl = self.hdrlen + olen
        eth = self.eth[d]
        if g.encap:
            # The mirror's outer headers; the snaplen cuts the inner frame.
            eth = VXLAN_OUTER.pack(VTEP_MACS, 0x0800, 0x45, 0, 36 + wire, 0, 0x4000, 64, 17, 0, VTEPS[0],
                                   VTEPS[1], self.vx_sport, 4789, 16 + wire, 0, 0x08000000, self.vni << 8) + eth
            wire += VXLAN_LEN
            snap += VXLAN_LEN
            hl += VXLAN_LEN
        cap = wire if wire < snap else snap
        if g.pcapng:
            pad = (-cap) & 3
            total_len = 32 + cap + pad
            tsv = ts
            head = EPB.pack(6, total_len, 0, tsv >> 32, tsv & M32, cap, wire)
            tail = g.zeros[pad] + U32.pack(total_len)
        else:
            head = REC.pack(ts // 1_000_000, ts % 1_000_000, cap, wire)
            tail = b""
        if cap >= hl:
            rec = b"".join((head, eth, hdr, opts, g.zeros[cap - hl], tail))
        else:
            rec = b"".join((head, (eth + hdr + opts)[:cap], tail))
        g.buckets[ts >> BUCKET_SHIFT].append((ts, rec))
        if ts > self.last:
            self.last = ts


class Generator:
    def __init__(self, packets, seed=1, duration=None, snaplen=96, pcapng=False, tcp_checksums=False, encap=None):
        self.target = packets
        self.seed = seed
        self.rng = random.Random(seed)
        self.snaplen = snaplen
        self.pcapng = pcapng
        self.tcp_checksums = tcp_checksums
        self.encap = encap
        self.zeros = [bytes(i) for i in range(min(max(snaplen, 4), 1600) + 1)]  # frames are <= 1518 bytes
        self.buckets = defaultdict(list)
        self.duration = duration if duration else packets / (PKTS_PER_CONN * CONN_RATE)
        self.rate = packets / (PKTS_PER_CONN * self.duration) / 1e6  # connections per us
        nbulk = max(2, round(packets / BULK_PKTS))
        self.bulk_interval = int(self.duration * 1e6 / nbulk)
        self.opt_sums = {}
        for mss in (1460, 1440):
            o = _syn_opts(mss)
            self.opt_sums[o] = _ones_sum(o)
        rng = self.rng
        self.isn_salt = rng.getrandbits(32)
        # Address pools.
        self.v4_clients = [bytes((10, rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)))
                           for _ in range(20000)]
        self.v6_clients = [b"\x20\x01\x0d\xb8\xc0\x00" + rng.getrandbits(80).to_bytes(10, "big")
                           for _ in range(3000)]
        self.v4_servers = [bytes((192, 0, 2, i)) for i in range(10, 34)] + \
                          [bytes((198, 51, 100, i)) for i in range(10, 18)]
        self.v6_servers = [bytes.fromhex("20010db8000500000000000000000%03x" % i) for i in range(1, 9)]
        self.server_macs = {}
        self.router_mac = bytes.fromhex("001b21aa0001")
        self.tw_client = bytes((10, 20, 30, 40))
        self.tw_server = bytes((10, 20, 30, 50))
        self.tw_client_mac = bytes.fromhex("5254000a1428")
        self.active = {}  # 4-tuple -> last packet time, to never reuse a live tuple
        self.kinds, weights = zip(*MIX)
        self.cum = []
        acc = 0.0
        for w in weights:
            acc += w
            self.cum.append(acc)
        self.started = []  # (start_us, kind index, ipv6, vlan) of every connection
        self.tw_reused = 0
        self.tw_ports_seen = set()

    # ---------------------------------------------------------- helpers
    def mac_for(self, addr):
        m = self.server_macs.get(addr)
        if m is None:
            m = self.server_macs[addr] = bytes((0x02, 0x42)) + addr[-4:]
        return m

    def rtt(self):
        r = self.rng.random()
        if r < 0.5:
            return self.rng.randint(200, 3000)
        if r < 0.85:
            return self.rng.randint(10_000, 60_000)
        return self.rng.randint(80_000, 250_000)

    def new_flow(self, t, v6=None, vlan=None, server_port=None, rtt=None):
        rng = self.rng
        if v6 is None:
            v6 = rng.random() < IPV6_SHARE
        if vlan is None:
            vlan = rng.choice((10, 20, 100, 0x2000 | 200)) if rng.random() < VLAN_SHARE else 0
        if v6:
            caddr = rng.choice(self.v6_clients)
            saddr = rng.choice(self.v6_servers)
        else:
            caddr = rng.choice(self.v4_clients)
            saddr = rng.choice(self.v4_servers)
        sport = server_port or rng.choice(OPEN_PORTS)
        while True:
            cport = rng.randint(EPHEMERAL_LO, EPHEMERAL_HI)
            key = (caddr, cport, saddr, sport)
            if self.active.get(key, -1) < t:
                break
        f = Flow(self, v6, vlan, self.router_mac, self.mac_for(saddr), caddr, saddr, cport, sport,
                 rtt if rtt is not None else self.rtt(), rng.randint(15, 150), rng)
        f.gap = rng.choice((12, 12, 12, 24, 60, 120))
        return f, key

    # ---------------------------------------------------------- building blocks
    def handshake(self, f, t, ic=None):
        """SYN, SYN-ACK, ACK; returns the time of the client's ACK."""
        rng = self.rng
        ic = rng.getrandbits(32) if ic is None else ic
        is_ = rng.getrandbits(32)
        f.emit(t, C, ic, 0, SYN, 0, f.syn_opts)
        t += f.rd[S]
        f.emit(t, S, is_, (ic + 1) & M32, SA, 0, f.syn_opts)
        t += f.rd[C]
        f.nxt[C] = (ic + 1) & M32
        f.nxt[S] = (is_ + 1) & M32
        f.emit(t, C, f.nxt[C], f.nxt[S], ACK, 0)
        return t

    def send(self, f, t, d, nbytes, cwnd=10, cwnd_max=64):
        """Data from direction d, ACKed by the other side, with ~1% of the
        segments lost after the tap and retransmitted (fast retransmit if three
        later segments can raise duplicate ACKs, else after RTO = 200 ms + RTT).

        Returns (time of the last data segment, time of the ACK covering all)."""
        rng = self.rng
        r = 1 - d
        mss = f.mss
        gap = f.gap
        rd_r = f.rd[r]
        rd_s = f.rd[d]
        base = f.nxt[d]
        ackv = f.nxt[r]
        emit = f.emit
        # Schedule: slow start, one window per RTT, paced at `gap`.
        sched = []
        off = 0
        tt = t
        t_round = t
        while off < nbytes:
            if tt < t_round:
                tt = t_round
            first = tt
            for _ in range(cwnd):
                if off >= nbytes:
                    break
                ln = nbytes - off
                if ln > mss:
                    ln = mss
                sched.append((tt, off, ln))
                off += ln
                tt += gap
            t_round = first + rd_r + rd_s
            cwnd = cwnd * 2 if cwnd * 2 < cwnd_max else cwnd_max
        n = len(sched)
        arrivals = []
        t_last = t
        rnd = rng.random
        for i in range(n):
            ts_, o, ln = sched[i]
            flags = PA if o + ln == nbytes else ACK
            emit(ts_, d, (base + o) & M32, ackv, flags, ln)
            if rnd() < LOSS:
                if i + 3 < n:
                    t_rx = sched[i + 3][0] + rd_r + rd_s
                else:
                    t_rx = ts_ + 200_000 + f.rtt
                emit(t_rx, d, (base + o) & M32, ackv, flags, ln)
                arrivals.append((t_rx + rd_r, o, ln))
                if t_rx > t_last:
                    t_last = t_rx
            else:
                arrivals.append((ts_ + rd_r, o, ln))
                if ts_ > t_last:
                    t_last = ts_
        arrivals.sort(key=itemgetter(0))
        # The receiver: delayed ACK every second in-order segment, immediate
        # duplicate ACKs for out-of-order ones, immediate ACK when a hole fills.
        rcv = 0
        ooo = {}
        pending = 0
        rseq = f.nxt[r]
        at = t
        for at, o, ln in arrivals:
            if o == rcv:
                rcv += ln
                filled = False
                while rcv in ooo:
                    rcv += ooo.pop(rcv)
                    filled = True
                pending += 1
                if pending >= 2 or filled or ooo:
                    emit(at, r, rseq, (base + rcv) & M32, ACK, 0)
                    pending = 0
            elif o > rcv:
                ooo[o] = ln
                emit(at, r, rseq, (base + rcv) & M32, ACK, 0)
            else:
                emit(at, r, rseq, (base + rcv) & M32, ACK, 0)
        if pending:
            emit(at, r, rseq, (base + rcv) & M32, ACK, 0)
        f.nxt[d] = (base + nbytes) & M32
        return t_last, at

    def request(self, f, t, nbytes):
        f.emit(t, C, f.nxt[C], f.nxt[S], PA, nbytes)
        f.nxt[C] = (f.nxt[C] + nbytes) & M32
        return t

    def think(self):
        return max(50, int(self.rng.lognormvariate(math.log(2000), 1.2)))

    def resp_size(self, f, lo=1, hi=20):
        # 1-20 segments, skewed to small responses (mean ~7 of 1-20).
        rng = self.rng
        k = lo + int((hi - lo + 1) * rng.random() ** 2)
        return (k - 1) * f.mss + rng.randint(1, f.mss)

    def exchanges(self, f, t):
        """1-3 HTTP-like request/response exchanges; returns the time the
        client has ACKed the last response."""
        rng = self.rng
        n = 1 if rng.random() < 0.8 else rng.randint(2, 3)
        for i in range(n):
            t = self.request(f, t + rng.randint(1, 60) if i == 0 else t, rng.randint(120, 900))
            th = self.think()
            if th > 40_000:  # the server's delayed ACK fires before the answer
                f.emit(t + 40_000, S, f.nxt[S], f.nxt[C], ACK, 0)
            _, t = self.send(f, t + th, S, self.resp_size(f))
            if i + 1 < n:
                t += rng.randint(1000, 200_000)
        return t

    def client_fin(self, f, t):
        """Client closes first: client TIME_WAIT, server CLOSED."""
        return self.close_first(f, t, C, S, 0.7)

    def server_fin(self, f, t):
        """Server closes first: server TIME_WAIT, client CLOSED."""
        return self.close_first(f, t, S, C, 0.5)

    def close_first(self, f, t, a, b, p_fin_ack):
        """``a`` sends FIN; ``b`` answers with its own FIN-ACK at once (with
        probability ``p_fin_ack``) or ACKs first and closes a little later;
        ``a`` ACKs the last FIN."""
        rng = self.rng
        f.emit(t, a, f.nxt[a], f.nxt[b], FA, 0)
        f.nxt[a] = (f.nxt[a] + 1) & M32
        t += f.rd[b]
        if rng.random() < p_fin_ack:
            f.emit(t, b, f.nxt[b], f.nxt[a], FA, 0)
        else:
            f.emit(t, b, f.nxt[b], f.nxt[a], ACK, 0)
            t += rng.randint(20, 5000)
            f.emit(t, b, f.nxt[b], f.nxt[a], FA, 0)
        f.nxt[b] = (f.nxt[b] + 1) & M32
        t += f.rd[a]
        f.emit(t, a, f.nxt[a], f.nxt[b], ACK, 0)
        return t

    def idle(self, p_now=0.6, mean=500_000, cap=5_000_000):
        rng = self.rng
        if rng.random() < p_now:
            return rng.randint(5, 5000)
        return min(cap, int(rng.expovariate(1.0 / mean)) + 1)

    # ---------------------------------------------------------- connection kinds
    def c_client_close(self, f, t):
        t = self.handshake(f, t)
        t = self.exchanges(f, t)
        return self.client_fin(f, t + self.idle())

    def c_server_close(self, f, t):
        t = self.handshake(f, t)
        t = self.exchanges(f, t)
        rng = self.rng
        # Connection: close right away, or a keep-alive timeout of 1-5 s.
        t += rng.randint(20, 3000) if rng.random() < 0.6 else rng.randint(1_000_000, 5_000_000)
        return self.server_fin(f, t)

    def c_half_close(self, f, t):
        """Client sends its request and shuts down its side; the server keeps
        sending (2-60 segments, in 1-3 bursts), then closes."""
        rng = self.rng
        t = self.handshake(f, t)
        t = self.request(f, t + rng.randint(1, 60), rng.randint(120, 900))
        t += rng.randint(1, 100)
        f.emit(t, C, f.nxt[C], f.nxt[S], FA, 0)
        f.nxt[C] = (f.nxt[C] + 1) & M32
        t += f.rd[S]
        f.emit(t, S, f.nxt[S], f.nxt[C], ACK, 0)
        for _ in range(rng.randint(1, 3)):
            _, t = self.send(f, t + self.think(), S, self.resp_size(f, 2, 20))
        t += rng.randint(20, 2000)
        f.emit(t, S, f.nxt[S], f.nxt[C], FA, 0)
        f.nxt[S] = (f.nxt[S] + 1) & M32
        t += f.rd[C]
        f.emit(t, C, f.nxt[C], f.nxt[S], ACK, 0)
        return t

    def c_rst_abort(self, f, t):
        """Aborted connections, three ways (Linux aborts always carry ACK)."""
        rng = self.rng
        t = self.handshake(f, t)
        t = self.request(f, t + rng.randint(1, 60), rng.randint(120, 900))
        r = rng.random()
        if r < 0.35:
            # The server application dies / closes with SO_LINGER 0: RST-ACK.
            t += self.think()
            f.emit(t, S, f.nxt[S], f.nxt[C], RA, 0)
        elif r < 0.7:
            # The client gives up part-way through a longer response: RST-ACK
            # after the first 1-6 segments.
            _, t = self.send(f, t + self.think(), S, self.resp_size(f, 1, 6))
            t += rng.randint(1000, 300_000)
            f.emit(t, C, f.nxt[C], f.nxt[S], RA, 0)
        else:
            # Half-open: the client host reboots after the exchange; the next
            # server segment is answered by a bare RST (seq = its ACK, no ACK).
            _, t = self.send(f, t + self.think(), S, self.resp_size(f))
            t += rng.randint(100_000, 2_000_000)
            n = rng.randint(20, 400)
            f.emit(t, S, f.nxt[S], f.nxt[C], PA, n)
            f.nxt[S] = (f.nxt[S] + n) & M32
            t += f.rd[C]
            f.emit(t, C, f.nxt[C], 0, RST, 0)
        return t

    def c_closed_port(self, f, t):
        ic = self.rng.getrandbits(32)
        f.emit(t, C, ic, 0, SYN, 0, f.syn_opts)
        t += f.rd[S]
        f.emit(t, S, 0, (ic + 1) & M32, RA, 0)
        return t

    def c_syn_unanswered(self, f, t):
        """A SYN into a black hole, retransmitted after 1 s, 2 s and 4 s (and
        sometimes 8 s): Linux tcp_syn_retries backoff."""
        ic = self.rng.getrandbits(32)
        n = 4 if self.rng.random() < 0.7 else 5
        off = 0
        for i in range(n):
            f.emit(t + off, C, ic, 0, SYN, 0, f.syn_opts)
            off += 1_000_000 << i
        return t + off - (1_000_000 << (n - 1))

    def c_time_wait(self, f, t, ic):
        """A short request/response to one server port, client closes first."""
        rng = self.rng
        t = self.handshake(f, t, ic)
        t = self.request(f, t + rng.randint(1, 20), rng.randint(30, 200))
        _, t = self.send(f, t + rng.randint(30, 400), S, rng.randint(5, 1400) if rng.random() < 0.9
                         else rng.randint(1401, 6000))
        return self.client_fin(f, t + rng.randint(5, 200))

    def c_bulk(self, f, t):
        """Thousands of segments in one direction (70% downloads)."""
        rng = self.rng
        t = self.handshake(f, t)
        t = self.request(f, t + rng.randint(1, 60), rng.randint(120, 600))
        nseg = rng.randint(2000, 15000)
        cmax = rng.choice((32, 64, 128, 256))
        if rng.random() < 0.7:
            _, t = self.send(f, t + self.think(), S, nseg * f.mss, cwnd_max=cmax)
        else:
            _, t = self.send(f, t + rng.randint(20, 200), S, rng.randint(50, 300))
            _, t = self.send(f, t + f.rd[C], C, nseg * f.mss, cwnd_max=cmax)
            _, t = self.send(f, t + rng.randint(20, 2000), S, rng.randint(50, 300))
        return self.client_fin(f, t + rng.randint(5, 5000))

    # ---------------------------------------------------------- main loop
    def start(self, t):
        """Start one connection (of a random kind) at absolute time t."""
        rng = self.rng
        x = rng.random()
        kind = 0
        cum = self.cum
        while kind < len(cum) - 1 and x >= cum[kind]:
            kind += 1
        name = self.kinds[kind]
        if name == "time_wait":
            while True:
                cport = rng.randint(EPHEMERAL_LO, EPHEMERAL_HI)
                key = (self.tw_client, cport, self.tw_server, TW_SERVER_PORT)
                if self.active.get(key, -1) < t:
                    break
            if cport in self.tw_ports_seen:
                self.tw_reused += 1
            self.tw_ports_seen.add(cport)
            f = Flow(self, False, 0, self.tw_client_mac, self.mac_for(self.tw_server), self.tw_client,
                     self.tw_server, cport, TW_SERVER_PORT, rng.randint(100, 600), rng.randint(15, 80), rng)
            # Clock-driven ISN per tuple, so a reused tuple's SYN is above the
            # old connection's sequence numbers (what lets Linux recycle TIME_WAIT).
            ic = (cport * 2654435761 + self.isn_salt + (t - BASE_US) * 16) & M32
            end = self.c_time_wait(f, t, ic)
        else:
            sport = rng.choice(CLOSED_PORTS) if name == "closed_port" else None
            f, key = self.new_flow(t, server_port=sport)
            end = getattr(self, "c_" + name)(f, t)
        self.active[key] = max(end, f.last)
        self.started.append((t, kind, f.v6, f.ethlen == 18))

    def start_bulk(self, t):
        rng = self.rng
        f, key = self.new_flow(t, v6=rng.random() < 0.2, vlan=0, rtt=rng.randint(2000, 40_000))
        f.gap = rng.choice((12, 24, 48))
        end = self.c_bulk(f, t)
        self.active[key] = max(end, f.last)
        self.started.append((t, len(self.kinds), f.v6, f.ethlen == 18))

    def write(self, path):
        t0 = time.perf_counter()
        target = self.target
        written = 0
        last_ts = None
        with open(path, "wb", buffering=0) as out:
            if self.pcapng:
                shb = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
                idb = struct.pack("<IIHHII", 1, 20, 1, 0, self.snaplen + (VXLAN_LEN if self.encap else 0), 20)
                out.write(shb + idb)
            else:
                out.write(PCAP_HEADER.pack(0xA1B2C3D4, 2, 4, 0, 0,
                                           self.snaplen + (VXLAN_LEN if self.encap else 0), 1))
            flushed_to = BASE_US >> BUCKET_SHIFT  # first bucket not yet written
            buckets = self.buckets
            expo = self.rng.expovariate
            rate = self.rate
            t_conn = BASE_US + int(expo(rate))
            t_bulk = BASE_US + self.bulk_interval // 2
            while written < target:
                bulk = t_bulk <= t_conn
                t = t_bulk if bulk else t_conn
                b = t >> BUCKET_SHIFT
                while flushed_to < b and written < target:
                    items = buckets.pop(flushed_to, None)
                    flushed_to += 1
                    if not items:
                        continue
                    items.sort(key=itemgetter(0))
                    if written + len(items) > target:
                        del items[target - written:]
                    out.write(b"".join(map(itemgetter(1), items)))
                    written += len(items)
                    last_ts = items[-1][0]
                if written >= target:
                    break
                if bulk:
                    self.start_bulk(t)
                    t_bulk += self.bulk_interval
                else:
                    self.start(t)
                    t_conn += int(expo(rate)) + 1
        self.buckets.clear()
        elapsed = time.perf_counter() - t0
        counts = {k: 0 for k in KINDS}
        n_conn = n_v6 = n_vlan = 0
        for st, kind, v6, vlan in self.started:
            if last_ts is not None and st <= last_ts:
                counts[KINDS[kind]] += 1
                n_conn += 1
                n_v6 += v6
                n_vlan += vlan
        return {
            "path": path,
            "format": "pcapng" if self.pcapng else "pcap",
            "packets": written,
            "seed": self.seed,
            "snaplen": self.snaplen,
            "connections": n_conn,
            "by_kind": counts,
            "ipv6_connections": n_v6,
            "vlan_connections": n_vlan,
            "time_wait_port_reuses": self.tw_reused,
            "first_ts": BASE_US / 1e6,
            "last_ts": (last_ts or BASE_US) / 1e6,
            "span_s": ((last_ts or BASE_US) - BASE_US) / 1e6,
            "target_duration_s": self.duration,
            "bytes": os.path.getsize(path),
            "generation_s": round(elapsed, 2),
        }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", required=True, metavar="FILE", help="capture file to write")
    ap.add_argument("--packets", type=int, default=1_000_000, metavar="N",
                    help="exact number of packets to write (default 1000000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed; same seed and options, same bytes (default 1)")
    ap.add_argument("--pcapng", action="store_true", help="write pcapng instead of classic pcap")
    ap.add_argument("--snaplen", type=int, default=96,
                    help="bytes stored per frame; IP lengths keep the full size (default 96)")
    ap.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                    help="seconds of traffic (default: packets / 40600, i.e. ~2000 new connections/s)")
    ap.add_argument("--tcp-checksums", action="store_true",
                    help="fill in correct TCP checksums (default: 0; IPv4 header checksums are always right)")
    ap.add_argument("--encap", choices=("vxlan",), default=None,
                    help="mirror every frame in this encapsulation (vxlan: AWS VPC Traffic Mirroring's)")
    ap.add_argument("--summary-json", metavar="FILE", help="also write the summary as JSON to FILE")
    ap.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    args = ap.parse_args(argv)
    if args.packets < 1:
        ap.error("--packets must be at least 1")
    if args.snaplen < 1 or args.snaplen > 262144:
        ap.error("--snaplen must be 1..262144")
    if args.duration is not None and args.duration <= 0:
        ap.error("--duration must be positive")
    gen = Generator(args.packets, seed=args.seed, duration=args.duration, snaplen=args.snaplen,
                    pcapng=args.pcapng, tcp_checksums=args.tcp_checksums, encap=args.encap)
    summary = gen.write(args.output)
    if args.summary_json:
        with open(args.summary_json, "w") as fh:
            json.dump(summary, fh, indent=2)
            fh.write("\n")
    if not args.quiet:
        kinds = ", ".join(f"{k} {v}" for k, v in summary["by_kind"].items())
        n = max(1, summary["connections"])
        print(f"{summary['path']}: {summary['packets']} packets, {summary['connections']} connections "
              f"({kinds}; IPv6 {100 * summary['ipv6_connections'] / n:.1f}%, "
              f"VLAN {100 * summary['vlan_connections'] / n:.1f}%), {summary['span_s']:.1f} s of traffic, "
              f"{summary['bytes'] / 1e6:.1f} MB, written in {summary['generation_s']:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
