"""syn_unanswered: a SYN retried with no answer at all.

The client kept retransmitting its SYN (Linux: after 1, 3, 7, 15 ... s) and
nothing came back: the server is down or unreachable, or a firewall drops
silently.  connect() hangs until tcp_syn_retries runs out (about 127 s).
"""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..engine.folding import SYN_ONLY, syn_only
from ..model.connection import Connection
from ..model.states import UNKNOWN
from .base import Anomaly, Option, clients_of, ids, plural, report_time, with_folds
from .scans import scanned

TYPE = "syn_unanswered"
SEVERITY = "warning"
OPTIONS = (
    Option("--syn-retries", "syn_retries", 1,
           "SYN retransmissions without any answer before a connection attempt is flagged: "
           "one unanswered SYN retry is already a one-second stall.", int, "N"),
)
EXPLANATION = (
    "The client retransmitted its SYN and got no answer at all (no SYN-ACK, no RST): the server "
    "host is down or unreachable, or a firewall drops the SYNs silently. Each retry costs the "
    "client a doubling timeout (1 s, 2 s, 4 s ...)."
)


@cython.locals(c=Connection)
def detect(analysis, cfg) -> list[Anomaly]:
    retries = cfg["syn_retries"]
    flood = cfg.get("syn_flood_threshold", 100)
    claimed = scanned(analysis, cfg)  # a scan's filtered ports are told by port_scan
    # Only unanswered SYNs: with_folds then groups them without asking every
    # connection of the capture for its kind.
    conns = [c for c in analysis.connections if syn_only(c) and c.id not in claimed]
    out = []
    flooded = set()
    for svc, group, fold in with_folds(conns, analysis, SYN_ONLY):
        count = len(group) + (fold.count if fold else 0)
        if count < flood:
            continue
        # Many unanswered SYNs toward one service, most never retried: a SYN
        # flood from spoofed sources (seen where the server does not answer,
        # or upstream of it), or a service that went away under load.
        flooded.add(svc)
        sources = clients_of(group, fold)
        times = [c.client.syn_time for c in group] + ([fold.first, fold.last] if fold else [])
        first = min(times)
        at_least = "at least " if fold else ""
        out.append(Anomaly(
            TYPE, "critical", first, ids(group),
            f"{count} SYNs toward {svc} from {at_least}{plural(len(sources), 'source address', 'source addresses')} "
            f"got no answer: a SYN flood (spoofed sources), or the service is down",
            {"service": svc, "count": count, "first_time": report_time(first),
             "last_time": report_time(max(times)), "syn_flood": True, "sources": len(sources),
             "omitted": fold.count if fold else 0,
             "top_sources": [{"endpoint": a, "count": n} for a, n in sources.most_common(5)]}))
    # Not a lone SYN whose state the end of the capture made UNKNOWN
    # (engine.timers.lone_syn: sent once, never repeated though the capture
    # went on): its sender stopped waiting, most likely answered in packets
    # the capture lacks -- no evidence of a server that does not answer.
    # It can count only where --syn-retries is 0.
    stuck = [c for c in conns if c.client.syn_count > retries and c.client.state != UNKNOWN]
    for svc, group, fold in with_folds(stuck, analysis, SYN_ONLY):
        if svc in flooded:
            continue
        omitted = sum(n for syns, n in fold.syn_counts.items() if syns > retries) if fold else 0
        if omitted and not retries:
            # Every folded UNKNOWN client of an unanswered SYN is such a lone SYN.
            omitted -= fold.client_states.get("UNKNOWN", 0)
        if not group and not omitted:
            continue
        count = len(group) + omitted
        max_syns = max([c.client.syn_count for c in group] +
                       ([max(fold.syn_counts)] if omitted else []))
        waited = max((c.client.last_time - c.client.syn_time for c in group), default=0.0)
        times = [c.client.syn_time for c in group] + ([fold.first, fold.last] if omitted else [])
        first = min(times)
        out.append(Anomaly(
            TYPE, SEVERITY, first, ids(group),
            f"{plural(count, 'connection attempt')} to {svc} retried the SYN with no answer "
            f"(up to {max_syns} SYNs" + (f" over {waited:.1f} s" if group else "") + "): the server "
            "is down or unreachable, or a firewall drops SYNs",
            {"service": svc, "count": count, "first_time": report_time(first),
             "last_time": report_time(max(times)), "max_syns": max_syns, "longest_wait": round(waited, 3),
             "omitted": omitted}))
    return out
