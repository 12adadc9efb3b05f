"""The ``services`` view: each server ``ip:port`` and each client host, with states.

What ``tshark -z endpoints,tcp``, Zeek's connection summaries and ``ss -s``
give a person on call, per service: how many connections, how many failed
and how (refused, reset, unanswered), what the server still holds at the end
(open, TIME_WAIT, CLOSE_WAIT), how lossy (retransmission rate), how slow to
answer (handshake RTT, connect time when a SYN had to be retried) and how
much went each way; and per client host: the same, with the ephemeral ports
it holds.  ``build`` makes the document (plain dicts and lists); the CLI's
``services`` command and the HTML report render it.

Folded connections (``--max-report-connections``, ``engine.folding``) are
counted per service from their aggregates, in the columns those keep;
``notices`` says what the view could not see, as every output does
(views.findings); ``unseen`` what its columns miss of the folded ones.
"""
from __future__ import annotations

import math
from ..analysis.timeline import sweep_sorted
from ..engine.folding import REFUSED, SYN_ONLY, kind_of, refused
from ..model.states import CLOSED, LISTEN, STATE_NAMES, SYNCHRONIZED, TIME_WAIT, UNKNOWN
from ..model.text import address_port_text, ip_text
from .findings import analysis_notices
from .record import report_time, values_getter

BY = ("service", "client", "both")
DEFAULT_TOP = 20

# An endpoint that still holds its connection open at the end: any state but
# these (TIME_WAIT has its own column; UNKNOWN was never seen to send).
NOT_OPEN = frozenset((CLOSED, LISTEN, TIME_WAIT, UNKNOWN))
_NOT_OPEN_NAMES = frozenset(STATE_NAMES[s] for s in NOT_OPEN)

# The handshake's times come from the connection record (views.record), so
# the view and the JSON/CSV report cannot disagree.
_HANDSHAKE = values_getter("handshake_rtt", "connect_time", "syn_retries")


def _rtt_key(row):
    rtt = row["handshake_rtt"]
    return rtt["median"], rtt["p99"]


# --sort: a row's key, largest first (None sorts last).
SORT_KEYS = {
    "connections": lambda row: row["connections"],
    "refused": lambda row: row["refused"],
    "reset": lambda row: row["reset"],
    "unanswered": lambda row: row["unanswered"],
    "open": lambda row: row["open"],
    "time_wait": lambda row: row["time_wait"],
    "close_wait": lambda row: row["close_wait"],
    "retrans": lambda row: (row["retransmission_rate"], row["retransmissions"]),
    "rtt": _rtt_key,
    "bytes": lambda row: row["bytes"]["client"] + row["bytes"]["server"],
}
DEFAULT_SORT = "connections"


def reset_when_synchronized(conn) -> bool:
    """A RST accepted on a synchronized connection (RFC 9293 3.3.2): an
    abort, not a refusal of the SYN."""
    prior = conn.rare.rst_prior
    return conn.rare.reset_by is not None and prior is not None and (prior[0] in SYNCHRONIZED or prior[1] in SYNCHRONIZED)


