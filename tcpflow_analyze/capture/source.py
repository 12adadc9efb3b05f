"""Opening captures: paths, ``-`` for stdin, gzip, and several files merged.

The format is sniffed from the first bytes, never from the file name, so a
``.pcap`` that is really pcapng (or gzip) still reads.
"""
from __future__ import annotations

import gzip
import os
import stat
import sys
import zlib
from dataclasses import dataclass

try:
    import fcntl
except ImportError:  # not a POSIX system
    fcntl = None

from ..errors import CaptureError
from .pcap import MAGIC_NS, MAGIC_US, pcap_windows
from . import inflate
from .pcapng import pcapng_windows
from .readahead import STREAM_CHUNK, StreamAhead
from .windows import merge_windows

GZIP_MAGIC = b"\x1f\x8b"
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_PCAP_MAGICS = {
    MAGIC_US.to_bytes(4, "little"), MAGIC_US.to_bytes(4, "big"),
    MAGIC_NS.to_bytes(4, "little"), MAGIC_NS.to_bytes(4, "big"),
}


@dataclass
class Damage:
    """Where a capture stopped being readable; everything before it was analyzed."""

    file: str
    offset: int
    packet: int  # number of whole packets read from this file before the damage
    reason: str

    def as_dict(self) -> dict:
        return {"file": self.file, "offset": self.offset, "packet": self.packet, "reason": self.reason}


class _GzipStream:
    """gzip.GzipFile whose damage (a cut or corrupt stream) reads as end of data.

    Read with ``read1`` pieces: ``GzipFile.read(n)`` raises on a cut stream
    and drops everything it had decompressed in that call -- up to a whole
    read chunk of good packets.
    """

    def __init__(self, raw):
        self._read1 = gzip.GzipFile(fileobj=raw, mode="rb").read1
        self.error: str | None = None

    def read(self, n: int = -1) -> bytes:
        if self.error is not None:
            return b""
        if n is None or n < 0:
            n = 1 << 62
        parts = []
        got = 0
        try:
            while got < n:
                piece = self._read1(min(n - got, 1 << 20))
                if not piece:
                    break
                parts.append(piece)
                got += len(piece)
        except (EOFError, OSError, zlib.error) as exc:
            self.error = f"gzip stream damaged: {exc}"
        return parts[0] if len(parts) == 1 else b"".join(parts)


class _Guarded:
    """A raw stream whose read errors (EIO from a failing disk or a network
    file system ...) read as end of data, remembered in ``error``."""

    def __init__(self, raw):
        self._read = raw.read
        self._seek = getattr(raw, "seek", None)
        self.error: str | None = None

    def read(self, n: int = -1) -> bytes:
        if self.error is not None:
            return b""
        try:
            return self._read(n)
        except OSError as exc:
            self.error = f"read error: {exc.strerror or exc}"
            return b""

    def read_at(self, offset: int, n: int) -> bytes:
        """``n`` bytes from ``offset`` (fewer at the end of the file).  The
        file position follows, so a progress display can see how far we are."""
        if self.error is not None:
            return b""
        try:
            self._seek(offset)
            return self._read(n)
        except OSError as exc:
            self.error = f"read error: {exc.strerror or exc}"
            return b""


def _read_head(stream, n: int) -> bytes:
    head = b""
    while len(head) < n:
        more = stream.read(n - len(head))
        if not more:
            break
        head += more
    return head


def open_capture(path: str):
    """Open ``path`` (or stdin for ``-``) and return a binary stream.

    Raises CaptureError for a path that cannot be opened.
    """
    if path == "-":
        _widen_pipe(sys.stdin)
        return sys.stdin.buffer
    if os.path.isdir(path):
        raise CaptureError(path, "is a directory, not a capture file")
    try:
        return open(path, "rb")
    except FileNotFoundError:
        raise CaptureError(path, "no such file") from None
    except PermissionError:
        raise CaptureError(path, "permission denied") from None
    except OSError as exc:
        raise CaptureError(path, exc.strerror or str(exc)) from None


