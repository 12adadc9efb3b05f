"""The connection table: which connection instance each segment belongs to.

Per packet, the common case (data or ACKs with both sides ESTABLISHED)
touches a handful of counters here; everything that can change a state goes
to the endpoint state machine (``endpoint``).  The table also owns the
connections' lives: a new instance when a 4-tuple is reused (``_route``),
eviction when the table is full, and folding of finished connections past
the report's cap (``folding``).
"""
from __future__ import annotations

from collections import deque
from itertools import chain
from operator import attrgetter

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..decode import ACK, CONTROL, FIN, RST, SYN
from ..model.connection import (
    HS_SYN, HS_SYNACK, SEQ_HALF, SEQ_MASK, Z_CLOSED, Z_IN_STEP, Z_INACTIVE, Z_RESET, Connection, Endpoint,
    new_connection, new_endpoint, own_connection_rare, own_rare, reverse_key, split_key,
)
from ..model.states import CLOSED, ESTABLISHED, SYN_SENT, UNKNOWN
from . import history, zeek
from .endpoint import DUP_WINDOW, acks_syn, check_ended, control, receipts, set_state, unseen_peer_ack
from .folding import OTHER, Folds, kind_of
from .history import H_ACK, H_DATA
from .zeek import _NEVER, TOO_LARGE_SEQ_DELTA
from .timers import settle_with

if cython.compiled:
    from .flowtable import FlowTable, HostTable

_BY_CREATION = attrgetter("seq_order")
_BY_FIRST_SEEN = attrgetter("first_seen")
_SCALED = history.SCALED_COUNTS

# Segments that always go through ``_route``: a SYN or a RST may start, end
# or hand over a connection instance.  (The compiled walk's own lookup in
# the flow table, engine.loop, passes them by.)
ROUTED = SYN | RST
_ROUTED = ROUTED   # compiled, a C value (table.pxd); ROUTED stays importable

# An eviction spares a connection seen this recently (seconds) once.
EVICT_RECENT = 1.0

# Ports below this are "well known" (IANA); used to guess the server of a
# connection whose handshake the capture missed.
WELL_KNOWN_PORT_LIMIT = 1024
# Host addresses shared between endpoints (``_new``) before the map starts over.
HOSTS_KEPT = 65536


