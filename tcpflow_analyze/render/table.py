"""Human-readable tables (tabulate) rendered from the report document."""
from __future__ import annotations

import re

from tabulate import multiline_formats, tabulate

from ..model.text import address_port_text, printable, utc_text
from ..views.findings import at_least, findings, group_about, group_noun, groups, hidden_text, notices, reach, span
from ..views.record import values_getter
from . import fit
from .notices import LABEL_WIDTH, notices_text
from .palette import TERMINAL_SEVERITY, TERMINAL_STATE, paint


def _duration(seconds) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.3f}s"
    if seconds < 3600:
        return f"{seconds:.1f}s"
    return f"{seconds / 3600:.1f}h"


def paint_state(name: str, color: bool) -> str:
    return paint(name, TERMINAL_STATE.get(name)) if color else name


def paint_severity(sev: str, color: bool) -> str:
    return paint(sev, TERMINAL_SEVERITY.get(sev)) if color else sev


CONNECTION_COLUMNS = ("id", "client", "server", "client state", "server state", "pkts c/s", "bytes c/s",
                      "dur", "history")
HEADERS = {"client state": "client\nstate", "server state": "server\nstate", "pkts c/s": "pkts\nc/s",
           "bytes c/s": "bytes\nc/s"}
# On a narrow terminal these go first, in this order: the JSON has them all.
DROPPABLE = ("bytes c/s", "dur", "pkts c/s", "history")


# The record's fields a row shows (views.record), read straight from the connection.
_ROW_VALUES = values_getter("client.ip", "client.port", "roles_inferred", "server.ip", "server.port",
                            "client.state", "server.state", "packets.client", "packets.server",
                            "bytes.client", "bytes.server", "duration", "history")


def _connection_row(conn, cid: int, color: bool) -> list[str]:
    """A connection's cells, in CONNECTION_COLUMNS order: what its report
    entry says (``views.record``), made without the entry."""
    (cip, cport, guessed, sip, sport, cstate, sstate, cpkts, spkts, cbytes, sbytes, duration,
     history) = _ROW_VALUES(conn, cid)
    return [
        str(cid),
        address_port_text(cip, cport) + ("?" if guessed else ""),
        address_port_text(sip, sport),
        paint_state(cstate, color),
        paint_state(sstate, color),
        f"{cpkts}/{spkts}",
        f"{cbytes}/{sbytes}",
        _duration(duration),
        history,
    ]


# The column each --sort key orders by (analysis.filters.SORT_KEYS): never
# the one left out for a narrow terminal, since the reader sorted to see it.
SORT_COLUMN = {"packets": "pkts c/s", "bytes": "bytes c/s", "duration": "dur"}

# For a terminal too narrow for a connection's line even with every
# droppable column left out: each connection on two lines, its client's
# values above its server's, in the columns named here (DROPPABLE's keep
# their names).  Addresses and numbers are never cut instead.
STACKED_COLUMNS = ("id", "endpoints", "states", "pkts c/s", "bytes c/s", "dur", "history")
STACKED_HEADERS = {"endpoints": "client\nserver", "states": "state", "pkts c/s": "pkts", "bytes c/s": "bytes"}


def _stacked(row: list[str]) -> list[str]:
    """A row's cells in STACKED_COLUMNS: pairs one above the other."""
    return [row[0], _pair(row[1], row[2]), _pair(row[3], row[4]), _pair(*row[5].partition("/")[::2]),
            _pair(*row[6].partition("/")[::2]), row[7], row[8]]


def _pair(client: str, server: str) -> str:
    # "-" holds an empty value's line: a table strips a cell's blank lines,
    # which would lift the server's value onto the client's line.
    return f"{client.strip() or '-'}\n{server.strip() or '-'}"


def _layouts(table_format: str):
    """The table's layouts, widest first: (columns, their headers, the row
    transform or None)."""
    yield CONNECTION_COLUMNS, [HEADERS.get(k, k) for k in CONNECTION_COLUMNS], None
    if table_format in multiline_formats:
        yield STACKED_COLUMNS, [STACKED_HEADERS.get(k, k) for k in STACKED_COLUMNS], _stacked


