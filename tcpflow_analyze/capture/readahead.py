"""Positional reads of a capture file, served from chunks a thread reads ahead.

Copying a capture out of the page cache costs about 0.2 s per GB here, and a
read releases the GIL while the kernel copies: a thread that reads the next
chunk while the packet loop walks the current one moves that copy onto
another core (double buffering).

Chunks overlap by the longest record the reader accepts, so the place where
the walker stops -- the first record not whole in a chunk -- lies inside the
next chunk, which becomes the next window as it is: no buffers are joined.
A record longer than the overlap, or than what the next chunk holds, is read
where it starts by the walker's own thread, and the read-ahead starts again
after it.
"""
from __future__ import annotations

import queue
import threading

# What a stream's reader thread reads at a time (StreamAhead).
STREAM_CHUNK = 1 << 22


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


class _Ahead:
    """A thread reading ``(start, data, at_end)`` chunks from ``offset`` on,
    one chunk ahead of its consumer."""

    def __init__(self, read_at, offset: int, size: int, overlap: int):
        self._read_at = read_at
        self._size = size
        self._overlap = overlap
        self._chunks: queue.Queue = queue.Queue(maxsize=1)
        self._closed = False
        self._thread = threading.Thread(target=self._run, args=(offset,), name="capture read-ahead",
                                        daemon=True)
        self._thread.start()

    def _run(self, offset: int) -> None:
        try:
            while not self._closed:
                data, at_end = read_whole(self._read_at, offset, self._size)
                self._chunks.put((offset, data, at_end))
                if at_end:
                    return
                # Normally a full chunk; a file that grew between two reads
                # can give less, and then the consumer reads for itself.
                offset += max(len(data) - self._overlap, 1)
        except BaseException as exc:  # handed to the consumer, raised there
            self._chunks.put(exc)

    def get(self):
        item = self._chunks.get()
        if isinstance(item, BaseException):
            self._thread.join()
            raise item
        return item

    def close(self) -> None:
        self._closed = True
        try:
            self._chunks.get_nowait()  # frees a put that waits, so the thread sees it is closed
        except queue.Empty:
            pass
        self._thread.join()


class ReadAhead:
    """``read(offset, need)`` for a file read front to back by a walker.

    Not ``threaded``, every read is the walker's own (several files merged:
    a thread and its chunks per file would add up).
    """

    def __init__(self, read_at, size: int, overlap: int, threaded: bool = True):
        self._read_at = read_at
        self._threaded = threaded
        self._size = size
        # The overlap must leave each chunk something new.
        self._overlap = max(0, min(overlap, size // 4))
        self._ahead: _Ahead | None = None

    def read(self, offset: int, need: int):
        """``(buf, base, at_end)``: ``buf[base:]`` is the file from ``offset``,
        with at least ``need`` bytes unless the file ends first."""
        ahead = self._ahead
        if ahead is not None:
            start, data, at_end = ahead.get()
            if at_end:
                ahead.close()  # its thread has finished: joined at once
                self._ahead = None
            if start <= offset and (offset + need <= start + len(data) or at_end):
                return data, offset - start, at_end
            if not at_end:
                ahead.close()
                self._ahead = None
        data, at_end = read_whole(self._read_at, offset, max(need, self._size))
        if self._threaded and not at_end and len(data) > self._overlap:
            self._ahead = _Ahead(self._read_at, offset + len(data) - self._overlap, self._size, self._overlap)
        return data, 0, at_end

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None


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