class ConnectionTable:
    """Live connections by flow key (both directions), and the finished ones
    kept for the report.

    ``segment`` is the packet loop's entry; ``finalize`` ends the capture.
    """

    def __init__(self, options):
        """``options``: an ``analysis.AnalysisOptions`` (timers, memory bounds)."""
        self.options = options
        # The timers' options, read once (``_settle``, for every connection).
        self.unanswered = options.unanswered
        self.time_wait = options.time_wait
        self.fin_timeout = options.fin_timeout
        # Compiled, the same mapping in C memory, which the compiled walk
        # also reads from a packet's bytes (engine.flowtable).
        self.table: dict[bytes, Connection] = FlowTable() if cython.compiled else {}
        # Two keys (one per direction) per live connection.
        self.max_table = 2 * max(1, options.max_connections)
        self.max_finished = max(0, options.max_report_connections)
        self.finished: deque[Connection] = deque()
        self.finished_failed: deque[Connection] = deque()
        self.order: deque[Connection] = deque()  # live connections, oldest first (for eviction)
        self.folds = Folds()
        self.evicted = 0
        self._order = 0
        # Set by the packet loop in a partitioned run (``loop.run`` with
        # ``owned``): the packet's number in the whole capture, so that every
        # partition orders its connections as a single process would.
        self.packet_number = None
        # Zeek's likely_server_ports, read when a table is made (a test can
        # give the set a Zeek run without the default scripts had).
        self.likely_server_ports = zeek.LIKELY_SERVER_PORTS

        # Tunneled connections whose other direction has not been seen yet,
        # by that direction's 4-tuple (no tag): see ``_adopt``.
        self.awaiting: dict[bytes, Connection] = {}
        # Each host's address, shared by its endpoints (``_new``); at most
        # as many as the table holds keys, so that memory stays bounded by the
        # connections kept (a flood from spoofed sources is a host a SYN).
        # (Compiled, a HostTable: found from the key's bytes, engine.flowtable.)
        self.hosts_kept = min(HOSTS_KEPT, self.max_table)
        self.hosts: dict[bytes, bytes] = HostTable(self.hosts_kept) if cython.compiled else {}

    # ------------------------------------------------------------------ hot path
    def segment(self, ts, key, sport, dport, seq, ack, flags, win, plen, wscale, ipb=0, encap=None, conn=None,
                upper=False):
        """One TCP segment; ``ipb``: its IP packet's total length (Zeek's
        ip_bytes; 0 where a caller does not know it); ``encap``: the tunnel
        that carried it (decode.tunnel), whose identity, if it has one, ends
        ``key``.  ``conn``, ``upper``: the connection ``key`` maps to and
        whether ``key`` is its client's direction, where the caller already
        knows them (the compiled walk's lookup in ``table``) and
        the segment routes nowhere else (not ``ROUTED``, no ``route_check``);
        ``key`` is not read then."""
        if conn is None:
            conn = self.table.get(key)
            if conn is None or flags & _ROUTED or conn.route_check:
                conn = self._route(ts, key, conn, sport, dport, seq, ack, flags, encap)
                if conn is None:
                    return
            upper = key == conn.ckey
        if upper:
            x = conn.client
            y = conn.server
        else:
            x = conn.server
            y = conn.client
        ctl = flags & CONTROL
        # Zeek's last_seq and reassembler frontier of an endpoint (zlast,
        # zdata) are not kept while both equal our SND.NXT (zlast is
        # Z_IN_STEP then, zdata stale) -- how nearly every packet leaves
        # them.  Such an endpoint is "in step": its Zeek state is neither
        # INACTIVE nor RESET and no conn.log row split is due (see the end
        # of the general path), so the common packet below, from an
        # endpoint in step with both of ours ESTABLISHED, costs the Zeek
        # view two counters and no branch of its own.
        # Packets that would move Zeek's numbers otherwise than ours write
        # them out and go on with Zeek's own bookkeeping (the general path)
        # until the two meet again.  Only the Zeek view reads them, after
        # ``zeek.write_out``.
        if not ctl and x.zlast == Z_IN_STEP and x.state == ESTABLISHED and y.state == ESTABLISHED:
            if ts > conn.last_seen:
                conn.last_seen = ts
            x.packets += 1
            x.ip_bytes += ipb
            x.last_time = ts
            # D and A once per direction (update_history); the bits tested
            # here, not in history.add_once: a call per data packet on the
            # hot path would buy nothing.
            if plen:
                if not x.hist_seen & H_DATA:
                    x.hist_seen |= H_DATA
                    history.add(conn, "D", upper)
            elif flags & ACK and not x.hist_seen & H_ACK:
                x.hist_seen |= H_ACK
                history.add(conn, "A", upper)
            if win == 0 and y.zstate != Z_CLOSED:
                # Zeek's W (update_window; x is not RESET, being in step).
                rare = own_rare(x)
                rare.zero_windows += 1
                history.add_scaled(conn, rare.zero_windows, "W", upper)
            # Our sequence space, the general path's below without what an
            # endpoint in step (seen before, so SND.NXT known) cannot need.
            if plen:
                nxt = x.snd_nxt
                end = (seq + plen) & SEQ_MASK
                adv = (end - nxt) & SEQ_MASK
                if adv and adv < SEQ_HALF:
                    if adv < plen:
                        x.bytes += adv
                        if x.rare.holes is not None:
                            fill_hole(x, seq, nxt)
                    else:
                        x.bytes += plen
                        if adv > plen:
                            new_hole(x, nxt, seq)
                    x.seg_seq = seq
                    x.seg_time = ts
                    x.snd_nxt = end
                else:
                    if x.rare.holes is not None:
                        fill_hole(x, seq, end)
                    if seq == x.seg_seq and ts - x.seg_time < DUP_WINDOW and ack == x.rcv_nxt:
                        rare = own_rare(x)
                        rare.duplicates += 1
                    else:
                        x.retransmits += 1
                        x.rxmt_time = ts
                    # Zeek's last_seq is SND.NXT: its retransmission too (T),
                    # and no hole in its reassembler for it to fill.
                    x.zrxmit += 1
                    history.add_scaled(conn, x.zrxmit, "T", upper)
            elif seq != x.snd_nxt:
                _zero_length_off(x, seq, ts)
            if flags & ACK:
                rn = x.rcv_nxt
                if rn < 0 or ack != rn and ((ack - rn) & SEQ_MASK) < SEQ_HALF:
                    x.rcv_nxt = ack
                    x.acks += 1
                    if y.rare.holes is not None:
                        acked_holes(y, ack)
                    ynxt = y.snd_nxt
                    if y.zlast != Z_IN_STEP or 0 < ((ack - ynxt) & SEQ_MASK) < SEQ_HALF:
                        _ack_beyond(conn, x, y, upper, rn, ack, ynxt, ts)
            return

        # The general path: handshakes, closes, resets, a first packet, our
        # states other than ESTABLISHED, and endpoints out of step.  (The
        # state machine's calls take the time as a C double, compiled: no
        # float object for the 36% of the 2M capture's packets that come
        # this way.)
        if ts >= conn.zend:
            # Zeek removed the connection 5 s after it closed or was reset:
            # this packet opens a new conn.log row (the Zeek view only).
            zeek.split(conn, ts, conn.last_seen, upper, sport, dport, flags, self.likely_server_ports)
        if ts > conn.last_seen:
            conn.last_seen = ts
        x.packets += 1
        x.ip_bytes += ipb
        x.last_time = ts
        seglen = plen
        zs = x.zstate
        zl = x.zlast
        if ctl or x.state != ESTABLISHED or y.state != ESTABLISHED or zs == Z_INACTIVE:
            receipts(conn, x, y, upper, ts, ack, flags, plen)
            if ctl:
                if flags & SYN:
                    seglen += 1
                if flags & FIN:
                    seglen += 1
                # Zeek's letter for the packet comes first (update_history).
                history.control(conn, x, flags, seq, plen, upper)
                if flags & RST:
                    # A RST's payload is not stream data (get_segment_len).
                    seglen -= plen
            if zs == Z_INACTIVE or ctl:
                # Control segments and a first packet move Zeek's numbers by
                # rules of their own (init_endpoint, the FIN octet that is no
                # data, a RST's payload, untrusted sequence numbers).
                if zl == Z_IN_STEP:
                    x.zlast = x.zdata = zl = x.snd_nxt
                if zs == Z_INACTIVE or flags & SYN:
                    zeek.init_endpoint(x, flags, seq, (seq + seglen) & SEQ_MASK)
        if not ctl:
            if plen:
                if not x.hist_seen & H_DATA:
                    x.hist_seen |= H_DATA
                    history.add(conn, "D", upper)
            elif flags & ACK and not x.hist_seen & H_ACK:
                x.hist_seen |= H_ACK
                history.add(conn, "A", upper)
        if win == 0 and not flags & RST and y.zstate != Z_CLOSED and zs != Z_RESET:
            # Zeek's W (update_window), judged on the states before the packet.
            rare = own_rare(x)
            rare.zero_windows += 1
            history.add_scaled(conn, rare.zero_windows, "W", upper)

        if zl != Z_IN_STEP:
            # Zeek's last_seq (update_last_seq): any segment ending beyond it
            # moves it -- a pure ACK too -- and payload ending at or below it
            # is a retransmission (T).  Kept apart from our SND.NXT, which
            # neither zero-length segments nor a RST's payload move.  (In
            # step, the same happens in our own sequence logic below.)
            zend = (seq + seglen) & SEQ_MASK
            d = (zend - x.zlast) & SEQ_MASK
            if zs == Z_RESET or (ctl and flags & (SYN | RST)
                                 and TOO_LARGE_SEQ_DELTA < d < SEQ_MASK + 1 - TOO_LARGE_SEQ_DELTA):
                # Nothing a reset endpoint says is trusted, nor a SYN's or
                # RST's sequence number far from the last one.
                pass
            elif d and d < SEQ_HALF:
                x.zlast = zend
                if plen:
                    if ctl:
                        _zeek_data(x, seq, plen, flags)
                    elif 0 < ((zend - x.zdata) & SEQ_MASK) < SEQ_HALF:
                        # In-order payload: the reassembler's frontier moves with it.
                        x.zdata = zend
            elif plen:
                x.zrxmit += 1
                history.add_scaled(conn, x.zrxmit, "T", upper)
                # A retransmission may fill a hole the reassembler had.
                _zeek_data(x, seq, plen, flags)
        if zs == Z_INACTIVE or ctl:
            zeek.update(conn, x, y, upper != conn.zflip, flags, plen, seq, ts)

        if ctl and flags & RST:
            control(conn, x, y, upper, ts, seq, ack, flags, plen, wscale)
            return
        # Sequence space: new data, retransmissions (our count: a segment
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
                    if adv < plen:
                        # Partly old bytes: they may fill a hole.
                        x.bytes += adv
                        if x.rare.holes is not None:
                            fill_hole(x, seq, nxt)
                    else:
                        x.bytes += plen
                        if adv > seglen:
                            # It starts past SND.NXT: the bytes between were
                            # sent but not captured, or are still to come
                            # reordered (tshark: "previous segment not
                            # captured").  An ACK over them before they show
                            # up is capture loss (``acked_holes``).
                            new_hole(x, nxt, seq)
                    x.seg_seq = seq
                    x.seg_time = ts
                x.snd_nxt = end
            else:
                x.snd_nxt = nxt
                if x.rare.holes is not None:
                    fill_hole(x, seq, end)
                if plen:
                    if seq == x.seg_seq and ts - x.seg_time < DUP_WINDOW and ack == x.rcv_nxt:
                        # The same segment again, within moments, with the
                        # same acknowledgment: one packet the capture holds
                        # twice, not a retransmission (Zeek's T all the same).
                        rare = own_rare(x)
                        rare.duplicates += 1
                    else:
                        x.retransmits += 1
                        x.rxmt_time = ts
                    if zl == Z_IN_STEP:
                        # As on the common path: in step, Zeek's T too.
                        x.zrxmit += 1
                        history.add_scaled(conn, x.zrxmit, "T", upper)
        elif x.snd_nxt < 0:
            x.snd_nxt = seq
        elif seq != x.snd_nxt:
            _zero_length_off(x, seq, ts)
        if flags & ACK:
            rn = x.rcv_nxt
            if rn < 0 or ack != rn and ((ack - rn) & SEQ_MASK) < SEQ_HALF:
                x.rcv_nxt = ack
                # Zeek's capture_loss counts an "ACK event" where the
                # acknowledgment advances (TCP_Reassembler::AckReceived),
                # not per packet: so here, and only here.
                x.acks += 1
                if y.rare.holes is not None:
                    acked_holes(y, ack)
                ynxt = y.snd_nxt
                if ynxt < 0:
                    # Nothing of the peer's seen yet: a capture joined
                    # mid-stream, or one that shows one direction only.
                    if not flags & SYN:
                        unseen_peer_ack(conn, x, y, upper, rn, ack, ts)
                elif y.zlast == Z_IN_STEP:
                    if ack != ynxt and ((ack - ynxt) & SEQ_MASK) < SEQ_HALF:
                        _ack_beyond(conn, x, y, upper, rn, ack, ynxt, ts)
                else:
                    # _ack_beyond's out-of-step half, inline: the general
                    # path has y out of step at most packets (a call each).
                    if ack != ynxt and ((ack - ynxt) & SEQ_MASK) < SEQ_HALF and y.state != UNKNOWN:
                        _missed(conn, x, y, upper, rn, ack, ynxt, ts)
                    yd = y.zdata
                    g = (ack - yd) & SEQ_MASK
                    if g and g < SEQ_HALF and yd >= 0 and y.zstate != Z_INACTIVE and yd != y.fin_seq:
                        _zeek_ack(conn, x, y, upper, ack, yd)
        if ctl:
            control(conn, x, y, upper, ts, seq, ack, flags, plen, wscale)
            if ctl != SYN:
                return
            # After a SYN or SYN-ACK (init_endpoint), Zeek's state as it
            # is now: the endpoint's first data after the handshake can
            # then take the common path.
            zs = x.zstate
        if zl != Z_IN_STEP and zs != Z_INACTIVE and zs != Z_RESET:
            # x out of step, after a SYN or a packet that was neither
            # control nor its first: in step again once Zeek's numbers meet
            # ours (after the handshake; a hole acknowledged and then
            # filled) and no row split is due (the common path does not
            # look for one).  Never after its FIN: Zeek's last_seq then
            # counts the FIN's octet, its reassembler's frontier does not.
            n = x.snd_nxt
            if x.zlast == n and x.zdata == n and conn.zend == _NEVER:
                x.zlast = Z_IN_STEP

    # ------------------------------------------------------------------ routing
    # _route, _reuse and _new are cpdef in table.pxd (engine.observer.
    # ObservedTable overrides _route); the other per-connection methods stay
    # def, their connections and endpoints typed all the same, so that their
    # field reads and writes are C ones, not a getattr each.
    def _route(self, ts, key, conn, sport, dport, seq, ack, flags, encap=None):
        """Which connection instance a packet belongs to (creating one if new)."""
        if conn is None:
            if len(key) & 1:
                conn = self._adopt(key, encap)
                if conn is not None:
                    return conn
            return self._new(ts, key, sport, dport, seq, ack, flags, encap)
        is_client = key == conn.ckey
        x = conn.client if is_client else conn.server
        y = conn.server if is_client else conn.client

        if flags & SYN and not flags & RST:
            if not flags & ACK:
                if x.isn == seq and not conn.ended:
                    return conn  # retransmitted (or reordered) SYN
                if not is_client and x.packets == 0 and conn.client.state == SYN_SENT:
                    return conn  # simultaneous open: the peer's own SYN
                return self._reuse(ts, key, conn, x, y, sport, dport, seq, ack, flags, encap)
            # SYN-ACK
            if x.isn == seq and not conn.ended:
                return conn  # retransmitted SYN-ACK
            if y.state == SYN_SENT and acks_syn(y, ack):
                rare = conn.rare
                if rare.prev is not None:
                    # The peer accepted the new connection, so its old TCB on
                    # this tuple is gone (Linux lets a SYN with a higher ISN
                    # replace a TIME_WAIT socket: tcp_timewait_state_process).
                    self._retire(rare.prev, ts, conn, flags)
                    rare.prev = None
                return conn
            if conn.ended or (y.isn >= 0 and not acks_syn(y, ack)):
                return self._reuse(ts, key, conn, x, y, sport, dport, seq, ack, flags, encap)
            return conn

        rare = conn.rare
        prev = rare.prev
        if prev is not None:
            # A new SYN landed on a tuple whose old connection was still alive
            # at the peer (a rebooted client, or a TIME_WAIT socket).  The
            # peer answers with an ACK carrying the *old* numbers (RFC 5961
            # section 4, or a TIME_WAIT's ACK) and the client resets it: those
            # packets belong to the old connection, not the new one.
            c = conn.client
            if (prev.client.state != CLOSED or prev.server.state != CLOSED) \
                    and c.state == SYN_SENT and not conn.hs & HS_SYNACK:
                if not is_client and not acks_syn(c, ack):
                    if prev.rare.challenge_time < 0:
                        prare = own_connection_rare(prev)
                        prare.challenge_time = ts
                        prare.challenge_state = prev.server.state
                    return prev
                if is_client and flags & RST:
                    return prev
                return conn
            rare.prev = None
        if conn.ended and not flags & SYN and ts - conn.last_seen > self.options.time_wait:
            # Long after both sides closed: a connection the capture joins
            # mid-stream, not a straggler of the old one.
            return self._reuse(ts, key, conn, x, y, sport, dport, seq, ack, flags, encap)
        if rare.prev is None and not conn.ended:
            conn.route_check = False
        return conn

    def _reuse(self, ts, key, old, x_old, y_old, sport, dport, seq, ack, flags, encap=None):
        """A new connection instance on a 4-tuple that already had one."""
        new = self._new(ts, key, sport, dport, seq, ack, flags, encap)
        orare = own_connection_rare(old)
        orare.superseded = new
        orare.prev = None
        nrare = own_connection_rare(new)
        nrare.reused_peer_state = y_old.state
        nrare.reused_own_state = x_old.state
        nrare.reused_from = old
        if flags & SYN and not flags & ACK and x_old.isn == seq and x_old is old.client:
            nrare.replay_of = old
        if flags & SYN and not flags & ACK:
            # The sender started a new connection on this tuple: its old TCB
            # can no longer exist (one 4-tuple, one socket).  The peer's side
            # stays as it was until it is seen to go (or to challenge).
            if x_old.state != CLOSED:
                set_state(x_old, CLOSED, ts)
                check_ended(old)
                self._handed_over(old, ts, new, flags)
            if y_old.state != CLOSED:
                nrare.prev = old
                new.route_check = True
        return new

    def _retire(self, old, ts, new, flags):
        moved = False
        for ep in (old.client, old.server):
            if ep.state != CLOSED:
                set_state(ep, CLOSED, ts)
                moved = True
        check_ended(old)
        if moved:
            self._handed_over(old, ts, new, flags)

    def _handed_over(self, old, ts, new, flags) -> None:
        """A packet of ``new`` changed the states of ``old``, an earlier
        instance on the same 4-tuple (for an observer: ``observer``)."""

    def _adopt(self, key, encap):
        """A tunneled packet of no known connection: the other direction of
        one whose peer has not spoken yet, carried with another tunnel id?

        A tunnel's id is usually the same both ways (a VNI names a network),
        so a connection is entered under its first packet's tag in both
        directions.  But Open vSwitch's flow-based tunnels (tcpdump's
        geneve.pcap: VNI 10 one way, 11 back) and GRE's per-direction keys
        (ikey/okey) tag each direction on its own: the answer then arrives
        under another tag, and is taken for that direction's first packet --
        only while that direction has sent nothing, so that a second tunnel
        carrying the same inner 4-tuple still starts its own connection."""
        base, tag = split_key(key)
        conn = self.awaiting.get(base)
        if conn is None or conn.encap is None or encap is None or conn.encap[0] != encap[0]:
            return None
        del self.awaiting[base]
        ckey_base, ctag = split_key(conn.ckey)
        is_client = ckey_base == base
        side = conn.client if is_client else conn.server
        if side.packets or ctag == tag or self.table.get(conn.ckey if not is_client else reverse_key(conn.ckey)) \
                is not conn:
            return None
        guess = base + ctag
        if self.table.get(guess) is conn:
            del self.table[guess]
        if is_client:
            conn.ckey = key
        self.table[key] = conn
        client_id, server_id = (encap[1], conn.encap[1]) if is_client else (conn.encap[1], encap[1])
        shown = None if client_id is None and server_id is None else f"{client_id} / {server_id}"
        # The fourth item: the key this direction really has, for eviction.
        conn.encap = (conn.encap[0], shown, conn.encap[2], key)
        return conn

    def _new(self, ts, key, sport, dport, seq, ack, flags, encap=None):
        self._order = self._order + 1 if self.packet_number is None else self.packet_number
        # The key is (src, dst, sport, dport) and the tunnel's tag, if any:
        # the reverse direction's key and both endpoints' addresses from one
        # set of slices.
        if len(key) & 1:
            tag = key[-key[-1]:]
            alen = (len(key) - len(tag) - 4) >> 1
        else:
            tag = b""
            alen = (len(key) - 4) >> 1
        a2 = alen + alen
        if cython.compiled:
            # From the key's C memory: each address as its host's one bytes
            # object (no slice made to look it up), and the reverse key made
            # in C (reverse_key).
            hosts_c = cython.cast(HostTable, self.hosts)
            kp = cython.cast(cython.p_uchar, key)
            src = hosts_c.shared(kp, alen)
            dst = hosts_c.shared(kp + alen, alen)
            rkey = reverse_key(key)
        else:
            # The slices reverse_key makes, inline: a Python call fewer per
            # connection in the pure build.
            src = key[:alen]
            dst = key[alen:a2]
            rkey = dst + src + key[a2 + 2:a2 + 4] + key[a2:a2 + 2]
            if tag:
                rkey += tag
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
        # One bytes object per host, not one per endpoint: a server's
        # address is in every connection it serves, and a client's in every
        # connection it opens (the 2M bench capture: 202,894 endpoints, 22,340
        # hosts).  Bounded like ``model.text``'s address texts, so that a
        # capture of many hosts costs no more than before.
        if not cython.compiled:
            hosts = self.hosts
            if len(hosts) >= self.hosts_kept:
                hosts.clear()
            src = hosts.setdefault(src, src)
            dst = hosts.setdefault(dst, dst)
        tso = ts   # the time as the object the constructors keep (compiled: boxed once)
        if sender_is_client:
            client = new_endpoint(src, sport, state, tso)
            server = new_endpoint(dst, dport, state, tso)
            conn = new_connection(key, client, server, tso, self._order)
        else:
            client = new_endpoint(dst, dport, state, tso)
            server = new_endpoint(src, sport, state, tso)
            conn = new_connection(rkey, client, server, tso, self._order)
        conn.roles_inferred = inferred
        # Zeek's roles (its conn.log orig/resp) are its own guess: the sender
        # of the first packet unless Zeek flips it (zeek.zeek_flips), which
        # it marks with "^".  Where that guess differs from ours, the Zeek
        # view (history's letter case, conn_state, --format zeek) follows
        # Zeek's roles and our client/server stay as the contract guesses them.
        zeek_orig_is_sender = flags & (SYN | ACK) == SYN or not zeek.zeek_flips(sport, dport, flags,
                                                                               self.likely_server_ports)
        conn.zflip = zeek_orig_is_sender != sender_is_client
        if not zeek_orig_is_sender:
            conn.hist = "^"
        if encap is not None:
            conn.encap = encap
            if tag:
                # The way back, until seen, is entered under this tag too:
                # its 4-tuple, the reverse key without the tag.
                self.awaiting[cython.cast(cython.p_char, rkey)[:a2 + 4] if cython.compiled else rkey[:a2 + 4]] = conn
        if flags & SYN and flags & ACK:
            # A SYN-ACK seen before (or without) its SYN: the client's SYN is
            # implied by the acknowledgment number.  (Zeek's originator stays
            # INACTIVE: it saw no SYN.)
            set_state(client, SYN_SENT, ts)
            client.isn = (ack - 1) & SEQ_MASK
            client.snd_nxt = ack
            client.syn_time = ts
            conn.hs |= HS_SYN
        old = self.table.get(key)
        if old is not None and old is not conn:
            self._finish(old, ts)
            self.table[key] = conn
        else:
            if len(self.table) >= self.max_table:
                self._evict(ts)
            # Absent: entered where the probe ends (compiled: one probe,
            # not a second one by a store).
            self.table.setdefault(key, conn)
        # The way back in one probe where it was not mapped (nearly always).
        was = self.table.setdefault(rkey, conn)
        if was is not conn:
            self.table[rkey] = conn
        order = self.order
        order.append(conn)
        if len(order) > self.max_table:
            # Drop finished connections from the eviction queue, so it (and
            # what it keeps alive) stays proportional to the live table.
            self.order = live_order(order, self.table)
        return conn

    # ------------------------------------------------------------------ memory
    @cython.locals(conn=Connection)
    def _finish(self, conn: Connection, ts: float) -> None:
        """A connection leaves the live table; past the report caps, fold the oldest.

        Failed attempts (a lone SYN, an unanswered SYN-ACK, a refusal) get a
        tenth of the cap: a flood of them says all it has to say in counts,
        and should not push real connections out of the report.
        """
        if conn.encap is not None and conn.encap[2] and self.awaiting:
            for k in (split_key(conn.ckey)[0], split_key(reverse_key(conn.ckey))[0]):
                if self.awaiting.get(k) is conn:
                    del self.awaiting[k]
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
        zeek.write_out(oldest)
        self._settle(oldest, ts)
        # Links between instances of one 4-tuple end with it (a link set is
        # on a record of the instance's own).
        rare = oldest.rare
        later = rare.superseded
        if later is not None and later.rare.reused_from is oldest:
            later.rare.reused_from = None
            later.rare.prev = None
        earlier = rare.reused_from
        if earlier is not None and earlier.rare.superseded is oldest:
            earlier.rare.superseded = None
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
            if ts - conn.last_seen < EVICT_RECENT and not conn.rare.evict_spared:
                own_connection_rare(conn).evict_spared = True  # one second chance, not more
                order.append(conn)
                continue
            for k in keys_of(conn):
                if self.table.get(k) is conn:
                    del self.table[k]
            self.evicted += 1
            done += 1
            self._finish(conn, ts)

    # ------------------------------------------------------------------ end
    @cython.locals(conn=Connection)
    def connections(self) -> list[Connection]:
        """Every connection instance kept for the report, ordered by first
        packet.  The capture is over: the table lets them go."""
        # Each once, though the table holds a live one under each of its
        # keys: its id (0 until numbered) marks it taken.  A set of them
        # would be a slot per connection at the end of the capture, where
        # the memory a run needs peaks.
        kept = chain(self.finished, self.finished_failed, self.table.values())
        if self.packet_number is None:
            # One table's own connections: their seq_order is 1, 2, ... as
            # _new made them, so each goes to its slot in creation order, in
            # one pass and without a sort (a partition's is a packet's
            # number, sparse: sorted below).
            slots = [None] * (self._order + 1)
            for conn in kept:
                if conn.id == 0:
                    conn.id = -1
                    slots[conn.seq_order] = conn
            # The empty slots out (a Connection is always true), in C in both builds.
            out = list(filter(None, slots))
            slots = None
        else:
            out = []
            for conn in kept:
                if conn.id == 0:
                    conn.id = -1
                    out.append(conn)
            out.sort(key=_BY_CREATION)
        # The flow table's memory goes back before the report's is taken.
        self.table = type(self.table)()
        self.finished.clear()
        self.finished_failed.clear()
        self.order.clear()
        self.awaiting.clear()
        number_created(out)
        return out

    def finalize(self, end_ts: float) -> list[Connection]:
        """Apply the kernel timers a capture cannot show, at the capture's end."""
        conns = self.connections()
        for conn in conns:
            zeek.write_out(conn)
            self._settle(conn, end_ts)
        return conns

    def _settle(self, conn: Connection, ts: float) -> None:
        settle_with(conn, ts, self.unanswered, self.time_wait, self.fin_timeout)


