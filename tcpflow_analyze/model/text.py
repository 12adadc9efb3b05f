"""How the model's values are written for people: addresses, endpoints, times,
and any text a capture controls (``printable``).

One place for each, so every output spells an endpoint (``[ip]:port`` for
IPv6) and a capture time the same way, and no text output carries a control
character from a file name.
"""
from __future__ import annotations

import datetime as _dt
import math
import re
import socket

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython


# What a terminal or a viewer would act on instead of showing: the C0 and
# C1 controls and DEL (ESC starts colour, title and screen sequences, BEL
# rings: ECMA-48), the line and paragraph separators (str.splitlines and some
# viewers break lines there), the bidirectional overrides and isolates (they
# reorder the text after them: CVE-2021-42574), and surrogates (a file name's
# bytes that are not UTF-8, as os.fsdecode leaves them: no UTF-8 writer
# takes them, and written raw they are those bytes again).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` safe for a terminal or a text file: what it would act on
    (``_UNSAFE``) written as ``\\xNN`` or ``\\uNNNN``, an undecodable byte of
    a file name as ``\\xNN``.  For any string a capture or its name controls."""
    return _UNSAFE.sub(_escaped, text)


def _escaped(match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # the byte os.fsdecode kept as a surrogate (PEP 383)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# ip_text's texts by address: a dict, not functools.lru_cache, so that the
# compiled connection lines (views.record_lines) look one up with a C call;
# it starts over when full (a capture of more hosts pays inet_ntop again).
_IP_TEXTS: dict = {}
_IP_TEXTS_MAX = 1 << 16


def ip_text(addr: bytes) -> str:
    """Printable address; cached, as a capture repeats a few hosts many times."""
    text = _IP_TEXTS.get(addr)
    if text is None:
        if len(_IP_TEXTS) >= _IP_TEXTS_MAX:
            _IP_TEXTS.clear()
        if cython.compiled and len(addr) == 4:
            # Most addresses of a big capture are clients seen once or twice:
            # their text is made more often than found here.
            text = _v4_text(addr)
        else:
            text = socket.inet_ntop(socket.AF_INET6 if len(addr) == 16 else socket.AF_INET, addr)
        _IP_TEXTS[addr] = text
    return text


def _v4_text(addr):
    """inet_ntop's text of a 4-byte address, made in C (the compiled build
    only)."""
    n = v4_chars(cython.cast(cython.p_uchar, addr), buf)
    return buf[:n].decode("ascii")


def v4_chars(p, out):
    """inet_ntop's text of the 4-byte address at ``p`` -- dotted decimal, no
    leading zeros -- written at ``out`` (15 bytes at most); its length (the
    compiled build only: ``_v4_text``, and the JSON line writer's
    ``LineText.address``, which prints it in place)."""
    n = 0
    for i in range(4):
        v = p[i]
        if i:
            out[n] = 46   # "."
            n += 1
        if v >= 100:
            out[n] = 48 + v // 100
            n += 1
        if v >= 10:
            out[n] = 48 + v // 10 % 10
            n += 1
        out[n] = 48 + v % 10
        n += 1
    return n


def endpoint_text(ep) -> str:
    """An Endpoint as ip:port, with IPv6 addresses in brackets."""
    return address_port_text(ip_text(ep.addr), ep.port)


def address_port_text(ip: str, port) -> str:
    """ip:port from an address already in text, with IPv6 in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def utc_text(t: float | None, fmt: str = "%Y-%m-%d %H:%M:%S.%f", digits: int = 3) -> str:
    """A capture timestamp as UTC text; epoch seconds where no calendar holds it.

    A timestamp comes from the file and may be anything (the year 584 billion,
    before 1970 by 2**62 seconds): it is shown, never an error.
    """
    if t is None:
        return "-"
    try:
        text = _dt.datetime.fromtimestamp(t, _dt.timezone.utc).strftime(fmt)
    except (OverflowError, OSError, ValueError):
        return f"{t:.6f} (epoch seconds)"
    if fmt.endswith("%f") and digits < 6:
        text = text[:digits - 6] if digits else text[:-7]
    return text + " UTC"


def iso_utc(t: float | None) -> str:
    """A capture timestamp as ISO 8601 UTC to the microsecond
    (``2024-01-01T00:00:00.000502Z``), what spreadsheets and log tools parse;
    empty for None or where no calendar holds it (the epoch value stays beside it)."""
    if t is None:
        return ""
    try:
        when = _dt.datetime.fromtimestamp(t, _dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return ""
    return when.isoformat(timespec="microseconds").replace("+00:00", "Z")


def duration_text(seconds: float) -> str:
    """A short span for people: µs, ms or s."""
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.1f} s"


def report_time(t):
    """A time as the report writes it: seconds to six places, never NaN or
    Infinity (not valid JSON).  The connection records and the detectors'
    details both use it."""
    if t is None or not math.isfinite(t):
        return None
    return round(t, 6)


def round6_text(t: float) -> str:
    """``repr(round(t, 6))`` -- a time to the microsecond as Python writes
    it -- at a third of the cost or less: round() and repr() each convert
    the double to decimal, ``%.6f`` once, rounding the same way.  Between
    1e-4 and 2**32 a double is finer than a microsecond, so the shortest text
    of the rounded value is ``t`` to six places without its trailing zeros;
    below 1e-4 (a handshake on a LAN, a short connection) it is one of 101
    texts in exponent form, looked up.  Elsewhere ``repr`` is asked."""
    if 1e-4 <= t < 4294967296.0:
        text = ("%.6f" % t).rstrip("0")
        return text + "0" if text[-1] == "." else text
    if 0.0 <= t < 1e-4:
        return _MICROS[("%.6f" % t)]
    return repr(round(t, 6))


# repr(round(t, 6)) for t in [0, 1e-4), by its microseconds k: round(t, 6)
# is the double nearest the six-place decimal that "%.6f" writes
# (views.jsontext's C path counts k itself); and by that "%.6f" text.
MICRO_TEXTS = [repr(float("%.6f" % (k / 1e6))) for k in range(101)]
_MICROS = {"%.6f" % (k / 1e6): text for k, text in enumerate(MICRO_TEXTS)}
_MICROS["-0.000000"] = "-0.0"
