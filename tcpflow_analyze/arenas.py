"""The heap of a run in transparent huge pages (compiled core, Linux).

A run's heap is Python objects: a connection and its endpoints, keys,
histories -- 145 MB for the 2M-packet benchmark capture.  Python's
small-object allocator takes it from the system in 1 MiB arenas, and the
kernel gives each arena 4 KiB at a time, one page fault per page: 46,000
faults, a sixth of the run's time on this machine's virtual CPUs
(bench/README: "twelfth round").  ``huge_page_arenas`` installs an arena
allocator (arenas.pxd) that carves the arenas from 64 MiB chunks marked for
transparent huge pages, where the kernel offers them (``madvise`` mode, the
common default, or ``always``): a fault then maps 2 MiB.  The objects, and
everything the analysis does with them, are the same.  The pure build has
no C to do this with: there it does nothing.
"""
from __future__ import annotations

import os

try:
    import cython
except ImportError:   # the pure-Python build, where Cython need not be installed
    from ._core import NO_CYTHON as cython

ENV = "TCPFLOW_ANALYZE_HUGE_PAGES"


def huge_page_arenas() -> bool:
    """Serve the interpreter's arenas from huge-page chunks from now on (once
    per process; a forked child keeps it).  False where it does not: the
    pure build, a system other than Linux, already done, or turned off by
    ``TCPFLOW_ANALYZE_HUGE_PAGES=0`` (where the kernel would rather compact
    memory for a huge page than give 4 KiB ones: see the README)."""
    if not cython.compiled or os.environ.get(ENV, "") == "0":
        return False
    return tfa_install() == 1


def chunks() -> tuple[int, int, int]:
    """The chunks mapped for arenas so far, how many of them took the
    huge-page advice, and how many of their arenas were given back (0, 0, 0
    in the pure build)."""
    if not cython.compiled:
        return 0, 0, 0
    return tfa_nchunks, tfa_huge_chunks, tfa_given_back