# The sequence-space helpers of ConnectionTable.segment: functions, not
# methods (nothing overrides them), so that compiled they are C calls
# (table.pxd), not a method lookup and boxed arguments each.
def _zero_length_off(x, seq, ts) -> None:
    """A zero-length segment not at SND.NXT (seen before)."""
    nxt = x.snd_nxt
    if seq == (nxt - 1) & SEQ_MASK:
        # One below SND.NXT: a keepalive probe (RFC 9293 3.8.4; Linux
        # tcp_write_wakeup).
        rare = own_rare(x)
        rare.probes += 1
        rare.probe_time = ts
    elif x.zlast == Z_IN_STEP and 0 < ((seq - nxt) & SEQ_MASK) < SEQ_HALF:
        # Beyond SND.NXT (the capture missed x's bytes): Zeek's last_seq
        # moves to it, ours and its reassembler's frontier do not.  Out
        # of step from here.
        x.zdata = nxt
        x.zlast = seq


def _ack_beyond(conn, x, y, upper, rn, ack, ynxt, ts) -> None:
    """x's acknowledgment advanced (from ``rn``), to beyond anything y was
    seen to send (the capture missed y's bytes), or y is out of step or
    never seen."""
    if ynxt < 0:
        # Nothing of y's seen yet (its Zeek numbers are unset, -1): a
        # capture joined mid-stream, or one that shows one direction only.
        unseen_peer_ack(conn, x, y, upper, rn, ack, ts)
        return
    if y.zlast == Z_IN_STEP:
        # In step: Zeek's frontier is ynxt, so its gap is ours (and y,
        # in step, is seen and neither INACTIVE nor RESET); y's numbers
        # part from ours here.
        y.zlast = y.zdata = ynxt
        if y.state != UNKNOWN:
            _missed(conn, x, y, upper, rn, ack, ynxt, ts)
        _zeek_ack(conn, x, y, upper, ack, ynxt)
        return
    if 0 < ((ack - ynxt) & SEQ_MASK) < SEQ_HALF and y.state != UNKNOWN:
        _missed(conn, x, y, upper, rn, ack, ynxt, ts)
    # Zeek's content gap (TCP_Reassembler::AckReceived): the ACK beyond
    # the payload its reassembler holds; only for an endpoint that sent.
    # (The general path has this inline.)
    yd = y.zdata
    g = (ack - yd) & SEQ_MASK
    if g and g < SEQ_HALF and yd >= 0 and y.zstate != Z_INACTIVE and yd != y.fin_seq:
        # (The ACK of y's FIN, its frontier at the FIN: held below the
        # FIN, that ACK is no gap -- the common case, without the call.)
        _zeek_ack(conn, x, y, upper, ack, yd)


