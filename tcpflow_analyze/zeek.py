"""Zeek's conn_state code, computed the way Zeek's conn/main.zeek does.

A pure function over the two Zeek endpoint states the tracker keeps beside
our own, so a Zeek user can line our report up with their conn.log.
"""
from __future__ import annotations

import re

from .connection import (
    Z_CLOSED, Z_ESTABLISHED, Z_INACTIVE, Z_PARTIAL, Z_RESET, Z_SYN_ACK_SENT, Z_SYN_SENT, Connection,
)

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
