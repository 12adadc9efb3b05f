"""Opening captures: paths, ``-`` for stdin, gzip, and several files merged.

The format is sniffed from the first bytes, never from the file name, so a
``.pcap`` that is really pcapng (or gzip) still reads.
"""
from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
import threading
import zlib
from dataclasses import dataclass

try:
    import fcntl
except ImportError:  # not a POSIX system
    fcntl = None

from ..errors import CaptureError
from .pcap import MAGIC_NS, MAGIC_US, pcap_windows
from . import inflate
from .mapped import Mapping
from .pcapng import pcapng_windows
from .readahead import STREAM_CHUNK, StreamAhead
from .windows import merge_windows

GZIP_MAGIC = b"\x1f\x8b"
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
# Compressed input read and inflated at a time, as GzipFile reads it: a
# pipe's read waits until it has all it asked for, so a larger one would hold
# a live capture's packets back.  It inflates to at most 8 MiB (deflate's
# ratio is at most 1032:1), which bounds what a gzip bomb holds in memory.
GZIP_INPUT = 8 * 1024
_PCAP_MAGICS = {
    MAGIC_US.to_bytes(4, "little"), MAGIC_US.to_bytes(4, "big"),
    MAGIC_NS.to_bytes(4, "little"), MAGIC_NS.to_bytes(4, "big"),
}


@dataclass
class Damage:
    """Where a capture stopped being readable; everything before it was analyzed."""

    file: str
    # In the capture's pcap or pcapng bytes: for a gzip file, the inflated
    # data, where the packets are (the reason names the compressed byte).
    offset: int
    packet: int  # number of whole packets read from this file before the damage
    reason: str

    def as_dict(self) -> dict:
        return {"file": self.file, "offset": self.offset, "packet": self.packet, "reason": self.reason}


# zlib's names for a gzip trailer that does not match the data (RFC 1952 2.3.1).
_TRAILER_CHECKS = {"incorrect data check": "the trailer's CRC-32 does not match the data",
                   "incorrect length check": "the trailer's length does not match the data"}


