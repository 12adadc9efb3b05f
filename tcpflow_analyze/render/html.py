"""The report as one self-contained HTML file.

Everything is inline -- CSS, a few lines of JavaScript to sort the
connections table, SVG for the charts -- so the file opens from a CI
artifact, a mail attachment or an air-gapped laptop with nothing fetched from
anywhere.  Sections: the capture, the anomalies with what they mean, each
host's sockets per state over time, the connections, and the ladder diagram
of the connections the anomalies name.
"""
from __future__ import annotations

import html
import math

from ..analysis.timeline import bucket_peaks
from ..decode import RST
from ..detectors import DETECTORS
from ..model.states import STATE_NAMES
from ..model.text import address_port_text, utc_text
from ..views.ladder import SEGMENT
from .ladder import Fold, display_rows, omitted_text, render_ladder, segment_labels
from .palette import HTML_SEVERITY, HTML_STATE

MAX_LADDERS = 20
MAX_TIMELINE_HOSTS = 8
MAX_TABLE_ROWS = 5000
TIMELINE_POINTS = 300     # buckets per timeline: bounded SVG size, whatever the capture

EXPLANATIONS = {d.TYPE: d.EXPLANATION for d in DETECTORS}

# One colour per state, shared by the table, the timelines and the ladders
# (render.palette).
STATE_COLORS = HTML_STATE
SEVERITY_COLORS = HTML_SEVERITY


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def _state(name: str) -> str:
    return f'<span class="st" style="--c:{STATE_COLORS.get(name, "#555")}">{esc(name)}</span>'


# ---------------------------------------------------------------------- choosing ladders
def anomaly_connection_ids(report: dict, limit: int = MAX_LADDERS) -> list[int]:
    """The connections whose ladders the report should show, at most ``limit``.

    Round-robin over the anomalies, in report order, so that a SYN flood
    naming 300 connections does not crowd out the one stale SYN next to it.
    """
    queues = [list(a["connections"]) for a in report.get("anomalies", [])]
    out: list[int] = []
    while len(out) < limit and any(queues):
        for q in queues:
            while q and q[0] in out:
                q.pop(0)
            if q and len(out) < limit:
                out.append(q.pop(0))
    return out


# ---------------------------------------------------------------------- page
def render_html(report: dict, timelines: dict, ladders: dict, max_rows: int = MAX_TABLE_ROWS) -> str:
    """The whole report as one HTML document (a string, no external resources).

    ``report`` is ``build_report(analysis, anomalies)``; ``timelines`` is
    ``views.states.state_timelines(analysis)``; ``ladders`` maps
    connection ids to ``views.ladder.Ladder`` objects (at most MAX_LADDERS
    are drawn, see ``anomaly_connection_ids``).
    """
    files = ", ".join(report["capture"]["files"])
    body = [
        f"<h1>tcpflow-analyze <small>{esc(files)}</small></h1>",
        _summary_section(report),
        _anomalies_section(report, ladders),
        _timelines_section(timelines),
        _connections_section(report, ladders, max_rows),
        _ladders_section(ladders),
        f'<footer>{esc(report["tool"]["name"])} {esc(report["tool"]["version"])} · report schema '
        f'{esc(report["schema_version"])} · states inferred passively from the capture (RFC 9293)</footer>',
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>tcpflow-analyze: {esc(files)}</title><style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + f"\n<script>{SORT_JS}</script>\n</body></html>\n")


