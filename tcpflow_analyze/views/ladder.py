"""The ladder diagram of one connection: every segment, both endpoints' states.

The textbook picture of RFC 9293 (section 3.5's figures): the client on the
left, the server on the right, one arrow per segment, and each side's state
written in its own column when it changes.  It is drawn from the same state
machines as the report: the capture is analyzed again with a
``RecordingTracker``, a subclass of the normal tracker that watches only the
selected 4-tuple and snapshots, around each of its packets, which connection
instance the tracker gave the packet to and both endpoints' states after it.
The normal tracker is untouched, so the report's hot path costs nothing more.

Three kinds of event make up a ladder:

* ``segment``: a packet of this connection instance;
* ``handover``: a packet of *another* instance on the same 4-tuple changed this
  one's states (a new SYN ends the sender's old TCB; a SYN-ACK for the new
  instance retires the old one -- one 4-tuple, one socket);
* ``timer``: a change the capture cannot show, inferred at its end from
  kernel timers or silence (TIME_WAIT's 2*MSL, tcp_fin_timeout, SYN retries,
  a SYN cookie, a peer that stopped answering), dated when it happened.
"""
from __future__ import annotations

import ipaddress
import re
import struct
import textwrap
from dataclasses import dataclass, field
from typing import NamedTuple

from .. import detectors
from ..analyzer import Analysis, analyze
from ..connection import HS_ACK, HS_SYNACK, SEQ_MASK, endpoint_text, reverse_key, transitions
from ..decode import ACK, CWR, ECE, FIN, PSH, RST, SYN, URG
from ..report.model import connection_entry
from ..states import (
    CLOSED, DEFAULT_FIN_TIMEOUT, DEFAULT_TIME_WAIT, DEFAULT_UNANSWERED, ESTABLISHED, FIN_WAIT_2,
    LISTEN, STATE_NAMES, SYN_RECEIVED, SYN_RECEIVED_TIMEOUT, SYN_SENT, SYN_SENT_TIMEOUT,
    SYNACK_ANSWER_TIME, TIME_WAIT,
)
from ..tracker import ConnectionTracker

SEGMENT = "segment"
HANDOVER = "handover"
TIMER = "timer"

# A run of quiet segments is folded when it hides at least this many, keeping
# FOLD_KEEP segments visible at each end so the reader sees how data flowed.
FOLD_KEEP = 2
FOLD_MIN = 3

STATE_WIDTH = max(len(n) for n in STATE_NAMES)   # "SYN_RECEIVED"
MIN_ARROW = 16
# Past this, a longer arrow only makes the eye travel: wide terminals get a
# ladder of readable width, not a stretched one.
MAX_ARROW = 72


# ---------------------------------------------------------------------- model
@dataclass
class LadderEvent:
    kind: str                   # SEGMENT, HANDOVER or TIMER
    time: float                 # absolute capture time
    client_state: int           # both endpoints' states after the event
    server_state: int
    from_client: bool | None = None
    flags: int = 0
    seq: int = 0
    ack: int = 0
    length: int = 0             # TCP payload bytes
    window: int = 0             # the window, scaled (RFC 7323) when the scale is known
    window_raw: int = 0         # the window field as sent
    rel_seq: int | None = None  # seq relative to the sender's ISN
    rel_ack: int | None = None  # ack relative to the receiver's ISN
    retransmission: bool = False
    rst_ignored: bool = False   # a RST the receiver's kernel would not accept
    anomalies: list = field(default_factory=list)
    note: str = ""              # why a handover or timer event happened
    side: str = ""              # timer events: the endpoint that moved ('client'/'server')
    client_via: list = field(default_factory=list)  # states passed through on the way (rare)
    server_via: list = field(default_factory=list)
    before: int = -1            # timer events: its state before

    @property
    def flag_text(self) -> str:
        return flag_text(self.flags)


@dataclass
class Ladder:
    conn_id: int
    client: str                 # ip:port
    server: str
    start: float                # the connection's first packet
    initial_client: str         # state names before the first event
    initial_server: str
    events: list
    anomalies: list             # every Anomaly naming this connection
    summary: dict               # the connection's entry in the JSON report
    files: list
    instance: int = 1           # which instance of its 4-tuple (1 = the first)
    instances: int = 1

    def states(self, side: str) -> list[str]:
        """The states ``side`` ('client' or 'server') went through, in order."""
        out = [self.initial_client if side == "client" else self.initial_server]
        for ev in self.events:
            for st in getattr(ev, side + "_via") + [getattr(ev, side + "_state")]:
                if STATE_NAMES[st] != out[-1]:
                    out.append(STATE_NAMES[st])
        return out

    def final(self, side: str) -> str:
        return self.states(side)[-1]


