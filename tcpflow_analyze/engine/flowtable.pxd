# C types for engine/flowtable.py (pure-Python mode: compiled only, see there).
import cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.stdlib cimport calloc, free
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcmp, memcpy
from ..model.connection cimport Connection

# GCC's and Clang's cache-line prefetch (FlowTable.prefetch).
cdef extern from *:
    void _prefetch "__builtin_prefetch"(const void *p) noexcept nogil

# A slot of either table: a key's hash (the flow table's: its low bit the
# direction, _UPPER) and what the key maps to (a connection, a host's
# address), a reference the slot owns; NULL: an empty slot.
cdef struct Slot:
    uint64_t hash
    PyObject *ref

# A key the walk found (flowtable.py: ``seen``): one cache line.
cdef struct FlowSeen:
    uint64_t hash       # its slot's
    PyObject *conn      # borrowed from its slot; NULL: an empty entry
    Py_ssize_t klen
    unsigned char key[40]   # _SEEN_KEY: a longer key is not kept in front

cdef int FLOW_SLOT_BITS, FLOW_SEEN_BITS
cdef enum:
    _SEEN_KEY = 40
cdef uint64_t _MUL, _MIX1, _MIX2, _SEED

@cython.locals(h=uint64_t, w=uint32_t, i=Py_ssize_t)
cdef inline uint64_t _hash(const unsigned char *k, Py_ssize_t n) noexcept
# The stored hash's low bit: the slot's key is its connection's ckey (1) or
# the reverse (0).  A key's home slot is from the bits above it.
cdef enum:
    _UPPER = 1
cdef object _MISSING

@cython.locals(ck=bytes, c="const unsigned char *", m=Py_ssize_t)
cdef inline bint _key_matches(Connection conn, const unsigned char *k, Py_ssize_t n, bint upper) noexcept
@cython.locals(a2=Py_ssize_t)
cdef inline bint _is_reverse(const unsigned char *k, const unsigned char *c, Py_ssize_t alen) noexcept

@cython.locals(m=Py_ssize_t)
cdef bint _slotted(const unsigned char *k, Py_ssize_t n) noexcept

cdef class OpenSlots:
    cdef Slot *slots
    cdef Py_ssize_t mask, used
    cdef int shift

    @cython.final
    @cython.locals(slots="Slot *")
    cdef int _allocate(self, int bits) except -1
    @cython.final
    @cython.locals(i=Py_ssize_t)
    cdef Slot *_empty_slot(self, uint64_t h) noexcept
    @cython.final
    @cython.locals(old="Slot *", size=Py_ssize_t, i=Py_ssize_t)
    cdef int _grow(self) except -1
    @cython.final
    @cython.locals(i=Py_ssize_t)
    cdef int _release(self) except -1


@cython.final
cdef class FlowTable(OpenSlots):
    cdef FlowSeen *seen
    cdef public dict others

    @cython.locals(h=uint64_t, seen="FlowSeen *", slot="Slot *")
    cdef FlowSeen *find(self, const unsigned char *k, Py_ssize_t n) noexcept

    @cython.locals(h=uint64_t)
    cdef void prefetch(self, const unsigned char *k, Py_ssize_t n) noexcept

    @cython.locals(i=Py_ssize_t, slot="Slot *")
    cdef Slot *_probe(self, const unsigned char *k, Py_ssize_t n, uint64_t h) noexcept

    cdef inline FlowSeen *_seen_of(self, uint64_t h) noexcept

    @cython.locals(n=Py_ssize_t, k="const unsigned char *")
    cdef Slot *_find_key(self, bytes key) noexcept

    @cython.locals(n=Py_ssize_t, seen="FlowSeen *")
    cpdef get(self, bytes key, default=*)

    @cython.locals(n=Py_ssize_t, k="const unsigned char *", h=uint64_t, slot="Slot *")
    cpdef setdefault(self, bytes key, conn)

    @cython.locals(i=Py_ssize_t)
    cpdef list values(self)

    cdef int _place(self, bytes key, const unsigned char *k, Py_ssize_t n, uint64_t h, conn) except -1

    @cython.locals(slot="Slot *")
    cdef int _insert(self, uint64_t h, Connection conn) except -1

    @cython.locals(conn="PyObject *", seen="FlowSeen *", i=Py_ssize_t, j=Py_ssize_t, home=Py_ssize_t,
                   mask=Py_ssize_t)
    cdef int _remove(self, Slot *slot) except -1



@cython.final
cdef class HostTable(OpenSlots):
    cdef Py_ssize_t kept

    @cython.locals(h=uint64_t, i=Py_ssize_t, slot="Slot *", addr=bytes)
    cdef bytes shared(self, const unsigned char *k, Py_ssize_t n)
