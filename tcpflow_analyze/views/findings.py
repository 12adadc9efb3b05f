"""What a person reads first: the findings summary and the notices (issue #15).

On a busy server's capture the detectors find thousands of anomalies; in
time order the one that answers "why are we out of ports?" is buried.  The
**findings summary** is one entry per anomaly type, ordered by what matters
at 3 a.m. -- severity, then how much it touched (connections, then ports,
then time lost), never by when it happened -- the way ``tshark -z expert``
and Zeek's notice.log summarise.  The **notices** say what the tool could
not see (evicted or folded connections, a damaged capture, no TCP, unreadable
packets): a report that quietly covers part of a capture reads as if it
covered all of it.

Every output (table, markdown, HTML, JSON, the stderr line) takes its
wording from here; the documents are plain data, read from the report's
anomaly dicts (type, severity, time, connections, message, details) only.
"""
from __future__ import annotations

from ..detectors import DETECTORS, SEVERITIES
from ..detectors.base import GROUP_FIELDS
from .capture import capture_counts, folded_counts

EXPLANATIONS = {d.TYPE: d.EXPLANATION for d in DETECTORS}
# Worst first: the order a person reads findings in.
WORST_FIRST = tuple(reversed(SEVERITIES))
_RANK = {s: i for i, s in enumerate(SEVERITIES)}

# The detail that says how much of the ephemeral port range a finding used:
# running out of ports is what stops new connections.
PORT_FIELDS = ("ephemeral_ports_at_peak",)
# The details that say how long someone waited on a finding: a client's
# retried SYN (delay, longest_wait), a peer that went silent (silent_for), a
# socket an application never closed (oldest_age).
TIME_LOST_FIELDS = ("delay", "longest_wait", "silent_for", "oldest_age")
# The packets skipped for reasons that may have hidden TCP from the analysis
# (non_ip and non_tcp are other traffic, by design not ours).
UNSEEN_SKIPS = {"malformed": "malformed", "truncated_header": "cut before the TCP header (snaplen)",
                "fragment": "IP fragments (not reassembled)", "unsupported_link": "of an unsupported link type"}
# Zeek's capture-loss notice threshold (capture-loss.zeek: too_much_loss,
# 0.1 percent): above it, the capture is said to have lost packets.
LOSS_NOTICE_PERCENT = 0.1
# What one group of a finding is about, for "... and 190 more services".
GROUP_NOUNS = {"service": "services", "host": "hosts", "source": "sources"}


# ---------------------------------------------------------------------- findings
def reach(anomaly: dict) -> int:
    """The connections an anomaly speaks for: those it lists, and those the
    memory bound folded into its counts (details.omitted)."""
    omitted = (anomaly.get("details") or {}).get("omitted")
    return len(anomaly["connections"]) + (omitted if isinstance(omitted, int) else 0)


def _time(anomaly: dict) -> float:
    t = anomaly.get("time")
    return float("inf") if t is None else t


def _first_detail(anomaly: dict, fields) -> float | None:
    details = anomaly.get("details") or {}
    for name in fields:
        value = details.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    return None


def _most(anomalies, fields):
    values = [v for v in (_first_detail(a, fields) for a in anomalies) if v is not None]
    return max(values) if values else None


def worst(anomalies: list[dict]) -> dict:
    """The instance a person should look at first: the one touching the
    most connections, then the earliest."""
    return min(anomalies, key=lambda a: (-reach(a), _time(a)))


def span(anomaly: dict) -> tuple[float | None, float | None]:
    """(first, last) time of a finding: a group's own span (details
    first_time/last_time), else the anomaly's time."""
    details = anomaly.get("details") or {}
    first = details.get("first_time", anomaly.get("time"))
    last = details.get("last_time", first)
    return first, last