def _missed(conn, x, y, upper, rn, ack, ynxt, ts) -> None:
    """x acknowledges beyond y's SND.NXT: the capture missed y's bytes
    (our count of the loss; Zeek's own gap, its G, is ``_zeek_ack``)."""
    gap = (ack - ynxt) & SEQ_MASK
    y.snd_nxt = ack
    rare = own_rare(y)
    rare.gaps += 1
    if y.packets:
        rare.missed += gap
        if rare.hole_ack != ack:   # one gap per ACK event, as Zeek counts
            rare.gap_acks += 1
        if gap == 1:
            # One sequence number past y's last byte: most likely y's
            # FIN (RFC 9293 3.4: a FIN takes one), which the capture lost
            # (``timers``).
            rare.fin_guess = ack
            rare.fin_guess_time = ts
    else:
        unseen_peer_ack(conn, x, y, upper, rn, ack, ts)


def _zeek_data(x, seq, plen, flags) -> None:
    """Payload reaches Zeek's reassembler: its frontier moves (a SYN's
    data starts after the SYN octet; a RST's is not stream data)."""
    if flags & RST:
        return
    end = (seq + plen + (1 if flags & SYN else 0)) & SEQ_MASK
    if 0 < ((end - x.zdata) & SEQ_MASK) < SEQ_HALF:
        x.zdata = end


