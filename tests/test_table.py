"""The connections table: tabulate's "simple" format (the default) is written
by report.table itself, and must be tabulate's output byte for byte."""
import pytest
from conftest import SAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.views.report import build_report
from tcpflow_analyze.render import fit
from tcpflow_analyze.render import table as T
from tcpflow_analyze.render.palette import paint as paint_style

CAPTURES = ["port_reuse.pcap", "ipv6.pcap", "midstream.pcap", "time_wait_storm.pcap", "sll2_any.pcap"]


@pytest.mark.parametrize("name", CAPTURES)
@pytest.mark.parametrize("color", [False, True])
def test_simple_table_is_tabulates(name, color):
    report = build_report(analyze([str(SAMPLES / name)]))
    rows = [T._connection_row(conn, cid, color) for conn, cid in report["connections"].numbered()]
    assert rows
    # Each row says what the connection's report entry says.
    assert rows == [_row_of_entry(c, color) for c in report["connections"]]
    for width in (None, 200, 100, 80, 60, 30):
        assert _simple_table(rows, color, width) == T._tabulated_table(rows, "simple", width), width


def _simple_table(rows, color, width):
    return "".join(T._simple_chunks(rows, color, width))


def _row_of_entry(c: dict, color: bool) -> list[str]:
    """The table's cells read off a JSON report entry."""
    def endpoint(ep):
        return f"[{ep['ip']}]:{ep['port']}" if ":" in ep["ip"] else f"{ep['ip']}:{ep['port']}"
    return [str(c["id"]), endpoint(c["client"]) + ("?" if c["roles_inferred"] else ""), endpoint(c["server"]),
            T.paint_state(c["client"]["state"], color), T.paint_state(c["server"]["state"], color),
            f"{c['packets']['client']}/{c['packets']['server']}", f"{c['bytes']['client']}/{c['bytes']['server']}",
            T._duration(c["duration"]), c["history"]]


_text = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(rows=st.lists(st.tuples(*[_text] * len(T.CONNECTION_COLUMNS), st.booleans()), max_size=12),
       width=st.one_of(st.none(), st.integers(10, 160)))
def test_simple_table_is_tabulates_for_any_cells(rows, width):
    # Any printable cells, some painted with colour codes (which take no
    # width), blanks and spaces at their ends included.
    dicts = []
    for *cells, paint in rows:
        if paint:
            cells[3] = paint_style(cells[3], "green")
        dicts.append(cells)
    for color in (False, True):
        if not color and any(paint for *_, paint in rows):
            continue  # colour codes appear only when colour is on
        assert _simple_table(dicts, color, width) == T._tabulated_table(dicts, "simple", width)


# A findings table's shape: the ids never wrapped, the message wrapped.
ANOMALY_HEADERS = ("severity", "anomaly", "conns", "what")
ANOMALY_WIDTHS = (None, None, None, T.MESSAGE_WIDTH)


def _ours(rows, fmt, color):
    return T._anomalies_table(rows, ANOMALY_HEADERS, ANOMALY_WIDTHS, fmt, color)


def _tabulated_anomalies(rows):
    """tabulate's own rendering of the cells wrapped as ours are: at blanks
    only (render.fit), not by its maxcolwidths, whose textwrap cuts words."""
    from tabulate import tabulate
    wrapped = [[(fit.fill(c, w) if w else c).strip() for c, w in zip(r, ANOMALY_WIDTHS)] for r in rows]
    return tabulate(wrapped, headers=ANOMALY_HEADERS, tablefmt="simple", disable_numparse=True)


@pytest.mark.parametrize("color", [False, True])
def test_simple_anomalies_table_is_tabulates(color):
    from tcpflow_analyze import detectors
    names = ["time_wait_storm.pcap", "syn_flood.pcap", "port_reuse.pcap", "close_wait_leak.pcap",
             "half_open_reboot.pcap", "closed_port.pcap"]
    a = analyze([str(SAMPLES / n) for n in names])
    report = build_report(a, detectors.run(a, {"time_wait_threshold": "500"}))
    anomalies = report["anomalies"]
    assert len({x["type"] for x in anomalies}) >= 4
    rows = [[T.paint_severity(x["severity"], color), x["type"], ",".join(map(str, x["connections"][:8])) +
             ("…" if len(x["connections"]) > 8 else ""), x["message"]] for x in anomalies]
    assert _ours(rows, "simple", color) == _tabulated_anomalies(rows)


def test_ids_that_look_like_a_number_do_not_break_the_table():
    # tabulate's maxcolwidths raises ValueError on "1,100" (ids 1 and 100).
    rows = [["warning", "half_open", "1,100", "a message"]]
    for fmt in ("simple", "github", "grid"):
        assert "1,100" in _ours(rows, fmt, False)


_words = st.lists(st.one_of(st.text("abcxyz-/.,:;()%'", min_size=1, max_size=12), st.just("a" * 70),
                            st.sampled_from(["--", "-", " ", "  ", "well-known", "192.168.10.1:443"])),
                  max_size=30).map(" ".join)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(rows=st.lists(st.tuples(st.sampled_from(["info", "warning", "critical"]), st.booleans(),
                               st.sampled_from(["half_open", "time_wait_storm", "x"]),
                               st.lists(st.integers(1, 10 ** 6), max_size=10), _words), max_size=8))
def test_simple_anomalies_table_is_tabulates_for_any_text(rows):
    # Sentences of any words: hyphens, long words, runs of blanks, blanks at
    # the ends, empty messages; id lists cut with an ellipsis; severities in
    # colour or not.  The same table as tabulate makes of our wrapping, which
    # breaks lines at blanks only: every word whole, where tabulate's own
    # (textwrap's) cuts "well-known" and a 70-letter word.
    from tabulate import tabulate
    cells = [[T.paint_severity(sev, paint), kind, ",".join(map(str, ids[:8])) + ("…" if len(ids) > 8 else ""),
              message] for sev, paint, kind, ids, message in rows]
    color = any(paint for _, paint, *_ in rows)
    ours = _ours(cells, "simple", color)
    wrapped = [[(T._wrapped(c, w) if w else c).strip() for c, w in zip(r, ANOMALY_WIDTHS)] for r in cells]
    assert ours == tabulate(wrapped, headers=ANOMALY_HEADERS, tablefmt="simple", disable_numparse=True)
    for row, cell in zip(wrapped, cells):
        assert row[-1].split() == cell[-1].split()


@settings(max_examples=200, deadline=None, derandomize=True)
@given(lines=st.lists(_text, max_size=9), batch=st.integers(1, 4))
def test_table_chunks_join_to_the_lines(lines, batch):
    assert "".join(T._joined(iter(lines), batch)) == "\n".join(lines)


def test_a_large_table_is_written_in_chunks_as_it_is_made(monkeypatch):
    # time_wait_storm.pcap's 600 connections in chunks of 50 lines: the table
    # arrives in pieces, which make exactly the text render() makes.
    monkeypatch.setattr(T, "CHUNK_LINES", 50)
    report = build_report(analyze([str(SAMPLES / "time_wait_storm.pcap")]))
    assert len(report["connections"]) > 500
    chunks = list(T.iter_render(report))
    assert len(chunks) > 10 and max(map(len, chunks)) < len("".join(chunks)) / 10
    assert "".join(chunks) == T.render(report)
    rows = [T._connection_row(conn, cid, False) for conn, cid in report["connections"].numbered()]
    assert _simple_table(rows, False, None) == T._tabulated_table(rows, "simple", None)
