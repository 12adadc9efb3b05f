# C layout for model/connection.py (pure-Python mode: connection.py is the one
# source).  Endpoint and Connection become extension types: the compiled
# tracker (engine/table.pxd) reaches their fields at a fixed offset instead
# of through a slot descriptor per access.  A field whose every value is an
# int (counters from 0; states; ports; sequence numbers of 32 bits or -1 for
# "not seen") is a C long long, and one whose every value is True or False a
# C bint: reading one gives the same int or bool in both builds, and neither
# costs an object per value.  An endpoint's counts of particular segments
# (retransmissions, SYNs, FINs, TIME_WAIT entries) are a C int: 2**31 of one
# such segment from one endpoint would be a capture of 140 GB or more.  Its
# small codes are as small as their values: a port an unsigned short, the
# window scale (-1, or the option's byte) a short, our states, Zeek's and
# the history bits (all below 128) a signed char; so are a connection's
# handshake bits and its one-sided and evidence codes.  Its packets, ACK
# advances, bytes and sequence numbers stay long long; so do a connection's
# id and order.  The small fields lie together before the 8-byte ones, so
# that no padding is left between them.  With the rare fields apart
# (EndpointRare, ConnectionRare), an Endpoint is 288 bytes and a Connection
# 144 (160 with its GC header), from 504 and 296 before any of this.
# Every time is a C double: a packet's timestamp (or one reckoned from
# it, as Zeek's removal time), -1.0 for "not yet", infinity for "never".
# The packet loop hands segment() its timestamp as a C double, so a packet
# makes no float object to set one; and the times travel to the process
# that merges a --jobs run in the C block below, not one object each.  Any
# field that may hold None stays a Python object: a C field would refuse it.
# The fields are the classes' __slots__: the C fields first, in __slots__
# order, then the objects (connection.ENDPOINT_OBJECTS, CONNECTION_OBJECTS),
# so that the C fields lie in one block that engine.wire copies whole (from
# the first, port and roles_inferred, to the last, acks and evidence).

import cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.string cimport memcpy, memmove

cdef class Endpoint:
    cdef public unsigned short port
    cdef public short wscale
    cdef public signed char state, zstate, zprev, hist_seen
    cdef public bint got_fin, active_close, zdid_close
    cdef public int tw_entries, syn_count, retransmits, zrxmit, fin_count
    cdef public double state_time
    cdef public long long isn, snd_nxt, rcv_nxt, fin_seq
    cdef public double syn_time, fin_time, last_syn_time, rxmt_time, got_fin_time
    cdef public long long packets, bytes
    cdef public double first_time, last_time
    cdef public long long zstart, zlast, zdata, ip_bytes, last_syn, last_fin
    cdef public double last_fin_time
    cdef public long long seg_seq
    cdef public double seg_time
    cdef public long long ctl_seq
    cdef public double ctl_time
    cdef public long long acks
    cdef public object addr, trans_flat
    cdef public EndpointRare rare


@cython.final
cdef class EndpointRare:
    cdef public int probes, zero_windows, gaps
    cdef public bint fw2_live
    cdef public int zgaps
    cdef public double probe_time
    cdef public long long zmissed, last_rst, unseen_step
    cdef public double unseen_time
    cdef public long long missed
    cdef public int duplicates, ctl_duplicates, gap_acks, seq_holes
    cdef public long long hole_ack
    cdef public double fin_guess_time
    cdef public long long fin_guess
    cdef public object holes

@cython.locals(rare=EndpointRare)
cpdef EndpointRare own_rare(Endpoint ep)


cdef class Connection:
    cdef public bint roles_inferred, ended, route_check, zflip
    cdef public double first_seen, last_seen
    cdef public long long seq_order, id
    cdef public double zfirst, zend, zclosed
    cdef public signed char hs, one_sided, evidence
    cdef public bytes ckey
    cdef public Endpoint client, server
    cdef public object hist, encap
    cdef public ConnectionRare rare


@cython.final
cdef class ConnectionRare:
    cdef public object reset_by
    cdef public double rst_time
    cdef public bint rst_ack
    cdef public int rst_ignored
    cdef public object rst_prior, prev, superseded, reused_from
    cdef public int reused_peer_state, reused_own_state
    cdef public object replay_of
    cdef public double challenge_time
    cdef public int challenge_state
    cdef public bint syn_cookie, evict_spared
    cdef public object zbase, zrows

@cython.locals(rare=ConnectionRare)
cpdef ConnectionRare own_connection_rare(Connection conn)

# New endpoints and connections without a constructor call (connection.py).
@cython.locals(ep=Endpoint)
cpdef Endpoint new_endpoint(bytes addr, long port, long state, ts)
cdef _start_endpoint(Endpoint ep, addr, long port, long state, ts)
@cython.locals(conn=Connection)
cpdef Connection new_connection(bytes ckey, Endpoint client, Endpoint server, ts, long long order)
cdef _start_connection(Connection conn, ckey, Endpoint client, Endpoint server, ts, long long order)

cpdef str handshake_kind(Connection conn)
cpdef bint opened_simultaneously(Connection conn)
cpdef str close_kind(Connection conn)


cdef Py_ssize_t _C_KEY_MAX
@cython.locals(n=Py_ssize_t, m=Py_ssize_t, alen=Py_ssize_t, a2=Py_ssize_t, kp="const char *",
               buf="char[296]")   # _C_KEY_MAX
cpdef bytes reverse_key(bytes key)

# (A C call from engine.table's _adopt and _finish, once per tunneled
# connection: as a Python function it cost a vectorcall with its keyword
# parsing, more than the two slices.)
@cython.locals(n=Py_ssize_t, m=Py_ssize_t, kp="const char *")
cpdef tuple split_key(bytes key)


# An ended endpoint's history in C memory (connection.py says why).
@cython.final
cdef class Transitions:
    # C ints (an endpoint's changes of state are a handful): with the two
    # pointers and the vtable's, 48 bytes, not 56 (pymalloc's 64).
    cdef int n, room
    cdef double *times
    cdef unsigned char *states
    @cython.locals(block="void *")
    cdef int _allocate(self, Py_ssize_t room) except -1
    @cython.locals(m=Py_ssize_t)
    cdef double add(self, double ts, int state) except? -1.0
    cdef int fit(self) except -1
    @cython.locals(m=Py_ssize_t, block="void *")
    cdef int _move(self, Py_ssize_t room) except -1
    @cython.locals(out=bytes)
    cpdef bytes block(self)
    @cython.locals(m=Py_ssize_t)
    cdef Py_ssize_t copy_to(self, char *at) noexcept

cdef Py_ssize_t HISTORY_ROOM

@cython.locals(history=Transitions)
cpdef new_history(ts, int state)

@cython.locals(history=Transitions)
cpdef ended_history(flat)

@cython.locals(m=Py_ssize_t, history=Transitions)
cpdef Transitions history_from_block(bytes block)
@cython.locals(history=Transitions)
cdef Transitions history_at(const char *at, Py_ssize_t m)
