"""runtime.ForkedTable: the default table's connections section written by a
forked child while the detectors run is the text this process would write,
byte for byte."""
import os

import pytest
from click.testing import CliRunner
from conftest import SAMPLES

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.cli import main
from tcpflow_analyze import runtime as forked_writers
from tcpflow_analyze.runtime import ForkedTable
from tcpflow_analyze.views.report import ConnectionEntries

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

# Kernel captures of many kinds of connection, a time_wait_storm among them.
CAPTURES = [str(SAMPLES / n) for n in ("time_wait_storm.pcap", "syn_flood.pcap", "port_reuse.pcap",
                                        "close_wait_leak.pcap")]


@pytest.fixture(scope="module")
def analysis():
    return analyze(CAPTURES)


def test_an_abandoned_report_stops_the_child(analysis, monkeypatch):
    def hang(self, out):
        import time
        time.sleep(60)
    monkeypatch.setattr(ForkedTable, "_write", hang)
    forked = ForkedTable(analysis.connections, False, None)
    pid = forked._pid
    forked.close()
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaped: no process, no zombie


def test_only_where_it_gains(analysis, monkeypatch):
    assert ForkedTable.start(analysis.connections, 2, False, None) is None  # a few hundred connections
    monkeypatch.setattr(forked_writers, "MIN_CONNECTIONS", 1)
    assert ForkedTable.start(analysis.connections, 1, False, None) is None  # --jobs 1: one process
    monkeypatch.setattr(forked_writers, "usable_cores", lambda: 1)
    assert ForkedTable.start(analysis.connections, 2, False, None) is None  # nothing to run it beside


def table_section(analysis, color, width, forked=None):
    from tcpflow_analyze.render.table import connections_section
    if forked is not None:
        try:
            return "".join(forked.chunks())
        finally:
            forked.close()
    return "".join(connections_section(ConnectionEntries(analysis.connections, {}), "simple", color, width))


@pytest.mark.parametrize("color,width", [(False, None), (True, None), (False, 70)])
def test_forked_table_is_this_process_table(analysis, color, width):
    # The connections section as the child writes it, with colour and a
    # narrow terminal's dropped columns too.
    here = table_section(analysis, color, width)
    assert here.count("\n") > len(analysis.connections)
    assert table_section(analysis, color, width, ForkedTable(analysis.connections, color, width)) == here


def test_a_failed_table_child_leaves_the_table_to_this_process(analysis, monkeypatch):
    def fail(self, out):
        out.write("half a table")
        raise MemoryError("the child ran out")
    monkeypatch.setattr(ForkedTable, "_write", fail)
    forked = ForkedTable(analysis.connections, False, None)
    assert table_section(analysis, False, None, forked) == table_section(analysis, False, None)


def test_cli_table_is_the_same(monkeypatch):
    # The default table with --jobs 2 (its connections section from a
    # forked child) against --jobs 1: the same text.
    monkeypatch.setattr(forked_writers, "MIN_CONNECTIONS", 1)
    monkeypatch.setattr(forked_writers, "usable_cores", lambda: 2)
    # A thread another test left in this process (dask's offload pool,
    # after test_parallel's local cluster) makes start() refuse to fork, as
    # it should; a command's own process has none.
    monkeypatch.setattr(forked_writers.threading, "active_count", lambda: 1)
    started = []
    real_start = ForkedTable.start.__func__

    def spy(cls, conns, jobs, *args):
        got = real_start(cls, conns, jobs, *args)
        started.append(got is not None)
        return got
    monkeypatch.setattr(ForkedTable, "start", classmethod(spy))

    def report(*args):
        res = CliRunner().invoke(main, ["analyze", "--time-wait-threshold", "500", *args, *CAPTURES],
                                 catch_exceptions=False)
        assert res.exit_code == 0, res.output
        return res.output
    one, two = report("--jobs", "1"), report("--jobs", "2")
    assert started == [False, True]
    assert one == two and "time_wait_storm" in two
    report("--jobs", "2", "--table-format", "grid")   # tabulate's formats: no child
    report("--jobs", "2", "--top", "5")               # a selection: no child
    assert started == [False, True]
