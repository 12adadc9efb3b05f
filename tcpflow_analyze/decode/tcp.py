"""TCP: the header fields the analysis uses, and the window-scale option."""
from __future__ import annotations

from .constants import SKIP_MALFORMED, SKIP_TRUNCATED, SYN, TCPOPT_EOL, TCPOPT_NOP, TCPOPT_WSCALE
from .layouts import TCP

_TCP = TCP.read("sport", "dport", "seq", "ack", "off", "flags", "win")
_unpack_tcp = _TCP.unpack_from
TCP_MIN_LEN = TCP.size                 # a header without options
_PORTS_END = _TCP.end("tcp.dport")     # the ports end the flow key


def window_scale(buf, start: int, end: int) -> int:
    """The window-scale shift from TCP options in buf[start:end], or -1 if absent."""
    pos = start
    while pos < end:
        kind = buf[pos]
        if kind == TCPOPT_EOL:
            break
        if kind == TCPOPT_NOP:
            pos += 1
            continue
        if pos + 1 >= end:
            break
        length = buf[pos + 1]
        if length < 2 or pos + length > end:
            break
        if kind == TCPOPT_WSCALE and length >= 3:
            # RFC 7323 section 2.3: a shift above 14 is used as 14.
            return min(buf[pos + 2], 14)
        pos += length
    return -1


def decode_tcp(buf, pos, cap_end, ip_end, addrs, ip_start):
    """TCP header at ``pos``; captured bytes end at ``cap_end``, the IP packet
    at ``ip_end`` (it starts at ``ip_start``: its length is the last field,
    Zeek's ip_bytes); ``addrs`` are the IP source and destination addresses.
    The fields tuple (see ``decode``) or a SKIP_* reason."""
    if pos + TCP_MIN_LEN > cap_end:
        # Cut by the capture, or not there at all by the IP header's own length.
        return SKIP_MALFORMED if pos + TCP_MIN_LEN > ip_end else SKIP_TRUNCATED
    sport, dport, seq, ack, off, flags, win = _unpack_tcp(buf, pos)
    thl = (off >> 4) * 4
    if thl < TCP_MIN_LEN or pos + thl > ip_end:
        return SKIP_MALFORMED
    wscale = window_scale(buf, pos + TCP_MIN_LEN, min(pos + thl, cap_end)) \
        if flags & SYN and thl > TCP_MIN_LEN else -1
    key = addrs + buf[pos:pos + _PORTS_END]
    return key, sport, dport, seq, ack, flags, win, ip_end - pos - thl, wscale, ip_end - ip_start
