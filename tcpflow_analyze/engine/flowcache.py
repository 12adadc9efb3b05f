"""The compiled walk's flow cache: the connection (and direction) an earlier
packet's raw key bytes mapped to in the table, so that a packet of a known
flow needs no key object, no SipHash and no dict probe.

Direct-mapped, a slot per hash of the key; an IPv4 or IPv6 key (12 or 36
bytes) of the plain read, untunneled.  A slot borrows its connection: the
table holds the connection while the key maps to it, and whatever ends that
(a key deleted or mapped anew, a connection's client key changed) calls
``forget`` with the key first (engine.table), so a slot names a live
connection -- and the cache keeps none alive that the table let go (the
memory caps hold).

Forgetting the one key, not the whole cache: clients that reuse their
ports make the table remap keys all the time, and a cache emptied at each
remap would miss most of its flows' packets (bench/README, "fifth round").

Compiled only (engine.loop runs it where ``cython.compiled``); the pure
build has no cache, and this module is never instantiated there.
"""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

FLOW_SHIFT = 18
_FLOW_MUL = 2654435761   # 2**32 / the golden ratio
FLOW_SLOTS = 1 << (32 - FLOW_SHIFT)
# The longest key a slot holds: IPv6's addresses and ports.
FLOW_KEY_MAX = 36


def _slot_of(k, n):
    """The slot of the ``n``-byte key at ``k`` (``n`` a multiple of 4):
    Knuth's multiplicative hashing of its 32-bit words, ``h`` a C unsigned
    int (the product wraps at 32 bits), its top bits the slot."""
    h = 0
    for i in range(0, n, 4):
        w = (k[i] << 24) | (k[i + 1] << 16) | (k[i + 2] << 8) | k[i + 3]
        h = (h ^ w) * _FLOW_MUL
    return h >> FLOW_SHIFT


class FlowCache:
    """``FLOW_SLOTS`` slots of C memory, freed with the cache."""

    def __init__(self):
        self.slots = cython.cast(cython.pointer(FlowSlot), calloc(FLOW_SLOTS, cython.sizeof(FlowSlot)))
        if self.slots == cython.NULL:
            raise MemoryError("the flow cache")

    def __dealloc__(self):
        free(self.slots)

    def find(self, k, n):
        """The slot that holds the ``n``-byte key at ``k``, or NULL."""
        slot = self.slots + _slot_of(k, n)
        if slot.conn != cython.NULL and slot.klen == n and memcmp(slot.key, k, n) == 0:
            return slot
        return cython.NULL

    def put(self, k, n, conn, upper):
        """Enter ``conn`` for the ``n``-byte key at ``k``, which the table now
        maps to it (``upper``: the key is its client's direction)."""
        slot = self.slots + _slot_of(k, n)
        memcpy(slot.key, k, n)
        slot.klen = n
        slot.upper = upper
        slot.conn = cython.cast(cython.pointer(PyObject), conn)

    def forget(self, key):
        """The table is about to map ``key`` anew or delete it."""
        n = len(key)
        if n > FLOW_KEY_MAX or n % 4:
            return  # a tunneled key: never cached
        k = cython.cast(cython.p_uchar, key)
        slot = self.slots + _slot_of(k, n)
        if slot.klen == n and memcmp(slot.key, k, n) == 0:
            slot.conn = cython.NULL
            slot.klen = 0
