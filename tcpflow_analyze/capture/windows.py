"""The window protocol: how the readers hand records to the packet loop.

A reader is a generator of windows ``(buf, pos, end, layout, ts_end)``: whole
records may start at ``buf[pos]``, up to ``end``, as long as their timestamps
are at most ``ts_end`` (infinite, except where several captures are merged:
``merge_windows``).  The walker (``engine.loop.run``)
walks them in one tight loop, stops at the first record it cannot take,
``send``s back ``(stop, records_walked)`` and gets the next window.  The
reader, not the walker, decides what the stop means: more data to read, a
block of another kind, the clean end, or damage.  Handing out whole read
buffers keeps the per-packet path free of generator switches and copies.

``layout`` is ``(unpack, header_len, ts_scale, linktype, max_caplen, epb)``:

* ``epb`` None -- pcap-shaped records: a header that ``unpack``s to ``(sec,
  frac, caplen, _)``, the timestamp being ``sec + frac * ts_scale``, then
  ``caplen`` bytes of packet.  A caplen above ``max_caplen`` stops the walk.
  Classic pcap files are walked in their own read buffers; other records are
  packed in this shape (``PACKED``: the timestamp as a double).
* ``epb`` = ``(interface, ts_offset, unpack_u32)`` -- pcapng Enhanced Packet
  Blocks of that one interface, walked in the file's own read buffers: the
  header ``unpack``s to ``(block type, block length, interface, ts high, ts
  low, caplen, original length)``, the packet starts ``header_len`` (28)
  bytes into the block, the timestamp is ``((high << 32) | low) * ts_scale +
  ts_offset``, and the next block starts a block length on.  Any block that
  is not such an EPB, whole (both lengths agree, the packet fits), stops the
  walk: the reader takes it the careful way.
"""
from __future__ import annotations

import math
import struct

EPB = 0x00000006
EPB_HEADER_LEN = 28
# An EPB's fixed part: the 28-byte header and the 4-byte trailing length.
EPB_FIXED_LEN = 32

# A packed record: timestamp (a double, exact), 0, caplen, 0 -- the shape of
# a pcap record header, so one walker reads both (ts = sec + 0 * scale).
PACKED = struct.Struct("=dIII")


def packed_layout(linktype: int) -> tuple:
    """The layout of PACKED records of one link type."""
    return (PACKED.unpack_from, PACKED.size, 1.0, linktype, 1 << 62, None)


INF = float("inf")


def record_at(buf, pos: int, end: int, layout):
    """``(ts, caplen, next record's position)`` of the record at ``pos`` if
    the walker can take it (whole, of the window's kind), else None."""
    unpack, hlen, ts_scale, _, max_caplen, epb = layout
    if pos + hlen > end:
        return None
    if epb is None:
        sec, frac, caplen, _ = unpack(buf, pos)
        nxt = pos + hlen + caplen
        if nxt > end or caplen > max_caplen:
            return None
        return sec + frac * ts_scale, caplen, nxt
    interface, ts_offset, unpack_u32 = epb
    btype, blen, iface, ts_hi, ts_lo, caplen, _ = unpack(buf, pos)
    nxt = pos + blen
    if btype != EPB or iface != interface or nxt > end or blen < EPB_FIXED_LEN + caplen or blen & 3 \
            or unpack_u32(buf, nxt - 4)[0] != blen:
        return None
    return ((ts_hi << 32) | ts_lo) * ts_scale + ts_offset, caplen, nxt


