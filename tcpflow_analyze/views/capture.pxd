# C types for views/capture.py (pure-Python mode: capture.py is the one
# source).  The walk over every connection a document covers is
# engine.folding.capture_sums, typed in folding.pxd.
cpdef dict capture_counts(conns, dict folded=*)