class _Opened:
    """One capture file, opened and sniffed: its stream, first bytes and format."""

    def __init__(self, path: str, damages: list, opened=None, read_ahead: bool = False):
        """``read_ahead``: read a chunk ahead in a thread (``readahead``), for
        a capture read alone; merged files are read each in turn."""
        self.name = name = "<stdin>" if path == "-" else path
        self.read_ahead = read_ahead
        self.ahead = None
        self.raw = raw = open_capture(path)
        try:
            if opened is not None:
                opened(raw)
            self.src = src = _Guarded(raw)
            self.gz = None
            self._damages = damages
            stream = src
            head = _read_head(stream, 4)
            if head[:2] == GZIP_MAGIC:
                stream = self.gz = _GzipStream(_Prefixed(head, src))
                if read_ahead and inflate.usable():
                    stream = self.gz = inflate.InflatingChild(self.gz, src, widen=_widen_fd)
                head = _read_head(stream, 4)
                if self.gz.error and not head:
                    raise CaptureError(name, src.error or self.gz.error)
            if not head:
                raise CaptureError(name, src.error or "empty file: no capture header")
            if head == PCAPNG_MAGIC:
                self.pcapng = True
            elif head in _PCAP_MAGICS:
                self.pcapng = False
                head += _read_head(stream, 20)
                if len(head) < 24 and src.error:
                    raise CaptureError(name, src.error)
            else:
                raise CaptureError(name, f"not a pcap or pcapng capture (starts with {head.hex()})")
            self.head = head
            # A regular pcap file is read by position: no buffers to join.
            self.read_at = src.read_at if self.gz is None and _is_regular(raw) else None
            if read_ahead and (self.read_at is None or self.pcapng) and not isinstance(self.gz, _GzipStream):
                # A pipe (standard input, or gzip inflated by a child), or a
                # pcapng file (read on, block by block): its reads run beside
                # the walk (bench/README.md, Tricks: read_ahead_pipe).  Not gzip inflated here: that
                # takes the GIL back after every output block, and measured
                # slower in a thread than inline.  A pcap file has its own
                # read-ahead (readahead.ReadAhead).
                stream = self.ahead = StreamAhead(stream, STREAM_CHUNK)
            self.stream = stream
        except BaseException:
            self.close()
            raise

    def damage(self, offset, packet, reason):
        # The stream's own damage (a read error, a cut gzip stream) is the
        # cause of whatever the reader saw, so it comes first.
        err = self.src.error or (self.gz.error if self.gz is not None else None)
        if reason is None:
            if err is None:
                return  # a clean end
            reason = err
        elif err is not None:
            reason = f"{err}; {reason}"
        self._damages.append(Damage(self.name, offset, packet, reason))

    def windows(self):
        if self.pcapng:
            return pcapng_windows(self.name, self.stream, self.head, self.damage)
        return pcap_windows(self.name, self.stream, self.head, self.damage, self.read_at, self.read_ahead)

    def close(self):
        child = self.gz if isinstance(self.gz, inflate.InflatingChild) else None
        if child is not None:
            child.stop()  # first: a read-ahead thread waiting on its pipe then returns
        if self.ahead is not None:
            self.ahead.close()
        if child is not None:
            child.close()
        if self.raw is not sys.stdin.buffer:
            self.raw.close()


# A pipe holds 64 KiB by default: a capture piped in then crosses it in tiny
# pieces, a pair of context switches each, which cost more than the analysis
# of the bytes (cat FILE | ...: 0.5 s per 300 MB, against 0.2 s with 1 MiB).
PIPE_SIZE = 1 << 20


def _widen_pipe(stream) -> None:
    try:
        _widen_fd(stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _widen_fd(fd: int) -> None:
    if fcntl is None or not hasattr(fcntl, "F_SETPIPE_SZ"):
        return  # only Linux can
    try:
        if stat.S_ISFIFO(os.fstat(fd).st_mode):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass  # not Linux, or the size is capped (pipe-max-size): it still works


def read_windows(paths, damages: list, opened=None, read_ahead: bool = True):
    """Every capture in ``paths`` as windows of records, for the packet loop.

    The protocol is ``windows``'s.  Each capture file is walked in its own
    read buffers (pcap records, or pcapng Enhanced Packet Blocks); several
    are merged by timestamp (``windows.merge_windows``).  ``read_ahead``: a file read alone is read beside
    the walk (a thread, or a child inflating gzip) -- worth it only with a
    core to spare for it.
    """
    paths = list(paths)
    if len(paths) == 1:
        yield from _file_windows(paths[0], damages, opened, read_ahead)
        return
    if paths.count("-") > 1:
        raise CaptureError("-", "standard input can be read only once; give - once")
    # Merged files are read each in turn: no read-ahead.
    streams = [_file_windows(path, damages, opened, False) for path in paths]
    try:
        yield from merge_windows(streams)
    finally:
        for stream in streams:
            stream.close()


def _file_windows(path, damages, opened, read_ahead):
    f = _Opened(path, damages, opened, read_ahead=read_ahead)
    try:
        yield from f.windows()
    finally:
        f.close()


def _is_regular(raw) -> bool:
    try:
        return stat.S_ISREG(os.fstat(raw.fileno()).st_mode) and raw.seekable()
    except (OSError, ValueError, AttributeError):
        return False


class _Prefixed:
    """A stream with some already-read bytes pushed back in front."""

    def __init__(self, prefix: bytes, raw):
        self._prefix = prefix
        self._raw = raw

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            if n is None or n < 0:
                out, self._prefix = self._prefix + self._raw.read(), b""
                return out
            out, self._prefix = self._prefix[:n], self._prefix[n:]
            return out
        return self._raw.read(n)
