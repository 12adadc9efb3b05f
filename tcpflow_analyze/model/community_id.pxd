# C types for model/community_id.py (pure-Python mode: community_id.py is the
# one source): a cpdef, so that the compiled connection-line writer
# (views/record_lines.pxd) calls it in C.
cpdef str community_id(a_addr, a_port, b_addr, b_port, proto=*, seed=*)
