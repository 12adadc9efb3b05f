"""The RFC 9293 state machine of one endpoint, driven passively from the wire.

Each endpoint runs its own copy of the state diagram (RFC 9293 section
3.3.2), moved by what it sends and by what it can be seen to have received:

* what an endpoint *sends* moves its own state (SYN, FIN, RST: ``control``);
* what it *acknowledges* shows what it has received (``receipts``): an ACK
  covering the peer's FIN (FIN sequence number + 1) is the evidence that the
  FIN arrived, so the acknowledging side moves (ESTABLISHED -> CLOSE_WAIT,
  FIN_WAIT_2 -> TIME_WAIT ...), never the mere sight of the FIN on the wire
  -- a FIN that a capture shows may still be dropped before the peer's socket;
* the ACK itself is taken as delivered to the side it acknowledges, which is
  then moved (FIN_WAIT_1 -> FIN_WAIT_2, LAST_ACK -> CLOSED ...).

Every state change, seen on the wire or inferred later from timers
(``timers``), goes through ``set_state``.
"""
from __future__ import annotations

from sys import intern

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..decode import ACK, FIN, RST, SYN
from ..model.connection import (
    EVIDENCE_INFERRED, HS_ACK, HS_OVERFLOW, HS_SIMOPEN, HS_SYN, HS_SYNACK, SEQ_HALF, SEQ_MASK, Endpoint, Transitions,
    ended_history, own_connection_rare, own_rare, seq_ge,
)
from ..model.states import (
    CLOSE_WAIT, CLOSED, CLOSING, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, LAST_ACK, LISTEN, SYN_RECEIVED,
    SYN_SENT, TIME_WAIT, UNKNOWN,
)


# A copy of an endpoint's latest segment (same sequence and acknowledgment
# numbers, same flags) this soon after it (seconds) is the capture seeing one
# packet twice: ``tcpdump -i any`` on a router or bridge records each
# forwarded packet on the way in and on the way out, microseconds apart.  The
# sender itself cannot repeat a segment this soon: a retransmission waits
# for the RTO (at least 200 ms on Linux), a tail loss probe for its PTO
# (2 RTT + 2 ms at least), and a fast retransmission for three duplicate
# ACKs, and it retransmits the oldest unacknowledged segment, not the one
# it just sent.
# (The table checks data segments against it, ``control`` SYNs and FINs.)
DUP_WINDOW = 0.002


# (A module constant: the pure build's test of it per change of state is one
# load.)
_COMPILED = cython.compiled


def set_state(ep: Endpoint, state: int, ts: float) -> None:
    """``ep`` is in ``state`` from ``ts`` on: the one place a state is written."""
    if ep.state != state:
        trans = ep.trans_flat
        ep.state = state
        if _COMPILED and type(trans) is Transitions:
            # (model.connection.new_history: in C, the time's clamp too.)
            ep.state_time = cython.cast(Transitions, trans).add(ts, state)
        else:
            # A capture's timestamps can go backwards (merged interfaces,
            # clock steps); an endpoint's history must not.
            if trans and ts < trans[-2]:
                ts = trans[-2]
            ep.state_time = ts
            if type(trans) is list:
                trans.append(ts)
                trans.append(state)
            else:
                # Ended (``check_ended``): the rare change after, a tuple anew.
                ep.trans_flat = trans + (ts, state)
        if state == TIME_WAIT:
            ep.tw_entries += 1


def withdraw_established(ep: Endpoint) -> None:
    """``ep`` never left SYN_RECEIVED: a later segment of its own proved the
    ESTABLISHED inferred from the peer's acknowledgment wrong.

    The one change of state not made by ``set_state``: it takes back an
    inference rather than recording a move, so the endpoint's history reads
    as the kernel's did (SYN_RECEIVED throughout, dated from when it began).
    """
    trans = ep.trans_flat
    if len(trans) >= 4 and trans[-1] == ESTABLISHED and trans[-3] == SYN_RECEIVED:
        trans = ep.trans_flat = trans[:-2]
        ep.state = SYN_RECEIVED
        ep.state_time = trans[-2]


