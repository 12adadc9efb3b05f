"""Classic libpcap files, both byte orders, micro- and nanosecond timestamps.

Walked by hand over large read chunks rather than with dpkt's Reader: dpkt
accepts a caplen of 0x7fffffff, returns a record cut by the end of the file as
a short packet with no error, and never checks the version -- each of which
would invent or silently lose data here.
"""
from __future__ import annotations

import struct

from ..errors import CaptureError
from .readahead import ReadAhead
from .windows import INF

MAGIC_US = 0xA1B2C3D4
MAGIC_NS = 0xA1B23C4D

FILE_HEADER_LEN = 24
RECORD_HEADER_LEN = 16
CHUNK = 1 << 22

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


def pcap_windows(path: str, stream, head: bytes, damage, read_at=None, read_ahead: bool = True):
    """The records of a pcap stream, as windows for a record walker (the
    protocol of ``windows``: pcap-shaped records, the file's own).

    ``read_at(offset, n)``, for a regular file, reads from a position, a
    chunk ahead in a thread (``readahead``): each window is a chunk that
    overlaps the one before, so a record crossing a chunk boundary is read
    again instead of the buffers being joined.  Without it,
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
    ahead = None
    if read_at is not None:
        # Chunks overlap by the longest record: see readahead.
        ahead = ReadAhead(read_at, CHUNK, RECORD_HEADER_LEN + max_caplen, threaded=read_ahead)
        buf, pos, eof = ahead.read(file_off, RECORD_HEADER_LEN)
        file_off -= pos
    else:
        buf = head[FILE_HEADER_LEN:]
        eof = False
        pos = 0
    try:
        yield from _walk_windows(stream, damage, ahead, layout, snaplen, buf, pos, eof, file_off)
    finally:
        if ahead is not None:
            ahead.close()


def _walk_windows(stream, damage, ahead, layout, snaplen, buf, pos, eof, file_off):
    unpack_rec, _, _, _, max_caplen, _ = layout
    packet_no = 0
    while True:
        n = len(buf)
        if pos + RECORD_HEADER_LEN <= n:
            stop, walked = yield buf, pos, n, layout, INF
            packet_no += walked
            pos = stop
        need = CHUNK
        record = RECORD_HEADER_LEN  # what must follow the stop: the header, or the whole record
        if n - pos >= RECORD_HEADER_LEN:
            caplen = unpack_rec(buf, pos)[2]
            if caplen > max_caplen:
                damage(file_off + pos, packet_no,
                       f"record length {caplen} exceeds snaplen {snaplen}" if caplen > snaplen
                       else f"record length {caplen} exceeds the {max_caplen}-byte limit")
                return
            # A record larger than a read chunk is read whole.
            record = RECORD_HEADER_LEN + caplen
            need = max(need, record)
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
        if ahead is not None:
            want = file_off + pos
            buf, pos, eof = ahead.read(want, record)
            file_off = want - pos
        else:
            file_off += pos
            more = stream.read(need)
            eof = not more
            buf = buf[pos:] + more
            pos = 0
