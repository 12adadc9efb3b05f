# C types for engine/folding.py (pure-Python mode: folding.py is the one
# source).  kind_of(), refused() and syn_only() are asked of every finished connection
# (the fold decision, the detectors): the connection as the extension type of
# model/connection.pxd, so that their field tests are C reads.
import cython
from ..model.connection cimport Connection, Endpoint, EndpointRare

cpdef bint refused(Connection conn)

cpdef bint syn_only(Connection conn)

cpdef kind_of(Connection conn)

# capture_sums() walks every connection a report lists (views.capture): the
# connection and its endpoints as extension types, each field a C read.
@cython.locals(conn=Connection, c=Endpoint, s=Endpoint, one_sided="long long", inferred="long long",
               missed="long long", duplicates="long long", acks="long long", gaps="long long", holes="long long",
               ca="long long", sa="long long", cr=EndpointRare, sr=EndpointRare)
cpdef dict capture_sums(conns)

@cython.locals(conn=Connection, by_client="long long[:]", by_server="long long[:]")
cpdef tuple end_states(conns)
