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
from bisect import bisect_left, bisect_right
import struct
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress

from .. import detectors
from ..analysis import Analysis, AnalysisOptions, analyze
from ..engine.observer import Observer
from ..model.connection import HS_ACK, HS_SYNACK, SEQ_MASK, reverse_key, split_key
from ..model.text import endpoint_text
from ..decode import ACK, CONTROL, CWR, ECE, FIN, PSH, RST, SYN, URG
from .record import connection_entry
from ..model.states import (
    CLOSED, ESTABLISHED, FIN_WAIT_2,
    LISTEN, LOST_ANSWER_WAIT, STATE_NAMES, SYN_RECEIVED, SYN_RECEIVED_TIMEOUT, SYN_SENT, SYN_SENT_TIMEOUT,
    SYNACK_ANSWER_TIME, TIME_WAIT, UNKNOWN,
)

SEGMENT = "segment"
HANDOVER = "handover"
TIMER = "timer"

# A run of quiet segments is folded when it hides at least FOLD_MIN, keeping
# FOLD_KEEP segments visible at each end so the reader sees how data flowed
# (``render.ladder.iter_display_rows``).
FOLD_KEEP = 2
FOLD_MIN = 3


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
    omitted: int = 0            # segments past the recording's limit: counted, not kept

    def states(self, side: str) -> list[str]:
        """The states ``side`` ('client' or 'server') went through, in order."""
        out = [self.initial_client if side == "client" else self.initial_server]
        for ev in self.events:
            if isinstance(ev, FoldedRun):
                continue
            for st in getattr(ev, side + "_via") + [getattr(ev, side + "_state")]:
                if STATE_NAMES[st] != out[-1]:
                    out.append(STATE_NAMES[st])
        return out

    def final(self, side: str) -> str:
        """``side``'s last state: the last event's (its passing states come
        before it); the report's, where events past the limit were not kept."""
        if self.omitted:
            return self.summary[side]["state"]
        if not len(self.events):
            return self.initial_client if side == "client" else self.initial_server
        return STATE_NAMES[getattr(self.events[-1], side + "_state")]

    @property
    def segments(self) -> int:
        """How many segments the connection has, kept or not."""
        events = self.events
        count = events.segments() if isinstance(events, LadderEvents) else sum(e.kind == SEGMENT for e in events)
        return count + self.omitted


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
_KIND = {SEGMENT: 0, HANDOVER: 1}
_FROM_CLIENT, _RETX, _RST_IGNORED = 1, 2, 4


class _Rows:
    """A connection's segments and handovers in capture order, in columns.

    About thirty bytes an event: a tuple of boxed numbers per segment cost
    several hundred, and a long connection has millions of segments.  The
    endpoints' transition counts change rarely, so they are kept only where
    they do (``trans_at``: the first row with the counts in ``trans_c`` and
    ``trans_s``); a handover's other connection is kept beside its row.
    """

    __slots__ = ("kind", "time", "bits", "flags", "seq", "ack", "length", "window", "cst", "sst",
                 "trans_at", "trans_c", "trans_s", "others", "first_seq", "folds", "fold_bounds")

    def __init__(self):
        self.kind = bytearray()
        self.time = array("d")
        self.bits = bytearray()
        self.flags = array("H")
        self.seq = array("I")
        self.ack = array("I")
        self.length = array("I")
        self.window = array("I")
        self.cst = bytearray()       # both endpoints' states as the event left them
        self.sst = bytearray()
        self.trans_at = array("I")
        self.trans_c = array("I")
        self.trans_s = array("I")
        self.others = {}             # row -> the later instance of a handover
        self.first_seq = {True: None, False: None}   # each side's first seq outside a RST
        self.folds = {}              # row -> a run folded while recording (``_Folder``)
        self.fold_bounds = None      # the earliest and latest time inside those runs

    def __len__(self) -> int:
        return len(self.kind)

    def add(self, conn, kind, time, flags, seq=0, ack=0, length=0, window=0, bits=0) -> None:
        row = len(self.kind)
        self.kind.append(kind)
        self.time.append(time)
        self.bits.append(bits)
        self.flags.append(flags)
        self.seq.append(seq)
        self.ack.append(ack)
        self.length.append(length)
        self.window.append(window)
        self.cst.append(conn.client.state)
        self.sst.append(conn.server.state)
        if kind == 0 and not flags & RST:
            side = bool(bits & _FROM_CLIENT)
            if self.first_seq[side] is None:
                self.first_seq[side] = seq
        # How far each endpoint's history had got: the states passed through
        # on the way to the event's are between this and the previous row's.
        clen, slen = len(conn.client.trans_flat) >> 1, len(conn.server.trans_flat) >> 1
        if not self.trans_at or clen != self.trans_c[-1] or slen != self.trans_s[-1]:
            self.trans_at.append(row)
            self.trans_c.append(clen)
            self.trans_s.append(slen)


