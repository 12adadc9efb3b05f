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

from tabulate import tabulate

from .. import filters
from ..connection import HS_SYNACK, endpoint_text, ip_text
from ..states import CLOSED, STATE_NAMES, SYN_SENT
from ..timeline import StepSeries, sparkline, state_at, sweep_sorted, utc_text

# ss's spelling of the RFC 9293 state names (iproute2 misc/ss.c sstate_name).
SS_NAMES = {
    "ESTABLISHED": "ESTAB", "SYN_SENT": "SYN-SENT", "SYN_RECEIVED": "SYN-RECV", "FIN_WAIT_1": "FIN-WAIT-1",
    "FIN_WAIT_2": "FIN-WAIT-2", "TIME_WAIT": "TIME-WAIT", "CLOSED": "UNCONN", "CLOSE_WAIT": "CLOSE-WAIT",
    "LAST_ACK": "LAST-ACK", "LISTEN": "LISTEN", "CLOSING": "CLOSING", "UNKNOWN": "?",
}
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
    from one: still a listener); a SYN answered by a RST from a port that
    never sent a SYN-ACK shows none -- nothing listens (connection refused).
    """
    out = defaultdict(list)
    for conn in analysis.connections:
        s = conn.server
        if conn.roles_inferred:
            continue
        if conn.hs & HS_SYNACK and s.syn_time >= 0:
            out[(s.addr, s.port)].append((s.syn_time, True))
        elif conn.reset_by is s and conn.rst_prior is not None and conn.rst_prior[1] == SYN_SENT:
            out[(s.addr, s.port)].append((conn.rst_time, False))
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
            local = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
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


def render_states_at(view: dict, limit: int | None = None) -> str:
    """The ``states_at`` view as ss-like tables, one per host with sockets.

    ``limit`` caps the rows per host (None: all, as ss prints them).
    """
    when = view["utc"]
    if view["offset"] is not None:
        when += f" (capture {view['offset']:+.6f}s)"
    out = [f"ss -tan at {when}" + ("" if view["in_capture"] else "  [outside the capture]")]
    if view["totals"]:
        out.append("all hosts: " + _counts_text(view["totals"]))
    quiet = []
    for h in view["hosts"]:
        if not h["sockets"]:
            quiet.append(h["host"])
            continue
        rows = [(s["ss_state"], s["local"], s["peer"], s["connection"] or "")
                for s in h["sockets"][:limit]]
        out.append(f"\n{h['host']}: {_counts_text(h['counts'])}")
        out.append(tabulate(rows, headers=("State", "Local Address:Port", "Peer Address:Port", "conn"),
                            tablefmt="plain", disable_numparse=True))
        more = len(h["sockets"]) - len(rows)
        if more > 0:
            out.append(f"… {more:,} more (JSON has them all)")
    if quiet:
        shown = ", ".join(quiet[:8]) + (f" and {len(quiet) - 8:,} more" if len(quiet) > 8 else "")
        out.append(f"\nno open sockets: {shown}")
    return "\n".join(out) + "\n"


def _counts_text(counts: dict) -> str:
    return ", ".join(f"{SS_NAMES[name]} {n:,}" for name, n in counts.items())


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
            "hosts": out}


def render_timelines(view: dict, width: int = 60, max_hosts: int | None = 20) -> str:
    """One sparkline per state per host, ``width`` characters of time each.

    Hosts are listed busiest first (by their peak of open sockets).  All
    states of a host share one scale, its highest peak, so 600 sockets in
    TIME_WAIT dwarf the one in SYN_SENT as they should.
    """
    cap = view["capture"]
    start = cap["start"] if cap["start"] is not None else 0.0
    end = cap["end"] if cap["end"] is not None else start
    span = end - start
    out = [f"sockets per state over {span:.3f}s ({_stamp(cap['start'])} .. +{span:.3f}s), "
           f"one column = {span / width if width else 0:.3g}s"]
    hosts = [h for h in view["hosts"] if h["states"]]
    hosts.sort(key=lambda h: -max(s["peak"] for s in h["states"].values()))
    label = max([len(n) for h in hosts for n in h["states"]] + [5])
    for h in hosts[:max_hosts]:
        top = max(s["peak"] for s in h["states"].values())
        out.append(f"\n{h['host']} (full block = {top:,})")
        for name, s in h["states"].items():
            line = sparkline(s["series"], start, end, width, top)
            peak_at = "" if s["peak_time"] is None else f" at +{s['peak_time'] - start:.3f}s"
            out.append(f"  {name:<{label}} │{line:<{width}}│ peak {s['peak']:,}{peak_at}, "
                       f"{s['at_end']:,} at end")
    more = len(hosts) - len(hosts[:max_hosts])
    if more > 0:
        out.append(f"\n(+{more:,} more hosts; JSON has them all)")
    if not hosts:
        out.append("no endpoint was ever open")
    return "\n".join(out) + "\n"


def plot_timelines(view: dict, path: str, max_hosts: int = 6) -> None:
    """The timelines as a PNG: one panel per host (busiest first), one step line per state."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = view["capture"]["start"] or 0.0
    end = view["capture"]["end"] or start
    hosts = [h for h in view["hosts"] if h["states"]]
    hosts.sort(key=lambda h: -max(s["peak"] for s in h["states"].values()))
    hosts = hosts[:max_hosts] or [{"host": "no open endpoints", "states": {}}]
    fig, axes = plt.subplots(len(hosts), 1, figsize=(10, 2.2 * len(hosts) + 0.8), sharex=True, squeeze=False)
    for ax, h in zip(axes[:, 0], hosts):
        for name, s in h["states"].items():
            xs = [t - start for t, _ in s["series"]] + [end - start]
            ys = [n for _, n in s["series"]]
            ax.step(xs, ys + ys[-1:], where="post", label=name)
        ax.set_title(h["host"], fontsize="small", loc="left")
        ax.set_ylabel("sockets")
        if h["states"]:
            ax.legend(loc="upper left", fontsize="x-small", ncol=3)
    axes[-1, 0].set_xlabel("seconds since the capture's start")
    fig.suptitle("tcpflow-analyze: endpoints per state, " + ", ".join(view["capture"]["files"]))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["SS_NAMES", "listen_evidence", "parse_time", "plot_timelines", "render_states_at",
           "render_timelines", "state_timelines", "states_at"]
