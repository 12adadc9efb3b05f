"""What the capture cannot show, inferred when it ends: kernel timers and silence.

Applied to every connection at the end of the capture (``settle``), or
earlier to a finished connection folded away to bound memory.  Each change
is dated when it happened, not when it was inferred; ``on_change``, if
given, is told of each (``observer.Observer.timer``).
"""
from __future__ import annotations

from ..model.connection import (
    EVIDENCE_INFERRED, EVIDENCE_UNKNOWN, HS_ACK, HS_SYNACK, SEQ_HALF, SEQ_MASK, Connection, Endpoint,
    own_connection_rare, seq_ge,
)
from ..model.states import (
    CLOSE_WAIT, CLOSED, CLOSING, ESTABLISHED, FIN_WAIT_1, LAST_ACK, UNKNOWN, FIN_ANSWER_TIME, FIN_WAIT_2, SYN_RECEIVED, SYN_RECEIVED_TIMEOUT, SYN_SENT, SYN_SENT_TIMEOUT,
    LOST_ANSWER_WAIT, SYNACK_ANSWER_TIME, SYNACK_RETRANSMIT_WAIT, SYNCHRONIZED, TIME_WAIT,
)
from .endpoint import fin_acked, receive_fin, set_state

# Linux's minimum retransmission timeout (TCP_RTO_MIN, 200 ms): a segment
# still unacknowledged after it is sent again, the wait doubling each time.
RTO_MIN = 0.2

# A FIN or data segment still unacknowledged LOST_ANSWER_WAIT (model.states)
# before the capture's end, yet never retransmitted, was acknowledged: the
# capture lost the answer.  On a long path the wait is at least
# LOST_ANSWER_RTTS round trips of the handshake.
LOST_ANSWER_RTTS = 5


def settle(conn: Connection, end_ts: float, options, on_change=None) -> None:
    """Silence, then each endpoint's timers, judged at ``end_ts``."""
    if on_change is not None:
        # Each endpoint's history so far, to tell the observer what moved.
        marks = (len(conn.client.trans_flat), len(conn.server.trans_flat))
    settle_with(conn, end_ts, options.unanswered, options.time_wait, options.fin_timeout)
    if on_change is None:
        return
    for side, ep, mark in (("client", conn.client, marks[0]), ("server", conn.server, marks[1])):
        flat = ep.trans_flat
        for i in range(mark, len(flat), 2):
            on_change(conn, side, flat[i - 1], flat[i + 1], flat[i])


def settle_with(conn: Connection, end_ts: float, unanswered, time_wait, fin_timeout) -> None:
    """``settle`` without an observer, the options' values given (a table
    reads them once, not three attributes for each connection)."""
    infer_from_silence(conn, end_ts, unanswered)
    apply_timers(conn.client, end_ts, time_wait, fin_timeout)
    apply_timers(conn.server, end_ts, time_wait, fin_timeout)


def infer_from_silence(conn: Connection, end_ts: float, unanswered: float) -> None:
    """What silence says about a peer, judged at the end of the capture."""
    c, s = conn.client, conn.server
    if conn.one_sided:
        infer_unseen(conn, end_ts)
    elif c.state == SYN_SENT:
        # (A handshake never answered has no FIN or data for
        # infer_lost_answers to judge.)
        lone_syn(conn, end_ts)
    elif c.packets and s.packets:
        infer_lost_answers(conn, end_ts)
    # fin_arrived's first tests, written out: nearly every connection ends
    # with both FINs acknowledged, and the pure build pays a call per test.
    if s.fin_seq >= 0 and not c.got_fin:
        fin_arrived(c, s, end_ts)
    if c.fin_seq >= 0 and not s.got_fin:
        fin_arrived(s, c, end_ts)
    # A SYN-ACK that the client never answered -- no ACK, no retransmitted
    # SYN -- for longer than the initial RTO did not reach a live TCB: the
    # SYN was spoofed, stale, or its sender is gone (an embryonic half-open
    # connection).  A live client answers within one round trip.
    if (conn.hs & HS_SYNACK and not conn.hs & HS_ACK and c.state == ESTABLISHED
            and c.last_time <= s.syn_time and end_ts - s.syn_time >= SYNACK_ANSWER_TIME):
        # Dated at the SYN-ACK: the client never was open, and a view of any
        # earlier moment must not show it ESTABLISHED.
        set_state(c, CLOSED, s.syn_time)
    # A request socket retransmits its SYN-ACK after the initial RTO; a SYN-ACK
    # never repeated though unanswered came from a SYN cookie (Linux
    # tcp_syncookies), for which the server keeps no state at all.
    if (s.state == SYN_RECEIVED and s.syn_count == 1 and not conn.hs & HS_ACK
            and end_ts - s.syn_time >= SYNACK_RETRANSMIT_WAIT):
        set_state(s, CLOSED, s.syn_time)
        own_connection_rare(conn).syn_cookie = True
    # peer_gone's first test likewise: few endpoints retransmitted last.
    if c.rxmt_time > s.last_time:
        peer_gone(c, s, unanswered)
    if s.rxmt_time > c.last_time:
        peer_gone(s, c, unanswered)