def flag_text(flags: int) -> str:
    """Control bits as people write them: S, SA, A, PA, FA, FPA, R, RA ..."""
    out = "".join(ch for bit, ch in ((SYN, "S"), (FIN, "F"), (RST, "R"), (PSH, "P"), (URG, "U"),
                                     (ECE, "E"), (CWR, "C")) if flags & bit)
    if flags & ACK:
        out += "A"
    return out or "."


# ---------------------------------------------------------------------- selection
_ADDR = r"(\[[0-9A-Fa-f:.]+\]|[0-9.]+|[0-9A-Fa-f:]+)"
_TUPLE_RE = re.compile(rf"^\s*{_ADDR}:(\d+)\s*-\s*{_ADDR}:(\d+)\s*(?:#(\d+))?\s*$")


@dataclass(frozen=True)
class Selection:
    conn_id: int | None = None
    key: bytes | None = None    # the 4-tuple as the tracker keys it, one direction
    nth: int = 1                # which instance of the 4-tuple


def parse_select(select) -> Selection:
    """A connection id (int or digits), or 'ip:port-ip:port' with an optional '#N'."""
    if isinstance(select, int) or (isinstance(select, str) and select.strip().lstrip("#").isdigit()):
        cid = int(str(select).strip().lstrip("#"))
        if cid < 1:
            raise ValueError(f"connection ids start at 1, not {cid}")
        return Selection(conn_id=cid)
    m = _TUPLE_RE.match(str(select))
    if not m:
        raise ValueError(f"select a connection by id (3) or 4-tuple (10.0.0.1:40000-10.0.0.2:80#2), "
                         f"not {select!r}")
    a, ap, b, bp, nth = m.groups()
    try:
        ia = ipaddress.ip_address(a.strip("[]"))
        ib = ipaddress.ip_address(b.strip("[]"))
    except ValueError as exc:
        raise ValueError(f"bad address in {select!r}: {exc}") from None
    if ia.version != ib.version:
        raise ValueError(f"{select!r} mixes IPv4 and IPv6")
    ports = (int(ap), int(bp))
    if not all(0 <= p <= 65535 for p in ports):
        raise ValueError(f"ports must be 0-65535 in {select!r}")
    if nth is not None and int(nth) < 1:
        raise ValueError("instances are numbered from #1")
    key = ia.packed + ib.packed + struct.pack("!HH", *ports)
    return Selection(key=key, nth=int(nth) if nth else 1)


# ---------------------------------------------------------------------- recording
class _Track:
    """What was recorded for one connection instance."""

    __slots__ = ("conn", "raw", "trans_len")

    def __init__(self, conn):
        self.conn = conn
        self.raw = []            # (kind, ts, fields...) in capture order
        self.trans_len = (0, 0)  # how much of each endpoint's trans the records explain


class RecordingTracker(ConnectionTracker):
    """The normal tracker, plus a per-segment record for the watched 4-tuples.

    ``watch`` is a set of flow keys (both directions are added); None watches
    every connection, which costs memory in proportion to the capture.
    Packets of other 4-tuples take the normal path after one set lookup.
    """

    def __init__(self, watch=None, **kw):
        super().__init__(**kw)
        if watch is not None:
            watch = set(watch) | {reverse_key(k) for k in watch}
        self.watch = watch
        self.tracks: dict[int, _Track] = {}   # id(conn) -> _Track

    def segment(self, ts, key, sport, dport, seq, ack, flags, win, plen, wscale):
        if self.watch is not None and key not in self.watch:
            return ConnectionTracker.segment(self, ts, key, sport, dport, seq, ack, flags, win, plen, wscale)
        # The packet may go to the live instance, to the one it replaced
        # (a TIME_WAIT's or a challenge ACK, the client's RST to it), or to a
        # new one: snapshot every candidate and see whose counters move.
        before = self._instances(key)
        snap = {id(c): _Snap.of(c) for c in before}
        ConnectionTracker.segment(self, ts, key, sport, dport, seq, ack, flags, win, plen, wscale)
        got = self._receiver(key, before, snap)
        if got is not None:
            old = snap.get(id(got), _NEW)
            from_client = key == got.ckey
            sender = got.client if from_client else got.server
            retx = sender.retransmits > (old.client_rtx if from_client else old.server_rtx)
            self._record(got, (SEGMENT, ts, from_client, flags, seq, ack, plen, win, retx,
                               got.rst_ignored > old.rst_ignored))
        for conn in before:
            # One packet can move another instance on the same 4-tuple.
            old = snap[id(conn)]
            if conn is not got and (conn.client.state, conn.server.state) != (old.client_state, old.server_state):
                self._record(conn, (HANDOVER, ts, got, flags))

    def _receiver(self, key, before, snap):
        """The instance whose packet count grew: the one the tracker gave the packet to."""
        for conn in before + [c for c in self._instances(key) if id(c) not in snap]:
            old = snap.get(id(conn), _NEW)
            if conn.client.packets + conn.server.packets > old.packets:
                return conn
        return None

    def _instances(self, key):
        conn = self.table.get(key)
        if conn is None:
            return []
        out = [conn]
        for other in (conn.prev, conn.reused_from):
            if other is not None and other not in out:
                out.append(other)
        return out

    def _record(self, conn, raw):
        track = self.tracks.get(id(conn))
        if track is None:
            track = self.tracks[id(conn)] = _Track(conn)
        track.trans_len = (len(conn.client.trans_flat) >> 1, len(conn.server.trans_flat) >> 1)
        track.raw.append(raw + (conn.client.state, conn.server.state) + track.trans_len)


