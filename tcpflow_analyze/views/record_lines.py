"""The connection record's JSON lines: generated from ``views.record.RECORD``
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


@cython.locals(conn=Connection, c=Endpoint, s=Endpoint)
def json_lines(conns, types):
    """The JSON text of each connection's record, exactly as ``json.dumps(
    connection_entry(conn, cid, types.get(cid)))`` writes it, made without
    the dict; ids as ``numbered`` gives them; ``types``: id -> anomaly types."""
    get = types.get
    for i, conn in enumerate(conns, 1):
        cid = conn.id or i
        anomalies = get(cid)
        c = conn.client
        s = conn.server
        yield f'{{"id": {cid}, "client": {{"ip": "{ip_text(c.addr)}", "port": {c.port}, "state": "{STATE_NAMES[c.state]}"}}, "server": {{"ip": "{ip_text(s.addr)}", "port": {s.port}, "state": "{STATE_NAMES[s.state]}"}}, "roles_inferred": {"true" if conn.roles_inferred else "false"}, "first_seen": {_json_time(conn.first_seen)}, "last_seen": {_json_time(conn.last_seen)}, "duration": {_json_time(conn.last_seen - conn.first_seen)}, "packets": {{"client": {c.packets}, "server": {s.packets}}}, "bytes": {{"client": {c.bytes}, "server": {s.bytes}}}, "retransmissions": {{"client": {c.retransmits}, "server": {s.retransmits}}}, "duplicates": {{"client": {c.rare.duplicates + c.rare.ctl_duplicates}, "server": {s.rare.duplicates + s.rare.ctl_duplicates}}}, "handshake": "{handshake_kind(conn)}", "simultaneous_open": {"true" if opened_simultaneously(conn) else "false"}, "handshake_rtt": {_json_time(s.syn_time - c.last_syn_time if c.last_syn_time >= 0 and s.syn_time >= 0 else None)}, "connect_time": {_json_time(s.syn_time - c.syn_time if c.last_syn_time >= 0 and s.syn_time >= 0 else None)}, "syn_retries": {c.syn_count - 1 if c.syn_count > 1 else 0}, "close": "{close_kind(conn)}", "ip_bytes": {{"client": {c.ip_bytes}, "server": {s.ip_bytes}}}, "history": "{conn.rare.zrows[0].history if conn.rare.zrows else conn.hist}", "conn_state": "{conn.rare.zrows[0].conn_state if conn.rare.zrows else conn_state(conn)}", "community_id": "{community_id(c.addr, c.port, s.addr, s.port)}", "zeek": {{"uid": "{conn.rare.zrows[0].uid if conn.rare.zrows else uid(conn)}", "orig": "{ORIG_SIDE_NAMES[conn.rare.zrows[0].flip if conn.rare.zrows else conn.zflip]}", "rows": {1 + len(conn.rare.zrows) if conn.rare.zrows else 1}, "missed_bytes": {missed_bytes(conn) if conn.rare.zrows else c.rare.zmissed + s.rare.zmissed}}}, "encapsulation": {opt_text(None if conn.encap is None else conn.encap[0])}, "tunnel_id": {opt_text(None if conn.encap is None else conn.encap[1])}, "one_sided": {opt_text(ONE_SIDED_NAMES[conn.one_sided])}, "missed_bytes": {c.rare.missed + s.rare.missed}, "state_evidence": "{EVIDENCE_NAMES[conn.evidence]}", "anomalies": {anomaly_list_text(anomalies) if anomalies else "[]"}}}'


@cython.locals(conn=Connection, c=Endpoint, s=Endpoint, out=LineText, i="Py_ssize_t", cid="long long")
def json_chunks(conns, types, sep):
    """The text of ``json_lines(conns, types)`` joined by ``sep``, in chunks
    of a few hundred lines (a chunk after the first starts with ``sep``)."""
    if not cython.compiled:
        yield from joined(json_lines(conns, types), sep)
        return
    get = types.get
    out = LineText(sep)
    for i, conn in enumerate(conns, 1):
        cid = conn.id or i
        anomalies = get(cid)
        c = conn.client
        s = conn.server
        out.line()
        lit(out, b'{"id": ', 7)
        num(out, cid)
        lit(out, b', "client": {"ip": ', 19)
        out.address(c.addr)
        lit(out, b', "port": ', 10)
        num(out, c.port)
        lit(out, b', "state": ', 11)
        out.quoted(STATE_NAMES[c.state])
        lit(out, b'}, "server": {"ip": ', 20)
        out.address(s.addr)
        lit(out, b', "port": ', 10)
        num(out, s.port)
        lit(out, b', "state": ', 11)
        out.quoted(STATE_NAMES[s.state])
        lit(out, b'}, "roles_inferred": ', 21)
        boolean(out, conn.roles_inferred)
        lit(out, b', "first_seen": ', 16)
        out.time(conn.first_seen)
        lit(out, b', "last_seen": ', 15)
        out.time(conn.last_seen)
        lit(out, b', "duration": ', 14)
        out.time(conn.last_seen - conn.first_seen)
        lit(out, b', "packets": {"client": ', 24)
        num(out, c.packets)
        lit(out, b', "server": ', 12)
        num(out, s.packets)
        lit(out, b'}, "bytes": {"client": ', 23)
        num(out, c.bytes)
        lit(out, b', "server": ', 12)
        num(out, s.bytes)
        lit(out, b'}, "retransmissions": {"client": ', 33)
        num(out, c.retransmits)
        lit(out, b', "server": ', 12)
        num(out, s.retransmits)
        lit(out, b'}, "duplicates": {"client": ', 28)
        num(out, c.rare.duplicates + c.rare.ctl_duplicates)
        lit(out, b', "server": ', 12)
        num(out, s.rare.duplicates + s.rare.ctl_duplicates)
        lit(out, b'}, "handshake": ', 16)
        out.quoted(handshake_kind(conn))
        lit(out, b', "simultaneous_open": ', 23)
        boolean(out, opened_simultaneously(conn))
        lit(out, b', "handshake_rtt": ', 19)
        out.opt_time(s.syn_time - c.last_syn_time if c.last_syn_time >= 0 and s.syn_time >= 0 else None)
        lit(out, b', "connect_time": ', 18)
        out.opt_time(s.syn_time - c.syn_time if c.last_syn_time >= 0 and s.syn_time >= 0 else None)
        lit(out, b', "syn_retries": ', 17)
        num(out, c.syn_count - 1 if c.syn_count > 1 else 0)
        lit(out, b', "close": ', 11)
        out.quoted(close_kind(conn))
        lit(out, b', "ip_bytes": {"client": ', 25)
        num(out, c.ip_bytes)
        lit(out, b', "server": ', 12)
        num(out, s.ip_bytes)
        lit(out, b'}, "history": ', 14)
        out.quoted(conn.rare.zrows[0].history if conn.rare.zrows else conn.hist)
        lit(out, b', "conn_state": ', 16)
        out.quoted(conn.rare.zrows[0].conn_state if conn.rare.zrows else conn_state(conn))
        lit(out, b', "community_id": ', 18)
        community_id_into(out, c.addr, c.port, s.addr, s.port)
        lit(out, b', "zeek": {"uid": ', 18)
        out.quoted(conn.rare.zrows[0].uid) if conn.rare.zrows else uid_into(out, conn)
        lit(out, b', "orig": ', 10)
        out.quoted(ORIG_SIDE_NAMES[conn.rare.zrows[0].flip if conn.rare.zrows else conn.zflip])
        lit(out, b', "rows": ', 10)
        num(out, 1 + len(conn.rare.zrows) if conn.rare.zrows else 1)
        lit(out, b', "missed_bytes": ', 18)
        num(out, missed_bytes(conn) if conn.rare.zrows else c.rare.zmissed + s.rare.zmissed)
        lit(out, b'}, "encapsulation": ', 20)
        out.opt_text(None if conn.encap is None else conn.encap[0])
        lit(out, b', "tunnel_id": ', 15)
        out.opt_text(None if conn.encap is None else conn.encap[1])
        lit(out, b', "one_sided": ', 15)
        out.opt_text(ONE_SIDED_NAMES[conn.one_sided])
        lit(out, b', "missed_bytes": ', 18)
        num(out, c.rare.missed + s.rare.missed)
        lit(out, b', "state_evidence": ', 20)
        out.quoted(EVIDENCE_NAMES[conn.evidence])
        lit(out, b', "anomalies": ', 15)
        out.names(anomalies)
        lit(out, b'}', 1)
        if out.n >= out.chunk:
            yield out.take()
    if out.n:
        yield out.take()
