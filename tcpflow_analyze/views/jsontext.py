"""The JSON text of a connection line's values: what the record's generated
writer (``views.record_lines``) calls per field.  Compiled with the core
(``_core.COMPILED``), so that a line's five times and its optional strings
cost C calls; as plain Python, the same functions."""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..model.text import round6_text

_INF = float("inf")


def json_time(t) -> str:
    """The JSON text of ``report_time(t)``, fast: the connection lines' hot spot.

    Between 1e-4 and 2**32 a double is finer than a microsecond, so the
    shortest text of ``round(t, 6)`` (what ``repr`` writes) is ``t`` printed
    to six places without its trailing zeros -- twice as fast to make.
    Outside that range (tiny durations print with an exponent, far-future
    times lose digits) ``model.text.round6_text`` is asked.
    """
    if t is None:
        return "null"
    if cython.compiled:
        d = t
        if 1e-4 <= d < 4294967296.0:
            # Python's "%.6f" is PyOS_double_to_string(d, 'f', 6): the same
            # digits, without a format string parsed and a str made of it
            # before its zeros are stripped.
            digits = PyOS_double_to_string(d, ord("f"), 6, 0, cython.NULL)
            n = strlen(digits)
            while digits[n - 1] == ord("0"):
                n -= 1
            if digits[n - 1] == ord("."):
                n += 1
            try:
                return digits[:n].decode("ascii")
            finally:
                PyMem_Free(digits)
    elif 1e-4 <= t < 4294967296.0:
        text = "%.6f" % t
        text = text.rstrip("0")
        return text + "0" if text[-1] == "." else text
    return round6_text(t) if -_INF < t < _INF else "null"


def opt_text(value) -> str:
    """An OPT_STR value as JSON text (its text needs no escape, as STR's)."""
    return "null" if value is None else '"' + value + '"'


def anomaly_list_text(types) -> str:
    """A connection's ``anomalies`` list as its JSON line writes it."""
    return '["' + '", "'.join(types) + '"]' if types else "[]"
