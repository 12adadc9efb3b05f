# C types for engine/wire.py (pure-Python mode: wire.py is the one source).
# Compiled, a connection's int and bool slots cross the process boundary as
# the bytes of their C fields: one block each for the connection and its
# endpoints (model/connection.pxd lays them out so), copied with memcpy
# instead of a Python int made and read back per slot.
import cython
from libc.string cimport memcpy
from ..model.connection cimport Connection, Endpoint

@cython.locals(client=Endpoint, server=Endpoint, conn_at="char *", client_at="char *", server_at="char *",
               conn_len=Py_ssize_t, ep_len=Py_ssize_t)
cdef (char *, Py_ssize_t, char *, char *, Py_ssize_t) _blocks(Connection c) noexcept

@cython.locals(conn_at="char *", client_at="char *", server_at="char *", conn_len=Py_ssize_t, ep_len=Py_ssize_t)
cdef void _numbers_out(Connection c, bytearray out) except *

@cython.locals(conn_at="char *", client_at="char *", server_at="char *", conn_len=Py_ssize_t, ep_len=Py_ssize_t,
               src="char *")
cdef Py_ssize_t _numbers_in(Connection c, bytes data, Py_ssize_t at) except -1