def _drop_order(sort: str | None) -> list[str]:
    """DROPPABLE without the column ``sort`` orders by."""
    return [k for k in DROPPABLE if k != SORT_COLUMN.get(sort)]


def _narrow_note(stacked: bool, dropped: list[str], width: int | None) -> str:
    parts = ["each connection on two lines, the client's above the server's"] if stacked else []
    if dropped:
        parts.append(f"{', '.join(dropped)} left out; --format json has everything")
    return "\n" + fit.fill(f"(narrow terminal: {'; '.join(parts)})", width) if parts else ""


def connections_section(conns, table_format: str, color: bool, width: int | None, sort: str | None = None):
    """The connections table's text in chunks, and the note on guessed
    roles if it needs one; ``conns``: a ``views.report.ConnectionEntries``;
    ``sort``: the --sort key, whose column stays however narrow ``width``."""
    rows = [_connection_row(conn, cid, color) for conn, cid in conns.numbered()]
    table = _connections_table(rows, table_format, color, width, sort)
    yield from (table,) if isinstance(table, str) else table
    if any(r[1].endswith("?") for r in rows):
        yield "\n\n" + fit.fill("? roles guessed: the capture has no SYN for this connection", width)


def _connections_table(rows: list[list[str]], table_format: str, color: bool, width: int | None,
                       sort: str | None = None):
    """The connections table: text, or for the default format an iterator
    of its chunks (see ``_simple_chunks``)."""
    if table_format == "simple":
        return _simple_chunks(rows, color, width, sort)
    return _tabulated_table(rows, table_format, width, sort)


def _tabulated_table(rows: list[list[str]], table_format: str, width: int | None, sort: str | None = None) -> str:
    """The table in any tabulate format, in the first layout and with the
    fewest columns left out that fit ``width`` (else the narrowest)."""
    for columns, all_headers, transform in _layouts(table_format):
        cells = rows if transform is None else [transform(r) for r in rows]
        droppable = [k for k in _drop_order(sort) if k in columns]
        left = list(columns)
        while True:
            keep = [columns.index(k) for k in left]
            # Two-line headers: a header no wider than its values.
            text = tabulate([[r[i] for i in keep] for r in cells], headers=[all_headers[i] for i in keep],
                            tablefmt=table_format, disable_numparse=True)
            too_wide = width is not None and fit.widest(text) > width
            if not too_wide or not droppable:
                break
            left.remove(droppable.pop(0))
        if not too_wide:
            break
    dropped = [k for k in CONNECTION_COLUMNS if k in columns and k not in left]
    return text + _narrow_note(transform is not None, dropped, width)


def _simple_chunks(rows: list[list[str]], color: bool, width: int | None, sort: str | None = None):
    """The connections table in tabulate's "simple" format, written here,
    in the first layout and with the fewest columns left out that fit
    ``width`` (as ``_tabulated_table`` chooses): in chunks of lines, so
    that a table of 100,000 rows is written as it is made, never held whole
    (17 MB of text, three times over when joined and joined again)."""
    rows = [r if all(v == v.strip() for v in r) else [v.strip() for v in r] for r in rows]
    for columns, headers, transform in _layouts("simple"):
        cells = rows if transform is None else [transform(r) for r in rows]
        widths = _simple_widths(headers, cells, color)
        drop = fit.columns_to_drop(widths, width, [columns.index(k) for k in _drop_order(sort) if k in columns])
        keep = [i for i in range(len(columns)) if i not in drop]
        if fit.fits([widths[i] for i in keep], width):
            break
    yield from _joined(_simple([headers[i] for i in keep], cells, [widths[i] for i in keep], color,
                               keep if drop else None))
    note = _narrow_note(transform is not None, [k for k in CONNECTION_COLUMNS if k in columns and
                                                 columns.index(k) in drop], width)
    if note:
        yield note


