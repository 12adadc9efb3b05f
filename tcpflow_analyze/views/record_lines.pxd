# C types for views/record_lines.py (generated from views/record.py; this
# file is not): the connection and its endpoints as the extension types of
# model/connection.pxd, so that the line's getters read their fields at a
# fixed offset; the value texts, the addresses' texts, the Community ID,
# Zeek's uid and conn_state, and the handshake and close kinds through their
# modules' C entries.  The types themselves are in the generated
# @cython.locals.
from ..model.connection cimport Connection, Endpoint, close_kind, handshake_kind, opened_simultaneously
from ..model.community_id cimport community_id
from ..model.text cimport ip_text
from ..engine.zeek cimport conn_state, uid
from .jsontext cimport LineText, anomaly_list_text, boolean, json_time as _json_time, lit, num, opt_text
