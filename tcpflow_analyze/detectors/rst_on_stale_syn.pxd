# C types for detectors/rst_on_stale_syn.py (pure-Python mode: the .py is the
# one source): the connection as the extension type of model/connection.pxd
# (the type is in detect's @cython.locals) and the handshake bits as C
# integers, so that the test of every connection is C reads and compares.
from ..model.connection cimport Connection

cdef long long HS_ACK, HS_SYN, HS_SYNACK