class _Tally:
    """One row's counts: a service (its server endpoints) or a client host
    (its client endpoints); ``peers``: the other side's names."""

    __slots__ = ("connections", "folded", "refused", "reset", "unanswered", "open", "time_wait", "close_wait",
                 "retransmissions", "segments", "rtts", "connects", "packets", "bytes", "peers", "peers_exact",
                 "states")

    def __init__(self):
        self.connections = self.folded = self.refused = self.reset = self.unanswered = 0
        self.open = self.time_wait = self.close_wait = 0
        self.retransmissions = self.segments = 0
        self.rtts = []
        self.connects = []       # connect times of the connections whose SYN was retried
        self.packets = [0, 0]    # from the client, from the server
        self.bytes = [0, 0]
        self.peers = set()
        self.peers_exact = True
        self.states = {}         # this side's endpoints at the end, but CLOSED: state name -> count

    def add(self, conn, ep, peer, facts) -> None:
        """A listed connection; ``ep``: this row's endpoint of it; ``facts``: ``_facts``'."""
        c, s = conn.client, conn.server
        was_refused, was_reset, unanswered, rtt, retried_connect = facts
        self.connections += 1
        self.refused += was_refused
        self.reset += was_reset
        self.unanswered += unanswered
        self._state(STATE_NAMES[ep.state], 1)
        self.retransmissions += c.retransmits + s.retransmits
        self.segments += c.packets + s.packets
        if rtt is not None:
            self.rtts.append(rtt)
        if retried_connect is not None:
            self.connects.append(retried_connect)
        self.packets[0] += c.packets
        self.packets[1] += s.packets
        self.bytes[0] += c.bytes
        self.bytes[1] += s.bytes
        self.peers.add(peer)

    def add_folded(self, group, n: int, states=None) -> None:
        """``n`` connections of a folded aggregate (``engine.folding.FoldedGroup``),
        with their end states on this row's side if known: counts and end
        states survive folding; times, bytes and resets do not."""
        self.connections += n
        self.folded += n
        if group.kind == REFUSED:
            self.refused += n
        elif group.kind == SYN_ONLY:
            self.unanswered += n
        for name, k in (states or {}).items():
            self._state(name, k)

    def add_folded_service(self, group) -> None:
        """A service's folded aggregate, all of it."""
        self.add_folded(group, group.count, group.server_states)
        sources = group.sources
        self.peers.update(sources.counts)  # addresses, as add() keeps them
        if len(sources.counts) >= sources.k:
            self.peers_exact = False  # the sketch kept the heaviest sources only

    def _state(self, name: str, n: int) -> None:
        if name == "CLOSED":
            return
        self.states[name] = self.states.get(name, 0) + n
        if name == "TIME_WAIT":
            self.time_wait += n
        elif name == "CLOSE_WAIT":
            self.close_wait += n
        if name not in _NOT_OPEN_NAMES:
            self.open += n

    def row(self) -> dict:
        rtts = sorted(self.rtts)
        connects = sorted(self.connects)
        return {
            "connections": self.connections,
            "folded": self.folded,
            "refused": self.refused,
            "reset": self.reset,
            "unanswered": self.unanswered,
            "open": self.open,
            "time_wait": self.time_wait,
            "close_wait": self.close_wait,
            "retransmissions": self.retransmissions,
            "segments": self.segments,
            "retransmission_rate": round(self.retransmissions / self.segments, 6) if self.segments else None,
            "handshake_rtt": {"count": len(rtts), "median": _median(rtts), "p99": _percentile(rtts, 99)},
            "connect_time": {"retried": len(connects), "median": _median(connects),
                             "max": report_time(connects[-1]) if connects else None},
            "packets": {"client": self.packets[0], "server": self.packets[1]},
            "bytes": {"client": self.bytes[0], "server": self.bytes[1]},
        }


def _median(values: list):
    """The median of sorted ``values`` (None when empty)."""
    n = len(values)
    if not n:
        return None
    mid = n // 2
    return report_time(values[mid] if n % 2 else (values[mid - 1] + values[mid]) / 2)


def _percentile(values: list, p: float):
    """The nearest-rank ``p``th percentile of sorted ``values``: a value
    that was measured, never one interpolated between two."""
    if not values:
        return None
    return report_time(values[max(0, math.ceil(p / 100 * len(values)) - 1)])


# ---------------------------------------------------------------------- the tables
def _facts(conns) -> list[tuple]:
    """Each connection with what both tables count of it, worked out once:
    (conn, (refused, reset, unanswered, handshake RTT, connect time if a
    SYN was retried))."""
    out = []
    for conn in conns:
        rtt, connect, retries = _HANDSHAKE(conn, 0)
        out.append((conn, (refused(conn), reset_when_synchronized(conn), kind_of(conn) == SYN_ONLY, rtt,
                           connect if retries else None)))
    return out