class _GzipStream:
    """gzip members inflated with zlib, whose damage reads as end of data.

    Every byte that can be inflated before the damage is handed out, and the
    damage is placed at the same compressed byte, whatever the read sizes:
    zlib stops at the first bad bit, but CPython's binding raises instead of
    returning what that call had inflated (``_salvage`` recovers it).  Each
    piece of input is inflated whole (a bounded output would leave zlib
    holding input it has taken but not decoded, and the damage would be
    placed by where reads happened to stop).  ``error`` says what stopped
    the stream and at which byte of the compressed file; the reader's own
    offsets stay in the inflated data, where the packets are.  Members may
    follow each other (RFC 1952 2.2: ``cat a.gz b.gz``), with zero padding
    between them skipped, as gzip(1) and ``GzipFile`` skip it.
    """

    def __init__(self, raw):
        self._raw = raw
        self._z = None          # the member being inflated; None between members
        self._pending = b""     # compressed input read, not yet given to zlib
        self._at = 0            # where _pending starts in the compressed file
        self._raw_end = False
        self._out = b""         # inflated, not yet handed out, from _out_pos on
        self._out_pos = 0
        self._done = False
        self.error: str | None = None

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 62
        parts = []
        got = 0
        while got < n:
            if self._out_pos == len(self._out):
                if self._done:
                    break
                self._out, self._out_pos = self._inflate(), 0
                continue
            piece = self._out[self._out_pos:self._out_pos + n - got] if self._out_pos or len(self._out) > n - got \
                else self._out
            self._out_pos += len(piece)
            parts.append(piece)
            got += len(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _fill(self) -> bool:
        """More compressed input onto ``_pending``; False at its end."""
        if self._raw_end:
            return False
        more = self._raw.read(GZIP_INPUT)
        if not more:
            self._raw_end = True
            return False
        self._pending += more
        return True

    def _next_member(self) -> bool:
        while True:
            data = self._pending.lstrip(b"\0")
            self._at += len(self._pending) - len(data)
            self._pending = data
            if len(data) >= 2 or not self._fill():
                break
        if not self._pending:
            self._done = True  # the clean end
            return False
        if self._pending[:2] != GZIP_MAGIC:
            self._fail("not gzip data after the end of the stream,", self._at)
            return False
        # 16 + MAX_WBITS: one gzip member, its header and trailer checked by zlib.
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return True

    def _inflate(self) -> bytes:
        """The next piece of input, inflated (b"" while zlib reads a header,
        or at the end)."""
        if self._z is None and not self._next_member():
            return b""
        if not self._pending and not self._fill():
            self._fail("Compressed file ended before the end-of-stream marker was reached", self._at)
            return b""
        data, self._pending = self._pending, b""
        z = self._z
        before = z.copy()
        try:
            out = z.decompress(data)
        except zlib.error as exc:
            return self._salvage(before, data, exc)
        if z.eof:
            self._pending = z.unused_data
            self._z = None
        self._at += len(data) - len(self._pending)
        return out

    def _salvage(self, before, data: bytes, exc: zlib.error) -> bytes:
        """What ``decompress(data)`` had inflated when it raised ``exc``.

        Replayed on copies of the state ``before`` it: the shortest prefix of
        ``data`` that fails ends at the damaged byte, and everything before
        that byte inflates cleanly; of what that byte completes, the output
        that precedes the damage is found by bounding the output instead.
        """
        lo, hi = 0, len(data)  # data[:lo] inflates cleanly, data[:hi] fails
        while hi - lo > 1:
            mid = (lo + hi) // 2
            try:
                before.copy().decompress(data[:mid])
                lo = mid
            except zlib.error:
                hi = mid
        z = before
        out = z.decompress(data[:lo]) if lo else b""
        last = data[lo:hi]
        # One byte completes at most 8 codes -- 8 literals, or 4 matches of at
        # most 258 bytes (RFC 1951 3.2.5) -- well within 4096; 0 bytes is no
        # call (0 is "unbounded" to zlib).
        clean, fails = 0, 1 << 12
        while fails - clean > 1:
            mid = (clean + fails) // 2
            try:
                z.copy().decompress(last, mid)
                clean = mid
            except zlib.error:
                fails = mid
        if clean:
            out += z.decompress(last, clean)
        # zlib's words, without CPython's "Error -3 while decompressing data: ".
        why = str(exc).split(": ", 1)[-1]
        self._fail(_TRAILER_CHECKS.get(why, why), self._at + max(hi, 1) - 1)
        return out

    def _fail(self, why: str, at: int) -> None:
        self.error = f"gzip stream damaged: {why} at byte {at} of the compressed file"
        self._done = True


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


class SpoolFull(Exception):
    """Standard input outgrew its spool's ``limit`` (bytes), or the spool's
    file system refused more (``error``: the system's words)."""

    def __init__(self, limit: int, error: str | None = None):
        super().__init__(error or f"standard input is larger than {limit} bytes")
        self.limit = limit
        self.error = error


class StdinSpool:
    """Standard input, kept in a file as it is read, for a second pass.

    A pipe can be read once; the views that read a capture twice read it
    again from here.  The first pass reads standard input through this
    object (``spooling``), which writes what it hands out into the spool: the
    capture's header is checked on its first bytes and the analysis runs as
    the data arrives, rather than after a copy that lasts until EOF.  At most
    ``limit`` bytes are kept (``SpoolFull`` past them).  ``path`` opens the
    spool for the second pass.
    """

    # Where the system names an open file by its descriptor (proc(5)).
    BY_FD = "/proc/self/fd/{}"

    def __init__(self, limit: int):
        fd, name = tempfile.mkstemp(prefix="tcpflow-analyze-stdin-", suffix=".cap")
        self._fd, self._name, self.path = fd, name, name
        self.limit = limit
        self.size = 0
        self._sealed = False
        # Taken by the read-ahead thread as it copies, and by ``close`` from the reader's.
        self._lock = threading.Lock()
        by_fd = self.BY_FD.format(fd)
        if os.path.exists(by_fd):
            # Linux reopens a file by descriptor even once its name is gone
            # (proc(5), /proc/pid/fd): unlinked now, the spool's blocks are
            # freed when the process ends, however it ends (SIGKILL, the OOM
            # killer).  Elsewhere ``discard`` removes it.
            os.unlink(name)
            self._name, self.path = None, by_fd

    def read(self, n: int = -1) -> bytes:
        data = sys.stdin.buffer.read(n)
        if data:
            self._keep(data)
        return data

    def _keep(self, data: bytes) -> None:
        with self._lock:
            if self._sealed:
                return
            self.size += len(data)
            if self.size > self.limit:
                raise SpoolFull(self.limit)
            view = memoryview(data)
            try:
                while view:
                    view = view[os.write(self._fd, view):]
            except OSError as exc:  # ENOSPC, EFBIG, EDQUOT: the spool's file system is full
                raise SpoolFull(self.limit, exc.strerror or str(exc)) from None

    def close(self) -> None:
        """The first pass is done with standard input: the spool is complete.
        A read-ahead still waiting on the pipe when it stopped adds nothing."""
        with self._lock:
            self._sealed = True

    def discard(self) -> None:
        """Remove the spool (its name, where it still has one) and close it."""
        self.close()
        if self._name is not None:
            try:
                os.unlink(self._name)
            except FileNotFoundError:
                pass
            self._name = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


_spool: StdinSpool | None = None


@contextlib.contextmanager
def spooling(spool: StdinSpool | None):
    """Within: standard input (``-``) is read through ``spool``, if one is given."""
    global _spool
    _spool = spool
    try:
        yield
    finally:
        _spool = None
        if spool is not None:
            spool.close()


def open_capture(path: str):
    """Open ``path`` (or stdin for ``-``) and return a binary stream.

    Raises CaptureError for a path that cannot be opened.
    """
    if path == "-":
        _widen_pipe(sys.stdin)
        return sys.stdin.buffer if _spool is None else _spool
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
        """``read_ahead``: read a pipe a chunk ahead in a thread
        (``readahead``), or inflate gzip in a child, for a capture read
        alone; merged files are read each in turn."""
        self.name = name = "<stdin>" if path == "-" else path
        self.ahead = None
        self.mapping = None
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
                # Not standard input being spooled: the child would copy it
                # into the spool in its own process, out of this one's count.
                if read_ahead and inflate.usable() and not isinstance(raw, StdinSpool):
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
            # A regular pcap or pcapng file is mapped (mapped: no copy), or
            # where it cannot be, read by position (pcap) or on (pcapng).
            self.read_at = src.read_at if self.gz is None and _is_regular(raw) else None
            if self.read_at is not None:
                self.mapping = _map(raw)
            if read_ahead and self.mapping is None and (self.read_at is None or self.pcapng) \
                    and not isinstance(self.gz, _GzipStream):
                # A pipe (standard input, or gzip inflated by a child), or a
                # pcapng file that could not be mapped (read on, block by
                # block): its reads run beside
                # the walk (bench/README.md, Tricks: read_ahead_pipe).  Not gzip inflated here: that
                # takes the GIL back after every output block, and measured
                # slower in a thread than inline.
                stream = self.ahead = StreamAhead(stream, STREAM_CHUNK)
            self.stream = stream
        except BaseException:
            self.close()
            raise

    def damage(self, offset, packet, reason, ended=False):
        # Where the data ran out (``ended``), the stream's own damage (a read
        # error, a cut or corrupt gzip stream) is the cause, so it comes
        # first.  Where the reader stopped on what it had in hand, the
        # stream may or may not have met damage further on, depending on how
        # far it had read ahead: unread, so not reported.
        err = None
        if ended:
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
            return pcapng_windows(self.name, self.stream, self.head, self.damage, self.mapping)
        return pcap_windows(self.name, self.stream, self.head, self.damage, self.read_at, self.mapping)

    def close(self):
        child = self.gz if isinstance(self.gz, inflate.InflatingChild) else None
        if child is not None:
            child.stop()  # first: a read-ahead thread waiting on its pipe then returns
        if self.ahead is not None:
            self.ahead.close()
        if self.mapping is not None:
            self.mapping.close()
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
    read buffers, or where it is a regular pcap file, in its map (pcap
    records, or pcapng Enhanced Packet Blocks); several are merged by
    timestamp (``windows.merge_windows``).  ``read_ahead``: a pipe or pcapng
    file read alone is read beside the walk (a thread, or a child inflating
    gzip) -- worth it only with a core to spare for it.
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


def _map(raw) -> Mapping | None:
    """``raw`` mapped, or None where it cannot be (an empty file, one in
    /proc, a file system without mmap): it is then read by position."""
    try:
        return Mapping(raw)
    except (OSError, ValueError, AttributeError):
        return None


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
