"""Packet decoding: link layer -> IPv4/IPv6 -> the TCP header fields we need.

Only the fields the analysis uses are read (addresses, ports, seq, ack, flags,
window, payload length, window scale on SYNs); no object tree is built.  The
common case -- Ethernet (or Linux cooked capture), IPv4 without options or
IPv6 without extension headers, TCP -- is one precompiled ``struct`` read
that the analyzer's packet loop inlines (``FAST_PATHS``); ``decode`` is the
general path for everything else.

``decode`` returns either a tuple
``(key, sport, dport, seq, ack, flags, window, payload_len, wscale)`` or an
int, the reason the packet was skipped (``SKIP_*``).  ``key`` is the raw bytes
src addr + dst addr + sport + dport, so it doubles as the flow-table key.
"""
from __future__ import annotations

import struct

# TCP flag bits (RFC 9293 section 3.1; ECE/CWR from RFC 3168).
FIN = 0x01
SYN = 0x02
RST = 0x04
PSH = 0x08
ACK = 0x10
URG = 0x20
ECE = 0x40
CWR = 0x80

# Why a packet was not analyzed.  Names are the report's capture.skipped keys.
SKIP_NON_IP = 0
SKIP_NON_TCP = 1
SKIP_MALFORMED = 2
SKIP_FRAGMENT = 3
SKIP_TRUNCATED = 4
SKIP_UNSUPPORTED_LINK = 5
SKIP_NAMES = ("non_ip", "non_tcp", "malformed", "fragment", "truncated_header", "unsupported_link")

# Link types (https://www.tcpdump.org/linktypes.html).
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_PPP = 9
LINKTYPE_RAW_OPENBSD = 12
LINKTYPE_RAW_BSDOS = 14
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_NFLOG = 239
LINKTYPE_LINUX_SLL2 = 276

ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
ETH_P_8021Q = 0x8100
ETH_P_8021AD = 0x88A8
ETH_P_QINQ_OLD = 0x9100
ETH_P_PPPOE_SESSION = 0x8864
PPP_IP = 0x0021
PPP_IPV6 = 0x0057

IPPROTO_TCP = 6
# IPv6 extension headers that may precede TCP (RFC 8200 section 4).
IPV6_HOPOPTS = 0
IPV6_ROUTING = 43
IPV6_FRAGMENT = 44
IPV6_AH = 51
IPV6_DSTOPTS = 60
IPV6_MOBILITY = 135
IPV6_HIP = 139
IPV6_SHIM6 = 140
_IPV6_EXT_GENERIC = frozenset((IPV6_HOPOPTS, IPV6_ROUTING, IPV6_DSTOPTS, IPV6_MOBILITY, IPV6_HIP, IPV6_SHIM6))
# A chain longer than this is hostile or broken; no real stack sends one.
MAX_IPV6_EXT_HEADERS = 16

TCPOPT_EOL = 0
TCPOPT_NOP = 1
TCPOPT_WSCALE = 3

# The packet loop's fast paths (analyzer.run), per link type whose header
# has a fixed length and names the ethertype: (link header length, the
# ethertype's offset in it).  Ethernet II; Linux cooked capture v1 and v2
# (``tcpdump -i any``: 16 and 20 bytes, the protocol at 14 and at 0).  One
# 802.1Q tag on Ethernet is read 4 bytes on (analyzer.run); tag stacks and
# everything else take ``decode``.
_FAST_LINKS = {LINKTYPE_ETHERNET: (14, 12), LINKTYPE_LINUX_SLL: (16, 14), LINKTYPE_LINUX_SLL2: (20, 0)}
# Raw IP (tun devices, WireGuard, some cloud mirrors): no link header and no
# ethertype; the IP version nibble says what follows, as in ``decode``.
_RAW_LINKS = (LINKTYPE_RAW, LINKTYPE_RAW_OPENBSD, LINKTYPE_RAW_BSDOS, LINKTYPE_IPV4, LINKTYPE_IPV6)


