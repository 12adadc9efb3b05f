"""port_reuse_in_time_wait: a new SYN on a 4-tuple the capture shows still in
TIME_WAIT (at either end).

TIME_WAIT exists so that old duplicates of the previous connection cannot be
taken for the new one (RFC 9293 3.6.1).  Linux still accepts such a SYN on a
TIME_WAIT socket when its ISN (or timestamp) is beyond the old connection's
(``tcp_timewait_state_process``), and a client reuses its own TIME_WAIT port
with ``tcp_tw_reuse``: ``info`` then.  When the TIME_WAIT socket refuses the SYN,
see ``syn_to_time_wait``.
"""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..model.connection import HS_SYNACK, Connection
from ..model.states import TIME_WAIT
from .base import Anomaly, Instance, Option, eventful, grouped, service, span_text

TYPE = "port_reuse_in_time_wait"
SEVERITY = "info"
OPTIONS: tuple[Option, ...] = ()
EXPLANATION = (
    "A new connection reused a 4-tuple whose previous connection was still in TIME_WAIT. The "
    "kernel accepted it (a higher ISN or timestamp, or tcp_tw_reuse on the client): normal under "
    "heavy connection churn, and a sign that the port range is being recycled fast."
)


@cython.locals(c=Connection)
def detect(analysis, cfg) -> list[Anomaly]:
    found = []
    for c in eventful(analysis):   # a reuse is recorded on the rare fields
        if c.rare.reused_peer_state != TIME_WAIT and c.rare.reused_own_state != TIME_WAIT:
            continue
        if c.rare.reused_from is not None and c.rare.reused_from.rare.challenge_time >= 0:
            continue  # the TIME_WAIT refused the SYN: syn_to_time_wait tells that story
        holder = "server" if c.rare.reused_peer_state == TIME_WAIT else "client"
        accepted = bool(c.hs & HS_SYNACK)
        svc, client = service(c.server), service(c.client)
        found.append(Instance(
            svc, c.first_seen, [c.id],
            f"{client} opened a new connection to {svc} on a 4-tuple the "
            f"{holder} still held in TIME_WAIT; " + ("the kernel accepted it" if accepted else
                                                    "it was not accepted"),
            {"time_wait_holder": holder, "accepted": accepted, "client": client},
            SEVERITY if accepted else "warning"))
    # Per service: port churn toward one service is one finding, not one per
    # reused port (a busy client reuses thousands).
    return grouped(TYPE, found, _summary)


def _summary(svc, group):
    holders = sorted({i.details["time_wait_holder"] for i in group})
    accepted = group[0].details["accepted"]  # severity splits the groups: the same in all
    return (f"{svc}: {len(group)} new connections reused a 4-tuple the {' or '.join(holders)} still "
            f"held in TIME_WAIT, {span_text(group)} (e.g. from {group[0].details['client']}); "
            + ("the kernel accepted them" if accepted else "they were not accepted"))
