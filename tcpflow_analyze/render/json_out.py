"""The JSON report as text: one connection and one anomaly per line.

``json.dumps(..., indent=2)`` falls back to the pure-Python encoder, which is
several times slower and builds the whole document in pieces: on a million
packets it doubled peak memory.  Encoding each entry with the C encoder and
joining lines keeps the file greppable and diffable (one connection per line)
at a fraction of the cost.  NaN and Infinity are refused: they are not JSON.
"""
from __future__ import annotations

import json

from ..views.jsontext import joined

_LISTS = ("connections", "anomalies")


def iter_dumps(report: dict):
    """The report as a stream of text chunks: a connection list of any length
    is written without ever being held as one string.  A chunk is a str, or
    its UTF-8 bytes (the compiled build's connection lines: they go to the
    file as they are, ``output.write_text``)."""
    enc = json.JSONEncoder(allow_nan=False, ensure_ascii=False).encode
    yield "{\n"
    for i, (key, value) in enumerate(report.items()):
        sep = ",\n" if i else ""
        if key in _LISTS:
            # The connections come as their lines' text, a few hundred lines
            # a chunk (``ConnectionEntries.json_chunks``).
            chunks = value.json_chunks(",\n    ") if hasattr(value, "json_chunks") else \
                joined(map(enc, value), ",\n    ")
            first = True
            for chunk in chunks:
                if first:
                    yield f"{sep}  {enc(key)}: [\n    "
                    first = False
                yield chunk
            yield f"{sep}  {enc(key)}: []" if first else "\n  ]"
        else:
            yield f"{sep}  {enc(key)}: {enc(value)}"
    yield "\n}\n"


def dumps(report: dict) -> str:
    return "".join(c if c.__class__ is str else c.decode("utf-8") for c in iter_dumps(report))


def iter_view_dumps(doc):
    """A view's JSON (states, timewait, ladder) as a stream of text chunks.

    The layout of ``json.dumps(doc, indent=2)``, except that a list holding
    no object is written on one line -- a step series ``[[t, n], [t, n],
    ...]`` or a list of names -- by the C encoder.  The busiest hosts'
    timelines run to millions of points: as four lines each through the
    pure-Python encoder they took 8 s and a gigabyte for 2M packets.  A list
    of objects (hosts, sockets) is written an object at a time.  Values with
    an ``as_json`` method (``timeline.StepSeries``) are written as what it
    returns.
    """
    enc = json.JSONEncoder(allow_nan=False, ensure_ascii=False, default=_as_json).encode
    if isinstance(doc, dict) and doc:
        sep = "{\n  "
        for key, item in doc.items():
            yield from _streamed(item, enc, "\n  ", sep + _key(key, enc) + ": ")
            sep = ",\n  "
        yield "\n}\n"
    else:
        yield from _streamed(doc, enc, "\n", "")
        yield "\n"


def _streamed(value, enc, newline: str, head: str):
    """``head`` and ``value``'s text; a list holding objects an item at a time."""
    if not (type(value) in (list, tuple) and any(type(x) is dict for x in value)):
        out = [head]
        _write(value, out, newline, enc)
        yield "".join(out)
        return
    inner = newline + "  "
    sep = head + "[" + inner
    for item in value:
        out = [sep]
        _write(item, out, inner, enc)
        yield "".join(out)
        sep = "," + inner
    yield newline + "]"


def _as_json(value):
    if hasattr(value, "as_json"):
        return value.as_json()
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


_str_text = json.encoder.encode_basestring
_INF = float("inf")


def _key(key, enc) -> str:
    # json's own rule for keys that are not strings: their JSON text, quoted.
    return _str_text(key) if isinstance(key, str) else enc(enc(key))


def _write(value, out: list, newline: str, enc) -> None:
    """``value``'s JSON text appended to ``out`` in pieces (strings and ints
    directly: the C encoder costs a call of its own each time)."""
    kind = type(value)
    if kind is str:
        out.append(_str_text(value))
    elif kind is int:
        out.append(int.__repr__(value))
    elif kind is float and -_INF < value < _INF:
        out.append(float.__repr__(value))
    elif kind is dict:
        if not value:
            out.append("{}")
            return
        inner = newline + "  "
        sep = "{" + inner
        for key, item in value.items():
            out.append(sep + _key(key, enc) + ": ")
            _write(item, out, inner, enc)
            sep = "," + inner
        out.append(newline + "}")
    elif (kind is list or kind is tuple) and any(type(x) is dict for x in value):
        inner = newline + "  "
        sep = "[" + inner
        for item in value:
            out.append(sep)
            _write(item, out, inner, enc)
            sep = "," + inner
        out.append(newline + "]")
    else:
        out.append(enc(value))
