"""lingering_close_wait: a side acknowledged its peer's FIN but sent no FIN of
its own for longer than the threshold, or until the capture ended.

In CLOSE_WAIT the kernel waits for the *application* to call close(); only the
application can end it.  A service that leaks sockets this way shows a growing
pile of CLOSE_WAIT on its listening port.  Grouped by the lingering host:port:
that is the leaking service.  A client that lingers is grouped under the
service it talked to (``side`` says which end leaks): a connection pool that
never drops connections its server closed leaks toward that one service.
"""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..model.connection import Connection, Endpoint
from .base import Anomaly, Instance, Option, grouped, plural, service, span_text, top_counts

TYPE = "lingering_close_wait"
SEVERITY = "warning"
OPTIONS = (
    Option("--close-wait-timeout", "close_wait_timeout", 10.0,
           "Seconds in CLOSE_WAIT before it counts as lingering: an application that reads EOF "
           "closes within milliseconds; 10 s leaves room for slow request handlers.", positive=True),
)
EXPLANATION = (
    "The peer closed its side (FIN, acknowledged) but this side's application never called "
    "close(): the socket sits in CLOSE_WAIT holding a file descriptor and buffers until the "
    "process exits. Find the code path that returns without closing the connection (error "
    "paths, connection pools that never evict closed connections)."
)


# (The times as C doubles: nearly every side that got a FIN is tested, and
# its age was a float object made for the comparison.)
@cython.locals(c=Connection, x=Endpoint, limit="double", end="double", until="double", age="double",
               still="bint")
def detect(analysis, cfg) -> list[Anomaly]:
    threshold = cfg["close_wait_timeout"]   # as given (an int stays one in the details)
    limit = threshold
    end = analysis.stats.end or 0.0
    found = []
    for c in analysis.connections:
        for x in (c.client, c.server):
            if not x.got_fin or x.got_fin_time < 0:
                continue
            if x.fin_time >= 0 and x.fin_time >= x.got_fin_time:
                until, still = x.fin_time, False
            elif x.fin_seq < 0 and c.rare.reset_by is not None and c.rare.rst_time >= x.got_fin_time:
                until, still = c.rare.rst_time, False
            elif x.fin_seq < 0:
                until, still = end, True
            else:
                continue  # x's FIN came first: it never was in CLOSE_WAIT
            age = until - x.got_fin_time
            if age < limit:
                continue
            peer = c.client if x is c.server else c.server
            found.append(Instance(
                service(c.server), x.got_fin_time + threshold, [c.id],
                _message(service(x), 1, threshold, age, int(still)),
                {"side": "server" if x is c.server else "client", "lingering": service(x),
                 "peer": service(peer), "age": round(age, 3), "open_at_end": still}, SEVERITY))

    def totals(group):
        return {"still_open": sum(1 for i in group if i.details["open_at_end"]),
                "oldest_age": max(i.details["age"] for i in group), "threshold": threshold,
                "peers": top_counts([i.details["peer"] for i in group], 5)}

    def summary(svc, group):
        t = totals(group)
        who = svc if group[0].details["side"] == "server" else f"clients of {svc}"
        return _message(who, len(group), threshold, t["oldest_age"], t["still_open"],
                        f"{span_text(group)}, e.g. toward {group[0].details['peer']}")

    return grouped(TYPE, found, summary, by=lambda i: i.details["side"], totals=totals)


def _message(who, count, threshold, oldest, still, example=None):
    return (f"{who} left {plural(count, 'connection')} in CLOSE_WAIT for more than {threshold:g} s "
            f"after the peer closed (" + (f"{example}; " if example else "") + f"oldest {oldest:.1f} s, "
            f"{still} still open at the end of the capture): the application is not closing its sockets")