def findings(anomalies: list[dict]) -> list[dict]:
    """One entry per anomaly type in ``anomalies`` (report dicts), worst first."""
    by_type: dict[str, list[dict]] = {}
    for a in anomalies:
        by_type.setdefault(a["type"], []).append(a)
    out = []
    for kind, group in by_type.items():
        listed = {cid for a in group for cid in a["connections"]}
        folded = sum(reach(a) - len(a["connections"]) for a in group)
        times = [t for a in group for t in span(a) if t is not None]
        top = worst(group)
        out.append({
            "type": kind,
            "severity": max((a["severity"] for a in group), key=lambda s: _RANK.get(s, -1)),
            "anomalies": len(group),
            "connections": len(listed) + folded,
            "folded": folded,
            "ports": _most(group, PORT_FIELDS),
            "time_lost": _most(group, TIME_LOST_FIELDS),
            "first_time": min(times) if times else None,
            "last_time": max(times) if times else None,
            "worst": {"message": top["message"], "time": top.get("time"), "connections": reach(top)},
            "explanation": EXPLANATIONS.get(kind, ""),
        })
    out.sort(key=_impact)
    return out


def _impact(finding: dict):
    return (-_RANK.get(finding["severity"], -1), -finding["connections"], -(finding["ports"] or 0),
            -(finding["time_lost"] or 0), finding["type"])


def groups(anomalies: list[dict], kind: str) -> list[dict]:
    """The anomalies of type ``kind``, biggest first (then earliest): the
    order their groups are listed in under the type's heading."""
    return sorted((a for a in anomalies if a["type"] == kind), key=lambda a: (-reach(a), _time(a)))


def group_about(anomaly: dict) -> tuple[str, str]:
    """(field, value) of what a grouped anomaly is about: its service, host
    or source; ("", "") for one about no single place."""
    details = anomaly.get("details") or {}
    for name in GROUP_FIELDS:
        if details.get(name):
            return name, str(details[name])
    return "", ""


def group_noun(anomalies: list[dict]) -> str:
    """What the groups of one type are, in the plural: services, hosts, ..."""
    fields = {group_about(a)[0] for a in anomalies}
    return GROUP_NOUNS.get(fields.pop(), "findings") if len(fields) == 1 else "findings"


def at_least(anomalies: list[dict], min_severity: str | None) -> tuple[list[dict], dict[str, int]]:
    """``--min-severity``: the anomalies at or above it, and how many of each
    severity were hidden (the text outputs say so; JSON keeps them all)."""
    if not min_severity:
        return list(anomalies), {}
    floor = _RANK[min_severity]
    kept, hidden = [], {}
    for a in anomalies:
        if _RANK.get(a["severity"], -1) >= floor:
            kept.append(a)
        else:
            hidden[a["severity"]] = hidden.get(a["severity"], 0) + 1
    return kept, hidden


def hidden_text(hidden: dict[str, int], min_severity: str) -> str:
    """The one line saying what ``--min-severity`` hid."""
    parts = ", ".join(f"{hidden[s]:,} {s}" for s in WORST_FIRST if hidden.get(s))
    n = sum(hidden.values())
    return (f"--min-severity {min_severity}: {parts} {'finding' if n == 1 else 'findings'} hidden "
            f"(--format json lists them)")


# ---------------------------------------------------------------------- notices
def _plain(text: str) -> str:
    return text


def _count(n: int, word: str) -> str:
    return f"{n:,} {word if n == 1 else word + 's'}"


def notices(report: dict, quote=_plain) -> list[dict]:
    """Everything the report could not see, each ``{"kind", "message",
    "brief"}``: ``message`` one line for the report's top, ``brief`` its few
    words for the stderr line.  ``quote`` renders a file name (markdown puts
    it in a code span)."""
    return capture_notices(report["capture"], report.get("options") or {}, quote)


def analysis_notices(analysis, quote=_plain) -> list[dict]:
    """``notices`` of an analysis, for the views (timewait, states, services,
    ladder) that build no report: the same words from the same counts."""
    stats = analysis.stats
    # The report's capture fields (views.report) that the notices read.
    cap = {"evicted": stats.evicted, "connections_omitted": stats.connections_omitted,
           "truncated": stats.truncated, "damage": [d.as_dict() for d in stats.damages],
           "packets": stats.packets, "tcp_packets": stats.tcp_packets, "skipped": dict(stats.skipped),
           **capture_counts(analysis.connections, folded_counts(analysis))}
    return capture_notices(cap, analysis.options.as_dict(), quote)