class _Snap(NamedTuple):
    """The counters and states of one instance just before a packet."""

    packets: int
    client_state: int
    server_state: int
    client_rtx: int
    server_rtx: int
    rst_ignored: int

    @classmethod
    def of(cls, conn) -> "_Snap":
        c, s = conn.client, conn.server
        return cls(c.packets + s.packets, c.state, s.state, c.retransmits, s.retransmits, conn.rst_ignored)


_NEW = _Snap(0, CLOSED, CLOSED, 0, 0, 0)   # an instance the packet created


def analyze_recording(paths, watch=None, owned=None, **options) -> tuple[Analysis, RecordingTracker]:
    """``analyzer.analyze`` with a RecordingTracker: the same Analysis, plus the records.

    ``options`` are the tracker's (time_wait, fin_timeout, unanswered ...);
    ``owned``: only these port buckets' connections (``analyzer.run``).
    """
    tracker = RecordingTracker(watch, **options)
    return analyze(paths, tracker=tracker, owned=owned, **options), tracker


# ---------------------------------------------------------------------- building
def record_ladder(paths, select, time_wait: float = DEFAULT_TIME_WAIT, fin_timeout: float = DEFAULT_FIN_TIMEOUT,
                  unanswered: float = DEFAULT_UNANSWERED, *, analysis: Analysis | None = None,
                  cfg: dict | None = None) -> Ladder:
    """The ladder of one connection: ``select`` is an id or 'ip:port-ip:port[#N]'.

    ``analysis`` (optional) is a finished analysis of the same captures with
    the same options; given, it saves a pass when ``select`` is an id.
    ``cfg`` is the detectors' configuration (thresholds), as for
    ``detectors.run``.
    """
    ladders = record_ladders(paths, [select], time_wait, fin_timeout, unanswered, analysis=analysis, cfg=cfg)
    return next(iter(ladders.values()))


def record_ladders(paths, selects, time_wait: float = DEFAULT_TIME_WAIT, fin_timeout: float = DEFAULT_FIN_TIMEOUT,
                   unanswered: float = DEFAULT_UNANSWERED, *, analysis: Analysis | None = None,
                   cfg: dict | None = None, anomalies=None) -> dict[int, Ladder]:
    """Ladders of several connections from one recording pass, keyed by connection id.

    Ids need the connection table of a first pass (ids are assigned in
    first-packet order at the end); 4-tuples do not.  Standard input can be
    read once only, so with '-' every connection is recorded in one pass.
    ``anomalies``: what the detectors found in ``analysis`` with ``cfg``,
    if the caller has it already.
    """
    paths = list(paths)
    sels = [parse_select(s) for s in selects]
    if not sels:
        return {}
    watch: set | None = {s.key for s in sels if s.key is not None}
    if any(s.conn_id is not None for s in sels):
        if "-" in paths:
            watch = None
        else:
            if analysis is None:
                analysis = analyze(paths, time_wait=time_wait, fin_timeout=fin_timeout, unanswered=unanswered)
            by_id = {c.id: c for c in analysis.connections}
            for s in sels:
                if s.conn_id is not None:
                    if s.conn_id not in by_id:
                        raise ValueError(f"no connection {s.conn_id}: the capture has {len(by_id)}")
                    watch.add(by_id[s.conn_id].ckey)
    options = {"time_wait": time_wait, "fin_timeout": fin_timeout, "unanswered": unanswered}
    det_cfg = {"half_open_timeout": unanswered}
    det_cfg.update(cfg or {})
    got = None
    if analysis is not None and watch is not None and "-" not in paths:
        got = _record_watched_only(paths, watch, analysis, options)
    if got is not None:
        recorded, tracker = got
        if anomalies is None:
            anomalies = detectors.run(analysis, det_cfg)
    else:
        recorded, tracker = analyze_recording(paths, watch, **options)
        anomalies = detectors.run(recorded, det_cfg)
    out = {}
    for s in sels:
        conn, nth, count = _find(recorded, s)
        ladder = _build(conn, tracker.tracks.get(id(conn)), recorded, anomalies)
        ladder.instance, ladder.instances = nth, count
        out[conn.id] = ladder
    return out


