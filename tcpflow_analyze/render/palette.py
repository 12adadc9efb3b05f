"""The colours of TCP states and anomaly severities: one palette, every medium.

A state has one colour wherever a person meets it, so that TIME_WAIT seen
amber in the terminal is not looked for in amber on the HTML page or the
plot.  The hex colours below are that palette (the HTML page and the
matplotlib plots use them as they are); the terminal, which has eight
colours, shows each in the ANSI colour nearest its hue (``ansi_of``).

What the colours say: opening states cyan, ESTABLISHED green, the closing
states amber, CLOSE_WAIT (where a leak leaves sockets) magenta, set apart
from the closing states and from critical's red, TIME_WAIT blue (it lingers
by design), CLOSED and UNKNOWN grey; critical red, warning amber, info blue.
Shades within a group differ in lightness, so that lines of one group stay
apart on a plot; all are dark enough to read as text on a white page.
"""
from __future__ import annotations

import colorsys

STATE_COLOR = {
    "LISTEN": "#1f8fa3", "SYN_SENT": "#17a9b8", "SYN_RECEIVED": "#0b6e7a",
    "ESTABLISHED": "#2e9e44",
    "FIN_WAIT_1": "#d4a017", "FIN_WAIT_2": "#a87a06", "CLOSING": "#cc8800", "LAST_ACK": "#7d6000",
    "CLOSE_WAIT": "#c2378f",
    "TIME_WAIT": "#3b5bdb",
    "CLOSED": "#7f7f7f", "UNKNOWN": "#aaaaaa",
}
SEVERITY_COLOR = {"critical": "#c0392b", "warning": "#d68910", "info": "#2f5fbf"}

# On a plot, states of one group also differ in line style: their shades
# alone are hard to tell apart in a thin line.
STATE_LINESTYLE = {"SYN_RECEIVED": "--", "FIN_WAIT_2": "--", "CLOSING": ":", "LAST_ACK": "-.", "UNKNOWN": ":"}

# ---------------------------------------------------------------------- terminal
# ANSI SGR codes of the style names below.
SGR = {
    "bold": "1", "dim": "2",
    "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36",
    "bold red": "1;31",
}

# The hues of the terminal's six colours (of the HSV wheel, in degrees).
_ANSI_HUE = {"red": 0, "yellow": 60, "green": 120, "cyan": 180, "blue": 240, "magenta": 300}


def rgb(hex_color: str) -> tuple[float, float, float]:
    """``#rrggbb`` as red, green and blue in 0..1."""
    h = hex_color.lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))


def ansi_of(hex_color: str) -> str:
    """The terminal colour nearest ``hex_color``'s hue; ``dim`` for a grey
    (a colour with too little saturation to have a hue a reader would name)."""
    hue, saturation, _ = colorsys.rgb_to_hsv(*rgb(hex_color))
    if saturation < 0.25:
        return "dim"
    degrees = hue * 360
    return min(_ANSI_HUE, key=lambda name: min(abs(degrees - _ANSI_HUE[name]), 360 - abs(degrees - _ANSI_HUE[name])))


TERMINAL_STATE = {name: ansi_of(color) for name, color in STATE_COLOR.items()}
# Critical is bold too: on a terminal, red alone does not stand out from the rows around it.
TERMINAL_SEVERITY = {sev: ("bold " if sev == "critical" else "") + ansi_of(color)
                     for sev, color in SEVERITY_COLOR.items()}


def paint(text: str, style: str | None) -> str:
    """``text`` in the terminal style ``style`` (a name of SGR); unchanged
    for no style."""
    if not style:
        return text
    return f"\x1b[{SGR[style]}m{text}\x1b[0m"


# ---------------------------------------------------------------------- HTML
HTML_STATE = STATE_COLOR
HTML_SEVERITY = SEVERITY_COLOR
# The HTML page's own colours (render.html's style sheet): text, rules and
# bands in greys that keep the state and severity colours the only hues on
# the page, links, and the tints marking a flagged row or a notice.
HTML_PAGE = {
    "fg": "#1d232a", "muted": "#5f6b77", "faint": "#9aa5b1", "line": "#d8dee4", "bg": "#ffffff",
    "band": "#f6f8fa", "head": "#eef1f4", "link": "#0b57d0", "ok": "#2e9e44", "segment": "#34495e",
    "ignored": "#8e44ad", "flagged": "#fff6e5", "warn-band": "#fff4e0",
}