def acks_syn(ep: Endpoint, ack: int) -> bool:
    """Does ``ack`` acknowledge ep's SYN (and at most what ep sent with it)?"""
    isn = ep.isn
    if isn < 0:
        return False
    # seq_ge written out: this runs for every SYN-ACK.
    nxt = ep.snd_nxt
    return ((ack - isn - 1) & SEQ_MASK) < SEQ_HALF and (nxt < 0 or ((nxt - ack) & SEQ_MASK) < SEQ_HALF)


def receive_fin(x: Endpoint, ts: float) -> None:
    """x has the peer's FIN (RFC 9293 3.10.7.4, "eighth, check the FIN bit")."""
    x.got_fin = True
    x.got_fin_time = ts
    st = x.state
    if st == ESTABLISHED or st == SYN_RECEIVED or st == UNKNOWN:
        set_state(x, CLOSE_WAIT, ts)
    elif st == FIN_WAIT_1:
        set_state(x, CLOSING, ts)
    elif st == FIN_WAIT_2:
        set_state(x, TIME_WAIT, ts)


def fin_acked(conn, sender: Endpoint, receiver: Endpoint, ts: float) -> None:
    """The receiver has the sender's FIN and the sender learns it arrived
    (RFC 9293 3.10.7.4, "if our FIN is now acknowledged"): FIN_WAIT_1 ->
    FIN_WAIT_2, CLOSING -> TIME_WAIT, LAST_ACK -> CLOSED."""
    receive_fin(receiver, ts)
    st = sender.state
    if st == FIN_WAIT_1:
        set_state(sender, FIN_WAIT_2, ts)
    elif st == CLOSING:
        set_state(sender, TIME_WAIT, ts)
    elif st == LAST_ACK:
        set_state(sender, CLOSED, ts)
    check_ended(conn)


def _done(state: int) -> bool:
    """An endpoint's TCB is gone or going: CLOSED, or TIME_WAIT."""
    return state == CLOSED or state == TIME_WAIT


def check_ended(conn) -> None:
    """Both sides closed: a new SYN on the 4-tuple starts a new instance."""
    if _done(conn.client.state) and _done(conn.server.state):
        if not conn.ended:
            # Each side's history, grown by appending while the connection
            # lived, kept from now on as it will stay (``ended_history``): it
            # held room to grow (a list, 16 slots for the usual 12 items; a
            # Transitions, 8 changes for the usual 6), and nearly every
            # connection of a long capture is an ended one by its end.
            # Growing it exactly instead costs a copy per change of state.
            conn.client.trans_flat = ended_history(conn.client.trans_flat)
            conn.server.trans_flat = ended_history(conn.server.trans_flat)
            # Zeek's history letters so far, one string for every connection
            # that went the same way (40 distinct among the 2M bench
            # capture's 101,447), not a string of its own each.
            conn.hist = intern(conn.hist)
        conn.ended = True
        conn.route_check = True


