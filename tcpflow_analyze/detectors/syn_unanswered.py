"""syn_unanswered: a SYN retried with no answer at all.

The client kept retransmitting its SYN (Linux: after 1, 3, 7, 15 ... s) and
nothing came back: the server is down or unreachable, or a firewall drops
silently.  connect() hangs until tcp_syn_retries runs out (about 127 s).
"""
from __future__ import annotations

from ..connection import HS_SYNACK
from .base import Anomaly, Option, group_by, ids, plural, service

TYPE = "syn_unanswered"
SEVERITY = "warning"
OPTIONS = (
    Option("--syn-retries", "syn_retries", 1,
           "SYN retransmissions without any answer before a connection attempt is flagged "
           "(default 1: one lost SYN in a row is already a one-second stall).", int),
)
EXPLANATION = (
    "The client retransmitted its SYN and got no answer at all (no SYN-ACK, no RST): the server "
    "host is down or unreachable, or a firewall drops the SYNs silently. Each retry costs the "
    "client a doubling timeout (1 s, 2 s, 4 s ...)."
)


def detect(analysis, cfg) -> list[Anomaly]:
    retries = cfg["syn_retries"]
    stuck = [c for c in analysis.connections
             if c.client.syn_count > retries and not c.hs & HS_SYNACK and c.server.packets == 0]
    out = []
    for svc, group in group_by(stuck, lambda c: service(c.server)).items():
        waited = max(c.client.last_time - c.client.syn_time for c in group)
        out.append(Anomaly(
            TYPE, SEVERITY, min(c.client.syn_time for c in group), ids(group),
            f"{plural(len(group), 'connection attempt')} to {svc} retried the SYN with no answer "
            f"(up to {max(c.client.syn_count for c in group)} SYNs over {waited:.1f} s): the server "
            f"is down or unreachable, or a firewall drops SYNs",
            {"service": svc, "count": len(group), "max_syns": max(c.client.syn_count for c in group),
             "longest_wait": round(waited, 3)}))
    return out
