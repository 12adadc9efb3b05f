# C types for views/record_lines.py (generated from views/record.py; this
# file is not): the connection and its endpoints as the extension types of
# model/connection.pxd, so that the line's getters read their fields at a
# fixed offset; the value texts through jsontext's C entries.  The types
# themselves are in the generated @cython.locals.
from ..model.connection cimport Connection, Endpoint
from .jsontext cimport anomaly_list_text, json_time as _json_time, opt_text
