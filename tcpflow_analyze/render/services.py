"""The ``services`` view (``views.services``) as text tables and as CSV."""
from __future__ import annotations

import csv
import io

from ..model.text import printable
from . import fit
from .notices import notice_lines
from .table import _simple


def _count(n) -> str:
    return f"{n:,}"


def _time(t) -> str:
    """A handshake time, short: µs, ms (3 digits) or s."""
    if t is None:
        return "-"
    if t < 0.001:
        return f"{t * 1e6:.0f}µs"
    if t < 0.9995:  # what rounds to 1000 ms is written 1.00s
        return f"{t * 1000:.3g}ms"
    return f"{t:.2f}s"


def _rate(row) -> str:
    r = row["retransmission_rate"]
    return "-" if r is None else f"{r:.1%}"


def _bytes(row) -> str:
    b = row["bytes"]
    return f"{b['client']:,}/{b['server']:,}"


def _connect(row) -> str:
    ct = row["connect_time"]
    if not ct["retried"]:
        return "-"
    return f"{_time(ct['median'])}/{_time(ct['max'])}"


def _states(row) -> str:
    return ", ".join(f"{name} {n:,}" for name, n in row["states"].items()) or "-"


# A column: (key, header, cell of a row, the --sort key it shows or None).
# Headers of two lines: a header no wider than its numbers.
_COMMON = (
    ("conns", "conns", lambda r: _count(r["connections"]), "connections"),
    ("refused", "refused", lambda r: _count(r["refused"]), "refused"),
    ("reset", "reset", lambda r: _count(r["reset"]), "reset"),
    ("unanswered", "unans-\nwered", lambda r: _count(r["unanswered"]), "unanswered"),
    ("open", "open", lambda r: _count(r["open"]), "open"),
    ("time_wait", "TIME\nWAIT", lambda r: _count(r["time_wait"]), "time_wait"),
    ("close_wait", "CLOSE\nWAIT", lambda r: _count(r["close_wait"]), "close_wait"),
    ("retrans", "retrans", _rate, "retrans"),
    ("rtt", "rtt\nmedian", lambda r: _time(r["handshake_rtt"]["median"]), "rtt"),
)
SERVICE_COLUMNS = (("service", "service", lambda r: printable(r["service"]), None),) + _COMMON + (
    ("rtt_p99", "rtt\np99", lambda r: _time(r["handshake_rtt"]["p99"]), None),
    ("retried", "SYN\nretried", lambda r: _count(r["connect_time"]["retried"]), None),
    ("connect", "connect\nmed/max", _connect, None),
    ("bytes", "bytes\nc/s", _bytes, "bytes"),
    ("clients", "clients", lambda r: _count(r["clients"]) + ("" if r["clients_exact"] else "+"), None),
)
CLIENT_COLUMNS = (("host", "client", lambda r: printable(r["host"]), None),
                  ("conns", "conns", lambda r: _count(r["connections"]), "connections"),
                  ("servers", "servers", lambda r: _count(r["servers"]), None),
                  ("ports", "ports\nat end", lambda r: _count(r["ports_in_use"]), None),
                  ("ports_peak", "ports\npeak", lambda r: _count(r["ports_peak"]), None)) + _COMMON[1:] + (
    ("bytes", "bytes\nc/s", _bytes, "bytes"),
    ("states", "states at end", _states, None),
)
# On a narrow terminal these go first, in this order (never the name, the
# connections or the column sorted by): --format json has them all.
DROPPABLE = ("states", "connect", "retried", "rtt_p99", "clients", "servers", "ports_peak", "bytes", "reset",
             "open", "close_wait", "time_wait", "retrans", "rtt", "unanswered", "refused", "ports")


def _widths(headers: list[str], cells: list[list[str]]) -> list[int]:
    """Each column as wide as its widest header line or cell: numbers need
    no padding beyond the two spaces between columns."""
    return [max([len(line) for line in h.split("\n")] + [len(row[i]) for row in cells])
            for i, h in enumerate(headers)]


