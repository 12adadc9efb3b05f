"""accept_queue_overflow: a listener's full accept queue dropped clients' handshake ACKs.

A listening socket queues connections whose handshake completed until the
application accept()s them.  Linux calls the queue full when it holds more
than the listen() backlog (capped by net.core.somaxconn); the final ACK of a
handshake that arrives then is dropped by tcp_check_req (counter
ListenOverflows) and, with net.ipv4.tcp_abort_on_overflow=0 (the default),
the request socket stays SYN_RECEIVED and retransmits its SYN-ACK (1 s, 3 s,
7 s ...).  The client, ESTABLISHED since the SYN-ACK, sends its request, which
is retransmitted and never acknowledged, and answers every retransmitted
SYN-ACK with an ACK that is dropped again -- until the queue has room or the
request socket gives up (tcp_synack_retries).

Seen on the wire (the engine's ``HS_OVERFLOW``, endpoint.synack_after_ack):
the server retransmits its SYN-ACK after the client acknowledged it, although
the client had also sent data or answered an earlier retransmitted SYN-ACK --
more than one ACK ignored, which loss alone rarely does.
"""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..model.connection import HS_OVERFLOW, Connection
from ..model.states import ESTABLISHED
from .base import Anomaly, Instance, Option, duration_text, grouped, plural, service

TYPE = "accept_queue_overflow"
SEVERITY = "warning"
OPTIONS: tuple[Option, ...] = ()
EXPLANATION = (
    "A listening service's accept queue was full: its application did not accept() connections "
    "as fast as they completed, so the kernel dropped the clients' handshake ACKs (Linux counts "
    "them in ListenOverflows: nstat TcpExtListenOverflows, netstat -s 'times the listen queue of "
    "a socket overflowed'). The clients believe they are connected and their requests are "
    "retransmitted unanswered while the server keeps retransmitting its SYN-ACK. Raise the "
    "listen() backlog and net.core.somaxconn (which caps it), and accept faster (more workers, "
    "an event loop that is not blocked); 'ss -ltn' shows the queue (Recv-Q) against the backlog "
    "(Send-Q). net.ipv4.tcp_abort_on_overflow=1 makes such clients fail at once with a RST "
    "instead of waiting."
)


@cython.locals(c=Connection)
def detect(analysis, cfg) -> list[Anomaly]:
    end = analysis.stats.end
    instances = []
    for c in analysis.connections:
        if not c.hs & HS_OVERFLOW:  # Connection.listen_overflow, without a property call per connection
            continue
        svc, client = service(c.server), service(c.client)
        start = _first(c.client.trans_flat, ESTABLISHED)
        if start is None:
            start = c.client.first_time
        accepted = _first(c.server.trans_flat, ESTABLISHED)
        # Still waiting: at least until the connection's last packet (the
        # capture may have ended later, but says nothing after that).
        until = accepted if accepted is not None else c.last_seen
        waited = max(0.0, until - start)
        synacks = c.server.syn_count - 1
        how = (f"accepted {duration_text(waited)} later" if accepted is not None
               else f"still not accepted {duration_text(waited)} later" +
               (" at the end of the capture" if end is not None and end - c.last_seen < 1.0 else ""))
        instances.append(Instance(
            svc, start, [c.id],
            f"{svc} dropped the handshake ACK of {client}: its accept queue was full (the application "
            f"did not accept() in time); the client, ESTABLISHED, had its request ignored while the "
            f"server sent its SYN-ACK {plural(synacks, 'more time', 'more times')} -- {how}",
            {"client": client, "waited": round(waited, 6), "accepted": accepted is not None,
             "synack_retransmissions": synacks, "client_retransmissions": c.client.retransmits},
            SEVERITY))

    def summary(svc, group):
        waits = [i.details["waited"] for i in group]
        waiting = sum(1 for i in group if not i.details["accepted"])
        return (f"{svc}'s accept queue overflowed: the handshake ACKs of {plural(len(group), 'connection')} "
                f"were dropped (the application did not accept() fast enough); clients waited up to "
                f"{duration_text(max(waits))} with their requests unanswered"
                + (f", {waiting} still waiting at the end" if waiting else "")
                + ": raise the listen() backlog and net.core.somaxconn, or accept faster")

    def totals(group):
        # statistics (with decimal and fractions) is imported only when an overflow was found.
        from statistics import median
        waits = [i.details["waited"] for i in group]
        return {"clients": len({i.details["client"].rsplit(":", 1)[0] for i in group}),
                "longest_wait": round(max(waits), 6), "median_wait": round(median(waits), 6),
                "still_waiting": sum(1 for i in group if not i.details["accepted"]),
                "total_synack_retransmissions": sum(i.details["synack_retransmissions"] for i in group)}

    return grouped(TYPE, instances, summary, totals=totals)


def _first(trans_flat, state):
    """When an endpoint first entered ``state``, or None."""
    for i in range(1, len(trans_flat), 2):
        if trans_flat[i] == state:
            return trans_flat[i - 1]
    return None
