"""The connections table: tabulate's "simple" format (the default) is written
by report.table itself, and must be tabulate's output byte for byte."""
import pytest
from conftest import SAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpflow_analyze.analyzer import analyze
from tcpflow_analyze.report import build_report
from tcpflow_analyze.report import table as T

CAPTURES = ["port_reuse.pcap", "ipv6.pcap", "midstream.pcap", "time_wait_storm.pcap", "sll2_any.pcap"]


@pytest.mark.parametrize("name", CAPTURES)
@pytest.mark.parametrize("color", [False, True])
def test_simple_table_is_tabulates(name, color):
    report = build_report(analyze([str(SAMPLES / name)]))
    rows = [T._connection_row(c, color) for c in report["connections"]]
    assert rows
    for width in (None, 200, 100, 80, 60, 30):
        assert T._simple_table(rows, color, width) == T._tabulated_table(rows, "simple", width), width


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
            cells[3] = T._paint(cells[3], "green")
        dicts.append(cells)
    for color in (False, True):
        if not color and any(paint for *_, paint in rows):
            continue  # colour codes appear only when colour is on
        assert T._simple_table(dicts, color, width) == T._tabulated_table(dicts, "simple", width)