def _summary_section(report: dict) -> str:
    cap, summary = report["capture"], report["summary"]
    skipped = ", ".join(f"{k} {v:,}" for k, v in cap["skipped"].items() if v) or "none"
    rows = [
        ("packets", f"{cap['packets']:,} ({cap['tcp_packets']:,} TCP)"),
        ("skipped", skipped),
        ("span", f"{utc_text(cap['start'])} … {utc_text(cap['end'])} ({(cap['duration'] or 0):.3f} s)"),
        ("connections", f"{summary['connections']:,}"),
    ]
    if cap.get("encapsulations"):
        rows.insert(2, ("tunnels", ", ".join(f"{k} {v:,} TCP" for k, v in cap["encapsulations"].items())))
    total = summary.get("connections_total")
    if total is not None and total != summary["connections"]:
        rows.append(("not listed", f"{total - summary['connections']:,} more connections folded into "
                                   f"aggregates (memory bound)"))
    if cap.get("truncated"):
        t = cap["truncation"]
        rows.append(("damaged", f"{t['file']} at byte {t['offset']} after packet {t['packet']}: {t['reason']}"))
    facts = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    states = summary["states"]
    names = sorted(set(states["client"]) | set(states["server"]),
                   key=lambda n: STATE_NAMES.index(n) if n in STATE_NAMES else 99)
    srows = "".join(f"<tr><td>{_state(n)}</td><td class=num>{states['client'].get(n, 0):,}</td>"
                    f"<td class=num>{states['server'].get(n, 0):,}</td></tr>" for n in names)
    sev = summary.get("severities", {})
    badges = "".join(f'<span class="badge" style="--c:{SEVERITY_COLORS[s]}">{sev[s]} {s}</span>'
                     for s in ("critical", "warning", "info") if sev.get(s)) or '<span class="ok">no anomalies</span>'
    return (f'<section id="summary"><h2>Capture</h2><div class="cols"><table class="facts">{facts}</table>'
            f'<table class="states"><thead><tr><th>state at the end</th><th>clients</th><th>servers</th></tr>'
            f'</thead><tbody>{srows}</tbody></table></div><p>{badges}</p></section>')


def _conn_link(cid: int, ladders: dict) -> str:
    target = f"ladder-{cid}" if cid in ladders else f"conn-{cid}"
    return f'<a href="#{target}">{cid}</a>'


def _anomalies_section(report: dict, ladders: dict) -> str:
    anomalies = report.get("anomalies", [])
    if not anomalies:
        return '<section id="anomalies"><h2>Anomalies</h2><p class="ok">No anomalies found.</p></section>'
    items = []
    for a in anomalies:
        conns = a["connections"]
        links = ", ".join(_conn_link(c, ladders) for c in conns[:30]) + (f" … ({len(conns):,})" if len(conns) > 30 else "")
        when = f" at {utc_text(a['time'])}" if a.get("time") is not None else ""
        items.append(
            f'<div class="anomaly" style="--c:{SEVERITY_COLORS.get(a["severity"], "#555")}">'
            f'<div class="head"><span class="badge" style="--c:{SEVERITY_COLORS.get(a["severity"], "#555")}">'
            f'{esc(a["severity"])}</span> <code>{esc(a["type"])}</code>{esc(when)}</div>'
            f'<p>{esc(a["message"])}</p><p class="conns">connections: {links}</p>'
            f'<details><summary>what it means</summary><p>{esc(EXPLANATIONS.get(a["type"], ""))}</p></details>'
            f'</div>')
    return f'<section id="anomalies"><h2>Anomalies ({len(anomalies)})</h2>{"".join(items)}</section>'


# ---------------------------------------------------------------------- timelines
def _timelines_section(view: dict) -> str:
    hosts = [h for h in view["hosts"] if h["states"]]
    hosts.sort(key=lambda h: (-max(s["peak"] for s in h["states"].values()), h["host"]))
    charts = "".join(timeline_svg(h, view["capture"]["start"], view["capture"]["end"])
                     for h in hosts[:MAX_TIMELINE_HOSTS])
    more = len(hosts) - MAX_TIMELINE_HOSTS
    note = f"<p class=note>{more:,} more hosts not drawn (the busiest are shown).</p>" if more > 0 else ""
    if not hosts:
        charts = "<p>No endpoint was ever open.</p>"
    return (f'<section id="timelines"><h2>Sockets per state over time</h2>'
            f'<p class=note>Each host\'s endpoints per TCP state, as <code>ss -tan</code> would have counted '
            f'them, over the whole capture (the highest count in each time slice).</p>{charts}{note}</section>')