def _fast_structs(l2: int, etype_at: int):
    # The link header + IPv4 (IHL 5) + the first 16 bytes of TCP, in one read:
    # ethertype, ver/ihl, total length, flags/fragment offset, protocol,
    # sport, dport, seq, ack, data offset, flags, window.
    v4 = struct.Struct(f"!{etype_at}xH{l2 - etype_at - 2}x BxH2xH xB2x 8x HHIIBBH")
    return v4.unpack_from, _fast_v6(l2)


def _fast_v6(l2: int):
    # The link header + IPv6 without extension headers + the first 16 bytes
    # of TCP: version/class/flow, payload length, next header, sport, dport,
    # seq, ack, data offset, flags, window.  The addresses and ports (40
    # bytes from the IPv6 source address on) are the flow key as they stand.
    return struct.Struct(f"!{l2}xIHBx32xHHIIBBH").unpack_from


# Raw IP's IPv4 read has the same twelve fields, but the first (where the
# ethertype stands for the others) is the version/IHL byte and the second
# the TOS byte: the loop takes a first byte of RAW_IPV4 (version 4, IHL 5)
# for the "ethertype and ver/ihl" test, and a first nibble of RAW_IPV6 for
# IPv6's (whose own version check follows).
RAW_IPV4 = 0x45
RAW_IPV6 = 6
_RAW_V4 = struct.Struct("!BBH2xH xB2x 8x HHIIBBH").unpack_from

# linktype -> (unpack IPv4+TCP, unpack IPv6+TCP, link header length, raw IP)
FAST_PATHS = {lt: (*_fast_structs(l2, at), l2, False) for lt, (l2, at) in _FAST_LINKS.items()}
FAST_PATHS.update({lt: (_RAW_V4, _fast_v6(0), 0, True) for lt in _RAW_LINKS})

_U16 = struct.Struct("!H")
_U16_LE = struct.Struct("<H")
_U32 = struct.Struct("!I")
_U32_LE = struct.Struct("<I")
_IPV4 = struct.Struct("!BxHxxHxB")  # ver/ihl, total length, frag, protocol
_IPV6 = struct.Struct("!4xHB")      # payload length, next header
_TCP = struct.Struct("!HHIIBBH")


def window_scale(buf, start: int, end: int) -> int:
    """The window-scale shift from TCP options in buf[start:end], or -1 if absent."""
    pos = start
    while pos < end:
        kind = buf[pos]
        if kind == TCPOPT_EOL:
            break
        if kind == TCPOPT_NOP:
            pos += 1
            continue
        if pos + 1 >= end:
            break
        length = buf[pos + 1]
        if length < 2 or pos + length > end:
            break
        if kind == TCPOPT_WSCALE and length >= 3:
            # RFC 7323 section 2.3: a shift above 14 is used as 14.
            return min(buf[pos + 2], 14)
        pos += length
    return -1


