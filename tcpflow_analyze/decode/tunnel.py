"""Tunnels and encapsulations: the TCP segment inside VXLAN, Geneve, GRE
(with its key and sequence number, ERSPAN types I-III, transparent Ethernet
bridging, WCCP), IP in IP (4in4, 6in4, 4in6, 6in6), MPLS label stacks, IEEE
802.1ah PBB, VN-Tag, GTP-U, Teredo and AYIYA.

Each decoder here takes ``(buf, pos, end, depth)`` -- the tunnel's header at
``pos``, the captured bytes ending at ``end``, how many tunnels are already
around it -- and returns what the inner packet's decoder returns, with its
own layer added (``_wrap``): the fields tuple gets an eleventh item, the layers
outermost first.  ``finalize`` (called once, by ``links.decode``) turns the
layers into the connection's encapsulation and adds the tunnel's identity to
the flow key.

A layer is ``(name, identity, shown)``: the encapsulation's name in the
report, the bytes that tell its tunnels apart (b"" when it has no identifier
that names a network), and how the report shows that identifier (or None).

What goes into a connection's identity, and why:

* VXLAN and Geneve VNI (RFC 7348 section 5, RFC 8926 section 3.4): a
  virtual network; two VPCs may both use 10.0.0.0/8.  Both directions of a
  connection carry the same VNI.
* The GRE key (RFC 2890 section 2.1): "identifies an individual traffic flow
  within a tunnel".
* The PBB I-SID (IEEE 802.1ah): a backbone service instance, as a VNI.
* GTP-U: not the TEID, which each end allocates for its peer to send to
  (3GPP TS 29.281 section 5.1, TS 23.401 section 5.3.4: uplink and downlink
  TEIDs differ), so it would split every connection in two; the tunnel's two
  endpoint addresses, unordered, instead.
* Not the ERSPAN session id (one mirrored flow seen from several sessions is
  one connection), not MPLS labels (swapped at every hop, different each
  way: RFC 3031), not VN-Tag's virtual interfaces (per direction): tshark
  and Zeek key those connections by the inner addresses and ports alone.
"""
from __future__ import annotations

import socket

from . import ip as _ip
from . import links as _links
from .constants import (
    ETH_P_ERSPAN2, ETH_P_ERSPAN3, ETH_P_IP, ETH_P_IPV6, ETH_P_TEB, ETH_P_WCCP, IPPROTO_GRE, IPPROTO_IPIP,
    IPPROTO_IPV6, IPPROTO_UDP, MAX_ENCAP_DEPTH, SKIP_MALFORMED, SKIP_NON_IP, SKIP_NON_TCP, SKIP_TRUNCATED,
    UDP_AYIYA, UDP_GENEVE, UDP_GTPU, UDP_TEREDO, UDP_VXLAN,
)
from .layouts import GENEVE, GRE, GTPU, PBB_ITAG, UDP, VNTAG, VXLAN

_UDP_LEN = UDP.size
_udp = UDP.read("sport", "dport", "ulen").unpack_from
_VXLAN_LEN = VXLAN.size
_vxlan_vni = VXLAN.read("vni_res").unpack_from
_GENEVE_LEN = GENEVE.size
_geneve = GENEVE.read("ver_optlen", "proto", "vni_res").unpack_from
_GRE_LEN = GRE.size
_gre = GRE.read("flags_ver", "proto").unpack_from
_GTPU_LEN = GTPU.size
_gtpu = GTPU.read("flags", "type", "length", "teid").unpack_from
_ITAG_LEN = PBB_ITAG.size
_itag = PBB_ITAG.read("tci").unpack_from
_VNTAG_LEN = VNTAG.size
_vntag_type = VNTAG.read("type").unpack_from

