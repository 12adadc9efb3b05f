"""The report document of ``shared/spec/report-contract.md`` (schema_version 1)."""
from __future__ import annotations

import math
from collections import Counter

from .. import __version__
from ..connection import ip_text
from ..states import STATE_NAMES
from ..zeek import conn_state

SCHEMA_VERSION = 1


def _time(t):
    """Timestamps as JSON numbers, never NaN or Infinity (not valid JSON)."""
    if t is None or not math.isfinite(t):
        return None
    return round(t, 6)


def connection_entry(conn, cid: int) -> dict:
    c, s = conn.client, conn.server
    return {
        "id": cid,
        "client": {"ip": ip_text(c.addr), "port": c.port, "state": STATE_NAMES[c.state]},
        "server": {"ip": ip_text(s.addr), "port": s.port, "state": STATE_NAMES[s.state]},
        "roles_inferred": conn.roles_inferred,
        "first_seen": _time(conn.first_seen),
        "last_seen": _time(conn.last_seen),
        "duration": _time(conn.last_seen - conn.first_seen),
        "packets": {"client": c.packets, "server": s.packets},
        "bytes": {"client": c.bytes, "server": s.bytes},
        "retransmissions": {"client": c.retransmits, "server": s.retransmits},
        "handshake": conn.handshake,
        "close": conn.close,
        "history": conn.history,
        "conn_state": conn_state(conn),
        "anomalies": [],
    }


def build_report(analysis, anomalies=()) -> dict:
    stats = analysis.stats
    conns = analysis.connections
    entries = [connection_entry(conn, conn.id or i) for i, conn in enumerate(conns, 1)]
    by_id = {e["id"]: e for e in entries}
    for a in anomalies:
        for cid in a.connections:
            entry = by_id.get(cid)
            if entry is not None and a.type not in entry["anomalies"]:
                entry["anomalies"].append(a.type)
    start = stats.start
    end = stats.end
    states = {"client": Counter(), "server": Counter()}
    for e in entries:
        states["client"][e["client"]["state"]] += 1
        states["server"][e["server"]["state"]] += 1
    damage = stats.damages[0] if stats.damages else None
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "tcpflow-analyze", "version": __version__},
        "capture": {
            "files": list(stats.files),
            "packets": stats.packets,
            "tcp_packets": stats.tcp_packets,
            "skipped": dict(stats.skipped),
            "truncated": stats.truncated,
            "truncation": damage.as_dict() if damage else None,
            "damage": [d.as_dict() for d in stats.damages],
            "start": _time(start),
            "end": _time(end),
            "duration": _time(end - start) if start is not None else 0.0,
            "link_types": sorted(stats.linktypes),
        },
        "options": dict(analysis.options),
        "connections": entries,
        "anomalies": [a.as_dict() for a in anomalies],
        "summary": {
            "connections": len(entries),
            "states": {side: dict(sorted(counter.items())) for side, counter in states.items()},
            "anomalies": dict(sorted(Counter(a.type for a in anomalies).items())),
            "severities": dict(Counter(a.severity for a in anomalies)),
        },
    }
