"""Header layouts, declared as data and compiled once.

A ``Header`` is declared as dpkt declares ``__hdr__``: its fields in wire
order, each a name and a ``struct`` code.  A ``Read`` lays headers end to end
and unpacks some of their fields with one precompiled ``struct.Struct`` (the
others become pad bytes); it knows the order it unpacks them in (``names``),
each one's position there (``index``) and where every declared field and
header lies, from the read's start (``offset``, ``end``, ``start``).  The
decoders' reads and the packet loop's fast paths (``FAST_PATHS``) are all
built from these declarations, so no format string or byte count is written
twice.
"""
from __future__ import annotations

import struct
from typing import NamedTuple

from .constants import LINKTYPE_ETHERNET, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2, RAW_LINKTYPES


class Header:
    """One protocol header's fixed part: ``(name, struct code)`` per field,
    in wire order, in one byte order (network order unless ``order``)."""

    __slots__ = ("name", "fields", "order", "offsets", "codes", "size")

    def __init__(self, name: str, *fields: tuple[str, str], order: str = "!"):
        self.name = name
        self.fields = fields
        self.order = order
        self.offsets = {}
        self.codes = {}
        pos = 0
        for field, code in fields:
            self.offsets[field] = pos
            self.codes[field] = code
            pos += struct.calcsize(order + code)
        self.size = pos

    def renamed(self, name: str) -> Header:
        """The same header under another name: a read that lays it twice (a
        tunnel's outer and inner IPv4) tells the two apart by name."""
        return Header(name, *self.fields, order=self.order)

    def read(self, *fields: str) -> Read:
        """A read of this header alone, unpacking ``fields`` under their own names."""
        return Read((self,), [(field, f"{self.name}.{field}") for field in fields])

    def __repr__(self) -> str:
        return f"Header({self.name!r}, {self.size} bytes: {', '.join(f for f, _ in self.fields)})"


class Read:
    """``headers`` laid end to end from offset 0, and one ``struct`` read of
    some of their fields.  ``picks`` are ``(name, "header.field")`` pairs in
    wire order: ``unpack_from`` gives the fields in that order, and ``names``
    is what their reader calls them."""

    __slots__ = ("struct", "unpack_from", "names", "fields", "index", "size", "_starts", "_spans")

    def __init__(self, headers, picks):
        order = headers[0].order
        self._starts = {}
        self._spans = {}     # "header.field" -> (offset, end)
        codes = {}
        pos = 0
        for header in headers:
            if header.order != order:
                raise ValueError(f"{header.name}: byte order {header.order!r}, not the read's {order!r}")
            self._starts[header.name] = pos
            for field, code in header.fields:
                at = pos + header.offsets[field]
                self._spans[f"{header.name}.{field}"] = (at, at + struct.calcsize(order + code))
                codes[f"{header.name}.{field}"] = code
            pos += header.size
        fmt = [order]
        pos = 0
        for name, field in picks:
            at, end = self._spans[field]
            if at < pos:
                raise ValueError(f"{field} ({name}) is not after the field before it")
            if at > pos:
                fmt.append(f"{at - pos}x" if at - pos > 1 else "x")
            fmt.append(codes[field])
            pos = end
        self.struct = struct.Struct("".join(fmt))
        self.unpack_from = self.struct.unpack_from
        self.names = tuple(name for name, _ in picks)
        self.fields = tuple(field for _, field in picks)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.size = self.struct.size

    def start(self, header: str) -> int:
        """Where ``header`` begins."""
        return self._starts[header]

    def offset(self, field: str) -> int:
        """Where ``"header.field"`` begins."""
        return self._spans[field][0]

    def end(self, field: str) -> int:
        """Where ``"header.field"`` ends."""
        return self._spans[field][1]

    def __repr__(self) -> str:
        return f"Read({self.struct.format!r}: {', '.join(self.names)})"


# -- Link layers ---------------------------------------------------------------

ETHERNET = Header("eth", ("dst", "6s"), ("src", "6s"), ("type", "H"))
# An 802.1Q / 802.1ad tag: the tag control information, then the ethertype
# that the one before it stood for.
DOT1Q = Header("vlan", ("tci", "H"), ("type", "H"))
# IEEE 802.2 LLC with SNAP (after an 802.3 length field): the OUI and an ethertype.
LLC_SNAP = Header("snap", ("dsap", "B"), ("ssap", "B"), ("ctrl", "B"), ("oui", "3s"), ("type", "H"))
# RFC 2516 PPPoE session header; the PPP protocol field follows.
PPPOE = Header("pppoe", ("ver_type", "B"), ("code", "B"), ("session", "H"), ("length", "H"))
# Linux cooked capture v1 and v2 (``tcpdump -i any``).
LINUX_SLL = Header("sll", ("pkttype", "H"), ("hatype", "H"), ("halen", "H"), ("addr", "8s"), ("protocol", "H"))
LINUX_SLL2 = Header("sll2", ("protocol", "H"), ("reserved", "H"), ("ifindex", "I"), ("hatype", "H"),
                    ("pkttype", "B"), ("halen", "B"), ("addr", "8s"))