# GRE flag bits (RFC 2784 section 2, RFC 2890 section 2; R from RFC 1701).
GRE_CSUM = 0x8000
GRE_ROUTING = 0x4000
GRE_KEY = 0x2000
GRE_SEQ = 0x1000
GRE_VERSION = 0x0007
# An MPLS stack deeper than this is hostile: real stacks are 1-5 labels.
MAX_MPLS_LABELS = 16
# GTP-U extension headers (TS 29.281 section 5.2): at most a few in practice.
MAX_GTPU_EXTENSIONS = 16
GTPU_GPDU = 0xFF            # the message type that carries a user packet
# ERSPAN type III frame types (draft-foschiano-erspan section 4.3).
ERSPAN3_FT_ETHERNET = 0
ERSPAN3_FT_IP = 2
# Teredo indicators (RFC 4380 section 5.1.1): authentication, origin.
TEREDO_AUTH = 0x0001
TEREDO_ORIGIN = 0x0000
AYIYA_FORWARD = 1           # opcode: the payload is a packet to forward

_VNTAG_LAYER = ("vntag", b"", None)
_IPIP_NAMES = {(4, IPPROTO_IPIP): "ipip", (4, IPPROTO_IPV6): "6in4", (6, IPPROTO_IPIP): "4in6",
               (6, IPPROTO_IPV6): "6in6"}


def _wrap(r, layer):
    """The inner decoder's answer ``r`` with ``layer`` around it."""
    if r.__class__ is int:
        return r
    if len(r) == 11:
        return r[:10] + ((layer,) + r[10],)
    return r + ((layer,),)


# -- Identity and the report's names -------------------------------------------

# (layers) -> (encapsulation, tag).  Bounded: a hostile capture with a new
# VNI on every packet must not grow it without end.
_ENCAPS: dict = {}
_ENCAPS_MAX = 4096
# A tag longer than its one length byte can say is replaced by a digest.
_TAG_BODY_MAX = 200


def encapsulation(layers):
    """``(encap, tag)`` for a tuple of layers, outermost first.

    ``encap`` is ``(name, tunnel_id, tag)``: ``"geneve+gre"``, ``"vni=7,key=9"``
    (None when no layer has an identifier), and ``tag``, the bytes appended
    to the flow key.  A tag's last byte is its own length, and its length is
    odd, so a tagged key has an odd length and a plain one (12 or 36 bytes)
    an even one: ``model.connection.reverse_key`` needs nothing else.
    """
    got = _ENCAPS.get(layers)
    if got is not None:
        return got
    name = "+".join(layer[0] for layer in layers)
    body = b"".join(layer[1] for layer in layers)
    shown = ",".join(layer[2] for layer in layers if layer[2] is not None) or None
    if body:
        if len(body) > _TAG_BODY_MAX:
            from hashlib import blake2b  # rare: hashlib loads OpenSSL, kept off the start of every run
            body = b"H" + blake2b(body, digest_size=16).digest()
        if len(body) % 2:
            body += b"\0"
        tag = body + bytes((len(body) + 1,))
    else:
        tag = b""
    got = ((name, shown, tag), tag)
    if len(_ENCAPS) >= _ENCAPS_MAX:
        _ENCAPS.clear()
    _ENCAPS[layers] = got
    return got


def finalize(r):
    """An 11-item answer (``_wrap``) as the packet loop takes it: the flow key
    with the tunnel's tag, and the encapsulation in place of the layers."""
    encap, tag = encapsulation(r[10])
    if tag:
        return (r[0] + tag,) + r[1:10] + (encap,)
    return r[:10] + (encap,)


def vxlan_layer(vni: int):
    return ("vxlan", b"V" + vni.to_bytes(3, "big"), f"vni={vni}")


def _geneve_layer(vni: int):
    return ("geneve", b"G" + vni.to_bytes(3, "big"), f"vni={vni}")


# -- IP protocols --------------------------------------------------------------

def by_ip_proto(proto, buf, pos, end, version, addrs, depth):
    """The payload of an IPv4/IPv6 packet (``version``) of protocol ``proto``
    at ``pos``; ``addrs`` its source and destination addresses."""
    if proto == IPPROTO_UDP:
        return udp(buf, pos, end, addrs, depth)
    if depth >= MAX_ENCAP_DEPTH:
        return SKIP_MALFORMED
    if proto == IPPROTO_GRE:
        return gre(buf, pos, end, depth)
    # IP in IP: RFC 2003 (4in4), RFC 4213 (6in4), RFC 2473 (4in6, 6in6).
    layer = (_IPIP_NAMES[version, proto], b"", None)
    if proto == IPPROTO_IPIP:
        return _wrap(_ip.decode_ipv4(buf, pos, end, depth + 1), layer)
    return _wrap(_ip.decode_ipv6(buf, pos, end, depth + 1), layer)


