"""The passive state tracker: segments in, per-endpoint TCP states out.

Each endpoint runs its own copy of RFC 9293's state diagram (section 3.3.2),
driven by what it sends and by what it can be seen to have received:

* what an endpoint *sends* moves its own state (SYN, FIN, RST);
* what it *acknowledges* shows what it has received: an ACK covering the
  peer's FIN (FIN sequence number + 1) is the evidence that the FIN arrived,
  so the acknowledging side moves (ESTABLISHED -> CLOSE_WAIT, FIN_WAIT_2 ->
  TIME_WAIT ...), never the mere sight of the FIN on the wire -- a FIN that a
  capture shows may still be dropped before the peer's socket;
* the ACK itself is taken as delivered to the side it acknowledges, which is
  then moved (FIN_WAIT_1 -> FIN_WAIT_2, LAST_ACK -> CLOSED ...).

Per packet, the common case (data or ACKs with both sides ESTABLISHED) touches
a handful of counters; everything that can change a state takes the slower
methods below.
"""
from __future__ import annotations

from .connection import (
    HS_ACK, HS_SYN, HS_SYNACK, SEQ_HALF, SEQ_MASK, Connection, Endpoint,
    Z_CLOSED, Z_ESTABLISHED, Z_INACTIVE, Z_PARTIAL, Z_RESET, Z_SYN_ACK_SENT, Z_SYN_SENT,
    reverse_key, seq_ge,
)
from collections import deque
from operator import attrgetter

from .decode import ACK, FIN, RST, SYN
from .folding import OTHER, Folds, kind_of
from .states import (
    CLOSE_WAIT, CLOSED, CLOSING, DEFAULT_FIN_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_REPORT_CONNECTIONS,
    DEFAULT_TIME_WAIT, DEFAULT_UNANSWERED, ESTABLISHED,
    FIN_WAIT_1, FIN_WAIT_2, LAST_ACK, LISTEN, SYN_RECEIVED, SYN_RECEIVED_TIMEOUT, SYN_SENT,
    SYN_SENT_TIMEOUT, SYNACK_ANSWER_TIME, SYNACK_RETRANSMIT_WAIT, SYNCHRONIZED, FIN_ANSWER_TIME, TIME_WAIT, UNKNOWN,
)

_DONE = (CLOSED, TIME_WAIT)
_BY_FIRST_PACKET = attrgetter("first_seen", "seq_order")

# History bits recorded once per direction (Zeek: HIST_* masks).
_H_ACK = 1
_H_DATA = 2
_H_SYN = 4
_H_FIN = 8
_H_RST = 16
_H_INCONSISTENT = 32
_H_MULTIFLAG = 64
# Zeek logs the letters for retransmissions, gaps and zero windows at their
# 1st, 10th, 100th ... occurrence (conn.log's history: scaling thresholds).
_LETTER_COUNTS = frozenset(10 ** i for i in range(19))
# S or H (by the ACK bit), by direction: [upper][flags & ACK].
_SYN_LETTERS = ({0: "s", ACK: "h"}, {0: "S", ACK: "H"})

# An eviction spares a connection seen this recently (seconds) once.
EVICT_RECENT = 1.0

# Ports below this are "well known" (IANA); used to guess the server of a
# connection whose handshake the capture missed.
WELL_KNOWN_PORT_LIMIT = 1024


