"""The ``states`` views as text (ss-like tables, sparklines) and as a plot."""
from __future__ import annotations

from tabulate import tabulate

from ..analysis.timeline import sparkline
from ..model.text import utc_text
from ..views.states import SS_NAMES, STATE_ORDER
from . import figure, fit
from .notices import notice_lines


def _stamp(t: float | None) -> str:
    return utc_text(t, digits=6)


SOCKET_HEADERS = ("State", "Local Address:Port", "Peer Address:Port", "conn")


def render_states_at(view: dict, limit: int | None = None, width: int | None = None) -> str:
    """The ``states_at`` view as ss-like tables, one per host with sockets.

    ``limit`` caps the rows per host (None: all, as ss prints them);
    ``width``: the terminal's (None: none), which a table too wide for
    it fits by putting each socket's peer under its local address.
    """
    when = view["utc"]
    if view["offset"] is not None:
        when += f" (capture {view['offset']:+.6f}s)"
    out = [fit.fill(f"ss -tan at {when}" + ("" if view["in_capture"] else "  [outside the capture]"), width)]
    out += notice_lines(view.get("notices") or [], width)
    if view["totals"]:
        out += fit.pack(_counts(view["totals"]), width, ", ", "all hosts: ", "  ")
    quiet = []
    for h in view["hosts"]:
        if not h["sockets"]:
            quiet.append(h["host"])
            continue
        rows = [(s["ss_state"], s["local"], s["peer"], str(s["connection"] or "")) for s in h["sockets"][:limit]]
        out.append("")
        out += fit.pack(_counts(h["counts"]), width, ", ", f"{h['host']}: ", "  ")
        out.append(_sockets_table(rows, width))
        more = len(h["sockets"]) - len(rows)
        if more > 0:
            out.append(f"… {more:,} more (JSON has them all)")
    if quiet:
        shown = quiet[:8]
        if len(quiet) > 8:
            shown[-1] += f" and {len(quiet) - 8:,} more"
        out.append("")
        out += fit.pack(shown, width, ", ", "no open sockets: ", "  ")
    return "\n".join(out) + "\n"


def _sockets_table(rows, width: int | None) -> str:
    """ss's columns; on a terminal too narrow for them, each socket on two
    lines, its peer under its local address (an address is never cut)."""
    text = tabulate(rows, headers=SOCKET_HEADERS, tablefmt="plain", disable_numparse=True)
    if width is None or fit.widest(text) <= width:
        return text
    stacked = [(state, f"{local}\n  {peer}", conn) for state, local, peer, conn in rows]
    headers = ("State", "Local Address:Port\n  Peer Address:Port", "conn")
    text = tabulate(stacked, headers=headers, tablefmt="plain", disable_numparse=True)
    if fit.widest(text) <= width:
        return text
    text = tabulate([r[:2] for r in stacked], headers=headers[:2], tablefmt="plain", disable_numparse=True)
    return text + "\n" + fit.fill("(narrow terminal: conn left out; --format json has it)", width)


def _counts(counts: dict) -> list[str]:
    return [f"{SS_NAMES[name]} {n:,}" for name, n in counts.items()]


# Sparklines are this wide when nothing asks otherwise (no terminal, no --width),
# and never narrower than MIN_SPARK_WIDTH to fit a terminal: below that they say nothing.
SPARK_WIDTH = 60
MIN_SPARK_WIDTH = 16


def render_timelines(view: dict, width: int | None = None, max_hosts: int | None = 20,
                     columns: int | None = None) -> str:
    """One sparkline per state per host, ``width`` characters of time each
    (default: SPARK_WIDTH, narrower to fit a terminal ``columns`` wide).

    Hosts are listed busiest first (by their peak of open sockets).  All
    states of a host share one scale, its highest peak, so 600 sockets in
    TIME_WAIT dwarf the one in SYN_SENT as they should.
    """
    cap = view["capture"]
    start = cap["start"] if cap["start"] is not None else 0.0
    end = cap["end"] if cap["end"] is not None else start
    span = end - start
    hosts = [h for h in view["hosts"] if h["states"]]
    hosts.sort(key=lambda h: -max(s["peak"] for s in h["states"].values()))
    shown = hosts[:max_hosts]
    label = max([len(n) for h in hosts for n in h["states"]] + [5])
    tails = {(h["host"], name): _tail(s, start) for h in shown for name, s in h["states"].items()}
    if width is None:
        width = SPARK_WIDTH
        if columns is not None:
            # The line is "  LABEL │SPARK│ TAIL": the tail goes under the
            # sparkline when even the narrowest one leaves it no room.
            beside = columns - label - 6 - max(map(len, tails.values()), default=0)
            width = max(MIN_SPARK_WIDTH, min(SPARK_WIDTH, beside if beside >= MIN_SPARK_WIDTH
                                             else columns - label - 5))
    below = columns is not None and label + 6 + width + max(map(len, tails.values()), default=0) > columns
    out = [fit.fill(f"sockets per state over {span:.3f}s ({_stamp(cap['start'])} .. +{span:.3f}s), "
                    f"one column = {span / width if width else 0:.3g}s", columns)]
    out += notice_lines(view.get("notices") or [], columns)
    for h in shown:
        top = max(s["peak"] for s in h["states"].values())
        out.append(f"\n{h['host']} (full block = {top:,})")
        for name, s in h["states"].items():
            line = f"  {name:<{label}} │{sparkline(s['series'], start, end, width, top):<{width}}│"
            tail = tails[(h["host"], name)]
            out += [line, " " * (label + 4) + tail] if below else [f"{line} {tail}"]
    more = len(hosts) - len(shown)
    if more > 0:
        out.append(f"\n(+{more:,} more hosts; JSON has them all)")
    if not hosts:
        out.append("no endpoint was ever open")
    return "\n".join(out) + "\n"