def decode(linktype: int, buf, off: int, caplen: int):
    """Decode one packet; return the TCP fields tuple or a SKIP_* reason."""
    end = off + caplen
    if linktype == LINKTYPE_ETHERNET:
        if caplen < 14:
            return SKIP_TRUNCATED
        etype = _U16.unpack_from(buf, off + 12)[0]
        pos = off + 14
        # 802.1Q / 802.1ad (QinQ) tags, any depth the packet really has.
        while etype in (ETH_P_8021Q, ETH_P_8021AD, ETH_P_QINQ_OLD):
            if pos + 4 > end:
                return SKIP_TRUNCATED
            etype = _U16.unpack_from(buf, pos + 2)[0]
            pos += 4
        if etype <= 1500:
            # IEEE 802.3 length field: LLC, with SNAP carrying an ethertype.
            if pos + 8 > end:
                return SKIP_TRUNCATED
            if buf[pos] == 0xAA and buf[pos + 1] == 0xAA and buf[pos + 2] == 0x03:
                etype = _U16.unpack_from(buf, pos + 6)[0]
                pos += 8
            else:
                return SKIP_NON_IP
        if etype == ETH_P_PPPOE_SESSION:
            # RFC 2516: a 6-byte PPPoE header, then the PPP protocol field
            # (one byte if compressed, else two: see _ppp_protocol).
            if pos + 7 > end or (not buf[pos + 6] & 1 and pos + 8 > end):
                return SKIP_TRUNCATED
            proto, pos = _ppp_protocol(buf, pos + 6)
            etype = ETH_P_IP if proto == PPP_IP else ETH_P_IPV6 if proto == PPP_IPV6 else 0
        if etype == ETH_P_IP:
            return _ipv4(buf, pos, end)
        if etype == ETH_P_IPV6:
            return _ipv6(buf, pos, end)
        return SKIP_NON_IP
    if linktype == LINKTYPE_LINUX_SLL:
        if caplen < 16:
            return SKIP_TRUNCATED
        return _by_ethertype(_U16.unpack_from(buf, off + 14)[0], buf, off + 16, end)
    if linktype == LINKTYPE_LINUX_SLL2:
        if caplen < 20:
            return SKIP_TRUNCATED
        return _by_ethertype(_U16.unpack_from(buf, off)[0], buf, off + 20, end)
    if linktype in (LINKTYPE_RAW, LINKTYPE_RAW_OPENBSD, LINKTYPE_RAW_BSDOS, LINKTYPE_IPV4, LINKTYPE_IPV6):
        if caplen < 1:
            return SKIP_TRUNCATED
        return _by_version(buf, off, end)
    if linktype == LINKTYPE_NULL or linktype == LINKTYPE_LOOP:
        if caplen < 4:
            return SKIP_TRUNCATED
        # The address family is in the writer's byte order (NULL) or network
        # order (LOOP); IPv6 has a different number on each BSD (24, 28, 30).
        family = _U32.unpack_from(buf, off)[0]
        if linktype == LINKTYPE_NULL and family > 0xFFFF:
            family = _U32_LE.unpack_from(buf, off)[0]
        if family == 2:
            return _ipv4(buf, off + 4, end)
        if family in (10, 24, 28, 30):
            return _ipv6(buf, off + 4, end)
        return SKIP_NON_IP
    if linktype == LINKTYPE_PPP:
        pos = off
        if caplen >= 2 and buf[pos] == 0xFF and buf[pos + 1] == 0x03:
            pos += 2  # HDLC address and control
        if pos + 2 > end:
            return SKIP_TRUNCATED
        proto, pos = _ppp_protocol(buf, pos)
        if proto == PPP_IP:
            return _ipv4(buf, pos, end)
        if proto == PPP_IPV6:
            return _ipv6(buf, pos, end)
        return SKIP_NON_IP
    if linktype == LINKTYPE_NFLOG:
        return _nflog(buf, off, end)
    return SKIP_UNSUPPORTED_LINK


def _ppp_protocol(buf, pos):
    """PPP protocol field and the offset after it.  With protocol-field
    compression (RFC 1661 section 6.5) it is one byte, recognisable because
    every protocol number's low byte is odd and its high byte even."""
    first = buf[pos]
    if first & 1:
        return first, pos + 1
    return (first << 8) | buf[pos + 1], pos + 2


def _by_ethertype(etype, buf, pos, end):
    if etype == ETH_P_IP:
        return _ipv4(buf, pos, end)
    if etype == ETH_P_IPV6:
        return _ipv6(buf, pos, end)
    return SKIP_NON_IP


def _by_version(buf, pos, end):
    version = buf[pos] >> 4
    if version == 4:
        return _ipv4(buf, pos, end)
    if version == 6:
        return _ipv6(buf, pos, end)
    return SKIP_NON_IP


def _nflog(buf, off, end):
    # Linux NFLOG: a 4-byte header, then TLVs in host byte order, 4-byte
    # aligned; type 9 (NFULA_PAYLOAD) holds the IP packet.
    if off + 4 > end:
        return SKIP_TRUNCATED
    family = buf[off]
    pos = off + 4
    while pos + 4 <= end:
        length, tlv_type = struct.unpack_from("<HH", buf, pos)
        if length < 4:
            return SKIP_MALFORMED
        if tlv_type & 0x7FFF == 9:
            start, stop = pos + 4, min(pos + length, end)
            if family == 2:
                return _ipv4(buf, start, stop)
            if family == 10:
                return _ipv6(buf, start, stop)
            return _by_version(buf, start, stop) if start < stop else SKIP_TRUNCATED
        pos += (length + 3) & ~3
    return SKIP_NON_IP


