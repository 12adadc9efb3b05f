# C types for detectors/half_open.py (pure-Python mode: the .py is the one
# source): the connection and its endpoints as the extension types of
# model/connection.pxd (the types are in the functions' @cython.locals), the
# handshake bits and states as C integers: each kind's test of every
# connection reads fields at a fixed offset and compares in C.
from ..model.connection cimport Connection, Endpoint

cdef long long HS_ACK, HS_SYNACK, CLOSED, TIME_WAIT
