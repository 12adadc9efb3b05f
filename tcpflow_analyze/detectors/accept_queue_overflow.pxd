# C types for detectors/accept_queue_overflow.py (pure-Python mode: the .py
# is the one source): the connection as the extension type of
# model/connection.pxd (the type is in detect's @cython.locals) and the
# overflow bit as a C integer, so that the test of every connection is a C
# read and compare.
from ..model.connection cimport Connection

cdef long long HS_OVERFLOW
