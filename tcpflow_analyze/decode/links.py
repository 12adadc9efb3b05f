"""Link layers: ``LINK_DECODERS`` maps a link type to the function that
finds the IP packet in a frame of it, and ``decode`` dispatches there.

Each decoder takes ``(buf, off, end)``, the frame being ``buf[off:end]``,
and returns what ``decode`` returns.
"""
from __future__ import annotations

from . import tunnel as _tunnel
from .constants import (
    ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, ETH_P_MPLS_MC, ETH_P_MPLS_UC, ETH_P_PBB, ETH_P_PPPOE_SESSION,
    ETH_P_QINQ_OLD, ETH_P_VNTAG, LINKTYPE_ETHERNET, LINKTYPE_FDDI, LINKTYPE_IPOIB, LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP, LINKTYPE_NFLOG, LINKTYPE_NULL, LINKTYPE_PPP, PPP_IP, PPP_IPV6, PPP_MPLS_MC,
    PPP_MPLS_UC, RAW_LINKTYPES, SKIP_MALFORMED, SKIP_NON_IP, SKIP_TRUNCATED, SKIP_UNSUPPORTED_LINK,
)
from .ip import by_version, decode_ipv4, decode_ipv6
from .ip import by_ethertype as ip_by_ethertype
from .layouts import (
    DOT1Q, ETHERNET, LINUX_SLL, LINUX_SLL2, LLC_SNAP, LOOPBACK, LOOPBACK_LE, NFLOG, NFLOG_TLV, PPPOE,
)

_ETH_LEN = ETHERNET.size
_eth_type = ETHERNET.read("type").unpack_from
_TAG_LEN = DOT1Q.size
_tag_type = DOT1Q.read("type").unpack_from
_TAGS = (ETH_P_8021Q, ETH_P_8021AD, ETH_P_QINQ_OLD)    # 802.1Q, 802.1ad (QinQ), pre-standard QinQ
_SNAP_LEN = LLC_SNAP.size
_snap_type = LLC_SNAP.read("type").unpack_from
_PPPOE_LEN = PPPOE.size
_SLL_LEN = LINUX_SLL.size
_sll_protocol = LINUX_SLL.read("protocol").unpack_from
_SLL2_LEN = LINUX_SLL2.size
_sll2_protocol = LINUX_SLL2.read("protocol").unpack_from
_LOOP_LEN = LOOPBACK.size
_family = LOOPBACK.read("family").unpack_from
_family_le = LOOPBACK_LE.read("family").unpack_from
_NFLOG_LEN = NFLOG.size
_TLV_LEN = NFLOG_TLV.size
_tlv = NFLOG_TLV.read("length", "type").unpack_from
NFULA_PAYLOAD = 9
_FDDI_LEN = 13                  # frame control, destination, source
_IPOIB_LEN = 44                 # two 20-byte addresses, ethertype, reserved
_IPOIB_TYPE = 40               # where the ethertype is
# Address families: AF_INET, and AF_INET6 as Linux (10) and the BSDs (24,
# 28, 30) number it.
AF_INET = 2
AF_INET6_LINUX = 10
_AF_INET6 = (AF_INET6_LINUX, 24, 28, 30)


def decode(linktype: int, buf, off: int, caplen: int):
    """Decode one packet; return the TCP fields tuple or a SKIP_* reason."""
    link = LINK_DECODERS.get(linktype)
    if link is None:
        return SKIP_UNSUPPORTED_LINK
    r = link(buf, off, off + caplen)
    if r.__class__ is not int and len(r) == 11:
        # Found inside a tunnel: the tunnel's part of the flow key, and the
        # encapsulation the connection will report (decode.tunnel).
        return _tunnel.finalize(r)
    return r


def ethernet(buf, off, end, depth=0):
    if off + _ETH_LEN > end:
        return SKIP_TRUNCATED
    return by_ethertype(_eth_type(buf, off)[0], buf, off + _ETH_LEN, end, depth)


def by_ethertype(etype, buf, pos, end, depth=0):
    """What follows an Ethernet type field (``etype``) at ``pos``: tags, LLC,
    PPPoE, IP, and the encapsulations that Ethernet carries (MPLS, PBB,
    VN-Tag: decode.tunnel)."""
    # 802.1Q / 802.1ad (QinQ) tags, any depth the packet really has.
    while etype in _TAGS:
        if pos + _TAG_LEN > end:
            return SKIP_TRUNCATED
        etype = _tag_type(buf, pos)[0]
        pos += _TAG_LEN
    if etype <= 1500:
        # IEEE 802.3 length field: LLC, with SNAP carrying an ethertype.
        if pos + _SNAP_LEN > end:
            return SKIP_TRUNCATED
        if buf[pos] == 0xAA and buf[pos + 1] == 0xAA and buf[pos + 2] == 0x03:
            etype = _snap_type(buf, pos)[0]
            pos += _SNAP_LEN
        else:
            return SKIP_NON_IP
    if etype == ETH_P_PPPOE_SESSION:
        # RFC 2516: the PPPoE header, then the PPP protocol field (one byte
        # if compressed, else two: see ppp_protocol).
        pos += _PPPOE_LEN
        if pos + 1 > end or (not buf[pos] & 1 and pos + 2 > end):
            return SKIP_TRUNCATED
        proto, pos = ppp_protocol(buf, pos)
        etype = ETH_P_IP if proto == PPP_IP else ETH_P_IPV6 if proto == PPP_IPV6 \
            else ETH_P_MPLS_UC if proto in (PPP_MPLS_UC, PPP_MPLS_MC) else 0
    if etype == ETH_P_IP:
        return decode_ipv4(buf, pos, end, depth)
    if etype == ETH_P_IPV6:
        return decode_ipv6(buf, pos, end, depth)
    if etype == ETH_P_MPLS_UC or etype == ETH_P_MPLS_MC:
        return _tunnel.mpls(buf, pos, end, depth)
    if etype == ETH_P_PBB:
        return _tunnel.pbb(buf, pos, end, depth)
    if etype == ETH_P_VNTAG:
        return _tunnel.vntag(buf, pos, end, depth)
    return SKIP_NON_IP


