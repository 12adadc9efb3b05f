"""The report as one self-contained HTML file.

Everything is inline -- CSS, a little JavaScript, SVG for the charts, the
connections as JSON -- so the file opens from a CI artifact, a mail
attachment or an air-gapped laptop with nothing fetched from anywhere.

In the order a person on call reads it (issue #15): what the report could
not see (notices), the findings summary worst first with a link to each
type's section, the capture and its states, each type's groups with what it
means (once per type), the services and client hosts, each host's sockets
per state over time, the connections, and the ladder diagrams of the
connections the findings name.

The connections table is drawn from an embedded JSON array a screenful at a
time: a browser given 100,000 table rows as HTML takes seconds to lay them
out and freezes while scrolling; rows it is never shown cost nothing.
"""
from __future__ import annotations

import html
import json
import math

from ..analysis.timeline import bucket_peaks
from ..decode import RST
from ..model.states import STATE_NAMES
from ..model.text import address_port_text, utc_text
from ..views.findings import at_least, findings, group_about, group_noun, groups, hidden_text, reach, span
from ..views.ladder import SEGMENT
from .ladder import Fold, display_rows, omitted_text, render_ladder, segment_labels
from .palette import HTML_PAGE, HTML_SEVERITY, HTML_STATE
from .services import CLIENT_COLUMNS, SERVICE_COLUMNS

MAX_LADDERS = 20
MAX_TIMELINE_HOSTS = 8
# Connections embedded in the page: the report itself lists at most
# --max-report-connections (folding the rest); this bounds the file when
# that was raised or switched off.
MAX_TABLE_ROWS = 200_000
MAX_GROUPS = 40          # groups listed under one anomaly type; the JSON has every one
OPEN_GROUPS = 10         # of those, shown before a click: the biggest are what a person reads
GROUP_LINKS = 12         # connection ids linked per group
MAX_SERVICE_ROWS = 200   # rows of the services and of the client hosts table
TIMELINE_POINTS = 300    # buckets per timeline: bounded SVG size, whatever the capture
SEVERITY_RANK = {s: i for i, s in enumerate(("info", "warning", "critical"))}

STATE_COLORS = HTML_STATE
SEVERITY_COLORS = HTML_SEVERITY
UNKNOWN_COLOR = HTML_STATE["UNKNOWN"]


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def _state(name: str) -> str:
    return f'<span class="st" style="--c:{STATE_COLORS.get(name, UNKNOWN_COLOR)}">{esc(name)}</span>'


def _badge(severity: str) -> str:
    return f'<span class="badge" style="--c:{SEVERITY_COLORS.get(severity, UNKNOWN_COLOR)}">{esc(severity)}</span>'


def type_anchor(kind: str) -> str:
    return f"type-{kind}"


# ---------------------------------------------------------------------- choosing ladders
def anomaly_connection_ids(report: dict, limit: int = MAX_LADDERS, min_severity: str | None = None) -> list[int]:
    """The connections whose ladders the report should show, at most ``limit``.

    Worst severity first, then round-robin over the anomalies in report
    order, so that a SYN flood naming 300 connections does not crowd out the
    one stale SYN next to it, and a critical finding always gets its ladder.
    """
    shown, _ = at_least(report.get("anomalies", []), min_severity)
    ranked = sorted(shown, key=lambda a: -SEVERITY_RANK.get(a.get("severity"), 0))
    queues = [list(a["connections"]) for a in ranked]
    out: list[int] = []
    taken: set[int] = set()
    while len(out) < limit and any(queues):
        for q in queues:
            while q and q[0] in taken:
                q.pop(0)
            if q and len(out) < limit:
                taken.add(q[0])
                out.append(q.pop(0))
    return out