def _record_watched_only(paths, watch, analysis: Analysis, options: dict):
    """The recording pass over the watched 4-tuples' connections alone, with
    the ids ``analysis`` (the full analysis of ``paths``) gave them; None if
    the two do not agree.

    A connection's life depends on its own packets only, so the pass tracks
    just the connections whose ports XOR to a watched 4-tuple's (as the
    partitions of ``parallel`` do) and walks past the rest: for a connection
    of a 2M-packet capture, 1.4 s and a few megabytes instead of a second
    full analysis (6 s, 270 MB).  Where the memory caps folded or evicted
    connections the two passes may see different instances of a 4-tuple:
    then the full pass is made.
    """
    owned = bytearray(65536)
    for key in watch:
        sport, dport = _PORTS.unpack_from(key, len(key) - 4)
        owned[sport ^ dport] = 1
    recorded, tracker = analyze_recording(paths, watch, owned=bytes(owned), **options)
    mine: dict[bytes, list] = {}
    for conn in recorded.connections:
        mine.setdefault(_four_tuple(conn.ckey), []).append(conn)
    theirs: dict[bytes, list] = {}
    for conn in analysis.connections:
        group = _four_tuple(conn.ckey)
        if group in mine:
            theirs.setdefault(group, []).append(conn)
    for group, conns in mine.items():
        full = theirs.get(group, [])
        if len(full) != len(conns) or any(a.first_seen != b.first_seen for a, b in zip(conns, full)):
            return None
        for a, b in zip(conns, full):
            a.id = b.id
    return recorded, tracker


_PORTS = struct.Struct("!HH")


def _four_tuple(key: bytes) -> bytes:
    """A 4-tuple's key whichever way round: the smaller of the two."""
    return min(key, reverse_key(key))


def _find(analysis, sel: Selection):
    """The selected connection, and its instance number among its 4-tuple's."""
    conns = analysis.connections
    if sel.conn_id is not None:
        matches = [c for c in conns if c.id == sel.conn_id]
        if not matches:
            raise ValueError(f"no connection {sel.conn_id}: the capture has {len(conns)}")
        conn = matches[0]
        same = [c for c in conns if c.ckey == conn.ckey]
        return conn, same.index(conn) + 1, len(same)
    keys = (sel.key, reverse_key(sel.key))
    same = [c for c in conns if c.ckey in keys]
    if not same:
        raise ValueError("no connection on that 4-tuple in the capture")
    if sel.nth > len(same):
        raise ValueError(f"the 4-tuple has {len(same)} connection instance(s), not #{sel.nth}")
    return same[sel.nth - 1], sel.nth, len(same)


def _build(conn, track: _Track | None, analysis: Analysis, anomalies) -> Ladder:
    raw = track.raw if track is not None else []
    c, s = conn.client, conn.server
    events = []
    seen = (1, 1)   # trans entries already shown; entry 0 is the initial state
    for r in raw:
        *head, cst, sst, clen, slen = r
        if head[0] == SEGMENT:
            _, ts, from_client, flags, seq, ack, plen, win, retx, rst_ign = head
            ev = LadderEvent(SEGMENT, ts, cst, sst, from_client, flags, seq, ack, plen,
                             _scaled_window(c if from_client else s, flags, win), win,
                             retransmission=retx, rst_ignored=rst_ign)
        else:
            _, ts, other, flags = head
            ev = LadderEvent(HANDOVER, ts, cst, sst, flags=flags, note=_handover_note(other, flags))
        # One segment can move a side twice (a FIN+ACK takes ESTABLISHED
        # through CLOSE_WAIT to LAST_ACK): keep the states it passed through.
        ev.client_via = c.trans_flat[2 * seen[0] + 1:2 * clen:2][:-1]
        ev.server_via = s.trans_flat[2 * seen[1] + 1:2 * slen:2][:-1]
        seen = (clen, slen)
        events.append(ev)
    _relative_numbers(conn, events)
    done = track.trans_len if track is not None else (0, 0)
    events = _merge_timers(events, _timer_events(conn, done, analysis.options))
    initial_server = _initial_server(conn)
    if initial_server == STATE_NAMES[LISTEN]:
        _show_listener(events)
    mine = [a for a in anomalies if conn.id in a.connections]
    _attach(events, mine)
    return Ladder(
        conn_id=conn.id, client=endpoint_text(c), server=endpoint_text(s), start=conn.first_seen,
        initial_client=STATE_NAMES[c.trans_flat[1]] if c.trans_flat else "CLOSED",
        initial_server=initial_server,
        events=events, anomalies=mine, summary=connection_entry(conn, conn.id),
        files=list(analysis.stats.files))


