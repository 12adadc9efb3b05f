"""Which core runs: the Cython-compiled packet path, or the same modules as plain Python.

The modules named in ``COMPILED`` are ordinary ``.py`` files (Cython's
pure-Python mode: their C types sit in the ``.pxd`` files beside them), so one
source serves both builds.  ``setup.py`` compiles exactly this list; a build
without a C compiler installs them as they are.

``TCPFLOW_ANALYZE_PURE=1`` in the environment, at build time, skips the
compilation (``setup.py``); at run time it makes this package import the
``.py`` sources even where compiled modules are installed beside them
(``prefer_pure_sources``), so that one installation can be compared with
itself (tests/test_builds_identical.py) and a suspected compiler bug can be
ruled out without reinstalling.
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

# Dotted names under the package; setup.py reads this list (it cannot import
# the package before it is built, so it parses the literal: keep it one).
COMPILED = (
    "_build_info",
    "capture.windows",
    "decode.tcp",
    "engine.endpoint",
    "engine.history",
    "engine.flowtable",
    "engine.loop",
    "engine.table",
    "engine.timers",
    "engine.zeek",
    "engine.wire",
    "model.community_id",
    "model.sha1",
    "model.connection",
    "model.text",
    "analysis.timeline",
    "analysis.timewait",
    "engine.folding",
    "detectors.accept_queue_overflow",
    "detectors.base",
    "detectors.connection_refused",
    "detectors.half_open",
    "detectors.lingering_close_wait",
    "detectors.port_reuse_in_time_wait",
    "detectors.reset_storm",
    "detectors.rst_on_stale_syn",
    "detectors.scans",
    "detectors.syn_to_time_wait",
    "detectors.syn_unanswered",
    "detectors.time_wait_storm",
    "views.capture",
    "views.jsontext",
    "views.record_lines",
)

PURE_ENV = "TCPFLOW_ANALYZE_PURE"


class _NoCython:
    """``cython`` to a compiled module's source run as plain Python where
    Cython is not installed: ``cython.compiled`` is false, so the branches
    only the compiled build takes (``if cython.compiled:``) never run."""

    compiled = False

    @staticmethod
    def locals(**types):
        """``@cython.locals(...)``: the types are the compiler's; as Python, nothing."""
        return lambda function: function

    @staticmethod
    def no_gc(cls):
        """``@cython.no_gc``: the compiled type is left out of the cyclic GC; as Python, nothing."""
        return cls

    @staticmethod
    def cclass(cls):
        """``@cython.cclass``: an extension type when compiled; as Python, the class."""
        return cls


NO_CYTHON = _NoCython()
_PACKAGE = __name__.rpartition(".")[0]


def pure_requested() -> bool:
    """Whether the environment asks for the pure-Python core ("", "0" do not)."""
    return os.environ.get(PURE_ENV, "") not in ("", "0")


class _PureSourceFinder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules' ``.py`` sources, ahead of the path finder
    (which prefers an extension module where both exist: that order is
    importlib's own, ``EXTENSION_SUFFIXES`` before ``SOURCE_SUFFIXES``)."""

    names = frozenset(f"{_PACKAGE}.{name}" for name in COMPILED)

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.names or not path:
            return None
        leaf = fullname.rpartition(".")[2] + ".py"
        for directory in path:
            source = os.path.join(directory, leaf)
            if os.path.isfile(source):
                return importlib.util.spec_from_file_location(
                    fullname, source, loader=importlib.machinery.SourceFileLoader(fullname, source))
        return None


def prefer_pure_sources() -> None:
    """Import the ``.py`` sources of the compiled modules from now on.  Must run
    before any of them is imported (the package's ``__init__`` calls it)."""
    if not any(isinstance(f, _PureSourceFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _PureSourceFinder())


def compiled_modules() -> list[str]:
    """The modules of ``COMPILED`` that were imported as extension modules."""
    out = []
    for name in COMPILED:
        module = importlib.import_module(f"{_PACKAGE}.{name}")
        if isinstance(getattr(module, "__loader__", None), importlib.machinery.ExtensionFileLoader):
            out.append(name)
    return out


def describe() -> str:
    """What ``--version`` says about the core: "compiled core: cython X.Y.Z",
    "pure Python", or which modules are compiled when only some are (a
    partial build: a compiler that failed on some modules)."""
    done = compiled_modules()
    if not done:
        return "pure Python"
    from ._build_info import CYTHON_VERSION
    version = CYTHON_VERSION or "?"
    if len(done) == len(COMPILED):
        return f"compiled core: cython {version}"
    return f"partly compiled core: cython {version}, {len(done)} of {len(COMPILED)} modules"
