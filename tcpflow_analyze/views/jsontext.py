"""The JSON text of a connection line's values: what the record's generated
writer (``views.record_lines``) calls per field.  Compiled with the core
(``_core.COMPILED``), so that a line's five times and its optional strings
cost C calls; as plain Python, the same functions."""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..model.text import MICRO_TEXTS, ip_text, round6_text

_INF = float("inf")


def json_time(t) -> str:
    """The JSON text of ``report_time(t)``, fast: the connection lines' hot spot.

    Between 1e-4 and 2**32 a double is finer than a microsecond, so the
    shortest text of ``round(t, 6)`` (what ``repr`` writes) is ``t`` printed
    to six places without its trailing zeros -- twice as fast to make.
    Outside that range (tiny durations print with an exponent, far-future
    times lose digits) ``model.text.round6_text`` is asked -- but for a time
    in (0, 1e-4) the compiled build counts the microseconds and takes
    round6_text's own text for them (``MICRO_TEXTS``).
    """
    if t is None:
        return "null"
    if cython.compiled:
        d = t
        if _micro_range(d):
            return _micro_text(d)
        if 0.0 < d < 1e-4:
            # A handshake on a LAN, a short connection.
            return MICRO_TEXTS[cython.cast(cython.int, _micros(d))]
    elif 1e-4 <= t < 4294967296.0:
        text = "%.6f" % t
        text = text.rstrip("0")
        return text + "0" if text[-1] == "." else text
    return round6_text(t) if -_INF < t < _INF else "null"


def _micros(d):
    """The microseconds "%.6f" % d writes, for 0 < d < 2**32, computed
    exactly in integers (the compiled build only).

    d is M / 2**k exactly (M of 53 bits): the microseconds are M * 10**6 /
    2**k, rounded to nearest, ties to even -- the rounding of Python's float
    formatting (dtoa), which does the same with big numbers; M * 10**6 fits
    in 128 bits.  Below 2**-74 (k above 127) the count is 0 whatever the
    rounding."""
    m = frexp(d, cython.address(e))
    k = 53 - e
    if k > 127:
        return 0
    big = cython.cast(u128, cython.cast(cython.ulonglong, m * 9007199254740992.0)) * 1000000
    q = big >> k
    rest = big - (q << k)
    half = cython.cast(u128, 1) << (k - 1)
    if rest > half or (rest == half and q & 1):
        q += 1
    return q


def _micro_range(d):
    """Whether ``_micro_chars`` writes ``d``'s text (the compiled build only)."""
    return 1e-4 <= d < 4294967296.0


def _micro_chars(d, out):
    """What "%.6f" % d writes without its trailing zeros, for d in [1e-4,
    2**32), written at ``out`` (17 bytes at most); its length (the compiled
    build only)."""
    # The microseconds from one product: below 2**32 s it is under 2**52,
    # so off by at most 0.25 from the exact d * 10**6, and a count it lies
    # within 0.25 of is the exact one's rounding too.  Nearer a half (a tie,
    # or a time that is not a whole microsecond), counted exactly.
    x = d * 1000000.0
    q = cython.cast(cython.ulonglong, x + 0.5)
    diff = x - cython.cast(cython.double, q)
    if not -0.25 < diff < 0.25:
        q = cython.cast(cython.ulonglong, _micros(d))
    # 64 bits, divided by constants (a multiply each, where a 128-bit
    # division is a library call).
    whole = q // 1000000
    micros = q % 1000000
    # The whole seconds' digits, then the point and the fraction's six
    # digits without trailing zeros ("0" if none are left).
    n = _decimal(whole, out)
    out[n] = 46
    n += 1
    if micros == 0:
        out[n] = 48
        return n + 1
    i = n + 5
    while i >= n:
        out[i] = 48 + micros % 10
        micros //= 10
        i -= 1
    n += 6
    while out[n - 1] == 48:
        n -= 1
    return n


# (_decimal, the digits of an integer, is in jsontext.pxd: the generated
# line writer has it compiled in, with ``lit`` and ``num``.)


def _micro_text(d):
    """``_micro_chars`` as a str (the compiled build only)."""
    n = _micro_chars(d, text)
    return text[:n].decode("ascii")


def opt_text(value) -> str:
    """An OPT_STR value as JSON text (its text needs no escape, as STR's)."""
    return "null" if value is None else '"' + value + '"'


def anomaly_list_text(types) -> str:
    """A connection's ``anomalies`` list as its JSON line writes it."""
    return '["' + '", "'.join(types) + '"]' if types else "[]"


# The text a chunk of connection lines holds before ``json_chunks`` hands
# it on: a write per few hundred lines, not one per line, in a buffer small
# enough to stay in the cache.
CHUNK_BYTES = 1 << 18


