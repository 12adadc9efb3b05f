"""TIME_WAIT per host: how many at once, since when, toward whom, and what it
means for the ephemeral port range.

Shared by the ``time_wait_storm`` detector and the ``timewait`` command.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from heapq import nlargest
from operator import itemgetter

from ..model.connection import Connection, Endpoint
from ..model.states import TIME_WAIT
from ..model.text import address_port_text, ip_text
from .timeline import sweep_lists

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

_INF = float("inf")
# Counter.most_common's key: the same five, in the same order, without a
# Counter made from the dict first.
_COUNT = itemgetter(1)

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


@cython.cclass
class _Spans:
    """A host's TIME_WAIT spans, as columns: a float, a port and an id each,
    where a tuple per span held the connection and both endpoints (a storming
    client has tens of thousands).  ``ids`` holds each connection once, in
    the order the spans came (``ordered``: ascending, as the connections are
    numbered); ``remotes`` counts the spans per (peer address, port), in the
    order the peers came."""

    def __init__(self):
        self.starts = []
        self.stops = []
        self.ports = []
        self.ids = []
        self.remotes = {}
        self.at_end = 0
        self.last_id = -(1 << 63)   # below any id
        self.ordered = True


# The compiled core reads the connections' fields in C (timewait.pxd): the
# two passes below visit every connection of the capture.
@cython.locals(c=Connection, client=Endpoint, server=Endpoint, counts=dict, hosts=dict, work=dict,
               spans=_Spans, opens=list, lifetimes=list, only=tuple, only_host=bytes)
def time_wait_by_host(analysis, port_range=DEFAULT_PORT_RANGE, min_time_wait: int = 0) -> dict[str, HostTimeWait]:
    """Per host with at least ``min_time_wait`` TIME_WAIT entries: the others
    cannot peak there, and leaving them out keeps the detector cheap on
    captures with thousands of hosts."""
    lo, hi = port_range
    range_size = hi - lo + 1
    conns = analysis.connections
    # Most endpoints never were in TIME_WAIT, and most hosts that were stay
    # below ``min_time_wait``: the counters say so, before any span is built.
    # (Plain ints, not a one-item list per host to count in place: a storm's
    # 40k client hosts would hold as many lists, made while every connection
    # is held, where the memory a run needs peaks.)
    counts = {}
    get = counts.get
    for c in conns:
        client, server = c.client, c.server
        if client.tw_entries:
            counts[client.addr] = get(client.addr, 0) + client.tw_entries
        if server.tw_entries:
            counts[server.addr] = get(server.addr, 0) + server.tw_entries
    hosts = {host: HostTimeWait(ip_text(host), range_size=range_size, time_wait=n)
             for host, n in counts.items() if n >= min_time_wait}
    if not hosts:
        return {}
    # The rest only for those hosts, in one more pass: their TIME_WAIT spans,
    # who closes first, how fast they open, how long connections live.
    # host -> (HostTimeWait, its TIME_WAIT spans, [first_seen of
    # connections it opened], [their lifetimes])
    work = {host: (h, _Spans(), [], []) for host, h in hosts.items()}
    # Nearly always one host storms: then its address is compared with each
    # endpoint's (bytes equality tests identity first, and the table shares
    # one object per host), not looked up twice per connection.
    only = only_host = None
    if len(work) == 1:
        only_host, only = next(iter(work.items()))
    for c in conns:
        client, server = c.client, c.server
        if only is None:
            found = work.get(client.addr)
        else:
            found = only if client.addr == only_host else None
        if found is not None:
            h, spans, opens, lifetimes = found
            if client.tw_entries:
                _add_spans(spans, c, client, server)
            if client.syn_count:
                opens.append(c.first_seen)
                lifetimes.append(c.last_seen - c.first_seen)
            _count_close(h, client, server)
        if only is None:
            found = work.get(server.addr)
        else:
            found = only if server.addr == only_host else None
        if found is not None:
            h, spans, opens, lifetimes = found
            if server.tw_entries:
                _add_spans(spans, c, server, client)
            _count_close(h, server, client)
    for h, spans, times, lifetimes in work.values():
        if spans.starts:
            _sweep_spans(h, spans, lo, hi)
        if times:
            h.opened = len(times)
            span = max(times) - min(times)
            h.open_rate = (len(times) - 1) / span if span > 0 and len(times) > 1 else 0.0
            h.mean_lifetime = sum(lifetimes) / len(lifetimes)
    return {h.host: h for h in hosts.values()}


def _sweep_spans(h, spans, lo, hi) -> None:
    """A host's TIME_WAIT over time, from its spans: peak, series, who toward."""
    # (sweep_lists sorts what it is given: the columns stay in span order.)
    h.peak, h.peak_time, h.series = sweep_lists(list(spans.starts), list(spans.stops))
    h.at_end = spans.at_end
    h.conn_ids = spans.ids if spans.ordered else sorted(set(spans.ids))
    h.remotes = [{"endpoint": _endpoint(addr, remote_port), "count": n}
                 for (addr, remote_port), n in nlargest(5, spans.remotes.items(), key=_COUNT)]
    if h.peak_time is not None:
        peak_time = h.peak_time
        starts, stops, ports = spans.starts, spans.stops, spans.ports
        held = set()
        for i in range(len(starts)):
            local = ports[i]
            if starts[i] <= peak_time < stops[i] and lo <= local <= hi:
                held.add(local)
        h.ports_at_peak = len(held)


def _add_spans(spans, c, me, peer) -> None:
    """``me``'s TIME_WAIT spans, onto ``spans`` (its host's)."""
    flat = me.trans_flat   # time, state, time, state ...
    n = len(flat)
    # One TIME_WAIT (nearly every endpoint that had one) is the last or
    # next to last state: found from the end.
    step = -2 if me.tw_entries == 1 else 2
    i = n - 2 if step < 0 else 2
    while 0 < i < n:
        if flat[i + 1] == TIME_WAIT:
            start = flat[i]
            # Still in TIME_WAIT when the capture ends: it has not left,
            # so it counts against any that start at the end.
            stop = flat[i + 2] if i + 2 < n else _INF
            if stop < start:
                stop = start
            spans.starts.append(start)
            spans.stops.append(stop)
            spans.ports.append(me.port)
            if stop == _INF:
                spans.at_end += 1
            cid = c.id
            if cid != spans.last_id:
                if cid < spans.last_id:
                    spans.ordered = False
                spans.ids.append(cid)
                spans.last_id = cid
            remote = (peer.addr, peer.port)
            spans.remotes[remote] = spans.remotes.get(remote, 0) + 1
            if me.tw_entries == 1:
                break
        i += step


def _count_close(h: HostTimeWait, me, peer) -> None:
    if me.fin_seq >= 0 and peer.fin_seq >= 0:
        h.closed += 1
        if me.active_close and (not peer.active_close or me.fin_time <= peer.fin_time):
            h.active_closes += 1


def _endpoint(addr: bytes, port: int) -> str:
    return address_port_text(ip_text(addr), port)


__all__ = ["DEFAULT_PORT_RANGE", "HostTimeWait", "parse_port_range", "time_wait_by_host"]
