"""connection_refused: a SYN answered by RST (Zeek's REJ).

Nothing listens on the port (or a firewall rejects with RST): the client's
connect() fails with ECONNREFUSED at once.
"""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..engine.folding import REFUSED, refused
from ..model.connection import Connection
from .base import Anomaly, Option, clients_of, eventful, ids, plural, report_time, with_folds
from .scans import scanned

TYPE = "connection_refused"
SEVERITY = "warning"
OPTIONS: tuple[Option, ...] = ()
EXPLANATION = (
    "A SYN was answered with RST: nothing listens on that port, the listener's backlog "
    "overflowed with tcp_abort_on_overflow set, or a firewall rejects with RST. Check that the "
    "service is up and bound to the address clients use."
)


@cython.locals(c=Connection)
def detect(analysis, cfg) -> list[Anomaly]:
    claimed = scanned(analysis, cfg)  # a scan's refusals are told by port_scan
    # Only refusals: with_folds then groups them without asking every
    # connection of the capture for its kind.
    # (A refusal's RST is recorded on the rare fields.)
    conns = [c for c in eventful(analysis) if refused(c) and c.id not in claimed]
    out = []
    for svc, group, fold in with_folds(conns, analysis, REFUSED):
        clients = clients_of(group, fold)
        count = len(group) + (fold.count if fold else 0)
        times = [c.rare.rst_time for c in group] + ([fold.first, fold.last] if fold else [])
        first = min(times)
        out.append(Anomaly(
            TYPE, SEVERITY, first, ids(group),
            f"{svc} refused {plural(count, 'connection')} (SYN answered by RST): nothing listens "
            f"there, or a firewall rejects",
            {"service": svc, "count": count, "first_time": report_time(first),
             "last_time": report_time(max(times)), "omitted": fold.count if fold else 0,
             "clients": [{"endpoint": a, "count": n} for a, n in clients.most_common(5)]}))
    return out
