# C types for detectors/syn_unanswered.py (pure-Python mode: the .py is the
# one source): the connection as the extension type of model/connection.pxd,
# so that the test of every connection reads its fields at a fixed offset.
# The type is in detect's @cython.locals; the test itself (syn_only) is a C call.
from ..engine.folding cimport syn_only
from ..model.connection cimport Connection
