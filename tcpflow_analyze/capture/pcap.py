"""Classic libpcap files, both byte orders, micro- and nanosecond timestamps.

Walked by hand over large read chunks rather than with dpkt's Reader: dpkt
accepts a caplen of 0x7fffffff, returns a record cut by the end of the file as
a short packet with no error, and never checks the version -- each of which
would invent or silently lose data here.
"""
from __future__ import annotations

import struct

from ..errors import CaptureError
from .windows import INF

MAGIC_US = 0xA1B2C3D4
MAGIC_NS = 0xA1B23C4D

FILE_HEADER_LEN = 24
RECORD_HEADER_LEN = 16
CHUNK = 1 << 22
# The longest stretch of a mapped file walked between two checks of its size
# (mapped): a truncation inside it, as the walk runs, is SIGBUS.
WINDOW = 1 << 20

# libpcap's own ceiling for a record (pcap-common.h: MAXIMUM_SNAPLEN).  A caplen
# above both this and the file's snaplen cannot be trusted: the record headers
# that follow are unreachable, so reading stops there, as libpcap does.
MAXIMUM_SNAPLEN = 262144
# A file's snaplen is trusted only up to this (the pcapng reader's block cap):
# a header claiming 0xFFFFFFFF must not make one lying record header pull
# gigabytes into memory while waiting for its end.
MAX_RECORD_LEN = 16 * 1024 * 1024

# The link-type field's low 26 bits are the type; bits 16..25 are reserved and
# must be zero; the top bits carry the FCS length (pcap-common.c, LT_* macros).
LT_LINKTYPE_MASK = 0x03FFFFFF
LT_RESERVED_MASK = 0x03FF0000


def parse_file_header(path: str, head: bytes):
    """Return (endian, ts_scale, snaplen, linktype) or raise CaptureError."""
    if len(head) < FILE_HEADER_LEN:
        raise CaptureError(path, f"pcap file header cut short ({len(head)} of 24 bytes)")
    magic_le = struct.unpack_from("<I", head)[0]
    if magic_le in (MAGIC_US, MAGIC_NS):
        endian = "<"
        magic = magic_le
    else:
        magic = struct.unpack_from(">I", head)[0]
        endian = ">"
    ts_scale = 1e-6 if magic == MAGIC_US else 1e-9
    major, minor, _tz, _sigfigs, snaplen, linkfield = struct.unpack_from(endian + "HHiIII", head, 4)
    if major != 2:
        raise CaptureError(path, f"unsupported pcap version {major}.{minor} (only 2.x exists)")
    if linkfield & LT_RESERVED_MASK:
        raise CaptureError(path, f"pcap link-type field 0x{linkfield:08x} has reserved bits set")
    return endian, ts_scale, snaplen, linkfield & LT_LINKTYPE_MASK


def pcap_windows(path: str, stream, head: bytes, damage, read_at=None, mapping=None):
    """The records of a pcap stream, as windows for a record walker (the
    protocol of ``windows``: pcap-shaped records, the file's own).

    ``mapping`` (``mapped.Mapping``), for a regular file: the windows are
    the mapped file itself, each at most ``WINDOW`` bytes long, the file's
    size checked before each (see ``mapped``).  Where the map ends -- a file
    that grew or shrank since it was mapped, or simply its end -- reading
    goes on by position.  ``read_at(offset, n)``, for a regular file (or
    one that cannot be mapped), reads a chunk from a position: from where
    the walker stopped, so no buffers are joined.  Without either,
    ``stream`` is read on, and the unread tail carried into the next buffer.
    ``damage(offset, packet, reason, ended)`` is called once, where reading
    stops, with the reason it stopped early, or with None at a clean end of
    data; ``ended``: the data ran out (where the stream itself may know of
    damage: a cut gzip, a read error).
    """
    endian, ts_scale, snaplen, linktype = parse_file_header(path, head)
    rec = struct.Struct(endian + "IIII")
    unpack_rec = rec.unpack_from
    max_caplen = max(min(snaplen, MAX_RECORD_LEN), MAXIMUM_SNAPLEN)
    layout = (unpack_rec, RECORD_HEADER_LEN, ts_scale, linktype, max_caplen, None)

    file_off = FILE_HEADER_LEN  # file offset of buf[0]
    packet_no = 0
    if mapping is not None:
        file_off, packet_no, shrunk = yield from _mapped_windows(mapping, damage, layout, snaplen)
        if file_off is None:
            return  # damage met in the map
        if shrunk is not None:
            damage = shrunk_damage(damage, *shrunk)
    if read_at is not None:
        buf, eof = read_whole(read_at, file_off, CHUNK)
        pos = 0
    else:
        buf = head[FILE_HEADER_LEN:]
        eof = False
        pos = 0
    yield from _walk_windows(stream, damage, read_at, layout, snaplen, buf, pos, eof, file_off, packet_no)