def timeline_svg(host: dict, start, end, width: int = 860, height: int = 170) -> str:
    """One host's states over time: a step line per state on a shared scale."""
    start = start or 0.0
    end = end if end is not None and end > start else start + 1e-6
    left, right, top, bottom = 48, 150, 24, 26
    pw, ph = width - left - right, height - top - bottom
    peak = max(s["peak"] for s in host["states"].values()) or 1
    n = TIMELINE_POINTS
    parts = [f'<svg class="timeline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="states over time for {esc(host["host"])}">',
             f'<text x="{left}" y="15" class="h">{esc(host["host"])}</text>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="plot"/>']
    for frac in (0, 0.5, 1) if peak > 1 else (0, 1):
        y = top + ph - frac * ph
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="ax" text-anchor="end">{peak * frac:,.0f}</text>')
    for frac in (0, 0.5, 1):
        x = left + frac * pw
        parts.append(f'<text x="{x:.1f}" y="{height - 8}" class="ax" text-anchor="middle">+{(end - start) * frac:.3g}s</text>')
    for i, (name, s) in enumerate(host["states"].items()):
        peaks = bucket_peaks(s["series"], start, end, n)
        pts = []
        for b, v in enumerate(peaks):
            y = top + ph - v / peak * ph
            pts.append(f"{left + b * pw / n:.1f},{y:.1f} {left + (b + 1) * pw / n:.1f},{y:.1f}")
        color = STATE_COLORS.get(name, "#555")
        parts.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{color}" stroke-width="2">'
                     f'<title>{esc(name)}: peak {s["peak"]:,}, {s["at_end"]:,} at the end</title></polyline>')
        ly = top + 6 + i * 15
        parts.append(f'<rect x="{left + pw + 12}" y="{ly}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{left + pw + 27}" y="{ly + 9}" class="lg">{esc(name)} {s["at_end"]:,}/{s["peak"]:,}</text>')
    parts.append(f'<text x="{left + pw + 12}" y="{top - 6}" class="ax">state end/peak</text></svg>')
    return "".join(parts)


# ---------------------------------------------------------------------- connections
_COLUMNS = ("id", "client", "server", "client state", "server state", "packets c/s", "bytes c/s",
            "retx c/s", "duration", "history", "conn_state", "anomalies")


def _connections_section(report: dict, ladders: dict, max_rows: int) -> str:
    rows = []
    count = 0
    for c in report["connections"]:
        count += 1
        if len(rows) >= max_rows:
            continue
        rows.append(_connection_row(c, ladders))
    head = "".join(f'<th data-col="{i}" title="sort">{esc(h)}</th>' for i, h in enumerate(_COLUMNS))
    note = (f"<p class=note>The first {max_rows:,} of {count:,} connections; the JSON report lists all.</p>"
            if count > max_rows else "")
    return (f'<section id="connections"><h2>Connections ({count:,})</h2>'
            f'<p class=note>Click a column to sort. Ids link to the ladder diagram where one is drawn.</p>'
            f'<div class="scroll"><table class="conns sortable"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>{note}</section>')


def _connection_row(c: dict, ladders: dict) -> str:
    client, server = c["client"], c["server"]
    retx = c.get("retransmissions", {"client": 0, "server": 0})
    dur = c.get("duration") or 0.0
    cells = [
        (c["id"], _conn_link(c["id"], ladders) if c["id"] in ladders else esc(c["id"])),
        (None, esc(address_port_text(client["ip"], client["port"])) + ("?" if c["roles_inferred"] else "")),
        (None, esc(address_port_text(server["ip"], server["port"]))),
        (client["state"], _state(client["state"])),
        (server["state"], _state(server["state"])),
        (c["packets"]["client"] + c["packets"]["server"], f'{c["packets"]["client"]:,}/{c["packets"]["server"]:,}'),
        (c["bytes"]["client"] + c["bytes"]["server"], f'{c["bytes"]["client"]:,}/{c["bytes"]["server"]:,}'),
        (retx["client"] + retx["server"], f'{retx["client"]:,}/{retx["server"]:,}'),
        (dur, f"{dur:.6f}s"),
        (None, f'<code>{esc(c["history"])}</code>'),
        (None, esc(c["conn_state"])),
        (None, esc(", ".join(c["anomalies"]))),
    ]
    tds = "".join(f'<td data-v="{esc(v)}">{h}</td>' if v is not None else f"<td>{h}</td>" for v, h in cells)
    cls = ' class="flagged"' if c["anomalies"] else ""
    return f'<tr id="conn-{c["id"]}"{cls}>{tds}</tr>'


