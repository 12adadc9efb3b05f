# C types for engine/table.py (pure-Python mode: table.py is the one source).
#
# ConnectionTable is an extension type so that segment(), the per-packet
# entry, can hold the connection and its endpoints as the extension types of
# model/connection.pxd and reach their fields directly.  Its attributes are
# declared here (an extension type has no __dict__); a Python subclass
# (engine.observer.ObservedTable) still adds its own and overrides segment
# and _route as before.  ``table`` is a FlowTable (engine/flowtable.pxd: its
# get() a C call, not a method looked up per packet).
#
# segment() computes in C integers what is always an int: the header fields
# (sequence numbers below 2**32, flags, window, lengths) and the sequence
# arithmetic on them and on the endpoints' C fields, with the constants it
# compares against as C values too (a Python constant would turn each
# expression back into Python ints).  Sequence arithmetic stays exact in a
# long long (32-bit values and their sums), and & on a negative C value is
# Python's two's complement &, so both builds compute the same numbers.  The
# timestamp is a C double, boxed once where the general path hands it on.
# The key and the window scale stay Python objects (the ports are boxed only
# for the few packets that route or split a connection).
import cython
from ..model.connection cimport (
    Connection, Endpoint, EndpointRare, new_connection, new_endpoint, own_connection_rare, own_rare, reverse_key,
    split_key,
)
from .flowtable cimport FlowTable, HostTable
# The state machine's functions (cpdef in their .pxd) called through their C
# entries: no argument tuple, no ints boxed for a call and unboxed again.
from . cimport history, zeek
from .endpoint cimport acks_syn, check_ended, control, receipts, set_state, unseen_peer_ack
from .timers cimport settle_with

cdef long long ACK, CONTROL, FIN, RST, SYN, _ROUTED
cdef long long SEQ_HALF, SEQ_MASK, Z_CLOSED, Z_IN_STEP, Z_INACTIVE, Z_RESET
cdef long long CLOSED, ESTABLISHED, SYN_SENT, UNKNOWN
cdef long long H_ACK, H_DATA, TOO_LARGE_SEQ_DELTA
cdef double DUP_WINDOW, _NEVER

# segment()'s sequence-space helpers: C calls with C arguments.
@cython.locals(rare=EndpointRare, nxt="long long")
cdef _zero_length_off(Endpoint x, long long seq, double ts)
@cython.locals(yd="long long", g="long long")
cdef _ack_beyond(Connection conn, Endpoint x, Endpoint y, bint upper, long long rn, long long ack, long long ynxt,
                 double ts)
@cython.locals(rare=EndpointRare, gap="long long")
cdef _missed(Connection conn, Endpoint x, Endpoint y, bint upper, long long rn, long long ack, long long ynxt,
             double ts)
@cython.locals(end="long long")
cdef _zeek_data(Endpoint x, long long seq, long long plen, long long flags)
@cython.locals(rare=EndpointRare, yf="long long", g="long long")
cdef _zeek_ack(Connection conn, Endpoint x, Endpoint y, bint upper, long long ack, long long yd)

cdef class ConnectionTable:
    cdef public FlowTable table
    cdef public object hosts
    cdef public Py_ssize_t hosts_kept
    cdef public Py_ssize_t max_table, max_finished
    cdef public long long _order
    cdef public object options, finished, finished_failed, order, folds
    cdef public object evicted, packet_number, likely_server_ports, awaiting
    cdef public object unanswered, time_wait, fin_timeout

    @cython.locals(x=Endpoint, y=Endpoint, rare=EndpointRare, ctl="long long",
                   nxt="long long", end="long long", adv="long long", rn="long long", ynxt="long long",
                   seglen="long long", zs="long long", zend="long long", d="long long", g="long long",
                   n="long long", yd="long long", zl="long long")
    cpdef segment(self, double ts, bytes key, long sport, long dport, long long seq, long long ack, long long flags, long long win,
                  long long plen, wscale, long long ipb=*, encap=*, Connection conn=*, bint upper=*)

    # Routing (a SYN, a RST, a new 4-tuple, a connection flagged for it):
    # C calls from segment() with C arguments, not Python method calls with
    # the header fields boxed for each.  cpdef, so that a Python subclass's
    # override (ObservedTable._route) is still the one called.
    @cython.locals(x=Endpoint, y=Endpoint, prev=Connection, c=Endpoint, is_client="bint")
    cpdef Connection _route(self, double ts, bytes key, Connection conn, long sport, long dport, long long seq,
                            long long ack, long long flags, encap=*)
    @cython.locals(new=Connection)
    cpdef Connection _reuse(self, double ts, bytes key, Connection old, Endpoint x_old, Endpoint y_old, long sport,
                            long dport, long long seq, long long ack, long long flags, encap=*)
    @cython.locals(conn=Connection, client=Endpoint, server=Endpoint, tag=bytes, rkey=bytes,
                   src=bytes, dst=bytes, alen="Py_ssize_t", a2="Py_ssize_t", kp="const unsigned char *", tso=object,
                   hosts_c=HostTable)
    cpdef Connection _new(self, double ts, bytes key, long sport, long dport, long long seq, long long ack,
                          long long flags, encap=*)
    # Once per connection at its end (ObservedTable overrides it: cpdef).
    cpdef _settle(self, Connection conn, double ts)
