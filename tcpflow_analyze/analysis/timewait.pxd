# C types for analysis/timewait.py (pure-Python mode: timewait.py is the one
# source).  Its passes over every connection read Endpoint and Connection
# fields at a fixed offset (model/connection.pxd), not by a getattr each, and
# the walk of an endpoint's states compares them with TIME_WAIT in C.
import cython
from ..model.connection cimport Connection, Endpoint

cdef long long TIME_WAIT

@cython.locals(flat=object, n=Py_ssize_t, i=Py_ssize_t, step=Py_ssize_t)
cdef _add_spans(list spans, Connection c, Endpoint me, Endpoint peer)

cdef _count_close(h, Endpoint me, Endpoint peer)
