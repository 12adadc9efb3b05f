"""The compiled build's flow table: the connection each flow key (one
direction's addresses and ports) maps to, in C memory.

Compiled, ``ConnectionTable.table`` is a ``FlowTable`` where the pure build
has a dict: the same mapping, used as a dict is used (``get``, ``[]=``,
``del``, ``setdefault``, ``len``, ``values``), so that engine/table.py is
one source for both.  The compiled walk (engine.loop) also looks a packet's
key up straight from its bytes in the window (``find``): no key object, and
no miss to a slower map behind, for every packet of a known flow.

An IPv4 or IPv6 key (12 or 36 bytes, then a tunnel's tag if it has one)
takes a slot of 16 bytes: its hash and its connection, a reference the slot
owns.  The key itself is not kept.  A connection is entered only under its
own keys, its client's direction (``ckey``) or the reverse, so a slot's key
is its connection's ``ckey`` or ``ckey`` reversed (a tag stays where it
is), and a bit of the stored hash says which.  So the reverse key needs no
bytes object kept per connection, and the table no 24-byte dict entry per
key.  A key entered under a connection whose keys it is not (a tunneled
direction adopted under another tunnel id) is kept in a dict beside
(``others``).

In front of the slots, for the walk, a direct-mapped cache of the keys it
found last (``seen``: 64 bytes each, the key kept whole): a connection's
packets come close together, so most of them are found there, in memory
the processor keeps near, and not in a slot anywhere in megabytes.  A slot
emptied empties its key's entry there too.

Open addressing with linear probing; deletion shifts the entries after it
back (no tombstones: connections come and go all capture long); twice the
slots past half full.  The hash is multiplicative over the key's 32-bit
words, from a seed drawn per process, with a final mix; a key's slot is from
its top bits.  The seed is there because addresses and ports are chosen by
whoever sends the packets: without it a capture could be made whose keys all
share a slot.  (Not the interpreter's SipHash, as a dict hashes bytes: it
costs more than the rest of a lookup; bench/README, "seventh round".)

Compiled only (engine.table makes it where ``cython.compiled``); this module
is never imported as plain Python.
"""
from __future__ import annotations

import os

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

from ..model.connection import Connection

# Slots to start with (a power of two), as bits of the hash.
FLOW_SLOT_BITS = 10
# Entries in front of them (``seen``), as bits: from the hash's low end (a
# slot's are its top bits).  4,096 entries, 256 KB: the front competes for
# the processor's second-level cache with the connections each packet
# touches, and a megabyte of it (14 bits) cost more there than its extra
# hits saved (bench/README, "tenth round").
FLOW_SEEN_BITS = 12
# Golden-ratio multiplier (Knuth 6.4), and the 64-bit finalizer of
# MurmurHash3 (fmix64): each bit of the key moves about half the bits kept.
_MUL = 0x9E3779B97F4A7C15
_MIX1 = 0xFF51AFD7ED558CCD
_MIX2 = 0xC4CEB9FE1A85EC53
_SEED = int.from_bytes(os.urandom(8), "little")
# (_UPPER, the stored hash's low bit, is a C constant of flowtable.pxd.)


def _hash(k, n):
    """The hash of the ``n`` bytes at ``k``."""
    h = _SEED
    for i in range(0, n - 3, 4):
        memcpy(cython.address(w), k + i, 4)
        h = (h ^ w) * _MUL
    if n & 3:
        # A tunnel's tag: its last bytes as one more word.
        w = 0
        memcpy(cython.address(w), k + (n & ~3), n & 3)
        h = (h ^ w) * _MUL
    h ^= h >> 33
    h *= _MIX1
    h ^= h >> 33
    h *= _MIX2
    return h ^ (h >> 33)


