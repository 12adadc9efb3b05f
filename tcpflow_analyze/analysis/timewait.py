"""TIME_WAIT per host: how many at once, since when, toward whom, and what it
means for the ephemeral port range.

Shared by the ``time_wait_storm`` detector and the ``timewait`` command.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ..model.connection import Connection, Endpoint
from ..model.states import TIME_WAIT
from ..model.text import address_port_text, ip_text
from .timeline import sweep

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

_INF = float("inf")

# Linux's default net.ipv4.ip_local_port_range.
DEFAULT_PORT_RANGE = (32768, 60999)


def parse_port_range(text: str) -> tuple[int, int]:
    lo, sep, hi = text.replace(" ", "").partition("-")
    if not sep or not lo.isdigit() or not hi.isdigit():
        raise ValueError(f"{text!r} is not LOW-HIGH, e.g. 32768-60999")
    lo_i, hi_i = int(lo), int(hi)
    if not 0 < lo_i <= hi_i <= 65535:
        raise ValueError("ports must satisfy 0 < LOW <= HIGH <= 65535")
    return lo_i, hi_i


@dataclass
class HostTimeWait:
    host: str
    time_wait: int = 0           # endpoints of this host that entered TIME_WAIT
    peak: int = 0
    peak_time: float | None = None
    series: list = field(default_factory=list)
    at_end: int = 0
    conn_ids: list = field(default_factory=list)
    remotes: list = field(default_factory=list)
    closed: int = 0              # connections of this host closed by FIN
    active_closes: int = 0       # ... where this host sent the first FIN
    opened: int = 0              # connections this host opened (it sent the SYN)
    open_rate: float = 0.0       # connections opened per second, over the span of the opens
    mean_lifetime: float | None = None
    ports_at_peak: int = 0       # distinct local ports in the range held in TIME_WAIT at the peak
    range_size: int = 0

    @property
    def active_close_share(self) -> float | None:
        return self.active_closes / self.closed if self.closed else None

    @property
    def range_share(self) -> float:
        return self.ports_at_peak / self.range_size if self.range_size else 0.0

    def projection(self, time_wait: float) -> dict:
        """Steady state at the observed opening rate: ports held in TIME_WAIT alone."""
        if self.open_rate <= 0 or not self.range_size:
            return {"rate": 0.0, "steady_time_wait": 0, "steady_share": 0.0, "exhausted_after": None}
        steady = self.open_rate * time_wait
        exhausted = self.range_size / self.open_rate if steady >= self.range_size else None
        return {"rate": round(self.open_rate, 3), "steady_time_wait": round(steady),
                "steady_share": round(steady / self.range_size, 4),
                "exhausted_after": None if exhausted is None else round(exhausted, 1)}

    def as_dict(self, time_wait: float) -> dict:
        return {
            "host": self.host, "time_wait": self.time_wait, "peak": self.peak,
            "peak_time": None if self.peak_time is None else round(self.peak_time, 6),
            "at_end": self.at_end, "remotes": self.remotes,
            "active_close_share": None if self.active_close_share is None else round(self.active_close_share, 4),
            "connections_opened": self.opened, "open_rate": round(self.open_rate, 3),
            "mean_lifetime": None if self.mean_lifetime is None else round(self.mean_lifetime, 6),
            "ephemeral_ports_at_peak": self.ports_at_peak, "port_range_size": self.range_size,
            "port_range_share": round(self.range_share, 4), "projection": self.projection(time_wait),
        }


# The compiled core reads the connections' fields in C (timewait.pxd): the
# three passes below visit every connection of the capture.
@cython.locals(c=Connection, client=Endpoint, server=Endpoint)
def time_wait_by_host(analysis, port_range=DEFAULT_PORT_RANGE, min_time_wait: int = 0) -> dict[str, HostTimeWait]:
    """Per host; hosts with fewer than ``min_time_wait`` TIME_WAIT spans get
    only their counts (their peak cannot reach it), which keeps the detector
    cheap on captures with thousands of hosts."""
    lo, hi = port_range
    range_size = hi - lo + 1
    inf = _INF
    conns = analysis.connections
    # First the TIME_WAIT spans of the hosts that may reach ``min_time_wait``:
    # only those need the rest of the work.
    spans = defaultdict(list)        # host -> [(start, stop, conn, local port, remote)]

    # Most endpoints never were in TIME_WAIT, and most hosts that were stay
    # below ``min_time_wait``: the counters say so, before any span is built.
    counts = Counter()
    for c in conns:
        client, server = c.client, c.server
        if client.tw_entries:
            counts[client.addr] += client.tw_entries
        if server.tw_entries:
            counts[server.addr] += server.tw_entries
    hosts: dict[bytes, HostTimeWait] = {
        host: HostTimeWait(ip_text(host), range_size=range_size, time_wait=n) for host, n in counts.items()}
    wanted = {host for host, n in counts.items() if n >= min_time_wait}
    if not wanted:
        return {h.host: h for h in hosts.values()}
    for c in conns:
        client, server = c.client, c.server
        if client.tw_entries and client.addr in wanted:
            _add_spans(spans, c, client, server)
        if server.tw_entries and server.addr in wanted:
            _add_spans(spans, c, server, client)
    for host, items in spans.items():
        h = hosts[host]
        h.peak, h.peak_time, h.series = sweep((s, e) for s, e, *_ in items)
        h.at_end = sum(1 for _, e, *_ in items if e == inf)
        h.conn_ids = sorted({c.id for _, _, c, _, _ in items})
        remotes = Counter((peer.addr, peer.port) for *_, peer in items).most_common(5)
        h.remotes = [{"endpoint": _endpoint(addr, port), "count": n} for (addr, port), n in remotes]
        if h.peak_time is not None:
            at_peak = {port for s, e, _, port, _ in items if s <= h.peak_time < e}
            h.ports_at_peak = sum(1 for p in at_peak if lo <= p <= hi)
    # Then who closes first, how fast it opens, how long connections live.
    opens = defaultdict(list)        # host -> [first_seen of connections it opened]
    lifetimes = defaultdict(list)
    for c in conns:
        client, server = c.client, c.server
        if client.addr in wanted:
            if client.syn_count:
                opens[client.addr].append(c.first_seen)
                lifetimes[client.addr].append(c.last_seen - c.first_seen)
            _count_close(hosts[client.addr], client, server)
        if server.addr in wanted:
            _count_close(hosts[server.addr], server, client)
    for host, times in opens.items():
        h = hosts[host]
        h.opened = len(times)
        span = max(times) - min(times)
        h.open_rate = (len(times) - 1) / span if span > 0 and len(times) > 1 else 0.0
        h.mean_lifetime = sum(lifetimes[host]) / len(lifetimes[host])
    return {h.host: h for h in hosts.values()}


def _add_spans(spans, c, me, peer) -> None:
    """``me``'s TIME_WAIT spans, into ``spans`` (its host's list)."""
    flat = me.trans_flat   # time, state, time, state ...
    n = len(flat)
    # One TIME_WAIT (nearly every endpoint that had one) is the last or
    # next to last state: found from the end.
    found = range(n - 2, 0, -2) if me.tw_entries == 1 else range(2, n, 2)
    for i in found:
        if flat[i + 1] == TIME_WAIT:
            start = flat[i]
            # Still in TIME_WAIT when the capture ends: it has not left,
            # so it counts against any that start at the end.
            stop = flat[i + 2] if i + 2 < n else _INF
            spans[me.addr].append((start, stop if stop > start else start, c, me.port, peer))
            if me.tw_entries == 1:
                break


def _count_close(h: HostTimeWait, me, peer) -> None:
    if me.fin_seq >= 0 and peer.fin_seq >= 0:
        h.closed += 1
        if me.active_close and (not peer.active_close or me.fin_time <= peer.fin_time):
            h.active_closes += 1


def _endpoint(addr: bytes, port: int) -> str:
    return address_port_text(ip_text(addr), port)


__all__ = ["DEFAULT_PORT_RANGE", "HostTimeWait", "parse_port_range", "time_wait_by_host"]
