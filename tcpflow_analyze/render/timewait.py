"""The ``timewait`` view as text and as a plot."""
from __future__ import annotations

import textwrap

from tabulate import tabulate

from ..model.text import duration_text, printable
from . import figure


def render(view: dict) -> str:
    out = []
    cap = view["capture"]
    out.append(f"TIME_WAIT and CLOSE_WAIT in {', '.join(map(printable, cap['files']))} ({cap['duration']:.1f} s); "
               f"TIME_WAIT lasts {view['time_wait_seconds']:g} s; ephemeral ports "
               f"{view['port_range'][0]}-{view['port_range'][1]}")
    if not view["time_wait"]:
        out.append("No endpoint entered TIME_WAIT.")
    for d in view["time_wait"]:
        flag = "  ** over the threshold of %d **" % view["time_wait_threshold"] if d["over_threshold"] else ""
        rows = [
            ("TIME_WAIT over time", d["sparkline"] or "-"),
            ("peak", f"{d['peak']} at {d['peak_when']}{flag}"),
            ("in TIME_WAIT at the end", d["at_end"]),
            ("entered TIME_WAIT", d["time_wait"]),
            ("closes first", "-" if d["active_close_share"] is None
             else f"{d['active_close_share']:.0%} of its connections closed by FIN"),
            ("connections opened", f"{d['connections_opened']} ({d['open_rate']:.1f}/s)"),
            ("mean lifetime", "-" if d["mean_lifetime"] is None else duration_text(d["mean_lifetime"])),
        ]
        if d["ephemeral_ports_at_peak"]:
            rows.append(("ephemeral ports at peak",
                         f"{d['ephemeral_ports_at_peak']} of {d['port_range_size']} ({d['port_range_share']:.1%})"))
        proj = d["projection"]
        if proj["rate"] and d["ephemeral_ports_at_peak"]:
            if proj["exhausted_after"] is not None:
                rows.append(("projection", f"at {proj['rate']:.0f} new connections/s the range runs out after "
                                           f"about {proj['exhausted_after']:.0f} s"))
            else:
                rows.append(("projection", f"at {proj['rate']:.0f} new connections/s TIME_WAIT settles at about "
                                           f"{proj['steady_time_wait']} ports ({proj['steady_share']:.0%} of the range)"))
        if d["remotes"]:
            rows.append(("toward", ", ".join(f"{r['endpoint']} ({r['count']})" for r in d["remotes"])))
        out.append(f"\n{d['host']}\n" + tabulate(rows, tablefmt="plain", disable_numparse=True))
        if d["advice"]:
            out.append("\n".join(textwrap.fill(a, 100, initial_indent="  - ", subsequent_indent="    ")
                                 for a in d["advice"]))
    more = view["hosts_with_time_wait"] - len(view["time_wait"])
    if more > 0:
        out.append(f"(+{more} more hosts with TIME_WAIT; --top to list them)")
    out.append("\nCLOSE_WAIT by service")
    if not view["close_wait"]:
        out.append("No endpoint sat in CLOSE_WAIT.")
    else:
        rows = [(d["service"], d["entered"], d["at_end"], d["lingering"], f"{d['longest']:.1f}s", d["sparkline"])
                for d in view["close_wait"]]
        out.append(tabulate(rows, headers=("service", "entered", "at end", f"> {view['close_wait'][0]['threshold']:g}s",
                                           "longest", "over time"), tablefmt="simple", disable_numparse=True))
        if any(d["at_end"] or d["lingering"] for d in view["close_wait"]):
            out.append("  - CLOSE_WAIT ends only when the application calls close(): a service listed with "
                       "sockets still open at the end is not closing connections its peers closed.")
    return "\n".join(out) + "\n"


def plot(view: dict, fmt: str = "png") -> bytes:
    """TIME_WAIT per host and CLOSE_WAIT per service over time, as an image
    in format ``fmt`` (``figure.format_of``)."""
    plt = figure.pyplot()
    start = view["capture"]["start"]
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for d in view["time_wait"]:
        xs = [t - start for t, _ in d["series"]]
        ys = [n for _, n in d["series"]]
        axes[0].step(xs, ys, where="post", label=d["host"])
    axes[0].set_ylabel("sockets in TIME_WAIT")
    if view["time_wait"]:
        axes[0].legend(loc="upper left", fontsize="small")
    for d in view["close_wait"]:
        xs = [t - start for t, _ in d["series"]]
        ys = [n for _, n in d["series"]]
        axes[1].step(xs, ys, where="post", label=d["service"])
    axes[1].set_ylabel("sockets in CLOSE_WAIT")
    axes[1].set_xlabel("seconds since the capture's start")
    if view["close_wait"]:
        axes[1].legend(loc="upper left", fontsize="small")
    fig.suptitle(**figure.title("tcpflow-analyze timewait: " + ", ".join(view["capture"]["files"])))
    fig.tight_layout()
    return figure.image(fig, fmt)