def udp(buf, pos, end, addrs, depth):
    if pos + _UDP_LEN > end:
        return SKIP_NON_TCP     # not even its ports: nothing says it is a tunnel
    sport, dport, ulen = _udp(buf, pos)
    if dport == UDP_VXLAN:
        kind = vxlan
    elif dport == UDP_GENEVE:
        kind = geneve
    elif dport == UDP_GTPU or sport == UDP_GTPU:
        kind = gtpu
    elif dport == UDP_TEREDO or sport == UDP_TEREDO:
        kind = teredo
    elif dport == UDP_AYIYA or sport == UDP_AYIYA:
        kind = ayiya
    else:
        return SKIP_NON_TCP
    if depth >= MAX_ENCAP_DEPTH:
        return SKIP_MALFORMED
    # The datagram's own length bounds its payload (trailing Ethernet
    # padding is not tunnel data); 0 is a GSO super-datagram's.
    if ulen >= _UDP_LEN and pos + ulen < end:
        end = pos + ulen
    pos += _UDP_LEN
    if kind is gtpu:
        return gtpu(buf, pos, end, addrs, depth)
    return kind(buf, pos, end, depth)


def vxlan(buf, pos, end, depth):
    # RFC 7348 section 5: the I flag must be set and the reserved bits are
    # ignored on receipt; tshark ignores the flag too, and captures with it
    # clear (suricata-vxlan-http) carry real traffic: the VNI is taken as is.
    if pos + _VXLAN_LEN > end:
        return SKIP_TRUNCATED
    vni = _vxlan_vni(buf, pos)[0] >> 8
    return _wrap(_links.ethernet(buf, pos + _VXLAN_LEN, end, depth + 1), vxlan_layer(vni))


def geneve(buf, pos, end, depth):
    if pos + _GENEVE_LEN > end:
        return SKIP_TRUNCATED
    ver_optlen, proto, vni_res = _geneve(buf, pos)
    if ver_optlen >> 6:
        return SKIP_NON_TCP     # a version this decoder does not know (RFC 8926 section 3.4)
    hdr = pos + _GENEVE_LEN + (ver_optlen & 0x3F) * 4
    if hdr > end:
        return SKIP_TRUNCATED
    return _wrap(_by_protocol_type(proto, buf, hdr, end, depth + 1), _geneve_layer(vni_res >> 8))


def _by_protocol_type(proto, buf, pos, end, depth):
    """Geneve's and GRE's protocol type: an ethertype (RFC 8926 3.4, RFC 2784 2.4)."""
    if proto == ETH_P_TEB:
        return _links.ethernet(buf, pos, end, depth)
    if proto == ETH_P_IP:
        return _ip.decode_ipv4(buf, pos, end, depth)
    if proto == ETH_P_IPV6:
        return _ip.decode_ipv6(buf, pos, end, depth)
    return SKIP_NON_IP


