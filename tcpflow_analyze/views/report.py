"""The report document of ``shared/spec/report-contract.md`` (schema_version 1)."""
from __future__ import annotations

from collections import Counter

from .. import __version__
from ..engine.folding import SEEN_KEYS, end_states
from ..model.states import STATE_NAMES
from . import findings, record
from .capture import capture_counts, folded_counts
from .record import connection_entry, report_time

SCHEMA_VERSION = 1


class ConnectionEntries:
    """The report's connection list, made entry by entry when iterated.

    A list of dicts for 100,000 connections costs hundreds of megabytes; the
    JSON writer and the table walk this once instead, so only one entry lives
    at a time.  ``list(entries)`` gives the plain list.
    """

    def __init__(self, conns, anomaly_types: dict):
        """``anomaly_types``: connection id -> its anomaly types (a tuple,
        shared by the connections that have the same ones)."""
        self._conns = conns
        self._types = anomaly_types

    def __len__(self) -> int:
        return len(self._conns)

    def __iter__(self):
        types = self._types
        for conn, cid in record.numbered(self._conns):
            yield connection_entry(conn, cid, list(types.get(cid, ())))

    def numbered(self):
        """Each connection with its id, for writers that need no entry dict
        (the table: a row is nine cells)."""
        return record.numbered(self._conns)

    def json_lines(self):
        """Each entry as its JSON text, exactly as ``json.dumps(entry)`` writes
        it, made without the intermediate dict (``record.json_lines``): the
        report's largest part is written at several times the encoder's speed
        (see tests)."""
        return record.json_lines(self._conns, self._types)

    def json_chunks(self, sep: str):
        """``json_lines`` joined by ``sep``, a few hundred lines a chunk (a
        chunk after the first starts with ``sep``): the JSON writer's way,
        which the compiled build writes in place (``record.json_chunks``)."""
        return record.json_chunks(self._conns, self._types, sep)


def build_report(analysis, anomalies=(), connections=None, counted=None, selected=False) -> dict:
    """The report document; ``connections`` (default: all) are the ones
    listed; ``counted`` (default: the listed ones) the ones the summary
    counts -- ``--top`` cuts the list, never the counts; ``selected``:
    ``counted`` is what filters selected, not every connection (the capture
    counts then leave the folded connections out: no filter can tell which
    of them it would select)."""
    stats = analysis.stats
    conns = analysis.connections if connections is None else connections
    counted = conns if counted is None else counted
    # One tuple for each distinct list of types, shared by the connections
    # that have it: a capture's anomalous connections are many and their
    # lists few, and the lists are held while the report is written.
    types: dict[int, tuple] = {}
    lists: dict[tuple, tuple] = {}
    for a in anomalies:
        t = a.type
        alone = lists.setdefault((t,), (t,))
        for cid in a.connections:
            listed = types.get(cid)
            if listed is None:
                # Its first type (nearly every listed connection has one).
                types[cid] = alone
            elif t not in listed:
                listed += (t,)
                types[cid] = lists.setdefault(listed, listed)
    entries = ConnectionEntries(conns, types)
    start = stats.start
    end = stats.end
    states = {side: Counter({STATE_NAMES[state]: n for state, n in enumerate(counts) if n})
              for side, counts in zip(("client", "server"), end_states(counted))}
    # What the capture showed and missed (views.capture), counted as the
    # views' notices count it: the folded connections' counts included
    # (``omitted_counts`` says how much of each is theirs).
    folds = getattr(analysis, "folds", None)
    folded = folds.seen if folds is not None else None
    seen = capture_counts(counted, folded_counts(analysis, selected))
    if folds is not None:
        for g in folds.groups.values():
            states["client"].update(g.client_states)
            states["server"].update(g.server_states)
    damage = stats.damages[0] if stats.damages else None
    report = {
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
            # TCP segments found inside each tunnel (decode.tunnel), by name.
            "encapsulations": dict(sorted(stats.encapsulations.items())),
            "evicted": stats.evicted,
            "connections_omitted": stats.connections_omitted,
            # Connections the capture shows one way only (their record's
            # one_sided), and those whose states rest partly on inference.
            "one_sided": seen["one_sided"],
            "states_inferred": seen["states_inferred"],
            "missed_bytes": seen["missed_bytes"],
            # Packets the capture holds twice.
            "duplicates": seen["duplicates"],
            "capture_loss": seen["capture_loss"],
            # The folded connections' part of the five counts above (of
            # capture_loss: acks, gaps, holes), which no listed connection
            # shows; counted in them unless filters selected the report's
            # connections.
            "omitted_counts": dict(folded) if folded is not None else dict.fromkeys(SEEN_KEYS, 0),
            "omitted": [g.as_dict() for g in folds.groups.values()] if folds is not None else [],
        },
        "options": analysis.options.as_dict(),
        "connections": entries,
        "anomalies": [a.as_dict() for a in anomalies],
        "summary": {
            "connections": len(counted),
            "connections_total": len(counted) + stats.connections_omitted,
            "states": {side: dict(sorted(counter.items())) for side, counter in states.items()},
            "anomalies": dict(sorted(Counter(a.type for a in anomalies).items())),
            "severities": dict(Counter(a.severity for a in anomalies)),
        },
    }
    # What a person reads first (views.findings): the findings worst first,
    # and what the report could not see.
    report["summary"]["findings"] = findings.findings(report["anomalies"])
    report["summary"]["notices"] = findings.notices(report)
    return report