# Lines per chunk of a streamed table: ~0.3 MB of text.
CHUNK_LINES = 2000


def _joined(lines, batch: int | None = None):
    """``"\\n".join(lines)``, as chunks of ``batch`` (CHUNK_LINES) lines."""
    batch = batch or CHUNK_LINES
    chunk = []
    sep = ""
    for line in lines:
        chunk.append(line)
        if len(chunk) == batch:
            yield sep + "\n".join(chunk)
            chunk.clear()
            sep = "\n"
    if chunk or not sep:
        yield sep + "\n".join(chunk)


# tabulate's "simple" format, written here: it buys 44% of a 2M-packet table
# run and a third of its memory (bench/README.md, Tricks), as tabulate builds
# a whole table in memory, several times over when columns are dropped to fit
# a terminal.  The format is plain enough to write directly: cells stripped of surrounding
# blanks, a cell of several lines making its row as tall (a row of empty
# cells takes no line); each column as wide as its widest line, or its
# header's plus two (tabulate's padding); two spaces between columns; lines
# stripped at the end; colour codes take no width.  Tests hold it to
# tabulate's output byte for byte.

def _simple_widths(headers: list[str], rows: list[list[str]], color: bool) -> list[int]:
    """Each column's width: ``rows`` are lists of stripped cell text."""
    visible = _visible_len if color else len
    widths = []
    for i, header in enumerate(headers):
        cells = [r[i] for r in rows]
        if any("\n" in c for c in cells):
            cells = [line for c in cells for line in c.splitlines()]
        widths.append(max(max(map(len, header.split("\n"))) + 2, max(map(visible, cells), default=0)))
    return widths


def _simple(headers: list[str], rows: list[list[str]], widths: list[int], color: bool, keep=None):
    """The table's lines: headers, dashes, rows (their cells at ``keep``, or
    all of them)."""
    visible = _visible_len if color else len
    header_lines = [h.split("\n") for h in headers]
    for i in range(max(len(h) for h in header_lines)):
        yield "  ".join((h[i] if i < len(h) else "").ljust(w) for h, w in zip(header_lines, widths)).rstrip()
    yield "  ".join("-" * w for w in widths)
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    for row in rows:
        if keep is not None:
            row = [row[i] for i in keep]
        if any("\n" in c for c in row):
            parts = [c.splitlines() for c in row]
            for i in range(max(map(len, parts))):
                cells = [p[i] if i < len(p) else "" for p in parts]
                yield _simple_line(cells, widths, fmt, color, visible)
        elif any(row):
            yield _simple_line(row, widths, fmt, color, visible)


def _simple_line(cells, widths, fmt, color, visible) -> str:
    if color:
        return "  ".join(c + " " * (w - visible(c)) for c, w in zip(cells, widths)).rstrip()
    return fmt.format(*cells).rstrip()


# Messages are sentences: wrapped so a table fits a terminal.  Ids, counts,
# addresses and times never are (a wrapped "14485" reads as two
# connections): ``render.fit`` breaks lines at blanks only.
MESSAGE_WIDTH = 64
MIN_MESSAGE_WIDTH = 24
# A message too wide for the room its row leaves goes on lines of its own
# under the row, indented so the rows still read as a column.
UNDER_INDENT = "    "
FINDING_HEADERS = ("severity", "anomaly", "groups", "conns", "worst")
# Left out first on a narrow terminal: the type's section below lists its
# groups.  Never the severity, the type or the connections (the order's keys).
FINDING_DROPPABLE = ("groups",)
GROUP_HEADERS = ("conns", "first .. last", "examples", "what")
# Left out first on a narrow terminal, in this order: the header's span
# dates the capture, and the JSON lists every id.  Never what the group is
# about or its connections (the order's key).
GROUP_DROPPABLE = ("first .. last", "examples")
# Groups listed under a type's heading, biggest first: at 3 a.m. the ten
# biggest say what is wrong; the JSON lists every one.
MAX_GROUPS = 10
# Connection ids shown per group: enough to draw a ladder (ladder --conn ID).
EXAMPLE_IDS = 3