def _tail(s: dict, start: float) -> str:
    """What follows a state's sparkline: its peak and when, its count at the end."""
    peak_at = "" if s["peak_time"] is None else f" at +{s['peak_time'] - start:.3f}s"
    return f"peak {s['peak']:,}{peak_at}, {s['at_end']:,} at end"


def plot_timelines(view: dict, fmt: str = "png", max_hosts: int = 6) -> bytes:
    """The timelines as an image in format ``fmt`` (``figure.format_of``)."""
    return figure.image(timelines_figure(view, max_hosts), fmt)


def timelines_figure(view: dict, max_hosts: int = 6):
    """The timelines as a matplotlib figure: one panel per host (busiest
    first), one step line per state in the state's colour."""
    start = view["capture"]["start"] or 0.0
    end = view["capture"]["end"] or start
    hosts = [h for h in view["hosts"] if h["states"]]
    hosts.sort(key=lambda h: -max(s["peak"] for s in h["states"].values()))
    hosts = hosts[:max_hosts] or [{"host": "no open endpoints", "states": {}}]
    fig, axes = figure.subplots(len(hosts), 2.2 * len(hosts) + 0.9, sharex=True)
    for ax, h in zip(axes[:, 0], hosts):
        for name, s in h["states"].items():
            xs = [t - start for t, _ in s["series"]] + [end - start]
            ys = [n for _, n in s["series"]]
            ax.step(xs, ys + ys[-1:], where="post", label=name, **figure.state_style(name))
        ax.set_title(h["host"], fontsize="small", loc="left")
        ax.set_ylabel("sockets")
        figure.count_axis(ax)
        if h["states"]:
            figure.legend_outside(ax)
    axes[-1, 0].set_xlabel("seconds since the capture's start")
    fig.suptitle(**figure.title("tcpflow-analyze: endpoints per state, " + ", ".join(view["capture"]["files"])))
    return fig


def plot_states_at(view: dict, fmt: str = "png", max_hosts: int = 12) -> bytes:
    """``states --at``'s snapshot as an image in format ``fmt``."""
    return figure.image(states_at_figure(view, max_hosts), fmt)


def states_at_figure(view: dict, max_hosts: int = 12):
    """The sockets per state at one moment, as ``ss -s`` would count them
    per host: a bar per host (the most sockets first), split by state in
    the states' colours."""
    hosts = sorted((h for h in view["hosts"] if h["counts"]), key=lambda h: -sum(h["counts"].values()))
    shown = hosts[:max_hosts]
    fig, axes = figure.subplots(1, 1.2 + 0.45 * max(1, len(shown)))
    ax = axes[0, 0]
    names = [n for n in STATE_ORDER if any(n in h["counts"] for h in shown)]
    lefts = [0] * len(shown)
    ys = list(range(len(shown)))
    for name in names:
        widths = [h["counts"].get(name, 0) for h in shown]
        ax.barh(ys, widths, left=lefts, label=SS_NAMES[name], color=figure.state_style(name)["color"])
        lefts = [a + b for a, b in zip(lefts, widths)]
    for y, total in zip(ys, lefts):
        ax.text(total, y, f" {total:,}", va="center", fontsize="small")
    ax.set_yticks(ys, [h["host"] for h in shown], fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel("sockets")
    figure.count_axis(ax, "x")
    if names:
        figure.legend_outside(ax)
    else:
        ax.text(0.5, 0.5, "no open sockets", transform=ax.transAxes, ha="center", va="center")
    more = len(hosts) - len(shown)
    fig.suptitle(**figure.title(f"tcpflow-analyze: sockets per state at {view['utc']}"
                                + (f" ({more:,} more hosts in the JSON)" if more > 0 else "")))
    return fig
