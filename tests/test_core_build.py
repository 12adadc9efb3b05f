"""The compiled core and its pure-Python fallback: how each is built, and
that ``--version`` says which one runs (issue #14)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import ROOT

from tcpflow_analyze import _core

PURE = {**os.environ, _core.PURE_ENV: "1"}


def version(env=None, cwd=None) -> str:
    proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "--version"], capture_output=True, text=True,
                          env=env, cwd=cwd, check=True)
    return proc.stdout.strip()


def test_version_names_the_core_that_runs():
    compiled = _core.compiled_modules()
    said = version()
    assert said.startswith("tcpflow-analyze, version 0.1.0 (")
    if not compiled:
        assert said.endswith("(pure Python)")
    elif len(compiled) == len(_core.COMPILED):
        from tcpflow_analyze._build_info import CYTHON_VERSION
        assert CYTHON_VERSION and said.endswith(f"(compiled core: cython {CYTHON_VERSION})")
    else:
        assert f"{len(compiled)} of {len(_core.COMPILED)} modules" in said


def test_pure_env_imports_the_sources_even_where_compiled():
    # The differential tests rest on this: one installation, both cores.
    assert version(PURE).endswith("(pure Python)")
    code = ("import tcpflow_analyze.engine.loop as m, tcpflow_analyze._core as c; "
            "print(m.__file__); print(c.compiled_modules())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=PURE,
                         check=True).stdout.split("\n")
    assert out[0].endswith("loop.py") and out[1] == "[]"


def test_pure_sources_run_without_cython_installed():
    # Cython is a build dependency only: the sources' ``if cython.compiled:``
    # branches must find a stand-in (``_core.NO_CYTHON``) where it is absent.
    code = ("import sys; sys.modules['cython'] = sys.modules['Cython'] = None\n"
            "from tcpflow_analyze.cli import main\n"
            "main(['analyze', sys.argv[1], '--format', 'csv', '--jobs', '1'])")
    sample = str(ROOT / "sample_pcaps" / "client_close_first.pcap")
    res = subprocess.run([sys.executable, "-c", code, sample], capture_output=True, text=True, env=PURE)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.count("\n") >= 2 and "Traceback" not in res.stderr


def test_every_compiled_module_has_its_source_and_types():
    # One source of truth: each compiled module is a .py (the fallback), its
    # C types beside it in a .pxd, never a .pyx of its own.
    for name in _core.COMPILED:
        path = ROOT / "tcpflow_analyze" / Path(*name.split("."))
        assert path.with_suffix(".py").is_file(), name
        assert not path.with_suffix(".pyx").exists(), name


needs_build_tools = pytest.mark.skipif(
    shutil.which("gcc") is None and shutil.which("cc") is None, reason="no C toolchain to fail over from")


def _build_wheel(tmp_path, env) -> subprocess.CompletedProcess:
    # A copy of the sources without build products, as a fresh clone has:
    # an in-place build's .so files must not slip into the wheel.
    src = tmp_path / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "bench", "tests", "sample_pcaps", "docs", "*.so", "*.c", "__pycache__",
        "*.egg-info"))
    # No build isolation: the test must not need the network; the installed
    # setuptools and Cython are what isolation would fetch.
    return subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                           "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, env=env,
                          timeout=240)


@needs_build_tools
def test_without_a_compiler_the_wheel_is_pure_python_with_one_warning(tmp_path):
    pytest.importorskip("Cython")
    env = {**os.environ, "CC": "/bin/false", "LDSHARED": "/bin/false"}
    env.pop(_core.PURE_ENV, None)
    proc = _build_wheel(tmp_path, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    warnings = [line for line in log.splitlines() if "WARNING: tcpflow-analyze:" in line]
    assert len(warnings) == 1, warnings
    assert f"could not compile {len(_core.COMPILED)} of {len(_core.COMPILED)} modules" in warnings[0]
    wheel, = (tmp_path / "dist").glob("tcpflow_analyze-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.endswith(".so")]
    assert "tcpflow_analyze/engine/loop.py" in names
    # Installed on its own (a target dir first on the path), it runs, pure.
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True)
    env = {**env, "PYTHONPATH": str(target)}
    # (cwd away from the source tree, which "-m" would put first on the path)
    assert version(env, cwd=tmp_path).endswith("(pure Python)")
    sample = str(ROOT / "sample_pcaps" / "client_close_first.pcap")
    proc = subprocess.run([sys.executable, "-m", "tcpflow_analyze", "analyze", "--format", "json", sample],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0 and '"TIME_WAIT"' in proc.stdout, proc.stderr


def test_pure_env_skips_the_compilation(tmp_path):
    pytest.importorskip("Cython")
    env = {**os.environ, _core.PURE_ENV: "1"}
    proc = _build_wheel(tmp_path, env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert f"{_core.PURE_ENV} is set" in log
    assert "WARNING: tcpflow-analyze:" not in log
    wheel, = (tmp_path / "dist").glob("tcpflow_analyze-*.whl")
    assert not [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".so")]


def test_a_build_older_than_its_source_is_named(tmp_path):
    # conftest refuses to run the suite on it: Python would import the stale
    # extension module, not the edited source.
    from conftest import stale_compiled_modules
    engine = tmp_path / "tcpflow_analyze" / "engine"
    engine.mkdir(parents=True)
    built = engine / "table.cpython-311-x86_64-linux-gnu.so"
    for path in (built, engine / "table.py", engine / "table.pxd", engine / "loop.py"):
        path.write_text("")
    os.utime(built, (1_000, 1_000))
    assert stale_compiled_modules(tmp_path) == ["engine.table"]
    os.utime(built, None)
    assert stale_compiled_modules(tmp_path) == []
