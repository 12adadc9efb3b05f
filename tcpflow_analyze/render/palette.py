"""The colours of TCP states and anomaly severities: one table per medium.

The terminal's (ANSI styles: the report table and the ladder diagram) and
the HTML page's (hex: its tables, timelines and ladders) say the same thing
each with its own means: opening states blue-ish, ESTABLISHED green, closing
states amber, CLOSE_WAIT (where a leak leaves sockets) set apart, TIME_WAIT
apart again (it lingers by design), CLOSED and UNKNOWN faint; critical red,
warning amber, info blue.  A terminal has eight colours: there the opening
states are cyan, CLOSE_WAIT magenta (clear of the closing states' yellow and
of critical's red) and TIME_WAIT blue.
"""
from __future__ import annotations

# ---------------------------------------------------------------------- terminal
# ANSI SGR codes of the style names below.
SGR = {
    "bold": "1", "dim": "2",
    "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36",
    "bold red": "1;31",
}

TERMINAL_STATE = {
    "LISTEN": "cyan", "SYN_SENT": "cyan", "SYN_RECEIVED": "cyan",
    "ESTABLISHED": "green",
    "FIN_WAIT_1": "yellow", "FIN_WAIT_2": "yellow", "CLOSING": "yellow", "LAST_ACK": "yellow",
    "CLOSE_WAIT": "magenta",
    "TIME_WAIT": "blue",
    "CLOSED": "dim", "UNKNOWN": "dim",
}
TERMINAL_SEVERITY = {"critical": "bold red", "warning": "yellow", "info": "blue"}


def paint(text: str, style: str | None) -> str:
    """``text`` in the terminal style ``style`` (a name of SGR); unchanged
    for no style."""
    if not style:
        return text
    return f"\x1b[{SGR[style]}m{text}\x1b[0m"


# ---------------------------------------------------------------------- HTML
HTML_STATE = {
    "LISTEN": "#4c78a8", "SYN_SENT": "#72b7b2", "SYN_RECEIVED": "#4c78a8", "ESTABLISHED": "#2e9e44",
    "FIN_WAIT_1": "#e0a526", "FIN_WAIT_2": "#d9822b", "CLOSE_WAIT": "#d1495b", "CLOSING": "#b07aa1",
    "LAST_ACK": "#c76b29", "TIME_WAIT": "#7b4fa0", "CLOSED": "#7f7f7f", "UNKNOWN": "#aaaaaa",
}
HTML_SEVERITY = {"critical": "#c0392b", "warning": "#d68910", "info": "#2874a6"}
# The HTML page's own colours (render.html's style sheet): text, rules and
# bands in greys that keep the state and severity colours the only hues on
# the page, links, and the tints marking a flagged row or a notice.
HTML_PAGE = {
    "fg": "#1d232a", "muted": "#5f6b77", "faint": "#9aa5b1", "line": "#d8dee4", "bg": "#ffffff",
    "band": "#f6f8fa", "head": "#eef1f4", "link": "#0b57d0", "ok": "#2e9e44", "segment": "#34495e",
    "ignored": "#8e44ad", "flagged": "#fff6e5", "warn-band": "#fff4e0",
}
