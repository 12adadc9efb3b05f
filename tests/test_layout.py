"""The package's layers import only downward, as the data flows.

capture reading -> decoding -> the engine -> the analysis -> the anomaly
detectors -> documents (views) -> renderers -> process tricks and output ->
the CLI.  A module may import its own layer and the ones before it; an
import the other way is named here (README, "Layout").
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tcpflow_analyze"

LAYERS = (
    # The vocabulary everyone shares; how a forked child behaves; which core
    # runs (_core, _build_info: compiled or pure, settled by __init__ before
    # anything else is imported, so _core names the compiled modules only as
    # dotted strings).
    {"__init__", "errors", "model", "children", "_core", "_build_info"},
    {"capture"},
    {"decode"},
    {"engine"},
    {"analysis"},
    {"detectors"},
    {"views"},
    {"render"},
    {"runtime", "output", "progress"},
    {"cli", "__main__"},
)


def layer_of(module: str) -> int:
    """``module``: a dotted name inside the package (``engine.table``)."""
    top = module.split(".")[0] or "__init__"
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"tcpflow_analyze.{module} is in no layer: add it to tests/test_layout.py's LAYERS")


def package_imports(path: Path):
    """(line, imported module inside the package) for every import of ``path``,
    at any depth (lazy imports in functions count too)."""
    here = path.relative_to(PACKAGE).with_suffix("").parts
    package = list(here[:-1]) if here[-1] != "__init__" else list(here[:-1])
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                target = base + (node.module.split(".") if node.module else [])
                names = [target + [a.name] for a in node.names] if not node.module else [target]
            elif node.module and node.module.split(".")[0] == "tcpflow_analyze":
                names = [node.module.split(".")[1:]]
            else:
                continue
            for parts in names:
                # "from . import detectors" names a module; "from .x import y" names x.
                if parts and (PACKAGE.joinpath(*parts).is_dir() or PACKAGE.joinpath(*parts).with_suffix(".py").exists()):
                    yield node.lineno, ".".join(parts)
                elif parts[:-1]:
                    yield node.lineno, ".".join(parts[:-1])
                else:
                    yield node.lineno, "__init__"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "tcpflow_analyze":
                    yield node.lineno, ".".join(parts[1:]) or "__init__"


def test_every_import_runs_with_the_flow():
    against = []
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 40
    for path in files:
        me = ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
        for line, target in package_imports(path):
            if layer_of(target) > layer_of(me):
                against.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {me} imports {target}")
    assert not against, "imports against the flow:\n" + "\n".join(against)


def test_the_checker_sees_an_import_against_the_flow(tmp_path, monkeypatch):
    # The walk above must be able to fail: an engine module importing a renderer.
    fake = tmp_path / "tcpflow_analyze"
    (fake / "engine").mkdir(parents=True)
    (fake / "render").mkdir()
    (fake / "render" / "table.py").write_text("")
    (fake / "engine" / "x.py").write_text("from ..render.table import render\nfrom ..model import text\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", fake)
    found = [(me, target) for me, target in
             (("engine.x", t) for _, t in package_imports(fake / "engine" / "x.py"))]
    assert ("engine.x", "render.table") in found
    assert layer_of("render.table") > layer_of("engine.x")