def _ipv4(buf, pos, end):
    if pos + 20 > end:
        return SKIP_TRUNCATED
    vhl, total, frag, proto = _IPV4.unpack_from(buf, pos)
    if vhl >> 4 != 4:
        return SKIP_MALFORMED
    ihl = (vhl & 0x0F) * 4
    if ihl < 20:
        return SKIP_MALFORMED
    if proto != IPPROTO_TCP:
        return SKIP_NON_TCP
    if frag & 0x3FFF:
        # More-fragments set or a non-zero offset: the TCP header of a first
        # fragment may be whole, but its payload length is not knowable here.
        return SKIP_FRAGMENT
    if total == 0:
        # TSO / GSO capture on the sending host: the kernel leaves the length
        # zero for segments above 64 KiB; what was captured is the packet.
        total = end - pos
    if total < ihl:
        return SKIP_MALFORMED
    src = pos + 12
    return _tcp(buf, pos + ihl, min(pos + total, end), pos + total, buf[src:src + 8])


def _ipv6(buf, pos, end):
    if pos + 40 > end:
        return SKIP_TRUNCATED
    if buf[pos] >> 4 != 6:
        return SKIP_MALFORMED
    plen, nxt = _IPV6.unpack_from(buf, pos)
    addrs = buf[pos + 8:pos + 40]
    hdr = pos + 40
    # Payload length 0: a jumbogram (RFC 2675) or a BIG TCP capture, where the
    # kernel leaves it zero; what was captured is the packet.
    data_end = end if plen == 0 else pos + 40 + plen
    for _ in range(MAX_IPV6_EXT_HEADERS):
        if nxt == IPPROTO_TCP:
            return _tcp(buf, hdr, min(data_end, end), data_end, addrs)
        if hdr + 8 > end:
            return SKIP_TRUNCATED if nxt in _IPV6_EXT_GENERIC or nxt in (IPV6_FRAGMENT, IPV6_AH) else SKIP_NON_TCP
        if nxt in _IPV6_EXT_GENERIC:
            nxt, hlen = buf[hdr], (buf[hdr + 1] + 1) * 8
        elif nxt == IPV6_FRAGMENT:
            offset_m = _U16.unpack_from(buf, hdr + 2)[0]
            if offset_m & 0xFFF9:
                return SKIP_FRAGMENT
            # An atomic fragment (offset 0, no more fragments: RFC 6946) is a
            # whole packet.
            nxt, hlen = buf[hdr], 8
        elif nxt == IPV6_AH:
            nxt, hlen = buf[hdr], (buf[hdr + 1] + 2) * 4
        else:
            return SKIP_NON_TCP
        hdr += hlen
        if hdr > data_end:
            return SKIP_MALFORMED
    return SKIP_MALFORMED


def _tcp(buf, pos, cap_end, ip_end, addrs):
    """TCP header at ``pos``; captured bytes end at ``cap_end``, the IP packet at ``ip_end``."""
    if pos + 20 > cap_end:
        # Cut by the capture, or not there at all by the IP header's own length.
        return SKIP_MALFORMED if pos + 20 > ip_end else SKIP_TRUNCATED
    sport, dport, seq, ack, off, flags, win = _TCP.unpack_from(buf, pos)
    thl = (off >> 4) * 4
    if thl < 20 or pos + thl > ip_end:
        return SKIP_MALFORMED
    wscale = window_scale(buf, pos + 20, min(pos + thl, cap_end)) if flags & SYN and thl > 20 else -1
    key = addrs + buf[pos:pos + 4]
    return key, sport, dport, seq, ack, flags, win, ip_end - pos - thl, wscale