# ---------------------------------------------------------------------- page
def render_html(report: dict, timelines: dict, ladders: dict, services: dict | None = None,
                min_severity: str | None = None, max_rows: int = MAX_TABLE_ROWS, window=(None, None)) -> str:
    """The whole report as one HTML document (a string, no external resources).

    ``report`` is ``build_report(analysis, anomalies)``; ``timelines`` is
    ``views.states.state_timelines`` and ``services`` ``views.services.build``
    of the same (filtered) connections; ``ladders`` maps connection ids to
    ``views.ladder.Ladder`` objects (at most MAX_LADDERS are drawn, see
    ``anomaly_connection_ids``); ``min_severity`` hides lesser findings,
    saying how many; ``window`` (since, until) narrows the charts' time axis.
    """
    files = ", ".join(report["capture"]["files"])
    anomalies, hidden = at_least(report.get("anomalies", []), min_severity)
    summary = findings(anomalies)
    body = [
        f"<h1>tcpflow-analyze <small>{esc(files)}</small></h1>",
        _notices_section(report),
        _findings_section(summary, hidden, min_severity),
        _capture_section(report),
        _types_section(summary, anomalies, ladders),
        _services_section(services),
        _timelines_section(timelines, window),
        _connections_section(report, ladders, max_rows),
        _ladders_section(ladders),
        f'<footer>{esc(report["tool"]["name"])} {esc(report["tool"]["version"])} · report schema '
        f'{esc(report["schema_version"])} · states inferred passively from the capture (RFC 9293)</footer>',
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>tcpflow-analyze: {esc(files)}</title><style>{page_css()}</style></head>\n<body>\n"
            + "\n".join(b for b in body if b) + f"\n<script>{SORT_JS}{TABLE_JS}</script>\n</body></html>\n")


def _notices_section(report: dict) -> str:
    """What the report could not see, above everything: a report that quietly
    covers part of a capture reads as if it covered all of it."""
    notices = report["summary"].get("notices") or []
    if not notices:
        return ""
    items = "".join(f'<li class="notice-{esc(n["kind"])}">{esc(n["message"])}</li>' for n in notices)
    return f'<section id="notices" role="alert"><ul class="notices">{items}</ul></section>'


def _findings_section(summary: list[dict], hidden: dict, min_severity: str | None) -> str:
    hidden_note = f'<p class=note>{esc(hidden_text(hidden, min_severity))}</p>' if hidden else ""
    if not summary:
        return f'<section id="findings"><h2>Findings</h2><p class="ok">No anomalies found.</p>{hidden_note}</section>'
    rows = "".join(
        f'<tr><td>{_badge(f["severity"])}</td><td><a href="#{type_anchor(f["type"])}"><code>{esc(f["type"])}'
        f'</code></a></td><td class=num>{f["anomalies"]:,}</td><td class=num>{f["connections"]:,}</td>'
        f'<td>{esc(f["worst"]["message"])}</td></tr>' for f in summary)
    return (f'<section id="findings"><h2>Findings</h2><table class="findings"><thead><tr><th>severity</th>'
            f'<th>anomaly</th><th>groups</th><th>connections</th><th>worst</th></tr></thead><tbody>{rows}'
            f'</tbody></table>{hidden_note}</section>')


def _capture_section(report: dict) -> str:
    cap, summary = report["capture"], report["summary"]
    skipped = ", ".join(f"{k} {v:,}" for k, v in cap["skipped"].items() if v) or "none"
    rows = [
        ("packets", f"{cap['packets']:,} ({cap['tcp_packets']:,} TCP)"),
        ("skipped", skipped),
        ("span", f"{utc_text(cap['start'])} … {utc_text(cap['end'])} ({(cap['duration'] or 0):.3f} s)"),
        ("connections", f"{summary.get('connections_total', summary['connections']):,}"),
    ]
    if cap.get("encapsulations"):
        rows.insert(2, ("tunnels", ", ".join(f"{k} {v:,} TCP" for k, v in cap["encapsulations"].items())))
    sel = report.get("selection")
    if sel:
        rows.append(("selected", f"{sel['matched']:,} of {sel['total']:,} match the filters; the findings, "
                                 f"charts and tables below are of these"))
    facts = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    states = summary["states"]
    names = sorted(set(states["client"]) | set(states["server"]),
                   key=lambda n: STATE_NAMES.index(n) if n in STATE_NAMES else 99)
    srows = "".join(f"<tr><td>{_state(n)}</td><td class=num>{states['client'].get(n, 0):,}</td>"
                    f"<td class=num>{states['server'].get(n, 0):,}</td></tr>" for n in names)
    return (f'<section id="summary"><h2>Capture</h2><div class="cols"><table class="facts">{facts}</table>'
            f'<table class="states"><thead><tr><th>state at the end</th><th>clients</th><th>servers</th></tr>'
            f'</thead><tbody>{srows}</tbody></table></div></section>')


def _conn_link(cid: int, ladders: dict) -> str:
    """A connection id: to its ladder where one is drawn, else to its row of
    the connections table (the script scrolls the table to it)."""
    if cid in ladders:
        return f'<a href="#ladder-{cid}">{cid}</a>'
    return f'<a href="#connections" data-conn="{cid}">{cid}</a>'


