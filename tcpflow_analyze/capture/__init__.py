"""Capture reading: files, gzip and stdin in; packet records out.

Every reader yields ``(ts, linktype, buf, offset, caplen)`` records: the packet
bytes are ``buf[offset:offset + caplen]``.  Handing out the shared read buffer
and an offset instead of a slice keeps the per-packet path free of copies.
"""
from .source import Damage, open_capture, read_records

__all__ = ["Damage", "open_capture", "read_records"]
