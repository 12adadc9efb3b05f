"""The connection record: one declared spec, every form of it derived.

A connection is written as a JSON object (the report's ``connections``
list, the ladder's summary), as a JSON line (the same object as text, the
report's largest part), as a CSV row, and as the cells of the table and the
HTML rows.  ``RECORD`` below declares it once: each field's JSON name, how
its value is had from the engine's ``Connection``, and its kind, in the
record's key order.  From it this module makes, once at import time (as
``dataclasses`` makes methods):

* ``connection_entry(conn, cid, anomalies)``: the record as a dict;
* ``json_lines(conns, types)``: the records as JSON text, exactly as
  ``json.dumps(connection_entry(...))`` writes them -- generated code, one
  f-string per line: it buys 11% of a 2M-packet JSON run over
  ``json.dumps`` per entry (bench/README.md, Tricks).  Its source is the
  module ``views.record_lines``, written from RECORD by ``python3 -m
  tcpflow_analyze.views.record`` (a test fails while the two differ), so
  that the compiled core compiles it with the connection's types;
* ``json_chunks(conns, types, sep)``: the same lines joined, a few hundred
  a chunk -- what the report writes; the compiled build prints each value in
  place into a C buffer (``jsontext.LineText``), generated beside
  ``json_lines`` in ``views.record_lines``;
* ``numbered(conns)``: each connection with its report id;
* ``CSV_COLUMNS`` and ``csv_row(entry)``: the CSV's header and rows;
* ``values_getter(*paths)``: a function giving chosen fields' values of a
  connection (the table's cells are made from it);

Adding a field to the record is one edit here (and one in
``report.schema.json``).

A field's getter is a Python expression, compiled into the generated
functions rather than called, so that a line costs no call per field.  It may
use ``conn`` (the ``Connection``), ``c`` and ``s`` (its client and server
``Endpoint``), ``cid`` (the connection's report id), ``anomalies`` (the list
of its anomaly types) and the names of ``_NAMESPACE``.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

from ..engine.zeek import conn_state, missed_bytes, uid
from ..model.community_id import community_id
from ..model.connection import (
    EVIDENCE_NAMES, ONE_SIDED_NAMES, ORIG_SIDE_NAMES, close_kind, handshake_kind, opened_simultaneously,
)
from ..model.states import STATE_NAMES
from ..model.text import iso_utc, ip_text, report_time
from .jsontext import anomaly_list_text, json_time, opt_text

# The kinds of value, and how each is written.
INT = "int"        # a Python int
STR = "str"        # text that needs no JSON escape: names from a fixed vocabulary, addresses, history letters
OPT_STR = "opt_str"  # a STR, or None (JSON null; an empty CSV cell)
BOOL = "bool"      # true/false
TIME = "time"      # seconds as a float, or None; see report_time
NAMES = "names"    # a list of STR (the anomaly types)
OBJECT = "object"  # nested fields


@dataclass(frozen=True)
class Field:
    """One field of the record: ``name`` its JSON key; ``get`` the Python
    expression of its value (leaves only); ``fields`` an object's members in
    key order; ``csv`` its CSV column's name (leaves; default its JSON name);
    ``csv_after``: the CSV column it follows, where that is not the one
    before it in the record."""
    name: str
    kind: str
    get: str = ""
    fields: tuple = ()
    csv: str = ""
    csv_after: str = ""
    # A timestamp: the CSV writes its ISO 8601 UTC text in a column beside
    # the epoch one (``{csv}_utc``), the form spreadsheets read as a date.
    csv_utc: bool = False
    # A TIME that may be None (JSON null): the compiled line writer takes
    # the others as C doubles, with no float object made per value.
    optional: bool = False
    # An address's text (``get`` is ``ip_text`` of it): the expression of the
    # raw address, which the compiled line writer prints in place.
    address: str = ""
    # A STR the compiled line writer prints in place (a digest's text): the
    # statement that writes it, quoted, into ``out`` (record_lines.pxd).
    writes: str = ""


def _endpoint(side: str, ep: str) -> Field:
    # In the CSV each endpoint's state follows both addresses (client_ip,
    # client_port, server_ip, server_port, client_state, server_state).
    after = {"client": "server_port", "server": "client_state"}[side]
    addr = f"{ep}.addr"
    return Field(side, OBJECT, fields=(
        Field("ip", STR, f"ip_text({addr})", csv=f"{side}_ip", address=addr),
        Field("port", INT, f"{ep}.port", csv=f"{side}_port"),
        Field("state", STR, f"STATE_NAMES[{ep}.state]", csv=f"{side}_state", csv_after=after),
    ))


def _per_side(name: str, attr: str) -> Field:
    """A count each endpoint keeps: {"client": n, "server": n}."""
    return Field(name, OBJECT, fields=(
        Field("client", INT, f"c.{attr}", csv=f"client_{name}"),
        Field("server", INT, f"s.{attr}", csv=f"server_{name}"),
    ))


# The record (schema_version 1, views/report.schema.json), in key order.
RECORD: tuple[Field, ...] = (
    Field("id", INT, "cid"),
    _endpoint("client", "c"),
    _endpoint("server", "s"),
    Field("roles_inferred", BOOL, "conn.roles_inferred"),
    Field("first_seen", TIME, "conn.first_seen", csv_utc=True),
    Field("last_seen", TIME, "conn.last_seen", csv_utc=True),
    Field("duration", TIME, "conn.last_seen - conn.first_seen"),
    _per_side("packets", "packets"),
    _per_side("bytes", "bytes"),
    _per_side("retransmissions", "retransmits"),
    # Segments the capture holds twice (tcpdump -i any on a router or a
    # bridge: each forwarded packet in and out): those with data, a SYN or a
    # FIN (a copied pure ACK is not told apart: it is not mistaken for
    # anything either).  Counted in packets, not in retransmissions.
    Field("duplicates", OBJECT, fields=(
        Field("client", INT, "c.rare.duplicates + c.rare.ctl_duplicates", csv="client_duplicates"),
        Field("server", INT, "s.rare.duplicates + s.rare.ctl_duplicates", csv="server_duplicates"),
    )),
    Field("handshake", STR, "handshake_kind(conn)"),
    # Crossed SYNs (RFC 9293 3.5 figure 8): the handshake is "complete" with
    # no listener and no third segment, so say how it was made.
    Field("simultaneous_open", BOOL, "opened_simultaneously(conn)"),
    # Timed at the capture point from the SYN the SYN-ACK answered (the last
    # before it: RTT), and from the first SYN (what connect() waited, a lost
    # SYN's retransmission timeout included); None without both.
    Field("handshake_rtt", TIME, "s.syn_time - c.last_syn_time if c.last_syn_time >= 0 and s.syn_time >= 0 else None",
          optional=True),
    Field("connect_time", TIME, "s.syn_time - c.syn_time if c.last_syn_time >= 0 and s.syn_time >= 0 else None",
          optional=True),
    Field("syn_retries", INT, "c.syn_count - 1 if c.syn_count > 1 else 0"),
    Field("close", STR, "close_kind(conn)"),
    _per_side("ip_bytes", "ip_bytes"),
    # Zeek's conn.log history and conn_state for this connection (its first
    # row, if Zeek split it: ``zeek.rows``; the finished rows are
    # ``conn.rare.zrows``, the current one is the connection's own), with the case
    # of the letters following Zeek's originator (``zeek.orig``).
    Field("history", STR, "conn.rare.zrows[0].history if conn.rare.zrows else conn.hist"),
    Field("conn_state", STR, "conn.rare.zrows[0].conn_state if conn.rare.zrows else conn_state(conn)"),
    # The Community ID v1 hash (seed 0) of the 4-tuple: joins with Zeek's
    # and Suricata's records of the same flow.
    Field("community_id", STR, "community_id(c.addr, c.port, s.addr, s.port)",
          writes="community_id_into(out, c.addr, c.port, s.addr, s.port)"),
    Field("zeek", OBJECT, fields=(
        Field("uid", STR, "conn.rare.zrows[0].uid if conn.rare.zrows else uid(conn)", csv="zeek_uid",
              writes="out.quoted(conn.rare.zrows[0].uid) if conn.rare.zrows else uid_into(out, conn)"),
        Field("orig", STR, "ORIG_SIDE_NAMES[conn.rare.zrows[0].flip if conn.rare.zrows else conn.zflip]", csv="zeek_orig"),
        Field("rows", INT, "1 + len(conn.rare.zrows) if conn.rare.zrows else 1", csv="zeek_rows"),
        Field("missed_bytes", INT, "missed_bytes(conn) if conn.rare.zrows else c.rare.zmissed + s.rare.zmissed",
              csv="zeek_missed_bytes"),
    )),
    # The tunnel that carried the connection (decode.tunnel): "vxlan",
    # "geneve+gre" (outermost first), null when none; and its identifier,
    # "vni=5569041", "key=42", "vni=10 / vni=11" (client's way / server's
    # way, where they differ), null when it has none.
    Field("encapsulation", OPT_STR, "None if conn.encap is None else conn.encap[0]"),
    Field("tunnel_id", OPT_STR, "None if conn.encap is None else conn.encap[1]"),
    # A one-way capture: which side's packets the capture holds ("client",
    # "server"), when they prove the peer answered though none of its
    # packets is there (asymmetric routing, a SPAN of one direction); null
    # when both are seen.
    Field("one_sided", OPT_STR, "ONE_SIDED_NAMES[conn.one_sided]"),
    # Bytes acknowledged by one side that the capture never showed the other
    # send (Zeek's missed_bytes): packets the capture lost.  Not counted for
    # a side never seen at all (one_sided).
    Field("missed_bytes", INT, "c.rare.missed + s.rare.missed"),
    # "seen": both states follow from packets in the capture; "inferred":
    # they rest partly on what the capture lacks (a side never seen, a
    # packet it missed) and are the most likely ones, not certain;
    # "unknown": the capture contradicts itself, or rules out what it shows
    # (a lone SYN never repeated) with nothing to tell what came instead.
    Field("state_evidence", STR, "EVIDENCE_NAMES[conn.evidence]"),
    # The only field the anomaly detectors give.
    Field("anomalies", NAMES, "anomalies"),
)


# ---------------------------------------------------------------------- values
# The JSON line's value texts (views.jsontext; the old name kept for callers).
_json_time = json_time


def csv_time(t) -> str:
    """Seconds as a CSV cell: to the microsecond, never in exponent notation
    (a spreadsheet reads ``1e-05`` as text or a formula, not 0.00001); empty
    for None."""
    if t is None or not math.isfinite(t):
        return ""
    text = ("%.6f" % t).rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# What the getters and the generated code may name (the generated module
# ``record_lines`` imports them by the header below: keep the two in step).
_NAMESPACE = {
    "ip_text": ip_text, "STATE_NAMES": STATE_NAMES, "conn_state": conn_state, "uid": uid,
    "missed_bytes": missed_bytes, "community_id": community_id, "ORIG_SIDE_NAMES": ORIG_SIDE_NAMES,
    "opt_text": opt_text,
    "ONE_SIDED_NAMES": ONE_SIDED_NAMES, "EVIDENCE_NAMES": EVIDENCE_NAMES,
    "report_time": report_time, "_json_time": _json_time, "anomaly_list_text": anomaly_list_text,
    "csv_time": csv_time, "iso_utc": iso_utc,
    "handshake_kind": handshake_kind, "opened_simultaneously": opened_simultaneously, "close_kind": close_kind,
}


# ---------------------------------------------------------------------- the leaves
@dataclass(frozen=True)
class Leaf:
    """A field with a value of its own: ``path`` its keys from the record's
    top ("client", "ip"), ``dotted`` them joined by dots."""
    path: tuple
    field: Field

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def csv(self) -> str:
        return self.field.csv or self.field.name


def _leaves(fields, path=()):
    for f in fields:
        if f.kind == OBJECT:
            yield from _leaves(f.fields, path + (f.name,))
        else:
            yield Leaf(path + (f.name,), f)


LEAVES: tuple[Leaf, ...] = tuple(_leaves(RECORD))
_BY_PATH = {leaf.dotted: leaf for leaf in LEAVES}


def _csv_order(leaves) -> list:
    """The leaves in the CSV's order: the record's, but a leaf with
    ``csv_after`` goes right after that column."""
    order = [leaf for leaf in leaves if not leaf.field.csv_after]
    moved = [leaf for leaf in leaves if leaf.field.csv_after]
    while moved:
        placed = [leaf for leaf in moved if any(o.csv == leaf.field.csv_after for o in order)]
        if not placed:
            raise ValueError(f"csv_after names no column: {[leaf.field.csv_after for leaf in moved]}")
        for leaf in placed:
            i = next(i for i, o in enumerate(order) if o.csv == leaf.field.csv_after)
            order.insert(i + 1, leaf)
            moved.remove(leaf)
    return order


CSV_LEAVES: tuple[Leaf, ...] = tuple(_csv_order(LEAVES))
CSV_COLUMNS: tuple[str, ...] = tuple(
    name for leaf in CSV_LEAVES for name in ((leaf.csv, leaf.csv + "_utc") if leaf.field.csv_utc else (leaf.csv,)))


# ---------------------------------------------------------------------- code generation
# The generated functions' source, by name, to read (``print(record.SOURCE["json_lines"])``).
SOURCE: dict[str, str] = {}


def _compile(name: str, source: str, key: str = ""):
    """The function ``name`` that ``source`` defines; its source is kept
    in SOURCE under ``key`` (default: its name)."""
    key = key or name
    namespace = dict(_NAMESPACE)
    exec(compile(source, f"<record {key}>", "exec"), namespace)  # noqa: S102 -- source made here, from RECORD
    SOURCE[key] = source
    return namespace[name]


def _dict_expr(fields) -> str:
    """The Python expression of the record (or an object of it) as a dict."""
    items = []
    for f in fields:
        value = _dict_expr(f.fields) if f.kind == OBJECT else _value_expr(f)
        items.append(f"{f.name!r}: {value}")
    return "{" + ", ".join(items) + "}"


def _value_expr(f: Field) -> str:
    """A leaf's value as the dict holds it."""
    return f"report_time({f.get})" if f.kind == TIME else f.get


