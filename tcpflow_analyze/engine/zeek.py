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
    Z_CLOSED, Z_ESTABLISHED, Z_INACTIVE, Z_PARTIAL, Z_RESET, Z_SYN_ACK_SENT, Z_SYN_SENT, Connection,
)


def update(x, y, is_orig: bool, flags: int, plen: int) -> None:
    """What a segment from ``x`` does to the Zeek states of ``x`` and its peer ``y``."""
    _UPDATE[x.zstate](x, y, is_orig, flags, plen)


def _reset(x) -> None:
    x.zprev = x.zstate
    x.zstate = Z_RESET


def _inactive(x, y, is_orig, flags, plen):
    if flags & SYN:
        if is_orig:
            x.zstate = Z_SYN_ACK_SENT if flags & ACK else Z_SYN_SENT
        else:
            if y.zstate == Z_SYN_SENT:
                y.zstate = Z_ESTABLISHED
            x.zstate = Z_ESTABLISHED
    if flags & FIN:
        x.zstate = Z_CLOSED
    if flags & RST:
        _reset(x)
    if x.zstate == Z_INACTIVE:
        if not is_orig and plen == 0 and y.zstate == Z_SYN_SENT:
            # Some stacks ACK a SYN before their SYN-ACK; not a partial
            # connection.
            pass
        elif flags & ACK and y.zstate == Z_ESTABLISHED:
            x.zstate = Z_ESTABLISHED
        else:
            x.zstate = Z_PARTIAL


def _syn_sent(x, y, is_orig, flags, plen):
    if flags & FIN:
        x.zstate = Z_CLOSED
    if flags & RST:
        _reset(x)


def _established(x, y, is_orig, flags, plen):
    zs = x.zstate
    if flags & SYN and zs == Z_PARTIAL and y.zstate == Z_INACTIVE and not flags & ACK:
        x.zstate = Z_SYN_SENT
    if flags & FIN and not flags & RST:
        x.zstate = Z_CLOSED
        if y.zstate == Z_RESET and y.zprev == Z_CLOSED:
            # A FIN followed by a RST from the peer: a normal close.
            y.zstate = Z_CLOSED
    if flags & RST:
        _reset(x)


def _closed(x, y, is_orig, flags, plen):
    if flags & RST and y.zstate != Z_CLOSED:
        _reset(x)


def _nothing(x, y, is_orig, flags, plen):
    pass


# Zeek's endpoint state -> its update (a reset endpoint stays reset).
_UPDATE = {
    Z_INACTIVE: _inactive, Z_SYN_SENT: _syn_sent, Z_SYN_ACK_SENT: _syn_sent, Z_ESTABLISHED: _established,
    Z_PARTIAL: _established, Z_CLOSED: _closed, Z_RESET: _nothing,
}


_RSTOS0 = re.compile(r"\^?S[^HAFGIQ]*R.*")


def conn_state(conn: Connection) -> str:
    os_ = conn.client.zstate
    rs = conn.server.zstate
    o_inactive = os_ == Z_INACTIVE or os_ == Z_PARTIAL
    r_inactive = rs == Z_INACTIVE or rs == Z_PARTIAL
    if rs == Z_RESET:
        if os_ in (Z_SYN_SENT, Z_SYN_ACK_SENT) or (
                os_ == Z_RESET and conn.client.bytes == 0 and conn.server.bytes == 0):
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
