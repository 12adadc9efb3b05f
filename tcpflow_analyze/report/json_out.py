"""The JSON report as text: one connection and one anomaly per line.

``json.dumps(..., indent=2)`` falls back to the pure-Python encoder, which is
several times slower and builds the whole document in pieces: on a million
packets it doubled peak memory.  Encoding each entry with the C encoder and
joining lines keeps the file greppable and diffable (one connection per line)
at a fraction of the cost.  NaN and Infinity are refused: they are not JSON.
"""
from __future__ import annotations

import json

_LISTS = ("connections", "anomalies")


def iter_dumps(report: dict):
    """The report as a stream of text chunks: a connection list of any length
    is written without ever being held as one string."""
    enc = json.JSONEncoder(allow_nan=False, ensure_ascii=False).encode
    yield "{\n"
    for i, (key, value) in enumerate(report.items()):
        sep = ",\n" if i else ""
        if key in _LISTS:
            first = True
            lines = value.json_lines() if hasattr(value, "json_lines") else map(enc, value)
            for line in lines:
                yield (f"{sep}  {enc(key)}: [\n    " if first else ",\n    ") + line
                first = False
            yield f"{sep}  {enc(key)}: []" if first else "\n  ]"
        else:
            yield f"{sep}  {enc(key)}: {enc(value)}"
    yield "\n}\n"


def dumps(report: dict) -> str:
    return "".join(iter_dumps(report))