def _table(rows: list[dict], columns, sort: str, width: int | None) -> str:
    """``rows`` under ``columns``, the least needed dropped to fit ``width``."""
    cols = list(columns)
    headers = [c[1] for c in cols]
    cells = [[c[2](r) for c in cols] for r in rows]
    widths = _widths(headers, cells)
    droppable = [k for k in DROPPABLE if any(c[0] == k and c[3] != sort for c in cols)]
    dropped = []
    while width is not None and sum(widths) + 2 * (len(widths) - 1) > width and droppable:
        i = next(i for i, c in enumerate(cols) if c[0] == droppable[0])
        dropped.append(droppable.pop(0))
        del cols[i], headers[i], widths[i]
        for row in cells:
            del row[i]
    text = "\n".join(_simple(headers, cells, widths, False))
    if dropped:
        text += "\n" + fit.fill(f"(narrow terminal: {', '.join(k.replace('_', ' ') for k in dropped)} left out; "
                                "--format json has everything)", width)
    return text


def _left_out(n: int, noun: str, nouns: str) -> str:
    return f"({n:,} more {noun if n == 1 else nouns} left out: --top N lists more)"


def render(view: dict, width: int | None = None) -> str:
    """The view as text: a line on what was counted, what could not be
    seen, then the services and the client hosts, each ranked."""
    cap = view["capture"]
    files = ", ".join(map(printable, cap["files"]))
    n = view["connections"]
    out = fit.wrap(f"services in {files} ({cap['duration'] or 0:.1f} s, {n:,} connection{'' if n == 1 else 's'}), "
                   f"by {view['sort']}, largest first", width)
    out += notice_lines(view.get("notices") or [], width)
    out += [line for note in view["unseen"] for line in fit.wrap(f"note: {note}", width, "", "  ")]
    for key, columns, noun, nouns in (("services", SERVICE_COLUMNS, "service", "services"),
                                      ("clients", CLIENT_COLUMNS, "client host", "client hosts")):
        if key not in view:
            continue
        out.append("")
        if view[key]:
            out.append(_table(view[key], columns, view["sort"], width))
        else:
            out.append(f"No {noun}: no TCP connection was seen.")
        if view[f"{key}_left_out"]:
            out.append(_left_out(view[f"{key}_left_out"], noun, nouns))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------- CSV
CSV_COLUMNS = ("table", "name", "connections", "folded", "refused", "reset", "unanswered", "open", "time_wait",
               "close_wait", "retransmissions", "segments", "retransmission_rate", "handshakes_timed",
               "handshake_rtt_median", "handshake_rtt_p99", "syn_retried", "connect_time_median",
               "connect_time_max", "client_packets", "server_packets", "client_bytes", "server_bytes",
               "clients", "servers", "ports_in_use", "ports_peak", "states")


def _seconds(t) -> str:
    """Seconds to the microsecond, never in exponent notation (spreadsheets)."""
    return "" if t is None else f"{t:.6f}"


def _csv_row(table: str, name: str, r: dict) -> list:
    rtt, ct = r["handshake_rtt"], r["connect_time"]
    rate = r["retransmission_rate"]
    return [table, name, r["connections"], r["folded"], r["refused"], r["reset"], r["unanswered"], r["open"],
            r["time_wait"], r["close_wait"], r["retransmissions"], r["segments"],
            "" if rate is None else f"{rate:.6f}", rtt["count"], _seconds(rtt["median"]), _seconds(rtt["p99"]),
            ct["retried"], _seconds(ct["median"]), _seconds(ct["max"]), r["packets"]["client"],
            r["packets"]["server"], r["bytes"]["client"], r["bytes"]["server"], r.get("clients", ""),
            r.get("servers", ""), r.get("ports_in_use", ""), r.get("ports_peak", ""),
            ";".join(f"{k}={v}" for k, v in r["states"].items())]


def render_csv(view: dict) -> str:
    """One row per service and per client host (``table`` says which), the
    view's ranking kept."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in view.get("services", []):
        writer.writerow(_csv_row("service", r["service"], r))
    for r in view.get("clients", []):
        writer.writerow(_csv_row("client", r["host"], r))
    return buf.getvalue()


__all__ = ["CSV_COLUMNS", "render", "render_csv"]
