"""Capture reading: files, gzip and stdin in; packet records out.

``read_windows`` hands the packet loop whole read buffers of records to walk
itself (the protocol: ``windows``), which spares a generator switch and a
tuple per packet, also where several captures are merged.  Handing out
shared read buffers and offsets instead of slices keeps the per-packet path
free of copies.
"""
from .source import Damage, open_capture, read_windows

__all__ = ["Damage", "open_capture", "read_windows"]