def _wrapped(text: str, width: int) -> str:
    """A cell's lines wrapped to ``width`` at blanks only (``render.fit``:
    an id list, an address, a number stays whole), blank lines dropped."""
    return "\n".join(line for line in fit.wrap(text, width) if line.strip())


def _anomalies_table(rows: list[list[str]], headers, widths, table_format: str, color: bool) -> str:
    """A table of findings whose cells of a given width are wrapped to it
    (``widths``: None for cells never wrapped)."""
    # Wrapped here, not by tabulate's maxcolwidths: that splits words (an id
    # list, an address) and raises ValueError on a cell it takes for a
    # number with a thousands separator -- the ids "1,100" (tabulate 0.10).
    rows = [[(_wrapped(c, w) if w is not None else c).strip() for c, w in zip(r, widths)] for r in rows]
    headers = list(headers)
    if table_format != "simple":
        return tabulate(rows, headers=headers, tablefmt=table_format, disable_numparse=True)
    return "\n".join(_simple(headers, rows, _simple_widths(headers, rows, color), color))


def _longest_word(text: str) -> int:
    return max(map(fit.visible_len, text.split()), default=0)


def _beside(rows, headers, table_format: str, color: bool, width: int, minimum: int = MIN_MESSAGE_WIDTH) -> str | None:
    """The table with its last column (the message) wrapped into the room
    the others leave in ``width``, MESSAGE_WIDTH at most; None when that is
    under ``minimum`` or a message's longest word."""
    others = _simple_widths(list(headers[:-1]), [r[:-1] for r in rows], color)
    need = max([minimum] + [_longest_word(r[-1]) for r in rows])
    room = min(MESSAGE_WIDTH, fit.room(others, width, minimum=0))
    while room >= need:
        text = _fitted_widths(rows, headers, room, table_format, color)
        # Measured, not computed: the other formats draw borders and padding.
        over = fit.widest(text) - width
        if over <= 0:
            return text
        room -= over
    return None


def _fitted_widths(rows, headers, message_width: int, table_format: str, color: bool) -> str:
    return _anomalies_table(rows, headers, [None] * (len(headers) - 1) + [message_width], table_format, color)


def _under(rows, headers, color: bool, width: int) -> str:
    """The table ("simple") without its last column, each row's message on
    lines of its own under it."""
    headers, cells = list(headers[:-1]), [r[:-1] for r in rows]
    widths = _simple_widths(headers, cells, color)
    lines = list(_simple(headers, [], widths, color))
    head = len(lines)
    for row, cell in zip(rows, cells):
        lines += list(_simple(headers, [cell], widths, color))[head:]
        lines += fit.wrap(row[-1], width, UNDER_INDENT, UNDER_INDENT)
    return "\n".join(lines)


def _columns(rows, headers, keep: list[int]):
    return [[r[i] for i in keep] for r in rows], [headers[i] for i in keep]


def _fitted_table(rows, headers, table_format: str, color: bool, width: int | None, droppable=()) -> str:
    """A findings table fitted to ``width``: its last column (a message)
    wrapped into the room the others leave; where that is too narrow, the
    ``droppable`` columns left out, in order, until it is not; narrower
    still, each message under its row (the "simple" format), with as few
    columns left out as the rest needs."""
    headers = list(headers)
    if width is None or not rows:
        return _fitted_widths(rows, headers, MESSAGE_WIDTH, table_format, color)
    order = [headers.index(h) for h in droppable if h in headers]
    for n in range(len(order) + 1):
        keep = [i for i in range(len(headers)) if i not in order[:n]]
        text = _beside(*_columns(rows, headers, keep), table_format, color, width)
        if text is not None:
            return text + _narrow_note(False, [headers[i] for i in order[:n]], width)
    if table_format == "simple":
        widths = _simple_widths(headers[:-1], [r[:-1] for r in rows], color)
        dropped = fit.columns_to_drop(widths, width, order)
    else:
        dropped = order
    keep = [i for i in range(len(headers)) if i not in dropped]
    cells, kept = _columns(rows, headers, keep)
    if table_format == "simple":
        text = _under(cells, kept, color, width)
    else:
        # A bordered format has no line of its own under a row: the message
        # as wide as the room left, at worst as narrow as its longest word.
        text = _beside(cells, kept, table_format, color, width, minimum=1) or \
            _fitted_widths(cells, kept, max(_longest_word(r[-1]) for r in cells), table_format, color)
    return text + _narrow_note(False, [headers[i] for i in dropped], width)


