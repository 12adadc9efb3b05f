"""The ``timewait`` view as text and as a plot."""
from __future__ import annotations

from tabulate import tabulate

from ..analysis.timeline import sparkline
from ..detectors import time_wait_storm
from ..model.text import duration_text, printable
from . import figure, fit
from .notices import notice_lines


# Below this many columns for a value, a label's value goes under it
# instead of beside it.
MIN_VALUE_WIDTH = 24
# Advice is prose: this wide without a terminal, as a book's line.
ADVICE_WIDTH = 100


def render(view: dict, width: int | None = None) -> str:
    """The view as text, fitted to a terminal ``width`` columns wide (None:
    no terminal): prose wrapped, sparklines drawn narrower, no number split."""
    out = []
    cap = view["capture"]
    out.append(fit.fill(f"TIME_WAIT and CLOSE_WAIT in {', '.join(map(printable, cap['files']))} "
                        f"({cap['duration']:.1f} s); TIME_WAIT lasts {view['time_wait_seconds']:g} s; ephemeral "
                        f"ports {view['port_range'][0]}-{view['port_range'][1]}", width))
    out += notice_lines(view.get("notices") or [], width)
    if not view["time_wait"]:
        out.append("No endpoint entered TIME_WAIT.")
    for d in view["time_wait"]:
        out.append(f"\n{d['host']}\n" + _labelled(_host_rows(view, d), width))
        if d["advice"]:
            out.append("\n".join(fit.fill(a, width or ADVICE_WIDTH, "  - ", "    ") for a in d["advice"]))
    more = view["hosts_with_time_wait"] - len(view["time_wait"])
    if more > 0:
        out.append(fit.fill(f"(+{more} more hosts with TIME_WAIT; --top to list them)", width))
    out.append("\nCLOSE_WAIT by service")
    if not view["close_wait"]:
        out.append("No endpoint sat in CLOSE_WAIT.")
    else:
        out.append(_close_wait_table(view, width))
        if any(d["at_end"] or d["lingering"] for d in view["close_wait"]):
            out.append(fit.fill("CLOSE_WAIT ends only when the application calls close(): a service listed "
                                "with sockets still open at the end is not closing connections its peers closed.",
                                width, "  - ", "    "))
    return "\n".join(out) + "\n"


_HOST_LABELS = ("TIME_WAIT over time", "peak", "in TIME_WAIT at the end", "entered TIME_WAIT", "closes first",
                "connections opened", "mean lifetime", "ephemeral ports at peak", "projection", "toward")
_LABEL_WIDTH = max(map(len, _HOST_LABELS))


