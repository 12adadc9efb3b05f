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


# ---------------------------------------------------------------------- the plots' common look
# Socket counts are whole numbers; legends sit right of the axes, where they
# cover no data; a state's line has its colour of render.palette, as in the
# terminal and the HTML report.

def subplots(rows: int, height: float, **kwargs):
    """A figure of ``rows`` panels, one above the other, laid out so that
    legends outside the axes and the title keep their room."""
    return pyplot().subplots(rows, 1, figsize=(11, height), squeeze=False, layout="constrained", **kwargs)


def count_axis(ax, which: str = "y") -> None:
    """``ax``'s ``which`` axis as a count of sockets, drawn from 0: integer
    ticks only (no "2.5 sockets"), which takes a span of at least 1 (over
    nothing but zeros, matplotlib's span is 0.05 and its ticks fractions)."""
    from matplotlib.ticker import MaxNLocator
    axis, limits, set_limits = ((ax.yaxis, ax.get_ylim, ax.set_ylim) if which == "y"
                                else (ax.xaxis, ax.get_xlim, ax.set_xlim))
    set_limits(0, max(1, limits()[1]))
    axis.set_major_locator(MaxNLocator(integer=True))


def legend_outside(ax, **kwargs):
    """``ax``'s legend beside it, on the right: never over the data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small", **kwargs)


def state_style(name: str) -> dict:
    """Line keywords for a state: its palette colour and line style."""
    from .palette import STATE_COLOR, STATE_LINESTYLE
    return {"color": STATE_COLOR.get(name, STATE_COLOR["UNKNOWN"]), "linestyle": STATE_LINESTYLE.get(name, "-")}


# Lines of one state for several hosts or services: the state's colour,
# then these styles, so that the first (the busiest) reads as the state.
SERIES_STYLES = ("-", "--", "-.", ":")


def shades(hex_color: str, n: int) -> list[dict]:
    """``n`` line styles in ``hex_color``'s hue: the colour itself first,
    then lighter and darker shades in other line styles."""
    import colorsys

    from .palette import rgb
    hue, light, sat = colorsys.rgb_to_hls(*rgb(hex_color))
    out = []
    for i in range(n):
        shift = (0, 0.18, -0.15, 0.3, -0.25)[i % 5]
        r, g, b = colorsys.hls_to_rgb(hue, min(0.85, max(0.1, light + shift)), sat)
        out.append({"color": (r, g, b), "linestyle": SERIES_STYLES[i % len(SERIES_STYLES)]})
    return out
