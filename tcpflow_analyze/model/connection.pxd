# C layout for model/connection.py (pure-Python mode: connection.py is the one
# source).  Endpoint and Connection become extension types: the compiled
# tracker (engine/table.pxd) reaches their fields at a fixed offset instead
# of through a slot descriptor per access.  Every field stays a Python object
# for now, so nothing a field holds (an int, a float, None) changes between
# the builds; typing the counters as C integers is the next step (issue #14).
# The fields are the classes' __slots__, in their order: keep them in step.

cdef class Endpoint:
    cdef public object addr, port, state, state_time, isn, snd_nxt, rcv_nxt, wscale, fin_seq, got_fin
    cdef public object active_close, fw2_live, syn_time, fin_time, rst_time, last_syn_time, rxmt_time, syn_count
    cdef public object probes, probe_time, got_fin_time, trans_flat, tw_entries, packets, bytes, retransmits
    cdef public object zero_windows, gaps, first_time, last_time, zstate, zprev, zstart, zlast, zdata, zgaps
    cdef public object zmissed, zrxmit, zdid_close, ip_bytes, hist_seen, last_syn, last_fin, last_rst, fin_count
    cdef public object last_fin_time, unseen_step, unseen_time, missed, seg_seq, seg_time, ctl_seq, ctl_time
    cdef public object duplicates, ctl_duplicates, acks, gap_acks, seq_holes, holes, hole_ack, fin_guess
    cdef public object fin_guess_time


cdef class Connection:
    cdef public object ckey, client, server, roles_inferred, first_seen, last_seen, hist, hs, reset_by
    cdef public object rst_ignored, ended, prev, route_check, evict_spared, superseded, reused_peer_state
    cdef public object reused_own_state, reused_from, seq_order, syn_cookie, id, rst_time, rst_ack, rst_prior
    cdef public object challenge_time, challenge_state, replay_of, zflip, zfirst, zend, zclosed, zbase, zrows
    cdef public object encap, one_sided, evidence
