# C types for engine/zeek.py (pure-Python mode: zeek.py is the one source):
# the per-control-segment updates of Zeek's endpoint states take the
# connection and endpoints as the extension types of model/connection.pxd and
# the flags, lengths and sequence numbers as C integers.  Constants other
# modules import from here (TOO_LARGE_SEQ_DELTA, _NEVER, LIKELY_SERVER_PORTS)
# stay Python objects.
import cython
from ..model.connection cimport Connection, Endpoint

cdef long long ACK, FIN, RST, SYN, SEQ_HALF, SEQ_MASK
cdef long long Z_CLOSED, Z_ESTABLISHED, Z_INACTIVE, Z_PARTIAL, Z_RESET, Z_SYN_ACK_SENT, Z_SYN_SENT

cpdef _set(Endpoint x, long long state)

@cython.locals(zs="long long", ctl="long long")
cpdef update(Connection conn, Endpoint x, Endpoint y, bint is_orig, long long flags, long long plen, long long seq,
             ts=*)

@cython.locals(zs="long long")
cpdef init_endpoint(Endpoint x, long long flags, long long seq, long long end)

cpdef clean(Endpoint x)