def capture_notices(cap: dict, options: dict, quote=_plain) -> list[dict]:
    """``notices`` from a report's ``capture`` and ``options`` sections."""
    out = []
    if cap.get("evicted"):
        n, limit = cap["evicted"], options.get("max_connections")
        out.append(_notice(
            "evicted",
            f"{_count(n, 'connection')} evicted (--max-connections {limit} were tracked at once): each was finished "
            f"early in the state it had, and its later packets started new mid-stream connections, whose ACKs "
            f"the capture-loss estimate leaves out as it does any connection whose start the capture missed",
            f"{_count(n, 'connection')} evicted (--max-connections {limit})"))
    if cap.get("connections_omitted"):
        n, limit = cap["connections_omitted"], options.get("max_report_connections")
        out.append(_notice(
            "folded",
            f"{_count(n, 'finished connection')} folded into per-service counts (--max-report-connections {limit}): "
            f"counted in the states, the findings and (unless filters select) the capture counts and loss, "
            f"not listed; the JSON has them in capture.omitted and capture.omitted_counts",
            f"{_count(n, 'connection')} folded (--max-report-connections {limit})"))
    damage = cap.get("damage") or ([cap["truncation"]] if cap.get("truncation") else [])
    if cap.get("truncated") and damage:
        d = damage[0]
        more = f" (and {len(damage) - 1} more damaged places)" if len(damage) > 1 else ""
        out.append(_notice(
            "truncated",
            f"{quote(d['file'])} is damaged at byte {d['offset']:,} after packet {d['packet']:,}: {d['reason']}; "
            f"everything before it was analyzed{more}",
            f"capture {quote(d['file'])} truncated at byte {d['offset']:,}"))
    if not cap.get("packets"):
        out.append(_notice("no_tcp", "the capture holds no packets at all", "no packets in the capture"))
    elif not cap.get("tcp_packets"):
        skipped = ", ".join(f"{k} {v:,}" for k, v in (cap.get("skipped") or {}).items() if v)
        out.append(_notice(
            "no_tcp",
            f"none of the {cap['packets']:,} packets is TCP ({skipped or 'none decoded'}): a capture taken "
            f"on the wrong interface, or with a filter that left TCP out?",
            "no TCP in the capture"))
    loss = cap.get("capture_loss") or {}
    if loss.get("percent", 0) > LOSS_NOTICE_PERCENT:
        out.append(_notice(
            "capture_loss",
            f"the capture lost packets: {loss['percent']:g}% of ACKs ({loss['gaps']:,} of {loss['acks']:,}) "
            f"acknowledged bytes it never showed (Zeek's capture_loss); "
            f"the states of {_count(cap.get('states_inferred', 0), 'connection')} are inferred (state_evidence), "
            f"and any state may rest on a packet the capture missed -- was tcpdump dropping packets?",
            f"capture loss {loss['percent']:g}% ({loss['gaps']:,} of {loss['acks']:,} ACKs saw unseen bytes)"))
    unseen = {k: v for k, v in (cap.get("skipped") or {}).items() if v and k in UNSEEN_SKIPS}
    if unseen:
        n = sum(unseen.values())
        what = ", ".join(f"{v:,} {UNSEEN_SKIPS[k]}" for k, v in unseen.items())
        out.append(_notice("skipped", f"{_count(n, 'packet')} skipped, their TCP not analyzed: {what}",
                           f"{_count(n, 'packet')} skipped as unreadable"))
    return out


def _notice(kind: str, message: str, brief: str) -> dict:
    return {"kind": kind, "message": message, "brief": brief}


def notice_line(notices_: list[dict], where: str = "the report's top") -> str | None:
    """The one stderr line that summarises the notices, whatever the output
    format and wherever the report went (-o): None when there is none;
    ``where`` the notices are written in full."""
    if not notices_:
        return None
    return "tcpflow-analyze: warning: " + "; ".join(n["brief"] for n in notices_) + f" (see {where})"


__all__ = ["EXPLANATIONS", "WORST_FIRST", "analysis_notices", "at_least", "capture_notices", "findings",
           "group_about", "group_noun", "groups", "hidden_text", "notice_line", "notices", "reach", "span", "worst"]