def _host_rows(view: dict, d: dict) -> list[tuple[str, object]]:
    """A host's label and value pairs; a value is text, or a list of items
    (kept whole when wrapped), or a series to draw as a sparkline."""
    flag = "  ** over the threshold of %d **" % view["time_wait_threshold"] if d["over_threshold"] else ""
    rows = [
        ("TIME_WAIT over time", _Spark(view, d) if d["sparkline"] else "-"),
        ("peak", f"{d['peak']} at {d['peak_when']}{flag}"),
        ("in TIME_WAIT at the end", str(d["at_end"])),
        ("entered TIME_WAIT", str(d["time_wait"])),
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
        rows.append(("toward", [f"{r['endpoint']} ({r['count']})" for r in d["remotes"]]))
    return rows


class _Spark:
    """A host's TIME_WAIT sparkline: the view's, or redrawn narrower when
    that does not fit (a sparkline cannot be wrapped)."""

    def __init__(self, view: dict, d: dict):
        self.text, self.series = d["sparkline"], d["series"]
        self.start, self.end = view["capture"]["start"], view["capture"]["end"]

    def lines(self, width: int | None) -> list[str]:
        if width is None or len(self.text) <= width:
            return [self.text]
        return [sparkline(self.series, self.start, self.end, width)]


def _labelled(rows, width: int | None) -> str:
    """Labels and their values, values wrapped beside the labels, or under
    them when there is too little room beside."""
    label_width = max(len(label) for label, _ in rows)
    room = None if width is None else width - label_width - 2
    lines = []
    for label, value in rows:
        first, *rest = beside = _value_lines(value, room)
        if room is not None and (room < MIN_VALUE_WIDTH or max(map(fit.visible_len, beside)) > room):
            # An address longer than the room beside the label: under it, it fits.
            lines += [label] + _value_lines(value, width - 2, "  ")
            continue
        lines.append(f"{label:<{label_width}}  {first}")
        lines += [" " * (label_width + 2) + line for line in rest]
    return "\n".join(line.rstrip() for line in lines)


def _value_lines(value, width: int | None, indent: str = "") -> list[str]:
    if isinstance(value, _Spark):
        return [indent + line for line in value.lines(width)]
    if isinstance(value, list):
        return fit.pack(value, width, ", ", indent, indent)
    return fit.wrap(value, width, indent, indent)


def _close_wait_records(view: dict, headers, rows, width: int) -> str:
    """CLOSE_WAIT per service for a terminal too narrow for its table (a
    service's IPv6 address alone takes 46 columns): a service a paragraph."""
    out = []
    for row, d in zip(rows, view["close_wait"]):
        out.append(row[0])
        out += fit.pack([f"{h} {v}" for h, v in zip(headers[1:], row[1:])], width, ", ", "  ", "  ")
        if d["sparkline"]:
            spark = min(len(d["sparkline"]), max(1, width - 2))
            out.append(("  " + sparkline(d["series"], view["capture"]["start"], view["capture"]["end"],
                                         spark)).rstrip())
    return "\n".join(out)


CLOSE_WAIT_HEADERS = ("service", "entered", "at end", "> {:g}s", "longest", "over time")


def _close_wait_table(view: dict, width: int | None) -> str:
    """CLOSE_WAIT per service; the sparkline column redrawn narrower, or
    left out, to fit ``width``."""
    services = view["close_wait"]
    headers = [h.format(services[0]["threshold"]) for h in CLOSE_WAIT_HEADERS]
    rows = [[d["service"], str(d["entered"]), str(d["at_end"]), str(d["lingering"]), f"{d['longest']:.1f}s"]
            for d in services]
    text = tabulate(rows, headers=headers[:-1], tablefmt="simple", disable_numparse=True)
    if width is not None and fit.widest(text) > width:
        return _close_wait_records(view, headers, rows, width)
    room = None if width is None else width - fit.widest(text) - 2
    if room is not None and room < len(headers[-1]):
        return text + "\n" + fit.fill("(narrow terminal: over time left out; --format json has it)", width)
    spark = min(len(services[0]["sparkline"]), room) if room is not None else None
    for row, d in zip(rows, services):
        row.append(d["sparkline"] if spark is None or spark >= len(d["sparkline"])
                   else sparkline(d["series"], view["capture"]["start"], view["capture"]["end"], spark))
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def plot(view: dict, fmt: str = "png") -> bytes:
    """The view's plot as an image in format ``fmt`` (``figure.format_of``)."""
    return figure.image(timewait_figure(view), fmt)


# Above this many times the data's height, the port range is drawn on a
# symmetric log scale: linear, it would flatten the data to the axis.
LINEAR_RANGE = 10


def timewait_figure(view: dict):
    """TIME_WAIT per host over time against the time_wait_storm threshold
    and the ephemeral port range (what "out of ports" means), and
    CLOSE_WAIT per service, as a matplotlib figure."""
    from matplotlib.ticker import FuncFormatter
    from .palette import SEVERITY_COLOR, STATE_COLOR
    start = view["capture"]["start"]
    fig, axes = figure.subplots(2, 6.5, sharex=True)
    tw, cw = axes[0, 0], axes[1, 0]
    for d, style in zip(view["time_wait"], figure.shades(STATE_COLOR["TIME_WAIT"], len(view["time_wait"]))):
        tw.step([t - start for t, _ in d["series"]], [n for _, n in d["series"]], where="post",
                label=d["host"], **style)
    threshold = view["time_wait_threshold"]
    low, high = view["port_range"]
    ports = high - low + 1
    tw.axhline(threshold, color=SEVERITY_COLOR[time_wait_storm.SEVERITY], linestyle="--", linewidth=1,
               label=f"{time_wait_storm.TYPE} threshold ({threshold:,})")
    tw.axhline(ports, color=STATE_COLOR["CLOSED"], linestyle=":", linewidth=1.5,
               label=f"port range {low}-{high}")
    top = max([threshold] + [d["peak"] for d in view["time_wait"]])
    if ports > LINEAR_RANGE * top:
        tw.set_yscale("symlog", linthresh=10)
        tw.set_ylabel("sockets in TIME_WAIT\n(log scale above 10)")
    else:
        tw.set_ylabel("sockets in TIME_WAIT")
    tw.set_ylim(bottom=0, top=ports * 1.5 if ports > LINEAR_RANGE * top else max(ports, top) * 1.08)
    if tw.get_yscale() == "linear":
        figure.count_axis(tw)
    tw.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    if not view["time_wait"]:
        tw.text(0.5, 0.5, "no endpoint entered TIME_WAIT", transform=tw.transAxes, ha="center", va="center")
    figure.legend_outside(tw)
    for d, style in zip(view["close_wait"], figure.shades(STATE_COLOR["CLOSE_WAIT"], len(view["close_wait"]))):
        cw.step([t - start for t, _ in d["series"]], [n for _, n in d["series"]], where="post",
                label=d["service"], **style)
    cw.set_ylabel("sockets in CLOSE_WAIT")
    cw.set_xlabel("seconds since the capture's start")
    figure.count_axis(cw)
    if view["close_wait"]:
        figure.legend_outside(cw)
    else:
        cw.text(0.5, 0.5, "no endpoint sat in CLOSE_WAIT", transform=cw.transAxes, ha="center", va="center")
    fig.suptitle(**figure.title("tcpflow-analyze timewait: " + ", ".join(view["capture"]["files"])))
    return fig
