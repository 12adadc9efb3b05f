# C types for detectors/reset_storm.py (pure-Python mode: the .py is the one
# source): the connection as the extension type of model/connection.pxd, so
# that the test of every connection reads its fields at a fixed offset.  The
# type is in detect's @cython.locals.
from ..model.connection cimport Connection
