# C types for detectors/lingering_close_wait.py (pure-Python mode: the .py is
# the one source): the connection and its endpoints as the extension types of
# model/connection.pxd, so that the test of every connection's sides reads
# their fields at a fixed offset.  The types are in detect's @cython.locals.
from ..model.connection cimport Connection, Endpoint
