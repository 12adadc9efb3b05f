"""The packet loop: capture records -> decoded segments -> the connection table.

The common packet (Ethernet, Linux cooked, raw IP or one 802.1Q tag; IPv4 without
options or IPv6 without extension headers; TCP) is decoded inline with one
precompiled struct read (``decode.FAST_PATHS``), and so is the VXLAN mirror's
(outer Ethernet/IPv4/UDP/VXLAN, inner Ethernet/IPv4/TCP; IPv6 inside takes one
more read), while a capture is VXLAN.  Everything else goes through
``decode.decode``.  Records are walked where they lie in the readers' buffers
(``capture.windows``): pcap records, pcapng Enhanced Packet Blocks, or packed
records.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..capture.windows import EPB, EPB_FIXED_LEN
from ..decode import (
    ETH_P_8021Q, FAST_PATHS, LINKTYPE_ETHERNET, RAW_IPV4, RAW_IPV6, SKIP_NAMES, SYN, TCP_MIN_LEN,
    decode,
)
from ..decode.layouts import DOT1Q, ETHERNET, IPV4, IPV6, TCP, UDP, VXLAN, VXLAN_FAST, VXLAN_FAST6
from ..decode.tcp import window_scale
from ..decode.tunnel import encapsulation, vxlan_layer
from .table import ROUTED, ConnectionTable

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

# run() unpacks the fast paths' reads into these names, in this order (the
# unpacks of unpack_fast, unpack_fast6 and unpack_mirror): the layouts must
# read the fields so (decode.layouts, FAST_V4_NAMES, FAST_V6_NAMES and
# FAST_MIRROR_NAMES).
_UNPACK_V4 = ("etype", "vhl", "total", "frag", "proto", "sport", "dport", "seq", "ack", "doff", "flags", "win")
_UNPACK_V6 = ("vtf", "ip_plen", "nxt_hdr", "sport", "dport", "seq", "ack", "doff", "flags", "win")
_UNPACK_MIRROR = _UNPACK_V4[:5] + ("udp_dport", "ulen", "vni_res", "ietype", "ivhl", "itotal", "ifrag", "iproto") \
    + _UNPACK_V4[5:]
for _path in FAST_PATHS.values():
    if _path.v4.names != _UNPACK_V4 or _path.v6.names != _UNPACK_V6 or _path.mirror.names != _UNPACK_MIRROR:
        raise AssertionError(f"decode.FAST_PATHS reads {_path.v4.names}, {_path.v6.names} and "
                             f"{_path.mirror.names}, but engine.loop.run unpacks {_UNPACK_V4}, {_UNPACK_V6} "
                             f"and {_UNPACK_MIRROR}")
del _path
if VXLAN_FAST.names != ("vni_res",) + _UNPACK_V4 or VXLAN_FAST6.names != ("vni_res", "etype") + _UNPACK_V6:
    raise AssertionError(f"decode.VXLAN_FAST reads {VXLAN_FAST.names} and VXLAN_FAST6 {VXLAN_FAST6.names}, "
                         f"but engine.loop.run unpacks {('vni_res',) + _UNPACK_V4} and "
                         f"{('vni_res', 'etype') + _UNPACK_V6}")
# The VXLAN fast path's cache of VNI -> (encapsulation, flow-key tag) is
# emptied past this many VNIs (a hostile capture may use a new one a packet).
_VNI_CACHE_MAX = 4096
# The VNI words the walk keeps in front of that cache (a power of two).
_VNI_FRONT = 64

# The compiled walk reads the record headers and the fast paths' fields with
# C loads from the window's bytes (``_c_v4``, ``_c_v6``, ``_c_mirror``), not
# with struct reads that build a tuple of Python ints a packet; the pure build
# keeps the struct reads.  Both take the offsets from the same header
# declarations (decode.layouts); what the C loads assume of the reads' layouts
# (IP right after the link header, TCP or UDP right after IPv4, the mirror's
# inner headers end to end) is checked here.
_IP_VHL, _IP_TOS, _IP_LEN, _IP_OFF, _IP_P = (IPV4.offsets[f] for f in ("vhl", "tos", "len", "off", "p"))
_IP6_VFC, _IP6_PLEN, _IP6_NXT = (IPV6.offsets[f] for f in ("vfc_flow", "plen", "nxt"))
_TCP_SPORT, _TCP_DPORT, _TCP_SEQ, _TCP_ACK, _TCP_OFF, _TCP_FLAGS, _TCP_WIN = (
    TCP.offsets[f] for f in ("sport", "dport", "seq", "ack", "off", "flags", "win"))
_UDP_DPORT, _UDP_ULEN = UDP.offsets["dport"], UDP.offsets["ulen"]
_VXLAN_VNI = VXLAN.offsets["vni_res"]
_ETH_TYPE = ETHERNET.offsets["type"]
_IPV4_LEN, _IPV6_LEN, _UDP_LEN, _VXLAN_LEN, _ETH_LEN = IPV4.size, IPV6.size, UDP.size, VXLAN.size, ETHERNET.size
for _path in FAST_PATHS.values():
    _l2 = _path.l2
    if (_path.v4.start("ip"), _path.v4.start("tcp"), _path.v6.start("ip6"), _path.v6.start("tcp"),
            _path.mirror.start("udp"), _path.mirror.start("vxlan"), _path.mirror.start("ieth"),
            _path.mirror.start("iip"), _path.mirror.start("tcp")) \
            != (_l2, _l2 + _IPV4_LEN, _l2, _l2 + _IPV6_LEN, _l2 + _IPV4_LEN, _l2 + _IPV4_LEN + _UDP_LEN,
                _l2 + _IPV4_LEN + _UDP_LEN + _VXLAN_LEN, _l2 + _IPV4_LEN + _UDP_LEN + _VXLAN_LEN + _ETH_LEN,
                _l2 + 2 * _IPV4_LEN + _UDP_LEN + _VXLAN_LEN + _ETH_LEN) \
            or _path.v4.offset(_path.v4.fields[0]) != _path.mirror.offset(_path.mirror.fields[0]):
        raise AssertionError(f"decode.FAST_PATHS' layouts are not what engine.loop's C loads read: {_path}")
del _path, _l2
# VXLAN_FAST and VXLAN_FAST6 as the C loads read them: the v4 and v6 reads
# of a packet whose "link header" is the VXLAN header and inner Ethernet.
_VX_L2 = _VXLAN_LEN + _ETH_LEN
_VX_ETYPE = _VXLAN_LEN + _ETH_TYPE
if (VXLAN_FAST.start("ip"), VXLAN_FAST.start("tcp"), VXLAN_FAST6.start("ip6"), VXLAN_FAST6.start("tcp")) \
        != (_VX_L2, _VX_L2 + _IPV4_LEN, _VX_L2, _VX_L2 + _IPV6_LEN):
    raise AssertionError("decode.VXLAN_FAST/VXLAN_FAST6 are not what engine.loop's C loads read")
# A tunneled packet's flow key is made in one piece up to this length (``_c_key``).
_KEY_MAX = 64


def _u16(p):
    """The big-endian 16 bits at ``p``: a C pointer into the window (the
    compiled walk's loads; never called in the pure build)."""
    return (p[0] << 8) | p[1]


def _u32(p):
    """The big-endian 32 bits at ``p`` (as ``_u16``)."""
    v = p[0]
    v = (v << 8) | p[1]
    v = (v << 8) | p[2]
    return (v << 8) | p[3]


def _le32(p):
    """The little-endian 32 bits at ``p`` (as ``_u16``)."""
    v = p[3]
    v = (v << 8) | p[2]
    v = (v << 8) | p[1]
    return (v << 8) | p[0]


def _rd32(p, big):
    """32 bits at ``p`` in a record header's byte order (as ``_u16``)."""
    return _u32(p) if big else _le32(p)


def _tagged_into(key, p, n, tag):
    """A tunneled packet's flow key -- the ``n`` bytes at ``p`` (as
    ``_u16``), then the tunnel's tag -- written at ``key`` (``_KEY_MAX``
    bytes); its length, or 0 where it is longer."""
    m = len(tag)
    if n + m > _KEY_MAX:
        return 0
    if n == 12:
        memcpy(key, p, 12)   # (IPv4 inside: a constant length, copied in moves, not a call)
    else:
        memcpy(key, p, n)
    memcpy(key + n, cython.cast(cython.p_char, tag), m)
    return n + m


def _c_key(p, n, tag):
    """A tunneled packet's flow key as one bytes object (``+`` would make
    two, each through the buffer protocol)."""
    m = _tagged_into(key, p, n, tag)
    return key[:m] if m else p[:n] + tag


def _flow_segment(flows, table, k, n, ts, sport, dport, seq, ack, flags, win, plen, ipb, shift, room):
    """The segment given to its connection, if the flow table maps its key
    (the ``n`` bytes at ``k``) and the table would route it nowhere else: 1
    if so, else 0 (the table's segment() is then called with the key).
    First the next record's key, where this layout puts it (``shift`` bytes
    on; ``room``: the bytes of the window from ``k`` on), if it lies in the
    window: its flow-table lines are asked for (``FlowTable.prefetch``), to
    arrive while this packet is tracked.  (Computed here, not in the walk:
    code added to the walk's loop slows the pure build's, which never runs
    it, by the longer jumps over it.)"""
    if shift + n <= room:
        flows.prefetch(k + shift, n)
    if flags & ROUTED:
        return 0
    seen = flows.find(k, n)
    if seen == cython.NULL:
        return 0
    conn = cython.cast(Connection, seen.conn)
    if conn.route_check:
        return 0
    table.segment(ts, None, sport, dport, seq, ack, flags, win, plen, -1, ipb, None, conn, seen.hash & _UPPER)
    return 1


def _flow_tagged(flows, table, p, n, tag, ts, sport, dport, seq, ack, flags, win, plen, ipb):
    """``_flow_segment`` for a tunneled packet, whose key is the ``n`` bytes
    at ``p`` and then the tunnel's ``tag``: made in a C buffer for the
    flow table's lookup, not as a bytes object (compiled only)."""
    m = _tagged_into(key, p, n, tag)
    return _flow_segment(flows, table, key, m, ts, sport, dport, seq, ack, flags, win, plen, ipb, 0, 0) if m else 0


def _record_order(unpack, fields: int) -> int:
    """How the compiled walk reads a window's record headers: 1 (little-endian)
    or 2 (big-endian) where ``unpack`` reads ``fields`` unsigned 32-bit
    fields, else 0: the struct read (the packed records' double)."""
    fmt = getattr(getattr(unpack, "__self__", None), "format", None)
    if fmt == "<" + "I" * fields:
        return 1
    if fmt in (">" + "I" * fields, "!" + "I" * fields):
        return 2
    return 0


def _c_etype_vhl(p, e_at, raw, ip):
    """The fast reads' first two fields of the packet at ``p`` whose IPv4
    header is at ``ip`` (as ``_u16``): the ethertype at ``e_at`` and the
    version/IHL byte; raw IP stands the version/IHL byte for the first, and
    the TOS byte for the second."""
    if raw:
        return ip[_IP_VHL], ip[_IP_TOS]
    return _u16(p + e_at), ip[_IP_VHL]


def _c_v4(p, e_at, raw, l2):
    """The v4 fast read's fields (FAST_V4_NAMES) of the packet at ``p`` (as
    ``_c_etype_vhl``)."""
    ip = p + l2
    t = ip + _IPV4_LEN
    etype, vhl = _c_etype_vhl(p, e_at, raw, ip)
    return (etype, vhl, _u16(ip + _IP_LEN), _u16(ip + _IP_OFF), ip[_IP_P], _u16(t + _TCP_SPORT),
            _u16(t + _TCP_DPORT), _u32(t + _TCP_SEQ), _u32(t + _TCP_ACK), t[_TCP_OFF], t[_TCP_FLAGS],
            _u16(t + _TCP_WIN))


def _c_v6(p, l2):
    """The v6 fast read's fields (FAST_V6_NAMES) of the packet at ``p`` (as ``_c_v4``)."""
    ip = p + l2
    t = ip + _IPV6_LEN
    return (_u32(ip + _IP6_VFC), _u16(ip + _IP6_PLEN), ip[_IP6_NXT], _u16(t + _TCP_SPORT),
            _u16(t + _TCP_DPORT), _u32(t + _TCP_SEQ), _u32(t + _TCP_ACK), t[_TCP_OFF], t[_TCP_FLAGS],
            _u16(t + _TCP_WIN))


def _c_mirror(p, e_at, raw, l2):
    """The mirror read's fields (FAST_MIRROR_NAMES) of the packet at ``p`` (as ``_c_v4``)."""
    ip = p + l2
    u = ip + _IPV4_LEN
    vx = u + _UDP_LEN
    iip = vx + _VXLAN_LEN + _ETH_LEN
    t = iip + _IPV4_LEN
    etype, vhl = _c_etype_vhl(p, e_at, raw, ip)
    return (etype, vhl, _u16(ip + _IP_LEN), _u16(ip + _IP_OFF), ip[_IP_P], _u16(u + _UDP_DPORT),
            _u16(u + _UDP_ULEN), _u32(vx + _VXLAN_VNI), _u16(vx + _VXLAN_LEN + _ETH_TYPE), iip[_IP_VHL],
            _u16(iip + _IP_LEN), _u16(iip + _IP_OFF), iip[_IP_P], _u16(t + _TCP_SPORT), _u16(t + _TCP_DPORT),
            _u32(t + _TCP_SEQ), _u32(t + _TCP_ACK), t[_TCP_OFF], t[_TCP_FLAGS], _u16(t + _TCP_WIN))


def vxlan_encap(cache: dict, word: int):
    """The encapsulation and flow-key tag of a VXLAN VNI word (the VNI and its
    reserved byte, as the fast path reads it), entered in ``cache``."""
    if len(cache) >= _VNI_CACHE_MAX:
        cache.clear()
    got = cache[word] = encapsulation((vxlan_layer(word >> 8),))
    return got


@dataclass
class CaptureStats:
    files: list
    packets: int = 0
    tcp_packets: int = 0
    skipped: dict = field(default_factory=lambda: {name: 0 for name in SKIP_NAMES})
    damages: list = field(default_factory=list)
    start: float | None = None
    end: float | None = None
    linktypes: set = field(default_factory=set)
    # TCP segments found inside each encapsulation (decode.tunnel names).
    encapsulations: dict = field(default_factory=dict)
    evicted: int = 0                 # live connections finished early: the table was full
    connections_omitted: int = 0     # finished connections folded into aggregates (folding.py)

    @property
    def truncated(self) -> bool:
        return bool(self.damages)


def run(windows, table, stats: CaptureStats, owned=None, progress=None) -> None:
    """Feed every record of ``windows`` (``capture.read_windows``) to the
    connection table (``table.ConnectionTable``); with ``owned``, only the
    connections of one partition (``analysis.parallel``): those whose
    ``(sport ^ dport) % len(owned)`` bucket is true in it, so that several
    processes can share one capture."""
    skipped = [0] * len(SKIP_NAMES)
    nbuckets = len(owned) if owned is not None else 1
    packets = 0
    # Every packet walked is skipped (undecodable), another partition's, or
    # a TCP segment of ours: the last is counted as what remains.
    others = 0
    start = float("inf")
    last = float("-inf")
    linktypes = set()
    encaps = {}
    vxlan_fast = 0           # segments the VXLAN fast path took (counted under "vxlan" at the end)
    vnis = {}                # VNI -> (encapsulation, flow-key tag), for the VXLAN fast path
    vx_last = -1             # the last VXLAN packet's VNI word, and its encapsulation and tag
    vx_encap = vx_tag = None
    # In front of ``vnis``, the last (encapsulation, tag) of each VNI word
    # modulo _VNI_FRONT: a mirror of several VNIs alternates between them
    # nearly every packet, and a dict lookup by an int made for each cost
    # more than the rest of the packet's mirror work.
    vx_words = [-1] * _VNI_FRONT
    vx_found = [None] * _VNI_FRONT
    # The last packet was VXLAN: the next is tried with the mirror read first
    # (FastPath.mirror: every header of the common mirror packet at once),
    # before the plain read.  A mirror capture holds little else; a plain one
    # never sets it.
    vx_hot = False
    unpack_vx = VXLAN_FAST.unpack_from
    unpack_vx6 = VXLAN_FAST6.unpack_from
    # The C loads (compiled), or the struct reads; a local, so that the pure
    # build's test of it per packet is one fast load.
    c_loads = cython.compiled
    # The flow table read from the packet's bytes where segment() is the
    # table's own (a subclass, the observer's, sees every packet through its
    # own segment()).
    direct = c_loads and type(table) is ConnectionTable
    flows = table.table if direct else None
    # Set for each window below (first here, so that every one is set on
    # every path a C compiler can see).
    e_at = 0
    raw = False
    interface = -1
    try:
        window = next(windows, None)
        while window is not None:
            buf, pos, end, (unpack_rec, hlen, ts_scale, lt, max_caplen, epb), ts_end = window
            walked_before = packets
            records = epb is None   # pcap-shaped records (else pcapng EPBs)
            rec_order = 0
            # The window's bytes as a typed buffer (compiled: window_scale
            # reads a SYN's options from it in C; pure: the bytes as they are).
            view = buf
            if c_loads:
                # And as C memory, for the C loads (a pointer: the walk's own
                # bounds tests keep every load inside them).
                base = cython.address(view[0]) if view.shape[0] else cython.NULL
                rec_order = _record_order(unpack_rec, 4 if records else 7)
            big = rec_order == 2
            fast_path = FAST_PATHS.get(lt)
            # No fast path for this link type: no packet is long enough for
            # one (one test a packet, not two).
            fast4_min = 1 << 62
            vx_hot = vx_hot and fast_path is not None
            if fast_path is not None:
                # Offsets into the packet, from the reads' layouts: IP from the
                # link header's length l2, TCP after IPv4 (IHL 5) or IPv6; the
                # flow key is the addresses and ports as they stand.
                v4, v6, l2, raw, mirror = fast_path
                unpack_fast, unpack_fast6 = v4.unpack_from, v6.unpack_from
                e_at = v4.offset(v4.fields[0])
                # Raw IP: the first byte stands for the ethertype (decode.RAW_IPV4).
                raw4, raw6 = (RAW_IPV4, RAW_IPV6) if raw else (-1, -1)
                tcp4 = v4.start("tcp")
                fast4_min = tcp4 + TCP_MIN_LEN
                key4, key4_end = v4.offset("ip.src"), v4.end("tcp.dport")
                tcp6 = v6.start("tcp")
                fast6_min = tcp6 + TCP_MIN_LEN
                key6, key6_end = v6.offset("ip6.src"), v6.end("tcp.dport")
                # An 802.1Q tag puts the same layout a tag on (Ethernet only:
                # decode() skips tags there, and nowhere else).
                tagged_min = fast4_min + DOT1Q.size if lt == LINKTYPE_ETHERNET else 1 << 62
                # The VXLAN mirror (Ethernet/IPv4 (IHL 5)/UDP/VXLAN/Ethernet/
                # IPv4 or IPv6/TCP): the mirror read, from the packet's start;
                # an inner tag or IPv6 inside reads on from the VXLAN header
                # (VXLAN_FAST, VXLAN_FAST6).
                unpack_mirror = mirror.unpack_from
                vx = mirror.start("vxlan")
                mirror_tcp = mirror.start("tcp")
                mirror_key, mirror_key_end = mirror.offset("iip.src"), mirror.end("tcp.dport")
                vx_min = mirror_tcp + TCP_MIN_LEN
                vx_tagged_min = vx_min + DOT1Q.size if lt == LINKTYPE_ETHERNET else 1 << 62
                vx_ip_need = mirror_tcp - l2                      # outer IPv4 length before the inner TCP header
                vx_udp_need = mirror_tcp - mirror.start("udp")    # UDP length before it
                vx6_tcp = vx + VXLAN_FAST6.start("tcp")           # the same with IPv6 inside
                vx6_key, vx6_key_end = vx + VXLAN_FAST6.offset("ip6.src"), vx + VXLAN_FAST6.end("tcp.dport")
                vx6_min = vx6_tcp + TCP_MIN_LEN
                vx6_ip_need = vx6_tcp - l2
                vx6_udp_need = vx6_tcp - mirror.start("udp")
                tag_at = -1    # the last packet with an outer tag: its offset, as untagged
                vx_redo = -1   # the last record walked twice (see the VXLAN branch)
            if not records:
                interface, ts_offset, unpack_u32 = epb
            # The record walk (see capture.windows), fused with decoding: no
            # generator switch, no tuple per packet.  The stop is the reader's
            # to judge: more data, another kind of block, the end, or damage.
            # Inlined, not record_at() per packet: its call and tuple cost ~1.0 s CPU per 2M packets (~6% of a run).
            while pos + hlen <= end:
                if records:
                    if rec_order:
                        p = base + pos
                        sec = _rd32(p, big)
                        frac = _rd32(p + 4, big)
                        caplen = _rd32(p + 8, big)
                    else:
                        sec, frac, caplen, _ = unpack_rec(buf, pos)
                    off = pos + hlen
                    nxt = off + caplen
                    if nxt > end or caplen > max_caplen:
                        break
                    ts = sec + frac * ts_scale
                else:
                    # pcapng: an Enhanced Packet Block of this window's interface.
                    if rec_order:
                        p = base + pos
                        btype = _rd32(p, big)
                        blen = _rd32(p + 4, big)
                        iface = _rd32(p + 8, big)
                        ts_hi = _rd32(p + 12, big)
                        ts_lo = _rd32(p + 16, big)
                        caplen = _rd32(p + 20, big)
                    else:
                        btype, blen, iface, ts_hi, ts_lo, caplen, _ = unpack_rec(buf, pos)
                    nxt = pos + blen
                    if btype != EPB or iface != interface or nxt > end or blen < EPB_FIXED_LEN + caplen \
                            or blen & 3 or (_rd32(base + nxt - 4, big) if rec_order
                                            else unpack_u32(buf, nxt - 4)[0]) != blen:
                        break
                    off = pos + hlen
                    ts = ((ts_hi << 32) | ts_lo) * ts_scale + ts_offset
                if ts > ts_end:
                    break  # another capture's packet comes first (capture.windows.merge_windows)
                pos = nxt
                packets += 1
                if ts > last:
                    last = ts
                if ts < start:
                    start = ts
                if vx_hot and caplen >= vx_min:
                    # VXLAN (the last packet was): the checks of the plain read and
                    # decode.tunnel's, on the mirror read's fields, give what
                    # decode() gives (the same key, tag and encapsulation).  The
                    # outer datagram must hold the inner headers, as decode()
                    # bounds them by its lengths; anything else (and a GSO
                    # length 0) is left to decode().  Not VXLAN: the plain read.
                    if c_loads:
                        (etype, vhl, total, frag, proto, udp_dport, ulen, vni, ietype, ivhl, itotal, ifrag, iproto,
                         sport, dport, seq, ack, doff, flags, win) = _c_mirror(base + off, e_at, raw, l2)
                    else:
                        (etype, vhl, total, frag, proto, udp_dport, ulen, vni, ietype, ivhl, itotal, ifrag, iproto,
                         sport, dport, seq, ack, doff, flags, win) = unpack_mirror(buf, off)
                    if etype == ETH_P_8021Q and caplen >= vx_tagged_min:
                        # One outer tag: as the plain read takes it.
                        off += 4
                        caplen -= 4
                        if c_loads:
                            (etype, vhl, total, frag, proto, udp_dport, ulen, vni, ietype, ivhl, itotal, ifrag,
                             iproto, sport, dport, seq, ack, doff, flags, win) = _c_mirror(base + off, e_at, raw, l2)
                        else:
                            (etype, vhl, total, frag, proto, udp_dport, ulen, vni, ietype, ivhl, itotal, ifrag,
                             iproto, sport, dport, seq, ack, doff, flags, win) = unpack_mirror(buf, off)
                    if udp_dport == 4789 and proto == 17 and (etype == 0x0800 and vhl == 0x45 or etype == raw4) \
                            and not frag & 0x3FFF:
                        if ietype == 0x0800 and ivhl == 0x45 and iproto == 6 and not ifrag & 0x3FFF and itotal:
                            # The common case (IPv4 inside, untagged) calls segment()
                            # itself, without the shared tail's extra tests below.
                            thl = (doff >> 4) << 2
                            plen = itotal - 20 - thl
                            if thl >= 20 and plen >= 0 and total >= vx_ip_need + thl and ulen >= vx_udp_need + thl:
                                if owned is not None:
                                    if not owned[(sport ^ dport) % nbuckets]:
                                        others += 1
                                        continue
                                    table.packet_number = packets
                                if vni != vx_last:
                                    # Another VNI word than the last packet's (the VNI
                                    # and its reserved byte).
                                    vx_last = vni
                                    j = (vni >> 8) & (_VNI_FRONT - 1)   # the VNI, not its reserved byte
                                    if cython.cast(cython.longlong, vx_words[j]) != vni:
                                        vx_words[j] = vni
                                        vx_found[j] = vnis.get(vni) or vxlan_encap(vnis, vni)
                                    vx_encap, vx_tag = vx_found[j]
                                vxlan_fast += 1
                                if direct and _flow_tagged(flows, table, base + off + mirror_key,
                                                           mirror_key_end - mirror_key, vx_tag, ts, sport, dport,
                                                           seq, ack, flags, win, plen, itotal):
                                    continue
                                table.segment(ts, _c_key(base + off + mirror_key, mirror_key_end - mirror_key, vx_tag)
                                              if c_loads else buf[off + mirror_key:off + mirror_key_end] + vx_tag,
                                        sport, dport,
                                        seq, ack, flags, win, plen,
                                        window_scale(view, off + mirror_tcp + 20,
                                                     min(off + mirror_tcp + thl, off + caplen))
                                        if flags & SYN and thl > 20 else -1, itotal, vx_encap)
                                continue
                        else:
                            # Less common: one 802.1Q tag on the inner frame (the
                            # mirror read's layout a tag on, as the outer one; the
                            # VNI as read), IPv6 inside.
                            key_at = key_end = -1
                            at = off
                            shift = 0
                            if ietype == 0x8100 and caplen >= vx_min + 4:
                                shift = 4
                                at += 4
                                if c_loads:
                                    (ietype, ivhl, itotal, ifrag, iproto, sport, dport, seq, ack, doff, flags,
                                     win) = _c_v4(base + at + vx, _VX_ETYPE, False, _VX_L2)
                                else:
                                    (_, ietype, ivhl, itotal, ifrag, iproto, sport, dport, seq, ack, doff, flags,
                                     win) = unpack_vx(buf, at + vx)
                                if ietype == 0x0800 and ivhl == 0x45 and iproto == 6 and not ifrag & 0x3FFF \
                                        and itotal:
                                    thl = (doff >> 4) << 2
                                    plen = itotal - 20 - thl
                                    if thl >= 20 and plen >= 0 and total >= vx_ip_need + 4 + thl \
                                            and ulen >= vx_udp_need + 4 + thl:
                                        key_at, key_end = at + mirror_key, at + mirror_key_end
                                        tcp_at = at + mirror_tcp
                                        ipb = itotal
                            if ietype == 0x86DD and caplen >= vx6_min + shift:
                                if c_loads:
                                    (vtf, ip_plen, nxt_hdr, sport, dport, seq, ack, doff, flags,
                                     win) = _c_v6(base + at + vx, _VX_L2)
                                else:
                                    (_, _, vtf, ip_plen, nxt_hdr, sport, dport, seq, ack, doff, flags,
                                     win) = unpack_vx6(buf, at + vx)
                                if nxt_hdr == 6 and vtf >> 28 == 6 and ip_plen:
                                    thl = (doff >> 4) << 2
                                    plen = ip_plen - thl
                                    if thl >= 20 and plen >= 0 and total >= vx6_ip_need + shift + thl \
                                            and ulen >= vx6_udp_need + shift + thl:
                                        key_at, key_end = at + vx6_key, at + vx6_key_end
                                        tcp_at = at + vx6_tcp
                                        ipb = ip_plen + 40
                            if key_at >= 0:
                                if owned is not None:
                                    if not owned[(sport ^ dport) % nbuckets]:
                                        others += 1
                                        continue
                                    table.packet_number = packets
                                if vni != vx_last:
                                    vx_last = vni
                                    j = (vni >> 8) & (_VNI_FRONT - 1)   # the VNI, not its reserved byte
                                    if cython.cast(cython.longlong, vx_words[j]) != vni:
                                        vx_words[j] = vni
                                        vx_found[j] = vnis.get(vni) or vxlan_encap(vnis, vni)
                                    vx_encap, vx_tag = vx_found[j]
                                vxlan_fast += 1
                                if direct and _flow_tagged(flows, table, base + key_at, key_end - key_at, vx_tag, ts,
                                                           sport, dport, seq, ack, flags, win, plen, ipb):
                                    continue
                                table.segment(ts, _c_key(base + key_at, key_end - key_at, vx_tag) if c_loads
                                              else buf[key_at:key_end] + vx_tag, sport, dport, seq, ack, flags, win,
                                        plen,
                                        window_scale(view, tcp_at + 20, min(tcp_at + thl, off + caplen))
                                        if flags & SYN and thl > 20 else -1, ipb, vx_encap)
                                continue
                    else:
                        vx_hot = False
                    # Not taken: the plain read decides it, and its VXLAN branch
                    # leaves it to decode() (this read has had its turn).
                    vx_redo = pos
                if caplen >= fast4_min:
                    if c_loads:
                        (etype, vhl, total, frag, proto, sport, dport, seq, ack, doff, flags,
                         win) = _c_v4(base + off, e_at, raw, l2)
                    else:
                        (etype, vhl, total, frag, proto, sport, dport, seq, ack, doff, flags,
                         win) = unpack_fast(buf, off)
                    if etype == ETH_P_8021Q and caplen >= tagged_min:
                        # The packet as if untagged (the tag is the bytes after the
                        # source address): the fast paths below, and decode() if
                        # they refuse it, give what decode() gives the tagged one.
                        off += 4
                        caplen -= 4
                        tag_at = off
                        if c_loads:
                            (etype, vhl, total, frag, proto, sport, dport, seq, ack, doff, flags,
                             win) = _c_v4(base + off, e_at, raw, l2)
                        else:
                            (etype, vhl, total, frag, proto, sport, dport, seq, ack, doff, flags,
                             win) = unpack_fast(buf, off)
                    if (etype == 0x0800 and vhl == 0x45 or etype == raw4) and not frag & 0x3FFF:
                        if proto == 6:
                            thl = (doff >> 4) << 2
                            if total == 0:
                                total = caplen - l2
                            plen = total - 20 - thl
                            if thl >= 20 and plen >= 0:
                                if owned is not None:
                                    if not owned[(sport ^ dport) % nbuckets]:
                                        others += 1
                                        continue  # another partition's connection
                                    table.packet_number = packets
                                if direct and _flow_segment(flows, table, base + off + key4, key4_end - key4, ts,
                                                            sport, dport, seq, ack, flags, win, plen, total,
                                                            pos + hlen - off, end - off - key4):
                                    continue
                                key = base[off + key4:off + key4_end] if c_loads else buf[off + key4:off + key4_end]
                                table.segment(ts, key, sport, dport, seq, ack, flags, win,
                                        plen, window_scale(view, off + tcp4 + 20, min(off + tcp4 + thl, off + caplen))
                                        if flags & SYN and thl > 20 else -1, total)
                                continue
                        elif proto == 17 and dport == 4789 and caplen >= vx_min and vx_redo != pos:
                            # UDP to VXLAN's port (decode.UDP_VXLAN): walk this record
                            # again, with the mirror read first (vx_hot), as the packets
                            # after it will be.  Once: what that read leaves goes on to
                            # decode().
                            vx_hot = True
                            vx_redo = pos
                            pos = off - hlen - (DOT1Q.size if tag_at == off else 0)
                            packets -= 1
                            continue
                    elif (etype == 0x86DD or etype >> 4 == raw6) and caplen >= fast6_min:
                        # IPv6 with TCP right after the fixed header: the same
                        # fields as decode.ip.decode_ipv6 and decode_tcp give, without the walk.
                        if c_loads:
                            vtf, ip_plen, nxt_hdr, sport, dport, seq, ack, doff, flags, win = _c_v6(base + off, l2)
                        else:
                            vtf, ip_plen, nxt_hdr, sport, dport, seq, ack, doff, flags, win = unpack_fast6(buf, off)
                        if nxt_hdr == 6 and vtf >> 28 == 6:
                            thl = (doff >> 4) << 2
                            if ip_plen == 0:
                                ip_plen = caplen - tcp6  # jumbogram / BIG TCP: what was captured
                            plen = ip_plen - thl
                            if thl >= 20 and plen >= 0:
                                if owned is not None:
                                    if not owned[(sport ^ dport) % nbuckets]:
                                        others += 1
                                        continue
                                    table.packet_number = packets
                                if direct and _flow_segment(flows, table, base + off + key6, key6_end - key6, ts,
                                                            sport, dport, seq, ack, flags, win, plen, ip_plen + 40,
                                                            pos + hlen - off, end - off - key6):
                                    continue
                                key = base[off + key6:off + key6_end] if c_loads else buf[off + key6:off + key6_end]
                                table.segment(ts, key, sport, dport, seq, ack, flags, win,
                                        plen, window_scale(view, off + tcp6 + 20, min(off + tcp6 + thl, off + caplen))
                                        if flags & SYN and thl > 20 else -1, ip_plen + 40)
                                continue
                r = decode(lt, buf, off, caplen)
                if r.__class__ is int:
                    skipped[r] += 1
                    continue
                if owned is not None:
                    if not owned[(r[1] ^ r[2]) % nbuckets]:
                        others += 1
                        continue
                    table.packet_number = packets
                # decode()'s fields by name, not ``segment(ts, *r)``: the
                # compiled build calls segment()'s C entry (loop.pxd), which
                # takes no starred arguments.
                if len(r) == 11:
                    encap = r[10]
                    encaps[encap[0]] = encaps.get(encap[0], 0) + 1
                    r = r[:10]
                else:
                    encap = None
                key, sport, dport, seq, ack, flags, win, plen, wscale, ipb = r
                table.segment(ts, key, sport, dport, seq, ack, flags, win, plen, wscale, ipb, encap)
            if packets > walked_before:
                linktypes.add(lt)
                # Once a window (4 MiB: thousands of packets), not per packet.
                if progress is not None:
                    progress.update(packets)
            view = None   # the reader may reuse its buffer: no export of it held
            try:
                window = windows.send((pos, packets - walked_before))
            except StopIteration:
                window = None
    finally:
        stats.packets += packets
        stats.tcp_packets += packets - sum(skipped) - others
        for i, name in enumerate(SKIP_NAMES):
            stats.skipped[name] += skipped[i]
        if packets:
            stats.start = start if stats.start is None else min(stats.start, start)
            stats.end = last if stats.end is None else max(stats.end, last)
        stats.linktypes |= linktypes
        if vxlan_fast:
            encaps["vxlan"] = encaps.get("vxlan", 0) + vxlan_fast
        for name, n in encaps.items():
            stats.encapsulations[name] = stats.encapsulations.get(name, 0) + n