class ConnectionTracker:
    """The connection table and the per-endpoint state machines."""

    def __init__(self, time_wait: float = DEFAULT_TIME_WAIT, fin_timeout: float = DEFAULT_FIN_TIMEOUT,
                 unanswered: float = DEFAULT_UNANSWERED, max_connections: int = DEFAULT_MAX_CONNECTIONS,
                 max_report_connections: int = DEFAULT_MAX_REPORT_CONNECTIONS):
        self.time_wait = time_wait
        self.fin_timeout = fin_timeout
        self.unanswered = unanswered
        self.table: dict[bytes, Connection] = {}
        # Two keys (one per direction) per live connection.
        self.max_table = 2 * max(1, max_connections)
        self.max_finished = max(0, max_report_connections)
        self.finished: deque[Connection] = deque()
        self.finished_failed: deque[Connection] = deque()
        self.order: deque[Connection] = deque()  # live connections, oldest first (for eviction)
        self.folds = Folds()
        self.evicted = 0
        self._order = 0
        # In a partitioned run (analyzer.run with nparts > 1) the global
        # packet number, so that every partition orders connections as a
        # single process would.
        self.packet_index = None

    # ------------------------------------------------------------------ hot path
    def segment(self, ts, key, sport, dport, seq, ack, flags, win, plen, wscale):
        conn = self.table.get(key)
        if conn is None or flags & (SYN | RST) or conn.route_check:
            conn = self._route(ts, key, conn, sport, dport, seq, ack, flags)
            if conn is None:
                return
        if key == conn.ckey:
            x = conn.client
            y = conn.server
            upper = True
        else:
            x = conn.server
            y = conn.client
            upper = False
        if ts > conn.last_seen:
            conn.last_seen = ts
        x.packets += 1
        x.last_time = ts
        ctl = flags & (SYN | FIN | RST)
        seglen = plen
        if ctl or x.state != ESTABLISHED or y.state != ESTABLISHED or x.zstate == Z_INACTIVE:
            self._receipts(conn, x, y, upper, ts, ack, flags, plen)
            if ctl:
                if flags & RST:
                    # A RST's payload is not stream data.
                    self._control(conn, x, y, upper, ts, seq, ack, flags, plen, wscale)
                    return
                if flags & SYN:
                    seglen += 1
                if flags & FIN:
                    seglen += 1

        # Sequence space: new data, retransmissions (Zeek's rule: a segment
        # carrying payload that ends at or before the highest sequence number
        # already seen), and holes.
        if seglen:
            nxt = x.snd_nxt
            if nxt < 0:
                nxt = seq
            end = (seq + seglen) & SEQ_MASK
            adv = (end - nxt) & SEQ_MASK
            if adv and adv < SEQ_HALF:
                if plen:
                    x.bytes += plen if adv > plen else adv
                x.snd_nxt = end
            else:
                x.snd_nxt = nxt
                if plen:
                    x.retransmits += 1
                    x.rxmt_time = ts
                    if x.retransmits in _LETTER_COUNTS:
                        conn.hist += "T" if upper else "t"
        elif x.snd_nxt < 0:
            x.snd_nxt = seq
        elif seq == (x.snd_nxt - 1) & SEQ_MASK:
            # A zero-length segment one below SND.NXT: a keepalive probe
            # (RFC 9293 3.8.4; Linux tcp_write_wakeup).
            x.probes += 1
            x.probe_time = ts
        if not ctl:
            if plen:
                if not x.hist_seen & _H_DATA:
                    x.hist_seen |= _H_DATA
                    conn.hist += "D" if upper else "d"
            elif flags & ACK and not x.hist_seen & _H_ACK:
                x.hist_seen |= _H_ACK
                conn.hist += "A" if upper else "a"
        if flags & ACK:
            rn = x.rcv_nxt
            if rn < 0 or 0 < ((ack - rn) & SEQ_MASK) < SEQ_HALF:
                x.rcv_nxt = ack
                # An ACK beyond anything the peer was seen to send: the
                # capture missed the peer's bytes (Zeek's content gap).
                ynxt = y.snd_nxt
                if ynxt >= 0 and 0 < ((ack - ynxt) & SEQ_MASK) < SEQ_HALF and y.state != UNKNOWN:
                    y.snd_nxt = ack
                    y.gaps += 1
                    if y.gaps in _LETTER_COUNTS:
                        conn.hist += "g" if upper else "G"
        if win == 0 and y.zstate != Z_CLOSED and x.zstate != Z_RESET:
            x.zero_windows += 1
            if x.zero_windows in _LETTER_COUNTS:
                conn.hist += "W" if upper else "w"
        if ctl:
            self._control(conn, x, y, upper, ts, seq, ack, flags, plen, wscale)

    # ------------------------------------------------------------------ routing
    def _route(self, ts, key, conn, sport, dport, seq, ack, flags):
        """Which connection instance a packet belongs to (creating one if new)."""
        if conn is None:
            return self._new(ts, key, sport, dport, seq, ack, flags)
        is_client = key == conn.ckey
        x = conn.client if is_client else conn.server
        y = conn.server if is_client else conn.client

        if flags & SYN and not flags & RST:
            if not flags & ACK:
                if x.isn == seq and not conn.ended:
                    return conn  # retransmitted (or reordered) SYN
                if not is_client and x.packets == 0 and conn.client.state == SYN_SENT:
                    return conn  # simultaneous open: the peer's own SYN
                return self._reuse(ts, key, conn, x, y, sport, dport, seq, ack, flags)
            # SYN-ACK
            if x.isn == seq and not conn.ended:
                return conn  # retransmitted SYN-ACK
            if y.state == SYN_SENT and _acks_syn(y, ack):
                if conn.prev is not None:
                    # The peer accepted the new connection, so its old TCB on
                    # this tuple is gone (Linux lets a SYN with a higher ISN
                    # replace a TIME_WAIT socket: tcp_timewait_state_process).
                    self._retire(conn.prev, ts)
                    conn.prev = None
                return conn
            if conn.ended or (y.isn >= 0 and not _acks_syn(y, ack)):
                return self._reuse(ts, key, conn, x, y, sport, dport, seq, ack, flags)
            return conn

        prev = conn.prev
        if prev is not None:
            # A new SYN landed on a tuple whose old connection was still alive
            # at the peer (a rebooted client, or a TIME_WAIT socket).  The
            # peer answers with an ACK carrying the *old* numbers (RFC 5961
            # section 4, or a TIME_WAIT's ACK) and the client resets it: those
            # packets belong to the old connection, not the new one.
            c = conn.client
            if (prev.client.state != CLOSED or prev.server.state != CLOSED) \
                    and c.state == SYN_SENT and not conn.hs & HS_SYNACK:
                if not is_client and not _acks_syn(c, ack):
                    if prev.challenge_time < 0:
                        prev.challenge_time = ts
                        prev.challenge_state = prev.server.state
                    return prev
                if is_client and flags & RST:
                    return prev
                return conn
            conn.prev = None
        if conn.ended and not flags & SYN and ts - conn.last_seen > self.time_wait:
            # Long after both sides closed: a connection the capture joins
            # mid-stream, not a straggler of the old one.
            return self._reuse(ts, key, conn, x, y, sport, dport, seq, ack, flags)
        if conn.prev is None and not conn.ended:
            conn.route_check = False
        return conn

    def _reuse(self, ts, key, old, x_old, y_old, sport, dport, seq, ack, flags):
        """A new connection instance on a 4-tuple that already had one."""
        new = self._new(ts, key, sport, dport, seq, ack, flags)
        old.superseded = new
        old.prev = None
        new.reused_peer_state = y_old.state
        new.reused_own_state = x_old.state
        new.reused_from = old
        if flags & SYN and not flags & ACK and x_old.isn == seq and x_old is old.client:
            new.replay_of = old
        if flags & SYN and not flags & ACK:
            # The sender started a new connection on this tuple: its old TCB
            # can no longer exist (one 4-tuple, one socket).  The peer's side
            # stays as it was until it is seen to go (or to challenge).
            if x_old.state != CLOSED:
                _set(x_old, CLOSED, ts)
                self._check_ended(old)
            if y_old.state != CLOSED:
                new.prev = old
                new.route_check = True
        return new

    def _retire(self, old, ts):
        for ep in (old.client, old.server):
            if ep.state != CLOSED:
                _set(ep, CLOSED, ts)
        self._check_ended(old)

    def _new(self, ts, key, sport, dport, seq, ack, flags):
        self._order = self._order + 1 if self.packet_index is None else self.packet_index
        # The key is (src, dst, sport, dport): the reverse direction's key and
        # both endpoints' addresses from one set of slices.
        alen = (len(key) - 4) >> 1
        a2 = alen + alen
        src = key[:alen]
        dst = key[alen:a2]
        rkey = dst + src + key[a2 + 2:] + key[a2:a2 + 2]
        if flags & SYN:
            sender_is_client = not flags & ACK
            inferred = False
        else:
            inferred = True
            if sport < WELL_KNOWN_PORT_LIMIT <= dport:
                sender_is_client = False
            elif dport < WELL_KNOWN_PORT_LIMIT <= sport:
                sender_is_client = True
            else:
                sender_is_client = sport > dport or (sport == dport)
        state = CLOSED if flags & SYN else UNKNOWN
        if sender_is_client:
            client = Endpoint(src, sport, state, ts)
            server = Endpoint(dst, dport, state, ts)
            conn = Connection(key, client, server, ts, self._order)
        else:
            client = Endpoint(dst, dport, state, ts)
            server = Endpoint(src, sport, state, ts)
            conn = Connection(rkey, client, server, ts, self._order)
            conn.hist += "^"  # Zeek's mark: roles flipped from the first packet's direction
        conn.roles_inferred = inferred
        if flags & SYN and flags & ACK:
            # A SYN-ACK seen before (or without) its SYN: the client's SYN is
            # implied by the acknowledgment number.
            client.state = SYN_SENT
            client.trans_flat += (ts, SYN_SENT)
            client.isn = (ack - 1) & SEQ_MASK
            client.snd_nxt = ack
            client.syn_time = ts
            client.zstate = Z_SYN_SENT  # Zeek would see the SYN it answers
            conn.hs |= HS_SYN
        old = self.table.get(key)
        if old is not None and old is not conn:
            self._finish(old, ts)
        elif len(self.table) >= self.max_table:
            self._evict(ts)
        self.table[key] = conn
        self.table[rkey] = conn
        order = self.order
        order.append(conn)
        if len(order) > self.max_table:
            # Drop finished connections from the eviction queue, so it (and
            # what it keeps alive) stays proportional to the live table.
            table = self.table
            self.order = deque(c for c in order if table.get(c.ckey) is c)
        return conn

    # ------------------------------------------------------------------ memory
    def _finish(self, conn: Connection, ts: float) -> None:
        """A connection leaves the live table; past the report caps, fold the oldest.

        Failed attempts (a lone SYN, an unanswered SYN-ACK, a refusal) get a
        tenth of the cap: a flood of them says all it has to say in counts,
        and should not push real connections out of the report.
        """
        if kind_of(conn) == OTHER:
            queue, cap = self.finished, self.max_finished
        else:
            queue, cap = self.finished_failed, self.max_finished // 10
        queue.append(conn)
        while len(queue) > cap:
            self._fold(queue.popleft(), ts)

    def _fold(self, oldest: Connection, ts: float) -> None:
        # Its timers are applied now, at the time of folding: the oldest
        # finished connection has usually long settled.
        infer_from_silence(oldest, ts, self.unanswered)
        for ep in (oldest.client, oldest.server):
            apply_timers(ep, ts, self.time_wait, self.fin_timeout)
        # Links between instances of one 4-tuple end with it.
        if oldest.superseded is not None and oldest.superseded.reused_from is oldest:
            oldest.superseded.reused_from = None
            oldest.superseded.prev = None
        if oldest.reused_from is not None and oldest.reused_from.superseded is oldest:
            oldest.reused_from.superseded = None
        self.folds.add(oldest)

    def _evict(self, ts: float) -> None:
        """The table is full: finish a tenth of the live connections, idlest first.

        Connections are visited in creation order (a FIFO with a second
        chance for any seen in the last second), so each eviction costs time
        proportional to what it evicts, not to the table: the cost per packet
        stays constant.  A packet that later arrives for an evicted connection
        starts a new, mid-stream one.
        """
        want = max(1, len(self.table) // 20)
        order = self.order
        done = 0
        for _ in range(2 * len(order)):
            if done >= want or not order:
                break
            conn = order.popleft()
            if self.table.get(conn.ckey) is not conn:
                continue  # already finished
            if ts - conn.last_seen < EVICT_RECENT and not conn.evict_spared:
                conn.evict_spared = True  # one second chance, not more
                order.append(conn)
                continue
            for k in (conn.ckey, reverse_key(conn.ckey)):
                if self.table.get(k) is conn:
                    del self.table[k]
            self.evicted += 1
            done += 1
            self._finish(conn, ts)

    # ------------------------------------------------------------------ states
    def _receipts(self, conn, x, y, upper, ts, ack, flags, plen):
        """What a segment from x shows x has received, and what y now knows."""
        if x.first_time < 0:
            x.first_time = ts
        if x.zstate == Z_INACTIVE or flags & (SYN | FIN | RST):
            _zeek_update(conn, x, y, upper, flags, plen)
        if x.state == UNKNOWN and not flags & (SYN | RST):
            # Any non-SYN segment comes from a synchronized TCB.
            _set(x, ESTABLISHED, ts)
        if not flags & ACK or flags & RST:
            # Acknowledgment numbers in RSTs are not trusted (as Zeek).
            return
        # x acknowledges y's SYN: the handshake moves on.
        yst = y.state
        if (yst == SYN_SENT or yst == SYN_RECEIVED) and y.isn >= 0 and seq_ge(ack, (y.isn + 1) & SEQ_MASK):
            if y.state == SYN_SENT and flags & SYN:
                # y gets the SYN-ACK it waited for (RFC 9293 3.10.7.3).
                _set(y, ESTABLISHED, ts)
            elif y.state == SYN_RECEIVED:
                # The handshake's final ACK (or, in a simultaneous open, the
                # peer's SYN-ACK) reaches y.
                _set(y, ESTABLISHED, ts)
                if not flags & SYN and upper:
                    conn.hs |= HS_ACK
        # x acknowledges y's FIN: x has received it; y learns it arrived.
        if y.fin_seq >= 0 and not x.got_fin and seq_ge(ack, (y.fin_seq + 1) & SEQ_MASK):
            receive_fin(x, ts, _set)
            st = y.state
            if st == FIN_WAIT_1:
                _set(y, FIN_WAIT_2, ts)
            elif st == CLOSING:
                _set(y, TIME_WAIT, ts)
            elif st == LAST_ACK:
                _set(y, CLOSED, ts)
            self._check_ended(conn)
        elif x.state == TIME_WAIT and x.got_fin:
            # A TIME_WAIT socket re-acknowledging a retransmitted FIN restarts
            # its 2*MSL timer (Linux: tcp_timewait_state_process).
            x.state_time = ts
        rn = x.rcv_nxt
        if rn >= 0 and 0 < ((ack - rn) & SEQ_MASK) < SEQ_HALF:
            # x's acknowledgment advanced: y is sending, so y is synchronized.
            if y.state == UNKNOWN:
                _set(y, ESTABLISHED, ts)
            if x.state == FIN_WAIT_2:
                # Data still arriving in FIN_WAIT_2: the application shut down
                # only its sending side; tcp_fin_timeout does not apply.
                x.fw2_live = True

    def _control(self, conn, x, y, upper, ts, seq, ack, flags, plen, wscale):
        """The effects of SYN, FIN and RST sent by x, and their history letters.

        Zeek's letters (TCP.cc update_history): S, H, F and R the first time,
        then again whenever the sequence number differs (a FIN's number is
        after its data); I or Q once for a packet carrying several of them.
        """
        ctl = flags & (SYN | FIN | RST)
        if ctl == SYN:
            if _repeatable(x, _H_SYN, seq, x.last_syn):
                conn.hist += _SYN_LETTERS[upper][flags & ACK]
            x.last_syn = seq
        elif ctl == FIN:
            fin_end = (seq + plen) & SEQ_MASK
            if _repeatable(x, _H_FIN, fin_end, x.last_fin):
                conn.hist += "F" if upper else "f"
            x.last_fin = fin_end
        elif ctl == RST:
            if _repeatable(x, _H_RST, seq, x.last_rst):
                conn.hist += "R" if upper else "r"
            x.last_rst = seq
        else:
            mask, code = (_H_INCONSISTENT, "I") if flags & FIN and flags & RST else (_H_MULTIFLAG, "Q")
            if not x.hist_seen & mask:
                x.hist_seen |= mask
                conn.hist += code if upper else code.lower()
        if flags & RST:
            if x.rst_time < 0:
                x.rst_time = ts
            if self._rst_acceptable(x, y, seq, ack, flags):
                if conn.reset_by is None:
                    conn.rst_time = ts
                    conn.rst_ack = bool(flags & ACK)
                    conn.rst_prior = (x.state, y.state)
                conn.reset_by = x
                _set(x, CLOSED, ts)
                _set(y, CLOSED, ts)
                self._check_ended(conn)
            else:
                conn.rst_ignored += 1
            return
        if flags & SYN:
            if x.isn < 0 or x.state in (CLOSED, UNKNOWN, LISTEN):
                x.isn = seq
            if x.syn_time < 0:
                x.syn_time = ts
            x.syn_count += 1
            x.wscale = wscale
            if flags & ACK:
                conn.hs |= HS_SYNACK
                if x.state in (CLOSED, UNKNOWN, LISTEN, SYN_SENT):
                    _set(x, SYN_RECEIVED, ts)
                if wscale < 0 or y.wscale < 0:
                    # Window scaling is in force only if both SYNs carried it
                    # (RFC 7323 section 2.2).
                    x.wscale = y.wscale = 0
            else:
                conn.hs |= HS_SYN
                if x.state in (CLOSED, UNKNOWN, LISTEN):
                    _set(x, SYN_SENT, ts)
        if flags & FIN:
            fin_seq = (seq + plen + (1 if flags & SYN else 0)) & SEQ_MASK
            if x.fin_seq < 0:
                x.fin_time = ts
                x.fin_seq = fin_seq
                x.active_close = not x.got_fin
            st = x.state
            if st == ESTABLISHED or st == SYN_RECEIVED or st == UNKNOWN or st == SYN_SENT:
                _set(x, LAST_ACK if x.got_fin else FIN_WAIT_1, ts)
            elif st == CLOSE_WAIT:
                _set(x, LAST_ACK, ts)

    @staticmethod
    def _rst_acceptable(x: Endpoint, y: Endpoint, seq: int, ack: int, flags: int) -> bool:
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

    @staticmethod
    def _check_ended(conn: Connection) -> None:
        if conn.client.state in _DONE and conn.server.state in _DONE:
            conn.ended = True
            conn.route_check = True

    # ------------------------------------------------------------------ end
    def connections(self) -> list[Connection]:
        """Every connection instance kept for the report, ordered by first packet."""
        seen = set()
        out = []
        for conn in list(self.finished) + list(self.finished_failed) + list(self.table.values()):
            if id(conn) not in seen:
                seen.add(id(conn))
                out.append(conn)
        out.sort(key=_BY_FIRST_PACKET)
        for i, conn in enumerate(out, 1):
            conn.id = i
        return out

    def finalize(self, end_ts: float) -> list[Connection]:
        """Apply the kernel timers a capture cannot show, at the capture's end."""
        conns = self.connections()
        for conn in conns:
            infer_from_silence(conn, end_ts, self.unanswered)
            for ep in (conn.client, conn.server):
                apply_timers(ep, end_ts, self.time_wait, self.fin_timeout)
        return conns


def _set(ep: Endpoint, state: int, ts: float) -> None:
    """A state change seen on the wire, at ``ts``.  ``_move`` inlined: it
    runs for nearly every handshake and close packet (240k times in 500k
    packets), where a second call would cost about 1% of the run."""
    if ep.state != state:
        trans = ep.trans_flat
        # A capture's timestamps can go backwards (merged interfaces, clock
        # steps); an endpoint's history must not.
        if trans and ts < trans[-2]:
            ts = trans[-2]
        ep.state = state
        ep.state_time = ts
        trans += (ts, state)
        if state == TIME_WAIT:
            ep.tw_entries += 1


def _acks_syn(ep: Endpoint, ack: int) -> bool:
    """Does ``ack`` acknowledge ep's SYN (and at most what ep sent with it)?"""
    if ep.isn < 0:
        return False
    return seq_ge(ack, (ep.isn + 1) & SEQ_MASK) and seq_ge(ep.snd_nxt if ep.snd_nxt >= 0 else ack, ack)


def receive_fin(x: Endpoint, ts: float, move) -> None:
    """x has the peer's FIN (RFC 9293 3.10.7.4, "eighth, check the FIN bit")."""
    x.got_fin = True
    x.got_fin_time = ts
    st = x.state
    if st == ESTABLISHED or st == SYN_RECEIVED or st == UNKNOWN:
        move(x, CLOSE_WAIT, ts)
    elif st == FIN_WAIT_1:
        move(x, CLOSING, ts)
    elif st == FIN_WAIT_2:
        move(x, TIME_WAIT, ts)


def infer_from_silence(conn: Connection, end_ts: float, unanswered: float) -> None:
    """What silence says about a peer, judged at the end of the capture."""
    c, s = conn.client, conn.server
    # A FIN among the capture's last moments, not yet acknowledged: a FIN that
    # arrives is acknowledged at once, one that is lost is retransmitted after
    # at least the minimum RTO (200 ms on Linux).  Within that window the
    # capture simply ended before the answer: the FIN arrived (packets on the
    # wire almost always do).  Later, silence says it did not.
    for x, y in ((c, s), (s, c)):
        if (y.fin_seq >= 0 and not x.got_fin and x.state in SYNCHRONIZED and y.state != CLOSED
                and end_ts - y.fin_time < FIN_ANSWER_TIME and x.last_time <= y.fin_time):
            receive_fin(x, y.fin_time, _move)
    # A SYN-ACK that the client never answered -- no ACK, no retransmitted
    # SYN -- for longer than the initial RTO did not reach a live TCB: the
    # SYN was spoofed, stale, or its sender is gone (an embryonic half-open
    # connection).  A live client answers within one round trip.
    if (conn.hs & HS_SYNACK and not conn.hs & HS_ACK and c.state == ESTABLISHED
            and c.last_time <= s.syn_time and end_ts - s.syn_time >= SYNACK_ANSWER_TIME):
        # Dated at the SYN-ACK: the client never was open, and a view of any
        # earlier moment must not show it ESTABLISHED.
        _move(c, CLOSED, s.syn_time)
    # A request socket retransmits its SYN-ACK after the initial RTO; a SYN-ACK
    # never repeated though unanswered came from a SYN cookie (Linux
    # tcp_syncookies), for which the server keeps no state at all.
    if (s.state == SYN_RECEIVED and s.syn_count == 1 and not conn.hs & HS_ACK
            and end_ts - s.syn_time >= SYNACK_RETRANSMIT_WAIT):
        _move(s, CLOSED, s.syn_time)
        conn.syn_cookie = True
    # A side retransmitting into silence for longer than ``unanswered``
    # (several RTOs): the peer that used to answer has lost the connection.
    for x, y in ((c, s), (s, c)):
        if (y.packets and y.state in SYNCHRONIZED and x.state in SYNCHRONIZED
                and x.rxmt_time > y.last_time and x.rxmt_time - y.last_time >= unanswered):
            _move(y, CLOSED, y.last_time + unanswered)


def apply_timers(ep: Endpoint, end_ts: float, time_wait: float, fin_timeout: float) -> None:
    st = ep.state
    age = end_ts - ep.state_time
    if st == TIME_WAIT and age >= time_wait:
        _move(ep, CLOSED, ep.state_time + time_wait)
    elif st == FIN_WAIT_2 and not ep.fw2_live and age >= fin_timeout:
        _move(ep, CLOSED, ep.state_time + fin_timeout)
    elif st == SYN_SENT and ep.syn_time >= 0 and end_ts - ep.syn_time >= SYN_SENT_TIMEOUT:
        _move(ep, CLOSED, ep.syn_time + SYN_SENT_TIMEOUT)
    elif st == SYN_RECEIVED and age >= SYN_RECEIVED_TIMEOUT:
        _move(ep, CLOSED, ep.state_time + SYN_RECEIVED_TIMEOUT)


def _move(ep: Endpoint, state: int, t: float) -> None:
    """A state change inferred at the end of the capture, dated when it happened."""
    trans = ep.trans_flat
    if trans and t < trans[-2]:
        t = trans[-2]
    ep.state = state
    ep.state_time = t
    trans += (t, state)
    if state == TIME_WAIT:
        ep.tw_entries += 1  # (a FIN_WAIT_2 given the FIN the capture ended on)


def _repeatable(x, bit, value, last) -> bool:
    """Is a repeatable letter (S, H, F, R) due: the first time, then whenever
    the sequence number differs from the last such packet's."""
    if not x.hist_seen & bit:
        x.hist_seen |= bit
        return True
    return value != last


def _zeek_update(conn, x, y, is_orig, flags, plen):
    """Zeek's own endpoint state machine (TCP.cc UpdateStateMachine), for conn_state."""
    zs = x.zstate
    syn = flags & SYN
    fin = flags & FIN
    rst = flags & RST
    if zs == Z_INACTIVE:
        if syn:
            if is_orig:
                x.zstate = Z_SYN_ACK_SENT if flags & ACK else Z_SYN_SENT
            else:
                if y.zstate == Z_SYN_SENT:
                    y.zstate = Z_ESTABLISHED
                x.zstate = Z_ESTABLISHED
        if fin:
            x.zstate = Z_CLOSED
        if rst:
            x.zprev = x.zstate
            x.zstate = Z_RESET
        if x.zstate == Z_INACTIVE:
            if not is_orig and plen == 0 and y.zstate == Z_SYN_SENT:
                # Some stacks ACK a SYN before their SYN-ACK; not a partial
                # connection.
                pass
            elif flags & ACK and y.zstate == Z_ESTABLISHED:
                x.zstate = Z_ESTABLISHED
            else:
                x.zstate = Z_PARTIAL
    elif zs == Z_SYN_SENT or zs == Z_SYN_ACK_SENT:
        if fin:
            x.zstate = Z_CLOSED
        if rst:
            x.zprev = x.zstate
            x.zstate = Z_RESET
    elif zs == Z_ESTABLISHED or zs == Z_PARTIAL:
        if syn and zs == Z_PARTIAL and y.zstate == Z_INACTIVE and not flags & ACK:
            x.zstate = Z_SYN_SENT
        if fin and not rst:
            x.zstate = Z_CLOSED
            if y.zstate == Z_RESET and y.zprev == Z_CLOSED:
                # A FIN followed by a RST from the peer: a normal close.
                y.zstate = Z_CLOSED
        if rst:
            x.zprev = x.zstate
            x.zstate = Z_RESET
    elif zs == Z_CLOSED:
        if rst and y.zstate != Z_CLOSED:
            x.zprev = x.zstate
            x.zstate = Z_RESET
