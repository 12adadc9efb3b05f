"""Builds the compiled core: the modules of ``tcpflow_analyze/_core.py``'s
``COMPILED``, compiled by Cython from their ``.py`` sources and ``.pxd`` types.

Everything else is in pyproject.toml.  Where the core cannot be compiled (no
C compiler, no Python headers, no Cython) the package installs as plain
Python: the same modules, slower, with one warning line.
``TCPFLOW_ANALYZE_PURE=1`` skips the compilation on purpose.
"""
from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
PURE_ENV = "TCPFLOW_ANALYZE_PURE"


def compiled_modules() -> list[str]:
    # The list lives in the package (which reports at run time what is
    # compiled); parsed, not imported: the package may not import yet.
    tree = ast.parse((HERE / "tcpflow_analyze" / "_core.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "COMPILED" for t in node.targets):
            return [f"tcpflow_analyze.{name}" for name in ast.literal_eval(node.value)]
    raise RuntimeError("tcpflow_analyze/_core.py has no COMPILED list")


def warn(message: str) -> None:
    # stderr, one line: pip shows it with -v, and a build log always.
    print(f"WARNING: tcpflow-analyze: {message}; installing the pure-Python core "
          f"(same results, about 2x slower)", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """build_ext where a module that does not compile stays pure Python.

    Each extension is tried on its own (a failure leaves its ``.py``, which
    is installed anyway); the failures are summed up in one warning line at
    the end, not one per module: without a compiler every module fails the
    same way."""

    def finalize_options(self):
        super().finalize_options()
        # The modules compile in parallel (pip gives no -j): gcc takes ~10 s
        # a module on the packet loop's size, minutes for them all serially.
        if not self.parallel:
            self.parallel = os.cpu_count() or 1

    def run(self):
        self.failed = []
        try:
            super().run()
        except Exception as exc:  # no compiler at all: build_ext gives up before any module
            self.failed = [ext.name for ext in self.extensions]
            self.reason = _reason(exc)
        if self.failed:
            warn(f"could not compile {len(self.failed)} of {len(self.extensions)} modules "
                 f"({self.reason})")

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:  # its .py stays: that module runs as Python
            self.failed.append(ext.name)
            self.reason = _reason(exc)


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}"[:160]


def extensions():
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        print(f"tcpflow-analyze: {PURE_ENV} is set: the pure-Python core, not compiled", file=sys.stderr)
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        warn("Cython is not installed (pip install 'Cython>=3', or build with build isolation)")
        return []
    exts = [_extension(name) for name in compiled_modules()]
    return cythonize(
        exts,
        # The generated C goes to build/, not beside the sources.
        build_dir="build/cython",
        quiet=True,
        compiler_directives={
            "language_level": 3,
            # Types come from the .pxd files only: a Python annotation such as
            # ``ts: float`` would otherwise become a C double and turn an int
            # passed in into a float, and the reports would differ between
            # the builds.
            "annotation_typing": False,
            # The modules' semantics stay Python's (the pure build is the
            # reference): negative indexes, ZeroDivisionError, no silent
            # wraparound -- the speed comes from the types, not from these.
            "boundscheck": True,
            "wraparound": True,
            "cdivision": False,
            # ``if cython.compiled: ... else: ...`` leaves the else unreachable
            # in the compiled build, by design.
            "warn.unreachable": False,
        },
    )


def _extension(name: str):
    from setuptools import Extension
    # No floating-point contraction: a fused multiply-add (the default on
    # aarch64, and on x86-64 with -march=native) rounds a timestamp's
    # sec + frac * scale once instead of twice, and the compiled core's
    # timestamps would differ from the pure one's in the last bit.
    return Extension(name, [name.replace(".", "/") + ".py"], extra_compile_args=["-ffp-contract=off"])


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
