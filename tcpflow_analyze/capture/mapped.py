"""A regular capture file mapped into memory, instead of read.

A read copies the file out of the page cache into a buffer of ours (and
clears fresh pages for every buffer); a mapping lets the packet loop walk the
page cache's own pages.

The price is how a mapping fails.  Touching a mapped page that lies beyond
the file's end -- the file was truncated after it was mapped -- or one the
disk cannot read (EIO) raises SIGBUS, which kills the process at once: no
traceback, no exit status of ours, no report.  So the map covers only what
the file held when it was opened, and the reader walks it in windows of a
bounded size, asking the file's size (``size``, an fstat) before each: a
truncation is seen before the walk reaches it, and the walk stops at the new
end with damage.  What remains possible: a truncation that races the walk
inside the one window being walked, between the check and the touch of the
page; and a read error on any page not yet in the page cache (the read path
reports both as damage, a mapping cannot).
"""
from __future__ import annotations

import mmap
import os


# The pages walked are given back (MADV_DONTNEED: the page cache keeps them)
# once this many have gathered: kept mapped, the whole file would count in
# the process's resident memory, as if it had been read into it.
RELEASE = 1 << 20
# Not every system has madvise (Windows).
_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)


class Mapping:
    """The file's bytes as they were when it was opened (``map``), and its
    size now (``size``)."""

    def __init__(self, raw):
        """Raise OSError or ValueError where the file cannot be mapped (an
        empty file; a file system or special file without mmap)."""
        fd = raw.fileno()
        length = os.fstat(fd).st_size
        # The length given, not 0 ("the whole file"): what fstat said is what
        # the size checks compare against.
        self.map = mmap.mmap(fd, length, access=mmap.ACCESS_READ)
        self._fd = fd
        self._seek = raw.seek
        self._released = 0  # the map's pages before this were given back
        # No madvise hint for the order of reading: MADV_SEQUENTIAL and
        # MADV_WILLNEED measured no faster (bench/README.md, issue 14).

    def walked_to(self, offset: int) -> None:
        """The walk is past ``offset``: the file position follows it, where a
        progress display looks for it (``progress.Progress.bytes_read``), and
        the pages before it leave the process's memory."""
        try:
            self._seek(offset)
        except (OSError, ValueError):
            pass
        start = self._released
        stop = offset - offset % mmap.PAGESIZE
        if stop - start >= RELEASE and _DONTNEED is not None:
            try:
                self.map.madvise(_DONTNEED, start, stop - start)
            except OSError:
                pass  # only the process's resident count is at stake
            self._released = stop

    def size(self) -> int:
        """The file's size now; -1 where it cannot be known (then nothing
        past the pages already checked may be touched)."""
        try:
            return os.fstat(self._fd).st_size
        except OSError:
            return -1

    def close(self) -> None:
        try:
            self.map.close()
        except BufferError:
            # A view of it is still held (a walk ended by an exception whose
            # frame keeps one): the map goes with the last view.
            pass
