# C types for detectors/port_reuse_in_time_wait.py (pure-Python mode: the .py
# is the one source): the connection as the extension type of
# model/connection.pxd (the type is in detect's @cython.locals) and TIME_WAIT
# as a C integer, so that the test of every connection is C reads and compares.
from ..model.connection cimport Connection

cdef long long TIME_WAIT
