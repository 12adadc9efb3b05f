"""Text that fits a terminal: words wrapped, numbers never split.

A reader copies ids, addresses and ports out of the text (into ``--conn``,
``ss``, a firewall rule): a port cut in two is a wrong port.  So lines break
only at blanks (or between the items of a list); a word longer than the line
stays whole and overflows it, the one case a line may be wider than asked.
``width`` None means no terminal (a file or a pipe): nothing is wrapped.
Colour codes take no width.
"""
from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def visible_len(text: str) -> int:
    """The width of ``text`` on a terminal: colour codes take none."""
    return len(_ANSI.sub("", text))


def widest(text: str) -> int:
    """The visible width of ``text``'s widest line."""
    return max(map(visible_len, text.split("\n")), default=0)


def pack(items, width: int | None, sep: str = " ", indent: str = "", subsequent_indent: str = "") -> list[str]:
    """``items`` joined by ``sep`` into lines of at most ``width`` columns,
    breaking only between items (``sep``'s trailing blanks dropped at a
    break); an item is never split."""
    items = list(items)
    if width is None:
        return [indent + sep.join(items)]
    lines, line, prefix = [], "", indent
    tail = sep.rstrip()
    for i, item in enumerate(items):
        # An item that is not the last carries the separator's mark (", ").
        mark = tail if i < len(items) - 1 else ""
        if line and visible_len(prefix + line + sep + item + mark) > width:
            lines.append(prefix + line + tail)
            line, prefix = item, subsequent_indent
        else:
            line = line + sep + item if line else item
    lines.append(prefix + line)
    return lines


def wrap(text: str, width: int | None, indent: str = "", subsequent_indent: str = "") -> list[str]:
    """``text``'s words in lines of at most ``width`` columns; each of its
    own lines is wrapped on its own (the first gets ``indent``, every later
    one ``subsequent_indent``)."""
    out = []
    for i, line in enumerate(text.split("\n")):
        first = indent if i == 0 else subsequent_indent
        out += pack(line.split(), width, " ", first, subsequent_indent) if line.strip() else [""]
    return out


def fill(text: str, width: int | None, indent: str = "", subsequent_indent: str = "") -> str:
    """``wrap``'s lines as one text."""
    return "\n".join(wrap(text, width, indent, subsequent_indent))


def columns_to_drop(widths: list[int], width: int | None, order, gap: int = 2) -> list[int]:
    """Which columns (indexes into ``widths``) to leave out, in ``order``
    (the least needed first), until the rest, ``gap`` apart, fit in
    ``width``; as few as that takes, possibly all of ``order``."""
    if width is None:
        return []
    left = list(range(len(widths)))
    dropped = []
    for i in order:
        if sum(widths[j] for j in left) + gap * (len(left) - 1) <= width:
            break
        left.remove(i)
        dropped.append(i)
    return dropped


def fits(widths: list[int], width: int | None, gap: int = 2) -> bool:
    """Whether columns this wide, ``gap`` apart, fit in ``width``."""
    return width is None or sum(widths) + gap * (len(widths) - 1) <= width


def room(widths: list[int], width: int | None, gap: int = 2, minimum: int = 20) -> int | None:
    """The width left for one more column (prose, to be wrapped) beside
    columns this wide, at least ``minimum``; None without a terminal."""
    if width is None:
        return None
    return max(minimum, width - sum(widths) - gap * len(widths))
