# C types for views/jsontext.py (pure-Python mode: jsontext.py is the one
# source).  The generated connection-line writer (record_lines.pxd) cimports
# these: a C call each, not a Python one.  json_time writes a time to the
# microsecond with integer arithmetic (_micro_text: 128-bit, as GCC and Clang
# have it on 64-bit targets; where a compiler lacks it this module fails to
# build and runs as Python, setup.py's fallback).
import cython
from libc.math cimport frexp
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, _PyBytes_Resize
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from libc.string cimport memcpy

cdef extern from "Python.h":
    const char *PyUnicode_AsUTF8AndSize(object text, Py_ssize_t *size) except NULL

from ..model.text cimport ip_text, v4_chars

cdef list MICRO_TEXTS

cdef extern from *:
    ctypedef unsigned long long u128 "unsigned __int128"

@cython.locals(d=double)
cpdef str json_time(t)

@cython.locals(m=double, e=int, big=u128, k=int, q=u128, rest=u128, half=u128)
cdef u128 _micros(double d) noexcept

@cython.locals(x=double, diff=double, q="unsigned long long", whole="unsigned long long",
               micros="unsigned long long", n=int, i=int)
cdef int _micro_chars(double d, char *out) noexcept

cdef inline bint _micro_range(double d) noexcept


@cython.locals(n=int, text="char[32]")
cdef str _micro_text(double d)

cpdef str opt_text(value)

cpdef str anomaly_list_text(types)

# The compiled line writer's buffer (jsontext.py says why).  Final, its
# methods inline: each of a line's writes is a few C statements in place.
@cython.final
cdef class LineText:
    cdef str sep
    cdef bint first
    cdef readonly Py_ssize_t n, chunk
    cdef Py_ssize_t cap
    cdef char *buf
    cdef bytes text_obj
    cdef object last_types
    cdef str last_names

    cdef int _fresh(self) except -1
    @cython.locals(p="PyObject *")
    cdef int _resize(self, Py_ssize_t size) except -1
    cdef int _room(self, Py_ssize_t need) except -1
    cdef inline int line(self) except -1
    @cython.locals(n=Py_ssize_t, p="const char *")
    cdef inline int text(self, str s) except -1
    cdef inline int quoted(self, str s) except -1
    cdef inline int address(self, bytes addr) except -1
    cdef inline int opt_text(self, value) except -1
    cdef inline int time(self, double d) except -1
    cdef inline int opt_time(self, t) except -1
    cdef inline int names(self, types) except -1
    cpdef bytes take(self)


# The writes the generated line writer makes most (record_lines.pxd cimports
# them): defined here, so that they are compiled into that module.  As
# LineText methods they were calls through the class's table from another
# module, and each literal a strlen (45 literals and 15 integers a line).
cdef inline int lit(LineText out, const char *s, Py_ssize_t n) except -1:
    """The ``n`` bytes at ``s`` (the generated writer gives each literal's length)."""
    if out.n + n > out.cap:
        out._room(n)
    memcpy(out.buf + out.n, s, n)
    out.n += n
    return 0


cdef inline int quoted_at(LineText out, Py_ssize_t n) except -1:
    """The ``n`` characters written one past the end of ``out`` (room for
    them and two quotes made by the caller) taken in, in quotes."""
    out.buf[out.n] = 34   # '"'
    out.buf[out.n + 1 + n] = 34
    out.n += n + 2
    return 0


cdef inline int boolean(LineText out, bint value) except -1:
    return lit(out, b"true", 4) if value else lit(out, b"false", 5)


cdef inline int num(LineText out, long long v) except -1:
    """An integer's decimal digits."""
    cdef unsigned long long u = <unsigned long long>v
    if out.n + 21 > out.cap:
        out._room(21)
    if v < 0:
        out.buf[out.n] = 45   # "-"
        out.n += 1
        u = <unsigned long long>0 - u
    out.n += _decimal(u, out.buf + out.n)
    return 0


cdef inline int _decimal(unsigned long long u, char *out) noexcept:
    """The decimal digits of ``u`` written at ``out`` (20 at most); their count."""
    cdef char digits[20]
    cdef int k = 20
    while True:
        k -= 1
        digits[k] = 48 + u % 10
        u //= 10
        if u == 0:
            break
    memcpy(out, &digits[k], 20 - k)
    return 20 - k