def _relative_numbers(conn, events) -> None:
    """seq and ack relative to each side's ISN (as Wireshark shows them).

    A side whose SYN the capture missed (mid-stream) counts from the first
    sequence number it was seen to send; a RST's number is not a reliable
    origin (it may answer anything).
    """
    base = {True: conn.client.isn if conn.client.isn >= 0 else None,
            False: conn.server.isn if conn.server.isn >= 0 else None}
    for ev in events:
        if ev.kind == SEGMENT and base[ev.from_client] is None and not ev.flags & RST:
            base[ev.from_client] = ev.seq
    for ev in events:
        if ev.kind != SEGMENT:
            continue
        own, peer = base[ev.from_client], base[not ev.from_client]
        ev.rel_seq = (ev.seq - own) & SEQ_MASK if own is not None else None
        ev.rel_ack = (ev.ack - peer) & SEQ_MASK if ev.flags & ACK and peer is not None else None


def _initial_server(conn) -> str:
    # A server that answered the client's SYN with a SYN-ACK was a passive
    # open: the textbook starts it in LISTEN (the listener, not this TCB,
    # which is born in SYN_RECEIVED).
    s = conn.server
    if s.syn_count and not conn.roles_inferred and conn.client.syn_count:
        return STATE_NAMES[LISTEN]
    return STATE_NAMES[s.trans_flat[1]] if s.trans_flat else "CLOSED"


def _show_listener(events) -> None:
    # Until the server sends its SYN-ACK, the tracker has no TCB for it
    # (CLOSED); what receives the SYN is the listening socket.
    for ev in events:
        if ev.server_state != CLOSED:
            break
        ev.server_state = LISTEN


def _scaled_window(ep, flags, win) -> int:
    # The window in a SYN is never scaled; later ones are shifted by the
    # sender's scale once both SYNs offered the option (RFC 7323 2.2-2.3).
    if flags & SYN or ep.wscale <= 0:
        return win
    return win << ep.wscale


def _handover_note(other, flags) -> str:
    oid = f"#{other.id}" if other is not None and other.id else "a new one"
    if flags & SYN and flags & ACK:
        # The peer accepted a new SYN on the tuple (Linux lets one replace a
        # TIME_WAIT socket): the old TCB is gone.
        return f"conn {oid} accepted: TCB replaced"
    if flags & SYN:
        return f"new SYN (conn {oid}) ends this TCB"
    return f"conn {oid} on this 4-tuple"


def _timer_events(conn, done, options) -> list[LadderEvent]:
    """State changes the tracker inferred at the end of the capture, as events."""
    c, s = conn.client, conn.server
    ct, st_ = transitions(c), transitions(s)
    extra = [(t, "client", st, ct[i - 1][1]) for i, (t, st) in enumerate(ct) if i >= done[0] and i]
    extra += [(t, "server", st, st_[i - 1][1]) for i, (t, st) in enumerate(st_) if i >= done[1] and i]
    extra.sort(key=lambda e: e[0])
    return [_timer_event(conn, t, side, state, before, options) for t, side, state, before in extra]


def _timer_event(conn, t, side, state, before, options) -> LadderEvent:
    ev = LadderEvent(TIMER, t, -1, -1, side=side, before=before, note=_timer_note(conn, side, before, options))
    if side == "client":
        ev.client_state = state
    else:
        ev.server_state = state
    return ev


def _timer_note(conn, side, before, options) -> str:
    """Why the tracker moved an endpoint without a packet (tracker.finalize)."""
    if before == TIME_WAIT:
        return f"TIME_WAIT over (2MSL, {options.get('time_wait', DEFAULT_TIME_WAIT):g} s)"
    if before == FIN_WAIT_2:
        return f"FIN_WAIT_2 timeout ({options.get('fin_timeout', DEFAULT_FIN_TIMEOUT):g} s)"
    if before == SYN_SENT:
        return f"SYN retries exhausted ({SYN_SENT_TIMEOUT:g} s)"
    if before == SYN_RECEIVED and conn.syn_cookie:
        return "SYN cookie: server kept no TCB"
    if before == SYN_RECEIVED:
        return f"SYN-ACK retries exhausted ({SYN_RECEIVED_TIMEOUT:g} s)"
    if before == ESTABLISHED and side == "client" and not conn.hs & HS_ACK and conn.hs & HS_SYNACK:
        return f"SYN-ACK unanswered {SYNACK_ANSWER_TIME:g} s: no socket"
    return f"{side} silent {options.get('unanswered', DEFAULT_UNANSWERED):g} s: connection lost"


def _merge_timers(events, timers) -> list[LadderEvent]:
    """Put the inferred changes among the segments and carry them into later rows.

    Segments stay in the order the tracker processed them (file order: a
    capture's timestamps are not always monotonic, and the states follow the
    processing); an inferred change goes after the last segment dated at or
    before it.  Segments after it still carry the tracker's live state for
    that side (the tracker learns of the change only at the end), so the
    inferred state replaces it while the live state is the one it replaced.
    """
    merged = list(events)
    for timer in timers:   # already in time order
        at = len(merged)
        while at and merged[at - 1].time > timer.time:
            at -= 1
        merged.insert(at, timer)
    shown = {}
    override = {}
    for ev in merged:
        for side in ("client", "server"):
            attr = side + "_state"
            if ev.kind == TIMER:
                if ev.side == side:
                    override[side] = (ev.before, getattr(ev, attr))
                    shown[side] = getattr(ev, attr)
                else:
                    setattr(ev, attr, shown.get(side, CLOSED))
                continue
            live = getattr(ev, attr)
            if side in override and live == override[side][0]:
                live = override[side][1]
            else:
                override.pop(side, None)
            setattr(ev, attr, live)
            shown[side] = live
    return merged


