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

# Letters recorded once per direction (Zeek: HIST_* masks).
H_ACK = 1
H_DATA = 2
H_SYN = 4
H_FIN = 8
H_RST = 16
H_INCONSISTENT = 32
H_MULTIFLAG = 64

SCALED_COUNTS = frozenset(10 ** i for i in range(19))


def add(conn, letter: str, upper: bool) -> None:
    """``letter`` (upper case) for Zeek's originator, its lower case for the responder."""
    conn.hist += letter if upper != conn.zflip else letter.lower()


def add_scaled(conn, count: int, letter: str, upper: bool) -> None:
    """The letter for a counted event, on its 1st, 10th, 100th ... occurrence."""
    if count in SCALED_COUNTS:
        conn.hist += letter if upper != conn.zflip else letter.lower()


def add_once(conn, ep, bit: int, letter: str, upper: bool) -> None:
    """The letter the first time ``ep`` does what ``bit`` stands for."""
    if not ep.hist_seen & bit:
        ep.hist_seen |= bit
        conn.hist += letter if upper != conn.zflip else letter.lower()


def repeatable(ep, bit: int, value: int, last: int) -> bool:
    """Is a repeatable letter (S, H, F, R) due: the first time, then whenever
    the sequence number differs from the last such packet's (Zeek's
    update_history)."""
    if not ep.hist_seen & bit:
        ep.hist_seen |= bit
        return True
    return value != last