# ---------------------------------------------------------------------- per type
def _types_section(summary: list[dict], anomalies: list[dict], ladders: dict) -> str:
    if not summary:
        return ""
    parts = ['<section id="anomalies"><h2>Findings by type</h2>']
    for f in summary:
        parts.append(_type_section(f, groups(anomalies, f["type"]), ladders))
    parts.append("</section>")
    return "".join(parts)


def _type_section(finding: dict, items: list[dict], ladders: dict) -> str:
    kind = finding["type"]
    when = ""
    if finding.get("first_time") is not None:
        when = f", {utc_text(finding['first_time'])} … {utc_text(finding['last_time'])}"
    noun = group_noun(items)
    lis = "".join(_group_item(a, ladders) for a in items[:OPEN_GROUPS])
    folded = items[OPEN_GROUPS:MAX_GROUPS]
    if folded:
        lis += (f'<li class="fold-more"><details><summary>{len(folded):,} more {esc(noun)}</summary>'
                f'<ol class="groups" start="{OPEN_GROUPS + 1}">'
                + "".join(_group_item(a, ladders) for a in folded) + "</ol></details></li>")
    more = len(items) - MAX_GROUPS
    more_note = (f'<p class="note more">{more:,} more {esc(noun)} beyond these {MAX_GROUPS} are not listed here; '
                 f'<code>--format json</code> lists every one, <code>--anomaly {esc(kind)}</code> narrows the '
                 f'report to them.</p>' if more > 0 else "")
    return (f'<article class="finding" id="{type_anchor(kind)}" style="--c:'
            f'{SEVERITY_COLORS.get(finding["severity"], UNKNOWN_COLOR)}"><h3>{_badge(finding["severity"])} '
            f'<code>{esc(kind)}</code> <small>{finding["anomalies"]:,} {esc(noun if len(items) != 1 else "finding")}, '
            f'{finding["connections"]:,} connections{esc(when)}</small></h3>'
            f'<p class="means"><b>What it means.</b> {esc(finding.get("explanation", ""))}</p>'
            f'<ol class="groups">{lis}</ol>{more_note}</article>')


def _group_item(anomaly: dict, ladders: dict) -> str:
    field, value = group_about(anomaly)
    # Named once: most messages already open with the service or host.
    about = f'<span class="about">{esc(field)} <code>{esc(value)}</code>:</span> ' \
        if field and value not in anomaly["message"] else ""
    conns = anomaly["connections"]
    links = ", ".join(_conn_link(c, ladders) for c in conns[:GROUP_LINKS])
    if len(conns) > GROUP_LINKS:
        links += f" … ({len(conns):,})"
    first, last = span(anomaly)
    when = utc_text(first) if first is not None else ""
    if last is not None and last != first:
        when += f" … {utc_text(last)}"
    folded = reach(anomaly) - len(conns)
    extra = f" (+{folded:,} folded)" if folded else ""
    meta = " · ".join(x for x in (esc(when), f"connections{extra}: {links}" if conns else "") if x)
    return f'<li>{about}{esc(anomaly["message"])}<div class="meta">{meta}</div></li>'


# ---------------------------------------------------------------------- services
# The numbers the services tables sort by, per column key of
# render.services' columns (whose cells are text: "32µs", "12/40").
_SERVICE_VALUES = {
    "conns": lambda r: r["connections"], "refused": lambda r: r["refused"], "reset": lambda r: r["reset"],
    "unanswered": lambda r: r["unanswered"], "open": lambda r: r["open"], "time_wait": lambda r: r["time_wait"],
    "close_wait": lambda r: r["close_wait"], "retrans": lambda r: r["retransmission_rate"],
    "rtt": lambda r: r["handshake_rtt"]["median"], "rtt_p99": lambda r: r["handshake_rtt"]["p99"],
    "retried": lambda r: r["connect_time"]["retried"], "connect": lambda r: r["connect_time"]["median"],
    "bytes": lambda r: r["bytes"]["client"] + r["bytes"]["server"], "clients": lambda r: r["clients"],
    "servers": lambda r: r["servers"], "ports": lambda r: r["ports_in_use"], "ports_peak": lambda r: r["ports_peak"],
}


