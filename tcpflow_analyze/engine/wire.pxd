# C types for engine/wire.py (pure-Python mode: wire.py is the one source).
# Compiled, a connection's int and bool slots cross the process boundary as
# the bytes of their C fields: one block each for the connection and its
# endpoints (model/connection.pxd lays them out so), copied with memcpy
# instead of a Python int made and read back per slot.
import cython
from libc.string cimport memcpy
from ..model.connection cimport Connection, ConnectionRare, Endpoint

@cython.locals(client=Endpoint, server=Endpoint, conn_at="char *", client_at="char *", server_at="char *",
               conn_len=Py_ssize_t, ep_len=Py_ssize_t)
cdef (char *, Py_ssize_t, char *, char *, Py_ssize_t) _blocks(Connection c) noexcept

@cython.locals(conn_at="char *", client_at="char *", server_at="char *", conn_len=Py_ssize_t, ep_len=Py_ssize_t)
cdef void _numbers_out(Connection c, bytearray out) except *

@cython.locals(conn_at="char *", client_at="char *", server_at="char *", conn_len=Py_ssize_t, ep_len=Py_ssize_t,
               src="char *")
cdef Py_ssize_t _numbers_in(Connection c, bytes data, Py_ssize_t at) except -1

cdef Py_ssize_t _CKEY, _HIST, _ENCAP, _ADDR, _CONN_RARE, _HISTORY, _RARE

cdef int _connection_in(Connection c, tuple values) except -1

cdef int _endpoint_in(Endpoint ep, tuple values) except -1

@cython.locals(values=list)
cdef tuple _connection_out(Connection c)

@cython.locals(values=list)
cdef tuple _endpoint_out(Endpoint ep)

# The connections packed and unpacked as their extension types: their
# slots read and set in C, not by name.
@cython.locals(c=Connection, rare=ConnectionRare)
cpdef bytes encode(list conns)

@cython.locals(c=Connection, client=Endpoint, server=Endpoint, rare=ConnectionRare)
cpdef list decode(bytes data)
