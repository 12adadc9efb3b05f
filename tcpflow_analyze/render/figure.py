"""Plots (``--plot FILE``): matplotlib figures as image bytes, in the format
the file name's extension names; the CLI writes them as it writes reports
(``output.write_bytes``), to exactly that name.

matplotlib is the 'plot' extra: everything here imports it when called, and
an ImportError means it is not installed.
"""
from __future__ import annotations

import io
import os

from ..model.text import printable


def formats() -> list[str]:
    """The extensions matplotlib can write (png, svg, pdf, ...)."""
    from matplotlib.backend_bases import FigureCanvasBase
    return sorted(FigureCanvasBase.get_supported_filetypes())


def format_of(path: str) -> str:
    """The format ``path``'s extension names; ValueError if none does.
    Never matplotlib's default: given no extension, savefig would write
    ``path + ".png"`` instead of ``path``."""
    ext = os.path.splitext(path)[1][1:].lower()
    known = formats()
    if ext not in known:
        given = f"'.{printable(ext)}' is not an image format matplotlib writes" if ext else "no extension"
        raise ValueError(f"{printable(path)}: {given}; end the name in one of: "
                         f"{', '.join('.' + k for k in known)}")
    return ext


def pyplot():
    """matplotlib.pyplot, drawing off screen (the Agg canvas: no display)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def title(text: str) -> dict:
    """Keyword arguments for a title holding file names: no control
    characters, and no mathtext, which would parse "$...$" in a name (and
    raise ValueError on a bad one)."""
    return {"t": printable(text), "parse_math": False}


def image(fig, fmt: str) -> bytes:
    """``fig`` drawn as an image in format ``fmt`` (``format_of``); the
    figure is closed (pyplot keeps every figure it made until then)."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=fmt, dpi=100)
    finally:
        pyplot().close(fig)
    return buf.getvalue()
