# C types for model/text.py (pure-Python mode: text.py is the one source).
# ip_text is called for both endpoints of every connection line: a cpdef,
# so that the compiled line writer (views/record_lines.pxd) calls it in C.
import cython

cdef dict _IP_TEXTS
cdef Py_ssize_t _IP_TEXTS_MAX

cpdef str ip_text(addr)

@cython.locals(p="const unsigned char *", buf="char[16]", n=int, i=int, v=int)
cdef str _v4_text(bytes addr)
