"""Markdown for CI summaries ($GITHUB_STEP_SUMMARY, merge-request notes)."""
from __future__ import annotations

import re

from ..model.text import address_port_text, printable, utc_text
from ..views.findings import (
    WORST_FIRST, at_least, findings, group_about, group_noun, groups, hidden_text, notices, reach, span,
)
from .table import EXAMPLE_IDS, MAX_GROUPS

_ICON = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
# Flagged connections listed: the JSON report has them all.
MAX_ROWS = 50


def _cell(text) -> str:
    return printable(str(text).replace("\n", " ")).replace("|", "\\|")


def code(text: str) -> str:
    """``text`` (a file name) as a code span nothing in it can leave: in a
    code span nothing is markup, and a span opened by N backticks ends only
    at a run of exactly N (CommonMark 0.31, 6.1), so the fence is one longer
    than the longest run inside.  A space pads text that starts or ends with
    a backtick (it would join the fence) or with a space (one is stripped
    from each end): the spec strips one each side again."""
    text = printable(text)
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if not text or text[0] in "` " or text[-1] in "` " else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def render(report: dict, min_severity: str | None = None) -> str:
    """The report for a CI job summary, in the order a person reads it: the
    header, the notices, the findings summary, the states, each type's
    groups, then the flagged connections (issue #15)."""
    anomalies, hidden = at_least(report["anomalies"], min_severity)
    summary = findings(anomalies)
    lines = ["## tcpflow-analyze", "", _headline(report, anomalies), ""]
    lines += _notices(report)
    if summary:
        lines += ["| severity | anomaly | groups | connections | worst |", "| --- | --- | ---: | ---: | --- |"]
        for f in summary:
            lines.append(f"| {_ICON.get(f['severity'], '')} {f['severity']} | `{f['type']}` | {f['anomalies']:,} | "
                         f"{f['connections']:,} | {_cell(f['worst']['message'])} |")
        lines.append("")
    if hidden:
        lines += [_cell(hidden_text(hidden, min_severity)), ""]
    states = report["summary"]["states"]
    names = sorted(set(states["client"]) | set(states["server"]))
    if names:
        lines += ["| state | clients | servers |", "| --- | ---: | ---: |"]
        for n in names:
            lines.append(f"| {n} | {states['client'].get(n, 0)} | {states['server'].get(n, 0)} |")
        lines.append("")
    for f in summary:
        lines += _type_section(f, anomalies)
    lines += _connections(report)
    return "\n".join(lines)


def _headline(report: dict, anomalies: list[dict]) -> str:
    cap, summary = report["capture"], report["summary"]
    listed = summary["connections"]
    total = summary.get("connections_total", listed)
    conns = f"{total:,} connections" + (f" ({listed:,} listed)" if total != listed else "")
    where = f"{conns}, {cap['packets']:,} packets from {', '.join(map(code, cap['files']))}."
    if not report["anomalies"]:
        return f"**No anomalies** in {where}"
    if not anomalies:
        return f"**No anomalies at or above the chosen severity** in {where}"
    sev = {}
    for a in anomalies:
        sev[a["severity"]] = sev.get(a["severity"], 0) + 1
    counts = ", ".join(f"{sev[s]:,} {s}" for s in WORST_FIRST if sev.get(s))
    noun = "anomaly" if len(anomalies) == 1 else "anomalies"
    return f"**{len(anomalies):,} {noun}** ({counts}) in {where}"


def _notices(report: dict) -> list[str]:
    """What the report could not see, one quoted line each, at the top."""
    notes = notices(report, quote=code)
    if not notes:
        return []
    return [f"> ⚠️ **{n['kind']}**: {printable(n['message'])}  " for n in notes] + [""]


def _type_section(finding: dict, anomalies: list[dict]) -> list[str]:
    """A type's heading, what it means (once), and its biggest groups."""
    listed = groups(anomalies, finding["type"])
    noun = group_noun(listed)
    n = finding["anomalies"]
    conns = finding["connections"]
    lines = [f"### {_ICON.get(finding['severity'], '')} `{finding['type']}` ({finding['severity']}): "
             f"{n:,} {noun if n != 1 else noun[:-1]}, {conns:,} {'connection' if conns == 1 else 'connections'}",
             "", f"*What it means:* {finding['explanation']}", ""]
    shown = listed[:MAX_GROUPS]
    about = [group_about(a) for a in shown]
    fields = {f for f, _ in about}
    column = (fields.pop() if len(fields) == 1 else "about") if any(v for _, v in about) else None
    lines += [("| " + column + " " if column else "") + "| connections | first .. last | examples | what |",
              ("| --- " if column else "") + "| ---: | --- | --- | --- |"]
    for a, (_, value) in zip(shown, about):
        ids = ", ".join(map(str, a["connections"][:EXAMPLE_IDS])) + (" …" if len(a["connections"]) > EXAMPLE_IDS else "")
        lines.append((f"| {_cell(value or '-')} " if column else "") +
                     f"| {reach(a):,} | {_when(a)} | {ids or '-'} | {_cell(a['message'])} |")
    if len(listed) > MAX_GROUPS:
        lines.append(f"\n… and {len(listed) - MAX_GROUPS:,} more {noun}: `--format json` lists them all.")
    lines.append("")
    return lines


def _when(anomaly: dict) -> str:
    first, last = span(anomaly)
    if first is None:
        return "-"
    clock = [utc_text(t, "%H:%M:%S.%f") for t in (first, last) if t is not None]
    return clock[0] if len(set(clock)) == 1 else f"{clock[0]} .. {clock[-1]}"


def _connections(report: dict) -> list[str]:
    """The flagged connections, last (none with --top 0)."""
    flagged = [c for c in report["connections"] if c["anomalies"]]
    if not flagged:
        return []
    lines = ["### Flagged connections", "",
             "| id | client | server | client state | server state | history | anomalies |",
             "| ---: | --- | --- | --- | --- | --- | --- |"]
    for c in flagged[:MAX_ROWS]:
        client, server = c["client"], c["server"]
        lines.append(f"| {c['id']} | {address_port_text(client['ip'], client['port'])} | "
                     f"{address_port_text(server['ip'], server['port'])} | {client['state']} | "
                     f"{server['state']} | `{c['history']}` | {', '.join(c['anomalies'])} |")
    if len(flagged) > MAX_ROWS:
        lines.append(f"\n… and {len(flagged) - MAX_ROWS:,} more flagged connections.")
    lines.append("")
    return lines
