"""Plots (``--plot FILE``): matplotlib figures saved in the format the file
name's extension names, to exactly that name, as ``output`` writes reports.

matplotlib is the 'plot' extra: everything here imports it when called, and
an ImportError means it is not installed.
"""
from __future__ import annotations

import io
import os

from ..model.text import printable
from ..output import write_bytes


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


def save(fig, path: str) -> None:
    """Draw ``fig`` into ``path``, in the format its extension names."""
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format=format_of(path), dpi=100)
    finally:
        pyplot().close(fig)
    write_bytes(buf.getvalue(), path)