def receipts(conn, x, y, upper, ts, ack, flags, plen) -> None:
    """What a segment from x shows x has received, and what y now knows."""
    if x.first_time < 0:
        x.first_time = ts
    xst = x.state
    if xst == UNKNOWN and not flags & (SYN | RST):
        # Any non-SYN segment comes from a synchronized TCB.
        set_state(x, ESTABLISHED, ts)
    elif xst == SYN_RECEIVED and conn.hs & HS_OVERFLOW and not flags & (SYN | RST):
        # A listener whose full accept queue dropped the client's ACKs sends
        # nothing but SYN-ACKs from its request socket; its first other
        # segment comes from the child socket made when one of the client's
        # segments at last found room (Linux tcp_check_req ->
        # syn_recv_sock).  That segment is the client's last one.
        set_state(x, ESTABLISHED, max(y.last_time, x.state_time))
    if not flags & ACK or flags & RST:
        # Acknowledgment numbers in RSTs are not trusted (as Zeek).
        return
    # x acknowledges y's SYN: the handshake moves on.  (Here and below
    # seq_ge is written out: this runs for every segment off the common
    # path.)
    yst = y.state
    if (yst == SYN_SENT or yst == SYN_RECEIVED) and y.isn >= 0 and ((ack - y.isn - 1) & SEQ_MASK) < SEQ_HALF:
        if y.state == SYN_SENT and flags & SYN:
            # y gets the SYN-ACK it waited for (RFC 9293 3.10.7.3).
            set_state(y, ESTABLISHED, ts)
        elif y.state == SYN_SENT and (plen or flags & FIN) and not x.syn_count and acks_syn(y, ack):
            lost_synack(conn, x, y, ts)
        elif y.state == SYN_RECEIVED and not (conn.hs & HS_OVERFLOW and upper):
            # The handshake's final ACK (or, in a simultaneous open, the
            # peer's SYN-ACK) reaches y.  Not so once y's listener is known to
            # drop the client's ACKs (HS_OVERFLOW): they reach its request
            # socket only when the accept queue has room, which y's own next
            # segment shows (above).
            set_state(y, ESTABLISHED, ts)
            if not flags & SYN and upper:
                conn.hs |= HS_ACK
            elif conn.hs & HS_SIMOPEN and x.state == ESTABLISHED:
                # A simultaneous open is complete when the second of the two
                # SYNs is acknowledged, by a SYN-ACK or a bare ACK (RFC 9293
                # 3.5 figure 8: both ends go SYN_RECEIVED -> ESTABLISHED).
                conn.hs |= HS_ACK
    # x acknowledges y's FIN: x has received it; y learns it arrived.
    if y.fin_seq >= 0 and not x.got_fin and ((ack - y.fin_seq - 1) & SEQ_MASK) < SEQ_HALF:
        fin_acked(conn, y, x, ts)
    elif x.state == TIME_WAIT and x.got_fin:
        # A TIME_WAIT socket re-acknowledging a retransmitted FIN restarts
        # its 2*MSL timer (Linux: tcp_timewait_state_process).
        x.state_time = ts
    rn = x.rcv_nxt
    if rn >= 0 and ack != rn and ((ack - rn) & SEQ_MASK) < SEQ_HALF:
        # x's acknowledgment advanced: y is sending, so y is synchronized.
        if y.state == UNKNOWN:
            set_state(y, ESTABLISHED, ts)
        if x.state == FIN_WAIT_2:
            # Data still arriving in FIN_WAIT_2: the application shut down
            # only its sending side; tcp_fin_timeout does not apply.
            rare = own_rare(x)
            rare.fw2_live = True


def lost_synack(conn, x: Endpoint, y: Endpoint, ts: float) -> None:
    """x, never seen to send a SYN, sends data or a FIN that acknowledges
    y's SYN (and nothing y did not send): its SYN-ACK, and y's ACK of it,
    are missing from the capture (issue #16: a capture that lost them, or
    filtered them out).

    Only a synchronized TCB sends data or a FIN (RFC 9293 3.10.7.4; a Linux
    request socket, SYN_RECEIVED, sends nothing but its SYN-ACK: the socket
    that sends is the child made when the client's ACK arrives,
    tcp_check_req).  So x had y's ACK of its SYN-ACK, and y, which sent
    that ACK, had the SYN-ACK: both ESTABLISHED from this segment on,
    inferred.  Without this y would stay SYN_SENT to the end, with the
    server talking to it.  A bare ACK is not enough: a split handshake
    (the server's ACK, then its own SYN) starts with one, and a SYN_SENT
    socket drops it (RFC 9293 3.10.7.3, "fifth").  (A challenge ACK or a
    TIME_WAIT socket's ACK carries an old connection's numbers:
    acknowledging this SYN exactly is a one-in-2**32 accident.)
    """
    if x.state == CLOSED or x.state == LISTEN or x.state == UNKNOWN:
        set_state(x, SYN_RECEIVED, ts)
    set_state(x, ESTABLISHED, ts)
    set_state(y, ESTABLISHED, ts)
    conn.hs |= HS_SYNACK | HS_ACK
    conn.evidence = max(conn.evidence, EVIDENCE_INFERRED)


