"""The compiled build's host addresses: one bytes object per host address,
shared by the endpoints at that address, found from the flow key's bytes.

The pure build shares them through a dict (``ConnectionTable.hosts``,
``setdefault``), which needs the address as a bytes object first and probes
by SipHash.  Compiled, ``ConnectionTable._new`` asks ``share`` with the
address's bytes in the key: a direct-mapped cache of the addresses seen
last, slot by their hash (engine.flowtable's, seeded per process), answers
with the one it holds or makes it.  No bytes object is made for an address
it holds.  Two addresses sharing a slot take turns in it: the first one's
next endpoint gets a bytes object of its own, as the dict's bound (it
started over past HOSTS_KEPT addresses) gave too -- sharing saves memory,
never changes a value.

Compiled only (engine.table makes it where ``cython.compiled``).
"""
from __future__ import annotations

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from .._core import NO_CYTHON as cython

# Addresses held (a power of two), as bits of the hash.
HOST_SLOT_BITS = 16


class HostCache:
    """``1 << HOST_SLOT_BITS`` addresses, each a bytes object the cache owns."""

    def __init__(self):
        self.slots = cython.cast(cython.pointer(cython.pointer(PyObject)),
                                 calloc(1 << HOST_SLOT_BITS, cython.sizeof(cython.pointer(PyObject))))
        if self.slots == cython.NULL:
            raise MemoryError("the host cache")

    @cython.locals(i="Py_ssize_t")
    def __dealloc__(self):
        if self.slots != cython.NULL:
            for i in range(1 << HOST_SLOT_BITS):
                Py_XDECREF(self.slots[i])
            free(self.slots)

    def share(self, p, n):
        """The address of ``n`` bytes at ``p`` (``n`` a multiple of 4), as the
        bytes object its earlier endpoints have if the cache holds it."""
        slot = self.slots + (_hash(p, n) >> (64 - HOST_SLOT_BITS))
        held = slot[0]
        if held != cython.NULL and PyBytes_GET_SIZE(cython.cast(object, held)) == n \
                and memcmp(PyBytes_AS_STRING(cython.cast(object, held)), p, n) == 0:
            return cython.cast(bytes, held)
        address = cython.cast(cython.p_char, p)[:n]
        Py_INCREF(address)
        Py_XDECREF(held)
        slot[0] = cython.cast(cython.pointer(PyObject), address)
        return address
