"""half_open: one side believes the connection is open, the other has lost it
or never completed it.

Kinds (``details.kind``):

* ``peer_reset`` -- a side that never closed answers its peer's segment with a
  RST carrying no ACK bit: the reply of a host with *no socket* for the
  segment (RFC 9293 3.10.7.1; Linux ``tcp_v4_send_reset``).  The host crashed
  or rebooted and lost the connection; the peer learns it only now.  An
  application abort (SO_LINGER 0, close with unread data) sends RST+ACK and is
  not this.
* ``embryonic`` -- a SYN-ACK never acknowledged: the server sat in
  SYN_RECEIVED.  Many of them toward one service from many sources is a SYN
  flood; the message says so, with counts.
* ``unanswered`` -- a side keeps retransmitting (or probing with keepalives)
  while its peer, which answered before, stays silent for longer than
  ``--half-open-timeout``, up to the end of the capture.
* ``challenge_ack`` -- a rebooted client's SYN on its old port lands on the
  server's still-open connection; the server answers with a bare ACK carrying
  the old numbers (RFC 5961 section 4), the client resets it and retries.
"""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..model.connection import HS_ACK, HS_SYNACK, Connection, Endpoint
from ..engine.folding import EMBRYONIC
from ..model.states import CLOSED, STATE_NAMES, SYNACK_ANSWER_TIME, SYNCHRONIZED, TIME_WAIT
from .base import (Anomaly, Instance, Option, clients_of, eventful, grouped, ids, plural, report_time, retry_delay,
                   service, span_text, with_folds)
from .scans import scanned

TYPE = "half_open"
SEVERITY = "warning"
OPTIONS = (
    Option("--half-open-timeout", "half_open_timeout", 5.0,
           "Seconds a side may retransmit into silence before its peer is called gone: "
           "5 s spans several retransmission timeouts.", positive=True),
    Option("--syn-flood-threshold", "syn_flood_threshold", 100,
           "Unacknowledged SYN-ACKs from one service that make a SYN flood: 100 is far above "
           "the handful a lossy network leaves.", int, "N", positive=True),
)
EXPLANATION = (
    "One side still believes the connection is open while the other has lost it or never "
    "completed it: a crashed or rebooted peer (peer_reset, challenge_ack), a SYN-ACK never "
    "acknowledged (embryonic; many = a SYN flood), or a side retransmitting into silence "
    "(unanswered). Fix the peer (crash, reboot, firewall state loss); enable TCP keepalive so "
    "dead peers are found; for floods, SYN cookies and rate limits."
)


def detect(analysis, cfg) -> list[Anomaly]:
    conns = analysis.connections
    # Grouped per server service and kind: a server that rebooted under 700
    # clients is one finding, "which service, how many, since when".
    # (A RST and a challenge ACK are recorded on the rare fields.)
    out = grouped(TYPE, _peer_reset(eventful(analysis)), _peer_reset_summary, by=_kind)
    out += _embryonic(analysis, cfg["syn_flood_threshold"], scanned(analysis, cfg))
    out += grouped(TYPE, _unanswered(conns, cfg["half_open_timeout"]), _unanswered_summary, by=_kind)
    out += grouped(TYPE, _challenge_ack(eventful(analysis)), _challenge_ack_summary, by=_kind)
    return out


def _kind(instance) -> str:
    return instance.details["kind"]


@cython.locals(c=Connection)
def _peer_reset(conns):
    out = []
    for c in conns:
        if c.rare.reset_by is None or c.rare.rst_ack or c.rare.rst_prior is None or not c.hs & HS_ACK:
            continue
        sender_prior, receiver_prior = c.rare.rst_prior
        if sender_prior not in SYNCHRONIZED or receiver_prior not in SYNCHRONIZED or c.rare.reset_by.fin_seq >= 0:
            continue
        lost = c.rare.reset_by
        kept = c.server if lost is c.client else c.client
        lost_by, kept_by = service(lost), service(kept)
        out.append(Instance(
            service(c.server), c.rare.rst_time, [c.id],
            f"{lost_by} answered {kept_by} with a bare RST (no ACK) although it never "
            f"closed the connection: it had lost it (crashed or rebooted); {kept_by} kept it "
            f"{STATE_NAMES[receiver_prior]} until then",
            {"kind": "peer_reset", "lost_by": lost_by, "kept_by": kept_by,
             "kept_state": STATE_NAMES[receiver_prior], "idle_before": None}, SEVERITY))
    return out


def _peer_reset_summary(svc, group):
    example = group[0].details
    kept = {i.details["kept_state"] for i in group}
    kept_text = kept.pop() if len(kept) == 1 else "open"
    by_server = sum(1 for i in group if i.details["lost_by"] == svc)
    n, span = len(group), span_text(group)
    if not by_server:
        return (f"{svc}: {n} clients answered with a bare RST (no ACK) although they never closed "
                f"the connection, {span} (e.g. {example['lost_by']}): they had lost it (crashed or "
                f"rebooted); the server kept them {kept_text}")
    if by_server == n:
        return (f"{svc} answered {n} clients with a bare RST (no ACK) although it never closed the "
                f"connections, {span} (e.g. {example['kept_by']}): it had lost them (crashed or "
                f"restarted); the clients kept them {kept_text}")
    return (f"{svc}: {n} connections answered with a bare RST (no ACK) by a side that never closed "
            f"them ({n - by_server} by the client, {by_server} by the server), {span} (e.g. "
            f"{example['lost_by']} to {example['kept_by']}): that side had lost them (crashed or "
            f"rebooted)")


