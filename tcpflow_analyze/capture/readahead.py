"""A pipe's reads in a thread, beside the packet loop (``StreamAhead``)."""
from __future__ import annotations

import queue
import threading

# What a stream's reader thread reads at a time (StreamAhead).  Up to three
# chunks are held at once (the one walked, one queued, one being read), at
# the end of the capture too, where the memory a run needs peaks: 1 MiB
# chunks held the 2M capture's peak 9-16 MB lower than 4 MiB ones, in no
# more time (bench/README.md, "eighth round").
STREAM_CHUNK = 1 << 20


class StreamAhead:
    """A pipe (standard input, or gzip inflated by a child) read a chunk
    ahead by a thread.

    ``read(n)`` behaves as the stream's own: at most ``n`` bytes, ``b""`` only
    at the end.  A pipe's read releases the GIL while it waits and copies, so
    it runs beside the packet loop instead of before it.
    """

    def __init__(self, stream, size: int):
        self._stream = stream
        self._size = size
        self._chunks: queue.Queue = queue.Queue(maxsize=1)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._buf = b""
        self._pos = 0
        self._end = False

    def _run(self) -> None:
        try:
            while not self._closed:
                data = self._stream.read(self._size)
                self._chunks.put(data)
                if not data:
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._chunks.put(exc)

    def _next_chunk(self) -> bool:
        if self._end:
            return False
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="capture read-ahead", daemon=True)
            self._thread.start()
        item = self._chunks.get()
        if isinstance(item, BaseException):
            self._end = True
            raise item
        if not item:
            self._end = True
            return False
        self._buf, self._pos = item, 0
        return True

    def read(self, n: int = -1) -> bytes:
        if self._pos >= len(self._buf) and not self._next_chunk():
            return b""
        if n is None or n < 0:
            parts = [self._buf[self._pos:]]
            while self._next_chunk():
                parts.append(self._buf)
            self._buf, self._pos = b"", 0
            return b"".join(parts)
        if self._pos == 0 and n >= len(self._buf):
            out = self._buf  # the whole chunk, not a copy
            self._buf = b""
            return out
        out = self._buf[self._pos:self._pos + n]
        self._pos += len(out)
        return out

    def close(self) -> None:
        self._closed = True
        try:
            self._chunks.get_nowait()
        except queue.Empty:
            pass
        if self._thread is not None:
            # A pipe that delivers nothing more keeps its reader waiting; that
            # thread is a daemon and ends with the read.
            self._thread.join(timeout=1.0)