def _steps(fields, steps: list) -> list:
    """The record's JSON text as ``json.dumps`` writes it (", " and ": "
    separators), onto ``steps``: ("lit", text) for the text between values,
    (kind, getter) for a value.  Both generated writers are made from it."""
    for i, f in enumerate(fields):
        steps.append(("lit", (", " if i else "") + f'"{f.name}": '))
        if f.kind == OBJECT:
            steps.append(("lit", "{"))
            _steps(f.fields, steps)
            steps.append(("lit", "}"))
        elif f.address:
            steps.append((_ADDRESS, f.address))
        elif f.writes:
            steps.append((_WRITES, (f.get, f.writes)))
        elif f.kind in _FSTRING_VALUES:
            steps.append((_OPT_TIME if f.kind == TIME and f.optional else f.kind, f.get))
        else:
            raise ValueError(f"field {f.name}: unknown kind {f.kind!r}")
    return steps


def _record_steps() -> list:
    """The whole record's steps, the text between two values merged."""
    merged = []
    for kind, arg in _steps(RECORD, [("lit", "{")]) + [("lit", "}")]:
        if kind == "lit" and merged and merged[-1][0] == "lit":
            merged[-1] = ("lit", merged[-1][1] + arg)
        else:
            merged.append((kind, arg))
    return merged


