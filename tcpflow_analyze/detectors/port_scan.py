"""port_scan: one source probing many ports of one target host.

A scanner opens a connection to each port and learns from the answer: RST
for a closed port, SYN-ACK for an open one (which a connect() scan then
closes and nmap's -sS resets at once), nothing for a port a firewall drops.
Without this finding, 200 probed ports read as 200 ``connection_refused``
services and a few ``rst_on_stale_syn``; with it they are one finding, and
those detectors leave the scan's connections out (``scans``).
"""
from __future__ import annotations

from .base import Anomaly, Option, duration_text, ip_text, plural, report_time
from .scans import ANSWERED, REFUSED, UNANSWERED, find_scans, port_ranges

TYPE = "port_scan"
SEVERITY = "warning"
OPTIONS = (
    Option("--scan-ports", "scan_ports", 20,
           "Distinct ports of one host probed by one source (connections that carried no data: "
           "refused, unanswered, or answered and closed at once) that make a port scan: a client "
           "uses a handful of a host's services, a scan walks dozens to thousands; 0 turns it off.",
           int, "N"),
)
EXPLANATION = (
    "One source probed many ports of one host without sending data on any: a port scan "
    "(nmap, a vulnerability scanner, a worm, or a monitoring system checking every port). "
    "Closed ports answer RST, open ones SYN-ACK, filtered ones nothing. If the source is not "
    "yours, block it and check what the open ports expose; if it is, this finding is expected."
)

# Open ports named in the message: the ones a reader acts on, kept short.
_NAMED_OPEN = 10
# Ports listed in details per outcome (the counts stay exact): a full sweep of
# 65,535 filtered ports would otherwise be a list of 65,535 numbers.
_LISTED = 100


def detect(analysis, cfg) -> list[Anomaly]:
    out = []
    for scan in find_scans(analysis, cfg):
        source, target = ip_text(scan.source), ip_text(scan.target)
        open_, closed, silent = (scan.ports_with(o) for o in (ANSWERED, REFUSED, UNANSWERED))
        first = scan.probes[0].first_seen
        last = scan.probes[-1].first_seen
        named = ", ".join(map(str, open_[:_NAMED_OPEN])) + (", ..." if len(open_) > _NAMED_OPEN else "")
        ranges = port_ranges(scan.ports)
        if ranges.count(",") >= 5:
            ranges = f"{min(scan.ports)} to {max(scan.ports)}"
        msg = (f"port scan: {source} probed {plural(len(scan.ports), 'port')} of {target} "
               f"({ranges}) over {duration_text(last - first)}: {len(closed)} refused, "
               f"{len(silent)} unanswered, {len(open_)} answered" + (f" ({named})" if open_ else ""))
        out.append(Anomaly(
            TYPE, SEVERITY, first, [c.id for c in scan.probes], msg,
            {"source": source, "target": target, "count": len(scan.probes),
             "first_time": report_time(first), "last_time": report_time(last),
             "ports": len(scan.ports), "port_ranges": port_ranges(scan.ports),
             "refused": len(closed), "unanswered": len(silent), "answered": len(open_),
             "answered_ports": open_[:_LISTED], "unanswered_ports": silent[:_LISTED]}))
    return out