@cython.locals(c=Connection)
def _embryonic(analysis, flood_threshold, claimed):
    # A SYN-ACK younger than the initial RTO when the capture ends may simply
    # not have been answered yet: not evidence of anything.
    end = analysis.stats.end or 0.0
    # (The handshake bits first: they rule out nearly every connection at the
    # cost of one test, before folding.kind_of says the same in full.)
    settled = [c for c in analysis.connections
               if c.hs & HS_SYNACK and not c.hs & HS_ACK
               and (c.server.syn_count > 1 or end - c.server.syn_time >= SYNACK_ANSWER_TIME)
               and c.id not in claimed]  # a half-open scan's open ports: port_scan tells them
    out = []
    for svc, group, fold in with_folds(settled, analysis, EMBRYONIC):
        sources = clients_of(group, fold)
        count, cookies = len(group), sum(1 for c in group if c.rare.syn_cookie)
        held = sum(1 for c in group if c.server.state != CLOSED)
        first = min((c.server.syn_time for c in group), default=None)
        last = max((c.server.syn_time for c in group), default=None)
        if fold is not None:
            count += fold.count
            cookies += fold.syn_cookies
            held += fold.held
            first = fold.first if first is None else min(first, fold.first)
            last = fold.last if last is None else max(last, fold.last)
        flood = count >= flood_threshold
        # Past the report's cap, distinct sources are known only as a lower
        # bound: the folded ones are kept as a sketch of the heaviest.
        at_least = "at least " if fold is not None else ""
        if flood:
            msg = (f"SYN flood toward {svc}: {count} SYN-ACKs never acknowledged, from {at_least}"
                   f"{plural(len(sources), 'source address', 'source addresses')}; {held} left in "
                   f"SYN_RECEIVED at the end, {cookies} answered with SYN cookies (no state kept)")
        else:
            msg = (f"{svc} sent {plural(count, 'SYN-ACK')} that no client acknowledged "
                   f"({held} still SYN_RECEIVED at the end): the SYN's sender never completed "
                   f"the handshake")
        out.append(Anomaly(
            TYPE, "critical" if flood else SEVERITY, first, ids(group), msg,
            {"kind": "embryonic", "service": svc, "count": count,
             "first_time": report_time(first), "last_time": report_time(last), "sources": len(sources),
             "syn_flood": flood, "syn_received_at_end": held, "syn_cookies": cookies,
             "omitted": fold.count if fold is not None else 0,
             "top_sources": [{"endpoint": a, "count": n} for a, n in sources.most_common(5)]}))
    return out


@cython.locals(c=Connection, client=Endpoint, server=Endpoint, x=Endpoint, y=Endpoint)
def _unanswered(conns, timeout):
    out = []
    for c in conns:
        client, server = c.client, c.server
        if client.rxmt_time < 0 and client.rare.probe_time < 0 and server.rxmt_time < 0 and server.rare.probe_time < 0:
            continue  # neither side retransmitted nor probed: nothing went unanswered
        for x, y in ((client, server), (server, client)):
            if not y.packets:
                continue  # a one-sided capture: silence is the capture's, not the peer's
            last_try = max(x.rxmt_time, x.rare.probe_time)
            if last_try <= y.last_time or last_try - y.last_time < timeout:
                continue
            silent = last_try - y.last_time
            what = "retransmitting" if x.rxmt_time > y.last_time else "sending keepalive probes"
            out.append(Instance(
                service(server), y.last_time + timeout, [c.id],
                f"{service(x)} kept {what} for {silent:.1f} s with no answer from {service(y)}, "
                f"which had answered before: the peer is gone (crashed, unplugged, or a firewall "
                f"dropped the state) while {service(x)} still holds the connection",
                {"kind": "unanswered", "sender": service(x), "silent_peer": service(y),
                 "silent_for": round(silent, 3), "retransmissions": x.retransmits,
                 "keepalive_probes": x.rare.probes}, SEVERITY))
    return out


def _unanswered_summary(svc, group):
    example = group[0].details
    longest = max(i.details["silent_for"] for i in group)
    return (f"{svc}: on {len(group)} connections one side kept retransmitting or probing with no "
            f"answer from a peer that had answered before, {span_text(group)} (e.g. "
            f"{example['sender']} to {example['silent_peer']}; silent up to {longest:.1f} s): the "
            f"peers are gone (crashed, unplugged, or a firewall dropped the state)")


@cython.locals(old=Connection)
def _challenge_ack(conns):
    out = []
    for old in conns:
        if old.rare.challenge_time < 0 or old.rare.challenge_state == TIME_WAIT:
            continue
        new = old.rare.superseded
        delay = retry_delay(new)
        out.append(Instance(
            service(old.server), old.rare.challenge_time, [old.id] + ([new.id] if new is not None else []),
            f"{service(old.client)} reconnected from the same port while {service(old.server)} still "
            f"held the old connection ({STATE_NAMES[old.rare.challenge_state]}): the server answered "
            f"the new SYN with a challenge ACK carrying the old numbers (RFC 5961 4), the client "
            f"reset the old connection" + (f" and its retried SYN got through after {delay * 1000:.0f} ms"
                                           if delay is not None else ""),
            {"kind": "challenge_ack", "client": service(old.client), "server": service(old.server),
             "server_state": STATE_NAMES[old.rare.challenge_state],
             "retry_delay": None if delay is None else round(delay, 6)}, SEVERITY))
    return out


def _challenge_ack_summary(svc, group):
    example = group[0].details
    return (f"{svc}: {len(group)} clients reconnected from a port the server still held open, "
            f"{span_text(group)} (e.g. {example['client']}, {example['server_state']}): the server "
            f"answered each new SYN with a challenge ACK carrying the old numbers (RFC 5961 4) and "
            f"the client reset the old connection")