def control(conn, x, y, upper, ts, seq, ack, flags, plen, wscale) -> None:
    """The effects of SYN, FIN and RST sent by x on the endpoint states
    (its history letters: written first, in ``ConnectionTable.segment``)."""
    if not flags & RST:
        sig = seq | (flags << 32)   # a SYN-ACK after a SYN (simultaneous open) is no copy of it
        if sig == x.ctl_seq and ts - x.ctl_time < DUP_WINDOW:
            # The capture holds this SYN or FIN twice (table.DUP_WINDOW): not
            # a SYN retry, nor a retransmitted FIN.
            rare = own_rare(x)
            rare.ctl_duplicates += 1
            return
        x.ctl_seq = sig
        x.ctl_time = ts
    if flags & RST:
        crare = own_connection_rare(conn)
        if rst_acceptable(x, y, seq, ack, flags):
            if crare.reset_by is None:
                crare.rst_time = ts
                crare.rst_ack = bool(flags & ACK)
                crare.rst_prior = (x.state, y.state)
            crare.reset_by = x
            set_state(x, CLOSED, ts)
            set_state(y, CLOSED, ts)
            check_ended(conn)
        else:
            crare.rst_ignored += 1
        return
    if flags & SYN:
        if x.isn < 0 or x.state in (CLOSED, UNKNOWN, LISTEN):
            x.isn = seq
        if x.syn_time < 0:
            x.syn_time = ts
        if y.syn_time < 0:
            # Until the peer's SYN-ACK: the handshake RTT is timed from the
            # SYN it answers, not from a first SYN that was lost.
            x.last_syn_time = ts
        x.syn_count += 1
        x.wscale = wscale
        if flags & ACK:
            conn.hs |= HS_SYNACK
            if x.state in (CLOSED, UNKNOWN, LISTEN, SYN_SENT):
                set_state(x, SYN_RECEIVED, ts)
            elif seq == x.isn and x.packets == x.syn_count:
                # x sent its own SYN-ACK again (its ISN), and nothing but SYNs
                # so far, after we took it to be ESTABLISHED.
                if conn.hs & HS_SIMOPEN:
                    crossed_synack(x, ts)
                elif conn.hs & HS_ACK and (x.state == ESTABLISHED or x.state == SYN_RECEIVED):
                    synack_after_ack(conn, x, y, ts)
            if wscale < 0 or y.wscale < 0:
                # Window scaling is in force only if both SYNs carried it
                # (RFC 7323 section 2.2).
                x.wscale = y.wscale = 0
        else:
            conn.hs |= HS_SYN
            if x.state in (CLOSED, UNKNOWN, LISTEN):
                set_state(x, SYN_SENT, ts)
            if y.state == SYN_SENT:
                # A SYN while the peer's own SYN is outstanding: both ends
                # connect()ed to each other (RFC 9293 3.5, figure 8).
                conn.hs |= HS_SIMOPEN
    if flags & FIN:
        fin_seq = (seq + plen + (1 if flags & SYN else 0)) & SEQ_MASK
        x.fin_count += 1
        x.last_fin_time = ts
        # (The first test, the rare marks of a lost or unseen peer FIN, is
        # implied by the last one: it spares most FINs the rest.)
        if ((conn.one_sided or y.rare.fin_guess >= 0)
                and x.fin_seq < 0 and not x.got_fin and x.state == ESTABLISHED and flags & ACK and ack == x.rcv_nxt
                and y.fin_seq < 0
                and ((conn.one_sided and not y.packets and y.rare.unseen_step == 1)
                     or (y.rare.fin_guess == ack and y.snd_nxt == ack))):
            # One direction only: x's acknowledgment last moved by exactly
            # one, and x now closes without having received anything more.
            # The one is the peer's FIN (a FIN takes one sequence number,
            # RFC 9293 3.4): the peer closed first; x's ACK of it took the
            # peer to FIN_WAIT_2, and x is the passive closer (LAST_ACK).
            # The same in a two-way capture that lost the peer's FIN
            # (``fin_guess``: x acknowledged one past the peer's last byte).
            t = y.rare.unseen_time if not y.packets else y.rare.fin_guess_time
            y.fin_seq = (ack - 1) & SEQ_MASK
            y.fin_time = t
            y.active_close = True
            set_state(y, FIN_WAIT_1, t)
            receive_fin(x, t)
            set_state(y, FIN_WAIT_2, t)
            conn.evidence = EVIDENCE_INFERRED
        if x.fin_seq < 0:
            x.fin_time = ts
            x.fin_seq = fin_seq
            x.active_close = not x.got_fin
        st = x.state
        if st == ESTABLISHED or st == SYN_RECEIVED or st == UNKNOWN or st == SYN_SENT:
            set_state(x, LAST_ACK if x.got_fin else FIN_WAIT_1, ts)
        elif st == CLOSE_WAIT:
            set_state(x, LAST_ACK, ts)


