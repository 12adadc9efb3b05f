"""Zeek's connection history letters (conn.log ``history``), written in one place.

Upper case for Zeek's originator, lower case for its responder.  Zeek's
originator is our client unless Zeek guessed the roles of a connection
whose first packet was not a SYN otherwise than we did (``conn.zflip``,
``engine.zeek.zeek_flips``): the ``upper`` argument below says "sent by our
client", and the letter's case follows Zeek's roles.
Some letters are written once per direction (``hist_seen`` bits, Zeek's
HIST_* masks); retransmissions, gaps and zero windows are written at their
1st, 10th, 100th ... occurrence (Zeek's scaling thresholds).
"""
from __future__ import annotations

from sys import intern

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..decode import ACK, CONTROL, FIN, RST, SYN
from ..model.connection import SEQ_MASK, own_rare

# Letters recorded once per direction (Zeek: HIST_* masks).
H_ACK = 1
H_DATA = 2
H_SYN = 4
H_FIN = 8
H_RST = 16
H_INCONSISTENT = 32
H_MULTIFLAG = 64

SCALED_COUNTS = frozenset(10 ** i for i in range(19))

# Each letter's responder case, looked up: a letter is written for nearly
# every control segment, and a lookup costs less than a method call.  The
# compiled build adds 32 to the letter's code instead (a C test and no dict
# lookup; a one-letter str is the interpreter's own cached object).
_RESPONDER = {c: c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_COMPILED = cython.compiled

# Each history met so far, with the history each letter makes of it (by
# the letter's code): a connection's history steps from one shared string to
# the next, where appending would make (and later free) a string per letter,
# about seven a connection.  Connections go few ways (40 distinct histories
# among the 2M bench capture's 101,447 connections), so the table stays
# small; a capture that makes more than ``_NEXT_MAX`` starts it afresh.  The
# pure build appends: there the call per letter would cost more than the
# string.
_NEXT: dict = {}
_NEXT_MAX = 1 << 12


def grown(hist: str, letter: str) -> str:
    """``hist`` with ``letter`` appended: the shared string when there is one."""
    code = ord(letter)
    if code >= 128:
        return hist + letter
    nexts = _NEXT.get(hist)
    if nexts is None:
        if len(_NEXT) >= _NEXT_MAX:
            _NEXT.clear()
        nexts = _NEXT[hist] = [None] * 128
    after = nexts[code]
    if after is None:
        after = nexts[code] = intern(hist + letter)
    return after


def add(conn, letter: str, upper: bool) -> None:
    """``letter`` (upper case) for Zeek's originator, its lower case for the responder."""
    if _COMPILED:
        conn.hist = grown(conn.hist, letter if upper != conn.zflip else chr(ord(letter) + 32))
    else:
        conn.hist += letter if upper != conn.zflip else _RESPONDER[letter]


def add_scaled(conn, count: int, letter: str, upper: bool) -> None:
    """The letter for a counted event, on its 1st, 10th, 100th ... occurrence."""
    if count in SCALED_COUNTS:
        add(conn, letter, upper)


def add_once(conn, ep, bit: int, letter: str, upper: bool) -> None:
    """The letter the first time ``ep`` does what ``bit`` stands for."""
    if not ep.hist_seen & bit:
        ep.hist_seen |= bit
        add(conn, letter, upper)


def control(conn, ep, flags: int, seq: int, plen: int, upper: bool) -> None:
    """The letter of a control segment from ``ep`` (Zeek's update_history):
    S, H, F and R the first time, then again whenever the sequence number
    differs from the last such segment's (a FIN's number is after its
    data); I or Q once for a segment carrying several of SYN, FIN, RST."""
    ctl = flags & CONTROL
    if ctl == SYN:
        bit = H_SYN
        letter = "H" if flags & ACK else "S"
        value = seq
        last = ep.last_syn
        ep.last_syn = seq
    elif ctl == FIN:
        bit = H_FIN
        letter = "F"
        value = (seq + plen) & SEQ_MASK
        last = ep.last_fin
        ep.last_fin = value
    elif ctl == RST:
        bit = H_RST
        letter = "R"
        value = seq
        rare = own_rare(ep)
        last = rare.last_rst
        rare.last_rst = seq
    elif flags & FIN and flags & RST:
        add_once(conn, ep, H_INCONSISTENT, "I", upper)
        return
    else:
        add_once(conn, ep, H_MULTIFLAG, "Q", upper)
        return
    if not ep.hist_seen & bit:
        ep.hist_seen |= bit
    elif value == last:
        return
    # add(), written out: a letter for nearly every control segment, and
    # the pure build pays a Python call for each.
    if _COMPILED:
        conn.hist = grown(conn.hist, letter if upper != conn.zflip else chr(ord(letter) + 32))
    else:
        conn.hist += letter if upper != conn.zflip else _RESPONDER[letter]