class FoldedRun:
    """Segments of a quiet run folded while recording: what the folded
    line says of them (``render.ladder.Fold``), and their earliest and
    latest times (not in order: a capture's timestamps may step back)."""

    __slots__ = ("count", "retransmissions", "data", "nbytes", "first", "last", "low", "high")

    def __init__(self):
        self.count = self.retransmissions = self.data = self.nbytes = 0
        self.first = self.last = self.low = self.high = None

    def take(self, other: "FoldedRun") -> None:
        self.count += other.count
        self.retransmissions += other.retransmissions
        self.data += other.data
        self.nbytes += other.nbytes
        if self.first is None:
            self.first, self.low, self.high = other.first, other.low, other.high
        else:
            self.low, self.high = min(self.low, other.low), max(self.high, other.high)
        self.last = other.last


_FOLDED = 2   # a row standing for a FoldedRun
# A quiet run shows its first FOLD_KEEP segments, the fold, its last
# FOLD_KEEP; the fold starts once the run is this long.
_LEAD = 2 * FOLD_KEEP + FOLD_MIN
# Rows recorded between two folding passes.
_FOLD_PASS = 4096
# Past this many guarded times, the per-row checks would cost more than
# recording every row.
MAX_GUARDS = 64


@dataclass(frozen=True)
class FoldGuard:
    """What folding while recording must not fold over: the times at which
    the end-of-capture timers may date a change (any state change of the
    watched connections in a first analysis) and the anomalies' times."""

    timer_times: tuple
    anomaly_times: tuple