def _services_section(view: dict | None) -> str:
    if not view:
        return ""
    parts = ['<section id="services"><h2>Services and client hosts</h2>'
             '<p class=note>Per server address and port, and per client host: how its connections went and '
             'what it still held at the end. Click a column to sort.</p>']
    for key, title, columns, noun in (("services", "Services", SERVICE_COLUMNS, "services"),
                                      ("clients", "Client hosts", CLIENT_COLUMNS, "client hosts")):
        rows = view.get(key)
        if rows is None:
            continue
        parts.append(f'<h3 id="{key}">{title} ({view.get(key + "_total", len(rows)):,})</h3>')
        parts.append(_sortable_table(rows[:MAX_SERVICE_ROWS], columns, f"svc {key}"))
        more = view.get(key + "_total", len(rows)) - min(len(rows), MAX_SERVICE_ROWS)
        if more > 0:
            total = view.get(key + "_total", len(rows))
            parts.append(f'<p class="note more">{more:,} more {noun} not listed here (the busiest are shown); '
                         f'<code>tcpflow-analyze services --top {total}</code> lists them all.</p>')
    for line in view.get("unseen") or []:
        parts.append(f"<p class=note>{esc(line)}</p>")
    parts.append("</section>")
    return "".join(parts)


def _sortable_table(rows: list[dict], columns, cls: str) -> str:
    # render.services' headers are two lines for a terminal ("unans-\nwered"): one here.
    head = "".join(f'<th title="sort">{esc(header.replace("-" + chr(10), "").replace(chr(10), " "))}</th>'
                   for _, header, _, _ in columns)
    body = []
    for r in rows:
        cells = []
        for key, _, text, _ in columns:
            value = _SERVICE_VALUES.get(key)
            v = value(r) if value else None
            num = ' class=num' if value else ""
            cells.append(f'<td{num} data-v="{esc(-1 if v is None else v)}">{esc(text(r))}</td>' if value
                         else f"<td>{esc(text(r))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (f'<div class="scroll short"><table class="{cls} sortable"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


# ---------------------------------------------------------------------- timelines
def _timelines_section(view: dict, window=(None, None)) -> str:
    hosts = [h for h in view["hosts"] if h["states"]]
    hosts.sort(key=lambda h: (-max(s["peak"] for s in h["states"].values()), h["host"]))
    start, end = view["capture"]["start"], view["capture"]["end"]
    since, until = window
    start = since if since is not None and (start is None or since > start) else start
    end = until if until is not None and (end is None or until < end) else end
    charts = "".join(timeline_svg(h, start, end) for h in hosts[:MAX_TIMELINE_HOSTS])
    more = len(hosts) - MAX_TIMELINE_HOSTS
    note = f"<p class=note>{more:,} more hosts not drawn (the busiest are shown).</p>" if more > 0 else ""
    if not hosts:
        charts = "<p>No endpoint was ever open.</p>"
    return (f'<section id="timelines"><h2>Sockets per state over time</h2>'
            f'<p class=note>Each host\'s endpoints per TCP state, as <code>ss -tan</code> would have counted '
            f'them, over the whole capture (the highest count in each time slice).</p>{charts}{note}</section>')


def _from(series, start: float) -> list:
    """A step series seen from ``start`` on: the count held at ``start`` and
    the changes after it (bucket_peaks would count the peak before it)."""
    held, out = 0, []
    for t, v in series:
        if t < start:
            held = v
        else:
            out.append((t, v))
    return [(start, held)] + out if held else out


def _y_ticks(peak: int) -> list[int]:
    """Whole sockets only: a count of 1.5 sockets means nothing."""
    return sorted({0, peak // 2, peak}) if peak > 1 else [0, peak]


LEGEND_CHAR = 6.7   # width of a legend character (.lg is monospace 11px)


def timeline_svg(host: dict, start, end, width: int = 860, height: int = 170) -> str:
    """One host's states over time: a step line per state on a shared scale,
    the legend beside it (as wide as its longest label: none is clipped)."""
    start = start or 0.0
    end = end if end is not None and end > start else start + 1e-6
    n = TIMELINE_POINTS
    lines = {name: bucket_peaks(_from(s["series"], start), start, end, n) for name, s in host["states"].items()}
    labels = {name: f'{name} {s["at_end"]:,}/{s["peak"]:,}' for name, s in host["states"].items()}
    title = "state end/peak"
    right = int(30 + LEGEND_CHAR * max(len(title), *(len(t) for t in labels.values()))) + 8
    top, bottom, left = 24, 26, 48
    width = max(width, left + 400 + right)
    height = max(height, top + 6 + 15 * len(labels) + bottom)
    pw, ph = width - left - right, height - top - bottom
    peak = max((max(v) for v in lines.values()), default=0) or 1
    parts = [f'<svg class="timeline" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
             f'role="img" aria-label="states over time for {esc(host["host"])}">',
             f'<text x="{left}" y="15" class="h">{esc(host["host"])}</text>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="plot"/>']
    for tick in _y_ticks(peak):
        y = top + ph - tick / peak * ph
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" class="ax" text-anchor="end">{tick:,}</text>')
    for frac in (0, 0.5, 1):
        x = left + frac * pw
        parts.append(f'<text x="{x:.1f}" y="{height - 8}" class="ax" text-anchor="middle">+{(end - start) * frac:.3g}s</text>')
    for i, (name, peaks) in enumerate(lines.items()):
        s = host["states"][name]
        pts = []
        for b, v in enumerate(peaks):
            y = top + ph - v / peak * ph
            pts.append(f"{left + b * pw / n:.1f},{y:.1f} {left + (b + 1) * pw / n:.1f},{y:.1f}")
        color = STATE_COLORS.get(name, UNKNOWN_COLOR)
        parts.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{color}" stroke-width="2">'
                     f'<title>{esc(name)}: peak {s["peak"]:,}, {s["at_end"]:,} at the end</title></polyline>')
        ly = top + 6 + i * 15
        parts.append(f'<rect x="{left + pw + 12}" y="{ly}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{left + pw + 27}" y="{ly + 9}" class="lg">{esc(labels[name])}</text>')
    parts.append(f'<text x="{left + pw + 12}" y="{top - 6}" class="ax">{title}</text></svg>')
    return "".join(parts)


# ---------------------------------------------------------------------- connections
# The connections table's columns; TABLE_JS draws a row's cells in this order
# from the embedded row arrays (``_connection_row``).
_COLUMNS = ("id", "client", "server", "client state", "server state", "anomalies", "packets c/s", "bytes c/s",
            "retx c/s", "duration", "handshake", "history", "conn_state")


def _connections_section(report: dict, ladders: dict, max_rows: int) -> str:
    states = {n: i for i, n in enumerate(STATE_NAMES)}
    types: dict[str, int] = {}
    rows, count = [], 0
    for c in report["connections"]:
        count += 1
        if len(rows) < max_rows:
            rows.append(_connection_row(c, states, types))
    listed = report["summary"].get("connections_total", report["summary"]["connections"])
    sel = report.get("selection")
    if sel:
        listed = sel["matched"]
    head = "".join(f'<th data-col="{i}" title="sort">{esc(h)}</th>' for i, h in enumerate(_COLUMNS))
    data = {"states": list(STATE_NAMES), "colors": STATE_COLORS, "types": list(types), "ladders": sorted(ladders),
            "rows": rows}
    notes = []
    if len(rows) < listed:
        why = (f"only the first {len(rows):,} are embedded in this page" if count > len(rows) else
               _not_listed_why(report))
        notes.append(f'<p class="note more" id="conn-more">{listed - len(rows):,} of {listed:,} connections '
                     f'are not in this table ({why}); <code>--format json</code> or <code>--format csv</code> '
                     f'lists every connection.</p>')
    if not rows:
        return (f'<section id="connections"><h2>Connections ({listed:,})</h2>{"".join(notes)}</section>')
    return (f'<section id="connections"><h2>Connections ({listed:,})</h2>'
            f'<p class=note>Click a column to sort; type to filter. Ids link to the ladder diagram where one is '
            f'drawn. <span id="conn-count"></span></p>{"".join(notes)}'
            f'<noscript><p class=note>The table is drawn by the page\'s script; <code>--format csv</code> has the '
            f'same rows.</p></noscript>'
            f'<input id="conn-filter" type="search" placeholder="filter: address, state, anomaly …" '
            f'aria-label="filter connections">'
            f'<div class="scroll" id="conn-box"><table class="conns"><thead><tr>{head}</tr></thead>'
            f'<tbody></tbody></table></div>'
            f'<script type="application/json" id="conn-data">{_json_in_html(data)}</script></section>')


def _not_listed_why(report: dict) -> str:
    sel = report.get("selection") or {}
    if sel.get("top") is not None:
        return f"--top {sel['top']}"
    return "folded into per-service counts: --max-report-connections"


def _connection_row(c: dict, states: dict, types: dict) -> list:
    """One connection as the array TABLE_JS draws (states and anomaly types
    as indexes into the page's lists: a row is a few dozen bytes)."""
    client, server = c["client"], c["server"]
    retx = c.get("retransmissions", {"client": 0, "server": 0})
    kinds = [types.setdefault(t, len(types)) for t in c["anomalies"]]
    return [c["id"], address_port_text(client["ip"], client["port"]) + ("?" if c["roles_inferred"] else ""),
            address_port_text(server["ip"], server["port"]),
            states.get(client["state"], states["UNKNOWN"]), states.get(server["state"], states["UNKNOWN"]),
            c["packets"]["client"], c["packets"]["server"], c["bytes"]["client"], c["bytes"]["server"],
            retx["client"], retx["server"], c.get("duration") or 0.0, c.get("handshake_rtt"),
            c["history"], c["conn_state"], kinds]


def _json_in_html(data) -> str:
    """JSON that cannot end its <script> element early, whatever a name in it says."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


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
        notes = "".join(f'<li style="--c:{SEVERITY_COLORS.get(a.severity, UNKNOWN_COLOR)}"><code>{esc(a.type)}</code> '
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
        flag = ' class="ax flag"' if row.anomalies else ' class="ax"'
        out.append(f'<text x="8" y="{y + 12}"{flag}>{row.time - ladder.start:.6f}</text>')
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
    color = STATE_COLORS.get(text.split(" → ")[-1], HTML_PAGE["fg"])
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
def page_css() -> str:
    """The style sheet, its colours all from render.palette: the page's own
    (HTML_PAGE) and the severities' as custom properties."""
    colours = {**HTML_PAGE, **{f"sev-{k}": v for k, v in SEVERITY_COLORS.items()}}
    return ":root{" + ";".join(f"--{k}:{v}" for k, v in colours.items()) + "}" + CSS


CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);
background:var(--bg);margin:0 auto;padding:16px 24px 40px;max-width:1320px}
h1{font-size:22px;margin:4px 0 12px}h1 small{font-weight:400;color:var(--muted);font-size:15px}
h2{font-size:18px;border-bottom:1px solid var(--line);padding-bottom:4px;margin-top:28px}
h3{font-size:15px;margin:18px 0 4px}h3 small{font-weight:400;color:var(--muted)}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:var(--band);padding:8px;overflow:auto;line-height:1.25}
a{color:var(--link)}
.cols{display:flex;gap:40px;flex-wrap:wrap;align-items:flex-start}
table{border-collapse:collapse}th,td{padding:3px 10px;text-align:left;border-bottom:1px solid var(--line)}
.facts th{color:var(--muted);font-weight:500}.num{text-align:right}
.st{color:var(--c);font-weight:600;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px}
.badge{display:inline-block;background:var(--c);color:var(--bg);border-radius:10px;padding:0 9px;margin-right:6px;
font-size:12px;font-weight:600}
.ok{color:var(--ok);font-weight:600}.note{color:var(--muted);font-size:13px}
.notices{list-style:none;padding:0;margin:8px 0}
.notices li{border-left:4px solid var(--sev-warning);background:var(--warn-band);padding:6px 12px;margin:4px 0;
font-weight:600}
.notices li:before{content:"\\26a0\\fe0e  "}
.findings{width:100%}.findings td:nth-child(5){font-size:13px}.findings thead th{background:var(--head)}
.finding{border-left:4px solid var(--c);padding:2px 0 4px 12px;margin:14px 0}
.finding .means{background:var(--band);padding:6px 10px;margin:6px 0;font-size:13.5px}
.groups{margin:4px 0;padding-left:22px}.groups li{margin:5px 0}
.groups .about{font-weight:600}.groups .fold-more{list-style:none;margin-left:-22px}
.groups summary{cursor:pointer;color:var(--link)}.groups .meta{color:var(--muted);font-size:12.5px}
.more{font-weight:600}
.finding,#services,#timelines,.ladder{content-visibility:auto;contain-intrinsic-size:auto 600px}
.scroll{max-height:560px;overflow:auto;border:1px solid var(--line)}.scroll.short{max-height:420px}
table.sortable thead th,.conns thead th{position:sticky;top:0;background:var(--head);cursor:pointer;
white-space:nowrap;user-select:none;z-index:1}
table.sortable thead th:after,.conns thead th:after{content:" \\2195";color:var(--faint)}
table.sortable thead th.asc:after,.conns thead th.asc:after{content:" \\2191"}
table.sortable thead th.desc:after,.conns thead th.desc:after{content:" \\2193"}
.svc{font-size:13px}.svc td{white-space:nowrap;padding:3px 7px}
#conn-filter{margin:4px 0 8px;padding:4px 8px;width:360px;font:inherit;border:1px solid var(--line)}
.conns{font-size:13px;table-layout:fixed;width:1560px}
.conns th,.conns td{padding:0 7px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.conns tbody tr{height:24px}.conns tr.flagged{background:var(--flagged)}.conns tr.hit{outline:2px solid var(--link)}
.conns th:nth-child(1){width:68px}.conns th:nth-child(2),.conns th:nth-child(3){width:210px}
.conns th:nth-child(4),.conns th:nth-child(5){width:116px}.conns th:nth-child(6){width:230px}
.conns th:nth-child(7){width:96px}.conns th:nth-child(8){width:130px}.conns th:nth-child(9){width:70px}
.conns th:nth-child(10),.conns th:nth-child(11){width:92px}
svg text{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
.timeline{display:block;margin:6px 0 14px;max-width:100%;height:auto}
.timeline .plot{fill:var(--band);stroke:var(--line)}
.timeline .h,.ladder-svg .h{font-weight:600;font-size:13px}
.ax{font-size:11px;fill:var(--muted);font-family:ui-monospace,Menlo,Consolas,monospace}
svg text.lg{font:11px ui-monospace,Menlo,Consolas,monospace;fill:var(--fg)}
.ladder{margin-bottom:26px}.ladder-svg{display:block;max-width:100%;height:auto}
.ladder-svg .axis{stroke:var(--fg);stroke-width:2}.ladder-svg .flag{fill:var(--sev-critical);font-weight:700}
.ladder-svg .state{font:600 12px ui-monospace,Menlo,Consolas,monospace}
.seg line{stroke:var(--segment);stroke-width:1.4}.seg polygon{fill:var(--segment)}
.seg text{font:11.5px ui-monospace,Menlo,Consolas,monospace;fill:var(--fg);paint-order:stroke;stroke:var(--bg);
stroke-width:3px}
.seg.rtx line{stroke:var(--sev-warning);stroke-dasharray:5 3}.seg.rtx polygon{fill:var(--sev-warning)}
.seg.rtx text{fill:var(--sev-warning)}
.seg.rst line{stroke:var(--sev-critical)}.seg.rst polygon{fill:var(--sev-critical)}
.seg.ign line{stroke:var(--ignored);stroke-dasharray:2 3}
.amark{fill:var(--sev-critical);stroke:var(--bg);stroke-width:1.5}
.note-line{stroke:var(--faint);stroke-dasharray:2 4}.note{font-size:11.5px;font-style:italic;fill:var(--muted)}
.fold{fill:var(--band);stroke:var(--line);stroke-dasharray:4 3}.fold-text{font-size:12px;fill:var(--muted)}
.marks li{border-left:3px solid var(--c);padding-left:8px;margin:3px 0;list-style:none}
.marks{padding-left:0}footer{margin-top:36px;color:var(--muted);font-size:12px}
"""

# Sort a static table (the services) by the clicked column: numbers by value
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
        return v === null ? cell.textContent : parseFloat(v);
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

# The connections table: rows drawn from the embedded JSON (render.html's
# _connection_row) only where the scroll box shows them, with a spacer row
# above and below standing in for the rest; sorting and filtering reorder an
# index array, never the DOM.  A link with data-conn scrolls the table to
# that connection.
TABLE_JS = r"""
(function () {
  var box = document.getElementById("conn-box");
  if (!box) { return; }
  var data = JSON.parse(document.getElementById("conn-data").textContent);
  var rows = data.rows, states = data.states, colors = data.colors, types = data.types;
  var ladders = new Set(data.ladders);
  var body = box.querySelector("tbody"), heads = box.querySelectorAll("thead th");
  var countNote = document.getElementById("conn-count"), filter = document.getElementById("conn-filter");
  var ROW = 24, OVER = 15, order = rows.map(function (_, i) { return i; });
  var hit = null, texts = null, pending = false;
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); }
  function n(v) { return v.toLocaleString("en-US"); }
  function secs(v) {
    if (v == null) { return "-"; }
    return v < 0.001 ? (v * 1e6).toFixed(0) + "\u00b5s" : v < 1 ? (v * 1000).toPrecision(3) + "ms" : v.toFixed(2) + "s";
  }
  function st(i) {
    return '<span class="st" style="--c:' + (colors[states[i]] || "") + '">' + states[i] + "</span>";
  }
  // Cells per column of render.html's _COLUMNS, and each column's sort key.
  var cells = [
    function (r) { return ladders.has(r[0]) ? '<a href="#ladder-' + r[0] + '">' + r[0] + "</a>" : r[0]; },
    function (r) { return esc(r[1]); }, function (r) { return esc(r[2]); },
    function (r) { return st(r[3]); }, function (r) { return st(r[4]); },
    function (r) { return esc(r[15].map(function (t) { return types[t]; }).join(", ")); },
    function (r) { return n(r[5]) + "/" + n(r[6]); }, function (r) { return n(r[7]) + "/" + n(r[8]); },
    function (r) { return n(r[9]) + "/" + n(r[10]); }, function (r) { return r[11].toFixed(6) + "s"; },
    function (r) { return secs(r[12]); }, function (r) { return "<code>" + esc(r[13]) + "</code>"; },
    function (r) { return esc(r[14]); }
  ];
  var keys = [
    function (r) { return r[0]; }, function (r) { return r[1]; }, function (r) { return r[2]; },
    function (r) { return states[r[3]]; }, function (r) { return states[r[4]]; },
    function (r) { return r[15].map(function (t) { return types[t]; }).join(", "); },
    function (r) { return r[5] + r[6]; }, function (r) { return r[7] + r[8]; }, function (r) { return r[9] + r[10]; },
    function (r) { return r[11]; }, function (r) { return r[12] == null ? -1 : r[12]; },
    function (r) { return r[13]; }, function (r) { return r[14]; }
  ];
  var shown = order;
  // The box's height once full: while it is empty its clientHeight is the header's.
  var VIEW = parseFloat(getComputedStyle(box).maxHeight) || 600;
  function draw() {
    pending = false;
    var first = Math.max(0, Math.floor(box.scrollTop / ROW) - OVER);
    var last = Math.min(shown.length, Math.ceil((box.scrollTop + Math.max(box.clientHeight, VIEW)) / ROW) + OVER);
    var out = ['<tr style="height:' + first * ROW + 'px"></tr>'];
    for (var i = first; i < last; i++) {
      var r = rows[shown[i]], cls = r[15].length ? "flagged" : "";
      if (r[0] === hit) { cls += " hit"; }
      out.push('<tr id="conn-' + r[0] + '" class="' + cls + '"><td>' +
               cells.map(function (c) { return c(r); }).join("</td><td>") + "</td></tr>");
    }
    out.push('<tr style="height:' + (shown.length - last) * ROW + 'px"></tr>');
    body.innerHTML = out.join("");
    if (countNote) { countNote.textContent = "Showing " + n(shown.length) + " of " + n(rows.length) + "."; }
  }
  function later() { if (!pending) { pending = true; requestAnimationFrame(draw); } }
  box.addEventListener("scroll", later);
  // Text sorts with its numbers compared as numbers (10.0.0.9 before 10.0.0.10):
  // padded once per sort, then compared plainly (a collator is seconds on 100k rows).
  function padded(v) { return String(v).replace(/\d+/g, function (d) { return d.padStart(10, "0"); }); }
  heads.forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = !th.classList.contains("asc"), key = keys[col];
      heads.forEach(function (h) { h.classList.remove("asc", "desc"); });
      th.classList.add(asc ? "asc" : "desc");
      var k = rows.map(key), numeric = typeof k[0] === "number";
      if (!numeric) { k = k.map(padded); }
      order.sort(function (a, b) {
        var r = numeric ? k[a] - k[b] : k[a] < k[b] ? -1 : k[a] > k[b] ? 1 : 0;
        return (asc ? r : -r) || a - b;
      });
      applyFilter();
    });
  });
  function applyFilter() {
    var q = filter ? filter.value.trim().toLowerCase() : "";
    if (!q) { shown = order; }
    else {
      if (!texts) {
        texts = rows.map(function (r) { return keys.map(function (k) { return k(r); }).join(" ").toLowerCase(); });
      }
      shown = order.filter(function (i) { return texts[i].indexOf(q) >= 0; });
    }
    box.scrollTop = 0; draw();
  }
  if (filter) { filter.addEventListener("input", applyFilter); }
  function goTo(id) {
    if (filter && filter.value) { filter.value = ""; shown = order; }
    var at = shown.findIndex(function (i) { return rows[i][0] === id; });
    if (at < 0) { return false; }
    hit = id;
    document.getElementById("connections").scrollIntoView();
    draw();   // at the full height first: a scroll past a filtered list's end would be cut short
    box.scrollTop = Math.max(0, at * ROW - box.clientHeight / 2);
    draw();
    return true;
  }
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-conn]");
    if (a && goTo(Number(a.getAttribute("data-conn")))) { ev.preventDefault(); }
  });
  draw();
  var m = /^#conn-(\d+)$/.exec(location.hash);
  if (m) { goTo(Number(m[1])); }
})();
"""

__all__ = ["MAX_LADDERS", "anomaly_connection_ids", "ladder_svg", "render_html", "timeline_svg"]
