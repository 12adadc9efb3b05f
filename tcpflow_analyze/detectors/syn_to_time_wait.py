"""syn_to_time_wait: a SYN landed on the peer's TIME_WAIT socket, which
answered with a bare ACK carrying the old connection's numbers; the client
reset it and retried.

Linux's TIME_WAIT refuses a SYN whose ISN is not beyond the old connection's
RCV.NXT (and, with timestamps, whose timestamp is not newer) and re-sends its
last ACK instead (``tcp_timewait_state_process``).  The client, in SYN_SENT,
sees an ACK that acknowledges nothing it sent and answers with RST, which
kills the TIME_WAIT (RFC 1337's "TIME-WAIT assassination", Linux default);
the SYN is then retried.  tshark labels the ACK "ACKed segment that wasn't
captured", Zeek folds it into the old connection; the delay it cost is here.
"""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..model.connection import Connection
from ..model.states import TIME_WAIT
from .base import Anomaly, Instance, Option, eventful, grouped, retry_delay, service, span_text

TYPE = "syn_to_time_wait"
SEVERITY = "warning"
OPTIONS: tuple[Option, ...] = ()
EXPLANATION = (
    "A client reused a port toward a server that still held the old connection in TIME_WAIT; "
    "the TIME_WAIT socket refused the new SYN (its ISN was not beyond the old numbers) and "
    "answered with an old ACK, the client reset it and retried, paying a delay. Let the client "
    "close first (TIME_WAIT then sits on the client, which picks fresh ports), or keep "
    "connections alive instead of reconnecting on the same port."
)


@cython.locals(old=Connection)
def detect(analysis, cfg) -> list[Anomaly]:
    found = []
    for old in eventful(analysis):   # a challenge ACK is recorded on the rare fields
        if old.rare.challenge_time < 0 or old.rare.challenge_state != TIME_WAIT:
            continue
        new = old.rare.superseded
        delay = retry_delay(new)
        cost = f": the retried SYN got through after {delay * 1000:.0f} ms" if delay is not None else ""
        client, server = service(old.client), service(old.server)
        found.append(Instance(
            server, old.rare.challenge_time, [old.id] + ([new.id] if new is not None else []),
            f"{client}'s new SYN hit {server}'s TIME_WAIT socket, which "
            f"answered with the old connection's ACK; the client reset it and retried{cost}",
            {"client": client, "server": server,
             "delay": None if delay is None else round(delay, 6),
             "new_connection": new.id if new is not None else None}, SEVERITY))
    return grouped(TYPE, found, _summary)


def _summary(svc, group):
    delays = [i.details["delay"] for i in group if i.details["delay"] is not None]
    cost = f"; retries got through after up to {max(delays) * 1000:.0f} ms" if delays else ""
    return (f"{svc}: {len(group)} new SYNs hit the server's TIME_WAIT sockets, {span_text(group)} "
            f"(e.g. from {group[0].details['client']}): each was answered with the old connection's "
            f"ACK, the client reset it and retried{cost}")
