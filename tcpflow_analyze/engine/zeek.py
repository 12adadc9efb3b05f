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

from ..decode import ACK, FIN, RST, SYN
from ..model.connection import (
    SEQ_HALF, SEQ_MASK, Z_CLOSED, Z_ESTABLISHED, Z_INACTIVE, Z_PARTIAL, Z_RESET, Z_SYN_ACK_SENT, Z_SYN_SENT, Connection,
)


# Zeek's likely_server_ports with its default scripts (base/init-default.zeek):
# the set is empty in init-bare.zeek and grows only where a protocol script
# says ``redef likely_server_ports += { ports }``.  TCP ports, from
# scripts/base/protocols/*/main.zeek: dce-rpc 135; dns 53; ftp 21, 2811; http
# 80, 81, 631, 1080, 3128, 8000, 8080, 8888; irc 6666-6669; krb 88; modbus
# 502; mqtt 1883; rdp 3389; smb 139, 445; smtp 25, 587; socks 1080; ssh 22;
# ssl 443, 563, 585, 614, 636, 989, 990, 992, 993, 995, 5223; xmpp 5222,
# 5269.  Scripts that register an analyzer's ports without adding them here
# (imap 143, finger 79, dnp3 20000, mysql 1434/3306; pop3 and rfb register
# none) do not make Zeek flip, so neither do we.  UDP ports are left out:
# this is a TCP tool.
LIKELY_SERVER_PORTS = frozenset({
    21, 22, 25, 53, 80, 81, 88, 135, 139, 443, 445, 502, 563, 585, 587, 614, 631, 636,
    989, 990, 992, 993, 995, 1080, 1883, 2811, 3128, 3389, 5222, 5223, 5269,
    6666, 6667, 6668, 6669, 8000, 8080, 8888,
})

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


def update(conn, x, y, is_orig: bool, flags: int, plen: int, seq: int) -> None:
    """What a segment from ``x`` does to the Zeek states of ``x`` and its peer
    ``y`` (TCPSessionAdapter::UpdateStateMachine); ``is_orig``: ``x`` is
    Zeek's originator."""
    _UPDATE[x.zstate](conn, x, y, is_orig, flags, plen, seq)


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
    if ack >= 0 and (top < 0 or 0 < ((ack - top) & SEQ_MASK) < SEQ_HALF):
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
    return (conn.server, conn.client) if conn.zflip else (conn.client, conn.server)


_RSTOS0 = re.compile(r"\^?S[^HAFGIQ]*R.*")


def conn_state(conn: Connection) -> str:
    """conn/main.zeek's conn_state, for TCP."""
    o, r = orig_resp(conn)
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
