"""IPv4 and IPv6 (with its extension header chain) down to the TCP header."""
from __future__ import annotations

from .constants import (
    ETH_P_IP, ETH_P_IPV6, IPPROTO_TCP, IPV6_AH, IPV6_DSTOPTS, IPV6_FRAGMENT, IPV6_HIP, IPV6_HOPOPTS,
    IPV6_MOBILITY, IPV6_ROUTING, IPV6_SHIM6, MAX_IPV6_EXT_HEADERS, SKIP_FRAGMENT, SKIP_MALFORMED,
    SKIP_NON_IP, SKIP_NON_TCP, SKIP_TRUNCATED, TUNNEL_IP_PROTOS,
)
from . import tunnel as _tunnel
from .layouts import IPV4, IPV6, IPV6_FRAG
from .tcp import decode_tcp

_V4 = IPV4.read("vhl", "len", "off", "p")
_unpack_v4 = _V4.unpack_from
_V4_LEN = IPV4.size                                         # IHL 5: no options
_V4_ADDRS, _V4_ADDRS_END = _V4.offset("ip.src"), _V4.end("ip.dst")

_V6 = IPV6.read("plen", "nxt")
_unpack_v6 = _V6.unpack_from
_V6_LEN = IPV6.size
_V6_ADDRS, _V6_ADDRS_END = _V6.offset("ip6.src"), _V6.end("ip6.dst")
_unpack_frag6 = IPV6_FRAG.read("off_m").unpack_from
_FRAG6_LEN = IPV6_FRAG.size
# Extension headers with the generic shape: next header, length in 8 bytes - 1.
_IPV6_EXT_GENERIC = frozenset((IPV6_HOPOPTS, IPV6_ROUTING, IPV6_DSTOPTS, IPV6_MOBILITY, IPV6_HIP, IPV6_SHIM6))
_IPV6_EXT_MIN = 8      # every extension header is at least this long
_TUNNEL_PROTOS = TUNNEL_IP_PROTOS


# ``depth`` (here and in decode.tunnel): how many tunnels are around the
# packet, so that a tunnel in a tunnel in a tunnel... ends at MAX_ENCAP_DEPTH.

def by_ethertype(etype, buf, pos, end, depth=0):
    if etype == ETH_P_IP:
        return decode_ipv4(buf, pos, end, depth)
    if etype == ETH_P_IPV6:
        return decode_ipv6(buf, pos, end, depth)
    return SKIP_NON_IP


def by_version(buf, pos, end, depth=0):
    version = buf[pos] >> 4
    if version == 4:
        return decode_ipv4(buf, pos, end, depth)
    if version == 6:
        return decode_ipv6(buf, pos, end, depth)
    return SKIP_NON_IP


def decode_ipv4(buf, pos, end, depth=0):
    if pos + _V4_LEN > end:
        return SKIP_TRUNCATED
    vhl, total, frag, proto = _unpack_v4(buf, pos)
    if vhl >> 4 != 4:
        return SKIP_MALFORMED
    ihl = (vhl & 0x0F) * 4
    if ihl < _V4_LEN:
        return SKIP_MALFORMED
    if proto != IPPROTO_TCP:
        if proto in _TUNNEL_PROTOS and not frag & 0x3FFF:
            # A tunnel (decode.tunnel).  A fragment of one stays non_tcp, as
            # before: its inner packet is whole only after reassembly.
            if total == 0:
                total = end - pos
            if total < ihl:
                return SKIP_MALFORMED
            return _tunnel.by_ip_proto(proto, buf, pos + ihl, min(pos + total, end), 4,
                                       buf[pos + _V4_ADDRS:pos + _V4_ADDRS_END], depth)
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
    return decode_tcp(buf, pos + ihl, min(pos + total, end), pos + total,
                      buf[pos + _V4_ADDRS:pos + _V4_ADDRS_END], pos)


def decode_ipv6(buf, pos, end, depth=0):
    if pos + _V6_LEN > end:
        return SKIP_TRUNCATED
    if buf[pos] >> 4 != 6:
        return SKIP_MALFORMED
    plen, nxt = _unpack_v6(buf, pos)
    addrs = buf[pos + _V6_ADDRS:pos + _V6_ADDRS_END]
    hdr = pos + _V6_LEN
    # Payload length 0: a jumbogram (RFC 2675) or a BIG TCP capture, where the
    # kernel leaves it zero; what was captured is the packet.
    data_end = end if plen == 0 else hdr + plen
    for _ in range(MAX_IPV6_EXT_HEADERS):
        if nxt == IPPROTO_TCP:
            return decode_tcp(buf, hdr, min(data_end, end), data_end, addrs, pos)
        if nxt in _TUNNEL_PROTOS:
            return _tunnel.by_ip_proto(nxt, buf, hdr, min(data_end, end), 6, addrs, depth)
        if hdr + _IPV6_EXT_MIN > end:
            return SKIP_TRUNCATED if nxt in _IPV6_EXT_GENERIC or nxt in (IPV6_FRAGMENT, IPV6_AH) else SKIP_NON_TCP
        if nxt in _IPV6_EXT_GENERIC:
            nxt, hlen = buf[hdr], (buf[hdr + 1] + 1) * 8
        elif nxt == IPV6_FRAGMENT:
            if _unpack_frag6(buf, hdr)[0] & 0xFFF9:
                return SKIP_FRAGMENT
            # An atomic fragment (offset 0, no more fragments: RFC 6946) is a
            # whole packet.
            nxt, hlen = buf[hdr], _FRAG6_LEN
        elif nxt == IPV6_AH:
            nxt, hlen = buf[hdr], (buf[hdr + 1] + 2) * 4
        else:
            return SKIP_NON_TCP
        hdr += hlen
        if hdr > data_end:
            return SKIP_MALFORMED
    return SKIP_MALFORMED