# ---------------------------------------------------------------------- ladders
def _ladders_section(ladders: dict) -> str:
    if not ladders:
        return ""
    shown = list(ladders.items())[:MAX_LADDERS]
    # "every segment" only while true: past the report's segment budget a
    # ladder is cut and says so under its diagram.
    which = "every segment" if not any(lad.omitted for _, lad in shown) else "their segments up to the report's budget"
    parts = [f'<section id="ladders"><h2>Ladder diagrams ({len(shown)})</h2>'
             f'<p class=note>The connections the anomalies name: {which}, client on the left, server '
             f'on the right, each side\'s TCP state written where it changes. Quiet data phases are folded; '
             f'seq/ack are relative to each side\'s ISN.</p>']
    for cid, ladder in shown:
        s = ladder.summary
        title = f"connection {cid}: {ladder.client} → {ladder.server}"
        if ladder.instances > 1:
            title += f" (instance {ladder.instance} of {ladder.instances} on this 4-tuple)"
        notes = "".join(f'<li style="--c:{SEVERITY_COLORS.get(a.severity, "#555")}"><code>{esc(a.type)}</code> '
                        f'{esc(a.message)}</li>' for a in ladder.anomalies)
        parts.append(
            f'<article class="ladder" id="ladder-{cid}"><h3>{esc(title)}</h3>'
            f'<p class=note>history <code>{esc(s["history"] or "-")}</code>, conn_state {esc(s["conn_state"])}, '
            f'end: client {_state(ladder.final("client"))} server {_state(ladder.final("server"))}</p>'
            f'{ladder_svg(ladder)}{_omitted_note(ladder)}<ul class="marks">{notes}</ul>'
            f'<details><summary>as text</summary><pre>{esc(render_ladder(ladder, width=100))}</pre></details>'
            f'</article>')
    if len(ladders) > MAX_LADDERS:
        parts.append(f"<p class=note>{len(ladders) - MAX_LADDERS} more ladders not drawn.</p>")
    parts.append("</section>")
    return "".join(parts)


def _omitted_note(ladder) -> str:
    if not ladder.omitted:
        return ""
    return (f'<p class=note>{esc(omitted_text(ladder))}: the report draws a bounded number of segments; '
            f'<code>tcpflow-analyze ladder --conn {ladder.conn_id} --full</code> draws every one.</p>')


def ladder_svg(ladder, width: int = 900) -> str:
    """The ladder as SVG: two time axes, slanted arrows, states beside the axes."""
    rows = display_rows(ladder)
    row_h, top = 28, 58
    cx, sx = 250, width - 250
    height = top + row_h * (len(rows) + 1 + bool(ladder.omitted)) + 10
    out = [f'<svg class="ladder-svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="ladder diagram of connection {ladder.conn_id}">',
           f'<text x="{cx}" y="16" text-anchor="middle" class="h">client {esc(ladder.client)}</text>',
           f'<text x="{sx}" y="16" text-anchor="middle" class="h">server {esc(ladder.server)}</text>',
           f'<line x1="{cx}" y1="{top - 20}" x2="{cx}" y2="{height - 8}" class="axis"/>',
           f'<line x1="{sx}" y1="{top - 20}" x2="{sx}" y2="{height - 8}" class="axis"/>',
           _svg_state(cx - 10, top - 24, ladder.initial_client, "end"),
           _svg_state(sx + 10, top - 24, ladder.initial_server, "start"),
           f'<text x="8" y="{top - 24}" class="ax">time (s)</text>']
    prev = (ladder.initial_client, ladder.initial_server)
    for i, row in enumerate(rows):
        y = top + i * row_h
        if isinstance(row, Fold):
            out.append(_svg_fold(row, cx, sx, y, row_h))
            continue
        flag = ' fill="#c0392b" font-weight="700"' if row.anomalies else ""
        out.append(f'<text x="8" y="{y + 12}" class="ax"{flag}>{row.time - ladder.start:.6f}</text>')
        out.append(_svg_segment(row, cx, sx, y) if row.kind == SEGMENT else _svg_note(row, cx, sx, y))
        for side, x, anchor in (("client", cx - 10, "end"), ("server", sx + 10, "start")):
            names = [STATE_NAMES[st] for st in getattr(row, side + "_via") + [getattr(row, side + "_state")]]
            names = [n for j, n in enumerate(names) if n != (names[j - 1] if j else prev[side == "server"])]
            if names:
                out.append(_svg_state(x, y + 14, " → ".join(names), anchor))
        prev = (STATE_NAMES[row.client_state], STATE_NAMES[row.server_state])
    if ladder.omitted:
        y = top + len(rows) * row_h
        out.append(f'<text x="{(cx + sx) / 2}" y="{y + 14}" text-anchor="middle" class="note">'
                   f'… {esc(omitted_text(ladder))} …</text>')
    out.append("</svg>")
    return "".join(out)