def _key_matches(conn, k, n, upper):
    """Whether the ``n`` bytes at ``k`` are ``conn``'s ckey (``upper``) or
    its reverse: (src, dst, sport, dport) against (dst, src, dport, sport)."""
    ck = conn.ckey
    if len(ck) != n:
        return False
    c = cython.cast(cython.p_uchar, ck)
    # Each length on its own, so that the C compiler compares in a few
    # loads rather than calls.
    if n == 12:
        return memcmp(k, c, 12) == 0 if upper else _is_reverse(k, c, 4)
    if n == 36:
        return memcmp(k, c, 36) == 0 if upper else _is_reverse(k, c, 16)
    if upper:
        return memcmp(k, c, n) == 0
    # A tunnel's key: its 4-tuple reversed, the same tag after it.
    m = n - k[n - 1]
    return _is_reverse(k, c, (m - 4) >> 1) and memcmp(k + m, c + m, n - m) == 0


def _is_reverse(k, c, alen):
    """Whether the key at ``k`` is the one at ``c`` reversed (addresses of
    ``alen`` bytes)."""
    a2 = alen + alen
    return (memcmp(k, c + alen, alen) == 0 and memcmp(k + alen, c, alen) == 0
            and memcmp(k + a2, c + a2 + 2, 2) == 0 and memcmp(k + a2 + 2, c + a2, 2) == 0)


def _slotted(k, n):
    """Whether the key of ``n`` bytes at ``k`` goes in the slots: IPv4's or
    IPv6's addresses and ports, then a tunnel's tag if it has one (odd
    length: the tag's last byte is its length, decode.tunnel)."""
    if n == 12 or n == 36:
        return True
    if n & 1:
        m = n - k[n - 1]
        return m == 12 or m == 36
    return False


class OpenSlots:
    """What the two tables below share: C slots of (hash, an object the slot
    owns), open addressing with linear probing from the hash's top bits,
    twice the slots past half full."""

    def _allocate(self, bits):
        """Empty slots, ``1 << bits`` of them (those there were are the
        caller's: ``_grow``'s, kept if this fails)."""
        slots = cython.cast(cython.pointer(Slot), calloc(1 << bits, cython.sizeof(Slot)))
        if slots == cython.NULL:
            raise MemoryError("the flow table")
        self.slots = slots
        self.mask = (1 << bits) - 1
        self.shift = 64 - bits

    def _empty_slot(self, h):
        """The first empty slot from the home of hash ``h`` on."""
        i = h >> self.shift
        while self.slots[i].ref != cython.NULL:
            i = (i + 1) & self.mask
        return self.slots + i

    def _grow(self):
        old = self.slots
        size = self.mask + 1
        self._allocate(65 - self.shift)
        for i in range(size):
            if old[i].ref != cython.NULL:
                self._empty_slot(old[i].hash)[0] = old[i]
        free(old)
        return 0

    def _release(self):
        """Every slot emptied, its object let go."""
        for i in range(self.mask + 1):
            Py_XDECREF(self.slots[i].ref)
            self.slots[i].ref = cython.NULL
        self.used = 0
        return 0

    def __dealloc__(self):
        if self.slots != cython.NULL:
            self._release()
            free(self.slots)