def joined(lines, sep: str):
    """``lines`` joined by ``sep``, JOINED_LINES a chunk (a chunk after the
    first starts with ``sep``)."""
    batch = []
    n = 0
    for line in lines:
        batch.append(line)
        n += 1
        if n == JOINED_LINES:
            yield sep.join(batch)
            batch = [""]   # the next chunk's leading sep
            n = 0
    if n:
        yield sep.join(batch)


# About CHUNK_BYTES of connection lines.
JOINED_LINES = 256


class LineText:
    """The connection lines' text, written in place into the bytes object
    that a chunk of them is handed on as (the compiled build's line writer,
    ``views.record_lines.json_chunks``): a line's forty-odd values are
    copied or printed straight into the text, where the f-string line made
    each one a string of its own and joined them.  ``take()`` gives the
    text gathered so far and starts anew.

    The compiled build's only: as plain Python the f-string lines are the
    faster writer, and ``json_chunks`` joins those instead."""

    def __init__(self, sep: str):
        """``sep``: the text written before every line but the first."""
        self.sep = sep
        self.first = True
        self.last_types = None
        self.last_names = ""
        self.n = 0
        self.chunk = CHUNK_BYTES
        self._fresh()

    def _fresh(self):
        """A new chunk's text: written straight into the bytes object that
        ``take`` hands on, so that no chunk is copied out of a buffer (95 MB
        of lines on the 2M capture)."""
        self.text_obj = PyBytes_FromStringAndSize(cython.NULL, CHUNK_BYTES * 2)
        self.buf = PyBytes_AS_STRING(self.text_obj)
        self.cap = CHUNK_BYTES * 2
        self.n = 0

    def _resize(self, size):
        """The chunk's bytes object made ``size`` bytes long, where the
        allocator can in place (``_PyBytes_Resize`` wants the only
        reference: this one's, held in ``p`` meanwhile)."""
        p = cython.cast(cython.pointer(PyObject), self.text_obj)
        Py_INCREF(self.text_obj)
        self.text_obj = None
        _PyBytes_Resize(cython.address(p), size)
        self.text_obj = cython.cast(object, p)
        Py_DECREF(self.text_obj)
        self.buf = PyBytes_AS_STRING(self.text_obj)
        self.cap = size

    def _room(self, need):
        """Room for ``need`` more bytes (a line larger than the buffer: a
        history or an anomaly list of thousands of letters)."""
        if self.n + need > self.cap:
            self._resize(max(self.cap * 2, self.n + need))

    def line(self):
        """A line starts: the separator, unless it is the first."""
        if self.first:
            self.first = False
        else:
            self.text(self.sep)

    def text(self, s):
        p = PyUnicode_AsUTF8AndSize(s, cython.address(n))
        if self.n + n > self.cap:
            self._room(n)
        memcpy(self.buf + self.n, p, n)
        self.n += n

    def quoted(self, s):
        """A STR value: its text in quotes (it needs no escape)."""
        lit(self, b'"', 1)
        self.text(s)
        lit(self, b'"', 1)

    def address(self, addr):
        """An address's text in quotes, as ``ip_text`` writes it: an IPv4
        address printed in place (most of a big capture's addresses are
        clients seen once or twice: no text made and cached for each)."""
        if len(addr) == 4:
            if self.n + 17 > self.cap:
                self._room(17)
            quoted_at(self, v4_chars(cython.cast(cython.p_uchar, addr), self.buf + self.n + 1))
        else:
            self.quoted(ip_text(addr))

    def opt_text(self, value):
        """An OPT_STR value (``opt_text``)."""
        if value is None:
            lit(self, b"null", 4)
        else:
            self.quoted(value)

    def time(self, d):
        """A TIME value that is never None, as ``json_time`` writes it: the
        common case (a timestamp or a duration from 1e-4 s) printed in
        place, from the C double (no float object made for it)."""
        if _micro_range(d):
            if self.n + 32 > self.cap:
                self._room(32)
            self.n += _micro_chars(d, self.buf + self.n)
        else:
            self.text(json_time(d))

    def opt_time(self, t):
        """A TIME value that may be None (``Field.optional``)."""
        if t is None:
            lit(self, b"null", 4)
        else:
            self.time(t)

    def names(self, types):
        """A NAMES value (the anomaly list).  The report's lists are tuples,
        one shared by every connection with the same types (views.report),
        and the lines of a storm have the same one: its text is made once
        for a run of them, not once a line."""
        if types:
            if types is not self.last_types:
                self.last_types = types
                self.last_names = anomaly_list_text(types)
            self.text(self.last_names)
        else:
            lit(self, b"[]", 2)

    def take(self) -> bytes:
        """The text gathered since the last ``take``, as its UTF-8 bytes: the
        writer writes them as they are (``output.write_text``), with no str
        decoded from them and encoded again."""
        self._resize(self.n)
        chunk = self.text_obj
        self._fresh()
        return chunk
