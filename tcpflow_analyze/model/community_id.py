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

from .sha1 import sha1

IPPROTO_TCP = 6

# The hashed message, IPv4 and IPv6: the seed, the addresses, the protocol,
# the padding byte, the ports (one pack, not four pieces joined).
_MESSAGE4 = struct.Struct("!H4s4sBxHH")
_MESSAGE6 = struct.Struct("!H16s16sBxHH")


def community_id(a_addr: bytes, a_port: int, b_addr: bytes, b_port: int,
                 proto: int = IPPROTO_TCP, seed: int = 0) -> str:
    """The v1 Community ID of a flow between (a_addr, a_port) and
    (b_addr, b_port): raw 4- or 16-byte addresses, as the engine keeps them."""
    if a_addr > b_addr or (a_addr == b_addr and a_port > b_port):
        a_addr, a_port, b_addr, b_port = b_addr, b_port, a_addr, a_port
    message = _MESSAGE4 if len(a_addr) == 4 else _MESSAGE6
    digest = sha1(message.pack(seed, a_addr, b_addr, proto, a_port, b_port)).digest()
    return "1:" + b2a_base64(digest, newline=False).decode("ascii")
