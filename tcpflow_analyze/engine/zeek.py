"""Zeek's view of a connection: its endpoint state machine and conn_state.

Tracked beside our own RFC 9293 states only so that a Zeek user can line our
report up with their conn.log.  ``update`` is Zeek's
TCPSessionAdapter::UpdateStateMachine, one function per state of the
sending endpoint as Zeek writes it (Update{Inactive,SYNSent,Established,
Closed}State); ``conn_state`` is conn/main.zeek's code, a pure function of
the two endpoints' Zeek states and the history.
"""
from __future__ import annotations

import re
import struct

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..decode import ACK, CONTROL, FIN, RST, SYN
from ..model.sha1 import sha1
from ..model.connection import (
    SEQ_HALF, SEQ_MASK, Z_CLOSED, Z_ESTABLISHED, Z_IN_STEP, Z_INACTIVE, Z_PARTIAL, Z_RESET, Z_SYN_ACK_SENT,
    Z_SYN_SENT, RARE, Connection, own_connection_rare,
)


# Zeek's likely_server_ports with its default scripts (base/init-default.zeek):
# the set is empty in init-bare.zeek and grows only where a protocol script
# says ``redef likely_server_ports += { ports }`` -- the TCP ports of
# scripts/base/protocols/<name>/main.zeek, by script.  Scripts that register
# an analyzer's ports without adding them here (imap 143, finger 79, dnp3
# 20000, mysql 1434 and 3306; pop3 and rfb register none) do not make Zeek
# flip, so neither do we.  UDP ports are left out: this is a TCP tool.
LIKELY_SERVER_PORTS_BY_SCRIPT = {
    "dce-rpc": frozenset({135}),
    "dns": frozenset({53}),
    "ftp": frozenset({21, 2811}),
    "http": frozenset({80, 81, 631, 1080, 3128, 8000, 8080, 8888}),
    "irc": frozenset({6666, 6667, 6668, 6669}),
    "krb": frozenset({88}),
    "modbus": frozenset({502}),
    "mqtt": frozenset({1883}),
    "rdp": frozenset({3389}),
    "smb": frozenset({139, 445}),
    "smtp": frozenset({25, 587}),
    "socks": frozenset({1080}),
    "ssh": frozenset({22}),
    "ssl": frozenset({443, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223}),
    "xmpp": frozenset({5222, 5269}),
}
LIKELY_SERVER_PORTS = frozenset().union(*LIKELY_SERVER_PORTS_BY_SCRIPT.values())

# Zeek's seq_delta bound past which a SYN's or RST's sequence number is not
# trusted to move last_seq (TOO_LARGE_SEQ_DELTA in TCPSessionAdapter.cc).
TOO_LARGE_SEQ_DELTA = 1048576


def zeek_flips(sport: int, dport: int, flags: int, likely=LIKELY_SERVER_PORTS) -> bool:
    """Does Zeek make the *receiver* of a connection's first packet its
    originator?  TCPAnalyzer::WantConnection (packet_analysis/protocol/tcp/
    TCP.cc): only when that packet is not a bare SYN and its source port is a
    likely server port; when both ports are, only for a non-SYN packet whose
    source port is the lower one.  Port size alone never flips."""
    if flags & SYN and not flags & ACK:
        return False
    if sport not in likely:
        return False
    if dport in likely:
        return not flags & SYN and sport < dport
    return True


def _set(x, state: int) -> None:
    # TCP_Endpoint::SetState: the previous state is kept (is_clean, Size
    # and the FIN-after-RST rule look at it).
    if x.zstate != state:
        x.zprev = x.zstate
        x.zstate = state


# How long Zeek keeps a connection after it closed (tcp_close_delay, the
# ConnDeleteTimer of TCPSessionAdapter::ConnectionClosed) or after a RST on a
# closed one (tcp_reset_delay, ResetTimer): 5 s each (init-bare.zeek).  A
# packet of the 4-tuple after that starts a new conn.log row.
TCP_CLOSE_DELAY = 5.0
_NEVER = float("inf")
TCP_RESET_DELAY = 5.0