def _svg_state(x, y, text: str, anchor: str) -> str:
    color = STATE_COLORS.get(text.split(" → ")[-1], "#333")
    return f'<text x="{x}" y="{y}" text-anchor="{anchor}" class="state" fill="{color}">{esc(text)}</text>'


def _svg_segment(ev, cx, sx, y) -> str:
    x1, x2 = (cx, sx) if ev.from_client else (sx, cx)
    # Slanted like the textbook: a segment arrives after it leaves.
    y1, y2 = y + 4, y + 16
    cls = "seg"
    if ev.retransmission:
        cls += " rtx"
    if ev.rst_ignored:
        cls += " ign"
    if ev.flags & RST:
        cls += " rst"
    label = segment_labels(ev)[1]
    if ev.retransmission:
        label += " [retransmission]"
    if ev.rst_ignored:
        label += " [RST not accepted]"
    title = f"<title>{esc(label)}</title>"
    mark = ""
    if ev.anomalies:
        # Beside the sender's axis, clear of the centred label; the
        # anomaly's message is listed under the diagram and in the tooltip.
        mark = (f'<circle cx="{x1 + (14 if x2 > x1 else -14)}" cy="{y - 3}" r="5" class="amark"><title>'
                f'{esc("; ".join(a.type + ": " + a.message for a in ev.anomalies))}</title></circle>')
    return (f'<g class="{cls}">{title}<line x1="{x1}" y1="{y1}" x2="{x2}" y2="{y2}"/>'
            f'<polygon points="{_arrowhead(x1, y1, x2, y2)}"/>'
            f'<text x="{(cx + sx) / 2}" y="{(y1 + y2) / 2 - 5}" text-anchor="middle">{esc(label)}</text></g>{mark}')


def _arrowhead(x1, y1, x2, y2, length=9.0, half=4.0) -> str:
    """A triangle at (x2, y2) pointing along the line from (x1, y1)."""
    d = math.hypot(x2 - x1, y2 - y1) or 1.0
    ux, uy = (x2 - x1) / d, (y2 - y1) / d
    bx, by = x2 - length * ux, y2 - length * uy
    return f"{x2},{y2} {bx - half * uy:.1f},{by + half * ux:.1f} {bx + half * uy:.1f},{by - half * ux:.1f}"


def _svg_note(ev, cx, sx, y) -> str:
    return (f'<line x1="{cx}" y1="{y + 10}" x2="{sx}" y2="{y + 10}" class="note-line"/>'
            f'<text x="{(cx + sx) / 2}" y="{y + 6}" text-anchor="middle" class="note">{esc(ev.note)}</text>')


def _svg_fold(fold, cx, sx, y, h) -> str:
    text = ", ".join(fold.describe()[:3])
    return (f'<rect x="{cx + 6}" y="{y + 1}" width="{sx - cx - 12}" height="{h - 6}" rx="4" class="fold"/>'
            f'<text x="{(cx + sx) / 2}" y="{y + h / 2 + 2}" text-anchor="middle" class="fold-text">… {esc(text)} …</text>')


