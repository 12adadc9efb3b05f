# C types for engine/loop.py (Cython's pure-Python mode: loop.py is the one
# source; this file only types it for the compiled build).
#
# Only what the walk computes with is typed: positions and lengths (C
# integers), timestamps (doubles), and the header fields the fast paths test.
# ``table`` is a ConnectionTable (engine/table.pxd): segment() is called
# through its C entry, without a Python call's argument tuple and its ints
# boxed and unboxed again (a Python subclass's override, ObservedTable's, is
# still the one called).  What segment() keeps as a Python object (the ports)
# stays one here.  The record's fraction is a C integer: its conversion to
# a double is the one Python makes of an int.  Timestamps are computed with the same
# IEEE operations as Python's (sec + frac * scale, no fused multiply-add:
# setup.py), so both builds give the same bits.
import cython
from .table cimport ConnectionTable

@cython.locals(
    packets=Py_ssize_t, others=Py_ssize_t, walked_before=Py_ssize_t, vxlan_fast=Py_ssize_t,
    pos=Py_ssize_t, end=Py_ssize_t, off=Py_ssize_t, nxt=Py_ssize_t, hlen=Py_ssize_t,
    caplen=Py_ssize_t, max_caplen=Py_ssize_t,
    sec=double, frac="long long", ts=double, ts_end=double, ts_scale=double, start=double, last=double,
    fast=bint, records=bint,
    l2=Py_ssize_t, tcp4=Py_ssize_t, fast4_min=Py_ssize_t, key4=Py_ssize_t, key4_end=Py_ssize_t,
    tcp6=Py_ssize_t, fast6_min=Py_ssize_t, key6=Py_ssize_t, key6_end=Py_ssize_t, tagged_min=Py_ssize_t,
    vx=Py_ssize_t, vx_min=Py_ssize_t, vx_ip_need=Py_ssize_t, vx_udp_need=Py_ssize_t,
    vx6_min=Py_ssize_t, vx6_ip_need=Py_ssize_t, vx6_udp_need=Py_ssize_t,
    mirror_tcp=Py_ssize_t, mirror_key=Py_ssize_t, mirror_key_end=Py_ssize_t, vx_tagged_min=Py_ssize_t,
    tag_at=Py_ssize_t, vx_redo=Py_ssize_t,
    vx6_tcp=Py_ssize_t, vx6_key=Py_ssize_t, vx6_key_end=Py_ssize_t,
    at=Py_ssize_t, tcp_at=Py_ssize_t, shift=Py_ssize_t,
    etype=long, vhl=long, total=long, frag=long, proto=long, doff=long, thl=long, plen=long, flags=long,
    ip_plen=long, nxt_hdr=long, itotal=long, vtf=long, raw4=long, raw6=long,
)
cpdef run(windows, ConnectionTable table, stats, owned=*, progress=*)