def _zeek_ack(conn, x, y, upper, ack, yd) -> None:
    """x acknowledges beyond the payload Zeek's reassembler holds for y:
    a content gap (TCP_Reassembler::AckReceived, Undelivered, Gap).  The
    ACK is held below y's FIN (a FIN's octet is not data), so a FIN that
    jumped over unseen data shows the hole when it is acknowledged.
    Written (G, missed_bytes) only between two endpoints established or
    closing cleanly: never for an endpoint that did not send, nor after
    a RST."""
    yf = y.fin_seq
    if yf >= 0 and ack != yf and ((ack - yf) & SEQ_MASK) < SEQ_HALF:
        ack = yf
    g = (ack - yd) & SEQ_MASK
    if g and g < SEQ_HALF:
        y.zdata = ack
        if zeek.clean(y) and zeek.clean(x):
            rare = own_rare(y)
            rare.zgaps += 1
            rare.zmissed += g
            history.add_scaled(conn, rare.zgaps, "G", not upper)


def live_order(order, table) -> deque:
    """The eviction queue ``order`` without the connections that have left
    ``table``."""
    return deque(c for c in order if table.get(c.ckey) is c)


def keys_of(conn: Connection) -> tuple:
    """The flow keys a connection is entered under: its two directions, and
    a direction adopted with another tunnel id (``_adopt``)."""
    encap = conn.encap
    if encap is not None and len(encap) > 3:
        return conn.ckey, reverse_key(conn.ckey), encap[3]
    return conn.ckey, reverse_key(conn.ckey)
