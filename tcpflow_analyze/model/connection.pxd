# C layout for model/connection.py (pure-Python mode: connection.py is the one
# source).  Endpoint and Connection become extension types: the compiled
# tracker (engine/table.pxd) reaches their fields at a fixed offset instead
# of through a slot descriptor per access.  The fields the per-packet path
# counts with or compares are C integers: every value they ever hold is an int
# (counters from 0; states; sequence numbers of 32 bits or -1 for "not seen"),
# so reading one gives the same int in both builds, and the tracker adds to
# them without a Python int per packet.  Any field that may hold None, a bool
# or a float stays a Python object: a C field would refuse None and turn the
# others into another type.  The fields are the classes' __slots__, in their
# order: keep them in step.

cdef class Endpoint:
    cdef public object addr, port
    cdef public long long state
    cdef public object state_time, isn
    cdef public long long snd_nxt, rcv_nxt
    cdef public object wscale, fin_seq, got_fin, active_close, fw2_live, syn_time, fin_time, rst_time
    cdef public object last_syn_time, rxmt_time, syn_count, probes, probe_time, got_fin_time, trans_flat
    cdef public object tw_entries
    cdef public long long packets, bytes, retransmits, zero_windows
    cdef public object gaps, first_time, last_time
    cdef public long long zstate
    cdef public object zprev, zstart, zlast, zdata, zgaps, zmissed
    cdef public long long zrxmit
    cdef public object zdid_close
    cdef public long long ip_bytes, hist_seen
    cdef public object last_syn, last_fin, last_rst, fin_count, last_fin_time, unseen_step, unseen_time
    cdef public object missed
    cdef public long long seg_seq
    cdef public object seg_time, ctl_seq, ctl_time
    cdef public long long duplicates
    cdef public object ctl_duplicates
    cdef public long long acks
    cdef public object gap_acks, seq_holes, holes, hole_ack, fin_guess, fin_guess_time


cdef class Connection:
    cdef public object ckey
    cdef public Endpoint client, server
    cdef public object roles_inferred, first_seen, last_seen, hist, hs, reset_by
    cdef public object rst_ignored, ended, prev, route_check, evict_spared, superseded, reused_peer_state
    cdef public object reused_own_state, reused_from, seq_order, syn_cookie, id, rst_time, rst_ack, rst_prior
    cdef public object challenge_time, challenge_state, replay_of, zflip, zfirst, zend, zclosed, zbase, zrows
    cdef public object encap, one_sided, evidence