# A step's kind for an optional TIME (``Field.optional``): the f-string
# writes it as any TIME, the compiled writer with a method of its own; and
# for an address (``Field.address``: the f-string writes its ``ip_text``).
_OPT_TIME = "opt_time"
_ADDRESS = "address"
# ... and for a value the compiled writer prints in place (``Field.writes``):
# its argument is (the getter, the writer's statement).
_WRITES = "writes"

# A value of each kind in the f-string line, from its getter.
_FSTRING_VALUES = {
    INT: lambda g: "{" + g + "}",
    STR: lambda g: '"{' + g + '}"',
    OPT_STR: lambda g: "{opt_text(" + g + ")}",
    BOOL: lambda g: '{"true" if ' + g + ' else "false"}',
    TIME: lambda g: "{_json_time(" + g + ")}",
    _ADDRESS: lambda g: '"{ip_text(' + g + ')}"',
    NAMES: lambda g: "{anomaly_list_text(" + g + ") if " + g + ' else "[]"}',
}
_FSTRING_VALUES[_OPT_TIME] = _FSTRING_VALUES[TIME]
_FSTRING_VALUES[_WRITES] = lambda arg: _FSTRING_VALUES[STR](arg[0])


def _fstring() -> str:
    """The record's JSON text as an f-string's body."""
    return "".join(arg.replace("{", "{{").replace("}", "}}") if kind == "lit" else _FSTRING_VALUES[kind](arg)
                   for kind, arg in _record_steps())


