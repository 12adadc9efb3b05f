"""Port scans: one source probing many ports of one target host.

Shared by the ``port_scan`` detector, which reports each scan, and by the
detectors whose per-port findings a scan would otherwise flood
(``connection_refused``, ``syn_unanswered``, ``rst_on_stale_syn``,
``half_open``'s embryonic kind, ``reset_storm``): they leave out the
connections a scan claims, so each probe is told once, as part of its scan.

A probe is a connection the source opened (its SYN is in the capture) that
carried no payload either way: refused (SYN answered by RST: a closed port),
unanswered (no reply at all: filtered, a firewall dropping), or answered (a
SYN-ACK: an open port, then closed at once, by FIN after a connect() scan or
by the scanner's RST after nmap's -sS half-open scan).  A client that talks
to many ports of a host sends data on them and is no scan.  Connections
folded past ``--max-report-connections`` are counted per service only, not
per source, and are not claimed.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..engine.folding import refused
from ..model.connection import HS_SYNACK, Connection
from .base import once

REFUSED = "refused"
UNANSWERED = "unanswered"
ANSWERED = "answered"
# A port probed more than once gets the most telling of its outcomes: an
# answer proves the port open, a refusal proves it closed, silence proves
# nothing by itself.
_RANK = {ANSWERED: 2, REFUSED: 1, UNANSWERED: 0}


@dataclass
class Scan:
    source: bytes
    target: bytes
    probes: list[Connection]    # in the order they were opened
    ports: dict[int, str]       # destination port -> its outcome

    def ports_with(self, outcome: str) -> list[int]:
        return sorted(p for p, o in self.ports.items() if o == outcome)


def outcome(conn: Connection) -> str | None:
    """What a probe learned of its port, or None for a connection that is no probe."""
    client, server = conn.client, conn.server
    if not client.syn_count or client.bytes or server.bytes:
        return None
    if refused(conn):
        return REFUSED
    if conn.hs & HS_SYNACK:
        return ANSWERED
    if not server.packets:
        return UNANSWERED
    return None


def find_scans(analysis, cfg) -> list[Scan]:
    """Every (source, target) pair whose probes reached at least
    ``cfg["scan_ports"]`` distinct destination ports (0: none is a scan).
    Six detectors ask: worked out once per run (``base.shared_results``)."""
    need = cfg["scan_ports"]
    if not need:
        return []
    return once(analysis, ("scans", need), lambda: _find_scans(analysis, need))


@cython.locals(c=Connection)
def _find_scans(analysis, need: int) -> list[Scan]:
    pairs = defaultdict(list)
    for c in analysis.connections:
        if c.client.bytes or c.server.bytes:
            continue  # the cheap test first: most connections carry data
        what = outcome(c)
        if what is not None:
            pairs[(c.client.addr, c.server.addr)].append((c, what))
    scans = []
    for (source, target), probes in pairs.items():
        # (Fewer probes than ``need`` cannot reach as many ports: most pairs
        # are a client's one failed connection.)
        if len(probes) < need or len({c.server.port for c, _ in probes}) < need:
            continue
        ports: dict[int, str] = {}
        for c, what in probes:
            known = ports.get(c.server.port)
            if known is None or _RANK[what] > _RANK[known]:
                ports[c.server.port] = what
        probes.sort(key=lambda item: item[0].first_seen)
        scans.append(Scan(source, target, [c for c, _ in probes], ports))
    scans.sort(key=lambda s: s.probes[0].first_seen)
    return scans


def scanned(analysis, cfg) -> set[int]:
    """The ids of every connection a scan claims (once per run, as
    ``find_scans``: the five detectors that leave them out ask)."""
    return once(analysis, ("scanned", cfg["scan_ports"]),
                lambda: {c.id for scan in find_scans(analysis, cfg) for c in scan.probes})


def port_ranges(ports) -> str:
    """Ports as compact text: ``20-25, 80, 443``."""
    runs: list[list[int]] = []
    for p in sorted(ports):
        if runs and p == runs[-1][1] + 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    return ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in runs)


__all__ = ["ANSWERED", "REFUSED", "UNANSWERED", "Scan", "find_scans", "outcome", "port_ranges", "scanned"]
