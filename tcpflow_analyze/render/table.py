"""Human-readable tables (tabulate) rendered from the report document."""
from __future__ import annotations

import re
import textwrap

from tabulate import tabulate

from ..model.text import address_port_text, printable, utc_text
from ..views.record import values_getter
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


def connections_section(conns, table_format: str, color: bool, width: int | None):
    """The connections table's text in chunks, and the note on guessed
    roles if it needs one; ``conns``: a ``views.report.ConnectionEntries``."""
    rows = [_connection_row(conn, cid, color) for conn, cid in conns.numbered()]
    table = _connections_table(rows, table_format, color, width)
    yield from (table,) if isinstance(table, str) else table
    if any(r[1].endswith("?") for r in rows):
        yield "\n\n? roles guessed: the capture has no SYN for this connection"


def _connections_table(rows: list[list[str]], table_format: str, color: bool, width: int | None):
    """The connections table: text, or for the default format an iterator
    of its chunks (see ``_simple_chunks``)."""
    if table_format == "simple":
        return _simple_chunks(rows, color, width)
    return _tabulated_table(rows, table_format, width)


def _tabulated_table(rows: list[list[str]], table_format: str, width: int | None) -> str:
    columns = list(CONNECTION_COLUMNS)
    while True:
        # Two-line headers: a header no wider than its values.
        headers = [HEADERS.get(k, k) for k in columns]
        keep = [CONNECTION_COLUMNS.index(k) for k in columns]
        text = tabulate([[r[i] for i in keep] for r in rows], headers=headers, tablefmt=table_format,
                        disable_numparse=True)
        too_wide = width is not None and max(map(_visible_len, text.splitlines())) > width
        droppable = [k for k in DROPPABLE if k in columns]
        if not too_wide or not droppable:
            break
        columns.remove(droppable[0])
    dropped = [k for k in CONNECTION_COLUMNS if k not in columns]
    if dropped:
        text += f"\n(narrow terminal: {', '.join(dropped)} left out; --format json has everything)"
    return text


def _simple_chunks(rows: list[list[str]], color: bool, width: int | None):
    """The connections table in tabulate's "simple" format, written here,
    its least needed columns dropped to fit ``width``: in chunks of lines,
    so that a table of 100,000 rows is written as it is made, never held
    whole (17 MB of text, three times over when joined and joined again)."""
    columns = list(CONNECTION_COLUMNS)
    headers = [HEADERS.get(k, k) for k in columns]
    rows = [r if all(v == v.strip() for v in r) else [v.strip() for v in r] for r in rows]
    widths = _simple_widths(headers, rows, color)
    droppable = [k for k in DROPPABLE if k in columns]
    dropped = []
    while width is not None and sum(widths) + 2 * (len(widths) - 1) > width and droppable:
        i = columns.index(droppable.pop(0))
        dropped.append(columns.pop(i))
        del headers[i], widths[i]
    keep = [CONNECTION_COLUMNS.index(k) for k in columns] if dropped else None
    yield from _joined(_simple(headers, rows, widths, color, keep))
    if dropped:
        yield f"\n(narrow terminal: {', '.join(k for k in CONNECTION_COLUMNS if k in dropped)} left out; " \
              "--format json has everything)"


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


def _wrapped(text: str, width: int) -> str:
    """A cell wrapped to ``width`` as tabulate's ``maxcolwidths`` wraps it
    (its wrapper is textwrap's, which this is for text without colour codes):
    each non-blank line on its own."""
    wrapper = textwrap.TextWrapper(width=width)
    return "\n".join("\n".join(wrapper.wrap(line)) for line in text.splitlines() if line.strip())


# Messages are sentences: wrapped so the table fits a terminal.
ANOMALY_HEADERS = ("severity", "anomaly", "conns", "what")
ANOMALY_WIDTHS = (None, None, 16, 64)


def _anomalies_table(rows: list[list[str]], table_format: str, color: bool) -> str:
    # Wrapped here, not by tabulate's maxcolwidths: that raises ValueError on
    # a cell it takes for a number with a thousands separator -- the ids
    # "1,100" (tabulate 0.10).
    rows = [[(_wrapped(c, w) if w is not None else c).strip() for c, w in zip(r, ANOMALY_WIDTHS)] for r in rows]
    headers = list(ANOMALY_HEADERS)
    if table_format != "simple":
        return tabulate(rows, headers=headers, tablefmt=table_format, disable_numparse=True)
    return "\n".join(_simple(headers, rows, _simple_widths(headers, rows, color), color))


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _visible_len(text: str) -> int:
    """The width of text on a terminal: colour codes take none."""
    return len(_strip_ansi(text))


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def render(report: dict, table_format: str = "simple", color: bool = False, width: int | None = None) -> str:
    """The report as text; ``width``, for a terminal, drops the connection
    table's least needed columns until it fits."""
    return "".join(iter_render(report, table_format, color, width))


def iter_render(report: dict, table_format: str = "simple", color: bool = False, width: int | None = None,
                forked=None):
    """``render``'s text in chunks, to be written as they come; ``forked``:
    a ``forked_lines.ForkedTable`` writing the connections section."""
    for i, section in enumerate(_sections(report, table_format, color, width, forked)):
        if i:
            yield "\n\n"
        if isinstance(section, str):
            yield section
        else:
            yield from section
    yield "\n"


def _sections(report: dict, table_format: str, color: bool, width: int | None, forked=None):
    """The report's parts, each text or an iterator of text chunks."""
    cap = report["capture"]
    skipped = ", ".join(f"{k} {v}" for k, v in cap["skipped"].items() if v) or "none"
    summary = [
        ("files", ", ".join(map(printable, cap["files"]))),
        ("packets", f"{cap['packets']} ({cap['tcp_packets']} TCP)"),
        ("skipped", skipped),
        ("span", f"{utc_text(cap['start'])} .. {utc_text(cap['end'])} ({_duration(cap['duration'])})"),
        ("connections", str(report["summary"]["connections"])),
    ]
    if cap.get("encapsulations"):
        # Only when there were tunnels: a plain capture's summary is as it was.
        summary.insert(3, ("tunnels", ", ".join(f"{k} {v} TCP" for k, v in cap["encapsulations"].items())))
    if cap["truncated"]:
        t = cap["truncation"]
        summary.append(("truncated", f"yes: {printable(t['file'])} at byte {t['offset']} after packet "
                                     f"{t['packet']}: {printable(t['reason'])}"))
    yield tabulate(summary, tablefmt="plain")

    states = report["summary"]["states"]
    names = sorted(set(states["client"]) | set(states["server"]))
    if names:
        rows = [(paint_state(n, color), states["client"].get(n, 0), states["server"].get(n, 0)) for n in names]
        yield tabulate(rows, headers=("state", "clients", "servers"), tablefmt=table_format)

    conns = report["connections"]
    sel = report.get("selection")
    if sel:
        yield f"showing {sel['shown']} of {sel['matched']} matching connections ({sel['total']} in all)"
    if conns:
        yield forked.chunks() if forked is not None else connections_section(conns, table_format, color, width)
    anomalies = report.get("anomalies") or []
    if anomalies:
        rows = [[paint_severity(a["severity"], color), a["type"], ",".join(map(str, a["connections"][:8])) +
                 ("…" if len(a["connections"]) > 8 else ""), a["message"]] for a in anomalies]
        yield _anomalies_table(rows, table_format, color)
    else:
        yield "No anomalies found."