def _check(fields) -> None:
    for f in fields:
        # The names are written into the JSON text and the generated source as they are.
        if not f.name.isidentifier():
            raise ValueError(f"field name {f.name!r}: a JSON key here is an identifier")
        if f.kind == OBJECT:
            _check(f.fields)
        elif "'" in f.get or "\\" in f.get or not f.get:
            raise ValueError(f"field {f.name}: its getter must be an expression without ' or \\")


_check(RECORD)

_PREAMBLE = "    c = conn.client\n    s = conn.server\n"

connection_entry = _compile("connection_entry", (
    "def connection_entry(conn, cid, anomalies=None):\n"
    '    """The record of ``conn`` as a dict: what ``json.dumps`` writes as its\n'
    '    JSON line; ``anomalies``: its anomaly types (default none)."""\n'
    "    if anomalies is None:\n"
    "        anomalies = []\n"
    + _PREAMBLE +
    f"    return {_dict_expr(RECORD)}\n"))

# A connection's report id: the one the engine gave it, else its place in the list.
_ID = "conn.id or i"

numbered = _compile("numbered", (
    "def numbered(conns):\n"
    '    """Each connection with its report id."""\n'
    "    for i, conn in enumerate(conns, 1):\n"
    f"        yield conn, {_ID}\n"))

