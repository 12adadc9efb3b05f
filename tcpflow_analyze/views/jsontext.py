"""The JSON text of a connection line's values: what the record's generated
writer (``views.record_lines``) calls per field.  Compiled with the core
(``_core.COMPILED``), so that a line's five times and its optional strings
cost C calls; as plain Python, the same functions."""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..model.text import MICRO_TEXTS, round6_text

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
        if 1e-4 <= d < 4294967296.0:
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


def _micro_text(d):
    """What "%.6f" % d writes without its trailing zeros, for d in [1e-4,
    2**32) (the compiled build only)."""
    q = _micros(d)
    whole = cython.cast(cython.ulonglong, q // 1000000)
    micros = cython.cast(cython.ulonglong, q % 1000000)
    # The whole seconds' digits, backwards from the end of the buffer; then
    # the point and the fraction's six digits without trailing zeros ("0"
    # if none are left).
    n = 20
    while True:
        n -= 1
        text[n] = 48 + whole % 10
        whole //= 10
        if whole == 0:
            break
    start = n
    n = 20
    text[n] = 46
    n += 1
    if micros == 0:
        text[n] = 48
        n += 1
    else:
        scale = 100000
        while micros:
            text[n] = 48 + micros // scale
            micros %= scale
            scale //= 10
            n += 1
    return text[start:n].decode("ascii")


def opt_text(value) -> str:
    """An OPT_STR value as JSON text (its text needs no escape, as STR's)."""
    return "null" if value is None else '"' + value + '"'


def anomaly_list_text(types) -> str:
    """A connection's ``anomalies`` list as its JSON line writes it."""
    return '["' + '", "'.join(types) + '"]' if types else "[]"