def _findings_table(summary: list[dict], table_format: str, color: bool, width: int | None) -> str:
    """The findings summary: one row per anomaly type, worst first."""
    rows = [[paint_severity(f["severity"], color), f["type"], f"{f['anomalies']:,}", f"{f['connections']:,}",
             f["worst"]["message"]] for f in summary]
    return _fitted_table(rows, FINDING_HEADERS, table_format, color, width, FINDING_DROPPABLE)


def _clock(t) -> str:
    """A time of day: the header's span gives the date."""
    return utc_text(t, "%H:%M:%S.%f")


def _when(anomaly: dict) -> str:
    first, last = span(anomaly)
    if first is None:
        return "-"
    return _clock(first) if last is None or last == first else f"{_clock(first)} .. {_clock(last)}"


def _examples(ids: list[int]) -> str:
    """A few connection ids (``ladder --conn ID`` draws one); "-" when all
    were folded into counts."""
    if not ids:
        return "-"
    return ", ".join(map(str, ids[:EXAMPLE_IDS])) + (" …" if len(ids) > EXAMPLE_IDS else "")


# "What it means" is prose: no wider than this on a wide terminal.
MEANING_WIDTH = 100


def _type_section(finding: dict, anomalies: list[dict], table_format: str, color: bool, width: int | None) -> str:
    """One anomaly type: its heading, what it means (once), its biggest groups."""
    listed = groups(anomalies, finding["type"])
    noun = group_noun(listed)
    n = finding["anomalies"]
    head = fit.fill(f"{finding['type']} ({paint_severity(finding['severity'], color)}): "
                    f"{n:,} {noun if n != 1 else noun[:-1]}, {finding['connections']:,} "
                    f"{'connection' if finding['connections'] == 1 else 'connections'}", width, "", "  ")
    meaning = fit.fill("what it means: " + finding["explanation"], min(width or MEANING_WIDTH, MEANING_WIDTH),
                       "  ", "  ")
    about = [group_about(a) for a in listed[:MAX_GROUPS]]
    fields = {f for f, _ in about}
    headers = ([fields.pop() if len(fields) == 1 else "about"] if any(v for _, v in about) else []) + \
        list(GROUP_HEADERS)
    rows = [([value or "-"] if len(headers) > len(GROUP_HEADERS) else []) +
            [f"{reach(a):,}", _when(a), _examples(a["connections"]), a["message"]]
            for a, (_, value) in zip(listed, about)]
    text = f"{head}\n{meaning}\n\n{_fitted_table(rows, headers, table_format, color, width, GROUP_DROPPABLE)}"
    if len(listed) > MAX_GROUPS:
        text += "\n" + fit.fill(f"… and {len(listed) - MAX_GROUPS:,} more {noun}: --format json lists them all",
                                width)
    return text


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _visible_len(text: str) -> int:
    """The width of text on a terminal: colour codes take none."""
    return len(_strip_ansi(text))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def render(report: dict, table_format: str = "simple", color: bool = False, width: int | None = None,
           min_severity: str | None = None, sort: str | None = None) -> str:
    """The report as text; ``width``, for a terminal, drops the connection
    table's least needed columns until it fits."""
    return "".join(iter_render(report, table_format, color, width, min_severity=min_severity, sort=sort))