def fin_arrived(x: Endpoint, y: Endpoint, end_ts: float) -> None:
    """y's FIN among the capture's last moments, not yet acknowledged by x.

    A FIN that arrives is acknowledged at once, one that is lost is
    retransmitted after at least the minimum RTO (200 ms on Linux).  Within
    that window the capture simply ended before the answer: the FIN arrived
    (packets on the wire almost always do).  Later, silence says it did not.
    """
    if (y.fin_seq >= 0 and not x.got_fin and x.state in SYNCHRONIZED and y.state != CLOSED
            and end_ts - y.fin_time < FIN_ANSWER_TIME and x.last_time <= y.fin_time):
        receive_fin(x, y.fin_time)


def peer_gone(x: Endpoint, y: Endpoint, unanswered: float) -> None:
    """x retransmitting into y's silence for longer than ``unanswered``
    (several RTOs): y, which used to answer, has lost the connection."""
    rxmt_time, last_time = x.rxmt_time, y.last_time
    if (rxmt_time > last_time and y.packets and y.state in SYNCHRONIZED and x.state in SYNCHRONIZED
            and rxmt_time - last_time >= unanswered):
        set_state(y, CLOSED, y.last_time + unanswered)


def handshake_rtt(conn: Connection) -> float:
    """The SYN to SYN-ACK time the capture shows (0 if it shows no handshake)."""
    c, s = conn.client, conn.server
    if c.last_syn_time >= 0 and s.syn_time >= c.last_syn_time:
        return s.syn_time - c.last_syn_time
    return 0.0


def lost_answer_wait(conn: Connection) -> float:
    """How long a segment goes unanswered and never retransmitted before
    silence proves its answer was lost (LOST_ANSWER_WAIT, LOST_ANSWER_RTTS)."""
    return max(LOST_ANSWER_WAIT, LOST_ANSWER_RTTS * handshake_rtt(conn))


def _event_time(event) -> float:
    return event[0]


def infer_lost_answers(conn: Connection, end_ts: float) -> None:
    """A two-way capture that lost packets (issue #16: tcpdump drops under
    load): what its silences and gaps prove, judged at the end, in the order
    the lost packets were sent.

    * ``fin_guess``: a side's peer acknowledged one sequence number past its
      last byte and the side sent nothing more: its FIN, lost by the
      capture (a FIN takes one sequence number, RFC 9293 3.4).
    * A FIN sent once, never acknowledged, never retransmitted though the
      capture went on for LOST_ANSWER_WAIT: its ACK was lost by the capture
      (a lost FIN is retransmitted after the RTO: Linux
      tcp_retransmit_timer).  The receiver had it (ESTABLISHED ->
      CLOSE_WAIT ...), the sender's FIN was acknowledged (FIN_WAIT_1 ->
      FIN_WAIT_2 ...).  Unless the receiver's own later packets still
      acknowledge below the FIN: then the capture contradicts itself, and
      neither side's state can be told (UNKNOWN).
    * Data never acknowledged nor retransmitted likewise: the states stand,
      but rest on an answer the capture lost (``state_evidence`` inferred).
    """
    events = []
    lost_answer(conn, conn.client, conn.server, end_ts, events)
    lost_answer(conn, conn.server, conn.client, end_ts, events)
    if not events:
        return
    events.sort(key=_event_time)
    for t, kind, x, y in events:
        if kind == 0:
            lost_fin(conn, x, y, t)
        else:
            lost_fin_ack(conn, x, y, t)