class _Folder:
    """Folds a track's long quiet runs as they are recorded, when only the
    folded ladder will be drawn: the rows kept are then bounded by what that
    ladder shows, not by the segments.

    What a row shows is settled only at the end (a timer's change is placed
    after the last row dated at or before it and carried into the rows that
    follow; an anomaly marks the first segment nearest its time; an undated
    one the last segment), so a row is folded only once none of that can
    fall on it or its run's kept ends: it is not the row a guarded time
    currently places a timer before, nor the segment currently nearest an
    anomaly, nor at or past the last segment.  Those only move to rows
    recorded later, so a row found foldable stays so.
    """

    __slots__ = ("rows", "serial", "count", "le", "near", "base", "scanned")

    def __init__(self, rows: _Rows, guard: FoldGuard):
        self.rows = rows
        self.serial = array("Q")   # each row's number among the rows ever recorded
        self.count = 0
        self.le = dict.fromkeys(guard.timer_times, -1)   # time -> the latest row dated at or before it
        self.near = {a: [None, -1] for a in guard.anomaly_times}   # time -> [distance, segment]
        self.base = 0              # rows before it are settled
        self.scanned = 0           # rows before it are in ``le`` and ``near``

    def due(self) -> bool:
        return len(self.rows) - self.scanned >= _FOLD_PASS

    def _scan(self) -> None:
        """Bring the rows recorded since the last pass into ``le`` and ``near``,
        a block at a time (a row at a time would slow the recording)."""
        rows, a = self.rows, self.scanned
        n = len(rows)
        if a >= n:
            return
        first = self.count
        self.serial.extend(range(first, first + n - a))
        self.count += n - a
        self.scanned = n
        times = rows.time
        block = times[a:n]
        lo, hi = min(block), max(block)
        le = self.le
        for t in le:
            if lo > t:
                continue
            r = n - 1
            while times[r] > t:
                r -= 1
            le[t] = first + r - a
        if not self.near:
            return
        kind = rows.kind
        plain = kind.find(1, a, n) < 0
        for m, best in self.near.items():
            # The block's first segment nearest ``m``, as ``_nearest_segment`` finds it.
            if plain and lo >= m:
                d, r = lo - m, a + block.index(lo)
            elif plain and hi <= m:
                d, r = m - hi, a + block.index(hi)
            else:
                d = r = None
                for i in range(a, n):
                    if kind[i] == 0:
                        x = abs(times[i] - m)
                        if d is None or x < d:
                            d, r = x, i
            if r is not None and (best[0] is None or d < best[0]):
                best[0], best[1] = d, first + r - a

    def fold(self) -> None:
        self._scan()
        rows, base = self.rows, self.base
        kind = rows.kind
        try:
            last = kind.rindex(0, base)
        except ValueError:
            return
        if last - base <= _LEAD + FOLD_KEEP:
            return
        risky = {s + 1 for s in self.le.values()} | {b[1] for b in self.near.values()}
        serial, flags, bits, cst, sst = self.serial, rows.flags, rows.bits, rows.cst, rows.sst
        trans = set(rows.trans_at[bisect_left(rows.trans_at, base):])

        def quiet(r):
            return (r and kind[r] != 1 and not flags[r] & CONTROL and not bits[r] & _RST_IGNORED and r not in trans
                    and serial[r] not in risky and cst[r] == cst[r - 1] and sst[r] == sst[r - 1])

        plan = []   # rows kept, and (start, end) ranges folded into one row
        merged = False
        start = None   # where the stretch reaching ``last`` starts
        i = base
        while i < last:
            if not quiet(i):
                plan.append(i)
                i += 1
                continue
            j = i + 1
            while j < last and quiet(j):
                j += 1
            if j - i > _LEAD + FOLD_KEEP:
                plan.extend(range(i, i + _LEAD))
                plan.append((i + _LEAD, j - FOLD_KEEP))
                plan.extend(range(j - FOLD_KEEP, j))
                merged = merged or j - FOLD_KEEP - (i + _LEAD) > 1 or kind[i + _LEAD] != _FOLDED
            else:
                plan.extend(range(i, j))
            if j == last:
                start = i
            i = j
        plan.extend(range(last, len(rows)))
        if merged:
            self._rebuild(plan)
        # The next pass starts where a row may still join a run: the run
        # reaching the last segment, and rows now guarded that may not stay so.
        where = {}
        for pos, item in enumerate(plan):
            where[item if isinstance(item, int) else item[0]] = base + pos
        starts = [where[last]] + ([where[start]] if start is not None else [])
        starts += [base + pos for pos in range(len(plan)) if serial[base + pos] in risky]
        self.base = min(starts)
        self.scanned = len(rows)

    def _rebuild(self, plan) -> None:
        rows, base = self.rows, self.base
        kind, times, bits, length = rows.kind, rows.time, rows.bits, rows.length
        runs = {}
        for pos, item in enumerate(plan):
            if isinstance(item, int):
                continue
            run = FoldedRun()
            a, end = item
            while a < end:
                if kind[a] == _FOLDED:
                    run.take(rows.folds[a])
                    a += 1
                    continue
                b = kind.find(_FOLDED, a, end)
                b = end if b < 0 else b
                run.take(_segments_run(times[a:b], bits[a:b], length[a:b]))
                a = b
            runs[base + pos] = run
        order = [item if isinstance(item, int) else item[0] for item in plan]
        new = {old: base + pos for pos, old in enumerate(order)}
        for col in (rows.kind, rows.time, rows.bits, rows.flags, rows.seq, rows.ack, rows.length, rows.window,
                    rows.cst, rows.sst, self.serial):
            tail = [col[r] for r in order]
            del col[base:]
            col.extend(tail)
        at = bisect_left(rows.trans_at, base)
        moved = [new[r] for r in rows.trans_at[at:]]
        del rows.trans_at[at:]
        rows.trans_at.extend(moved)
        rows.others = {(new[r] if r >= base else r): o for r, o in rows.others.items()}
        rows.folds = {(r if r < base else new[r]): f for r, f in rows.folds.items() if r < base or r in new}
        for r, run in runs.items():
            rows.kind[r] = _FOLDED
            rows.time[r] = run.high
            rows.folds[r] = run
            b = rows.fold_bounds
            rows.fold_bounds = (run.low, run.high) if b is None else (min(b[0], run.low), max(b[1], run.high))


_RETX_ONLY = bytes((1 if b & _RETX else 0) for b in range(256))
_NOT_RETX = bytes((0 if b & _RETX else 1) for b in range(256))


