"""What ``ss -tan`` would have shown at any moment of a capture, and each
host's sockets per state over time.

Both are read off the transitions the tracker recorded for every endpoint
(``Endpoint.trans_flat``, including the changes it dated from kernel timers at the
end of the capture), so "at the end of the capture" means exactly what the
report says, and any earlier moment is answered the same way.

A passive observer sees connection endpoints, not sockets: a LISTEN socket
has no packets of its own.  It is inferred from its behaviour -- a host:port
that answered a SYN with a SYN-ACK was listening from then on, until it
answers a later SYN with a RST (the listener was closed).
"""
from __future__ import annotations

import ipaddress
from bisect import bisect_left
from collections import Counter, defaultdict

from ..analysis import filters
from ..model.connection import HS_SYNACK
from ..engine.folding import refused
from ..model.text import address_port_text, endpoint_text, ip_text, utc_text
from ..model.states import CLOSED, SS_NAMES, STATE_NAMES
from ..analysis.timeline import StepSeries, state_at, sweep_sorted
from .findings import analysis_notices

# The order ss users expect to read states in: listeners, then a connection's life.
STATE_ORDER = ("LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2",
               "CLOSE_WAIT", "CLOSING", "LAST_ACK", "TIME_WAIT", "UNKNOWN")
_RANK = {name: i for i, name in enumerate(STATE_ORDER)}



# ---------------------------------------------------------------------- time
def parse_time(text: str, analysis) -> float:
    """A moment of the capture as epoch seconds (see ``filters.parse_time``)."""
    return filters.parse_time(text, analysis.stats.start, analysis.stats.end)


def _stamp(t: float | None) -> str:
    return utc_text(t, digits=6)


def _host_key(host: str):
    addr = ipaddress.ip_address(host)
    return addr.version, addr


# ---------------------------------------------------------------------- listeners
def listen_evidence(analysis) -> dict[tuple[bytes, int], list[tuple[float, bool]]]:
    """(server address, port) -> [(time, listening?)]: what the wire says about listeners.

    A SYN-ACK answering a client's SYN shows a listener (or a SYN cookie
    from one: still a listener) -- unless the server had sent a SYN of its
    own (a simultaneous open); a SYN answered by a RST from a port that
    never sent a SYN-ACK shows none -- nothing listens (connection refused).
    """
    out = defaultdict(list)
    for conn in analysis.connections:
        s = conn.server
        if conn.roles_inferred or conn.simultaneous_open:
            # A simultaneous open's SYN-ACKs come from two connect()ing
            # sockets (RFC 9293 3.5 figure 8): nothing listens there.
            continue
        if conn.hs & HS_SYNACK and s.syn_time >= 0:
            out[(s.addr, s.port)].append((s.syn_time, True))
        elif refused(conn):
            out[(s.addr, s.port)].append((conn.rare.rst_time, False))
    for events in out.values():
        events.sort()
    return out


def _listening_at(events, t: float) -> bool:
    state = False
    for when, listening in events:
        if when > t:
            break
        state = listening
    return state


