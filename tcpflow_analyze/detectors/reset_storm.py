"""reset_storm: many connections aborted by RST from one host in a short time.

An abort is a RST accepted on a synchronized connection (RFC 9293 3.10.4,
ABORT: the connection was ESTABLISHED or closing; see ``aborted``); hundreds from
one host within seconds are a crashing or overloaded service or a load
balancer draining.  A SYN answered by RST is a refusal, not an abort: no
connection existed (RFC 9293 3.10.7.1, a segment to a CLOSED port;
connection_refused and port_scan tell those), nor is a RST answering a
SYN-ACK nobody asked for (rst_on_stale_syn).
"""
from __future__ import annotations

from collections import defaultdict

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..model.connection import HS_ACK, Connection
from ..model.states import SYNCHRONIZED, TIME_WAIT
from .base import Anomaly, Option, eventful, ip_text, report_time, top_counts, service
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
    "One host aborted many established connections with RST in a short time: a service crashing "
    "or restarting, a proxy or load balancer resetting its backends or clients, or an "
    "application closing sockets with unread data or SO_LINGER 0. Refused connection attempts "
    "(SYN answered by RST) are not counted here. Look at that host's logs at the time given."
)


@cython.locals(c=Connection)
def detect(analysis, cfg) -> list[Anomaly]:
    need = cfg["reset_storm_count"]
    window = cfg["reset_storm_window"]
    # A scan's refusals are port_scan's story, not a host aborting connections.
    claimed = scanned(analysis, cfg)
    by_host = defaultdict(list)
    for c in eventful(analysis):   # a RST is recorded on the rare fields
        if c.rare.reset_by is not None and c.id not in claimed and aborted(c):
            by_host[c.rare.reset_by.addr].append(c)
    out = []
    for addr, conns in by_host.items():
        if len(conns) < need:
            continue
        conns.sort(key=lambda c: c.rare.rst_time)
        best = (0, 0, 0)  # count, start index, end index
        lo = 0
        for hi, c in enumerate(conns):
            while c.rare.rst_time - conns[lo].rare.rst_time > window:
                lo += 1
            if hi - lo + 1 > best[0]:
                best = (hi - lo + 1, lo, hi)
        count, lo, hi = best
        if count < need:
            continue
        burst = conns[lo:hi + 1]
        span = burst[-1].rare.rst_time - burst[0].rare.rst_time
        peers = [service(c.server if c.rare.reset_by is c.client else c.client) for c in burst]
        out.append(Anomaly(
            TYPE, SEVERITY, burst[0].rare.rst_time, [c.id for c in burst],
            f"{ip_text(addr)} aborted {count} connections with RST within {span:.1f} s",
            {"host": ip_text(addr), "count": count, "first_time": report_time(burst[0].rare.rst_time),
             "last_time": report_time(burst[-1].rare.rst_time), "window": window, "span": round(span, 3),
             "total_resets": len(conns), "peers": top_counts(peers, 5)}))
    return out


def aborted(conn) -> bool:
    """Was the accepted RST an abort: did it end a synchronized connection?

    The states are each side's just before the RST.  The receiver's
    connection was open (ESTABLISHED or closing), or the sender's was and it
    had completed the handshake (a client whose final ACK a full accept
    queue dropped, giving up).  Not: a refusal (the client SYN_SENT, nothing
    at the refusing side), a RST answering an unexpected SYN-ACK (the server
    SYN_RECEIVED; the sender has no connection although the SYN-ACK would have
    synchronized it), a RST ending a TIME_WAIT (the connection was already
    closed on both sides; syn_to_time_wait tells that)."""
    prior = conn.rare.rst_prior
    if prior is None:
        return False
    sender, receiver = prior
    return receiver in _OPEN or (sender in _OPEN and bool(conn.hs & HS_ACK))


# Synchronized states in which a connection is still open.
_OPEN = SYNCHRONIZED - {TIME_WAIT}
