# C types for engine/table.py (pure-Python mode: table.py is the one source).
#
# ConnectionTable is an extension type so that segment(), the per-packet
# entry, can hold the connection and its endpoints as the extension types of
# model/connection.pxd and reach their fields directly.  Its attributes are
# declared here (an extension type has no __dict__); a Python subclass
# (engine.observer.ObservedTable) still adds its own and overrides segment
# and _route as before.  Only the control-flow scratch values are C typed:
# everything stored into a connection stays the Python object it is in the
# pure build.
import cython
from ..model.connection cimport Connection, Endpoint

cdef class ConnectionTable:
    cdef public object options, table, max_table, max_finished, finished, finished_failed, order, folds
    cdef public object evicted, _order, packet_number, likely_server_ports, awaiting

    @cython.locals(conn=Connection, x=Endpoint, y=Endpoint, upper=bint, ctl=long)
    cpdef segment(self, ts, key, sport, dport, seq, ack, flags, win, plen, wscale, ipb=*, encap=*)