def update(conn, x, y, is_orig: bool, flags: int, plen: int, seq: int, ts: float = 0.0) -> None:
    """What a segment from ``x`` does to the Zeek states of ``x`` and its peer
    ``y`` (TCPSessionAdapter::UpdateStateMachine); ``is_orig``: ``x`` is
    Zeek's originator."""
    zs = x.zstate
    ctl = flags & CONTROL
    # The handshake and the first FIN, nearly every control segment, here
    # without the calls of the general dispatch below (the state's update,
    # SetState): a call per control segment instead of three or four.
    if zs == Z_INACTIVE and ctl == SYN and (is_orig or flags & ACK):
        # UpdateInactiveState: the originator's SYN (or a SYN-ACK of it
        # without its SYN), or the responder's SYN-ACK.  An INACTIVE
        # endpoint's previous state is INACTIVE too (``split``).
        x.zprev = Z_INACTIVE
        if is_orig:
            x.zstate = Z_SYN_ACK_SENT if flags & ACK else Z_SYN_SENT
        else:
            if y.zstate == Z_SYN_SENT:
                y.zprev = Z_SYN_SENT
                y.zstate = Z_ESTABLISHED
            x.zstate = Z_ESTABLISHED
        return
    if ctl == FIN and (zs == Z_ESTABLISHED or zs == Z_PARTIAL):
        # UpdateEstablishedState's FIN, then ConnectionClosed.
        x.zprev = zs
        x.zstate = Z_CLOSED
        if y.zstate == Z_RESET and y.zprev == Z_CLOSED:
            _set(y, Z_CLOSED)   # as in _established
        _closed_by(conn, x, y, ts)
        return
    _UPDATE[zs](conn, x, y, is_orig, flags, plen, seq)
    if flags & (FIN | RST) and zs != Z_RESET:
        if zs == Z_CLOSED:
            # UpdateClosedState: a RST after our FIN, the peer still open.
            if flags & RST and x.zstate == Z_RESET:
                if conn.zend == _NEVER:
                    conn.zend = ts + TCP_RESET_DELAY
                    write_out(conn)
                if not x.zdid_close:
                    _closed_by(conn, x, y, ts)
        elif flags & RST or x.zstate == Z_CLOSED:
            _closed_by(conn, x, y, ts)


def _closed_by(conn, x, y, ts) -> None:
    # TCPSessionAdapter::ConnectionClosed: once per endpoint; with a RST, or
    # the peer closed too or silent, the connection is complete and Zeek
    # removes it tcp_close_delay after (its last time: this packet's).
    if x.zdid_close:
        return
    x.zdid_close = True
    if y.zdid_close:
        conn.zclosed = ts
    if (x.zstate == Z_RESET or y.zdid_close or y.zstate == Z_INACTIVE) and conn.zend == _NEVER:
        conn.zend = ts + TCP_CLOSE_DELAY
        write_out(conn)


def write_out(conn) -> None:
    """Zeek's last_seq and reassembler frontier of both endpoints as
    numbers: an endpoint in step with our sequence numbers (``zlast`` Z_IN_STEP,
    see ``ConnectionTable.segment``) has both at its SND.NXT.  Before
    anything reads them (a row split, the report), and when a row split
    becomes due (the common path, for endpoints in step, does not look)."""
    c = conn.client
    if c.zlast == Z_IN_STEP:
        c.zlast = c.zdata = c.snd_nxt
    s = conn.server
    if s.zlast == Z_IN_STEP:
        s.zlast = s.zdata = s.snd_nxt


class ZeekRow:
    """A finished conn.log row of a connection instance that Zeek split."""
    __slots__ = ("uid", "first", "last", "flip", "history", "conn_state",
                 "orig_pkts", "resp_pkts", "orig_ip_bytes", "resp_ip_bytes",
                 "orig_bytes", "resp_bytes", "missed_bytes")