def gre(buf, pos, end, depth):
    if pos + _GRE_LEN > end:
        return SKIP_TRUNCATED
    flags, proto = _gre(buf, pos)
    if flags & (GRE_VERSION | GRE_ROUTING):
        # Version 1 is PPTP's enhanced GRE (RFC 2637, PPP inside); source
        # routing (RFC 1701) was removed by RFC 2784: neither is decoded.
        return SKIP_NON_TCP
    hdr = pos + _GRE_LEN
    if flags & GRE_CSUM:
        hdr += 4            # checksum and reserved1
    layer = ("gre", b"", None)
    if flags & GRE_KEY:
        if hdr + 4 > end:
            return SKIP_TRUNCATED
        key = int.from_bytes(buf[hdr:hdr + 4], "big")
        layer = ("gre", b"K" + buf[hdr:hdr + 4], f"key={key}")
        hdr += 4
    if flags & GRE_SEQ:
        hdr += 4
    if hdr > end:
        return SKIP_TRUNCATED
    depth += 1
    if proto == ETH_P_ERSPAN2:
        if not flags & GRE_SEQ:
            # ERSPAN type I: no ERSPAN header, the mirrored frame at once
            # (Wireshark tells I from II by the GRE sequence bit).
            return _wrap(_links.ethernet(buf, hdr, end, depth), ("erspan", b"", None))
        # Type II: version (1), VLAN, CoS, encapsulation, truncated, session,
        # index: 8 bytes.
        if hdr + 8 > end:
            return SKIP_TRUNCATED
        if buf[hdr] >> 4 != 1:
            return SKIP_MALFORMED
        return _wrap(_links.ethernet(buf, hdr + 8, end, depth), ("erspan", b"", None))
    if proto == ETH_P_ERSPAN3:
        # Type III: version (2), ..., timestamp, SGT, P, frame type, hardware
        # id, D, granularity, O (a platform-specific subheader of 8 bytes).
        if hdr + 12 > end:
            return SKIP_TRUNCATED
        if buf[hdr] >> 4 != 2:
            return SKIP_MALFORMED
        word = (buf[hdr + 10] << 8) | buf[hdr + 11]
        frame_type = (word >> 10) & 0x1F
        inner = hdr + 12 + (8 if word & 1 else 0)
        if frame_type == ERSPAN3_FT_ETHERNET:
            r = _links.ethernet(buf, inner, end, depth)
        elif frame_type == ERSPAN3_FT_IP:
            r = _ip.by_version(buf, inner, end, depth) if inner < end else SKIP_TRUNCATED
        else:
            return SKIP_NON_IP
        return _wrap(r, ("erspan", b"", None))
    if proto == ETH_P_WCCP:
        # WCCP v2 adds a 4-byte redirect header, v1 none: Wireshark looks for
        # an IPv4 version nibble to tell them apart.
        if hdr < end and buf[hdr] >> 4 != 4:
            hdr += 4
        return _wrap(_ip.decode_ipv4(buf, hdr, end, depth), ("wccp", b"", None))
    return _wrap(_by_protocol_type(proto, buf, hdr, end, depth), layer)


def gtpu(buf, pos, end, addrs, depth):
    if pos + _GTPU_LEN > end:
        return SKIP_TRUNCATED
    flags, mtype, length, _teid = _gtpu(buf, pos)
    if flags >> 5 != 1 or not flags & 0x10:
        return SKIP_NON_TCP     # GTP' or another version: no user plane
    if mtype != GTPU_GPDU:
        return SKIP_NON_TCP     # echo, error indication, end marker: signalling
    if pos + _GTPU_LEN + length < end:
        end = pos + _GTPU_LEN + length
    hdr = pos + _GTPU_LEN
    if flags & 0x07:
        # Sequence number, N-PDU number, next extension header type.
        if hdr + 4 > end:
            return SKIP_TRUNCATED
        nxt = buf[hdr + 3]
        hdr += 4
        for _ in range(MAX_GTPU_EXTENSIONS):
            if not nxt:
                break
            if hdr >= end:
                return SKIP_TRUNCATED
            ext_len = buf[hdr] * 4
            if not ext_len:
                return SKIP_MALFORMED
            if hdr + ext_len > end:
                return SKIP_TRUNCATED
            nxt = buf[hdr + ext_len - 1]
            hdr += ext_len
        else:
            return SKIP_MALFORMED
    if hdr >= end:
        return SKIP_TRUNCATED
    half = len(addrs) >> 1
    peers = sorted((addrs[:half], addrs[half:]))
    family = socket.AF_INET if half == 4 else socket.AF_INET6
    layer = ("gtpu", b"U" + peers[0] + peers[1],
             "peers=" + ",".join(socket.inet_ntop(family, p) for p in peers))
    return _wrap(_ip.by_version(buf, hdr, end, depth + 1), layer)


