# C types for views/capture.py (pure-Python mode: capture.py is the one
# source).  capture_counts() sums fields of every connection a document
# covers: the connection and its endpoints as the extension types of
# model/connection.pxd, so that each field is a C read, not a getattr.
import cython
from ..model.connection cimport Connection, Endpoint

@cython.locals(conn=Connection, c=Endpoint, s=Endpoint, one_sided="long long", inferred="long long",
               missed="long long", duplicates="long long", acks="long long", gaps="long long", holes="long long",
               ca="long long", sa="long long")
cpdef dict capture_counts(conns)