def _services(facts, folds) -> list[dict]:
    tallies: dict[tuple, _Tally] = {}
    for conn, f in facts:
        s = conn.server
        t = tallies.get((s.addr, s.port))
        if t is None:
            t = tallies[(s.addr, s.port)] = _Tally()
        t.add(conn, s, conn.client.addr, f)
    for g in folds:
        t = tallies.get((g.server_addr, g.server_port))
        if t is None:
            t = tallies[(g.server_addr, g.server_port)] = _Tally()
        t.add_folded_service(g)
    rows = []
    for (addr, port), t in tallies.items():
        ip = ip_text(addr)
        row = {"service": address_port_text(ip, port), "ip": ip, "port": port}
        row.update(t.row())
        row["clients"] = len(t.peers)
        row["clients_exact"] = t.peers_exact
        row["states"] = dict(sorted(t.states.items()))
        rows.append(row)
    return rows


class Unplaced:
    """Folded connections the client table cannot place: ``clients``, those
    whose clients the sketch did not keep exactly; ``states``, those placed
    whose end states are not known per client (their group had several)."""

    def __init__(self):
        self.clients = 0
        self.states = 0


def _clients(facts, folds, unplaced: Unplaced) -> tuple[list[dict], dict]:
    """The client hosts' rows, without their ports' peak (``_add_peaks``
    works it out for the rows shown); and each host's client endpoints, by
    its row's name."""
    tallies: dict[bytes, _Tally] = {}
    endpoints: dict[bytes, list] = {}

    def tally(addr) -> _Tally:
        t = tallies.get(addr)
        if t is None:
            t = tallies[addr] = _Tally()
            endpoints[addr] = []
        return t

    for conn, f in facts:
        c = conn.client
        t = tally(c.addr)
        t.add(conn, c, (conn.server.addr, conn.server.port), f)
        endpoints[c.addr].append(c)
    for g in folds:
        sources = g.sources.counts
        if len(sources) >= g.sources.k:
            # The sketch is full: its counts may overestimate, and lighter
            # sources are gone.
            unplaced.clients += g.count
            continue
        one = len(sources) == 1
        for addr, n in sources.items():
            t = tally(addr)
            t.add_folded(g, n, g.client_states if one else None)
            t.peers.add((g.server_addr, g.server_port))
        if not one:
            unplaced.states += g.count
    rows = []
    for addr, t in tallies.items():
        row = {"host": ip_text(addr)}
        row.update(t.row())
        row["servers"] = len(t.peers)
        row["ports_in_use"] = sum(t.states.values()) - t.states.get("UNKNOWN", 0)
        row["states"] = dict(sorted(t.states.items()))
        rows.append(row)
    return rows, {ip_text(addr): eps for addr, eps in endpoints.items()}


def _add_peaks(rows: list[dict], endpoints: dict, end) -> None:
    """Each row's ``ports_peak``: the most client endpoints it held at once
    (at its ``ports_peak_time``)."""
    for row in rows:
        spans = [span for span in map(_port_span, endpoints[row["host"]]) if span is not None]
        peak, peak_time, _, _ = sweep_sorted(sorted(a for a, _ in spans), sorted(b for _, b in spans))
        if row["ports_in_use"] > peak:
            # Folded connections have no times, only end states: the end is
            # the peak they show.
            peak, peak_time = row["ports_in_use"], end
        row["ports_peak"] = peak
        row["ports_peak_time"] = report_time(peak_time)


_INF = float("inf")


def _port_span(ep):
    """(from, to) the endpoint held its port: from its first state but
    CLOSED to its last CLOSED (infinity if it holds it at the end); None if
    it never held one."""
    flat = ep.trans_flat
    start = None
    for i in range(1, len(flat), 2):
        if flat[i] != CLOSED and flat[i] != UNKNOWN:
            start = flat[i - 1]
            break
    if start is None:
        return None
    if ep.state == CLOSED:
        return start, max(start, flat[-2])
    return start, _INF