class FlowTable(OpenSlots):
    """Flow key -> connection, as a dict maps them."""

    def __init__(self):
        self.others = {}
        self.used = 0
        self.seen = cython.cast(cython.pointer(FlowSeen), calloc(1 << FLOW_SEEN_BITS, cython.sizeof(FlowSeen)))
        if self.seen == cython.NULL:
            raise MemoryError("the flow table")
        self._allocate(FLOW_SLOT_BITS)

    def __dealloc__(self):
        free(self.seen)

    def find(self, k, n):
        """The walk's lookup of the ``n``-byte key at ``k`` (``_slotted``):
        its entry in ``seen`` (entered from its slot if not there yet), or
        NULL where no connection has the key.  A key longer than an entry
        holds (IPv6 with a tunnel's tag) is found in its slot each time."""
        h = _hash(k, n) | _UPPER
        seen = self._seen_of(h)
        if seen.conn != cython.NULL and (seen.hash | _UPPER) == h and seen.klen == n \
                and memcmp(seen.key, k, n) == 0:
            return seen
        slot = self._probe(k, n, h)
        if slot == cython.NULL:
            return cython.NULL
        seen.hash = slot.hash
        seen.conn = slot.ref
        if n <= _SEEN_KEY:
            seen.klen = n
            memcpy(seen.key, k, n)
        else:
            seen.klen = 0
        return seen

    def prefetch(self, k, n):
        """Ask the processor for the lines that ``find`` of the ``n``-byte key
        at ``k`` will read: its front entry and its home slot.  The walk
        asks for the next record's while it tracks this one, so that their
        loads find them near, not a few hundred cycles away in megabytes of
        table (nothing is read or changed here)."""
        h = _hash(k, n) | _UPPER
        _prefetch(self._seen_of(h))
        _prefetch(self.slots + (h >> self.shift))

    def _probe(self, k, n, h):
        """The slot of the ``n``-byte key at ``k`` (``_slotted``; ``h``: its hash,
        the direction bit set), or NULL."""
        i = h >> self.shift
        while True:
            slot = self.slots + i
            if slot.ref == cython.NULL:
                return cython.NULL
            if (slot.hash | _UPPER) == h and _key_matches(cython.cast(Connection, slot.ref), k, n,
                                                            slot.hash & _UPPER):
                return slot
            i = (i + 1) & self.mask

    def _seen_of(self, h):
        """The entry in front for a key of hash ``h`` (the hash's low bits,
        above the direction bit)."""
        return self.seen + ((h >> 1) & ((1 << FLOW_SEEN_BITS) - 1))

    def _find_key(self, key):
        n = len(key)
        k = cython.cast(cython.p_uchar, key)
        if not _slotted(k, n):
            return cython.NULL
        return self._probe(k, n, _hash(k, n) | _UPPER)

    def get(self, key, default=None):
        # Through ``seen`` as the walk looks up (a packet that comes here, a
        # SYN or a RST, is followed by more of its flow).
        n = len(key)
        if _slotted(cython.cast(cython.p_uchar, key), n):
            seen = self.find(cython.cast(cython.p_uchar, key), n)
            if seen != cython.NULL:
                return cython.cast(object, seen.conn)
        if self.others:
            return self.others.get(key, default)
        return default

    def __getitem__(self, key):
        conn = self.get(key, _MISSING)
        if conn is _MISSING:
            raise KeyError(key)
        return conn

    @cython.locals(n="Py_ssize_t", k="const unsigned char *", h="uint64_t", slot="Slot *")
    def __setitem__(self, key, conn):
        n = len(key)
        k = cython.cast(cython.p_uchar, key)
        if _slotted(k, n):
            h = _hash(k, n) | _UPPER
            slot = self._probe(k, n, h)
            if slot != cython.NULL:
                # Mapped anew: the key still names a slot only if it is one
                # of the new connection's own keys.
                self._remove(slot)
            self._place(key, k, n, h, conn)
            return
        self.others[key] = conn

    def _place(self, key, k, n, h, conn):
        """Enter ``conn`` under ``key`` (``_slotted``: ``n`` bytes at ``k``,
        hash ``h`` with the direction bit set), which no slot holds: in a
        slot if it is one of the connection's own keys (the direction bit
        saying which), else beside, in ``others``."""
        if isinstance(conn, Connection):
            if _key_matches(conn, k, n, True):
                self._insert(h, conn)
            elif _key_matches(conn, k, n, False):
                self._insert(h & ~_UPPER, conn)
            else:
                self.others[key] = conn
                return 0
            if self.others:
                self.others.pop(key, None)   # mapped before under another connection
            return 0
        self.others[key] = conn
        return 0

    @cython.locals(slot="Slot *")
    def __delitem__(self, key):
        slot = self._find_key(key)
        if slot != cython.NULL:
            self._remove(slot)
        else:
            del self.others[key]

    def setdefault(self, key, conn):
        # A new connection's way back (engine.table._new): one probe finds
        # the key absent and its slot, not a lookup and then a store that
        # probes again.
        n = len(key)
        k = cython.cast(cython.p_uchar, key)
        if _slotted(k, n):
            h = _hash(k, n) | _UPPER
            slot = self._probe(k, n, h)
            if slot != cython.NULL:
                return cython.cast(object, slot.ref)
            if self.others:
                was = self.others.get(key)
                if was is not None:
                    return was
            self._place(key, k, n, h, conn)
            return conn
        was = self.get(key)
        if was is None:
            self[key] = conn
            return conn
        return was

    def __len__(self):
        return self.used + len(self.others)

    def values(self):
        """The connections, once per key (as a dict's values)."""
        out = []
        for i in range(self.mask + 1):
            if self.slots[i].ref != cython.NULL:
                out.append(cython.cast(object, self.slots[i].ref))
        out.extend(self.others.values())
        return out

    def _insert(self, h, conn):
        if (self.used + 1) * 2 > self.mask + 1:
            self._grow()
        slot = self._empty_slot(h)
        Py_INCREF(conn)
        slot.ref = cython.cast(cython.pointer(PyObject), conn)
        slot.hash = h
        self.used += 1
        return 0

    def _remove(self, slot):
        """Empty ``slot``, and move back into the gap each entry after it that
        its probe would no longer reach (Knuth 6.4, algorithm R)."""
        conn = slot.ref
        # Its key's entry in front (a connection is in the slots under its
        # two keys, which the direction bit tells apart).
        seen = self._seen_of(slot.hash)
        if seen.conn == conn and seen.hash == slot.hash:
            seen.conn = cython.NULL
        i = slot - self.slots
        mask = self.mask
        j = i
        while True:
            j = (j + 1) & mask
            if self.slots[j].ref == cython.NULL:
                break
            home = self.slots[j].hash >> self.shift
            # The entry at j may move to i unless its home lies cyclically
            # in (i, j].
            if (i <= j and (home <= i or home > j)) or (i > j and home <= i and home > j):
                self.slots[i] = self.slots[j]
                i = j
        self.slots[i].ref = cython.NULL
        self.slots[i].hash = 0
        self.used -= 1
        Py_XDECREF(conn)
        return 0