# ---------------------------------------------------------------------- ss at T
def states_at(analysis, t: float) -> dict:
    """What ``ss -tan`` would have shown at time ``t``, per host seen in the capture.

    A JSON-ready dict: per host, every socket whose state at ``t`` is not
    CLOSED (local, peer, RFC 9293 state, ss's name for it, the connection
    id), the LISTEN sockets inferred from SYN-ACKs seen before ``t``, and the
    count per state.
    """
    hosts: dict[str, list] = {}
    for conn in analysis.connections:
        for me, peer in ((conn.client, conn.server), (conn.server, conn.client)):
            sockets = hosts.setdefault(ip_text(me.addr), [])
            state = state_at(me, t)
            if state != CLOSED:
                sockets.append(_socket(endpoint_text(me), endpoint_text(peer), STATE_NAMES[state], conn.id))
    for (addr, port), events in listen_evidence(analysis).items():
        if _listening_at(events, t):
            host = ip_text(addr)
            local = address_port_text(host, port)
            hosts.setdefault(host, []).append(_socket(local, "[::]:*" if ":" in host else "0.0.0.0:*",
                                                      "LISTEN", None))
    start, end = analysis.stats.start, analysis.stats.end
    out_hosts = []
    totals: Counter = Counter()
    for host in sorted(hosts, key=_host_key):
        sockets = sorted(hosts[host], key=_socket_order)
        counts = Counter(s["state"] for s in sockets)
        totals.update(counts)
        out_hosts.append({"host": host, "sockets": sockets, "counts": _ordered(counts)})
    return {
        "time": round(t, 6),
        "offset": None if start is None else round(t - start, 6),
        "utc": _stamp(t),
        "capture": {"files": list(analysis.stats.files), "start": start, "end": end},
        # What the view could not see, worded as the report's (views.findings).
        "notices": analysis_notices(analysis),
        "in_capture": start is not None and start <= t <= end,
        "hosts": out_hosts,
        "totals": _ordered(totals),
    }


def _socket(local: str, peer: str, state: str, conn_id) -> dict:
    return {"local": local, "peer": peer, "state": state, "ss_state": SS_NAMES[state], "connection": conn_id}


def _socket_order(sock: dict):
    port = int(sock["local"].rsplit(":", 1)[1])
    return _RANK.get(sock["state"], 99), port, sock["peer"], sock["connection"] or 0


def _ordered(counts: Counter) -> dict:
    return {name: counts[name] for name in sorted(counts, key=lambda n: _RANK.get(n, 99))}


# ---------------------------------------------------------------------- timelines
def state_timelines(analysis, hosts=None) -> dict:
    """Per host, how many of its endpoints were in each state over time.

    Step series ``[[t, count], ...]`` (the count after each change, as a
    ``timeline.StepSeries``) per state other than CLOSED; ``hosts`` (IP
    strings) limits the hosts.  An endpoint still in a state at the
    capture's end counts to the end.
    """
    start, end = analysis.stats.start, analysis.stats.end
    end = end if end is not None else 0.0
    wanted = set(hosts) if hosts is not None else None
    inf = float("inf")
    # host -> state -> (the times endpoints entered it, the times they left)
    spans: dict[str, dict[int, tuple[list, list]]] = {}
    for conn in analysis.connections:
        for ep in (conn.client, conn.server):
            host = ip_text(ep.addr)
            if wanted is not None and host not in wanted:
                continue
            by_state = spans.get(host)
            if by_state is None:
                by_state = spans[host] = {}  # a host with nothing open still has a (flat) timeline
            flat = ep.trans_flat
            n = len(flat)
            for i in range(0, n, 2):
                state = flat[i + 1]
                if state == CLOSED:
                    continue
                entered = flat[i]
                if i + 2 < n:
                    left = flat[i + 2]
                    if left <= entered:
                        continue   # a state left at the instant it was entered never held a socket
                else:
                    left = inf     # still in it at the end
                pair = by_state.get(state)
                if pair is None:
                    pair = by_state[state] = ([], [])
                pair[0].append(entered)
                pair[1].append(left)
    out = []
    for host in sorted(spans, key=_host_key):
        states = {}
        by_name = {STATE_NAMES[state]: pair for state, pair in spans.pop(host).items()}
        for name in sorted(by_name, key=lambda n: _RANK.get(n, 99)):
            entered, left = by_name[name]
            entered.sort()
            left.sort()
            peak, peak_time, times, counts = sweep_sorted(entered, left)
            states[name] = {
                "series": StepSeries(times, counts),
                "peak": peak, "peak_time": None if peak_time is None else round(peak_time, 6),
                "at_end": len(left) - bisect_left(left, inf),
                "entered": len(entered),
            }
        out.append({"host": host, "states": states})
    return {"capture": {"files": list(analysis.stats.files), "start": start, "end": end},
            "notices": analysis_notices(analysis), "hosts": out}


__all__ = ["SS_NAMES", "listen_evidence", "parse_time", "state_timelines", "states_at"]