def lost_answer(conn: Connection, x: Endpoint, y: Endpoint, end_ts: float, events: list) -> None:
    """``infer_lost_answers`` for x's FIN and data: the lost FIN or FIN
    acknowledgment onto ``events`` as (time, kind, x, y), the evidence a
    lost data acknowledgment leaves onto the connection."""
    # Most connections ended answered: the tests are ordered so that theirs
    # fail at the first cheap one, and the wait (never below
    # LOST_ANSWER_WAIT) is worked out only for a segment that waited that.
    if x.fin_seq < 0:
        if x.rare.fin_guess >= 0:
            events.append((x.rare.fin_guess_time, 0, x, y))
    elif x.fin_count == 1 and not y.got_fin:
        # (A FIN y has needs no answer: lost_fin_ack would do nothing,
        # and nothing takes a FIN back.)
        waited = end_ts - x.fin_time
        if waited >= LOST_ANSWER_WAIT and waited >= lost_answer_wait(conn):
            events.append((x.fin_time, 1, x, y))
    seg_time, rxmt_time = x.seg_time, x.rxmt_time
    if (conn.evidence < EVIDENCE_INFERRED and seg_time >= 0 and rxmt_time < seg_time
            and end_ts - seg_time >= LOST_ANSWER_WAIT and y.rcv_nxt >= 0 and conn.rare.reset_by is None):
        data_end = x.fin_seq if x.fin_seq >= 0 else x.snd_nxt
        # not seq_ge(y.rcv_nxt, data_end), written out: nearly every
        # connection gets this far, twice.
        if (data_end >= 0 and ((y.rcv_nxt - data_end) & SEQ_MASK) >= SEQ_HALF
                and end_ts - seg_time >= lost_answer_wait(conn)):
            conn.evidence = EVIDENCE_INFERRED


def lost_fin(conn: Connection, x: Endpoint, y: Endpoint, t: float) -> None:
    """x's FIN, which y acknowledged at ``t``, is missing from the capture."""
    guess = x.rare.fin_guess
    if not (x.fin_seq < 0 and x.snd_nxt == guess and y.rcv_nxt == guess and not y.got_fin
            and x.state in SYNCHRONIZED and y.state in SYNCHRONIZED):
        return
    x.fin_seq = (guess - 1) & SEQ_MASK
    x.fin_time = t
    x.active_close = not x.got_fin
    st = x.state
    if st == ESTABLISHED:
        set_state(x, FIN_WAIT_1, t)
    elif st == CLOSE_WAIT:
        set_state(x, LAST_ACK, t)
    fin_acked(conn, x, y, t)
    conn.evidence = max(conn.evidence, EVIDENCE_INFERRED)


def lost_fin_ack(conn: Connection, x: Endpoint, y: Endpoint, t: float) -> None:
    """x's FIN went out once at ``t`` and was never answered nor retransmitted."""
    if y.got_fin or x.state not in (FIN_WAIT_1, CLOSING, LAST_ACK) or y.state not in SYNCHRONIZED:
        return
    if y.last_time > t + max(RTO_MIN, 2 * handshake_rtt(conn)) and y.rcv_nxt >= 0 \
            and not seq_ge(y.rcv_nxt, (x.fin_seq + 1) & SEQ_MASK) and y.state not in (CLOSED, TIME_WAIT):
        # y kept sending, acknowledging below the FIN, long after the FIN
        # would have reached it -- yet x never sent the FIN again.  Either
        # the FIN was lost (then x's retransmissions were lost too) or y's
        # acknowledgments were: nothing makes one more likely.
        set_state(x, UNKNOWN, t)
        set_state(y, UNKNOWN, t)
        conn.evidence = EVIDENCE_UNKNOWN
        return
    fin_acked(conn, x, y, t)
    conn.evidence = max(conn.evidence, EVIDENCE_INFERRED)


