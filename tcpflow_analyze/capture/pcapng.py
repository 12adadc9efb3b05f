"""pcapng, walked block by block.

dpkt's pcapng reader skips Simple Packet Blocks and reports only the first
interface's link type; here every interface keeps its own link type and
timestamp resolution, and each Section Header Block starts a fresh interface
list (pcapng spec, draft-ietf-opsawg-pcapng section 4.1).
"""
from __future__ import annotations

import struct

from ..errors import CaptureError
from .pcap import WINDOW, shrunk_damage
from .windows import EPB, EPB_FIXED_LEN, EPB_HEADER_LEN, INF, PACKED, packed_layout, record_at

SHB = 0x0A0D0D0A
IDB = 0x00000001
OPB = 0x00000002  # obsolete Packet Block
SPB = 0x00000003
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


def pcapng_windows(path: str, stream, head: bytes, damage, mapping=None):
    """The packets of a pcapng stream whose first bytes (already read) are
    ``head``, as windows (the protocol of ``windows``).

    ``mapping`` (``mapped.Mapping``), for a regular file: runs of Enhanced
    Packet Blocks are walked in the mapped file itself, in windows of at
    most ``pcap.WINDOW`` bytes, the file's size checked before each (as the
    pcap reader does: see ``mapped``); every other block is copied out of
    the map and taken the careful way below.  Past the map's end (a file
    that grew) reading goes on from ``stream``, at that offset.

    Blocks are walked in place in large read buffers.  A run of Enhanced
    Packet Blocks of one interface -- nearly every block of a capture -- is
    handed to the walker as it lies in the buffer; the walker stops at any
    other block, which is taken here the careful way: section and interface
    blocks, other packet blocks (each handed on packed as a window of its
    own), a block crossing the end of the buffer, damage.  ``damage`` is
    called once, where reading stops, as in ``pcap.pcap_windows``.
    """
    buf = bytes(head)
    pos = 0          # where the next block starts in buf
    base = 0         # file offset of buf[0]
    mm = tail = None
    if mapping is not None:
        mm = buf = mapping.map
        limit = len(mm)   # what the file is known to hold of the map
        told = damage     # damage as given: the file's shrinking is told before the reason
    endian = "<"
    block_header = struct.Struct("<II")
    epb_header = struct.Struct("<IIIIIII")  # type, length, interface, ts high, ts low, caplen, wire length
    u32 = struct.Struct("<I")
    interfaces: list[_Interface] = []
    layouts: list[tuple] = []               # the EPB window layout of each interface
    packet_no = 0
    last_ts = 0.0
    # The last run of EPBs handed out, (buf, start, stop, layout): the time of its
    # last packet, which a Simple Packet Block after it inherits, is read
    # back only if one comes.
    last_run = None
    first = True
    while True:
        if mm is not None and buf is not mm:
            if tail.left_map:
                mm = None   # the careful way read past the map: the stream from here
            else:
                # Back from the careful way, still inside the map: the map again.
                buf, pos, base = mm, base + pos, 0
        if mm is not None:
            # Checked before any page past those already checked is touched
            # (mapped): the window ends where the file is known to hold it.
            size = mapping.size()
            if size < limit:
                damage = shrunk_damage(told, len(mm), size)
                limit = max(size, pos)   # -1: unknown, so touch nothing new
            n = limit
            if pos + 8 <= limit:
                # At least the block at pos: one larger than a window is walked whole.
                n = min(pos + max(WINDOW, block_header.unpack_from(mm, pos)[1]), limit)
        else:
            n = len(buf)
        if pos + EPB_FIXED_LEN <= n:
            btype, _, if_id, _, _, _, _ = epb_header.unpack_from(buf, pos)
            if btype == EPB and if_id < len(interfaces):
                stop, walked = yield buf, pos, n, layouts[if_id], INF
                if walked:
                    packet_no += walked
                    last_run = (buf, pos, stop, layouts[if_id])
                    pos = stop
                    if mm is not None:
                        mapping.walked_to(pos)
                    continue
        # Everything else -- other blocks, a block crossing the buffer's end,
        # damage -- the careful way.
        if mm is not None:
            # The block copied out of the map (never the map's whole rest);
            # past what the file holds of it, read on from the stream.
            tail = _MapTail(mm, pos, limit, stream)
            want = 8
            if pos + 8 <= limit:
                # The block and no more: a capture of Simple Packet Blocks
                # takes every packet this way.
                # (A length past MAX_BLOCK_LEN is damage, told from the header alone.)
                blen = block_header.unpack_from(mm, pos)[1]
                want = max(8, blen) if blen <= MAX_BLOCK_LEN else 8
            block = _Block(tail.read(want), 0, tail)
        else:
            block = _Block(buf, pos, stream)
        if not block.fill(8):
            if first:
                raise CaptureError(path, f"pcapng section header block cut short ({block.avail} bytes)")
            damage(base + pos, packet_no,
                   f"block header cut short ({block.avail} of 8 bytes)" if block.avail else None, ended=True)
            return
        buf, pos, base = block.buf, 0, base + pos
        if buf[0:4] == b"\x0a\x0d\x0d\x0a":
            if not block.fill(12):
                if first:
                    raise CaptureError(path, f"pcapng section header block cut short ({block.avail} bytes)")
                damage(base, packet_no, "section header block cut short", ended=True)
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
            epb_header = struct.Struct(endian + "IIIIIII")
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
            damage(base, packet_no, f"block cut short ({block.avail} of {blen} bytes)", ended=True)
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
            layouts = []
            first = False
            continue
        if first:
            raise CaptureError(path, "pcapng file does not start with a section header block")
        record = None
        if btype == IDB:
            if len(body) < 8:
                damage(block_off, packet_no, "interface description block too short")
                return
            iface = _parse_idb(body, endian)
            layouts.append((epb_header.unpack_from, EPB_HEADER_LEN, iface.ts_scale, iface.linktype, MAX_BLOCK_LEN,
                            (len(interfaces), iface.ts_offset, u32.unpack_from)))
            interfaces.append(iface)
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
            last_ts = ((ts_hi << 32) | ts_lo) * iface.ts_scale + iface.ts_offset
            record = iface.linktype, body, 20, caplen
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
            if last_run is not None:
                last_ts = _last_packet_time(*last_run)
            record = iface.linktype, body, 4, caplen
        # Every other block type (name resolution, statistics, custom,
        # decryption secrets ...) carries nothing this analysis needs.
        if record is not None:
            last_run = None
            packet_no += 1
            linktype, data, off, caplen = record
            packed = PACKED.pack(last_ts, 0, caplen, 0) + data[off:off + caplen]
            yield packed, 0, len(packed), packed_layout(linktype), INF


def _last_packet_time(buf, pos: int, stop: int, layout) -> float:
    """The timestamp of the last EPB of a run the walker took, from ``pos`` to ``stop``."""
    while True:
        ts, _, nxt = record_at(buf, pos, stop, layout)
        if nxt >= stop:
            return ts
        pos = nxt


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


class _MapTail:
    """The mapped file read on from ``pos`` as a stream: copies of the map
    up to ``limit``, then ``stream`` (a ``read_at`` reader) from that offset
    (a file that grew)."""

    __slots__ = ("mm", "pos", "limit", "stream", "left_map")

    def __init__(self, mm, pos: int, limit: int, stream):
        self.mm = mm
        self.pos = pos
        self.limit = limit
        self.stream = stream
        self.left_map = False

    def read(self, n: int) -> bytes:
        if self.pos < self.limit:
            end = min(self.pos + n, self.limit)
            data = self.mm[self.pos:end]
            self.pos = end
            return data
        if not self.left_map:
            # The file's position is the walk's (mapped.walked_to): read by
            # position from here; the position follows from there.
            self.left_map = True
            return self.stream.read_at(self.pos, n)
        return self.stream.read(n)


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
