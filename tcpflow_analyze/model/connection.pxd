# C layout for model/connection.py (pure-Python mode: connection.py is the one
# source).  Endpoint and Connection become extension types: the compiled
# tracker (engine/table.pxd) reaches their fields at a fixed offset instead
# of through a slot descriptor per access.  A field whose every value is an
# int (counters from 0; states; ports; sequence numbers of 32 bits or -1 for
# "not seen") is a C long long, and one whose every value is True or False a
# C bint: reading one gives the same int or bool in both builds, and neither
# costs an object per value.  Any field that may hold None or a float stays a
# Python object: a C field would refuse None and turn an int into a float.
# The fields are the classes' __slots__, in their order: keep them in step.

cdef class Endpoint:
    cdef public object addr
    cdef public long long port, state
    cdef public object state_time
    cdef public long long isn, snd_nxt, rcv_nxt, wscale, fin_seq
    cdef public bint got_fin, active_close, fw2_live
    cdef public object syn_time, fin_time, rst_time
    cdef public object last_syn_time, rxmt_time
    cdef public long long syn_count, probes
    cdef public object probe_time, got_fin_time, trans_flat
    cdef public long long tw_entries
    cdef public long long packets, bytes, retransmits, zero_windows, gaps
    cdef public object first_time, last_time
    cdef public long long zstate, zprev, zstart, zlast
    cdef public long long zdata, zgaps, zmissed, zrxmit
    cdef public bint zdid_close
    cdef public long long ip_bytes, hist_seen, last_syn, last_fin, last_rst, fin_count
    cdef public object last_fin_time
    cdef public long long unseen_step
    cdef public object unseen_time
    cdef public long long missed, seg_seq
    cdef public object seg_time
    cdef public long long ctl_seq
    cdef public object ctl_time
    cdef public long long duplicates, ctl_duplicates, acks, gap_acks, seq_holes
    cdef public object holes
    cdef public long long hole_ack, fin_guess
    cdef public object fin_guess_time


cdef class Connection:
    cdef public bytes ckey
    cdef public Endpoint client, server
    cdef public bint roles_inferred
    cdef public object first_seen, last_seen, hist
    cdef public long long hs
    cdef public object reset_by
    cdef public long long rst_ignored
    cdef public bint ended
    cdef public object prev
    cdef public bint route_check, evict_spared
    cdef public object superseded
    cdef public long long reused_peer_state, reused_own_state
    cdef public object reused_from
    cdef public long long seq_order
    cdef public bint syn_cookie
    cdef public long long id
    cdef public object rst_time
    cdef public bint rst_ack
    cdef public object rst_prior
    cdef public object challenge_time
    cdef public long long challenge_state
    cdef public object replay_of
    cdef public bint zflip
    cdef public object zfirst, zend, zclosed, zbase, zrows
    cdef public object encap
    cdef public long long one_sided, evidence
