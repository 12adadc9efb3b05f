"""The ladder diagram as text: client and server columns, one arrow per segment.

The data phase of a long connection folds into one summary line
(``display_rows``) unless asked for in full; the HTML report draws the same
rows as SVG.
"""
from __future__ import annotations

import json
import textwrap
from collections import deque

from ..decode import ACK, CONTROL
from ..model.states import STATE_NAMES
from ..views.ladder import FOLD_KEEP, FOLD_MIN, SEGMENT, FoldedRun, Ladder, LadderEvent
from .json_out import _as_json, _key, _write
from .notices import notices_text
from .palette import SGR, TERMINAL_SEVERITY, TERMINAL_STATE

STATE_WIDTH = max(len(n) for n in STATE_NAMES)   # "SYN_RECEIVED"
MIN_ARROW = 16
# Past this, a longer arrow only makes the eye travel: wide terminals get a
# ladder of readable width, not a stretched one.
MAX_ARROW = 72


# ---------------------------------------------------------------------- rows
class Fold:
    """A data phase folded into one line: its counts, not its segments (a
    data phase can run to millions)."""

    __slots__ = ("count", "retransmissions", "data", "nbytes", "first", "last")

    def __init__(self, events=()):
        self.count = self.retransmissions = self.data = self.nbytes = 0
        self.first = self.last = None
        for ev in events:
            self.add(ev)

    def add(self, ev: LadderEvent) -> None:
        if self.first is None:
            self.first = ev.time
        self.last = ev.time
        self.count += 1
        if ev.retransmission:
            self.retransmissions += 1
        elif ev.length:
            self.nbytes += ev.length
        if ev.length:
            self.data += 1

    def take(self, run: FoldedRun) -> None:
        """Add the segments of a run folded while recording, in their place."""
        if self.first is None:
            self.first = run.first
        self.last = run.last
        self.count += run.count
        self.retransmissions += run.retransmissions
        self.data += run.data
        self.nbytes += run.nbytes

    def describe(self, short: bool = False) -> list[str]:
        """Phrases, most important first, so a narrow line can drop the tail."""
        n, data, nbytes, retx = self.count, self.data, self.nbytes, self.retransmissions
        acks = n - data
        if short:
            return [f"{n:,} segs", f"{retx:,} rtx", f"{nbytes:,} B", f"{self.last - self.first:.3f}s"]
        return [f"{n:,} data segments", f"{retx:,} retransmission{'s' if retx != 1 else ''}",
                f"{data:,} with data ({nbytes:,} bytes)", f"{acks:,} ACK{'s' if acks != 1 else ''}",
                f"{self.last - self.first:.3f}s"]


def _quiet(ev: LadderEvent, prev: tuple) -> bool:
    """A data-phase segment: no control bit, no state change, nothing to flag.

    Retransmissions stay quiet: loss recovery is what a data phase is made of,
    and the fold line counts them.
    """
    return (ev.kind == SEGMENT and not ev.flags & CONTROL and not ev.anomalies
            and not ev.rst_ignored and (ev.client_state, ev.server_state) == prev)


def display_rows(ladder: Ladder, full: bool = False) -> list:
    """Events, with runs of quiet segments folded into ``Fold`` rows unless ``full``."""
    return list(iter_display_rows(ladder, full))


def iter_display_rows(ladder: Ladder, full: bool = False):
    """``display_rows`` one row at a time: a run being folded holds its
    first and last FOLD_KEEP events and the fold's counts, whatever its length.

    A ``FoldedRun`` (a recording that folded as it went) stands for quiet
    segments inside a run already folding, with at least FOLD_KEEP of the
    run's segments after it: they join the fold.
    """
    if full:
        yield from ladder.events
        return
    run: list = []          # the run's events while it is too short to fold
    fold: Fold | None = None
    tail: deque = deque()   # once folding: the run's latest events
    prev = (None, None)
    for ev in ladder.events:
        if isinstance(ev, FoldedRun):
            while tail:
                fold.add(tail.popleft())
            fold.take(ev)
            continue
        if _quiet(ev, prev):
            if fold is None:
                run.append(ev)
                if len(run) == 2 * FOLD_KEEP + FOLD_MIN:
                    yield from run[:FOLD_KEEP]
                    fold = Fold(run[FOLD_KEEP:-FOLD_KEEP])
                    tail.extend(run[-FOLD_KEEP:])
                    run.clear()
            else:
                tail.append(ev)
                if len(tail) > FOLD_KEEP:
                    fold.add(tail.popleft())
        else:
            if fold is not None:
                yield fold
                yield from tail
                fold = None
                tail.clear()
            yield from run
            run.clear()
            yield ev
        prev = (ev.client_state, ev.server_state)
    if fold is not None:
        yield fold
        yield from tail
    yield from run


# ---------------------------------------------------------------------- text
# The terminal's colours: the report table's (render.palette).
_COLORS = SGR
STATE_COLOR = TERMINAL_STATE
SEVERITY_COLOR = TERMINAL_SEVERITY


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
        bounds = _time_bounds(ladder.events)
        lo, hi = (bounds[0] - ladder.start, bounds[1] - ladder.start) if bounds else (0.0, 0.0)
        self.time = max(len(f"{hi:.6f}"), len(f"{lo:.6f}"), 8)
        self.state = STATE_WIDTH
        self.arrow = min(MAX_ARROW, max(MIN_ARROW, width - self.time - 2 * self.state - 3))
        self.width = self.time + 2 * self.state + 3 + self.arrow
        self.lead = " " * (self.time + 1)

    def line(self, t: str, left: str, middle: str, right: str) -> str:
        return f"{t.rjust(self.time)} {left} {middle} {right}".rstrip()


