# C types for views/jsontext.py (pure-Python mode: jsontext.py is the one
# source).  The generated connection-line writer (record_lines.pxd) cimports
# these: a C call each, not a Python one.  json_time formats with the C
# function Python's "%.6f" uses.
import cython
from cpython.conversion cimport PyOS_double_to_string
from cpython.mem cimport PyMem_Free
from libc.string cimport strlen

@cython.locals(d=double, digits="char *", n=Py_ssize_t)
cpdef str json_time(t)

cpdef str opt_text(value)

cpdef str anomaly_list_text(types)
