"""The ``states`` views as text (ss-like tables, sparklines) and as a plot."""
from __future__ import annotations

from tabulate import tabulate

from ..analysis.timeline import sparkline
from ..model.text import utc_text
from ..views.states import SS_NAMES
from . import figure


def _stamp(t: float | None) -> str:
    return utc_text(t, digits=6)


def render_states_at(view: dict, limit: int | None = None) -> str:
    """The ``states_at`` view as ss-like tables, one per host with sockets.

    ``limit`` caps the rows per host (None: all, as ss prints them).
    """
    when = view["utc"]
    if view["offset"] is not None:
        when += f" (capture {view['offset']:+.6f}s)"
    out = [f"ss -tan at {when}" + ("" if view["in_capture"] else "  [outside the capture]")]
    if view["totals"]:
        out.append("all hosts: " + _counts_text(view["totals"]))
    quiet = []
    for h in view["hosts"]:
        if not h["sockets"]:
            quiet.append(h["host"])
            continue
        rows = [(s["ss_state"], s["local"], s["peer"], s["connection"] or "")
                for s in h["sockets"][:limit]]
        out.append(f"\n{h['host']}: {_counts_text(h['counts'])}")
        out.append(tabulate(rows, headers=("State", "Local Address:Port", "Peer Address:Port", "conn"),
                            tablefmt="plain", disable_numparse=True))
        more = len(h["sockets"]) - len(rows)
        if more > 0:
            out.append(f"… {more:,} more (JSON has them all)")
    if quiet:
        shown = ", ".join(quiet[:8]) + (f" and {len(quiet) - 8:,} more" if len(quiet) > 8 else "")
        out.append(f"\nno open sockets: {shown}")
    return "\n".join(out) + "\n"


def _counts_text(counts: dict) -> str:
    return ", ".join(f"{SS_NAMES[name]} {n:,}" for name, n in counts.items())


def render_timelines(view: dict, width: int = 60, max_hosts: int | None = 20) -> str:
    """One sparkline per state per host, ``width`` characters of time each.

    Hosts are listed busiest first (by their peak of open sockets).  All
    states of a host share one scale, its highest peak, so 600 sockets in
    TIME_WAIT dwarf the one in SYN_SENT as they should.
    """
    cap = view["capture"]
    start = cap["start"] if cap["start"] is not None else 0.0
    end = cap["end"] if cap["end"] is not None else start
    span = end - start
    out = [f"sockets per state over {span:.3f}s ({_stamp(cap['start'])} .. +{span:.3f}s), "
           f"one column = {span / width if width else 0:.3g}s"]
    hosts = [h for h in view["hosts"] if h["states"]]
    hosts.sort(key=lambda h: -max(s["peak"] for s in h["states"].values()))
    label = max([len(n) for h in hosts for n in h["states"]] + [5])
    for h in hosts[:max_hosts]:
        top = max(s["peak"] for s in h["states"].values())
        out.append(f"\n{h['host']} (full block = {top:,})")
        for name, s in h["states"].items():
            line = sparkline(s["series"], start, end, width, top)
            peak_at = "" if s["peak_time"] is None else f" at +{s['peak_time'] - start:.3f}s"
            out.append(f"  {name:<{label}} │{line:<{width}}│ peak {s['peak']:,}{peak_at}, "
                       f"{s['at_end']:,} at end")
    more = len(hosts) - len(hosts[:max_hosts])
    if more > 0:
        out.append(f"\n(+{more:,} more hosts; JSON has them all)")
    if not hosts:
        out.append("no endpoint was ever open")
    return "\n".join(out) + "\n"


def plot_timelines(view: dict, fmt: str = "png", max_hosts: int = 6) -> bytes:
    """The timelines as an image in format ``fmt`` (``figure.format_of``):
    one panel per host (busiest first), one step line per state."""
    plt = figure.pyplot()

    start = view["capture"]["start"] or 0.0
    end = view["capture"]["end"] or start
    hosts = [h for h in view["hosts"] if h["states"]]
    hosts.sort(key=lambda h: -max(s["peak"] for s in h["states"].values()))
    hosts = hosts[:max_hosts] or [{"host": "no open endpoints", "states": {}}]
    fig, axes = plt.subplots(len(hosts), 1, figsize=(10, 2.2 * len(hosts) + 0.8), sharex=True, squeeze=False)
    for ax, h in zip(axes[:, 0], hosts):
        for name, s in h["states"].items():
            xs = [t - start for t, _ in s["series"]] + [end - start]
            ys = [n for _, n in s["series"]]
            ax.step(xs, ys + ys[-1:], where="post", label=name)
        ax.set_title(h["host"], fontsize="small", loc="left")
        ax.set_ylabel("sockets")
        if h["states"]:
            ax.legend(loc="upper left", fontsize="x-small", ncol=3)
    axes[-1, 0].set_xlabel("seconds since the capture's start")
    fig.suptitle(**figure.title("tcpflow-analyze: endpoints per state, " + ", ".join(view["capture"]["files"])))
    fig.tight_layout()
    return figure.image(fig, fmt)
