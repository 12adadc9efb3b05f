# C types for views/record_lines.py (generated from views/record.py; this
# file is not): the connection and its endpoints as the extension types of
# model/connection.pxd, so that the line's getters read their fields at a
# fixed offset; the value texts, the addresses' texts, the Community ID,
# Zeek's uid and conn_state, and the handshake and close kinds through their
# modules' C entries.  The types themselves are in the generated
# @cython.locals.
from ..model.connection cimport Connection, Endpoint, close_kind, handshake_kind, opened_simultaneously
from ..model.community_id cimport community_id, id_chars
from ..model.text cimport ip_text
from ..engine.zeek cimport conn_state, uid, uid_chars
from .jsontext cimport LineText, anomaly_list_text, boolean, json_time as _json_time, lit, num, opt_text, quoted_at


# The two digests' texts (Community ID, Zeek's uid), printed in quotes
# straight into the line (``Field.writes``): no str made, copied and freed
# for each, two a line.
cdef inline int community_id_into(LineText out, a_addr, long a_port, b_addr, long b_port) except -1:
    cdef int n
    if out.n + 32 > out.cap:
        out._room(32)
    n = id_chars(a_addr, a_port, b_addr, b_port, 6, 0, out.buf + out.n + 1)   # community_id()'s defaults: TCP, seed 0
    if n == 0:
        return out.quoted(community_id(a_addr, a_port, b_addr, b_port))
    return quoted_at(out, n)


cdef inline int uid_into(LineText out, Connection conn) except -1:
    cdef int n
    if out.n + 20 > out.cap:
        out._room(20)
    n = uid_chars(conn, out.buf + out.n + 1)
    if n == 0:
        return out.quoted(uid(conn))
    return quoted_at(out, n)
