"""reset_storm: many connections aborted by RST from one host in a short time.

One accepted RST is an abort; hundreds from one host within seconds are a
crashing or overloaded service, a load balancer draining, or a port scan being
refused.
"""
from __future__ import annotations

from collections import defaultdict

from .base import Anomaly, Option, ip_text, report_time, top_counts, service
from .scans import scanned

TYPE = "reset_storm"
SEVERITY = "warning"
OPTIONS = (
    Option("--reset-storm-count", "reset_storm_count", 50,
           "Accepted RSTs from one host within --reset-storm-window that make a storm.", int, "N",
           positive=True),
    Option("--reset-storm-window", "reset_storm_window", 10.0,
           "The window for --reset-storm-count.", positive=True),
)
EXPLANATION = (
    "One host aborted many connections with RST in a short time: a service crashing or "
    "restarting, a proxy or load balancer resetting its backends or clients, or a scan being "
    "refused. Look at that host's logs at the time given."
)


def detect(analysis, cfg) -> list[Anomaly]:
    need = cfg["reset_storm_count"]
    window = cfg["reset_storm_window"]
    # A scan's refusals are port_scan's story, not a host aborting connections.
    claimed = scanned(analysis, cfg)
    by_host = defaultdict(list)
    for c in analysis.connections:
        if c.reset_by is not None and c.id not in claimed:
            by_host[c.reset_by.addr].append(c)
    out = []
    for addr, conns in by_host.items():
        if len(conns) < need:
            continue
        conns.sort(key=lambda c: c.rst_time)
        best = (0, 0, 0)  # count, start index, end index
        lo = 0
        for hi, c in enumerate(conns):
            while c.rst_time - conns[lo].rst_time > window:
                lo += 1
            if hi - lo + 1 > best[0]:
                best = (hi - lo + 1, lo, hi)
        count, lo, hi = best
        if count < need:
            continue
        burst = conns[lo:hi + 1]
        span = burst[-1].rst_time - burst[0].rst_time
        peers = [service(c.server if c.reset_by is c.client else c.client) for c in burst]
        out.append(Anomaly(
            TYPE, SEVERITY, burst[0].rst_time, [c.id for c in burst],
            f"{ip_text(addr)} aborted {count} connections with RST within {span:.1f} s",
            {"host": ip_text(addr), "count": count, "first_time": report_time(burst[0].rst_time),
             "last_time": report_time(burst[-1].rst_time), "window": window, "span": round(span, 3),
             "total_resets": len(conns), "peers": top_counts(peers, 5)}))
    return out
