"""Views people would rather look at than tables.

* ``ladder``: the textbook sequence diagram of one connection, each side's
  state written beside the segments that moved it;
* ``states``: what ``ss -tan`` would have shown at any moment of the capture,
  and each host's sockets per state over time.

Library functions: the CLI and the HTML report (``report/html.py``) call them.
"""
from .ladder import Ladder, ladder_json, record_ladder, record_ladders, render_ladder
from .states import parse_time, plot_timelines, render_states_at, render_timelines, state_timelines, states_at

__all__ = ["Ladder", "ladder_json", "parse_time", "plot_timelines", "record_ladder", "record_ladders",
           "render_ladder", "render_states_at", "render_timelines", "state_timelines", "states_at"]
