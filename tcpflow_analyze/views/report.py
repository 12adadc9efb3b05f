"""The report document of ``shared/spec/report-contract.md`` (schema_version 1)."""
from __future__ import annotations

import math
from collections import Counter

from .. import __version__
from ..model.text import ip_text
from ..model.states import STATE_NAMES
from ..engine.zeek import conn_state

SCHEMA_VERSION = 1


def report_time(t):
    """Timestamps as JSON numbers, never NaN or Infinity (not valid JSON)."""
    if t is None or not math.isfinite(t):
        return None
    return round(t, 6)


def _json_time(t) -> str:
    """The JSON text of ``report_time(t)``, fast: the connection lines' hot spot.

    Between 1e-4 and 2**32 a double is finer than a microsecond, so the
    shortest text of ``round(t, 6)`` (what ``repr`` writes) is ``t`` printed
    to six places without its trailing zeros -- twice as fast to make.
    Outside that range (tiny durations print with an exponent, far-future
    times lose digits) ``repr`` itself is asked.
    """
    if t is None:
        return "null"
    if 1e-4 <= t < 4294967296.0:
        text = "%.6f" % t
        text = text.rstrip("0")
        return text + "0" if text[-1] == "." else text
    return repr(round(t, 6)) if -_INF < t < _INF else "null"


_INF = float("inf")


def connection_entry(conn, cid: int) -> dict:
    c, s = conn.client, conn.server
    return {
        "id": cid,
        "client": {"ip": ip_text(c.addr), "port": c.port, "state": STATE_NAMES[c.state]},
        "server": {"ip": ip_text(s.addr), "port": s.port, "state": STATE_NAMES[s.state]},
        "roles_inferred": conn.roles_inferred,
        "first_seen": report_time(conn.first_seen),
        "last_seen": report_time(conn.last_seen),
        "duration": report_time(conn.last_seen - conn.first_seen),
        "packets": {"client": c.packets, "server": s.packets},
        "bytes": {"client": c.bytes, "server": s.bytes},
        "retransmissions": {"client": c.retransmits, "server": s.retransmits},
        "handshake": conn.handshake,
        "close": conn.close,
        "history": conn.history,
        "conn_state": conn_state(conn),
        "anomalies": [],
    }


def anomaly_list_text(types) -> str:
    """A connection's ``anomalies`` list as its JSON line writes it."""
    return "[" + ", ".join(f'"{t}"' for t in types) + "]"


class ConnectionEntries:
    """The report's connection list, made entry by entry when iterated.

    A list of dicts for 100,000 connections costs hundreds of megabytes; the
    JSON writer and the table walk this once instead, so only one entry lives
    at a time.  ``list(entries)`` still gives the plain list.
    """

    def __init__(self, conns, anomaly_types: dict, forked=None):
        """``forked``: a ``forked_lines.ForkedLines`` writing these very
        connections' lines, for ``json_lines`` to read instead."""
        self._conns = conns
        self._types = anomaly_types
        self._forked = forked

    def __len__(self) -> int:
        return len(self._conns)

    def __iter__(self):
        types = self._types
        for i, conn in enumerate(self._conns, 1):
            entry = connection_entry(conn, conn.id or i)
            entry["anomalies"] = types.get(entry["id"], [])
            yield entry

    def numbered(self):
        """Each connection with its id, for writers that need no entry dict
        (the table: a row is nine cells)."""
        for i, conn in enumerate(self._conns, 1):
            yield conn, conn.id or i

    def json_lines(self):
        """Each entry as its JSON text, exactly as ``json.dumps(entry)`` writes
        it, made without the intermediate dict: the report's largest part is
        written at several times the encoder's speed (see tests)."""
        types = self._types
        if self._forked is not None:
            yield from self._forked.lines(types)
            return
        for i, conn in enumerate(self._conns, 1):
            cid = conn.id or i
            c, s = conn.client, conn.server
            first, last = conn.first_seen, conn.last_seen
            listed = types.get(cid)
            anomalies = anomaly_list_text(listed) if listed else "[]"
            yield (
                f'{{"id": {cid}, "client": {{"ip": "{ip_text(c.addr)}", "port": {c.port}, '
                f'"state": "{STATE_NAMES[c.state]}"}}, "server": {{"ip": "{ip_text(s.addr)}", '
                f'"port": {s.port}, "state": "{STATE_NAMES[s.state]}"}}, '
                f'"roles_inferred": {"true" if conn.roles_inferred else "false"}, '
                f'"first_seen": {_json_time(first)}, "last_seen": {_json_time(last)}, '
                f'"duration": {_json_time(last - first)}, '
                f'"packets": {{"client": {c.packets}, "server": {s.packets}}}, '
                f'"bytes": {{"client": {c.bytes}, "server": {s.bytes}}}, '
                f'"retransmissions": {{"client": {c.retransmits}, "server": {s.retransmits}}}, '
                f'"handshake": "{conn.handshake}", "close": "{conn.close}", "history": "{conn.history}", '
                f'"conn_state": "{conn_state(conn)}", "anomalies": {anomalies}}}')

    def __getitem__(self, index):
        return list(self)[index]

    def __eq__(self, other):
        return list(self) == list(other)


def build_report(analysis, anomalies=(), connections=None, forked=None) -> dict:
    """The report document; ``connections`` (default: all) are the ones
    listed; ``forked``: their JSON lines, being written by a child
    (``forked_lines``)."""
    stats = analysis.stats
    conns = analysis.connections if connections is None else connections
    types: dict[int, list] = {}
    for a in anomalies:
        for cid in a.connections:
            listed = types.setdefault(cid, [])
            if a.type not in listed:
                listed.append(a.type)
    entries = ConnectionEntries(conns, types, forked)
    start = stats.start
    end = stats.end
    states = {"client": Counter(), "server": Counter()}
    for conn in conns:
        states["client"][STATE_NAMES[conn.client.state]] += 1
        states["server"][STATE_NAMES[conn.server.state]] += 1
    folds = getattr(analysis, "folds", None)
    if folds is not None:
        for g in folds.groups.values():
            states["client"].update(g.client_states)
            states["server"].update(g.server_states)
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
            "start": report_time(start),
            "end": report_time(end),
            "duration": report_time(end - start) if start is not None else 0.0,
            "link_types": sorted(stats.linktypes),
            "evicted": stats.evicted,
            "connections_omitted": stats.connections_omitted,
            "omitted": [g.as_dict() for g in folds.groups.values()] if folds is not None else [],
        },
        "options": analysis.options.as_dict(),
        "connections": entries,
        "anomalies": [a.as_dict() for a in anomalies],
        "summary": {
            "connections": len(entries),
            "connections_total": len(entries) + stats.connections_omitted,
            "states": {side: dict(sorted(counter.items())) for side, counter in states.items()},
            "anomalies": dict(sorted(Counter(a.type for a in anomalies).items())),
            "severities": dict(Counter(a.severity for a in anomalies)),
        },
    }
