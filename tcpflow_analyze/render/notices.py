"""The notices (``views.findings``) as the text outputs' top lines.

``analyze`` writes them under its header, the views (``timewait``,
``states``, ``services``, ``ladder``) under their title: each notice's kind,
then its message wrapped to the terminal, its later lines under the first's
text, so the kinds read as a column of labels.
"""
from __future__ import annotations

from ..model.text import printable
from . import fit
from .palette import paint

# As wide as the ``analyze`` header's widest label ("connections"): the
# notices sit under the header, their messages aligned with its values.
LABEL_WIDTH = len("connections")


def notice_lines(notes: list[dict], width: int | None, color: bool = False) -> list[str]:
    """Each notice's lines, fitted to ``width`` (None: one line each)."""
    # A kind longer than the header's labels (capture_loss) widens the
    # column for all the notices, so their messages still align.
    column = max([LABEL_WIDTH] + [len(n["kind"]) for n in notes]) + 2
    out = []
    for n in notes:
        label = paint(n["kind"], "yellow") if color else n["kind"]
        out += fit.wrap(printable(n["message"]), width, label + " " * (column - len(n["kind"])), " " * column)
    return out


def notices_text(notes: list[dict], width: int | None, color: bool = False) -> str:
    """``notice_lines`` as one text, "" without a notice."""
    return "\n".join(notice_lines(notes, width, color))


__all__ = ["LABEL_WIDTH", "notice_lines", "notices_text"]