# ---------------------------------------------------------------------- inline assets
CSS = """
:root{--fg:#1d232a;--muted:#5f6b77;--line:#d8dee4;--bg:#fff;--band:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);
background:var(--bg);margin:0 auto;padding:16px 24px 40px;max-width:1180px}
h1{font-size:22px;margin:4px 0 12px}h1 small{font-weight:400;color:var(--muted);font-size:15px}
h2{font-size:18px;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:28px}
h3{font-size:15px;margin:18px 0 4px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:var(--band);padding:8px;overflow:auto;line-height:1.25}
.cols{display:flex;gap:40px;flex-wrap:wrap;align-items:flex-start}
table{border-collapse:collapse}th,td{padding:3px 10px;text-align:left;border-bottom:1px solid var(--line)}
.facts th{color:var(--muted);font-weight:500}.num{text-align:right}
.st{color:var(--c);font-weight:600;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
.badge{display:inline-block;background:var(--c);color:#fff;border-radius:10px;padding:0 9px;margin-right:6px;
font-size:12px;font-weight:600}
.ok{color:#2e9e44;font-weight:600}.note{color:var(--muted);font-size:13px}
.anomaly{border-left:4px solid var(--c);background:var(--band);padding:6px 12px;margin:10px 0}
.anomaly p{margin:4px 0}.anomaly .conns{font-size:13px;color:var(--muted)}
.scroll{max-height:560px;overflow:auto;border:1px solid var(--line)}
.conns{width:100%;font-size:13px}.conns thead th{position:sticky;top:0;background:#eef1f4;cursor:pointer;
white-space:nowrap;user-select:none}
.conns thead th:after{content:" \\2195";color:#9aa5b1}.conns thead th.asc:after{content:" \\2191"}
.conns thead th.desc:after{content:" \\2193"}.conns tr.flagged{background:#fff6e5}
.conns th,.conns td{padding:3px 7px}.conns td{white-space:nowrap}.conns td:last-child{white-space:normal}
svg text{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
.timeline{display:block;margin:6px 0 14px}.timeline .plot{fill:#fbfcfd;stroke:var(--line)}
.timeline .h,.ladder-svg .h{font-weight:600;font-size:13px}
.ax{font-size:11px;fill:var(--muted);font-family:ui-monospace,Menlo,Consolas,monospace}.lg{font-size:11.5px}
.ladder{margin-bottom:26px}.ladder-svg{display:block;max-width:100%;height:auto}
.ladder-svg .axis{stroke:#333;stroke-width:2}
.ladder-svg .state{font:600 12px ui-monospace,Menlo,Consolas,monospace}
.seg line{stroke:#34495e;stroke-width:1.4}.seg polygon{fill:#34495e}
.seg text{font:11.5px ui-monospace,Menlo,Consolas,monospace;fill:#1d232a;paint-order:stroke;stroke:#fff;
stroke-width:3px}
.seg.rtx line{stroke:#d68910;stroke-dasharray:5 3}.seg.rtx polygon{fill:#d68910}.seg.rtx text{fill:#a66a00}
.seg.rst line{stroke:#c0392b}.seg.rst polygon{fill:#c0392b}.seg.ign line{stroke:#8e44ad;stroke-dasharray:2 3}
.amark{fill:#c0392b;stroke:#fff;stroke-width:1.5}
.note-line{stroke:#9aa5b1;stroke-dasharray:2 4}.note{font-size:11.5px;font-style:italic;fill:var(--muted)}
.fold{fill:#f1f3f5;stroke:#c3cad2;stroke-dasharray:4 3}.fold-text{font-size:12px;fill:#4a5561}
.marks li{border-left:3px solid var(--c);padding-left:8px;margin:3px 0;list-style:none}
.marks{padding-left:0}footer{margin-top:36px;color:var(--muted);font-size:12px}
"""

# Sort the connections table by the clicked column: numbers by value
# (data-v), text by locale; a second click reverses.
SORT_JS = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      var asc = !th.classList.contains("asc");
      table.querySelectorAll("thead th").forEach(function (h) { h.classList.remove("asc", "desc"); });
      th.classList.add(asc ? "asc" : "desc");
      function key(row) {
        var cell = row.cells[col], v = cell.getAttribute("data-v");
        if (v === null) { return cell.textContent; }
        return /^-?[0-9.]+(e[-+]?[0-9]+)?$/i.test(v) ? parseFloat(v) : v;
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), r;
        if (typeof x === "number" && typeof y === "number") { r = x - y; }
        else { r = String(x).localeCompare(String(y), undefined, {numeric: true}); }
        return asc ? r : -r;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""

__all__ = ["MAX_LADDERS", "anomaly_connection_ids", "ladder_svg", "render_html", "timeline_svg"]
