# C types for detectors/connection_refused.py (pure-Python mode: the .py is the
# one source): the connection as the extension type of model/connection.pxd,
# so that the test of every connection reads its fields at a fixed offset.
# The type is in detect's @cython.locals; the test itself (refused) is a C call.
from ..engine.folding cimport refused
from ..model.connection cimport Connection
