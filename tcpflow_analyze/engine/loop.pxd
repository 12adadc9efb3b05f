# C types for engine/loop.py (Cython's pure-Python mode: loop.py is the one
# source; this file only types it for the compiled build).
#
# Only what the walk computes with is typed: positions and lengths (C
# integers), timestamps (doubles), and the header fields the fast paths test.
# ``table`` is a ConnectionTable (engine/table.pxd): segment() is called
# through its C entry, without a Python call's argument tuple and its ints
# boxed and unboxed again (a Python subclass's override, ObservedTable's, is
# still the one called).  The record's fraction is a C integer: its conversion to
# a double is the one Python makes of an int.  Timestamps are computed with the same
# IEEE operations as Python's (sec + frac * scale, no fused multiply-add:
# setup.py), so both builds give the same bits.
import cython
from libc.string cimport memcpy
from .flowtable cimport _UPPER, FlowSeen, FlowTable
from .table cimport ConnectionTable
from ..model.connection cimport Connection
from ..decode.tcp cimport window_scale

# Constants the walk tests every packet against: C values, not Python ints
# (a Python constant boxes the C field it is compared with).
cdef long ETH_P_8021Q, SYN, ROUTED, EPB, EPB_FIXED_LEN

# The table's flow table (engine/flowtable.py): its find is a C call.
@cython.locals(seen="FlowSeen *", conn=Connection)
cdef int _flow_segment(FlowTable flows, ConnectionTable table, const unsigned char *k, Py_ssize_t n, double ts,
                       long sport, long dport, long long seq, long long ack, long flags, long win, long plen,
                       long ipb, Py_ssize_t shift, Py_ssize_t room) except -1


# The C loads (loop.py: _u16 ... _c_mirror): a pointer into the window, the
# fields as C integers (a ctuple: no Python object made for one of them).
cdef Py_ssize_t _IP_VHL, _IP_TOS, _IP_LEN, _IP_OFF, _IP_P, _IP6_VFC, _IP6_PLEN, _IP6_NXT
cdef Py_ssize_t _TCP_SPORT, _TCP_DPORT, _TCP_SEQ, _TCP_ACK, _TCP_OFF, _TCP_FLAGS, _TCP_WIN
cdef Py_ssize_t _UDP_DPORT, _UDP_ULEN, _VXLAN_VNI, _ETH_TYPE
cdef Py_ssize_t _IPV4_LEN, _IPV6_LEN, _UDP_LEN, _VXLAN_LEN, _ETH_LEN, _VX_L2, _VX_ETYPE, _KEY_MAX, _VNI_FRONT

cdef long _u16(const unsigned char *p) noexcept
@cython.locals(v="long long")
cdef long long _u32(const unsigned char *p) noexcept
@cython.locals(v="long long")
cdef long long _le32(const unsigned char *p) noexcept
cdef long long _rd32(const unsigned char *p, bint big) noexcept

@cython.locals(m=Py_ssize_t)
cdef Py_ssize_t _tagged_into(unsigned char *key, const unsigned char *p, Py_ssize_t n, bytes tag) noexcept
@cython.locals(m=Py_ssize_t, key="unsigned char[64]")
cdef bytes _c_key(const unsigned char *p, Py_ssize_t n, bytes tag)
@cython.locals(m=Py_ssize_t, key="unsigned char[64]")
cdef int _flow_tagged(FlowTable flows, ConnectionTable table, const unsigned char *p, Py_ssize_t n, bytes tag,
                      double ts, long sport, long dport, long long seq, long long ack, long flags, long win,
                      long plen, long ipb) except -1

cdef (long, long) _c_etype_vhl(const unsigned char *p, Py_ssize_t e_at, bint raw,
                               const unsigned char *ip) noexcept

@cython.locals(ip="const unsigned char *", t="const unsigned char *", etype=long, vhl=long)
cdef (long, long, long, long, long, long, long, long long, long long, long, long, long) _c_v4(
    const unsigned char *p, Py_ssize_t e_at, bint raw, Py_ssize_t l2) noexcept

@cython.locals(ip="const unsigned char *", t="const unsigned char *")
cdef (long long, long, long, long, long, long long, long long, long, long, long) _c_v6(
    const unsigned char *p, Py_ssize_t l2) noexcept

@cython.locals(ip="const unsigned char *", u="const unsigned char *", vx="const unsigned char *",
               iip="const unsigned char *", t="const unsigned char *", etype=long, vhl=long)
cdef (long, long, long, long, long, long, long, long long, long, long, long, long, long, long, long,
      long long, long long, long, long, long) _c_mirror(
    const unsigned char *p, Py_ssize_t e_at, bint raw, Py_ssize_t l2) noexcept

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
    at=Py_ssize_t, tcp_at=Py_ssize_t, shift=Py_ssize_t, key_at=Py_ssize_t, key_end=Py_ssize_t,
    etype=long, vhl=long, total=long, frag=long, proto=long, doff=long, thl=long, plen=long, flags=long,
    ip_plen=long, nxt_hdr=long, itotal=long, vtf=long, raw4=long, raw6=long,
    view="const unsigned char[::1]", base="const unsigned char *", p="const unsigned char *",
    rec_order=int, big=bint, c_loads=bint, e_at=Py_ssize_t, raw=bint,
    direct=bint, flows=FlowTable, key=bytes,
    btype="long long", blen="long long", iface="long long", interface="long long",
    ts_hi="unsigned long long", ts_lo="unsigned long long",
    sport=long, dport=long, seq="long long", ack="long long", win=long,
    udp_dport=long, ulen=long, vni="long long", vx_last="long long", ietype=long, ivhl=long, ifrag=long,
    iproto=long, j=Py_ssize_t, vx_words=list, vx_found=list,
)
cpdef run(windows, ConnectionTable table, stats, owned=*, progress=*)