def _attach(events, anomalies) -> None:
    """Each anomaly goes on the segment nearest its time (the last one if untimed)."""
    segs = [e for e in events if e.kind == SEGMENT] or events
    if not segs:
        return
    for a in anomalies:
        if a.time is None:
            target = segs[-1]
        else:
            target = min(segs, key=lambda e: abs(e.time - a.time))
        target.anomalies.append(a)


# ---------------------------------------------------------------------- JSON
def ladder_json(ladder: Ladder) -> dict:
    """The ladder as a JSON-ready dict: the connection and one entry per event."""
    events = []
    for ev in ladder.events:
        d = {"kind": ev.kind, "time": round(ev.time, 6), "offset": round(ev.time - ladder.start, 6)}
        if ev.kind == SEGMENT:
            d.update({
                "direction": "client->server" if ev.from_client else "server->client",
                "flags": ev.flag_text, "seq": ev.rel_seq, "ack": ev.rel_ack,
                "seq_abs": ev.seq, "ack_abs": ev.ack if ev.flags & ACK else None,
                "len": ev.length, "win": ev.window, "win_raw": ev.window_raw,
                "retransmission": ev.retransmission, "rst_ignored": ev.rst_ignored,
                "anomalies": [a.type for a in ev.anomalies],
            })
        else:
            d["note"] = ev.note
            if ev.side:
                d["side"] = ev.side
        d["client_state"] = STATE_NAMES[ev.client_state]
        d["server_state"] = STATE_NAMES[ev.server_state]
        for side in ("client", "server"):
            via = getattr(ev, side + "_via")
            if via:
                d[side + "_via"] = [STATE_NAMES[st] for st in via]
        events.append(d)
    return {
        "connection": ladder.summary,
        "instance": ladder.instance, "instances": ladder.instances,
        "initial": {"client": ladder.initial_client, "server": ladder.initial_server},
        "final": {"client": ladder.final("client"), "server": ladder.final("server")},
        "events": events,
        "anomalies": [a.as_dict() for a in ladder.anomalies],
    }


# ---------------------------------------------------------------------- rows
@dataclass
class Fold:
    """A data phase folded into one line."""

    events: list

    @property
    def retransmissions(self) -> int:
        return sum(1 for e in self.events if e.retransmission)

    def describe(self, short: bool = False) -> list[str]:
        """Phrases, most important first, so a narrow line can drop the tail."""
        evs = self.events
        data = sum(1 for e in evs if e.length)
        nbytes = sum(e.length for e in evs if not e.retransmission)
        retx = self.retransmissions
        acks = len(evs) - data
        if short:
            return [f"{len(evs):,} segs", f"{retx:,} rtx", f"{nbytes:,} B", f"{evs[-1].time - evs[0].time:.3f}s"]
        return [f"{len(evs):,} data segments", f"{retx:,} retransmission{'s' if retx != 1 else ''}",
                f"{data:,} with data ({nbytes:,} bytes)", f"{acks:,} ACK{'s' if acks != 1 else ''}",
                f"{evs[-1].time - evs[0].time:.3f}s"]


def _quiet(ev: LadderEvent, prev: tuple) -> bool:
    """A data-phase segment: no control bit, no state change, nothing to flag.

    Retransmissions stay quiet: loss recovery is what a data phase is made of,
    and the fold line counts them.
    """
    return (ev.kind == SEGMENT and not ev.flags & (SYN | FIN | RST) and not ev.anomalies
            and not ev.rst_ignored and (ev.client_state, ev.server_state) == prev)


def display_rows(ladder: Ladder, full: bool = False) -> list:
    """Events, with runs of quiet segments folded into ``Fold`` rows unless ``full``."""
    if full:
        return list(ladder.events)
    rows, run = [], []
    prev = (None, None)

    def flush():
        if len(run) >= 2 * FOLD_KEEP + FOLD_MIN:
            rows.extend(run[:FOLD_KEEP])
            rows.append(Fold(run[FOLD_KEEP:-FOLD_KEEP]))
            rows.extend(run[-FOLD_KEEP:])
        else:
            rows.extend(run)
        run.clear()

    for ev in ladder.events:
        if _quiet(ev, prev):
            run.append(ev)
        else:
            flush()
            rows.append(ev)
        prev = (ev.client_state, ev.server_state)
    flush()
    return rows


# ---------------------------------------------------------------------- text
_COLORS = {"green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36", "red": "31",
           "bold": "1", "dim": "2"}