class HostTable(OpenSlots):
    """One bytes object per host address, looked up from the address's bytes
    in the packet (``shared``): the compiled build's ``ConnectionTable.hosts``,
    where the pure build keeps a dict of address -> itself.  A new
    connection's two addresses are found with no bytes object made for
    either, and hashed as flow keys are, not with SipHash.  At most ``kept``
    addresses; the next one after that starts the table afresh, as the dict
    is cleared, so that memory stays bounded by the connections kept."""

    def __init__(self, kept):
        self.kept = kept
        self.used = 0
        self._allocate(FLOW_SLOT_BITS)

    def __len__(self):
        return self.used

    def shared(self, k, n):
        """The address of ``n`` bytes at ``k`` (4 or 16), as the one bytes
        object kept for it."""
        h = _hash(k, n)
        i = h >> self.shift
        while True:
            slot = self.slots + i
            if slot.ref == cython.NULL:
                break
            if slot.hash == h:
                addr = cython.cast(bytes, slot.ref)
                if len(addr) == n and memcmp(cython.cast(cython.p_uchar, addr), k, n) == 0:
                    return addr
            i = (i + 1) & self.mask
        if self.used >= self.kept:
            self._release()
            slot = self.slots + (h >> self.shift)
        elif (self.used + 1) * 2 > self.mask + 1:
            self._grow()
            slot = self._empty_slot(h)
        addr = PyBytes_FromStringAndSize(cython.cast(cython.p_char, k), n)
        Py_INCREF(addr)
        slot.ref = cython.cast(cython.pointer(PyObject), addr)
        slot.hash = h
        self.used += 1
        return addr


_MISSING = object()
