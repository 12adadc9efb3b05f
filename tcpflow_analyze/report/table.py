"""Human-readable tables (tabulate) rendered from the report document."""
from __future__ import annotations


import re

from tabulate import tabulate

from ..timeline import utc_text


def _when(t) -> str:
    return utc_text(t)


def _endpoint(ep: dict) -> str:
    ip = ep["ip"]
    return f"[{ip}]:{ep['port']}" if ":" in ip else f"{ip}:{ep['port']}"


def _duration(seconds) -> str:
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.3f}s"
    if seconds < 3600:
        return f"{seconds:.1f}s"
    return f"{seconds / 3600:.1f}h"


STATE_COLORS = {
    "ESTABLISHED": "green", "TIME_WAIT": "yellow", "CLOSE_WAIT": "magenta", "FIN_WAIT_1": "yellow",
    "FIN_WAIT_2": "yellow", "CLOSING": "yellow", "LAST_ACK": "yellow", "SYN_SENT": "cyan",
    "SYN_RECEIVED": "cyan", "LISTEN": "blue",
}
SEVERITY_COLORS = {"critical": ("red", True), "warning": ("yellow", False), "info": ("blue", False)}


def _paint(text: str, color: str | None, bold: bool = False, dim: bool = False) -> str:
    if color is None and not dim:
        return text
    codes = []
    if bold:
        codes.append("1")
    if dim:
        codes.append("2")
    if color:
        codes.append(str(30 + ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white").index(color)))
    return f"\x1b[{';'.join(codes)}m{text}\x1b[0m"


def paint_state(name: str, color: bool) -> str:
    if not color:
        return name
    if name in ("CLOSED", "UNKNOWN"):
        return _paint(name, None, dim=True)
    return _paint(name, STATE_COLORS.get(name))


def paint_severity(sev: str, color: bool) -> str:
    if not color:
        return sev
    c, bold = SEVERITY_COLORS.get(sev, (None, False))
    return _paint(sev, c, bold=bold)


CONNECTION_COLUMNS = ("id", "client", "server", "client state", "server state", "pkts c/s", "bytes c/s",
                      "dur", "history")
HEADERS = {"client state": "client\nstate", "server state": "server\nstate", "pkts c/s": "pkts\nc/s",
           "bytes c/s": "bytes\nc/s"}
# On a narrow terminal these go first, in this order: the JSON has them all.
DROPPABLE = ("bytes c/s", "dur", "pkts c/s", "history")


def _connection_row(c: dict, color: bool) -> list[str]:
    """A connection's cells, in CONNECTION_COLUMNS order."""
    return [
        str(c["id"]),
        _endpoint(c["client"]) + ("?" if c["roles_inferred"] else ""),
        _endpoint(c["server"]),
        paint_state(c["client"]["state"], color),
        paint_state(c["server"]["state"], color),
        f"{c['packets']['client']}/{c['packets']['server']}",
        f"{c['bytes']['client']}/{c['bytes']['server']}",
        _duration(c["duration"]),
        c["history"],
    ]


def _connections_table(rows: list[list[str]], table_format: str, color: bool, width: int | None) -> str:
    if table_format == "simple":
        return _simple_table(rows, color, width)
    return _tabulated_table(rows, table_format, width)


def _tabulated_table(rows: list[list[str]], table_format: str, width: int | None) -> str:
    columns = list(CONNECTION_COLUMNS)
    while True:
        # Two-line headers: a header no wider than its values.
        headers = [HEADERS.get(k, k) for k in columns]
        keep = [CONNECTION_COLUMNS.index(k) for k in columns]
        text = tabulate([[r[i] for i in keep] for r in rows], headers=headers, tablefmt=table_format,
                        disable_numparse=True)
        too_wide = width is not None and max(len(_strip_ansi(line)) for line in text.splitlines()) > width
        droppable = [k for k in DROPPABLE if k in columns]
        if not too_wide or not droppable:
            break
        columns.remove(droppable[0])
    dropped = [k for k in CONNECTION_COLUMNS if k not in columns]
    if dropped:
        text += f"\n(narrow terminal: {', '.join(dropped)} left out; --format json has everything)"
    return text


def _simple_table(rows: list[list[str]], color: bool, width: int | None) -> str:
    """The connections table in tabulate's "simple" format, written here.

    tabulate builds the whole table in memory, several times over when
    columns must be dropped to fit a terminal: for 100,000 connections it
    took 6 s and 200 MB, as long as the analysis.  This format is plain
    enough to write directly: cells stripped of surrounding blanks; each
    column as wide as its widest value, or its header plus two (tabulate's
    padding); two spaces between columns; lines stripped at the end; colour
    codes take no width; with the two-line headers, a row of empty cells takes
    no line.  Tests hold it to tabulate's output byte for byte.
    """
    columns = list(CONNECTION_COLUMNS)
    # Rows as lists of the cells' text, in CONNECTION_COLUMNS order.
    cells = [[v.strip() for v in r] for r in rows]
    cells = [c for c in cells if any(c)]
    visible = (lambda s: len(_strip_ansi(s))) if color else len
    widths = {}
    for i, k in enumerate(columns):
        header = HEADERS.get(k, k).split("\n")
        widths[k] = max(max(map(len, header)) + 2, max((visible(c[i]) for c in cells), default=0))
    dropped = []
    droppable = [k for k in DROPPABLE if k in columns]
    while width is not None and sum(widths[k] for k in columns) + 2 * (len(columns) - 1) > width and droppable:
        k = droppable.pop(0)
        columns.remove(k)
        dropped.append(k)
    headers = [HEADERS.get(k, k).split("\n") for k in columns]
    ws = [widths[k] for k in columns]
    if dropped:
        keep = [CONNECTION_COLUMNS.index(k) for k in columns]
        cells = [[c[i] for i in keep] for c in cells]
    lines = []
    for i in range(max(len(h) for h in headers)):
        lines.append("  ".join((h[i] if i < len(h) else "").ljust(w) for h, w in zip(headers, ws)).rstrip())
    lines.append("  ".join("-" * w for w in ws))
    if color:
        for row in cells:
            lines.append("  ".join(c + " " * (w - visible(c)) for c, w in zip(row, ws)).rstrip())
    else:
        fmt = "  ".join(f"{{:<{w}}}" for w in ws)
        lines += [fmt.format(*row).rstrip() for row in cells]
    text = "\n".join(lines)
    if dropped:
        text += f"\n(narrow terminal: {', '.join(k for k in CONNECTION_COLUMNS if k in dropped)} left out; " \
                "--format json has everything)"
    return text


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def render(report: dict, table_format: str = "simple", color: bool = False, width: int | None = None) -> str:
    """The report as text; ``width``, for a terminal, drops the connection
    table's least needed columns until it fits."""
    cap = report["capture"]
    out = []
    skipped = ", ".join(f"{k} {v}" for k, v in cap["skipped"].items() if v) or "none"
    summary = [
        ("files", ", ".join(cap["files"])),
        ("packets", f"{cap['packets']} ({cap['tcp_packets']} TCP)"),
        ("skipped", skipped),
        ("span", f"{_when(cap['start'])} .. {_when(cap['end'])} ({_duration(cap['duration'])})"),
        ("connections", str(report["summary"]["connections"])),
    ]
    if cap["truncated"]:
        t = cap["truncation"]
        summary.append(("truncated", f"yes: {t['file']} at byte {t['offset']} after packet {t['packet']}: {t['reason']}"))
    out.append(tabulate(summary, tablefmt="plain"))

    states = report["summary"]["states"]
    names = sorted(set(states["client"]) | set(states["server"]))
    if names:
        rows = [(paint_state(n, color), states["client"].get(n, 0), states["server"].get(n, 0)) for n in names]
        out.append(tabulate(rows, headers=("state", "clients", "servers"), tablefmt=table_format))

    conns = report["connections"]
    sel = report.get("selection")
    if sel:
        out.append(f"showing {sel['shown']} of {sel['matched']} matching connections ({sel['total']} in all)")
    if conns:
        # The entries are made as they are read (model.ConnectionEntries): once.
        rows = [_connection_row(c, color) for c in conns]
        out.append(_connections_table(rows, table_format, color, width))
        if any(r[1].endswith("?") for r in rows):
            out.append("? roles guessed: the capture has no SYN for this connection")
    anomalies = report.get("anomalies") or []
    if anomalies:
        rows = [(paint_severity(a["severity"], color), a["type"], ",".join(map(str, a["connections"][:8])) +
                 ("…" if len(a["connections"]) > 8 else ""), a["message"]) for a in anomalies]
        # Messages are sentences: wrap them so the table fits a terminal.
        out.append(tabulate(rows, headers=("severity", "anomaly", "conns", "what"), tablefmt=table_format,
                            maxcolwidths=[None, None, 16, 64], disable_numparse=True))
    else:
        out.append("No anomalies found.")
    return "\n\n".join(out) + "\n"