def _mapped_windows(mapping, damage, layout, snaplen):
    """Windows over the map, as long as whole records lie in what the file
    still holds of it; then ``(offset, packets, shrunk)``: where reading
    goes on by position, the packets walked, and ``(mapped length, size)``
    if the file was seen shorter than the map.  ``(None, ...)``: damage met
    (and reported)."""
    unpack_rec, _, _, _, max_caplen, _ = layout
    mm = mapping.map
    mapped = limit = len(mm)  # limit: what the file is known to hold of the map
    shrunk = None
    pos = FILE_HEADER_LEN
    packet_no = 0
    while True:
        # Checked before any page past those already checked is touched,
        # the next record's header included: see mapped.
        size = mapping.size()
        if size < limit:
            shrunk = (mapped, size)
            limit = max(size, pos)  # -1: unknown, so touch nothing new
        if pos + RECORD_HEADER_LEN > limit:
            break
        caplen = unpack_rec(mm, pos)[2]
        if caplen > max_caplen:
            damage(pos, packet_no, _too_long(caplen, snaplen, max_caplen))
            return None, packet_no, None
        record = RECORD_HEADER_LEN + caplen
        if pos + record > limit:
            break
        # At least the record at pos: one larger than a window is walked whole.
        end = min(pos + max(WINDOW, record), limit)
        stop, walked = yield mm, pos, end, layout, INF
        packet_no += walked
        pos = stop
        mapping.walked_to(pos)
    return pos, packet_no, shrunk


def read_whole(read_at, offset: int, n: int):
    """``(data, at_end)``: a short read is the end of the file only if the next
    read says so -- it may instead report the read error that cut it short,
    or find that the file has grown (a capture still being written)."""
    data = read_at(offset, n)
    if len(data) == n:
        return data, False
    more = read_at(offset + len(data), n - len(data))
    if more:
        return data + more, False
    return data, True


def _too_long(caplen: int, snaplen: int, max_caplen: int) -> str:
    return f"record length {caplen} exceeds snaplen {snaplen}" if caplen > snaplen \
        else f"record length {caplen} exceeds the {max_caplen}-byte limit"


def shrunk_damage(damage, mapped: int, size: int):
    """``damage`` saying that the file was cut while it was read."""
    why = f"the file shrank from {mapped} to {size} bytes while it was read" if size >= 0 \
        else "the file's size could not be checked while it was mapped"

    def report(offset, packet, reason, ended=False):
        damage(offset, packet, why if reason is None else f"{why}; {reason}", ended)
    return report


def _walk_windows(stream, damage, read_at, layout, snaplen, buf, pos, eof, file_off, packet_no):
    unpack_rec, _, _, _, max_caplen, _ = layout
    while True:
        n = len(buf)
        if pos + RECORD_HEADER_LEN <= n:
            stop, walked = yield buf, pos, n, layout, INF
            packet_no += walked
            pos = stop
        need = CHUNK
        if n - pos >= RECORD_HEADER_LEN:
            caplen = unpack_rec(buf, pos)[2]
            if caplen > max_caplen:
                damage(file_off + pos, packet_no, _too_long(caplen, snaplen, max_caplen))
                return
            # A record larger than a read chunk is read whole.
            need = max(need, RECORD_HEADER_LEN + caplen)
        if eof:
            if pos < n:
                if n - pos >= RECORD_HEADER_LEN:
                    why = f"last record cut short ({n - pos - RECORD_HEADER_LEN} of {caplen} bytes)"
                else:
                    why = f"last record header cut short ({n - pos} of 16 bytes)"
                damage(file_off + pos, packet_no, why, ended=True)
            else:
                damage(file_off + pos, packet_no, None, ended=True)
            return
        file_off += pos
        if read_at is not None:
            buf, eof = read_whole(read_at, file_off, need)
            pos = 0
        else:
            more = stream.read(need)
            eof = not more
            buf = buf[pos:] + more
            pos = 0
