# C types for decode/tcp.py (pure-Python mode: tcp.py is the one source).
# window_scale runs once per SYN: its option walk in C integers.
import cython

@cython.locals(pos=Py_ssize_t, kind=long, length=long)
cpdef window_scale(buf, Py_ssize_t start, Py_ssize_t end)
