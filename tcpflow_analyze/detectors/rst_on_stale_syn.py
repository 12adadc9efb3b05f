"""rst_on_stale_syn: a SYN-ACK answered by RST from the SYN's own address.

The client's kernel does not recognise the SYN the SYN-ACK acknowledges: an
old duplicate SYN (a retransmission delayed in the network, or a replay of an
earlier connection's SYN) or a forged one.  This is the case the three-way
handshake exists to defeat (RFC 9293 section 3.5, figure 9): the RST stops
the server from opening a connection nobody asked for.
"""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..model.connection import HS_ACK, HS_SYN, HS_SYNACK, Connection
from .base import Anomaly, Instance, Option, eventful, grouped, service, span_text
from .scans import scanned

TYPE = "rst_on_stale_syn"
SEVERITY = "warning"
OPTIONS: tuple[Option, ...] = ()
EXPLANATION = (
    "A SYN-ACK was answered with RST from the address that sent the SYN: that host does not "
    "recognise the SYN (an old duplicate delayed in the network, a replay of an earlier "
    "connection's SYN, or a forged SYN). Harmless by itself -- the handshake did its job -- "
    "but many of them point at a middlebox replaying SYNs or at spoofing."
)


@cython.locals(c=Connection)
def detect(analysis, cfg) -> list[Anomaly]:
    # nmap's -sS scan resets every open port's SYN-ACK: port_scan tells that.
    claimed = scanned(analysis, cfg)
    found = []
    for c in eventful(analysis):   # a RST is recorded on the rare fields
        if c.hs & (HS_SYN | HS_SYNACK | HS_ACK) != HS_SYN | HS_SYNACK or c.rare.reset_by is not c.client:
            continue
        if c.rare.rst_time < c.server.syn_time or c.id in claimed:
            continue
        if c.rare.replay_of is not None:
            origin = "replay"
            why = f"a replay of connection {c.rare.replay_of.id}'s SYN (same ISN)"
        elif c.client.syn_count > 1:
            origin = "retransmission"
            why = f"a retransmitted SYN ({c.client.syn_count} SYNs seen)"
        else:
            origin = "unknown"
            why = "a SYN its sender does not recognise (stale, replayed before the capture, or forged)"
        found.append(Instance(
            service(c.server), c.rare.rst_time, [c.id],
            f"{service(c.client)} answered {service(c.server)}'s SYN-ACK with RST: the SYN was {why}",
            {"syn_origin": origin, "client": service(c.client), "server": service(c.server),
             "replay_of": c.rare.replay_of.id if c.rare.replay_of is not None else None,
             "syns": c.client.syn_count}, SEVERITY))
    return grouped(TYPE, found, _summary)


def _summary(svc, group):
    origins = sorted({i.details["syn_origin"] for i in group})
    return (f"{svc}: {len(group)} SYN-ACKs answered with RST by the SYN's own address, "
            f"{span_text(group)} (e.g. {group[0].details['client']}; SYN origin: "
            f"{', '.join(origins)}): the SYNs were stale duplicates, replays or forged")
