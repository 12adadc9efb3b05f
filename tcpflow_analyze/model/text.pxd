# C types for model/text.py (pure-Python mode: text.py is the one source).
# ip_text is called for both endpoints of every connection line: a cpdef,
# so that the compiled line writer (views/record_lines.pxd) calls it in C.
import cython

cdef dict _IP_TEXTS
cdef Py_ssize_t _IP_TEXTS_MAX

cpdef str ip_text(addr)

@cython.locals(buf="char[16]", n=int)
cdef str _v4_text(bytes addr)

@cython.locals(n=int, i=int, v=int)
cdef int v4_chars(const unsigned char *p, char *out) noexcept