class _Source:
    """One capture's window stream, seen by ``merge_windows``: its current
    window, and the next record the walker can take there."""

    __slots__ = ("windows", "buf", "pos", "end", "layout", "walked", "record")

    def __init__(self, windows):
        self.windows = windows
        self.walked = 0
        self.record = None   # record_at of the next record: (ts, caplen, next position)
        window = next(windows, None)
        if window is not None:
            self.buf, self.pos, self.end, self.layout, _ = window
            self._settle()

    @property
    def head(self) -> float | None:
        """The timestamp of the next record; None once the stream has ended."""
        return None if self.record is None else self.record[0]

    def walked_to(self, stop: int, walked: int) -> None:
        """The walker stopped at ``stop``: at a record past its time bound (the
        next one to merge), or at one the reader must judge."""
        self.pos = stop
        self.walked += walked
        self._settle()

    def _settle(self) -> None:
        # Where the walker cannot go on, the window goes back to its reader,
        # as a walker would send it, until a window offers a record.
        while True:
            self.record = record_at(self.buf, self.pos, self.end, self.layout)
            if self.record is not None:
                return
            walked, self.walked = self.walked, 0
            try:
                window = self.windows.send((self.pos, walked))
            except StopIteration:
                return
            self.buf, self.pos, self.end, self.layout, _ = window


# Merging hands out a window per run of one capture's records.  Where the
# captures interleave packet by packet (two interfaces captured at once), a
# window per packet costs more than copying each packet into a packed window
# (2.7 against 2.3 s for 500k packets alternating between two files): after
# this many windows in a row of fewer than SMALL_RUN records, the next
# PACK_RECORDS records are merged one by one into packed windows.
SMALL_RUNS = 16
SMALL_RUN = 4
PACK_RECORDS = 4096


def merge_windows(streams):
    """Several captures' window streams as one, in timestamp order.

    The order is ``heapq.merge``'s over the records (the tests' ``read_records``): the
    earliest next record first, a tie going to the stream given first.  But
    whole runs of records are handed out at once, in the captures' own read
    buffers: each window is bounded by the time (``ts_end``) at which another
    capture's next record must come first.  Rotated files, which do not
    overlap, are each walked through in long runs; captures that interleave
    closely are copied into packed windows instead (see ``SMALL_RUNS``).
    """
    # Every stream is opened (its header checked) before the first window
    # goes out; then they are taken in the order of their first packet, as
    # heapq.merge over their records would.
    sources = [_Source(w) for w in streams]
    sources = sorted((s for s in sources if s.head is not None), key=lambda s: s.head)
    small = 0
    while sources:
        if small >= SMALL_RUNS:
            yield from _packed_merge(sources, PACK_RECORDS)
            small = 0
            continue
        j = _next_source(sources)
        src = sources[j]
        ts_end = INF
        for k, other in enumerate(sources):
            if k != j:
                # Before a later stream's head, ties included; before an
                # earlier one's, ties excluded.
                bound = other.head if k > j else math.nextafter(other.head, -INF)
                if bound < ts_end:
                    ts_end = bound
        stop, walked = yield src.buf, src.pos, src.end, src.layout, ts_end
        src.walked_to(stop, walked)
        if src.head is None:
            del sources[j]
        small = small + 1 if walked < SMALL_RUN else 0


def _next_source(sources) -> int:
    """Whose record comes next: the earliest head, a tie to the earlier stream."""
    j = 0
    head = sources[0].head
    for i in range(1, len(sources)):
        if sources[i].head < head:
            j = i
            head = sources[i].head
    return j


def _packed_merge(sources, count: int):
    """The next ``count`` records, merged one by one, copied into packed
    windows (one link type each).  ``sources`` loses the streams that end."""
    pack = PACKED.pack
    out = bytearray()
    linktype = None
    for _ in range(count):
        if not sources:
            break
        j = _next_source(sources)
        src = sources[j]
        ts, caplen, nxt = src.record
        _, hlen, _, lt, _, _ = src.layout
        if lt != linktype:
            if out:
                yield bytes(out), 0, len(out), packed_layout(linktype), INF
                out.clear()
            linktype = lt
        off = src.pos + hlen
        out += pack(ts, 0, caplen, 0)
        out += memoryview(src.buf)[off:off + caplen]
        src.walked_to(nxt, 1)
        if src.head is None:
            del sources[j]
    if out:
        # Flow keys are slices of the window: bytes, to be hashable.
        yield bytes(out), 0, len(out), packed_layout(linktype), INF
