"""tcpflow-analyze: rebuild TCP connections from captures and infer each endpoint's state."""

__version__ = "0.1.0"

from . import _core

if _core.pure_requested():
    # Before any compiled module is imported: TCPFLOW_ANALYZE_PURE=1 runs
    # the .py sources even where the compiled core is installed (_core).
    _core.prefer_pure_sources()
