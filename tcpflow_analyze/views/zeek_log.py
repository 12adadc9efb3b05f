"""Zeek's conn.log rows for our connections (``--format zeek``).

A row per connection as Zeek's scripts/base/protocols/conn/main.zeek logs it
(``Conn::Info``, ``set_conn``), plus ``community_id`` as Zeek's community-id
script adds it.  Zeek's roles, history, conn_state and byte counts come from
the Zeek view the engine keeps beside our own (``engine.zeek``); a connection
Zeek splits (it forgets a connection 5 s after its close or RST) gives one
row per piece.

What conn.log would have that we cannot: ``service`` (Zeek's application
analyzers) is always unset, as are ``local_orig``/``local_resp`` (Zeek sets
them only when ``Site::local_nets`` is configured) and ``tunnel_parents``.
The ``uid`` is deterministic (``engine.zeek.uid``), where Zeek's is random.
"""
from __future__ import annotations

from ..engine.zeek import current_row
from ..model.community_id import community_id
from ..model.text import ip_text

# conn.log's columns and Zeek types, in Zeek's order (Conn::Info).
FIELDS = (
    ("ts", "time"), ("uid", "string"),
    ("id.orig_h", "addr"), ("id.orig_p", "port"), ("id.resp_h", "addr"), ("id.resp_p", "port"),
    ("proto", "enum"), ("service", "string"), ("duration", "interval"),
    ("orig_bytes", "count"), ("resp_bytes", "count"), ("conn_state", "string"),
    ("local_orig", "bool"), ("local_resp", "bool"), ("missed_bytes", "count"), ("history", "string"),
    ("orig_pkts", "count"), ("orig_ip_bytes", "count"), ("resp_pkts", "count"), ("resp_ip_bytes", "count"),
    ("tunnel_parents", "set[string]"), ("community_id", "string"),
)


def rows(conns) -> list[dict]:
    """conn.log records (key -> value, None for unset) for ``conns``, in
    order of their start time as Zeek's log would sort."""
    out = []
    for conn in conns:
        c, s = conn.client, conn.server
        cid = community_id(c.addr, c.port, s.addr, s.port)
        pieces = list(conn.rare.zrows or ()) + [current_row(conn, conn.last_seen)]
        for row in pieces:
            o, r = (s, c) if row.flip else (c, s)
            duration = row.last - row.first
            # set_conn logs duration and the byte sizes only for a
            # connection that lasted, and history only when there is one.
            lasted = duration > 0
            out.append({
                "ts": row.first, "uid": row.uid,
                "id.orig_h": ip_text(o.addr), "id.orig_p": o.port,
                "id.resp_h": ip_text(r.addr), "id.resp_p": r.port,
                "proto": "tcp", "service": None,
                "duration": duration if lasted else None,
                "orig_bytes": row.orig_bytes if lasted else None,
                "resp_bytes": row.resp_bytes if lasted else None,
                "conn_state": row.conn_state, "local_orig": None, "local_resp": None,
                "missed_bytes": row.missed_bytes, "history": row.history or None,
                "orig_pkts": row.orig_pkts, "orig_ip_bytes": row.orig_ip_bytes,
                "resp_pkts": row.resp_pkts, "resp_ip_bytes": row.resp_ip_bytes,
                "tunnel_parents": None, "community_id": cid,
            })
    out.sort(key=lambda d: d["ts"])
    return out