# BSD loopback: the address family, in the writer's byte order (NULL) or
# network order (LOOP); read both ways.
LOOPBACK = Header("null", ("family", "I"))
LOOPBACK_LE = Header("null", ("family", "I"), order="<")
# Linux NFLOG: a header, then TLVs in host (here: little-endian) byte order.
NFLOG = Header("nflog", ("family", "B"), ("version", "B"), ("res_id", "H"))
NFLOG_TLV = Header("tlv", ("length", "H"), ("type", "H"), order="<")

# -- IP and TCP ----------------------------------------------------------------

IPV4 = Header("ip", ("vhl", "B"), ("tos", "B"), ("len", "H"), ("id", "H"), ("off", "H"), ("ttl", "B"),
              ("p", "B"), ("sum", "H"), ("src", "4s"), ("dst", "4s"))
IPV6 = Header("ip6", ("vfc_flow", "I"), ("plen", "H"), ("nxt", "B"), ("hlim", "B"), ("src", "16s"),
              ("dst", "16s"))
IPV6_FRAG = Header("frag6", ("nxt", "B"), ("reserved", "B"), ("off_m", "H"), ("id", "I"))
UDP = Header("udp", ("sport", "H"), ("dport", "H"), ("ulen", "H"), ("sum", "H"))
TCP = Header("tcp", ("sport", "H"), ("dport", "H"), ("seq", "I"), ("ack", "I"), ("off", "B"), ("flags", "B"),
             ("win", "H"), ("sum", "H"), ("urp", "H"))

# -- Tunnels (decode.tunnel) --------------------------------------------------

# RFC 7348: flags (I = 0x08), 24 reserved bits, then the VNI in the high 24
# bits of the last word (read as one "I", shifted).
VXLAN = Header("vxlan", ("flags", "B"), ("reserved", "3s"), ("vni_res", "I"))
# RFC 8926: version and option length (4-byte words), flags, protocol type,
# VNI (high 24 bits of the last word); options follow.
GENEVE = Header("geneve", ("ver_optlen", "B"), ("flags", "B"), ("proto", "H"), ("vni_res", "I"))
# RFC 2784 / 2890: flags and version, protocol; checksum, key, sequence
# number follow when their bits say so.
GRE = Header("gre", ("flags_ver", "H"), ("proto", "H"))
# 3GPP TS 29.281 section 5.1: flags, message type, length, TEID.
GTPU = Header("gtpu", ("flags", "B"), ("type", "B"), ("length", "H"), ("teid", "I"))
# IEEE 802.1ah I-TAG after its ethertype: priority, DEI, UCA, and the 24-bit
# I-SID in the low bits; the customer's Ethernet frame follows.
PBB_ITAG = Header("itag", ("tci", "I"))
# Cisco VN-Tag after its ethertype: direction, pointer, virtual interfaces,
# then the ethertype it stood for.
VNTAG = Header("vntag", ("tag", "I"), ("type", "H"))

# -- The packet loop's fast paths (engine.loop.run) -----------------------------
#
# One read per packet: the link header + IPv4 (IHL 5) + the first 16 bytes of
# TCP (through the window), or the link header + IPv6 without extension
# headers + the same TCP fields.  The loop unpacks them into these names, in
# this order (it checks so at import).

_TCP_FIRST16 = (("sport", "tcp.sport"), ("dport", "tcp.dport"), ("seq", "tcp.seq"), ("ack", "tcp.ack"),
                ("doff", "tcp.off"), ("flags", "tcp.flags"), ("win", "tcp.win"))
_IPV4_PICKS = (("vhl", "ip.vhl"), ("total", "ip.len"), ("frag", "ip.off"), ("proto", "ip.p"))
_IPV6_PICKS = (("vtf", "ip6.vfc_flow"), ("ip_plen", "ip6.plen"), ("nxt_hdr", "ip6.nxt"))

FAST_V4_NAMES = ("etype",) + tuple(name for name, _ in _IPV4_PICKS + _TCP_FIRST16)
FAST_V6_NAMES = tuple(name for name, _ in _IPV6_PICKS + _TCP_FIRST16)

