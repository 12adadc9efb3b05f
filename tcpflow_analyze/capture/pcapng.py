"""pcapng, walked block by block.

dpkt's pcapng reader skips Simple Packet Blocks and reports only the first
interface's link type; here every interface keeps its own link type and
timestamp resolution, and each Section Header Block starts a fresh interface
list (pcapng spec, draft-ietf-opsawg-pcapng section 4.1).
"""
from __future__ import annotations

import struct

from ..errors import CaptureError

SHB = 0x0A0D0D0A
IDB = 0x00000001
OPB = 0x00000002  # obsolete Packet Block
SPB = 0x00000003
EPB = 0x00000006
BYTE_ORDER_MAGIC = 0x1A2B3C4D

OPT_ENDOFOPT = 0
IF_TSRESOL = 9
IF_TSOFFSET = 14

# Larger blocks are treated as damage rather than read into memory: Wireshark
# caps a block at 16 MiB for the same reason (wiretap/pcapng.c).
MAX_BLOCK_LEN = 16 * 1024 * 1024


class _Interface:
    __slots__ = ("linktype", "snaplen", "ts_scale", "ts_offset")

    def __init__(self, linktype, snaplen, ts_scale, ts_offset):
        self.linktype = linktype
        self.snaplen = snaplen
        self.ts_scale = ts_scale
        self.ts_offset = ts_offset


def _parse_idb(body: bytes, endian: str) -> _Interface:
    linktype, _reserved, snaplen = struct.unpack_from(endian + "HHI", body, 0)
    ts_scale = 1e-6
    ts_offset = 0
    pos = 8
    n = len(body)
    while pos + 4 <= n:
        code, length = struct.unpack_from(endian + "HH", body, pos)
        pos += 4
        if code == OPT_ENDOFOPT or pos + length > n:
            break
        if code == IF_TSRESOL and length >= 1:
            r = body[pos]
            # High bit set: a negative power of two; else of ten.
            ts_scale = 2.0 ** -(r & 0x7F) if r & 0x80 else 10.0 ** -r
        elif code == IF_TSOFFSET and length >= 8:
            ts_offset = struct.unpack_from(endian + "q", body, pos)[0]
        pos += (length + 3) & ~3
    return _Interface(linktype, snaplen, ts_scale, ts_offset)


READ_SIZE = 1 << 20


