"""Capture reading: files, gzip and stdin in; packet records out.

Two shapes of the same records.  ``read_records`` yields ``(ts, linktype,
buf, offset, caplen)`` one at a time: the packet bytes are
``buf[offset:offset + caplen]``.  ``read_windows`` hands the packet loop whole
read buffers to walk itself (the protocol: ``windows``), which spares a
generator switch and a tuple per packet, also where several captures are
merged.  Handing out shared read buffers and offsets instead of slices keeps
the per-packet path free of copies.
"""
from .source import Damage, open_capture, read_records, read_windows

__all__ = ["Damage", "open_capture", "read_records", "read_windows"]
