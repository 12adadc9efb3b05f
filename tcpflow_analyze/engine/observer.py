"""The engine's observer hook: what happened to the connections someone watches.

A per-packet consumer (the ladder view) is told, for each connection on a
4-tuple it watches, which instance every segment was given to and what that
did, when another instance's packet changed its states, and which states the
end-of-capture timers changed -- from the engine itself, so nothing outside
has to work out what the engine did.  Connections nobody watches take the
table's normal path untouched: the hook costs the report nothing.
"""
from __future__ import annotations

from typing import NamedTuple

from ..decode import RST
from ..model.connection import reverse_key, split_key
from .table import ConnectionTable
from .timers import settle


class Segment(NamedTuple):
    """A segment and what it did to the connection instance it was given to."""

    time: float
    from_client: bool
    flags: int
    seq: int
    ack: int
    length: int          # TCP payload bytes
    window: int          # the window field as sent
    retransmission: bool
    rst_ignored: bool    # a RST the receiver's TCP would not accept


class Observer:
    """Subclass and override what you need; ``watch``: flow keys (either
    direction) of the 4-tuples to watch, or None for every connection."""

    def __init__(self, watch=None):
        self.watch = None if watch is None else set(watch) | {reverse_key(k) for k in watch}
        if self.watch is not None:
            # A tunneled connection's way back may carry another tunnel id
            # (table._adopt): its 4-tuples are watched whatever the tag.
            self.watch |= {split_key(k)[0] for k in self.watch if len(k) & 1}

    def segment(self, conn, seg: Segment) -> None:
        """``conn`` got ``seg``; its endpoints' states are as the segment left them."""

    def handover(self, conn, time: float, other, flags: int) -> None:
        """A segment (``flags``) given to ``other``, a later instance on the same
        4-tuple, changed ``conn``'s states: one 4-tuple, one socket."""

    def timer(self, conn, side: str, before: int, after: int, time: float) -> None:
        """At the end of the capture (or when ``conn`` was folded away), ``side``
        ('client' or 'server') was found to have moved from ``before`` to
        ``after`` at ``time``: a kernel timer ran out, or silence said so."""


class ObservedTable(ConnectionTable):
    """The connection table, telling ``observer`` about the watched 4-tuples.

    A watched connection takes the routing path for every packet, so the
    table itself says which instance each packet went to (``_route``).
    """

    def __init__(self, options, observer: Observer):
        super().__init__(options)
        self.observer = observer
        self._given = None   # (instance, sender's retransmissions and the RSTs ignored before the packet)

    def _watched(self, key) -> bool:
        watch = self.observer.watch
        return watch is None or key in watch or (len(key) & 1 == 1 and key[:-key[-1]] in watch)

    def segment(self, ts, key, sport, dport, seq, ack, flags, win, plen, wscale, ipb=0, encap=None, conn=None,
                upper=False):
        # ``conn`` and ``upper`` come only from the compiled walk's own
        # lookup in the flow table, which a subclass's table does not get
        # (engine.loop): every packet is looked up here.
        if not self._watched(key):
            return ConnectionTable.segment(self, ts, key, sport, dport, seq, ack, flags, win, plen, wscale, ipb, encap)
        self._given = None
        ConnectionTable.segment(self, ts, key, sport, dport, seq, ack, flags, win, plen, wscale, ipb, encap)
        if self._given is None:
            return
        conn, from_client, retransmits, rst_ignored = self._given
        sender = conn.client if from_client else conn.server
        self.observer.segment(conn, Segment(ts, from_client, flags, seq, ack, plen, win,
                                            sender.retransmits > retransmits,
                                            bool(flags & RST) and conn.rare.rst_ignored > rst_ignored))

    def _route(self, ts, key, conn, sport, dport, seq, ack, flags, encap=None):
        conn = ConnectionTable._route(self, ts, key, conn, sport, dport, seq, ack, flags, encap)
        if conn is not None and self._watched(key):
            conn.route_check = True   # every packet of it comes this way
            from_client = key == conn.ckey
            sender = conn.client if from_client else conn.server
            self._given = (conn, from_client, sender.retransmits, conn.rare.rst_ignored)
        return conn

    def _handed_over(self, old, ts, new, flags) -> None:
        if self._watched(old.ckey):
            self.observer.handover(old, ts, new, flags)

    def _settle(self, conn, ts) -> None:
        settle(conn, ts, self.options, self.observer.timer if self._watched(conn.ckey) else None)