def _ranked(rows: list[dict], sort: str, name: str) -> list[dict]:
    """``rows`` largest first by ``sort`` (those without a value last), then
    by connections, then by name."""
    key = SORT_KEYS[sort]

    def order(row):
        k = key(row)
        if not isinstance(k, tuple):
            k = (k,)
        missing = k[0] is None
        return (missing, tuple(-(v or 0) for v in k), -row["connections"], row[name])
    return sorted(rows, key=order)


def _unseen(analysis, filtered: bool, unplaced: Unplaced) -> list[str]:
    """What this view's columns miss of the folded connections, one sentence
    each; that they were folded, evicted or the capture damaged, the notices
    say (views.findings, worded once for every output)."""
    folds = getattr(analysis, "folds", None)
    out = []
    folded = folds.total if folds is not None else 0
    if folded and filtered:
        out.append("The folded connections are left out: filters select listed connections only.")
    elif folded:
        out.append("The folded connections count in connections, refused, unanswered and end states, not in "
                   "resets, retransmissions, times, bytes or ports peak.")
    if unplaced.clients:
        out.append(f"{unplaced.clients:,} folded connections are not in the client table: their services "
                   "had more clients than the fold keeps.")
    if unplaced.states:
        out.append(f"{unplaced.states:,} folded connections count in their clients' connections but not in "
                   "their end states: their services had several clients.")
    return out


def build(analysis, *, sort: str = DEFAULT_SORT, top: int | None = DEFAULT_TOP, by: str = "both",
          filtered: bool = False) -> dict:
    """The services view's document, for the ``services`` command and the
    HTML report: services and/or client hosts (``by``), ranked by ``sort``
    (a SORT_KEYS name), the first ``top`` of each (None: all); ``filtered``:
    ``analysis.connections`` is a selection, so the folded aggregates (of
    the whole capture) are left out."""
    if sort not in SORT_KEYS:
        raise ValueError(f"sort: {sort!r} is not one of {', '.join(SORT_KEYS)}")
    if by not in BY:
        raise ValueError(f"by: {by!r} is not one of {', '.join(BY)}")
    stats = analysis.stats
    folds = getattr(analysis, "folds", None)
    groups = list(folds.groups.values()) if folds is not None and not filtered else []
    start, end = stats.start, stats.end
    doc = {
        "capture": {"files": list(stats.files), "start": report_time(start), "end": report_time(end),
                    "duration": report_time(end - start) if start is not None else 0.0,
                    "packets": stats.packets, "tcp_packets": stats.tcp_packets},
        "sort": sort,
        "top": top,
        "connections": len(analysis.connections) + sum(g.count for g in groups),
        "folded": sum(g.count for g in groups),
        "evicted": stats.evicted,
        "notices": analysis_notices(analysis),
    }
    unplaced = Unplaced()
    facts = _facts(analysis.connections)
    if by in ("service", "both"):
        rows = _ranked(_services(facts, groups), sort, "service")
        doc["services"] = rows[:top] if top else rows
        doc["services_total"] = len(rows)
        doc["services_left_out"] = len(rows) - len(doc["services"])
    if by in ("client", "both"):
        rows, endpoints = _clients(facts, groups, unplaced)
        rows = _ranked(rows, sort, "host")
        doc["clients"] = rows[:top] if top else rows
        _add_peaks(doc["clients"], endpoints, end)
        doc["clients_total"] = len(rows)
        doc["clients_left_out"] = len(rows) - len(doc["clients"])
    doc["unseen"] = _unseen(analysis, filtered, unplaced)
    return doc


__all__ = ["BY", "DEFAULT_SORT", "DEFAULT_TOP", "SORT_KEYS", "build", "reset_when_synchronized"]
