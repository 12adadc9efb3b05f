"""Selecting connections: --host, --port, --state, --anomaly, --since/--until,
and ordering them: --sort, --top.  Shared by every command.
"""
from __future__ import annotations

import datetime as _dt
import ipaddress
import math
import re
from dataclasses import dataclass, field

from ..model.text import ip_text
from ..model.states import STATE_NAMES, parse_state

SORT_KEYS = {
    "id": lambda c: c.id,
    "first_seen": lambda c: (c.first_seen, c.id),
    "last_seen": lambda c: (c.last_seen, c.id),
    "duration": lambda c: (-(c.last_seen - c.first_seen), c.id),
    "packets": lambda c: (-(c.client.packets + c.server.packets), c.id),
    "bytes": lambda c: (-(c.client.bytes + c.server.bytes), c.id),
    "retransmissions": lambda c: (-(c.client.retransmits + c.server.retransmits), c.id),
    "client_state": lambda c: (STATE_NAMES[c.client.state], c.id),
    "server_state": lambda c: (STATE_NAMES[c.server.state], c.id),
}


_OFFSET_RE = re.compile(r"^\+\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|ms|us|µs|m|min|h)?$")
_UNITS = {None: 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_time(text: str, start: float | None, end: float | None) -> float:
    """A moment of the capture as epoch seconds.

    Accepts ``end`` / ``start``; an offset from the capture's start like
    ``+12.5s``, ``+250ms``, ``+2m``; absolute epoch seconds (``1795567091.4``);
    or an ISO-8601 timestamp (without a zone it is taken as UTC, the zone
    pcap timestamps are in).
    """
    s = str(text).strip()
    low = s.lower()
    if low in ("end", "start"):
        if start is None:
            raise ValueError("the capture has no packets")
        return end if low == "end" else start
    m = _OFFSET_RE.match(s)
    if m:
        offset = float(m.group(1)) * _UNITS[m.group(2)]
        if not math.isfinite(offset):
            raise ValueError(f"{text!r} is further than any capture lasts")
        if start is None:
            raise ValueError("the capture has no packets")
        return start + offset
    try:
        epoch = float(s)
    except ValueError:
        pass
    else:
        # nan would compare false with every packet's time and select nothing
        # silently; a capture's clock (pcap: unsigned seconds) has no time before 1970.
        if not math.isfinite(epoch) or epoch < 0:
            raise ValueError(f"{text!r} is not a time: epoch seconds are a finite number, 0 or more "
                             f"(+SECONDS for an offset from the start)")
        return epoch
    try:
        when = _dt.datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith(("Z", "z")) else s)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use end, +12.5s, epoch seconds or ISO-8601)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return when.timestamp()


def parse_network(text: str):
    """An address or a network (``10.0.0.1``, ``10.0.0.0/8``, ``[fd00::1]``)."""
    try:
        return ipaddress.ip_network(str(text).strip("[]"), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an address or a network (CIDR)") from None


def parse_state_spec(text: str) -> tuple[str | None, int]:
    """``[client:|server:]STATE`` (``server:TIME-WAIT``, ``estab``) as (side or
    None, state); the state in any spelling ``model.states.parse_state`` takes."""
    side, _, name = str(text).rpartition(":")
    side = side.strip().lower()
    if side not in ("", "client", "server"):
        raise ValueError(f"{text!r}: the side is client: or server:")
    return side or None, parse_state(name)


@dataclass
class ConnectionFilter:
    hosts: list = field(default_factory=list)      # ip networks; either endpoint matches
    ports: set = field(default_factory=set)        # either endpoint's port
    states: set = field(default_factory=set)       # (side or None, state int)
    anomalies: set = field(default_factory=set)    # anomaly types the connection is part of
    since: float | None = None
    until: float | None = None

    @property
    def active(self) -> bool:
        return bool(self.hosts or self.ports or self.states or self.anomalies
                    or self.since is not None or self.until is not None)

    @classmethod
    def from_options(cls, hosts=(), ports=(), states=(), anomalies=(), since=None, until=None,
                     start=None, end=None) -> "ConnectionFilter":
        f = cls()
        for h in hosts:
            try:
                f.hosts.append(parse_network(h))
            except ValueError as exc:
                raise ValueError(f"--host: {exc}") from None
        for p in ports:
            f.ports.add(int(p))
        for s in states:
            try:
                f.states.add(parse_state_spec(s))
            except ValueError as exc:
                raise ValueError(f"--state: {exc}") from None
        f.anomalies = set(anomalies)
        f.since = parse_time(since, start, end) if since else None
        f.until = parse_time(until, start, end) if until else None
        if f.since is not None and f.until is not None and f.since > f.until:
            # An empty window would select nothing and look like a quiet capture.
            raise ValueError(f"--since {since} is after --until {until}: no moment is in both")
        return f

    def matches(self, conn, anomaly_types=()) -> bool:
        if self.ports and conn.client.port not in self.ports and conn.server.port not in self.ports:
            return False
        if self.hosts:
            addrs = (ipaddress.ip_address(ip_text(conn.client.addr)), ipaddress.ip_address(ip_text(conn.server.addr)))
            if not any(a in net for net in self.hosts for a in addrs if a.version == net.version):
                return False
        if self.states:
            ok = False
            for side, state in self.states:
                if side in (None, "client") and conn.client.state == state:
                    ok = True
                if side in (None, "server") and conn.server.state == state:
                    ok = True
            if not ok:
                return False
        if self.anomalies and not self.anomalies & set(anomaly_types):
            return False
        if self.since is not None and conn.last_seen < self.since:
            return False
        if self.until is not None and conn.first_seen > self.until:
            return False
        return True


def anomaly_types_by_connection(anomalies) -> dict[int, set]:
    out: dict[int, set] = {}
    for a in anomalies:
        for cid in a.connections:
            out.setdefault(cid, set()).add(a.type)
    return out


def select(conns, flt: ConnectionFilter, anomalies=(), sort: str = "id", top: int | None = None):
    """The connections that pass the filter, ordered, at most ``top``."""
    if flt.active:
        by_conn = anomaly_types_by_connection(anomalies) if flt.anomalies else {}
        conns = [c for c in conns if flt.matches(c, by_conn.get(c.id, ()))]
    if sort != "id":
        conns = sorted(conns, key=SORT_KEYS[sort])
    if top is not None:
        conns = list(conns)[:top]
    return conns


def select_anomalies(anomalies, flt: ConnectionFilter, matched):
    """Anomalies of the requested types that involve a connection of
    ``matched`` (what the filters selected), or, for folded counts with no
    listed connection, any when only types filter."""
    by_connection = flt.active and (flt.hosts or flt.ports or flt.states or flt.since is not None
                                    or flt.until is not None)
    # The selected ids as a set only where a filter on connections asks: on
    # the whole capture it would be an int and a slot per connection, held
    # through the report's writing.
    kept_ids = {c.id for c in matched} if by_connection else None
    out = []
    for a in anomalies:
        if flt.anomalies and a.type not in flt.anomalies:
            continue
        if by_connection and not any(cid in kept_ids for cid in a.connections):
            continue
        out.append(a)
    return out
