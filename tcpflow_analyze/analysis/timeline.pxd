# C types for analysis/timeline.py (pure-Python mode: timeline.py is the one
# source): the sweep's positions and counts as C integers (the times stay
# Python numbers, as the views print them).
import cython

@cython.locals(ns=Py_ssize_t, ne=Py_ssize_t, i=Py_ssize_t, j=Py_ssize_t, count=Py_ssize_t, peak=Py_ssize_t)
cpdef sweep_sorted(list starts, list stops)
