"""What every anomaly detector shares: the finding, its options, and helpers.

A detector is a module with ``TYPE``, ``SEVERITY``, ``OPTIONS`` (its
thresholds, each a CLI flag with a documented default), ``EXPLANATION`` (what
it means in TCP terms and what to do, for the README and the HTML report) and
``detect(analysis, cfg) -> list[Anomaly]``: a pure function over the finished
connections.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..model.connection import CONNECTION_RARE, Connection
from ..model.text import address_port_text, endpoint_text, ip_text, report_time

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
    # A number that must be more than 0: where 0 would flag every
    # connection (a zero CLOSE_WAIT timeout) or divide by nothing (a zero window).
    positive: bool = False


# What a grouped anomaly speaks for, in its ``details``: a server ``service``
# ("ip:port"), a ``host`` ("ip") or, for a scan, its ``source`` ("ip").
GROUP_FIELDS = ("service", "host", "source")
SUBGROUP_FIELDS = ("kind", "side", "target")


def group_key(anomaly: dict) -> tuple[str, str]:
    """(type, the service/host/source it is about) of an anomaly as the report
    writes it: what ``--baseline`` matches a previous report's findings by.
    An anomaly about no one place is keyed by its type alone."""
    details = anomaly.get("details") or {}
    where = next((f"{name}={details[name]}" for name in GROUP_FIELDS if details.get(name)), "")
    # A type split into kinds on one service (half_open: peer_reset beside
    # embryonic; lingering_close_wait: the client's side or the server's) is
    # a different problem per kind: a new kind is a new finding.
    for name in SUBGROUP_FIELDS:
        if details.get(name):
            where += f" {name}={details[name]}"
    return anomaly["type"], where


# Examples a grouped anomaly keeps of its instances: enough to show the
# variety, few enough that a group of thousands stays one readable entry.
GROUP_EXAMPLES = 5


@dataclass
class Instance:
    """One occurrence a detector found on one connection (or a pair): what
    its own anomaly would have said, before ``grouped`` folds the many."""

    where: str             # the service ("ip:port"), host or source it is about
    time: float
    connections: list[int]
    message: str           # the one-instance message, kept when it is alone
    details: dict
    severity: str


def grouped(type_: str, instances, summary, field: str = "service", by=None, totals=None) -> list[Anomaly]:
    """One anomaly per group of ``instances`` (same ``where``, same severity and
    the same ``by(instance)``, if given), so a busy capture reads as one finding
    per service, not one per connection.

    ``details``: ``field`` (the ``GROUP_FIELDS`` name ``where`` speaks for),
    ``count``, ``first_time``, ``last_time``, every per-instance field that is
    the same in all the group's instances (so a group of one carries all of
    its instance's), what ``totals(instances)`` adds (the group's own sums),
    and ``examples``: the first ``GROUP_EXAMPLES`` instances' time,
    connections and details.  ``connections``: every instance's ids, in
    time order, so each connection still names its anomalies.  The message is
    the instance's own when alone, else ``summary(where, instances)``."""
    groups = defaultdict(list)
    for inst in sorted(instances, key=lambda i: i.time):
        groups[(inst.where, inst.severity, by(inst) if by else None)].append(inst)
    out = []
    for (where, severity, _), group in groups.items():
        first, last = group[0], group[-1]
        details = {field: where, "count": len(group), "first_time": report_time(first.time),
                   "last_time": report_time(last.time)}
        details.update(_common(i.details for i in group))
        if totals is not None:
            details.update(totals(group))
        details["examples"] = [{"time": report_time(i.time), "connections": i.connections, **i.details}
                               for i in group[:GROUP_EXAMPLES]]
        out.append(Anomaly(type_, severity, first.time, _union(i.connections for i in group),
                           first.message if len(group) == 1 else summary(where, group), details))
    return out


def _common(dicts) -> dict:
    """The fields with one value in every dict."""
    dicts = iter(dicts)
    common = dict(next(dicts))
    for d in dicts:
        for key in [k for k, v in common.items() if d.get(k, _MISSING) != v]:
            del common[key]
        if not common:
            break
    return common


_MISSING = object()


def _union(id_lists) -> list[int]:
    """Connection ids in first-seen order, each once (a pair of connections
    may be named by two instances)."""
    return list(dict.fromkeys(i for ids_ in id_lists for i in ids_))


def span_text(group) -> str:
    """How long a group of instances lasted, for its one-line message."""
    span = group[-1].time - group[0].time
    return f"over {duration_text(span)}" if span >= 0.0005 else "at once"


def duration_text(seconds: float) -> str:
    """Seconds for a message: milliseconds below one second (a scan of 200
    ports takes 40 ms, which "0.0 s" would hide)."""
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


# What several detectors ask of one analysis, worked out once while
# ``shared_results`` is on: (id of the analysis, key) -> (analysis, result).
# Off (None) outside it, where a caller may change the connections between
# two calls.
_shared: dict | None = None


@contextmanager
def shared_results():
    """Within, ``once`` works each result out once per analysis:
    ``detectors.run`` runs a dozen detectors over the same connections."""
    global _shared
    _shared = {}
    try:
        yield
    finally:
        _shared = None


def once(analysis, key, make):
    """``make()``, or what it gave for ``analysis`` and ``key`` before (see
    ``shared_results``)."""
    if _shared is None:
        return make()
    known = _shared.get((id(analysis), key))
    if known is None or known[0] is not analysis:
        known = _shared[(id(analysis), key)] = (analysis, make())
    return known[1]


def eventful(analysis) -> list:
    """The connections with a record of their own for the rare events (a
    RST, a reuse of the 4-tuple, a challenge ACK, a SYN cookie:
    model.connection's ConnectionRare), in the order of
    ``analysis.connections``.  Every other connection shares
    CONNECTION_RARE, whose fields all say "never": a detector that looks
    for one of those events walks these (a fifth of a busy capture's
    connections), not every connection."""
    return once(analysis, "eventful", lambda: [c for c in analysis.connections if c.rare is not CONNECTION_RARE])


def with_folds(conns, analysis, kind):
    """(service, listed connections, folded group or None) for every server
    service with connections of ``kind`` (folding.kind_of), listed or folded."""
    from ..engine.folding import kind_of
    # Grouped by the server's raw address and port, each group's text made
    # once: a flood is thousands of connections toward one service.
    by_server = group_by((c for c in conns if kind_of(c) == kind), lambda c: (c.server.addr, c.server.port))
    groups = {address_port_text(ip_text(addr), port): group for (addr, port), group in by_server.items()}
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


__all__ = ["Anomaly", "GROUP_EXAMPLES", "GROUP_FIELDS", "Instance", "Option", "duration_text", "grouped", "report_time", "span_text", "group_key", "SEVERITIES", "endpoint_text", "group_by", "ids", "ip_text", "plural", "retry_delay",
           "service", "top_counts"]