# The loop is generated with the line: a generator of (conn, id) pairs in
# between cost 1% more (instructions counted, 100,000 lines).
SOURCE["json_lines"] = (
    "@cython.locals(conn=Connection, c=Endpoint, s=Endpoint)\n"
    "def json_lines(conns, types):\n"
    '    """The JSON text of each connection\'s record, exactly as ``json.dumps(\n'
    '    connection_entry(conn, cid, types.get(cid)))`` writes it, made without\n'
    '    the dict; ids as ``numbered`` gives them; ``types``: id -> anomaly types."""\n'
    "    get = types.get\n"
    "    for i, conn in enumerate(conns, 1):\n"
    f"        cid = {_ID}\n"
    "        anomalies = get(cid)\n"
    "        c = conn.client\n"
    "        s = conn.server\n"
    "        yield f'" + _fstring() + "'\n")


# The LineText method that writes a value of each kind (views.jsontext).
# (``lit``, ``num`` and ``boolean`` are jsontext.pxd's inline functions.)
_WRITERS = {"lit": "lit(out, {}, {})", INT: "num(out, {})", STR: "out.quoted({})", OPT_STR: "out.opt_text({})",
            BOOL: "boolean(out, {})", TIME: "out.time({})", _OPT_TIME: "out.opt_time({})",
            _ADDRESS: "out.address({})", NAMES: "out.names({})", _WRITES: "{}"}


def _writer_code(indent: str) -> str:
    """The statements that write one record into ``out`` (a LineText)."""
    return "".join(indent + (_WRITERS[kind].format(repr(arg.encode()), len(arg.encode())) if kind == "lit" else
                             arg[1] if kind == _WRITES else _WRITERS[kind].format(arg)) + "\n"
                   for kind, arg in _record_steps())


# The same lines for the compiled build, written in place into a C buffer
# (``jsontext.LineText``) and handed on a few hundred at a time, joined by
# ``sep``.  As plain Python the f-string lines are faster: joined as they are.
SOURCE["json_chunks"] = (
    "@cython.locals(conn=Connection, c=Endpoint, s=Endpoint, out=LineText, i=\"Py_ssize_t\", cid=\"long long\")\n"
    "def json_chunks(conns, types, sep):\n"
    '    """The text of ``json_lines(conns, types)`` joined by ``sep``, in chunks\n'
    '    of a few hundred lines (a chunk after the first starts with ``sep``)."""\n'
    "    if not cython.compiled:\n"
    "        yield from joined(json_lines(conns, types), sep)\n"
    "        return\n"
    "    get = types.get\n"
    "    out = LineText(sep)\n"
    "    for i, conn in enumerate(conns, 1):\n"
    f"        cid = {_ID}\n"
    "        anomalies = get(cid)\n"
    "        c = conn.client\n"
    "        s = conn.server\n"
    "        out.line()\n"
    + _writer_code("        ") +
    "        if out.n >= out.chunk:\n"
    "            yield out.take()\n"
    "    if out.n:\n"
    "        yield out.take()\n")