def fddi(buf, off, end):
    # FDDI (link type 10): frame control, destination, source (13 bytes),
    # then IEEE 802.2 LLC with SNAP carrying the ethertype (RFC 1390).
    pos = off + _FDDI_LEN
    if pos + _SNAP_LEN > end:
        return SKIP_TRUNCATED
    if not (buf[pos] == 0xAA and buf[pos + 1] == 0xAA and buf[pos + 2] == 0x03):
        return SKIP_NON_IP
    return by_ethertype(_snap_type(buf, pos)[0], buf, pos + _SNAP_LEN, end)


def ipoib(buf, off, end):
    # IP over InfiniBand (link type 242; RFC 4391): the 20-byte destination
    # and source hardware addresses, then RFC 4391's 4-byte encapsulation
    # header, an ethertype and 2 reserved bytes (tcpdump's print-ipoib.c).
    if off + _IPOIB_LEN > end:
        return SKIP_TRUNCATED
    etype = (buf[off + _IPOIB_TYPE] << 8) | buf[off + _IPOIB_TYPE + 1]
    return ip_by_ethertype(etype, buf, off + _IPOIB_LEN, end)


def linux_sll(buf, off, end):
    if off + _SLL_LEN > end:
        return SKIP_TRUNCATED
    return ip_by_ethertype(_sll_protocol(buf, off)[0], buf, off + _SLL_LEN, end)


def linux_sll2(buf, off, end):
    if off + _SLL2_LEN > end:
        return SKIP_TRUNCATED
    return ip_by_ethertype(_sll2_protocol(buf, off)[0], buf, off + _SLL2_LEN, end)


def raw_ip(buf, off, end):
    if off >= end:
        return SKIP_TRUNCATED
    return by_version(buf, off, end)


def null(buf, off, end):
    # The address family in the writer's byte order: a number above 0xFFFF
    # read in network order was written little-endian.
    if off + _LOOP_LEN > end:
        return SKIP_TRUNCATED
    family = _family(buf, off)[0]
    if family > 0xFFFF:
        family = _family_le(buf, off)[0]
    return _by_family(family, buf, off + _LOOP_LEN, end)


def loop(buf, off, end):
    # OpenBSD loopback: the address family in network byte order.
    if off + _LOOP_LEN > end:
        return SKIP_TRUNCATED
    return _by_family(_family(buf, off)[0], buf, off + _LOOP_LEN, end)


def _by_family(family, buf, pos, end):
    if family == AF_INET:
        return decode_ipv4(buf, pos, end)
    if family in _AF_INET6:
        return decode_ipv6(buf, pos, end)
    return SKIP_NON_IP


def ppp(buf, off, end):
    pos = off
    if off + 2 <= end and buf[pos] == 0xFF and buf[pos + 1] == 0x03:
        pos += 2  # HDLC address and control
    if pos + 2 > end:
        return SKIP_TRUNCATED
    proto, pos = ppp_protocol(buf, pos)
    if proto == PPP_IP:
        return decode_ipv4(buf, pos, end)
    if proto == PPP_IPV6:
        return decode_ipv6(buf, pos, end)
    if proto == PPP_MPLS_UC or proto == PPP_MPLS_MC:
        return _tunnel.mpls(buf, pos, end, 0)   # RFC 3032 section 4.3
    return SKIP_NON_IP


def ppp_protocol(buf, pos):
    """PPP protocol field and the offset after it.  With protocol-field
    compression (RFC 1661 section 6.5) it is one byte, recognisable because
    every protocol number's low byte is odd and its high byte even."""
    first = buf[pos]
    if first & 1:
        return first, pos + 1
    return (first << 8) | buf[pos + 1], pos + 2


def nflog(buf, off, end):
    # Linux NFLOG: a header, then TLVs in host byte order, 4-byte aligned;
    # NFULA_PAYLOAD holds the IP packet.
    if off + _NFLOG_LEN > end:
        return SKIP_TRUNCATED
    family = buf[off]
    pos = off + _NFLOG_LEN
    while pos + _TLV_LEN <= end:
        length, tlv_type = _tlv(buf, pos)
        if length < _TLV_LEN:
            return SKIP_MALFORMED
        if tlv_type & 0x7FFF == NFULA_PAYLOAD:
            start, stop = pos + _TLV_LEN, min(pos + length, end)
            if family == AF_INET:
                return decode_ipv4(buf, start, stop)
            if family == AF_INET6_LINUX:
                return decode_ipv6(buf, start, stop)
            return by_version(buf, start, stop) if start < stop else SKIP_TRUNCATED
        pos += (length + 3) & ~3
    return SKIP_NON_IP


# linktype -> decoder
LINK_DECODERS = {
    LINKTYPE_ETHERNET: ethernet,
    LINKTYPE_LINUX_SLL: linux_sll,
    LINKTYPE_LINUX_SLL2: linux_sll2,
    **{lt: raw_ip for lt in RAW_LINKTYPES},
    LINKTYPE_NULL: null,
    LINKTYPE_LOOP: loop,
    LINKTYPE_PPP: ppp,
    LINKTYPE_NFLOG: nflog,
    LINKTYPE_FDDI: fddi,
    LINKTYPE_IPOIB: ipoib,
}
