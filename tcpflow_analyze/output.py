"""Writing reports and plots: stdout, or a file replaced atomically.

A report written with ``-o`` goes to a temporary file in the same directory
and is renamed into place, so an interrupted run never leaves half a report.

Renaming over a file is not writing to it, and would skip what a write
honours; so, as ``cp`` or a shell's ``>`` would:

* the new file keeps the old one's mode and (where we may give it away) owner;
* a file we may not write, or one with no write bit at all, is refused
  (``WriteProtected``): the latter for root too, as ``rm`` asks first;
* a symlink is written through: the file it names is replaced, the link kept
  (a dangling link makes its target, as ``>`` does);
* a file that is one of the captures read is refused (``IsACapture``).

A hard link is not followed: the name given gets the new report, any other
link to the old file keeps the old report (replacing, not rewriting in
place, is what makes the write atomic).
"""
from __future__ import annotations

import codecs
import errno
import os
import stat
import sys
import tempfile

from .children import signals_held
from .model.text import printable


# A file name's bytes that are not UTF-8 reach the JSON and HTML reports as
# surrogates (PEP 383), which a strict UTF-8 encoder refuses: they are written
# as \udcNN, in a JSON string the very escape that reads back as that name.
# (The text outputs have already escaped them: model.text.printable.)
UNENCODABLE = "backslashreplace"


class IsACapture(ValueError):
    """The output would replace a capture being read."""


class WriteProtected(PermissionError):
    """The output exists and may not be written."""


def check(path: str, inputs=()) -> None:
    """What would stop a report being written to ``path``, found before the
    analysis runs: an output that is one of ``inputs`` (the capture paths;
    ``-`` is standard input), a write-protected file, a missing directory.
    Raises ``IsACapture``, ``WriteProtected`` or the OSError of the stat."""
    target = _target(path)
    st = _stat(target)
    if st is not None:
        for name in inputs:
            if name != "-" and _same(st, name):
                raise IsACapture(f"{printable(path)} is one of the captures")
        if stat.S_ISREG(st.st_mode):
            _refuse_protected(target, st)
    if not os.path.isdir(os.path.dirname(target)):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)


def write_text(text, path: str | None) -> None:
    """Write ``text`` (a string, or an iterable of chunks: strings, or a
    string's UTF-8 bytes) to ``path`` or to stdout when ``path`` is None or
    ``-``."""
    chunks = (text,) if isinstance(text, str) else text
    if path is None or path == "-":
        out = sys.stdout
        # UTF-8 bytes go to a UTF-8 stdout's own buffer, after the text
        # before them; to any other, as the text they are.
        raw = getattr(out, "buffer", None) if _is_utf8(out.encoding) else None
        for chunk in chunks:
            if chunk.__class__ is bytes:
                if raw is not None:
                    out.flush()
                    raw.write(chunk)
                    continue
                chunk = chunk.decode("utf-8")
            try:
                out.write(chunk)
            except UnicodeEncodeError:
                # A stdout with strict errors (a UTF-8 locale, not C):
                # TextIOWrapper encodes a chunk whole before buffering any of it.
                enc = out.encoding or "utf-8"
                out.write(chunk.encode(enc, UNENCODABLE).decode(enc))
        out.flush()
        return

    def write(fh):
        for chunk in chunks:
            fh.write(chunk if chunk.__class__ is bytes else chunk.encode("utf-8", UNENCODABLE))
    _write(path, write)


def write_bytes(data: bytes, path: str) -> None:
    """Write ``data`` to ``path`` as ``write_text`` writes text (a plot)."""
    _write(path, lambda fh: fh.write(data))


def _is_utf8(encoding) -> bool:
    try:
        return codecs.lookup(encoding or "ascii").name == "utf-8"
    except LookupError:
        return False


def _write(path: str, write) -> None:
    """``write(fh)`` into ``path``'s file, opened for bytes, by a temporary file renamed over it."""
    target = _target(path)
    st = _stat(target)
    if st is not None and not stat.S_ISREG(st.st_mode):
        # A FIFO, a terminal, /dev/null: write into it.  Renaming a file over
        # it would replace the device itself (as root, /dev/null).
        with open(target, "wb") as fh:
            write(fh)
        return
    if st is not None:
        _refuse_protected(target, st)
    tmp = None
    try:
        # A signal (Ctrl-C, SIGTERM, SIGHUP raise here: runtime) taken
        # between the file's creation and ``tmp`` being set, inside mkstemp,
        # would leave the file behind: held back until ``tmp`` names it.
        with signals_held():
            fd, tmp = tempfile.mkstemp(prefix=".tcpflow-analyze-", dir=os.path.dirname(target))
        with os.fdopen(fd, "wb", buffering=1 << 20) as fh:
            write(fh)
        _take_over(tmp, st)
        os.replace(tmp, target)
    except BaseException:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        raise


def _target(path: str) -> str:
    """The file a write to ``path`` lands in: through symlinks, as open(2)
    follows them; rename(2) would replace the link itself."""
    if not path:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
    return os.path.realpath(path)


def _stat(target: str):
    """``target``'s stat, None if it does not exist (a symlink loop: ELOOP)."""
    try:
        return os.stat(target)
    except FileNotFoundError:
        return None


def _same(st, name: str) -> bool:
    """Whether capture ``name`` is the file ``st`` describes (through any
    symlink or hard link: the same inode on the same device)."""
    try:
        other = os.stat(name)
    except OSError:
        return False  # the reader reports a capture it cannot open
    return (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino)


def _refuse_protected(target: str, st) -> None:
    # access(2) says whether we may write it.  For root it says yes to any
    # file, so a file with no write bit at all is refused too: someone made
    # it read-only, and rm(1) asks before removing such a file, even for root.
    if not st.st_mode & 0o222 or not os.access(target, os.W_OK):
        raise WriteProtected(errno.EACCES, "write-protected file (make it writable, or remove it, to replace it)",
                             target)


def _take_over(tmp: str, old) -> None:
    """Give the new file the old one's mode and owner, or a new file's mode."""
    if old is None:
        # mkstemp makes the file private (0600); a report gets the usual
        # permissions a new file would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        return
    new = os.stat(tmp)
    if (new.st_uid, new.st_gid) != (old.st_uid, old.st_gid):
        try:
            os.chown(tmp, old.st_uid, old.st_gid)
        except PermissionError:
            pass  # chown(2): only root may give a file away; it becomes ours, as cp's new files do
    # Not set-user/group-ID: a report is no program (and write(2) by a
    # non-root user clears those bits too).
    os.chmod(tmp, stat.S_IMODE(old.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