def _segments_run(times, bits, length) -> FoldedRun:
    """A FoldedRun of consecutive recorded segments (``Fold.add`` over
    each, in order), counted a column at a time."""
    run = FoldedRun()
    run.count = len(times)
    run.first, run.last, run.low, run.high = times[0], times[-1], min(times), max(times)
    run.retransmissions = bits.translate(_RETX_ONLY).count(1)
    run.nbytes = sum(compress(length, bits.translate(_NOT_RETX)))
    run.data = len(length) - length.count(0)
    return run


class _Track:
    """What was recorded for one connection instance."""

    __slots__ = ("conn", "rows", "timers", "limit", "omitted", "folder")

    def __init__(self, conn, limit=None, guard=None):
        self.conn = conn
        self.rows = _Rows()      # segments and handovers, in capture order
        self.timers = []         # (time, side, state, state before) inferred at the end
        self.limit = limit       # rows kept at most (None: all)
        self.omitted = 0         # segments past the limit
        self.folder = _Folder(self.rows, guard) if guard is not None else None


class Recorder(Observer):
    """The engine's observer (``engine.observer``) recording the watched
    4-tuples' segments, handovers and timers, connection instance by
    instance; ``limit``: the events kept per instance (the rest are counted)."""

    def __init__(self, watch=None, limit=None, guard: FoldGuard | None = None):
        super().__init__(watch)
        self.limit = limit
        self.guard = guard if limit is None else None
        self.tracks: dict[int, _Track] = {}   # id(conn) -> _Track

    def _track(self, conn) -> _Track:
        track = self.tracks.get(id(conn))
        if track is None:
            track = self.tracks[id(conn)] = _Track(conn, self.limit, self.guard)
        return track

    def segment(self, conn, seg) -> None:
        track = self._track(conn)
        if track.limit is not None and len(track.rows) >= track.limit:
            track.omitted += 1
            return
        bits = ((_FROM_CLIENT if seg.from_client else 0) | (_RETX if seg.retransmission else 0)
                | (_RST_IGNORED if seg.rst_ignored else 0))
        track.rows.add(conn, 0, seg.time, seg.flags, seg.seq, seg.ack, seg.length, seg.window, bits)
        if track.folder is not None and track.folder.due():
            track.folder.fold()

    def handover(self, conn, time, other, flags) -> None:
        track = self._track(conn)
        if track.limit is not None and len(track.rows) >= track.limit:
            return
        track.rows.others[len(track.rows)] = other
        track.rows.add(conn, 1, time, flags)

    def timer(self, conn, side, before, after, time) -> None:
        self._track(conn).timers.append((time, side, after, before))


def analyze_recording(paths, options: AnalysisOptions, watch=None, owned=None,
                      limit=None, guard=None) -> tuple[Analysis, Recorder]:
    """``analysis.analyze`` with a Recorder watching ``watch`` (flow keys; None:
    every connection, which costs memory in proportion to the capture),
    keeping at most ``limit`` events per connection; with ``guard``, folding
    long quiet runs as they are recorded (``_Folder``)."""
    recorder = Recorder(watch, limit, guard)
    return analyze(paths, options, observer=recorder, owned=owned), recorder


# ---------------------------------------------------------------------- building
def record_ladder(paths, select, options: AnalysisOptions | None = None, *, analysis: Analysis | None = None,
                  cfg=None) -> Ladder:
    """The ladder of one connection: ``select`` is an id or 'ip:port-ip:port[#N]'.

    ``analysis`` (optional) is a finished analysis of the same captures with
    the same options; given, it saves a pass when ``select`` is an id.
    ``cfg`` is the detectors' configuration (thresholds), as for
    ``detectors.run``.
    """
    ladders = record_ladders(paths, [select], options, analysis=analysis, cfg=cfg)
    return next(iter(ladders.values()))


