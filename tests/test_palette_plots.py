"""One palette (issue #15): a state has one colour in the terminal, the HTML
report and the plots; and the plots read right: integer socket counts, the
time_wait_storm threshold and the port range on `timewait --plot`, legends
off the data, and `states --at --plot` draws the snapshot."""
import colorsys
import re

import pytest
from clirun import invoke
from conftest import SAMPLES

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.model.states import STATE_NAMES
from tcpflow_analyze.render import html, ladder, table
from tcpflow_analyze.render.palette import SGR
from tcpflow_analyze.views import states as sv
from tcpflow_analyze.views import timewait as tv

mpl = pytest.importorskip("matplotlib")
from matplotlib.colors import to_hex  # noqa: E402

from tcpflow_analyze.render import states as states_plot  # noqa: E402
from tcpflow_analyze.render import timewait as timewait_plot  # noqa: E402

# Every state the kernel samples reach, TIME_WAIT and CLOSE_WAIT among them.
CAPTURES = [str(SAMPLES / n) for n in ("time_wait_storm.pcap", "close_wait_leak.pcap", "simultaneous_close.pcap",
                                       "syn_flood.pcap", "half_open_reboot.pcap")]
HUES = {"31": 0, "33": 60, "32": 120, "36": 180, "34": 240, "35": 300}


def _nearest_sgr(hex_color: str) -> str:
    """The ANSI colour code nearest the colour's hue; 2 (dim) for a grey."""
    r, g, b = (int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5))
    hue, sat, _ = colorsys.rgb_to_hsv(r, g, b)
    if sat < 0.25:
        return "2"
    return min(HUES, key=lambda code: min(abs(hue * 360 - HUES[code]), 360 - abs(hue * 360 - HUES[code])))


def _sgr_of(painted: str) -> str:
    code = re.match(r"\x1b\[([0-9;]*)m", painted).group(1)
    return code.split(";")[-1]


def _html_color(name: str) -> str:
    # The colour the HTML report gives the state's name.
    return re.search(r"--c:(#[0-9a-f]{6})", html._state(name)).group(1)


@pytest.fixture(scope="module")
def analysis():
    return analyze(CAPTURES)


def _plotted_states(fig) -> dict[str, set[str]]:
    """Each state a timelines figure draws, with the colours of its lines."""
    out: dict[str, set[str]] = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_label() in STATE_NAMES:
                out.setdefault(line.get_label(), set()).add(to_hex(line.get_color()))
    return out


@pytest.mark.parametrize("name", STATE_NAMES)
def test_a_state_has_one_colour_everywhere(name):
    color = _html_color(name)
    # The terminal: the report table and the ladder, the ANSI colour nearest the hue.
    assert _sgr_of(table.paint_state(name, True)) == _nearest_sgr(color)
    assert SGR[ladder.STATE_COLOR[name]].split(";")[-1] == _nearest_sgr(color)


def test_the_plots_draw_each_state_in_its_html_colour(analysis):
    fig = states_plot.timelines_figure(sv.state_timelines(analysis), max_hosts=50)
    drawn = _plotted_states(fig)
    assert {"TIME_WAIT", "CLOSE_WAIT", "ESTABLISHED", "SYN_RECEIVED", "CLOSING"} <= set(drawn)
    for name, colors in drawn.items():
        assert colors == {_html_color(name)}, name
    view = tv.build(analysis)
    fig = timewait_plot.timewait_figure(view)
    tw, cw = fig.axes[:2]
    busiest = tw.get_lines()[0]
    assert busiest.get_label() == view["time_wait"][0]["host"]
    assert to_hex(busiest.get_color()) == _html_color("TIME_WAIT")
    assert to_hex(cw.get_lines()[0].get_color()) == _html_color("CLOSE_WAIT")
    snapshot = sv.states_at(analysis, analysis.stats.end)
    fig = states_plot.states_at_figure(snapshot)
    bars = {p.get_label(): to_hex(p.patches[0].get_facecolor()) for p in fig.axes[0].containers}
    assert bars and bars == {sv.SS_NAMES[n]: _html_color(n) for n in sv.STATE_ORDER if sv.SS_NAMES[n] in bars}


def _integer_ticks(ax, which="y") -> list[float]:
    low, high = ax.get_ylim() if which == "y" else ax.get_xlim()
    ticks = ax.get_yticks() if which == "y" else ax.get_xticks()
    shown = [t for t in ticks if low <= t <= high]
    assert len(shown) >= 2 and all(float(t).is_integer() for t in shown), shown
    return shown


def _legend_clear_of_data(fig, ax):
    """(after ``fig.canvas.draw()``: where everything sits is known once drawn)"""
    legend = ax.get_legend()
    assert legend is not None
    assert not legend.get_window_extent().overlaps(ax.get_window_extent())


def test_timewait_plot_has_threshold_port_range_integer_counts(analysis):
    view = tv.build(analysis, {"time_wait_threshold": "500"})
    fig = timewait_plot.timewait_figure(view)
    tw, cw = fig.axes[:2]
    lines = {line.get_label(): line for line in tw.get_lines()}
    threshold = lines["time_wait_storm threshold (500)"]
    assert list(threshold.get_ydata()) == [500, 500]
    ports = lines["port range 32768-60999"]
    assert list(ports.get_ydata()) == [28232, 28232]
    # The storm's 600 sockets drawn over the threshold, under the range.
    peak = max(lines[view["time_wait"][0]["host"]].get_ydata())
    assert peak == 600 and tw.get_ylim()[1] > 28232
    fig.canvas.draw()
    for ax in (tw, cw):
        _integer_ticks(ax)
        _legend_clear_of_data(fig, ax)


def test_states_plot_integer_counts_and_legends_off_the_data(analysis):
    fig = states_plot.timelines_figure(sv.state_timelines(analysis))
    fig.canvas.draw()
    for ax in fig.axes:
        _integer_ticks(ax)
        _legend_clear_of_data(fig, ax)


def test_states_at_plot_is_drawn(tmp_path):
    from matplotlib.image import imread
    out = tmp_path / "at.png"
    res = invoke("states", "--at", "end", "--plot", str(out), CAPTURES[0])
    assert res.code == 0, res.stderr
    image = imread(str(out))
    assert image.shape[0] > 100 and image.shape[1] > 500
    # The sockets at the end of the storm: 600 in TIME-WAIT on the client.
    storm = analyze([CAPTURES[0]])
    fig = states_plot.states_at_figure(sv.states_at(storm, storm.stats.end))
    ax = fig.axes[0]
    widths = {p.get_label(): [round(b.get_width()) for b in p.patches] for p in ax.containers}
    assert widths["TIME-WAIT"][0] == 600
    fig.canvas.draw()
    _integer_ticks(ax, "x")
    _legend_clear_of_data(fig, ax)


def test_plots_written_for_kernel_samples(tmp_path):
    from matplotlib.image import imread
    for capture in CAPTURES[:2]:
        for args in (("timewait",), ("states",)):
            out = tmp_path / f"{args[0]}.png"
            res = invoke(*args, "--plot", str(out), capture)
            assert res.code == 0, res.stderr
            assert imread(str(out)).shape[1] >= 1000
