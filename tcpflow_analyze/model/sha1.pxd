# C types for model/sha1.py (pure-Python mode: sha1.py is the one source).
# digest() is the compiled build's SHA-1 of a C buffer: model/community_id.pxd
# and engine/zeek.pxd cimport it, a C call per identifier.
import cython
from libc.stdint cimport uint32_t
from libc.string cimport memcpy, memset

@cython.locals(h=uint32_t[5], tail="unsigned char[128]", done=Py_ssize_t, rest=Py_ssize_t, end=Py_ssize_t,
               bits="unsigned long long", i=int)
cdef void digest(const unsigned char *msg, Py_ssize_t n, unsigned char *out) noexcept

@cython.locals(w=uint32_t[80], t=int, x=uint32_t, a=uint32_t, b=uint32_t, c=uint32_t, d=uint32_t, e=uint32_t,
               k=uint32_t)
cdef void _compress(uint32_t *h, const unsigned char *block) noexcept