def crossed_synack(x: Endpoint, ts: float) -> None:
    """Simultaneous open: x's SYN-ACK follows the peer's SYN-ACK that took x
    (then SYN_SENT, as far as the capture showed) to ESTABLISHED.

    A SYN-ACK is what a SYN_SENT socket sends when it gets the peer's bare
    SYN (RFC 9293 3.10.7.3; Linux tcp_rcv_synsent_state_process, which moves
    it to SYN_RECEIVED).  Had the peer's SYN-ACK reached x first, x would be
    ESTABLISHED and answer with a bare ACK.  So the two SYN-ACKs crossed: x
    went SYN_SENT -> SYN_RECEIVED (when the peer's SYN-ACK was on the wire, by
    which time x had its SYN) -> ESTABLISHED (when its own crossing SYN-ACK
    is seen, the peer's arriving right after: Linux tcp_validate_incoming
    lets a SYN-ACK through in SYN_RECV when it acknowledges snd_nxt).
    """
    trans = x.trans_flat
    if x.state == ESTABLISHED and len(trans) >= 4 and trans[-3] == SYN_SENT:
        established = trans[-2]
        trans = x.trans_flat = trans[:-2]
        x.state = SYN_SENT
        x.state_time = trans[-2]
        set_state(x, SYN_RECEIVED, established)
        set_state(x, ESTABLISHED, ts)


def synack_after_ack(conn, x: Endpoint, y: Endpoint, ts: float) -> None:
    """x, the server, sends its SYN-ACK again after the client y acknowledged it.

    Only a request socket (SYN_RECEIVED) retransmits a SYN-ACK: the ACK never
    completed the handshake at x's TCP (RFC 9293 3.10.7.4).  It was lost after
    the capture point, or -- when the listener also ignores what the client
    sent since (data, or its answer to an earlier retransmitted SYN-ACK) --
    refused: Linux's tcp_check_req drops a valid ACK when the listener's
    accept queue is full (ListenOverflows) and, with
    net.ipv4.tcp_abort_on_overflow=0, keeps the request and its SYN-ACK timer.
    """
    if x.state == ESTABLISHED:
        withdraw_established(x)
    prior = x.rxmt_time   # x's previous SYN-ACK retransmission, if any
    x.retransmits += 1
    x.rxmt_time = ts
    sent_data = y.snd_nxt >= 0 and y.isn >= 0 and y.snd_nxt != (y.isn + 1) & SEQ_MASK
    if sent_data or (prior >= 0 and y.last_time > prior):
        conn.hs |= HS_OVERFLOW


