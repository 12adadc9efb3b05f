"""time_wait_storm: one host holding more connections in TIME_WAIT at once
than the threshold.

The side that closes first holds TIME_WAIT for 2*MSL (60 s on Linux).  A
client that opens and closes thousands of short connections to one service
keeps a port of its ephemeral range (32768-60999 by default: 28,232 ports) in
TIME_WAIT for each, and runs out of ports toward that service ("Cannot
assign requested address").  The threshold is a count (default 1000) or a
share of the port range (``--time-wait-threshold 25%``): the share reads
better for clients, the count for servers, whose TIME_WAIT costs memory, not
ports.
"""
from __future__ import annotations

from ..analysis.timewait import time_wait_by_host
from .base import Anomaly, Option, report_time

TYPE = "time_wait_storm"
SEVERITY = "warning"
OPTIONS = (
    Option("--time-wait-threshold", "time_wait_threshold", "1000",
           "TIME_WAIT connections held at once by one host that make a storm: a count, or a "
           "share of the port range like 25%.", str, "N|PCT%"),
    Option("--port-range", "port_range", "32768-60999",
           "The clients' ephemeral port range, as net.ipv4.ip_local_port_range (Linux's default).",
           str, "LOW-HIGH"),
)
EXPLANATION = (
    "A host held more connections in TIME_WAIT at once than the threshold. TIME_WAIT sits on the "
    "side that closes first, for 60 s on Linux; a client that closes thousands of short "
    "connections to one service holds one ephemeral port each and can run out of ports. Reuse "
    "connections (HTTP keep-alive, connection pools) instead of opening one per request; or let "
    "the server close first so TIME_WAIT lands there. net.ipv4.tcp_tw_reuse=1 lets a client "
    "reuse its own TIME_WAIT ports for new outgoing connections (safe with timestamps); a wider "
    "net.ipv4.ip_local_port_range buys headroom. SO_LINGER with a zero timeout is not the fix: "
    "it replaces the FIN with a RST, losing data in flight and the protection TIME_WAIT gives "
    "against old duplicates."
)


def detect(analysis, cfg) -> list[Anomaly]:
    port_range = cfg.port_range
    limit = cfg.time_wait_limit
    time_wait = analysis.options.time_wait
    out = []
    for host, h in sorted(time_wait_by_host(analysis, port_range, min_time_wait=limit + 1).items()):
        if h.peak <= limit:
            continue
        proj = h.projection(time_wait)
        share = f"{h.range_share:.0%} of its {h.range_size}-port ephemeral range" if h.ports_at_peak else None
        msg = f"{host} held {h.peak} connections in TIME_WAIT at once"
        if h.remotes:
            msg += f" (mostly toward {h.remotes[0]['endpoint']})"
        if share:
            msg += f", {share}"
        if proj["rate"]:
            msg += f"; opening {proj['rate']:.0f} connections/s"
            if proj["exhausted_after"] is not None:
                msg += f", it would exhaust the port range after about {proj['exhausted_after']:.0f} s"
            else:
                msg += f", TIME_WAIT alone would settle at about {proj['steady_time_wait']} ports ({proj['steady_share']:.0%})"
        details = h.as_dict(time_wait)
        # The storm's instances are the host's TIME_WAIT spans: how many, from
        # the first entry to the last change of the count.
        details.update(count=h.time_wait, first_time=report_time(h.series[0][0]),
                       last_time=report_time(h.series[-1][0]), threshold=limit)
        severity = "critical" if h.range_share >= 0.5 or proj["exhausted_after"] is not None else SEVERITY
        out.append(Anomaly(TYPE, severity, h.peak_time, h.conn_ids, msg, details))
    return out
