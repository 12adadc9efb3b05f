"""Bounded memory for what the report keeps.

A flood of SYNs from millions of spoofed sources is millions of one-packet
connections.  Past ``max_report_connections`` finished connections, further
ones are *folded* into one aggregate per (kind, server address, server port):
counts, time span, end states, and the heaviest sources by a Space-Saving
sketch (Metwally et al., 2005) of fixed size, so memory stays bounded however
many sources there are.  The detectors read the folds beside the connections,
so a flood is still one anomaly with counts and top sources.

What the capture showed and missed of a folded connection (its loss
counters: ``capture_sums``) is summed too, so that the report's capture
counts and loss estimate (``views.capture``) do not depend on how many
connections the caps let the report list.
"""
from __future__ import annotations

from array import array
from collections import Counter

from ..model.connection import HS_ACK, HS_SYNACK, Connection
from ..model.text import address_port_text, ip_text
from ..model.states import CLOSED, STATE_NAMES

# What a folded connection was, for the detectors that count them.
SYN_ONLY = "syn_only"          # SYN(s) with no answer at all
EMBRYONIC = "embryonic"        # SYN-ACK never acknowledged
REFUSED = "refused"            # SYN answered by RST
OTHER = "other"

SKETCH_SIZE = 32

# The counts ``capture_sums`` gives, in the report's own names (its capture
# section, views.capture): what the capture showed of some connections and
# what it missed.
SEEN_KEYS = ("one_sided", "states_inferred", "missed_bytes", "duplicates", "acks", "gaps", "holes")


def capture_sums(conns) -> dict:
    """``SEEN_KEYS`` counted over ``conns``: connections seen one way only,
    connections whose states rest on inference, bytes acknowledged but never
    seen, packets held twice, and Zeek's ACK events and gaps
    (``views.capture.capture_loss``) with the sequence holes.  One count for
    the listed connections (``views.capture``) and the folded ones (``Folds``)."""
    one_sided = inferred = missed = duplicates = acks = gaps = holes = 0
    for conn in conns:
        c, s = conn.client, conn.server
        # Capture loss counts only sides the capture shows: a one-way
        # capture is not a lossy one (capture.one_sided says so).  An
        # endpoint's first acknowledgment acknowledges the SYN (or is the
        # one a mid-stream capture starts from): not an ACK event in Zeek's
        # sense, which counts from the first data on (its trim_seq).  Nor
        # does Zeek count connections whose handshake it missed
        # (report_gaps_for_partial is F): a capture joined mid-stream
        # acknowledges bytes from before its start.  So is the new instance
        # that the later packets of a connection --max-connections evicted
        # start (engine.table._evict): it knows nothing of what its
        # predecessor saw, so its first segment, a keepalive probe (one
        # below SND.NXT) or a retransmission, sets a SND.NXT that the peer's
        # next ACK runs past -- a gap the capture did not lose
        # (tests/test_capture_gaps.py).  Its ACK events are left out, and
        # the notice on evictions says so (views.findings); what the
        # evicted instance itself saw stays counted, listed or folded.
        if c.packets and s.packets and conn.hs:
            # max(acks - 1, 0) of each side, without two calls per connection.
            ca, sa = c.acks, s.acks
            acks += (ca - 1 if ca else 0) + (sa - 1 if sa else 0)
            gaps += c.rare.gap_acks + s.rare.gap_acks
            holes += c.rare.seq_holes + s.rare.seq_holes
        if conn.one_sided:
            one_sided += 1
        if conn.evidence:
            inferred += 1
        cr, sr = c.rare, s.rare
        missed += cr.missed + sr.missed
        duplicates += cr.duplicates + cr.ctl_duplicates + sr.duplicates + sr.ctl_duplicates
    return {"one_sided": one_sided, "states_inferred": inferred, "missed_bytes": missed,
            "duplicates": duplicates, "acks": acks, "gaps": gaps, "holes": holes}


def end_states(conns) -> tuple:
    """How many of ``conns``' clients, and how many of their servers, end
    in each state: two arrays by state code (the report's summary).  One
    compiled pass: the same count through a Counter per side took the report
    60 ms on the 2M bench capture's 101,447 connections."""
    clients = array("q", bytes(8 * len(STATE_NAMES)))
    servers = array("q", bytes(8 * len(STATE_NAMES)))
    by_client, by_server = clients, servers   # (compiled: typed views of them)
    for conn in conns:
        by_client[conn.client.state] += 1
        by_server[conn.server.state] += 1
    return clients, servers


