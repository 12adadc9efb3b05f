"""lingering_close_wait: a side acknowledged its peer's FIN but sent no FIN of
its own for longer than the threshold, or until the capture ended.

In CLOSE_WAIT the kernel waits for the *application* to call close(); only the
application can end it.  A service that leaks sockets this way shows a growing
pile of CLOSE_WAIT on its listening port.  Grouped by the lingering host:port:
that is the leaking service.
"""
from __future__ import annotations

from .base import Anomaly, Option, group_by, ids, plural, service, top_counts

TYPE = "lingering_close_wait"
SEVERITY = "warning"
OPTIONS = (
    Option("--close-wait-timeout", "close_wait_timeout", 10.0,
           "Seconds in CLOSE_WAIT before it counts as lingering: an application that reads EOF "
           "closes within milliseconds; 10 s leaves room for slow request handlers."),
)
EXPLANATION = (
    "The peer closed its side (FIN, acknowledged) but this side's application never called "
    "close(): the socket sits in CLOSE_WAIT holding a file descriptor and buffers until the "
    "process exits. Find the code path that returns without closing the connection (error "
    "paths, connection pools that never evict closed connections)."
)


def detect(analysis, cfg) -> list[Anomaly]:
    threshold = cfg["close_wait_timeout"]
    end = analysis.stats.end or 0.0
    lingering = []  # (conn, endpoint, how long, still open?)
    for c in analysis.connections:
        for x in (c.client, c.server):
            if not x.got_fin or x.got_fin_time < 0:
                continue
            if x.fin_time >= 0 and x.fin_time >= x.got_fin_time:
                until, still = x.fin_time, False
            elif x.fin_seq < 0 and c.reset_by is not None and c.rst_time >= x.got_fin_time:
                until, still = c.rst_time, False
            elif x.fin_seq < 0:
                until, still = end, True
            else:
                continue  # x's FIN came first: it never was in CLOSE_WAIT
            if until - x.got_fin_time >= threshold:
                lingering.append((c, x, until - x.got_fin_time, still))
    out = []
    for svc, group in group_by(lingering, lambda item: service(item[1])).items():
        conns = [item[0] for item in group]
        still = sum(1 for item in group if item[3])
        oldest = max(item[2] for item in group)
        first = min(item[1].got_fin_time for item in group)
        peers = [service(item[0].client if item[1] is item[0].server else item[0].server) for item in group]
        out.append(Anomaly(
            TYPE, SEVERITY, first + threshold, ids(conns),
            f"{svc} left {plural(len(group), 'connection')} in CLOSE_WAIT for more than "
            f"{threshold:g} s after the peer closed (oldest {oldest:.1f} s, {still} still open at the "
            f"end of the capture): the application is not closing its sockets",
            {"service": svc, "count": len(group), "still_open": still, "oldest_age": round(oldest, 3),
             "threshold": threshold, "peers": top_counts(peers, 5)}))
    return out