STATE_COLOR = {
    "SYN_SENT": "cyan", "SYN_RECEIVED": "cyan", "LISTEN": "cyan", "ESTABLISHED": "green",
    "FIN_WAIT_1": "yellow", "FIN_WAIT_2": "yellow", "CLOSE_WAIT": "yellow", "CLOSING": "yellow",
    "LAST_ACK": "yellow", "TIME_WAIT": "blue", "CLOSED": "bold", "UNKNOWN": "dim",
}
SEVERITY_COLOR = {"critical": "red", "warning": "yellow", "info": "cyan"}


class _Pen:
    """ANSI colour for one piece of text, or the text unchanged when colour is off."""

    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, name: str | None) -> str:
        if not self.color or not name or not text.strip():
            return text
        return f"\x1b[{_COLORS[name]}m{text}\x1b[0m"


def segment_labels(ev: LadderEvent, absolute: bool = False) -> list[str]:
    """The segment's label, from the most to the least detailed."""
    seq = ev.seq if absolute or ev.rel_seq is None else ev.rel_seq
    ack = None
    if ev.flags & ACK:
        ack = ev.ack if absolute or ev.rel_ack is None else ev.rel_ack
    f = ev.flag_text
    length = f" len {ev.length}" if ev.length else ""
    if ack is None:
        return [f"{f} seq {seq}{length} win {ev.window}", f"{f} seq {seq}{length}", f"{f} {seq}{length}",
                f"{f}{length}", f]
    return [f"{f} seq {seq} ack {ack}{length} win {ev.window}", f"{f} seq {seq} ack {ack}{length}",
            f"{f} {seq}/{ack}{length}", f"{f}{length}", f]


def segment_marks(ev: LadderEvent) -> list[tuple[str, str, str]]:
    """(long, short, colour) marks shown beside the label."""
    out = []
    if ev.retransmission:
        out.append(("[retransmission]", "[rtx]", "yellow"))
    if ev.rst_ignored:
        out.append(("[RST not accepted]", "[RST ign]", "magenta"))
    return out


def _arrow(ev: LadderEvent, width: int, absolute: bool, pen: _Pen) -> str:
    """A horizontal arrow ``width`` wide, pointing the segment's way, label inside."""
    room = width - 6   # arrowhead and shaft stubs, spaces around the label
    marks = segment_marks(ev)
    label, mtexts = _fit_label(segment_labels(ev, absolute), marks, room)
    plain = " ".join([label] + mtexts)
    colored = " ".join([label] + [pen(t, m[2]) for t, m in zip(mtexts, marks)])
    shaft = "─" * max(0, room - len(plain))
    if ev.from_client:
        return f"── {colored} {shaft}─▶"
    return f"◀─{shaft} {colored} ──"


def _fit_label(labels, marks, room):
    """The most detailed label that fits with its marks (long marks, then short)."""
    for short in (False, True):
        mtexts = [m[1] if short else m[0] for m in marks]
        extra = sum(len(t) + 1 for t in mtexts)
        for label in labels:
            if len(label) + extra <= room:
                return label, mtexts
    return labels[-1][:room], []


