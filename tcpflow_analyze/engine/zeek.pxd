# C types for engine/zeek.py (pure-Python mode: zeek.py is the one source):
# the per-control-segment updates of Zeek's endpoint states take the
# connection and endpoints as the extension types of model/connection.pxd and
# the flags, lengths and sequence numbers as C integers.  Constants other
# modules import from here (TOO_LARGE_SEQ_DELTA, _NEVER, LIKELY_SERVER_PORTS)
# stay Python objects.
import cython
from libc.string cimport memcpy
from ..model.connection cimport Connection, Endpoint
from ..model.sha1 cimport digest as sha1_digest

cdef long long ACK, CONTROL, FIN, RST, SYN, SEQ_HALF, SEQ_MASK
cdef long long Z_CLOSED, Z_ESTABLISHED, Z_IN_STEP, Z_INACTIVE, Z_PARTIAL, Z_RESET, Z_SYN_ACK_SENT, Z_SYN_SENT

cpdef _set(Endpoint x, long long state)

@cython.locals(zs="long long", ctl="long long")
cpdef update(Connection conn, Endpoint x, Endpoint y, bint is_orig, long long flags, long long plen, long long seq,
             double ts=*)

@cython.locals(zs="long long")
cpdef init_endpoint(Endpoint x, long long flags, long long seq, long long end)

cpdef clean(Endpoint x)

# Once per connection (its close, its conn.log row, its JSON line): typed so
# that their field reads are C reads, not a getattr each.
cpdef _closed_by(Connection conn, Endpoint x, Endpoint y, double ts)

@cython.locals(c=Endpoint, s=Endpoint)
cpdef write_out(Connection conn)

# uid: the message, its digest (model/sha1.pxd's C SHA-1) and the text in C
# buffers.
cdef bytes _B62_OF_BYTE

@cython.locals(text="char[20]")
cpdef uid(Connection conn)
@cython.locals(key=bytes, n=Py_ssize_t, t=double, bits="unsigned long long", i=int, msg="unsigned char[320]",
               d="unsigned char[20]", digits="const unsigned char *")
cdef int uid_chars(Connection conn, char *text) noexcept

cpdef orig_resp(Connection conn)
cpdef Endpoint originator(Connection conn)
cpdef Endpoint responder(Connection conn)

cpdef size(Endpoint x, Endpoint peer)

@cython.locals(o=Endpoint, r=Endpoint, os_="long long", rs="long long", o_inactive=bint, r_inactive=bint)
cpdef conn_state(Connection conn)