def record_ladders(paths, selects, options: AnalysisOptions | None = None, *, analysis: Analysis | None = None,
                   cfg=None, anomalies=None, max_segments=None, folded=False) -> dict[int, Ladder]:
    """Ladders of several connections from one recording pass, keyed by connection id.

    Ids need the connection table of a first pass (ids are assigned in
    first-packet order at the end); 4-tuples do not.  Standard input can be
    read once only, so with '-' every connection is recorded in one pass.
    ``anomalies``: what the detectors found in ``analysis`` with ``cfg``,
    if the caller has it already.  ``max_segments``: the events each ladder
    keeps at most; the segments past it are counted (``Ladder.omitted``).
    ``folded``: only the folded ladder will be drawn (``render.ladder``
    without ``full``), so long quiet runs may be folded as they are recorded
    (events then include ``FoldedRun`` rows); done where a first
    ``analysis`` says where they must not be.
    """
    options = options or AnalysisOptions()
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
                analysis = analyze(paths, options)
            by_id = {c.id: c for c in analysis.connections}
            for s in sels:
                if s.conn_id is not None:
                    if s.conn_id not in by_id:
                        raise ValueError(f"no connection {s.conn_id}: the capture has {len(by_id)}")
                    watch.add(by_id[s.conn_id].ckey)
    det_cfg = {"half_open_timeout": options.unanswered}
    det_cfg.update(cfg or {})
    got = None
    if analysis is not None and watch is not None and "-" not in paths:
        guard = None
        if folded and max_segments is None:
            if anomalies is None:
                anomalies = detectors.run(analysis, det_cfg)
            guard = _fold_guard(analysis, watch, anomalies)
        got = _record_watched_only(paths, watch, analysis, options, max_segments, guard)
        if got is not None and guard is not None and not _guarded(got[1], guard):
            got = _record_watched_only(paths, watch, analysis, options, max_segments)
    if got is not None:
        recorded, recorder = got
        if anomalies is None:
            anomalies = detectors.run(analysis, det_cfg)
    else:
        recorded, recorder = analyze_recording(paths, options, watch, limit=max_segments)
        anomalies = detectors.run(recorded, det_cfg)
    out = {}
    for s in sels:
        conn, nth, count = _find(recorded, s)
        ladder = _build(conn, recorder.tracks.get(id(conn)), recorded, anomalies)
        ladder.instance, ladder.instances = nth, count
        out[conn.id] = ladder
    return out


def _fold_guard(analysis: Analysis, watch, anomalies) -> FoldGuard | None:
    """Where folding while recording must not fold over, from the first
    analysis: its watched connections' state changes (the timers' among
    them) and their anomalies' times; None where there are too many."""
    keys = set(watch) | {reverse_key(k) for k in watch}
    conns = [c for c in analysis.connections if c.ckey in keys]
    ids = {c.id for c in conns}
    times = {t for c in conns for ep in (c.client, c.server) for t in ep.trans_flat[0::2]}
    marks = {a.time for a in anomalies if a.time is not None and ids.intersection(a.connections)}
    if len(times) + len(marks) > MAX_GUARDS:
        return None
    return FoldGuard(tuple(sorted(times)), tuple(sorted(marks)))


def _guarded(recorder: Recorder, guard: FoldGuard) -> bool:
    """Whether every timer the recording pass inferred is dated at a guarded
    time (else a run was perhaps folded across it, and the pass is redone)."""
    times = set(guard.timer_times)
    return all(t in times for track in recorder.tracks.values() for t, *_ in track.timers)


def _record_watched_only(paths, watch, analysis: Analysis, options: AnalysisOptions, limit=None, guard=None):
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
        key = split_key(key)[0]    # without a tunnel's tag, the ports end it
        sport, dport = _PORTS.unpack_from(key, len(key) - 4)
        owned[sport ^ dport] = 1
    recorded, recorder = analyze_recording(paths, options, watch, owned=bytes(owned), limit=limit, guard=guard)
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
    return recorded, recorder


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
    track = track if track is not None else _Track(conn)
    rows, c, s = track.rows, conn.client, conn.server
    timers = [_timer_event(conn, t, side, state, before, analysis.options)
              for t, side, state, before in sorted(track.timers, key=lambda t: t[0])]
    slots = list(zip(_timer_slots(rows.time, timers), timers))
    if track.omitted:
        # A change dated after the last row kept may belong after segments
        # that were not kept: it is not placed.
        slots = [(k, ev) for k, ev in slots if k < len(rows)]
    events = LadderEvents(conn, rows, slots)
    _carry_timers(rows, slots)
    initial_server = _initial_server(conn)
    if initial_server == STATE_NAMES[LISTEN]:
        _show_listener(rows, slots)
    mine = [a for a in anomalies if conn.id in a.connections]
    if track.omitted:
        # The segment nearest an anomaly dated past the rows kept may be one
        # not kept: such an anomaly is listed, not marked on a row.
        last = max(rows.time) if len(rows) else None
        _attach(events, [a for a in mine if a.time is not None and last is not None and a.time <= last])
    else:
        _attach(events, mine)
    return Ladder(
        conn_id=conn.id, client=endpoint_text(c), server=endpoint_text(s), start=conn.first_seen,
        initial_client=STATE_NAMES[c.trans_flat[1]] if c.trans_flat else "CLOSED",
        initial_server=initial_server,
        events=events, anomalies=mine, summary=connection_entry(conn, conn.id),
        files=list(analysis.stats.files), omitted=track.omitted)