def row_counts(conn):
    """The current row's (orig packets, resp packets, orig ip bytes, resp ip bytes)."""
    c, s = conn.client, conn.server
    cp, sp, cb, sb = c.packets, s.packets, c.ip_bytes, s.ip_bytes
    base = conn.rare.zbase
    if base is not None:
        bcp, bsp, bcb, bsb = base
        cp, sp, cb, sb = cp - bcp, sp - bsp, cb - bcb, sb - bsb
    return (sp, cp, sb, cb) if conn.zflip else (cp, sp, cb, sb)


def current_row(conn, last: float) -> ZeekRow:
    """The conn.log row of the Zeek view as it stands, ``last`` the time of
    its last packet (the row's clock stops where both sides closed)."""
    o, r = orig_resp(conn)
    row = ZeekRow()
    row.uid = uid(conn)
    row.first = conn.zfirst
    row.last = conn.zclosed if conn.zclosed >= 0 else last
    row.flip = conn.zflip
    row.history = conn.hist
    row.conn_state = conn_state(conn)
    row.orig_pkts, row.resp_pkts, row.orig_ip_bytes, row.resp_ip_bytes = row_counts(conn)
    row.orig_bytes, row.resp_bytes = size(o, r), size(r, o)
    row.missed_bytes = o.rare.zmissed + r.rare.zmissed
    return row


def split(conn, ts: float, last: float, x_is_client: bool, sport: int, dport: int, flags: int, likely) -> None:
    """Zeek removed this connection before a packet at ``ts`` (``conn.zend``
    passed): finish its current row and start a new one at this packet,
    whose sender Zeek takes as the new originator unless it flips
    (``zeek_flips``).  Our instance, its endpoint states and counters go on;
    only the Zeek view starts over."""
    write_out(conn)
    row = current_row(conn, last)
    crare = own_connection_rare(conn)
    if crare.zrows is None:
        crare.zrows = []
    crare.zrows.append(row)
    c, s = conn.client, conn.server
    crare.zbase = (c.packets, s.packets, c.ip_bytes, s.ip_bytes)
    conn.zfirst = ts
    conn.zend = _NEVER
    conn.zclosed = -1.0
    for ep in (c, s):
        ep.zstate = ep.zprev = Z_INACTIVE
        ep.zstart = ep.zlast = ep.zdata = -1
        ep.zrxmit = 0
        ep.zdid_close = False
        ep.hist_seen = 0
        ep.last_syn = ep.last_fin = -1
        rare = ep.rare
        if rare is not RARE:
            rare.zgaps = rare.zmissed = 0
            rare.last_rst = -1
            rare.zero_windows = 0
    orig_is_sender = not zeek_flips(sport, dport, flags, likely)
    conn.zflip = orig_is_sender != x_is_client
    conn.hist = "" if orig_is_sender else "^"


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Each byte value's base-62 digit (the byte modulo 62): a uid's digits are
# hash bytes put through this table, one C call for all of them, where the
# base-62 numeral of a 96-bit number takes a divmod per digit pair.
_B62_OF_BYTE = bytes(ord(_B62[b % 62]) for b in range(256))
# A row's first packet time in the hash: the double's own bytes.
_TIME = struct.Struct("<d")


def uid(conn) -> str:
    """A conn.log uid for the current row: "C" and 17 base-62 digits, as
    Zeek writes them (its 96 random bits in base 62) -- but ours are a hash
    of the 4-tuple and the row's first packet time, so the same capture
    gives the same uids (Zeek's are random per run)."""
    if cython.compiled and uid_chars(conn, text) == 18:
        return text[:18].decode("ascii")
    digest = sha1(conn.ckey + _TIME.pack(conn.zfirst)).digest()
    return "C" + digest[:17].translate(_B62_OF_BYTE).decode("ascii")


