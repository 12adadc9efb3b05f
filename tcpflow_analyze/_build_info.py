"""Compiled with the rest of the core (``_core.COMPILED``), so that the
version of Cython that built it is known at run time without Cython being
installed: Cython replaces ``cython.__version__`` by a constant when it
compiles this module.  As plain Python it says None."""
try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    CYTHON_VERSION = None
else:
    CYTHON_VERSION = cython.__version__ if cython.compiled else None
