# C types for views/jsontext.py (pure-Python mode: jsontext.py is the one
# source).  The generated connection-line writer (record_lines.pxd) cimports
# these: a C call each, not a Python one.  json_time writes a time to the
# microsecond with integer arithmetic (_micro_text: 128-bit, as GCC and Clang
# have it on 64-bit targets; where a compiler lacks it this module fails to
# build and runs as Python, setup.py's fallback).
import cython
from libc.math cimport frexp

cdef list MICRO_TEXTS

cdef extern from *:
    ctypedef unsigned long long u128 "unsigned __int128"

@cython.locals(d=double)
cpdef str json_time(t)

@cython.locals(m=double, e=int, big=u128, k=int, q=u128, rest=u128, half=u128)
cdef u128 _micros(double d) noexcept

@cython.locals(q=u128, whole="unsigned long long", micros="unsigned long long", scale="unsigned long long",
               n=int, start=int, text="char[32]")
cdef str _micro_text(double d)

cpdef str opt_text(value)

cpdef str anomaly_list_text(types)