def rst_acceptable(x: Endpoint, y: Endpoint, seq: int, ack: int, flags: int) -> bool:
    """Would y's TCP accept this RST from x?  (RFC 9293 3.10.7, RFC 5961 3.2)"""
    st = y.state
    if st == SYN_SENT:
        # Acceptable only if it acknowledges y's SYN.
        return bool(flags & ACK) and y.isn >= 0 and seq_ge(ack, (y.isn + 1) & SEQ_MASK) \
            and seq_ge(y.snd_nxt if y.snd_nxt >= 0 else ack, ack)
    if st == CLOSED or st == LISTEN or st == UNKNOWN or y.rcv_nxt < 0:
        # Nothing known to contradict it (y's receive window unknown).
        return True
    # Linux resets only on an exact match with RCV.NXT and answers other
    # in-window RSTs with a challenge ACK (RFC 5961).  RCV.NXT lies
    # between y's last acknowledgment and what x has sent so far.
    lo = y.rcv_nxt
    hi = x.snd_nxt if x.snd_nxt >= 0 and seq_ge(x.snd_nxt, lo) else lo
    return ((seq - lo) & SEQ_MASK) <= ((hi - lo) & SEQ_MASK)


def unseen_peer_ack(conn, x, y, upper, rn, ack, ts) -> None:
    """x's acknowledgment advanced (from ``rn``, -1 for x's first ACK) while
    none of y's packets has been seen: all the capture tells of y is what x
    acknowledges.  A one-way capture (asymmetric routing, a SPAN of one
    direction) shows only this; a two-way one can show it too when it
    missed y's first packets.  What x's ACKs prove y did:

    * x, in SYN_SENT, acknowledges something: it had y's SYN-ACK (the ACK
      number is y's ISN + 1, RFC 9293 3.5), so x is ESTABLISHED and y, which
      the ACK reached, too (an ACK is taken as delivered, as elsewhere);
    * x acknowledges bytes beyond y's SYN: y sent data, so y had x's SYN-ACK
      and x had y's ACK of it: both ESTABLISHED;
    * after x's FIN, x's acknowledgment moves by exactly one: y's FIN, which
      acknowledged x's (Linux sends a FIN with ACK): x TIME_WAIT, y (its FIN
      acknowledged by x) CLOSED.

    The connection is marked one-sided (``conn.one_sided``, the seen side);
    ``timers.infer_unseen`` clears the mark if y shows up after all.
    """
    if y.packets:
        return
    step = (ack - rn) & SEQ_MASK if rn >= 0 else 0
    xst = x.state
    if xst == SYN_SENT and x.isn >= 0:
        if y.isn < 0:
            y.isn = (ack - 1) & SEQ_MASK
        if y.state in (CLOSED, LISTEN, UNKNOWN):
            set_state(y, SYN_RECEIVED, ts)
        set_state(x, ESTABLISHED, ts)
        set_state(y, ESTABLISHED, ts)
        conn.hs |= HS_SYNACK | HS_ACK
        conn.evidence = EVIDENCE_INFERRED
    elif step:
        yst = y.state
        if yst == SYN_SENT or yst == SYN_RECEIVED or yst == UNKNOWN or xst == SYN_RECEIVED:
            if yst == SYN_SENT or yst == SYN_RECEIVED or yst == UNKNOWN:
                set_state(y, ESTABLISHED, ts)
            if xst == SYN_RECEIVED:
                # y's data carried its ACK of x's SYN-ACK.
                set_state(x, ESTABLISHED, ts)
                conn.hs |= HS_ACK
                conn.evidence = EVIDENCE_INFERRED
        elif step == 1 and x.fin_seq >= 0 and not x.got_fin and xst in (FIN_WAIT_1, FIN_WAIT_2) \
                and y.fin_seq < 0 and yst == ESTABLISHED:
            y.fin_seq = (ack - 1) & SEQ_MASK
            y.fin_time = ts
            receive_fin(y, ts)
            if x.state == FIN_WAIT_1:
                set_state(x, FIN_WAIT_2, ts)
            set_state(y, LAST_ACK, ts)
            receive_fin(x, ts)
            set_state(y, CLOSED, ts)
            check_ended(conn)
            conn.evidence = EVIDENCE_INFERRED
    else:
        return
    rare = own_rare(y)
    rare.unseen_step = step
    rare.unseen_time = ts
    conn.one_sided = 1 if upper else 2
