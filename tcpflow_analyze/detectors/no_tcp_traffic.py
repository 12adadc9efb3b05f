"""no_tcp_traffic: the capture holds not one TCP segment this tool could read.

Almost always the capture, not the network: tcpdump ran on the wrong
interface (``eth0`` where the service's traffic crosses ``bond0``, a
bridge or a container's veth), or with a filter that excluded TCP
(``udp port 53``, a port typo).  A report of zero connections then looks like
a quiet, healthy host; a CI job gating on findings would pass it.  The
finding says what the capture held instead, from the reader's skip counts.
"""
from __future__ import annotations

from .base import Anomaly

TYPE = "no_tcp_traffic"
SEVERITY = "warning"
OPTIONS = ()
EXPLANATION = (
    "The capture holds no TCP segment at all, so there is nothing to analyze: usually it was taken "
    "on the wrong interface (the service's traffic crosses another NIC, a bond, a bridge or a "
    "container's veth; `tcpdump -D` lists them, `-i any` takes all) or with a capture filter that "
    "excluded TCP. The message says what was seen instead. Only fragments or cut headers mean TCP "
    "was there but unreadable: capture with a larger snaplen (`-s 0`) or before reassembly is lost."
)

# What each of the reader's skip reasons (capture.skipped) means to a person
# looking for their TCP traffic.
SEEN_AS = {
    "non_tcp": "IP but not TCP (UDP, ICMP ...)",
    "non_ip": "not IP (ARP, LLDP ...)",
    "unsupported_link": "on a link type this tool does not decode",
    "fragment": "IP fragments",
    "truncated_header": "headers cut short by the snaplen",
    "malformed": "malformed",
}


def detect(analysis, cfg) -> list[Anomaly]:
    stats = analysis.stats
    if stats.tcp_packets:
        return []
    seen = {name: n for name, n in stats.skipped.items() if n}
    if stats.packets == 0:
        what = "the capture holds no packets at all: the wrong interface, or a capture filter that matched nothing?"
    else:
        kinds = ", ".join(f"{n:,} {SEEN_AS.get(name, name)}"
                          for name, n in sorted(seen.items(), key=lambda kv: (-kv[1], kv[0])))
        noun = "packet" if stats.packets == 1 else "packets"
        what = (f"{stats.packets:,} {noun}, none TCP: {kinds}; the wrong interface, or a capture filter "
                f"that excluded TCP?")
    return [Anomaly(TYPE, SEVERITY, stats.start, [], what, {"packets": stats.packets, "skipped": seen})]