def iter_render(report: dict, table_format: str = "simple", color: bool = False, width: int | None = None,
                forked=None, min_severity: str | None = None, sort: str | None = None):
    """``render``'s text in chunks, to be written as they come; ``forked``:
    a ``runtime.ForkedTable`` writing the connections section;
    ``min_severity``: findings below it are hidden (and counted)."""
    for i, section in enumerate(_sections(report, table_format, color, width, forked, min_severity, sort)):
        if i:
            yield "\n\n"
        if isinstance(section, str):
            yield section
        else:
            yield from section
    yield "\n"


# The header's labels, and the notices' under them.
_LABEL_WIDTH = LABEL_WIDTH


def _header(report: dict, width: int | None = None) -> str:
    cap, summary = report["capture"], report["summary"]
    skipped = [f"{k} {v:,}" for k, v in cap["skipped"].items() if v] or ["none"]
    listed = summary["connections"]
    total = summary.get("connections_total", listed)
    # The count agrees with the states table below, which counts the folded
    # connections too.
    conns = f"{total:,}" if total == listed else f"{total:,} ({listed:,} listed, {total - listed:,} folded)"
    # Each value as the items a narrow terminal may put on separate lines,
    # and what joins them: a file name, a count, a time is never cut.
    rows = [
        ("files", list(map(printable, cap["files"])), ", "),
        ("packets", [f"{cap['packets']:,}", f"({cap['tcp_packets']:,} TCP)"], " "),
        ("skipped", skipped, ", "),
        ("span", [utc_text(cap["start"]), f".. {utc_text(cap['end'])}", f"({_duration(cap['duration'])})"], " "),
        ("connections", conns.split(" "), " "),
    ]
    if cap.get("encapsulations"):
        # Only when there were tunnels: a plain capture's header is as it was.
        rows.insert(3, ("tunnels", [f"{k} {v:,} TCP" for k, v in cap["encapsulations"].items()], ", "))
    return "\n".join(line for k, items, sep in rows
                     for line in fit.pack(items, width, sep, f"{k:<{_LABEL_WIDTH}}  ", " " * (_LABEL_WIDTH + 2)))


def _notices(report: dict, color: bool, width: int | None = None) -> str:
    """What the report could not see, right under the header."""
    notes = report["summary"].get("notices")
    if notes is None:
        notes = notices(report)
    return notices_text(notes, width, color)


def _sections(report: dict, table_format: str, color: bool, width: int | None, forked=None,
              min_severity: str | None = None, sort: str | None = None):
    """The report's parts, each text or an iterator of text chunks: the
    header, the notices, the findings summary, the states, each type's
    groups, then the connections (issue #15: the finding that matters first)."""
    yield _header(report, width)
    notes = _notices(report, color, width)
    if notes:
        yield notes

    anomalies, hidden = at_least(report.get("anomalies") or [], min_severity)
    summary = findings(anomalies)
    if summary:
        text = _findings_table(summary, table_format, color, width)
    else:
        text = "No anomalies found." if not hidden else f"No findings at or above {min_severity}."
    if hidden:
        text += "\n" + fit.fill(hidden_text(hidden, min_severity), width)
    yield text

    states = report["summary"]["states"]
    names = sorted(set(states["client"]) | set(states["server"]))
    if names:
        rows = [(paint_state(n, color), states["client"].get(n, 0), states["server"].get(n, 0)) for n in names]
        yield tabulate(rows, headers=("state", "clients", "servers"), tablefmt=table_format)

    for finding in summary:
        yield _type_section(finding, anomalies, table_format, color, width)

    conns = report["connections"]
    sel = report.get("selection")
    if sel and sel.get("top") != 0:
        yield f"showing {sel['shown']} of {sel['matched']} matching connections ({sel['total']} in all)"
    if conns:
        yield forked.chunks() if forked is not None else connections_section(conns, table_format, color, width, sort)