def _note_line(text: str, width: int) -> str:
    """A dotted line ``width`` wide with ``text`` in the middle: no segment here."""
    inner = f" {text} "
    if len(inner) > width - 2:
        inner = inner[: max(1, width - 3)] + "…"
    side = width - len(inner)
    return "·" * (side // 2) + inner + "·" * (side - side // 2)


def _wrap(text: str, width: int, indent: str = "", later: str = "") -> list[str]:
    return textwrap.wrap(text, width=max(20, width), initial_indent=indent, subsequent_indent=later or indent,
                         break_on_hyphens=False) or [indent]


class _Layout:
    """Column widths for one rendering."""

    def __init__(self, ladder: Ladder, width: int):
        offsets = [e.time - ladder.start for e in ladder.events] or [0.0]
        self.time = max(len(f"{max(offsets):.6f}"), len(f"{min(offsets):.6f}"), 8)
        self.state = STATE_WIDTH
        self.arrow = min(MAX_ARROW, max(MIN_ARROW, width - self.time - 2 * self.state - 3))
        self.width = self.time + 2 * self.state + 3 + self.arrow
        self.lead = " " * (self.time + 1)

    def line(self, t: str, left: str, middle: str, right: str) -> str:
        return f"{t.rjust(self.time)} {left} {middle} {right}".rstrip()


def render_ladder(ladder: Ladder, full: bool = False, width: int = 80, color: bool = False,
                  absolute: bool = False) -> str:
    """The ladder as text, ``width`` columns wide.

    Columns: seconds since the connection's first packet; the client's state,
    written when it changes; the segment's arrow with its flags, seq/ack
    (relative to each side's ISN, or as sent with ``absolute``), payload
    length and window; the server's state.  Quiet data-phase runs fold into
    one line unless ``full``.  ANSI colours (states, marks, anomalies) only
    with ``color``.
    """
    pen = _Pen(color)
    lay = _Layout(ladder, width)
    out = _header(ladder, width, pen, absolute)
    out.extend(_column_titles(ladder, lay))
    prev = (ladder.initial_client, ladder.initial_server)
    out.append(lay.line("", _state_cell(prev[0], True, lay, pen), " " * lay.arrow,
                        _state_cell(prev[1], True, lay, pen)))
    for row in display_rows(ladder, full):
        if isinstance(row, Fold):
            # Neither state changes inside a fold, so the line may run across
            # the server's state column too.
            room = lay.width - lay.time - lay.state - 2
            text = "… " + _fold_text(row, room - 8) + " …"
            out.append(lay.line("", " " * lay.state, pen(_note_line(text, room), "dim"), ""))
            continue
        lefts, rights = _changes(row, "client", prev[0]), _changes(row, "server", prev[1])
        prev = (STATE_NAMES[row.client_state], STATE_NAMES[row.server_state])
        mid = _arrow(row, lay.arrow, absolute, pen) if row.kind == SEGMENT else pen(_note_line(row.note, lay.arrow), "dim")
        t = f"{row.time - ladder.start:.6f}"
        # States a side passed through within this one segment go on the
        # following lines, in order, so the column reads as the RFC diagram.
        for i in range(max(1, len(lefts), len(rights))):
            left = _state_cell(lefts[i], True, lay, pen) if i < len(lefts) else " " * lay.state
            right = _state_cell(rights[i], True, lay, pen) if i < len(rights) else ""
            out.append(lay.line(t if i == 0 else "", left, mid if i == 0 else " " * lay.arrow, right))
        for a in row.anomalies:
            indent = lay.lead + " " * (lay.state + 1)
            for text in _wrap(f"▲ {a.severity} {a.type}: {a.message}", width, indent, indent + "  "):
                out.append(pen(text, SEVERITY_COLOR.get(a.severity)))
    out.extend(_footer(ladder, width))
    return "\n".join(out) + "\n"


def _changes(ev: LadderEvent, side: str, shown: str) -> list[str]:
    """The state names to write in ``side``'s column for this event."""
    out = []
    for st in getattr(ev, side + "_via") + [getattr(ev, side + "_state")]:
        name = STATE_NAMES[st]
        if name != (out[-1] if out else shown):
            out.append(name)
    return out


def _state_cell(name: str, changed: bool, lay: _Layout, pen: _Pen) -> str:
    if not changed:
        return " " * lay.state
    return pen(name, STATE_COLOR.get(name)) + " " * (lay.state - len(name))


def _column_titles(ladder: Ladder, lay: _Layout) -> list[str]:
    left, right = f"client {ladder.client}", f"server {ladder.server}"
    room = lay.width - lay.time - 1
    if len(left) + len(right) + 2 <= room:
        return [lay.lead + left + " " * (room - len(left) - len(right)) + right]
    return [lay.lead + left, lay.lead + right.rjust(room)]


def _fold_text(fold: Fold, room: int) -> str:
    """As much of the fold's summary as fits; the segment and retransmission
    counts first, in short form if the long one would lose them."""
    for short in (False, True):
        parts = fold.describe(short)
        while len(parts) > 2 and len(", ".join(parts)) > room:
            parts.pop()
        if len(", ".join(parts)) <= room:
            break
    return ", ".join(parts)


def _header(ladder: Ladder, width: int, pen: _Pen, absolute: bool) -> list[str]:
    s = ladder.summary
    title = f"connection {ladder.conn_id}: {ladder.client} → {ladder.server}"
    if ladder.instances > 1:
        title += f" (instance {ladder.instance} of {ladder.instances} on this 4-tuple)"
    nseg = sum(1 for e in ladder.events if e.kind == SEGMENT)
    facts = (f"{nseg:,} segments in {s['duration']:.6f}s, history {s['history'] or '-'}, "
             f"conn_state {s['conn_state']}")
    if absolute:
        facts += "; seq/ack as sent"
    return [pen(line, "bold") for line in _wrap(title, width)] + _wrap(facts, width)


def _footer(ladder: Ladder, width: int) -> list[str]:
    retx = ladder.summary["retransmissions"]
    text = (f"end: client {ladder.final('client')}, server {ladder.final('server')}; "
            f"retransmissions {retx['client']:,} client, {retx['server']:,} server")
    if ladder.anomalies:
        text += "; anomalies: " + ", ".join(sorted({a.type for a in ladder.anomalies}))
    return _wrap(text, width)


__all__ = ["Fold", "Ladder", "LadderEvent", "RecordingTracker", "STATE_COLOR", "SEVERITY_COLOR",
           "analyze_recording", "display_rows", "flag_text", "ladder_json", "parse_select", "record_ladder",
           "record_ladders", "render_ladder", "segment_labels", "segment_marks"]
