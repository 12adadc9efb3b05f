# C types for engine/history.py (pure-Python mode: history.py is the one
# source): the connection and endpoint as extension types (fields at a fixed
# offset), the flags and sequence numbers as C integers.  The H_* bits stay
# Python objects: the tracker imports two of them, which a C global would
# not let it.
import cython
from ..model.connection cimport Connection, Endpoint, EndpointRare, own_rare

cdef long long ACK, CONTROL, FIN, RST, SYN, SEQ_MASK
cdef dict _RESPONDER, _NEXT
cdef Py_ssize_t _NEXT_MAX

@cython.locals(code=Py_ssize_t, nexts=list, after=str)
cpdef str grown(str hist, str letter)
cdef bint _COMPILED

cpdef add(Connection conn, letter, bint upper)

cpdef add_scaled(Connection conn, count, letter, bint upper)

cpdef add_once(Connection conn, Endpoint ep, bit, letter, bint upper)

@cython.locals(ctl="long long", bit="long long", value="long long", last="long long", rare=EndpointRare)
cpdef control(Connection conn, Endpoint ep, long long flags, long long seq, long long plen, bint upper)