# Holes kept per endpoint (pairs): a capture losing more than this many
# segments in flight of one connection has already said it loses packets.
MAX_HOLES = 64


def new_hole(ep: Endpoint, start: int, end: int) -> None:
    """[start, end) of ep's sequence space was skipped by the capture."""
    rare = own_rare(ep)
    rare.seq_holes += 1
    holes = rare.holes
    if holes is None:
        rare.holes = [start, end]
    elif len(holes) < 2 * MAX_HOLES:
        holes += (start, end)


def _rel(ep: Endpoint, v: int) -> int:
    """v on a line (not a circle) around ep's SND.NXT: holes lie within 2**31 below it."""
    return (v - ep.snd_nxt + SEQ_HALF) & SEQ_MASK


def fill_hole(ep: Endpoint, start: int, end: int) -> None:
    """A segment [start, end) arrived late (retransmitted, or reordered): the
    part of any hole it covers was not lost to the capture.  (Called where
    ep has holes: its rare fields are its own.)"""
    rare = ep.rare
    holes = rare.holes
    s, e = _rel(ep, start), _rel(ep, end)
    kept = []
    for i in range(0, len(holes), 2):
        a, b = holes[i], holes[i + 1]
        ra, rb = _rel(ep, a), _rel(ep, b)
        if e <= ra or s >= rb:
            kept += (a, b)
            continue
        if s > ra:
            kept += (a, start)
        if e < rb:
            kept += (end, b)
    rare.holes = kept or None


