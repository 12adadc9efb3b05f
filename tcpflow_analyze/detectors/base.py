"""What every anomaly detector shares: the finding, its options, and helpers.

A detector is a module with ``TYPE``, ``SEVERITY``, ``OPTIONS`` (its
thresholds, each a CLI flag with a documented default), ``EXPLANATION`` (what
it means in TCP terms and what to do, for the README and the HTML report) and
``detect(analysis, cfg) -> list[Anomaly]``: a pure function over the finished
connections.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ..model.connection import Connection
from ..model.text import endpoint_text, ip_text

SEVERITIES = ("info", "warning", "critical")


@dataclass
class Anomaly:
    type: str
    severity: str
    time: float | None
    connections: list[int]
    message: str
    details: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"type": self.type, "severity": self.severity,
                "time": None if self.time is None else round(self.time, 6),
                "connections": list(self.connections), "message": self.message, "details": self.details}


@dataclass(frozen=True)
class Option:
    """A detector threshold: ``--flag`` on the command line, ``key`` in the config."""

    flag: str
    key: str
    default: object
    help: str
    type: object = float
    metavar: str = "SECONDS"


# What a grouped anomaly speaks for, in its ``details``: a server ``service``
# ("ip:port"), a ``host`` ("ip") or, for a scan, its ``source`` ("ip").
GROUP_FIELDS = ("service", "host", "source")


def group_key(anomaly: dict) -> tuple[str, str]:
    """(type, the service/host/source it is about) of an anomaly as the report
    writes it: what ``--baseline`` matches a previous report's findings by.
    An anomaly about no one place is keyed by its type alone."""
    details = anomaly.get("details") or {}
    for name in GROUP_FIELDS:
        if details.get(name):
            return anomaly["type"], f"{name}={details[name]}"
    return anomaly["type"], ""


def with_folds(conns, analysis, kind):
    """(service, listed connections, folded group or None) for every server
    service with connections of ``kind`` (folding.kind_of), listed or folded."""
    from ..engine.folding import kind_of
    groups = group_by((c for c in conns if kind_of(c) == kind), lambda c: service(c.server))
    folds = getattr(analysis, "folds", None)
    folded = {g.service: g for g in folds.of_kind(kind)} if folds is not None else {}
    for svc in sorted(set(groups) | set(folded)):
        yield svc, groups.get(svc, []), folded.get(svc)


def clients_of(group, fold) -> Counter:
    """Client addresses by count: the listed ones exactly, the folded ones from their sketch."""
    clients = Counter(ip_text(c.client.addr) for c in group)
    if fold is not None:
        for addr, n in fold.sources.top(fold.sources.k):
            clients[ip_text(addr)] += n
    return clients


def service(ep) -> str:
    return endpoint_text(ep)


def group_by(conns, key):
    groups = defaultdict(list)
    for conn in conns:
        groups[key(conn)].append(conn)
    return groups


def ids(conns: list[Connection], limit: int | None = None) -> list[int]:
    out = [c.id for c in conns]
    return out if limit is None else out[:limit]


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else (words or word + 's')}"


def top_counts(items, n: int = 5) -> list[dict]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    return [{"endpoint": k, "count": v} for k, v in ranked]


def retry_delay(new):
    """From the new connection's first SYN to the SYN-ACK that accepted it."""
    if new is None or new.client.syn_time < 0 or new.server.syn_time < 0:
        return None
    return new.server.syn_time - new.client.syn_time


__all__ = ["Anomaly", "GROUP_FIELDS", "Option", "group_key", "SEVERITIES", "endpoint_text", "group_by", "ids", "ip_text", "plural", "retry_delay",
           "service", "top_counts"]
