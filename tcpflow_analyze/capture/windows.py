"""The window protocol: how the readers hand records to the packet loop.

A reader is a generator of windows ``(buf, pos, end, layout)``: whole records
may start at ``buf[pos]``, up to ``end``.  The walker (``analyzer.run``, or
``walk_records`` here) walks them in one tight loop, stops at the first
record it cannot take, ``send``s back ``(stop, records_walked)`` and gets the
next window.  The reader, not the walker, decides what the stop means: more
data to read, a block of another kind, the clean end, or damage.  Handing out
whole read buffers keeps the per-packet path free of generator switches and
copies.

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

import struct

EPB = 0x00000006
EPB_HEADER_LEN = 28
# An EPB's fixed part: the 28-byte header and the 4-byte trailing length.
EPB_FIXED_LEN = 32

# A packed record: timestamp (a double, exact), 0, caplen, 0 -- the shape of
# a pcap record header, so one walker reads both (ts = sec + 0 * scale).
PACKED = struct.Struct("=dIII")


def packed_layout(linktype: int) -> tuple:
    return (PACKED.unpack_from, PACKED.size, 1.0, linktype, 1 << 62, None)


def walk_records(windows):
    """Every record of a window stream as ``(ts, linktype, buf, offset,
    caplen)``, for consumers that take one record at a time (merging files
    by timestamp)."""
    window = next(windows, None)
    while window is not None:
        buf, pos, end, (unpack, hlen, ts_scale, linktype, max_caplen, epb) = window
        walked = 0
        if epb is None:
            while pos + hlen <= end:
                sec, frac, caplen, _ = unpack(buf, pos)
                nxt = pos + hlen + caplen
                if nxt > end or caplen > max_caplen:
                    break
                walked += 1
                yield sec + frac * ts_scale, linktype, buf, pos + hlen, caplen
                pos = nxt
        else:
            interface, ts_offset, unpack_u32 = epb
            while pos + hlen <= end:
                btype, blen, iface, ts_hi, ts_lo, caplen, _ = unpack(buf, pos)
                nxt = pos + blen
                if btype != EPB or iface != interface or nxt > end or blen < EPB_FIXED_LEN + caplen \
                        or blen & 3 or unpack_u32(buf, nxt - 4)[0] != blen:
                    break
                walked += 1
                yield ((ts_hi << 32) | ts_lo) * ts_scale + ts_offset, linktype, buf, pos + hlen, caplen
                pos = nxt
        try:
            window = windows.send((pos, walked))
        except StopIteration:
            window = None
