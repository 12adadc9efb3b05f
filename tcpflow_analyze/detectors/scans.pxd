# C types for detectors/scans.py (pure-Python mode: the .py is the one
# source): the connection as the extension type of model/connection.pxd, so
# that the search for probes reads every connection's fields at a fixed
# offset.  The type is in _find_scans's @cython.locals.
from ..model.connection cimport Connection
