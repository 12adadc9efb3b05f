# C types for engine/endpoint.py (pure-Python mode: endpoint.py is the one
# source).  The state machine's per-segment functions take the connection and
# its endpoints as the extension types of model/connection.pxd, so that their
# fields are read at a fixed offset instead of through a getattr each, and the
# header fields, states and flags as C integers (every caller passes ints: the
# tracker's segment() and engine.timers).  The constants they compare against
# are C values for the same reason; a constant another module imports from
# here (DUP_WINDOW) stays a Python object, which a C global would not be.
import cython
from ..model.connection cimport (
    Connection, ConnectionRare, Endpoint, EndpointRare, Transitions, ended_history, own_connection_rare, own_rare,
)

cdef long long ACK, FIN, RST, SYN
cdef long long HS_ACK, HS_OVERFLOW, HS_SIMOPEN, HS_SYN, HS_SYNACK, SEQ_HALF, SEQ_MASK
cdef long long CLOSE_WAIT, CLOSED, CLOSING, ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, LAST_ACK, LISTEN, SYN_RECEIVED
cdef long long SYN_SENT, TIME_WAIT, UNKNOWN
cdef bint _COMPILED

@cython.locals(trans=object)
cpdef set_state(Endpoint ep, long long state, double ts)

@cython.locals(isn="long long", nxt="long long")
cpdef acks_syn(Endpoint ep, long long ack)

@cython.locals(st="long long")
cpdef receive_fin(Endpoint x, double ts)

@cython.locals(st="long long")
cpdef fin_acked(Connection conn, Endpoint sender, Endpoint receiver, double ts)

cdef inline bint _done(long long state) noexcept

cpdef check_ended(Connection conn)

@cython.locals(xst="long long", yst="long long", rn="long long", rare=EndpointRare)
cpdef receipts(Connection conn, Endpoint x, Endpoint y, bint upper, double ts, long long ack, long long flags,
               long long plen)

cdef lost_synack(Connection conn, Endpoint x, Endpoint y, double ts)

@cython.locals(sig="long long", fin_seq="long long", st="long long", rare=EndpointRare, crare=ConnectionRare)
cpdef control(Connection conn, Endpoint x, Endpoint y, bint upper, double ts, long long seq, long long ack,
              long long flags, long long plen, wscale)

@cython.locals(step="long long", xst="long long", yst="long long", rare=EndpointRare)
cpdef unseen_peer_ack(Connection conn, Endpoint x, Endpoint y, bint upper, long long rn, long long ack,
                      double ts)
