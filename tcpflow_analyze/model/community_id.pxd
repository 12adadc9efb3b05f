# C types for model/community_id.py (pure-Python mode: community_id.py is the
# one source): a cpdef taking the ports as C integers (no int object per
# port), so that the compiled connection-line writer
# (views/record_lines.pxd) calls it in C; the message, its digest (sha1.pxd's
# C SHA-1) and the text in C buffers.
import cython
from libc.string cimport memcpy
from .sha1 cimport digest as sha1_digest

cdef bytes _BASE64

@cython.locals(text="char[32]")
cpdef str community_id(a_addr, long a_port, b_addr, long b_port, proto=*, seed=*)
@cython.locals(n=Py_ssize_t, sd="unsigned short", pr="unsigned char", ap="unsigned short", bp="unsigned short",
               msg="unsigned char[40]", d="unsigned char[21]", i=int, v="unsigned int",
               alphabet="const unsigned char *")
cdef int id_chars(a_addr, long a_port, b_addr, long b_port, long proto, long seed, char *text) except -1
