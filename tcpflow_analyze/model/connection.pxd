# C layout for model/connection.py (pure-Python mode: connection.py is the one
# source).  Endpoint and Connection become extension types: the compiled
# tracker (engine/table.pxd) reaches their fields at a fixed offset instead
# of through a slot descriptor per access.  A field whose every value is an
# int (counters from 0; states; ports; sequence numbers of 32 bits or -1 for
# "not seen") is a C long long, and one whose every value is True or False a
# C bint: reading one gives the same int or bool in both builds, and neither
# costs an object per value.  An endpoint's small codes (port, state, window
# scale, Zeek's states, history bits) and its counts of particular segments
# (retransmissions, zero windows, gaps, duplicates, SYNs, FINs, probes) are a
# C int: 2**31 of one such segment from one endpoint would be a capture of
# 140 GB or more.  Its packets, ACK advances, bytes and sequence numbers stay
# long long; so do a connection's id and order, beside its codes and
# handshake bits in C ints.  The ints lie in pairs between the long longs
# (an int alone is padded to 8 bytes; zgaps is the one left).  That takes 80
# bytes off an Endpoint, which then fits the small-object allocator (512
# bytes at most) instead of a malloc call each, and 40 off a Connection.
# The times every packet writes (an endpoint's first and last packet and its
# last new data, a connection's last packet) are C doubles, always a
# packet's timestamp or -1.0: the packet loop hands segment() its timestamp
# as a C double, and the common packet then makes no float object at all.
# Any other field that may hold None or a float stays a Python object: a C
# field would refuse None and turn an int into a float.
# The fields are the classes' __slots__: the C fields first, in __slots__
# order, then the objects (connection.ENDPOINT_OBJECTS, CONNECTION_OBJECTS),
# so that the C fields lie in one block that engine.wire copies whole (from
# the first, port and roles_inferred, to the last, fin_guess and evidence).

import cython
from libc.string cimport memcpy

cdef class Endpoint:
    cdef public int port, state
    cdef public long long isn, snd_nxt, rcv_nxt, fin_seq
    cdef public bint got_fin, active_close, fw2_live
    cdef public int syn_count, probes, tw_entries
    cdef public long long packets, bytes
    cdef public double first_time, last_time
    cdef public int retransmits, zero_windows, gaps
    cdef public int zstate, zprev, wscale
    cdef public long long zstart, zlast, zdata
    cdef public int zgaps
    cdef public long long zmissed
    cdef public int zrxmit
    cdef public bint zdid_close
    cdef public long long ip_bytes
    cdef public int hist_seen, fin_count
    cdef public long long last_syn, last_fin, last_rst
    cdef public long long unseen_step, missed, seg_seq
    cdef public double seg_time
    cdef public long long ctl_seq
    cdef public int duplicates, ctl_duplicates
    cdef public long long acks
    cdef public int gap_acks, seq_holes
    cdef public long long hole_ack, fin_guess
    cdef public object addr, state_time
    cdef public object syn_time, fin_time, rst_time, last_syn_time, rxmt_time
    cdef public object probe_time, got_fin_time, trans_flat
    cdef public object last_fin_time, unseen_time
    cdef public object ctl_time, holes, fin_guess_time


cdef class Connection:
    cdef public bint roles_inferred
    cdef public int hs, rst_ignored
    cdef public bint ended, route_check, evict_spared
    cdef public int reused_peer_state, reused_own_state
    cdef public double last_seen
    cdef public long long seq_order
    cdef public bint syn_cookie
    cdef public long long id
    cdef public bint rst_ack
    cdef public int challenge_state
    cdef public bint zflip
    cdef public int one_sided, evidence
    cdef public bytes ckey
    cdef public Endpoint client, server
    cdef public object first_seen, hist, reset_by, prev, superseded, reused_from
    cdef public object rst_time, rst_prior, challenge_time, replay_of
    cdef public object zfirst, zend, zclosed, zbase, zrows, encap


cdef Py_ssize_t _C_KEY_MAX
@cython.locals(n=Py_ssize_t, m=Py_ssize_t, alen=Py_ssize_t, a2=Py_ssize_t, kp="const char *",
               buf="char[296]")   # _C_KEY_MAX
cpdef bytes reverse_key(bytes key)