def teredo(buf, pos, end, depth):
    # RFC 4380 section 5.1.1: an authentication indicator, then an origin
    # indication, each optional, then the IPv6 packet.  Port 3544 is only
    # the server's, so anything that is not IPv6 here is some other UDP.
    if pos + 2 <= end and buf[pos] == 0 and buf[pos + 1] == TEREDO_AUTH:
        if pos + 4 > end:
            return SKIP_TRUNCATED
        pos += 4 + buf[pos + 2] + buf[pos + 3] + 8 + 1
    if pos + 2 <= end and buf[pos] == 0 and buf[pos + 1] == TEREDO_ORIGIN:
        pos += 8
    if pos >= end or buf[pos] >> 4 != 6:
        return SKIP_NON_TCP
    return _wrap(_ip.decode_ipv6(buf, pos, end, depth + 1), ("teredo", b"", None))


def ayiya(buf, pos, end, depth):
    # draft-massar-v6ops-ayiya section 5: identity length (2^n bytes) and
    # type, signature length (4-byte words) and hash, authentication and
    # opcode, next header, epoch; identity, signature, then the packet.
    if pos + 8 > end:
        return SKIP_TRUNCATED
    if buf[pos + 2] & 0x0F != AYIYA_FORWARD:
        return SKIP_NON_TCP
    nxt = buf[pos + 3]
    hdr = pos + 8 + (1 << (buf[pos] >> 4)) + (buf[pos + 1] >> 4) * 4
    if hdr >= end:
        return SKIP_TRUNCATED
    if nxt == IPPROTO_IPV6:
        r = _ip.decode_ipv6(buf, hdr, end, depth + 1)
    elif nxt == IPPROTO_IPIP:
        r = _ip.decode_ipv4(buf, hdr, end, depth + 1)
    else:
        return SKIP_NON_IP
    return _wrap(r, ("ayiya", b"", None))


# -- Below IP: label stacks and Ethernet-in-Ethernet ---------------------------

def mpls(buf, pos, end, depth):
    """An MPLS label stack (RFC 3032) and what its bottom label carries."""
    if depth >= MAX_ENCAP_DEPTH:
        return SKIP_MALFORMED
    for _ in range(MAX_MPLS_LABELS):
        if pos + 4 > end:
            return SKIP_TRUNCATED
        bottom = buf[pos + 2] & 1
        pos += 4
        if bottom:
            break
    else:
        return SKIP_MALFORMED
    if pos >= end:
        return SKIP_TRUNCATED
    # The stack does not say what it carries (RFC 3032 section 2.2): IP by
    # its version nibble; 0 is a pseudowire control word (RFC 4385) before
    # an Ethernet frame (RFC 4448), as is anything else.
    nibble = buf[pos] >> 4
    if nibble == 4:
        r = _ip.decode_ipv4(buf, pos, end, depth + 1)
    elif nibble == 6:
        r = _ip.decode_ipv6(buf, pos, end, depth + 1)
    else:
        r = _links.ethernet(buf, pos + 4 if nibble == 0 else pos, end, depth + 1)
    return _wrap(r, ("mpls", b"", None))


def pbb(buf, pos, end, depth):
    """IEEE 802.1ah: the I-TAG after ethertype 0x88E7, then the customer frame."""
    if depth >= MAX_ENCAP_DEPTH:
        return SKIP_MALFORMED
    if pos + _ITAG_LEN > end:
        return SKIP_TRUNCATED
    isid = _itag(buf, pos)[0] & 0xFFFFFF
    layer = ("pbb", b"P" + isid.to_bytes(3, "big"), f"isid={isid}")
    return _wrap(_links.ethernet(buf, pos + _ITAG_LEN, end, depth + 1), layer)


def vntag(buf, pos, end, depth):
    """Cisco VN-Tag after ethertype 0x8926: 4 bytes of tag, then the ethertype
    it stood for (a tag, like 802.1Q's, not a new frame)."""
    if depth >= MAX_ENCAP_DEPTH:
        return SKIP_MALFORMED
    if pos + _VNTAG_LEN > end:
        return SKIP_TRUNCATED
    etype = _vntag_type(buf, pos)[0]
    return _wrap(_links.by_ethertype(etype, buf, pos + _VNTAG_LEN, end, depth + 1), _VNTAG_LAYER)
