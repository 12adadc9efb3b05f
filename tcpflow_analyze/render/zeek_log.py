"""conn.log text, as Zeek's ASCII writer makes it (``--format zeek``), or its
JSON lines (``--zeek-json``, Zeek's ``LogAscii::use_json``).

TSV: the header lines of Zeek's logger/writers/ascii/Ascii.cc (#separator
written as ``\\x09``, #set_separator, #empty_field ``(empty)``, #unset_field
``-``, #path, #open, #fields, #types), one tab-separated line per row, and
#close.  Times and intervals with six decimals.  #open and #close give the
capture's first and last packet times (UTC) rather than the wall clock, so
the same capture gives the same bytes.

JSON: one object per line with Zeek's key names (``id.orig_h`` ...), unset
fields left out, times as epoch seconds (Zeek's default JSON::TS_EPOCH),
counts and ports as numbers.
"""
from __future__ import annotations

import json
import time

from ..views.zeek_log import FIELDS

SEPARATOR = "\t"
SET_SEPARATOR = ","
EMPTY_FIELD = "(empty)"
UNSET_FIELD = "-"


def _stamp(t) -> str:
    # Zeek's #open/#close format: %Y-%m-%d-%H-%M-%S.
    return time.strftime("%Y-%m-%d-%H-%M-%S", time.gmtime(t if t is not None else 0))


def _tsv_value(value, kind: str) -> str:
    if value is None:
        return UNSET_FIELD
    if kind in ("time", "interval"):
        return "%.6f" % value
    if kind == "bool":
        return "T" if value else "F"
    if kind.startswith("set["):
        return SET_SEPARATOR.join(value) if value else EMPTY_FIELD
    if kind == "string" and value == "":
        return EMPTY_FIELD
    return str(value)


def iter_tsv(rows, start, end, notices=()):
    """The conn.log text, in pieces.  ``notices``: what the analysis could not
    see (views.findings), one ``#notice`` line each after the header -- a line
    Zeek's readers (zeek-cut, the log parsers) pass over as a comment, so the
    log stays readable unchanged and still says what it lacks."""
    yield ("#separator \\x09\n"
           f"#set_separator{SEPARATOR}{SET_SEPARATOR}\n"
           f"#empty_field{SEPARATOR}{EMPTY_FIELD}\n"
           f"#unset_field{SEPARATOR}{UNSET_FIELD}\n"
           f"#path{SEPARATOR}conn\n"
           f"#open{SEPARATOR}{_stamp(start)}\n"
           "#fields" + SEPARATOR + SEPARATOR.join(name for name, _ in FIELDS) + "\n"
           "#types" + SEPARATOR + SEPARATOR.join(kind for _, kind in FIELDS) + "\n"
           + "".join(f"#notice{SEPARATOR}{' '.join(text.split())}\n" for text in notices))
    lines = []
    for row in rows:
        lines.append(SEPARATOR.join(_tsv_value(row[name], kind) for name, kind in FIELDS))
        if len(lines) >= 4096:
            yield "\n".join(lines) + "\n"
            lines = []
    if lines:
        yield "\n".join(lines) + "\n"
    yield f"#close{SEPARATOR}{_stamp(end)}\n"


def iter_json(rows):
    """Zeek's JSON log lines: one object per row."""
    for row in rows:
        obj = {}
        for name, kind in FIELDS:
            value = row[name]
            if value is None:
                continue
            if kind in ("time", "interval"):
                value = round(value, 6)
            obj[name] = value
        yield json.dumps(obj, separators=(",", ":")) + "\n"