class LadderEvents(Sequence):
    """A ladder's events in order, each made as it is read from the recorded
    rows (``LadderEvent`` objects are not kept: a long connection has
    millions); the inferred timer events are kept, with their places.

    Segments stay in the order the tracker processed them (file order: a
    capture's timestamps are not always monotonic, and the states follow the
    processing).
    """

    def __init__(self, conn, rows: _Rows, timers):
        self.rows = rows
        self.timers = timers              # (rows before it, LadderEvent), in order
        self.anomalies: dict[int, list] = {}   # row -> the anomalies marked on it
        c, s = conn.client, conn.server
        self._trans = (c.trans_flat, s.trans_flat)
        self._wscale = {True: c.wscale, False: s.wscale}
        self._base = _isn_bases(conn, rows)

    def __len__(self) -> int:
        return len(self.rows) + len(self.timers)

    def segments(self) -> int:
        rows = self.rows
        return rows.kind.count(0) + sum(run.count for run in rows.folds.values())

    def time_bounds(self):
        """The earliest and the latest event time, or None without events."""
        times = [ev.time for _, ev in self.timers]
        if len(self.rows):
            times += [min(self.rows.time), max(self.rows.time)]
        if self.rows.fold_bounds is not None:
            times += self.rows.fold_bounds
        return (min(times), max(times)) if times else None

    def __iter__(self):
        rows, timers = self.rows, self.timers
        at, trans_at, trans_c, trans_s = 0, rows.trans_at, rows.trans_c, rows.trans_s
        seen = (1, 1)   # history entries already shown; entry 0 is the initial state
        t = 0
        for r in range(len(rows)):
            while t < len(timers) and timers[t][0] == r:
                yield timers[t][1]
                t += 1
            if at < len(trans_at) and trans_at[at] == r:
                now = (trans_c[at], trans_s[at])
                at += 1
            else:
                now = seen
            yield self._event(r, seen, now)
            seen = now
        for _, ev in timers[t:]:
            yield ev

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError("ladder event index out of range")
        before = 0
        for k, ev in self.timers:
            if k + before == index:
                return ev
            if k + before > index:
                break
            before += 1
        r = index - before
        return self._event(r, self._counts(r - 1) if r else (1, 1), self._counts(r))

    def _counts(self, r: int) -> tuple[int, int]:
        rows = self.rows
        at = bisect_right(rows.trans_at, r) - 1
        return rows.trans_c[at], rows.trans_s[at]

    def _event(self, r: int, seen, now):
        """The event of row ``r``; a run folded while recording, for one so made."""
        rows = self.rows
        if rows.kind[r] == _FOLDED:
            return rows.folds[r]
        flags = rows.flags[r]
        if rows.kind[r] == 0:
            bits = rows.bits[r]
            from_client = bool(bits & _FROM_CLIENT)
            seq, ack, win = rows.seq[r], rows.ack[r], rows.window[r]
            own, peer = self._base[from_client], self._base[not from_client]
            ev = LadderEvent(SEGMENT, rows.time[r], rows.cst[r], rows.sst[r], from_client, flags, seq, ack,
                             rows.length[r], _scaled_window(self._wscale[from_client], flags, win), win,
                             (seq - own) & SEQ_MASK if own is not None else None,
                             (ack - peer) & SEQ_MASK if flags & ACK and peer is not None else None,
                             bool(bits & _RETX), bool(bits & _RST_IGNORED))
        else:
            ev = LadderEvent(HANDOVER, rows.time[r], rows.cst[r], rows.sst[r], flags=flags,
                             note=_handover_note(rows.others[r], flags))
        marks = self.anomalies.get(r)
        if marks:
            ev.anomalies = list(marks)
        # One segment can move a side twice (a FIN+ACK takes ESTABLISHED
        # through CLOSE_WAIT to LAST_ACK): keep the states it passed through.
        ctrans, strans = self._trans
        ev.client_via = list(ctrans[2 * seen[0] + 1:2 * now[0]:2][:-1])
        ev.server_via = list(strans[2 * seen[1] + 1:2 * now[1]:2][:-1])
        return ev


