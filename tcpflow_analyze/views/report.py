"""The report document of ``shared/spec/report-contract.md`` (schema_version 1)."""
from __future__ import annotations

from collections import Counter

from .. import __version__
from ..model.states import STATE_NAMES
from . import findings, record
from .record import connection_entry, report_time

SCHEMA_VERSION = 1


class ConnectionEntries:
    """The report's connection list, made entry by entry when iterated.

    A list of dicts for 100,000 connections costs hundreds of megabytes; the
    JSON writer and the table walk this once instead, so only one entry lives
    at a time.  ``list(entries)`` gives the plain list.
    """

    def __init__(self, conns, anomaly_types: dict, forked=None):
        """``forked``: a ``runtime.ForkedLines`` writing these very
        connections' lines, for ``json_lines`` to read instead."""
        self._conns = conns
        self._types = anomaly_types
        self._forked = forked

    def __len__(self) -> int:
        return len(self._conns)

    def __iter__(self):
        types = self._types
        for conn, cid in record.numbered(self._conns):
            yield connection_entry(conn, cid, types.get(cid, []))

    def numbered(self):
        """Each connection with its id, for writers that need no entry dict
        (the table: a row is nine cells)."""
        return record.numbered(self._conns)

    def json_lines(self):
        """Each entry as its JSON text, exactly as ``json.dumps(entry)`` writes
        it, made without the intermediate dict (``record.json_lines``): the
        report's largest part is written at several times the encoder's speed
        (see tests)."""
        if self._forked is not None:
            return self._forked.lines(self._types)
        return record.json_lines(self._conns, self._types)


def capture_loss(acks: int, gaps: int, holes: int) -> dict:
    """Zeek's capture-loss estimate (policy/misc/capture-loss.zeek): of the
    ACK events seen (an acknowledgment advancing), the share that
    acknowledged bytes the capture never showed (gaps), in percent.  A
    sender's bytes acknowledged by its peer were sent, so the capture, not
    the network, lost them.  Unlike Zeek, an acknowledged FIN the capture
    never showed counts as a gap too: it is how a capture that lost the
    closes looks.  ``holes``: new segments that started past what their
    sender was seen to send (tshark's "previous segment not captured"),
    whether or not a retransmission later filled them -- loss on the way
    to the capture point shows there too."""
    return {"acks": acks, "gaps": gaps, "percent": round(100.0 * gaps / acks, 3) if acks else 0.0,
            "holes": holes}


def build_report(analysis, anomalies=(), connections=None, forked=None, counted=None) -> dict:
    """The report document; ``connections`` (default: all) are the ones
    listed; ``counted`` (default: the listed ones) the ones the summary
    counts -- ``--top`` cuts the list, never the counts; ``forked``: the
    listed connections' JSON lines, being written by a child
    (``runtime.ForkedLines``)."""
    stats = analysis.stats
    conns = analysis.connections if connections is None else connections
    counted = conns if counted is None else counted
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
    one_sided = inferred = missed = duplicates = acks = gaps = holes = 0
    for conn in counted:
        c, s = conn.client, conn.server
        # Capture loss counts only sides the capture shows: a one-way
        # capture is not a lossy one (capture.one_sided says so).  An
        # endpoint's first acknowledgment acknowledges the SYN (or is the
        # one a mid-stream capture starts from): not an ACK event in Zeek's
        # sense, which counts from the first data on (its trim_seq).  Nor
        # does Zeek count connections whose handshake it missed
        # (report_gaps_for_partial is F): a capture joined mid-stream, or a
        # connection --max-connections evicted and met again, acknowledges
        # bytes from before its start.
        if c.packets and s.packets and conn.hs:
            acks += max(c.acks - 1, 0) + max(s.acks - 1, 0)
            gaps += c.gap_acks + s.gap_acks
            holes += c.seq_holes + s.seq_holes
        states["client"][STATE_NAMES[conn.client.state]] += 1
        states["server"][STATE_NAMES[conn.server.state]] += 1
        if conn.one_sided:
            one_sided += 1
        if conn.evidence:
            inferred += 1
        missed += conn.client.missed + conn.server.missed
        duplicates += (conn.client.duplicates + conn.client.ctl_duplicates
                       + conn.server.duplicates + conn.server.ctl_duplicates)
    folds = getattr(analysis, "folds", None)
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
            "one_sided": one_sided,
            "states_inferred": inferred,
            "missed_bytes": missed,
            # Packets of the listed connections the capture holds twice.
            "duplicates": duplicates,
            "capture_loss": capture_loss(acks, gaps, holes),
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
