"""The Community ID flow hash, version 1 (github.com/corelight/community-id-spec).

One string per flow that Zeek (its community-id package / policy script),
Suricata (``community-id: true``), Arkime and Elastic all compute the same
way, so that our connections can be joined with their records:

    SHA1(seed as 2 bytes big-endian, lower address, higher address,
         protocol as 1 byte, one zero byte of padding,
         the lower address's port, the other port), base64, "1:" before it

where "lower" orders the two (address bytes, port) endpoints, so both
directions of a flow give one ID.  The seed is 0 unless every tool is told
another.
"""
from __future__ import annotations

import struct
from binascii import b2a_base64

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from .sha1 import sha1

IPPROTO_TCP = 6

# The hashed message, IPv4 and IPv6: the seed, the addresses, the protocol,
# the padding byte, the ports (one pack, not four pieces joined).
_MESSAGE4 = struct.Struct("!H4s4sBxHH")
_MESSAGE6 = struct.Struct("!H16s16sBxHH")
# RFC 4648's base64 alphabet (the compiled build's text of the digest).
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def community_id(a_addr: bytes, a_port: int, b_addr: bytes, b_port: int,
                 proto: int = IPPROTO_TCP, seed: int = 0) -> str:
    """The v1 Community ID of a flow between (a_addr, a_port) and
    (b_addr, b_port): raw 4- or 16-byte addresses, as the engine keeps them."""
    if cython.compiled and id_chars(a_addr, a_port, b_addr, b_port, proto, seed, text) == 30:
        return text[:30].decode("ascii")
    if a_addr > b_addr or (a_addr == b_addr and a_port > b_port):
        a_addr, a_port, b_addr, b_port = b_addr, b_port, a_addr, a_port
    message = _MESSAGE4 if len(a_addr) == 4 else _MESSAGE6
    digest = sha1(message.pack(seed, a_addr, b_addr, proto, a_port, b_port)).digest()
    return "1:" + b2a_base64(digest, newline=False).decode("ascii")


def id_chars(a_addr, a_port, b_addr, b_port, proto, seed, text):
    """``community_id``'s 30 characters written at ``text``; 30, or 0 for
    addresses that are not both IPv4 or both IPv6 (the compiled build only:
    the connection-line writer prints it in place)."""
    if a_addr > b_addr or (a_addr == b_addr and a_port > b_port):
        a_addr, a_port, b_addr, b_port = b_addr, b_port, a_addr, a_port
    n = len(a_addr)
    if not (n == 4 or n == 16) or len(b_addr) != n:
        return 0
    sd = seed
    pr = proto
    ap = a_port
    bp = b_port
    msg[0] = sd >> 8
    msg[1] = sd & 0xFF
    memcpy(msg + 2, cython.cast(cython.p_char, a_addr), n)
    memcpy(msg + 2 + n, cython.cast(cython.p_char, b_addr), n)
    i = 2 + 2 * n
    msg[i] = pr
    msg[i + 1] = 0
    msg[i + 2] = ap >> 8
    msg[i + 3] = ap & 0xFF
    msg[i + 4] = bp >> 8
    msg[i + 5] = bp & 0xFF
    sha1_digest(msg, i + 6, d)
    d[20] = 0
    alphabet = _BASE64
    text[0] = 49   # "1:"
    text[1] = 58
    for i in range(7):
        v = d[3 * i] << 16 | d[3 * i + 1] << 8 | d[3 * i + 2]
        text[2 + 4 * i] = alphabet[v >> 18]
        text[3 + 4 * i] = alphabet[(v >> 12) & 63]
        text[4 + 4 * i] = alphabet[(v >> 6) & 63]
        text[5 + 4 * i] = alphabet[v & 63]
    text[29] = 61
    return 30
