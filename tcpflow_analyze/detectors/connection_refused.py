"""connection_refused: a SYN answered by RST (Zeek's REJ).

Nothing listens on the port (or a firewall rejects with RST): the client's
connect() fails with ECONNREFUSED at once.
"""
from __future__ import annotations

from ..connection import HS_SYNACK
from ..states import SYN_SENT
from .base import Anomaly, Option, group_by, ids, plural, service, top_counts

TYPE = "connection_refused"
SEVERITY = "warning"
OPTIONS: tuple[Option, ...] = ()
EXPLANATION = (
    "A SYN was answered with RST: nothing listens on that port, the listener's backlog "
    "overflowed with tcp_abort_on_overflow set, or a firewall rejects with RST. Check that the "
    "service is up and bound to the address clients use."
)


def detect(analysis, cfg) -> list[Anomaly]:
    refused = [c for c in analysis.connections
               if c.reset_by is c.server and c.client.syn_count and not c.hs & HS_SYNACK
               and c.rst_prior is not None and c.rst_prior[1] == SYN_SENT]
    out = []
    for svc, group in group_by(refused, lambda c: service(c.server)).items():
        clients = [service(c.client).rsplit(":", 1)[0] for c in group]
        out.append(Anomaly(
            TYPE, SEVERITY, min(c.rst_time for c in group), ids(group),
            f"{svc} refused {plural(len(group), 'connection')} (SYN answered by RST): nothing listens "
            f"there, or a firewall rejects",
            {"service": svc, "count": len(group), "clients": top_counts(clients, 5)}))
    return out
