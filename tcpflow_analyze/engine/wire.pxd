# C types for engine/wire.py (pure-Python mode: wire.py is the one source).
# Compiled, a connection's int, bool and double slots cross the process
# boundary as the bytes of their C fields: one block each for the connection
# and its endpoints (model/connection.pxd lays them out so), copied with
# memcpy into one flat buffer, with the few object slots beside them
# (_encode_flat), instead of a tuple per connection marshalled.
import cython
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_Resize
from libc.string cimport memcpy
from ..model.connection cimport Connection, ConnectionRare, Endpoint, Transitions, history_at

@cython.locals(client=Endpoint, server=Endpoint, conn_at="char *", client_at="char *", server_at="char *",
               conn_len=Py_ssize_t, ep_len=Py_ssize_t)
cdef (char *, Py_ssize_t, char *, char *, Py_ssize_t) _blocks(Connection c) noexcept

@cython.locals(c=Connection, client=Endpoint, server=Endpoint, rare=ConnectionRare, conn_at="char *",
               client_at="char *", server_at="char *", conn_len=Py_ssize_t, ep_len=Py_ssize_t, blocks=Py_ssize_t,
               klen=Py_ssize_t, cm=Py_ssize_t, sm=Py_ssize_t, used=Py_ssize_t, i=Py_ssize_t, p="char *",
               out=bytearray, key=bytes, tables=bytes, tlen=Py_ssize_t)
cdef bytearray _encode_flat(list conns)

cdef char *_endpoint_flat(char *p, Endpoint ep, Py_ssize_t m, dict addrs, list addr_list) except NULL

cdef int _numbered(obj, dict numbers, list objects) except -1

@cython.locals(c=Connection, client=Endpoint, server=Endpoint, rare=ConnectionRare, conn_at="char *",
               client_at="char *", server_at="char *", conn_len=Py_ssize_t, ep_len=Py_ssize_t, blocks=Py_ssize_t,
               klen=Py_ssize_t, extra=Py_ssize_t, p="char *", end="char *", n=Py_ssize_t, used="long long",
               tlen="long long")
cdef list _decode_flat(const unsigned char[:] data)

@cython.locals(m=Py_ssize_t)
cdef char *_endpoint_in_flat(char *p, char *end, Endpoint ep, list addr_list) except NULL

cdef inline void _put32(char *p, int v) noexcept:
    memcpy(p, &v, 4)

cdef inline int _get32(const char *p) noexcept:
    cdef int v
    memcpy(&v, p, 4)
    return v

cdef inline void _put64(char *p, long long v) noexcept:
    memcpy(p, &v, 8)

cdef inline long long _get64(const char *p) noexcept:
    cdef long long v
    memcpy(&v, p, 8)
    return v

cpdef encode(list conns)

cpdef list decode(data)