def _isn_bases(conn, rows: _Rows) -> dict:
    """Each side's origin for relative seq and ack (as Wireshark shows them).

    A side whose SYN the capture missed (mid-stream) counts from the first
    sequence number it was seen to send; a RST's number is not a reliable
    origin (it may answer anything).
    """
    first = rows.first_seq
    return {True: conn.client.isn if conn.client.isn >= 0 else first[True],
            False: conn.server.isn if conn.server.isn >= 0 else first[False]}


def _timer_slots(times, timers) -> list[int]:
    """Where each inferred change goes: after the last row dated at or before
    it (and after the changes placed there already), so how many rows come
    before it.  ``timers`` are in time order."""
    out = []
    k = len(times)
    for ev in reversed(timers):
        while k and times[k - 1] > ev.time:
            k -= 1
        out.append(k)
    return out[::-1]


def _carry_timers(rows: _Rows, slots) -> None:
    """Carry the inferred changes into the later rows.

    The tracker learns of a change only at the end, so the rows after it
    still carry its live state for that side: the inferred state replaces it
    while the live state is the one it replaced.  A timer event shows the
    other side's state as the rows before it left it.
    """
    if not slots:
        return
    cols = {"client": rows.cst, "server": rows.sst}
    override, shown = {}, {}
    prev = 0
    for k, ev in slots + [(len(rows), None)]:
        for side, col in cols.items():
            _carry(col, prev, k, side, override, shown)
        prev = k
        if ev is None:
            break
        for side in cols:
            if ev.side == side:
                override[side] = (ev.before, getattr(ev, side + "_state"))
                shown[side] = getattr(ev, side + "_state")
            else:
                setattr(ev, side + "_state", shown.get(side, CLOSED))


def _carry(col: bytearray, start: int, end: int, side: str, override: dict, shown: dict) -> None:
    if start >= end:
        return
    if side in override:
        before, after = override[side]
        # The override holds over the leading rows still in the replaced state.
        run = (end - start) - len(col[start:end].lstrip(bytes((before,))))
        col[start:start + run] = bytes((after,)) * run
        if run < end - start:
            del override[side]
    shown[side] = col[end - 1]


def _initial_server(conn) -> str:
    # A server that answered the client's SYN with a SYN-ACK was a passive
    # open: the textbook starts it in LISTEN (the listener, not this TCB,
    # which is born in SYN_RECEIVED).
    s = conn.server
    if s.syn_count and not conn.roles_inferred and conn.client.syn_count:
        return STATE_NAMES[LISTEN]
    return STATE_NAMES[s.trans_flat[1]] if s.trans_flat else "CLOSED"


def _show_listener(rows: _Rows, slots) -> None:
    # Until the server sends its SYN-ACK, the tracker has no TCB for it
    # (CLOSED); what receives the SYN is the listening socket.
    col, prev = rows.sst, 0
    for k, ev in slots + [(len(rows), None)]:
        run = (k - prev) - len(col[prev:k].lstrip(bytes((CLOSED,))))
        col[prev:prev + run] = bytes((LISTEN,)) * run
        if run < k - prev or ev is None or ev.server_state != CLOSED:
            return
        ev.server_state = LISTEN
        prev = k


def _scaled_window(wscale, flags, win) -> int:
    # The window in a SYN is never scaled; later ones are shifted by the
    # sender's scale once both SYNs offered the option (RFC 7323 2.2-2.3).
    if flags & SYN or wscale <= 0:
        return win
    return win << wscale


def _handover_note(other, flags) -> str:
    oid = f"#{other.id}" if other is not None and other.id else "a new one"
    if flags & SYN and flags & ACK:
        # The peer accepted a new SYN on the tuple (Linux lets one replace a
        # TIME_WAIT socket): the old TCB is gone.
        return f"conn {oid} accepted: TCB replaced"
    if flags & SYN:
        return f"new SYN (conn {oid}) ends this TCB"
    return f"conn {oid} on this 4-tuple"


