# C types for engine/hosts.py (pure-Python mode: compiled only, see there).
import cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.stdlib cimport calloc, free
from libc.string cimport memcmp
from .flowtable cimport _hash

cdef int HOST_SLOT_BITS

@cython.final
cdef class HostCache:
    cdef PyObject **slots

    @cython.locals(slot="PyObject **", held="PyObject *", address=bytes)
    cdef bytes share(self, const unsigned char *p, Py_ssize_t n)