def acked_holes(ep: Endpoint, ack: int) -> int:
    """The peer acknowledged up to ``ack``: holes below it were never filled,
    so the capture lost those bytes (Zeek: TCP_Reassembler::AckReceived counts
    a gap event when an ACK covers undelivered bytes).  Their bytes go to
    ``missed``, the event to ``gap_acks`` (``hole_ack``: the ACK, so that the
    same ACK running past SND.NXT too is one event); returns the bytes.
    (Called where ep has holes: its rare fields are its own.)"""
    rare = ep.rare
    holes = rare.holes
    r = _rel(ep, ack)
    lost = 0
    kept = []
    for i in range(0, len(holes), 2):
        a, b = holes[i], holes[i + 1]
        ra, rb = _rel(ep, a), _rel(ep, b)
        if rb <= r:
            lost += rb - ra
        elif ra < r:
            lost += r - ra
            kept += (ack, b)
        else:
            kept += (a, b)
    rare.holes = kept or None
    if lost:
        rare.missed += lost
        rare.gap_acks += 1
        rare.hole_ack = ack
    return lost


@cython.locals(conn=Connection, first="double", last="double")
def number_connections(conns: list[Connection]) -> None:
    """Order connections by first packet (ties: the packet that created them)
    and give them their report ids: one order whether one process or several
    partitions (``analysis.parallel.merge``) tracked them."""
    conns.sort(key=_BY_CREATION)
    number_created(conns)


@cython.locals(conn=Connection, i="long long", first="double", last="double")
def number_created(conns: list[Connection]) -> None:
    """``number_connections`` for connections already in creation order."""
    # A capture's timestamps nearly always rise with its packets, and then
    # creation order is already first-packet order: numbering them as they
    # stand, and seeing that on the way, is cheaper than sorting on
    # (first_seen, seq_order) pairs.  Otherwise a stable sort on first_seen
    # keeps creation order among ties.
    last = float("-inf")
    i = 0
    for conn in conns:
        first = conn.first_seen
        if first < last:
            conns.sort(key=_BY_FIRST_SEEN)
            i = 0
            for conn in conns:
                i += 1
                conn.id = i
            return
        last = first
        i += 1
        conn.id = i