def uid_chars(conn, text):
    """``uid(conn)``'s 18 characters written at ``text``; 18, or 0 for a key
    too long for the message buffer (the compiled build only: the
    connection-line writer prints it in place)."""
    key = conn.ckey
    n = len(key)
    if n > 312:
        return 0
    # The message and digits below, made in C buffers, which hold any key
    # the engine makes (36 bytes and a tunnel tag of at most 255,
    # decode.tunnel).  The time's bytes as _TIME packs them: its bit
    # pattern little-endian, whatever this machine's byte order.
    memcpy(msg, cython.cast(cython.p_char, key), n)
    t = conn.zfirst
    memcpy(cython.address(bits), cython.address(t), 8)
    for i in range(8):
        msg[n + i] = (bits >> (8 * i)) & 0xFF
    sha1_digest(msg, n + 8, d)
    digits = _B62_OF_BYTE
    text[0] = 67   # "C"
    for i in range(17):
        text[1 + i] = digits[d[i]]
    return 18


def _inactive(conn, x, y, is_orig, flags, plen, seq):
    # UpdateInactiveState.
    if flags & SYN:
        if is_orig:
            _set(x, Z_SYN_ACK_SENT if flags & ACK else Z_SYN_SENT)
        else:
            if not flags & ACK and y.zstate == Z_SYN_ACK_SENT and seq == x.zstart:
                # A SYN-ACK seen before its SYN (two interfaces merged out of
                # order): Zeek flips the roles here, after the SYN's own
                # history letter ("Hs^..."), and the connection is up.
                conn.zflip = not conn.zflip
                conn.hist += "^"
                _set(y, Z_ESTABLISHED)
            if y.zstate == Z_SYN_SENT:
                _set(y, Z_ESTABLISHED)
            # A SYN-ACK answering no SYN seen ("unsolicited_SYN_response")
            # leaves the originator INACTIVE: a connection where only the
            # server speaks is SHR or OTH in conn.log, never S1 or S3.
            _set(x, Z_ESTABLISHED)
    if flags & FIN:
        _set(x, Z_CLOSED)
    if flags & RST:
        _set(x, Z_RESET)
    if x.zstate == Z_INACTIVE:
        if not is_orig and plen == 0 and y.zstate == Z_SYN_SENT:
            # Some stacks ACK a SYN before their SYN-ACK; not a partial
            # connection.
            pass
        elif flags & ACK and y.zstate == Z_ESTABLISHED:
            _set(x, Z_ESTABLISHED)
        else:
            _set(x, Z_PARTIAL)


def _syn_sent(conn, x, y, is_orig, flags, plen, seq):
    # UpdateSYN_SentState.
    if flags & FIN:
        _set(x, Z_CLOSED)
    if flags & RST:
        _set(x, Z_RESET)


def _established(conn, x, y, is_orig, flags, plen, seq):
    # UpdateEstablishedState (ESTABLISHED and PARTIAL).
    if flags & SYN and x.zstate == Z_PARTIAL and y.zstate == Z_INACTIVE and not flags & ACK:
        _set(x, Z_SYN_SENT)
    if flags & FIN and not flags & RST:
        _set(x, Z_CLOSED)
        if y.zstate == Z_RESET and y.zprev == Z_CLOSED:
            # A FIN followed by a RST from the peer: a normal close.
            _set(y, Z_CLOSED)
    if flags & RST:
        _set(x, Z_RESET)


def _closed(conn, x, y, is_orig, flags, plen, seq):
    # UpdateClosedState.
    if flags & RST and y.zstate != Z_CLOSED:
        _set(x, Z_RESET)


def _nothing(conn, x, y, is_orig, flags, plen, seq):
    pass


# Zeek's endpoint state -> its update (a reset endpoint stays reset).
_UPDATE = {
    Z_INACTIVE: _inactive, Z_SYN_SENT: _syn_sent, Z_SYN_ACK_SENT: _syn_sent, Z_ESTABLISHED: _established,
    Z_PARTIAL: _established, Z_CLOSED: _closed, Z_RESET: _nothing,
}