def lone_syn(conn: Connection, end_ts: float) -> None:
    """The client's SYN, sent once and never answered -- no SYN-ACK, no RST
    it would accept -- nor repeated, although the capture goes on for
    LOST_ANSWER_WAIT (issue #16: a capture filtered to SYNs, or one that
    lost the SYN-ACK and everything after it).

    A socket in SYN_SENT retransmits its SYN when the initial RTO runs out
    (1 s: RFC 6298 2.1, Linux TCP_TIMEOUT_INIT; then every second for
    tcp_syn_linear_timeouts=4 tries since Linux 6.5, after 1, 3, 7, 15 s
    before), and tcp_syn_retries is never below 1.  So a second after its
    SYN the sender was no longer in SYN_SENT: a SYN-ACK the capture lacks
    had made it ESTABLISHED (and anything after: the capture would not show
    its close either), a RST it lacks had made it CLOSED, its application
    gave up (close() in SYN_SENT sends nothing), or no socket sent the SYN
    at all (a spoofed one).  Nothing in the capture tells these apart, nor
    what the server holds: both states are UNKNOWN, dated at the SYN --
    not a SYN_SENT the kernel would have shown retransmitting, nor a guess
    (sample_pcaps/syns_only, captured with 'tcp[tcpflags] == tcp-syn',
    holds lone SYNs whose sockets ss shows ESTAB, TIME-WAIT and gone,
    refused).  Within LOST_ANSWER_WAIT of the capture's end
    SYN_SENT stands: the answer, or the SYN again, may come just after.  A
    SYN that was repeated stays SYN_SENT: its sender was there, unanswered,
    at least until its last SYN.
    """
    c, s = conn.client, conn.server
    if c.syn_count != 1 or s.syn_count or end_ts - c.syn_time < LOST_ANSWER_WAIT:
        return
    t = c.syn_time
    set_state(c, UNKNOWN, t)
    set_state(s, UNKNOWN, t)
    conn.evidence = EVIDENCE_UNKNOWN


def infer_unseen(conn: Connection, end_ts: float) -> None:
    """A connection whose packets the capture shows one way only.

    ``endpoint.unseen_peer_ack`` moved the unseen side as far as the seen
    side's acknowledgments prove; here, at the end, what the seen side's
    silence proves: a FIN it sent and never retransmitted was acknowledged
    (Linux retransmits an unacknowledged FIN after the RTO, at least 200 ms,
    doubling: tcp_retransmit_timer), so it reached the peer.
    """
    if conn.one_sided == 1:
        x, y = conn.client, conn.server
    else:
        x, y = conn.server, conn.client
    if y.packets:
        # The peer showed up after all: a two-way capture that missed its
        # first packets, not a one-way one.
        conn.one_sided = 0
        return
    conn.evidence = EVIDENCE_INFERRED
    if (y.rare.unseen_step == 1 and y.fin_seq < 0 and x.fin_seq < 0 and not x.got_fin and y.state == ESTABLISHED
            and x.state == ESTABLISHED):
        # x's acknowledgment last moved by exactly one and never again: the
        # peer's FIN (it takes one sequence number, RFC 9293 3.4; a last
        # segment of one byte is rare), which x acknowledged (CLOSE_WAIT:
        # its application has not closed) -- the peer sits in FIN_WAIT_2.
        t = y.rare.unseen_time
        y.fin_seq = (x.rcv_nxt - 1) & 0xFFFFFFFF
        y.fin_time = t
        y.active_close = True
        set_state(y, FIN_WAIT_1, t)
        receive_fin(x, t)
        set_state(y, FIN_WAIT_2, t)
    # x's FIN, sent once, reached y: a FIN on the wire almost always arrives
    # (the FIN_ANSWER_TIME rule below, for a capture that ends right after
    # it) and a lost one is sent again.  A FIN x kept retransmitting up to
    # the capture's end (the next retransmission, RTO doubled, not yet due)
    # is left unacknowledged.
    if (x.fin_seq >= 0 and not y.got_fin and y.state in SYNCHRONIZED and x.fin_count
            and (x.fin_count == 1 or end_ts - x.last_fin_time >= RTO_MIN * (1 << min(x.fin_count - 1, 16)))):
        t = x.last_fin_time
        fin_acked(conn, x, y, t)


def apply_timers(ep: Endpoint, end_ts: float, time_wait: float, fin_timeout: float) -> None:
    """The endpoint's own timer, if it ran out before ``end_ts``."""
    st = ep.state
    if st == TIME_WAIT:
        if end_ts - ep.state_time >= time_wait:
            set_state(ep, CLOSED, ep.state_time + time_wait)
    elif st == FIN_WAIT_2:
        if not ep.rare.fw2_live and end_ts - ep.state_time >= fin_timeout:
            set_state(ep, CLOSED, ep.state_time + fin_timeout)
    elif st == SYN_SENT:
        if ep.syn_time >= 0 and end_ts - ep.syn_time >= SYN_SENT_TIMEOUT:
            set_state(ep, CLOSED, ep.syn_time + SYN_SENT_TIMEOUT)
    elif st == SYN_RECEIVED:
        if end_ts - ep.state_time >= SYN_RECEIVED_TIMEOUT:
            set_state(ep, CLOSED, ep.state_time + SYN_RECEIVED_TIMEOUT)