class SpaceSaving:
    """The k heaviest items of a stream in O(k) memory (counts may overestimate)."""

    __slots__ = ("k", "counts")

    def __init__(self, k: int = SKETCH_SIZE):
        self.k = k
        self.counts: dict = {}

    def add(self, item) -> None:
        counts = self.counts
        if item in counts:
            counts[item] += 1
        elif len(counts) < self.k:
            counts[item] = 1
        else:
            victim = min(counts, key=counts.__getitem__)
            counts[item] = counts.pop(victim) + 1

    def top(self, n: int):
        return sorted(self.counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def merged(self, other: "SpaceSaving") -> "SpaceSaving":
        """One sketch of both streams: the counts added, the k heaviest kept."""
        out = SpaceSaving(self.k)
        counts = dict(self.counts)
        for item, n in other.counts.items():
            counts[item] = counts.get(item, 0) + n
        out.counts = dict(sorted(counts.items(), key=lambda kv: -kv[1])[:out.k])
        return out


class FoldedGroup:
    __slots__ = ("kind", "server_addr", "server_port", "count", "first", "last", "sources",
                 "client_states", "server_states", "syn_counts", "syn_cookies", "held")

    def __init__(self, kind, server_addr, server_port):
        self.kind = kind
        self.server_addr = server_addr
        self.server_port = server_port
        self.count = 0
        self.first = None
        self.last = None
        self.sources = SpaceSaving()
        self.client_states = Counter()
        self.server_states = Counter()
        self.syn_counts = Counter()   # SYNs sent per attempt -> attempts
        self.syn_cookies = 0
        self.held = 0                 # server endpoints not CLOSED at the end

    @property
    def service(self) -> str:
        return address_port_text(ip_text(self.server_addr), self.server_port)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "service": self.service, "count": self.count,
                "first": self.first, "last": self.last,
                "top_sources": [{"endpoint": ip_text(a), "count": n} for a, n in self.sources.top(5)],
                "client_states": dict(self.client_states), "server_states": dict(self.server_states)}


def refused(conn: Connection) -> bool:
    """A connection refused: the client's SYN answered by the server's RST,
    no SYN-ACK ever (nothing listens, or a firewall rejects; Zeek's REJ)."""
    return conn.rare.reset_by is conn.server and not conn.hs & HS_SYNACK and conn.client.syn_count > 0


def syn_only(conn: Connection) -> bool:
    """The client's SYN(s) and nothing at all from the server (Zeek's S0)."""
    # The connection's own handshake bits first: they rule out nearly every
    # connection before either endpoint is read (syn_unanswered asks of all).
    return not conn.hs & HS_SYNACK and conn.client.syn_count > 0 and conn.server.packets == 0


def kind_of(conn: Connection) -> str:
    if conn.hs & HS_SYNACK and not conn.hs & HS_ACK and conn.rare.reset_by is None:
        return EMBRYONIC
    if refused(conn):
        return REFUSED
    if syn_only(conn):
        return SYN_ONLY
    return OTHER


class Folds:
    """Every folded group, by (kind, server address, server port)."""

    def __init__(self):
        self.groups: dict[tuple, FoldedGroup] = {}
        self.total = 0
        # ``capture_sums`` of every folded connection: the capture counts
        # and loss estimate add them to the listed connections' (the
        # report lists neither the connections nor their loss otherwise).
        self.seen = dict.fromkeys(SEEN_KEYS, 0)

    def add(self, conn: Connection) -> None:
        """Fold a finished connection whose timers have been applied."""
        kind = kind_of(conn)
        key = (kind, conn.server.addr, conn.server.port)
        g = self.groups.get(key)
        if g is None:
            g = self.groups[key] = FoldedGroup(kind, conn.server.addr, conn.server.port)
        g.count += 1
        self.total += 1
        g.first = conn.first_seen if g.first is None else min(g.first, conn.first_seen)
        g.last = conn.last_seen if g.last is None else max(g.last, conn.last_seen)
        g.sources.add(conn.client.addr)
        g.client_states[STATE_NAMES[conn.client.state]] += 1
        g.server_states[STATE_NAMES[conn.server.state]] += 1
        g.syn_counts[conn.client.syn_count] += 1
        g.syn_cookies += conn.rare.syn_cookie
        g.held += conn.server.state != CLOSED
        seen = self.seen
        for name, n in capture_sums((conn,)).items():
            seen[name] += n

    def merge(self, other: "Folds") -> None:
        """Add another partition's folds (``analysis.parallel``) to these."""
        for name, n in other.seen.items():
            self.seen[name] += n
        for key, g in other.groups.items():
            mine = self.groups.get(key)
            self.total += g.count
            if mine is None:
                self.groups[key] = g
                continue
            mine.count += g.count
            mine.first = min(mine.first, g.first)
            mine.last = max(mine.last, g.last)
            mine.client_states.update(g.client_states)
            mine.server_states.update(g.server_states)
            mine.syn_counts.update(g.syn_counts)
            mine.syn_cookies += g.syn_cookies
            mine.held += g.held
            mine.sources = mine.sources.merged(g.sources)

    def of_kind(self, kind: str):
        return [g for g in self.groups.values() if g.kind == kind]
