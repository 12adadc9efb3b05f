# C types for engine/flowcache.py (pure-Python mode: compiled only, see there).
import cython
from cpython.object cimport PyObject
from libc.stdlib cimport calloc, free
from libc.string cimport memcmp, memcpy

cdef struct FlowSlot:
    PyObject *conn      # borrowed: see flowcache.py
    Py_ssize_t klen
    bint upper
    unsigned char key[36]   # FLOW_KEY_MAX

cdef Py_ssize_t FLOW_SLOTS, FLOW_SHIFT, FLOW_KEY_MAX
cdef unsigned int _FLOW_MUL

@cython.locals(h="unsigned int", w="unsigned int", i=Py_ssize_t)
cdef Py_ssize_t _slot_of(const unsigned char *k, Py_ssize_t n) noexcept

cdef class FlowCache:
    cdef FlowSlot *slots

    @cython.locals(slot="FlowSlot *")
    cdef FlowSlot *find(self, const unsigned char *k, Py_ssize_t n) noexcept

    @cython.locals(slot="FlowSlot *")
    cdef void put(self, const unsigned char *k, Py_ssize_t n, object conn, bint upper) noexcept

    @cython.locals(n=Py_ssize_t, k="const unsigned char *", slot="FlowSlot *")
    cpdef forget(self, bytes key)