def _timer_event(conn, t, side, state, before, options) -> LadderEvent:
    ev = LadderEvent(TIMER, t, -1, -1, side=side, before=before,
                     note=_timer_note(conn, side, state, before, options))
    if side == "client":
        ev.client_state = state
    else:
        ev.server_state = state
    return ev


def _timer_note(conn, side, state, before, options) -> str:
    """Why the tracker moved an endpoint without a packet (tracker.finalize)."""
    if state == UNKNOWN and (before == SYN_SENT or before == CLOSED):
        # engine.timers.lone_syn (both sides, dated at the SYN).
        return f"SYN not repeated in {LOST_ANSWER_WAIT:g} s: answer not captured?"
    if before == TIME_WAIT:
        return f"TIME_WAIT over (2MSL, {options.time_wait:g} s)"
    if before == FIN_WAIT_2:
        return f"FIN_WAIT_2 timeout ({options.fin_timeout:g} s)"
    if before == SYN_SENT:
        return f"SYN retries exhausted ({SYN_SENT_TIMEOUT:g} s)"
    if before == SYN_RECEIVED and conn.rare.syn_cookie:
        return "SYN cookie: server kept no TCB"
    if before == SYN_RECEIVED:
        return f"SYN-ACK retries exhausted ({SYN_RECEIVED_TIMEOUT:g} s)"
    if before == ESTABLISHED and side == "client" and not conn.hs & HS_ACK and conn.hs & HS_SYNACK:
        return f"SYN-ACK unanswered {SYNACK_ANSWER_TIME:g} s: no socket"
    return f"{side} silent {options.unanswered:g} s: connection lost"


def _attach(events: LadderEvents, anomalies) -> None:
    """Each anomaly goes on the segment nearest its time (the last one if untimed)."""
    if not anomalies:
        return
    rows = events.rows
    if events.segments():
        for a in anomalies:
            target = rows.kind.rindex(0) if a.time is None else _nearest_segment(rows, a.time)
            events.anomalies.setdefault(target, []).append(a)
        return
    # No segment: the handovers' rows and the timer events, in order.
    refs, t, timers = [], 0, events.timers
    for r in range(len(rows)):
        while t < len(timers) and timers[t][0] == r:
            refs.append(timers[t][1])
            t += 1
        refs.append(r)
    refs += [ev for _, ev in timers[t:]]
    if not refs:
        return
    for a in anomalies:
        if a.time is None:
            target = refs[-1]
        else:
            target = min(refs, key=lambda x: abs((rows.time[x] if isinstance(x, int) else x.time) - a.time))
        if isinstance(target, int):
            events.anomalies.setdefault(target, []).append(a)
        else:
            target.anomalies.append(a)


def _nearest_segment(rows: _Rows, when: float) -> int:
    """The first segment's row whose time is nearest ``when``."""
    kind, times = rows.kind, rows.time
    best, gap = None, None
    for r in range(len(rows)):
        if kind[r] == 0:
            d = abs(times[r] - when)
            if gap is None or d < gap:
                best, gap = r, d
    return best


# ---------------------------------------------------------------------- JSON
def ladder_json(ladder: Ladder, stream: bool = False, notices: list | None = None) -> dict:
    """The ladder as a JSON-ready dict: the connection and one entry per event.

    With ``stream``, ``events`` is an iterator making each entry as it is
    read (``render.ladder.iter_ladders_json`` writes it so): a long
    connection's entries are never all held.  ``notices``: what the
    analysis could not see (``findings.analysis_notices``), said beside it.
    """
    events = (_event_json(ev, ladder.start) for ev in ladder.events)
    doc = {
        "connection": ladder.summary,
        **({"notices": notices} if notices is not None else {}),
        "instance": ladder.instance, "instances": ladder.instances,
        "initial": {"client": ladder.initial_client, "server": ladder.initial_server},
        "final": {"client": ladder.final("client"), "server": ladder.final("server")},
        "events": events if stream else list(events),
        "anomalies": [a.as_dict() for a in ladder.anomalies],
    }
    if ladder.omitted:
        doc["omitted_segments"] = ladder.omitted
    return doc


def _event_json(ev: LadderEvent, start: float) -> dict:
    d = {"kind": ev.kind, "time": round(ev.time, 6), "offset": round(ev.time - start, 6)}
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
    return d
