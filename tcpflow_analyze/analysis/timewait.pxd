# C types for analysis/timewait.py (pure-Python mode: timewait.py is the one
# source).  Its passes over every connection read Endpoint and Connection
# fields at a fixed offset (model/connection.pxd), not by a getattr each, and
# the walk of an endpoint's states compares them with TIME_WAIT in C.
import cython
from ..model.connection cimport Connection, Endpoint

cdef long long TIME_WAIT

@cython.final
cdef class _Spans:
    cdef public list starts, stops, ports, ids
    cdef public dict remotes
    cdef public Py_ssize_t at_end
    cdef public long long last_id
    cdef public bint ordered

@cython.locals(starts=list, stops=list, ports=list, held=set, i=Py_ssize_t, local=long, peak_time=double)
cpdef _sweep_spans(h, _Spans spans, long lo, long hi)

@cython.locals(flat=object, n=Py_ssize_t, i=Py_ssize_t, step=Py_ssize_t, start=double, stop=double, cid="long long")
cdef _add_spans(_Spans spans, Connection c, Endpoint me, Endpoint peer)

cdef _count_close(h, Endpoint me, Endpoint peer)
