"""Markdown for CI summaries ($GITHUB_STEP_SUMMARY, merge-request notes)."""
from __future__ import annotations

import re

from ..detectors import DETECTORS
from ..model.text import address_port_text, printable

_EXPLAIN = {d.TYPE: d.EXPLANATION for d in DETECTORS}
_ICON = {"critical": "🔴", "warning": "🟠", "info": "🔵"}
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


def render(report: dict) -> str:
    cap = report["capture"]
    summary = report["summary"]
    lines = ["## tcpflow-analyze", ""]
    anomalies = report["anomalies"]
    if anomalies:
        sev = summary.get("severities", {})
        counts = ", ".join(f"{sev[s]} {s}" for s in ("critical", "warning", "info") if sev.get(s))
        noun = "anomaly" if len(anomalies) == 1 else "anomalies"
        lines.append(f"**{len(anomalies)} {noun}** ({counts}) in {summary['connections']} connections, "
                     f"{cap['packets']} packets from {', '.join(map(code, cap['files']))}.")
    else:
        lines.append(f"**No anomalies** in {summary['connections']} connections, {cap['packets']} packets "
                     f"from {', '.join(map(code, cap['files']))}.")
    if cap["truncated"]:
        t = cap["truncation"]
        lines.append(f"\n> The capture {code(t['file'])} is damaged at byte {t['offset']} (after packet "
                     f"{t['packet']}: {printable(t['reason'])}); everything before it was analyzed.")
    lines.append("")
    if anomalies:
        lines += ["| severity | anomaly | connections | what |", "| --- | --- | --- | --- |"]
        for a in anomalies[:MAX_ROWS]:
            conns = ", ".join(map(str, a["connections"][:10])) + (" …" if len(a["connections"]) > 10 else "")
            lines.append(f"| {_ICON.get(a['severity'], '')} {a['severity']} | `{a['type']}` | {conns} | "
                         f"{_cell(a['message'])} |")
        if len(anomalies) > MAX_ROWS:
            lines.append(f"\n… and {len(anomalies) - MAX_ROWS} more (see the JSON report).")
        lines.append("")
        for kind in sorted({a["type"] for a in anomalies}):
            lines += [f"<details><summary><code>{kind}</code>: what it means</summary>", "",
                      _EXPLAIN.get(kind, ""), "", "</details>", ""]
    states = summary["states"]
    names = sorted(set(states["client"]) | set(states["server"]))
    if names:
        lines += ["| state | clients | servers |", "| --- | ---: | ---: |"]
        for n in names:
            lines.append(f"| {n} | {states['client'].get(n, 0)} | {states['server'].get(n, 0)} |")
        lines.append("")
    flagged = [c for c in report["connections"] if c["anomalies"]]
    if flagged:
        lines += ["| id | client | server | client state | server state | history | anomalies |",
                  "| ---: | --- | --- | --- | --- | --- | --- |"]
        for c in flagged[:MAX_ROWS]:
            client, server = c["client"], c["server"]
            lines.append(f"| {c['id']} | {address_port_text(client['ip'], client['port'])} | "
                         f"{address_port_text(server['ip'], server['port'])} | {client['state']} | "
                         f"{server['state']} | `{c['history']}` | {', '.join(c['anomalies'])} |")
        if len(flagged) > MAX_ROWS:
            lines.append(f"\n… and {len(flagged) - MAX_ROWS} more flagged connections.")
        lines.append("")
    return "\n".join(lines)