# The module that holds it: what ``_NAMESPACE`` gives the other generated
# functions, imported.
_LINES_HEADER = '''"""The connection record's JSON lines: generated from ``views.record.RECORD``
by ``python3 -m tcpflow_analyze.views.record`` -- do not edit (tests/test_cli.py
fails while this differs from what RECORD makes).  A module of its own so that
the compiled core compiles it (record_lines.pxd: the connection and its
endpoints as their extension types, their fields read in C)."""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..engine.zeek import conn_state, missed_bytes, uid
from ..model.community_id import community_id
from ..model.connection import (
    EVIDENCE_NAMES, ONE_SIDED_NAMES, ORIG_SIDE_NAMES, Connection, Endpoint, close_kind, handshake_kind,
    opened_simultaneously,
)
from ..model.states import STATE_NAMES
from ..model.text import ip_text
from .jsontext import LineText, anomaly_list_text, joined, opt_text
from .jsontext import json_time as _json_time


'''
LINES_MODULE = Path(__file__).with_name("record_lines.py")


def lines_module_source() -> str:
    """The text of ``views/record_lines.py`` as RECORD makes it."""
    return _LINES_HEADER + SOURCE["json_lines"] + "\n\n" + SOURCE["json_chunks"]


def json_lines(conns, types):
    """The JSON text of each connection's record (``record_lines.json_lines``)."""
    from .record_lines import json_lines as lines
    return lines(conns, types)


def json_chunks(conns, types, sep: str):
    """The same lines joined by ``sep``, in chunks of many lines
    (``record_lines.json_chunks``): the report's fast way."""
    from .record_lines import json_chunks as chunks
    return chunks(conns, types, sep)



def _csv_expr(leaf: Leaf) -> str:
    """A leaf's CSV cell, from the record's dict ``entry``."""
    value = "entry" + "".join(f"[{key!r}]" for key in leaf.path)
    if leaf.field.kind == BOOL:
        return f"str({value}).lower()"
    if leaf.field.kind == NAMES:
        # Sorted: the same set is the same cell, whatever order found it.
        return f'";".join(sorted({value}))'
    if leaf.field.kind == TIME:
        cell = f"csv_time({value})"
        return f"{cell}, iso_utc({value})" if leaf.field.csv_utc else cell
    return value


csv_row = _compile("csv_row", (
    "def csv_row(entry):\n"
    '    """A record (``connection_entry``\'s dict) as its CSV row, in CSV_COLUMNS\n'
    '    order: booleans as true/false, seconds without an exponent, timestamps\n'
    '    also as ISO 8601 UTC, the anomaly types sorted and joined by ";"."""\n'
    "    return (" + ", ".join(_csv_expr(leaf) for leaf in CSV_LEAVES) + ",)\n"))

def values_getter(*paths: str):
    """A function ``(conn, cid, anomalies=None)`` giving the values of the
    fields at ``paths`` ("id", "client.ip", "duration"), as the record's dict
    holds them, in a tuple.  Compiled once, called per connection."""
    unknown = [p for p in paths if p not in _BY_PATH]
    if unknown:
        raise KeyError(f"no such record field: {', '.join(unknown)} (fields: {', '.join(_BY_PATH)})")
    exprs = "".join(_value_expr(_BY_PATH[p].field) + ", " for p in paths)
    return _compile("values", (
        "def values(conn, cid, anomalies=None):\n"
        + _PREAMBLE +
        f"    return ({exprs})\n"), key=f"values({', '.join(paths)})")


__all__ = [
    "CSV_COLUMNS",
    "LEAVES",
    "RECORD",
    "Field",
    "anomaly_list_text",
    "connection_entry",
    "csv_row",
    "csv_time",
    "json_lines",
    "numbered",
    "report_time",
    "values_getter",
]


if __name__ == "__main__":
    # python3 -m tcpflow_analyze.views.record: write record_lines.py anew.
    LINES_MODULE.write_text(lines_module_source())
    print(f"wrote {LINES_MODULE}", file=sys.stderr)
