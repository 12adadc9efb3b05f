# C types for decode/tcp.py (pure-Python mode: tcp.py is the one source).
# window_scale runs once per SYN: its option walk in C integers, over the
# packet's bytes as a typed buffer (the record walk hands it its window's;
# decode_tcp's bytes become one per call).
import cython

# The option kinds it compares each byte with: C values (a Python constant
# would box the byte for each comparison).
cdef long TCPOPT_EOL, TCPOPT_NOP, TCPOPT_WSCALE

@cython.locals(pos=Py_ssize_t, kind=long, length=long)
cpdef window_scale(const unsigned char[:] buf, Py_ssize_t start, Py_ssize_t end)