# Raw IP's IPv4 read has the same slots, but the first (where the ethertype
# stands for the others) is the version/IHL byte and the second the TOS byte:
# the loop takes a first byte of RAW_IPV4 (version 4, IHL 5) for the
# "ethertype and ver/ihl" test, and a first nibble of RAW_IPV6 for IPv6's
# (whose own version check follows).
RAW_IPV4 = 0x45
RAW_IPV6 = 6


# The VXLAN mirror (AWS VPC Traffic Mirroring and most cloud taps): after the
# outer IPv4 (IHL 5) and UDP, read by the v4 read's TCP slots (the UDP ports
# sit where TCP's do), one read from the VXLAN header: the VNI word, inner
# Ethernet, inner IPv4 (IHL 5) and the same TCP fields.
FAST_VXLAN_NAMES = ("vni_res", "etype") + tuple(name for name, _ in _IPV4_PICKS + _TCP_FIRST16)
VXLAN_FAST = Read((VXLAN, ETHERNET, IPV4, TCP),
                  (("vni_res", "vxlan.vni_res"), ("etype", "eth.type")) + _IPV4_PICKS + _TCP_FIRST16)
# ... and with IPv6 (no extension headers) inside.
FAST_VXLAN6_NAMES = ("vni_res", "etype") + tuple(name for name, _ in _IPV6_PICKS + _TCP_FIRST16)
VXLAN_FAST6 = Read((VXLAN, ETHERNET, IPV6, TCP),
                   (("vni_res", "vxlan.vni_res"), ("etype", "eth.type")) + _IPV6_PICKS + _TCP_FIRST16)


# The VXLAN mirror's common packet in one read, for the loop to try first
# while a capture is all mirror: the link header, outer IPv4 (IHL 5), UDP,
# VXLAN, inner Ethernet (untagged), inner IPv4 (IHL 5), and the same TCP
# fields.  The outer IPv4's fields keep the v4 read's names, the inner's
# their own.
_INNER_ETHERNET = ETHERNET.renamed("ieth")
_INNER_IPV4 = IPV4.renamed("iip")
_MIRROR_PICKS = (("udp_dport", "udp.dport"), ("ulen", "udp.ulen"), ("vni_res", "vxlan.vni_res"),
                 ("ietype", "ieth.type"), ("ivhl", "iip.vhl"), ("itotal", "iip.len"), ("ifrag", "iip.off"),
                 ("iproto", "iip.p"))
FAST_MIRROR_NAMES = FAST_V4_NAMES[:5] + tuple(name for name, _ in _MIRROR_PICKS) \
    + tuple(name for name, _ in _TCP_FIRST16)


class FastPath(NamedTuple):
    v4: Read      # link header + IPv4 + TCP, unpacked as FAST_V4_NAMES
    v6: Read      # link header + IPv6 + TCP, unpacked as FAST_V6_NAMES
    l2: int       # the link header's length
    raw: bool     # raw IP: v4's "etype" is the version/IHL byte (RAW_IPV4)
    mirror: Read  # link header + IPv4 + UDP + VXLAN + Ethernet + IPv4 + TCP, as FAST_MIRROR_NAMES


def _fast_path(link: Header | None, etype_field: str | None) -> FastPath:
    if link is None:
        ip4 = (("etype", "ip.vhl"), ("vhl", "ip.tos")) + _IPV4_PICKS[1:]
        headers = ()
    else:
        ip4 = (("etype", f"{link.name}.{etype_field}"),) + _IPV4_PICKS
        headers = (link,)
    v4 = Read(headers + (IPV4, TCP), ip4 + _TCP_FIRST16)
    v6 = Read(headers + (IPV6, TCP), _IPV6_PICKS + _TCP_FIRST16)
    mirror = Read(headers + (IPV4, UDP, VXLAN, _INNER_ETHERNET, _INNER_IPV4, TCP), ip4 + _MIRROR_PICKS + _TCP_FIRST16)
    return FastPath(v4, v6, 0 if link is None else link.size, link is None, mirror)


# Link types whose header has a fixed length and names the ethertype: the
# header and its ethertype field.  One 802.1Q tag on Ethernet is read a tag
# on (engine.loop.run); tag stacks and everything else take ``decode``.
_FAST_LINKS = {
    LINKTYPE_ETHERNET: (ETHERNET, "type"),
    LINKTYPE_LINUX_SLL: (LINUX_SLL, "protocol"),
    LINKTYPE_LINUX_SLL2: (LINUX_SLL2, "protocol"),
}

# linktype -> FastPath
FAST_PATHS = {lt: _fast_path(link, field) for lt, (link, field) in _FAST_LINKS.items()}
FAST_PATHS.update({lt: _fast_path(None, None) for lt in RAW_LINKTYPES})