def iter_pcapng(path: str, stream, head: bytes, damage):
    """Yield records from a pcapng stream whose first bytes (already read) are ``head``.

    ``damage`` is called once, where reading stops, as in ``pcap.iter_pcap``.
    Blocks are walked in place in large read buffers; records point into
    them (``(ts, linktype, buf, offset, caplen)``), so an Enhanced Packet
    Block costs two struct reads and no copy.
    """
    buf = bytes(head)
    pos = 0          # where the next block starts in buf
    base = 0         # file offset of buf[0]
    endian = "<"
    block_header = struct.Struct("<II")
    epb_fields = struct.Struct("<IIII")   # interface, ts high, ts low, caplen
    u32 = struct.Struct("<I")
    interfaces: list[_Interface] = []
    packet_no = 0
    last_ts = 0.0
    first = True
    while True:
        n = len(buf)
        if pos + 8 <= n:
            btype, blen = block_header.unpack_from(buf, pos)
            end = pos + blen
            # The common block, inline: an EPB, whole in the buffer, of a
            # sane length and a known interface, its trailer matching.
            if btype == EPB and end <= n and 32 <= blen <= MAX_BLOCK_LEN and not blen & 3 \
                    and u32.unpack_from(buf, end - 4)[0] == blen:
                if_id, ts_hi, ts_lo, caplen = epb_fields.unpack_from(buf, pos + 8)
                if if_id < len(interfaces) and 32 + caplen <= blen:
                    iface = interfaces[if_id]
                    packet_no += 1
                    last_ts = ((ts_hi << 32) | ts_lo) * iface.ts_scale + iface.ts_offset
                    yield last_ts, iface.linktype, buf, pos + 28, caplen
                    pos = end
                    continue
        # Everything else -- other blocks, a block crossing the buffer's end,
        # damage -- the careful way.
        block = _Block(buf, pos, stream)
        if not block.fill(8):
            if first:
                raise CaptureError(path, f"pcapng section header block cut short ({block.avail} bytes)")
            damage(base + pos, packet_no,
                   f"block header cut short ({block.avail} of 8 bytes)" if block.avail else None)
            return
        buf, pos, base = block.buf, 0, base + pos
        if buf[0:4] == b"\x0a\x0d\x0d\x0a":
            if not block.fill(12):
                if first:
                    raise CaptureError(path, f"pcapng section header block cut short ({block.avail} bytes)")
                damage(base, packet_no, "section header block cut short")
                return
            buf = block.buf
            bom = buf[8:12]
            if bom == b"\x4d\x3c\x2b\x1a":
                endian = "<"
            elif bom == b"\x1a\x2b\x3c\x4d":
                endian = ">"
            else:
                if first:
                    raise CaptureError(path, "pcapng section header has no valid byte-order magic")
                damage(base, packet_no, "section header with a bad byte-order magic")
                return
            block_header = struct.Struct(endian + "II")
            epb_fields = struct.Struct(endian + "IIII")
            u32 = struct.Struct(endian + "I")
        btype, blen = block_header.unpack_from(buf, 0)
        # A section header holds 16 bytes of its own (byte-order magic,
        # version, section length) besides the 12 every block has.
        if blen < (28 if btype == SHB else 12) or blen % 4 or blen > MAX_BLOCK_LEN:
            if first:
                raise CaptureError(path, f"pcapng first block has an impossible length {blen}")
            damage(base, packet_no, f"block length {blen} is impossible")
            return
        if not block.fill(blen):
            if first:
                raise CaptureError(path, "pcapng section header block cut short")
            damage(base, packet_no, f"block cut short ({block.avail} of {blen} bytes)")
            return
        buf = block.buf
        trailer = u32.unpack_from(buf, blen - 4)[0]
        if trailer != blen:
            if first:
                raise CaptureError(path, "pcapng section header block lengths do not match")
            damage(base, packet_no, f"block lengths do not match ({blen} vs {trailer})")
            return
        body = buf[8:blen - 4]
        block_off = base
        pos = blen

        if btype == SHB:
            major, minor = struct.unpack_from(endian + "HH", body, 4)
            if major != 1:
                if first:
                    raise CaptureError(path, f"unsupported pcapng version {major}.{minor}")
                damage(block_off, packet_no, f"section with unsupported version {major}.{minor}")
                return
            if not _options_fit(body, 16, endian):
                if first:
                    raise CaptureError(path, "pcapng section header options overrun the block")
                damage(block_off, packet_no, "section header options overrun the block")
                return
            interfaces = []
            first = False
            continue
        if first:
            raise CaptureError(path, "pcapng file does not start with a section header block")
        if btype == IDB:
            if len(body) < 8:
                damage(block_off, packet_no, "interface description block too short")
                return
            interfaces.append(_parse_idb(body, endian))
        elif btype == EPB or btype == OPB:
            if len(body) < 20:
                damage(block_off, packet_no, "packet block too short")
                return
            if btype == EPB:
                if_id, ts_hi, ts_lo, caplen, _wirelen = struct.unpack_from(endian + "IIIII", body, 0)
            else:
                if_id, _drops, ts_hi, ts_lo, caplen, _wirelen = struct.unpack_from(endian + "HHIIII", body, 0)
            if if_id >= len(interfaces):
                damage(block_off, packet_no, f"packet names interface {if_id}, which was never described")
                return
            if 20 + caplen > len(body):
                damage(block_off, packet_no, f"packet length {caplen} overruns its block")
                return
            iface = interfaces[if_id]
            packet_no += 1
            last_ts = ((ts_hi << 32) | ts_lo) * iface.ts_scale + iface.ts_offset
            yield last_ts, iface.linktype, body, 20, caplen
        elif btype == SPB:
            # No timestamp and no interface id: the first interface, and the
            # time of the packet before it (the best an observer can say).
            if len(body) < 4 or not interfaces:
                damage(block_off, packet_no, "simple packet block without an interface")
                return
            wirelen = struct.unpack_from(endian + "I", body, 0)[0]
            iface = interfaces[0]
            caplen = min(wirelen, len(body) - 4)
            if iface.snaplen:
                caplen = min(caplen, iface.snaplen)
            packet_no += 1
            yield last_ts, iface.linktype, body, 4, caplen
        # Every other block type (name resolution, statistics, custom,
        # decryption secrets ...) carries nothing this analysis needs.


class _Block:
    """The unread rest of a buffer, filled from the stream on demand: the
    slow path's view of the next block."""

    __slots__ = ("buf", "stream")

    def __init__(self, buf: bytes, pos: int, stream):
        self.buf = buf[pos:] if pos else buf
        self.stream = stream

    @property
    def avail(self) -> int:
        return len(self.buf)

    def fill(self, n: int) -> bool:
        """At least ``n`` bytes in ``buf``, unless the stream ends first."""
        if len(self.buf) >= n:
            return True
        parts = [self.buf]
        have = len(self.buf)
        while have < n:
            more = self.stream.read(max(n - have, READ_SIZE))
            if not more:
                break
            parts.append(more)
            have += len(more)
        self.buf = b"".join(parts)
        return have >= n


def _options_fit(body: bytes, pos: int, endian: str) -> bool:
    n = len(body)
    while pos + 4 <= n:
        code, length = struct.unpack_from(endian + "HH", body, pos)
        pos += 4
        if code == OPT_ENDOFOPT:
            return True
        if pos + length > n:
            return False
        pos += (length + 3) & ~3
    return pos <= n