def init_endpoint(x, flags: int, seq: int, end: int) -> None:
    """Zeek's sequence numbers for ``x`` at a packet of its (init_endpoint in
    TCPSessionAdapter.cc): set by its first packet, or again by a SYN that
    restarts it.  ``end``: one past the segment (SYN and FIN count one)."""
    zs = x.zstate
    if zs == Z_INACTIVE:
        if flags & SYN:
            x.zstart = seq
            x.zlast = end
            x.zdata = (seq + 1) & SEQ_MASK
        else:
            # A partial connection: numbered as if a SYN came just before,
            # and its first packet is not a retransmission.
            x.zstart = (seq - 1) & SEQ_MASK
            x.zlast = seq
            x.zdata = seq
    elif flags & SYN and (zs != Z_CLOSED and (zs != Z_RESET or x.zprev == Z_INACTIVE)):
        # A new SYN from an endpoint seen before: Zeek guesses it is the
        # one that really sets the connection up and starts over from it.
        x.zstart = seq
        x.zlast = end
        x.zdata = (seq + 1) & SEQ_MASK


def clean(x) -> bool:
    """Established, or closed cleanly after being established (is_clean in
    TCP_Reassembler.cc): only between two such endpoints does Zeek record a
    content gap."""
    return x.zstate == Z_ESTABLISHED or (x.zstate == Z_CLOSED and x.zprev == Z_ESTABLISHED)


def size(x, peer) -> int:
    """Zeek's byte count for ``x`` (TCP_Endpoint::Size, conn.log orig_bytes /
    resp_bytes): the sequence space from the start to the larger of the last
    sequence number seen and the peer's highest ACK, less the SYN and the FIN
    octets; payload the capture missed counts as sent."""
    if x.zstart < 0:
        return 0
    top = x.zlast
    ack = peer.rcv_nxt
    if ack >= 0 and (top < 0 or ack != top and ((ack - top) & SEQ_MASK) < SEQ_HALF):
        top = ack
    if top < 0:
        return 0
    n = (top - x.zstart) & SEQ_MASK
    if n >= SEQ_HALF:
        return 0
    if n:
        n -= 1
    if x.fin_seq >= 0 and n:
        n -= 1
    return n


def orig_resp(conn: Connection):
    """Zeek's originator and responder endpoints."""
    return originator(conn), responder(conn)


def originator(conn: Connection):
    """Zeek's originator: our client unless Zeek guessed the roles otherwise."""
    return conn.server if conn.zflip else conn.client


def responder(conn: Connection):
    """Zeek's responder (``originator``'s peer)."""
    return conn.client if conn.zflip else conn.server


_RSTOS0 = re.compile(r"\^?S[^HAFGIQ]*R.*")


def conn_state(conn: Connection) -> str:
    """conn/main.zeek's conn_state, for TCP."""
    # (Each endpoint by itself: no tuple made per connection line.)
    o = originator(conn)
    r = responder(conn)
    os_ = o.zstate
    rs = r.zstate
    o_inactive = os_ == Z_INACTIVE or os_ == Z_PARTIAL
    r_inactive = rs == Z_INACTIVE or rs == Z_PARTIAL
    if rs == Z_RESET:
        if os_ in (Z_SYN_SENT, Z_SYN_ACK_SENT) or (
                os_ == Z_RESET and size(o, r) == 0 and size(r, o) == 0):
            return "REJ"
        return "RSTRH" if o_inactive else "RSTR"
    if os_ == Z_RESET:
        if r_inactive:
            return "RSTOS0" if _RSTOS0.fullmatch(conn.history) else "OTH"
        return "RSTO"
    if rs == Z_CLOSED and os_ == Z_CLOSED:
        return "SF"
    if os_ == Z_CLOSED:
        return "SH" if r_inactive else "S2"
    if rs == Z_CLOSED:
        return "SHR" if o_inactive else "S3"
    if os_ == Z_SYN_SENT and rs == Z_INACTIVE:
        return "S0"
    if os_ == Z_ESTABLISHED and rs == Z_ESTABLISHED:
        return "S1"
    return "OTH"


def missed_bytes(conn) -> int:
    """Zeek's missed_bytes over all the instance's rows."""
    n = conn.client.rare.zmissed + conn.server.rare.zmissed
    rows = conn.rare.zrows
    if rows:
        n += sum(r.missed_bytes for r in rows)
    return n
