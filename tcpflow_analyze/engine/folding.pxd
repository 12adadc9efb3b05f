# C types for engine/folding.py (pure-Python mode: folding.py is the one
# source).  kind_of(), refused() and syn_only() are asked of every finished connection
# (the fold decision, the detectors): the connection as the extension type of
# model/connection.pxd, so that their field tests are C reads.
from ..model.connection cimport Connection

cpdef bint refused(Connection conn)

cpdef bint syn_only(Connection conn)

cpdef kind_of(Connection conn)