def _time_bounds(events):
    """The earliest and latest event time, or None: from the recorded columns
    where the events are a ``LadderEvents``."""
    if hasattr(events, "time_bounds"):
        return events.time_bounds()
    times = [e.time for e in events]
    return (min(times), max(times)) if times else None


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
    return "".join(iter_ladder_text(ladder, full, width, color, absolute))


# Lines written per chunk: a chunk a line would cost a write call each.
_CHUNK_LINES = 1024


def iter_ladder_text(ladder: Ladder, full: bool = False, width: int = 80, color: bool = False,
                     absolute: bool = False):
    """``render_ladder``'s text as a stream of chunks of whole lines: with
    ``full``, a connection of millions of segments is never held as text."""
    out: list[str] = []
    for line in _ladder_lines(ladder, full, width, color, absolute):
        out.append(line)
        if len(out) >= _CHUNK_LINES:
            out.append("")
            yield "\n".join(out)
            out = []
    if out:
        out.append("")
        yield "\n".join(out)


def iter_ladders_text(ladders, notices=(), **how):
    """Several ladders' text, a blank line between two, as a stream of chunks
    (``how``: ``iter_ladder_text``'s options), under the ``notices``
    (``views.findings``) of the analysis they were drawn from."""
    if notices:
        yield notices_text(notices, how.get("width"), how.get("color", False)) + "\n\n"
    for i, ladder in enumerate(ladders):
        if i:
            yield "\n\n"
        yield from iter_ladder_text(ladder, **how)
    yield "\n"


def _ladder_lines(ladder: Ladder, full: bool, width: int, color: bool, absolute: bool):
    pen = _Pen(color)
    lay = _Layout(ladder, width)
    yield from _header(ladder, width, pen, absolute)
    yield from _column_titles(ladder, lay)
    prev = (ladder.initial_client, ladder.initial_server)
    yield lay.line("", _state_cell(prev[0], True, lay, pen), " " * lay.arrow, _state_cell(prev[1], True, lay, pen))
    # Neither state changes inside a fold (nor is shown past the rows kept),
    # so its line may run across the server's state column too.
    room = lay.width - lay.time - lay.state - 2
    for row in iter_display_rows(ladder, full):
        if isinstance(row, Fold):
            text = "… " + _fold_text(row, room - 8) + " …"
            yield lay.line("", " " * lay.state, pen(_note_line(text, room), "dim"), "")
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
            yield lay.line(t if i == 0 else "", left, mid if i == 0 else " " * lay.arrow, right)
        for a in row.anomalies:
            indent = lay.lead + " " * (lay.state + 1)
            for text in _wrap(f"▲ {a.severity} {a.type}: {a.message}", width, indent, indent + "  "):
                yield pen(text, SEVERITY_COLOR.get(a.severity))
    if ladder.omitted:
        text = f"… {omitted_text(ladder)} …"
        yield lay.line("", " " * lay.state, pen(_note_line(text, room), "dim"), "")
    yield from _footer(ladder, width)


def omitted_text(ladder: Ladder) -> str:
    return f"{ladder.omitted:,} more segment{'s' if ladder.omitted != 1 else ''} not drawn"


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
    nseg = ladder.segments
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


# ---------------------------------------------------------------------- JSON
def iter_ladders_json(docs: list):
    """The ladders' JSON (``views.ladder.ladder_json(..., stream=True)``
    documents; one is written as itself, several as a list) as a stream of
    text chunks: the layout of ``render.json_out.iter_view_dumps``, with each
    ladder's events written as they are made."""
    enc = json.JSONEncoder(allow_nan=False, ensure_ascii=False, default=_as_json).encode
    if len(docs) == 1:
        yield from _ladder_json(docs[0], enc, "\n", "")
        yield "\n"
        return
    if not docs:
        yield "[]\n"
        return
    sep = "[\n  "
    for doc in docs:
        yield from _ladder_json(doc, enc, "\n  ", sep)
        sep = ",\n  "
    yield "\n]\n"


def _ladder_json(doc: dict, enc, newline: str, head: str):
    inner = newline + "  "
    sep = head + "{" + inner
    for key, value in doc.items():
        prefix = sep + _key(key, enc) + ": "
        if key == "events":
            yield from _json_list(value, enc, inner, prefix)
        else:
            out = [prefix]
            _write(value, out, inner, enc)
            yield "".join(out)
        sep = "," + inner
    yield newline + "}"


def _json_list(items, enc, newline: str, head: str):
    """A list of objects, an object at a time, as ``json_out._write`` lays it out."""
    inner = newline + "  "
    sep = head + "[" + inner
    out: list[str] = []
    empty = True
    for item in items:
        out.append(sep)
        _write(item, out, inner, enc)
        sep = "," + inner
        empty = False
        if len(out) >= 4096:
            yield "".join(out)
            out = []
    if empty:
        yield head + "[]"
        return
    out.append(newline + "]")
    yield "".join(out)
