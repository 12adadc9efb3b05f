"""What ``-o`` and ``--plot`` do to the files they name (issue #17, items 7-8).

A report replaces its file atomically (a temporary file renamed over it).
Renaming is not writing, so it would bypass what a write honours: these tests
hold it to what ``cp`` or a shell's ``>`` would do to an existing file -- keep
its mode and owner, refuse a write-protected one, write through a symlink --
and to never overwriting a capture being read.  Every refusal is one line
naming the option or the file, exit 2, given before the analysis runs (each
refused run also names a capture that does not exist: the analysis would
have failed on it first).
"""
from __future__ import annotations

import os
import stat
import sys

import pytest

from clirun import invoke
from pcapgen import Trace

ERR = "tcpflow-analyze: error: "


def capture(path) -> str:
    t = Trace().handshake()
    t.c("FA", 1001, 5001).s("FA", 5001, 1002).c("A", 1002, 5002)
    return t.write(str(path))


def one_line_error(res, *words):
    assert res.code == 2, (res.code, res.stderr)
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERR), res.stderr
    assert "internal error" not in lines[0] and "Traceback" not in res.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def no_temp_files(directory) -> bool:
    return not [p for p in os.listdir(directory) if p.startswith(".tcpflow-analyze-")]


# ------------------------------------------------------ the output is an input
@pytest.mark.parametrize("how", ["same", "symlink-out", "symlink-in", "hardlink", "relative"])
def test_output_that_is_one_of_the_inputs_is_refused(tmp_path, how, monkeypatch):
    cap = capture(tmp_path / "in.pcap")
    before = open(cap, "rb").read()
    out, inputs = cap, [cap]
    if how == "symlink-out":
        out = str(tmp_path / "link")
        os.symlink(cap, out)
    elif how == "symlink-in":
        os.symlink(cap, tmp_path / "link.pcap")
        inputs = [str(tmp_path / "link.pcap")]
    elif how == "hardlink":
        out = str(tmp_path / "hard")
        os.link(cap, out)
    elif how == "relative":
        monkeypatch.chdir(tmp_path)
        out = "./in.pcap"
    missing = str(tmp_path / "missing.pcap")
    res = invoke("analyze", "-o", out, *inputs, missing)
    one_line_error(res, "-o/--output", "one of the captures")
    assert open(cap, "rb").read() == before
    assert no_temp_files(tmp_path)


def test_plot_that_is_one_of_the_inputs_is_refused(tmp_path):
    pytest.importorskip("matplotlib")
    cap = capture(tmp_path / "in.png")
    before = open(cap, "rb").read()
    res = invoke("timewait", "--plot", cap, cap, str(tmp_path / "missing.pcap"))
    one_line_error(res, "--plot", "one of the captures")
    assert open(cap, "rb").read() == before


def test_stdin_and_other_files_are_not_inputs(tmp_path):
    cap = capture(tmp_path / "in.pcap")
    out = tmp_path / "r.txt"
    res = invoke("analyze", "-o", str(out), "-", input=open(cap, "rb").read())
    assert res.code == 0, res.stderr
    assert "packets" in out.read_text()


# --------------------------------------------------------- an existing report
def test_rewrite_keeps_the_mode_of_the_existing_file(tmp_path):
    cap = capture(tmp_path / "in.pcap")
    out = tmp_path / "r.txt"
    out.write_text("old")
    os.chmod(out, 0o600)
    res = invoke("analyze", "-o", str(out), cap)
    assert res.code == 0, res.stderr
    assert "packets" in out.read_text()
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    os.chmod(out, 0o640)
    assert invoke("analyze", "-o", str(out), cap).code == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640


def test_new_file_gets_the_umask_mode(tmp_path):
    cap = capture(tmp_path / "in.pcap")
    out = tmp_path / "r.txt"
    old = os.umask(0o027)
    try:
        res = invoke("analyze", "-o", str(out), cap)
    finally:
        os.umask(old)
    assert res.code == 0, res.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file away")
def test_rewrite_as_root_keeps_the_owner(tmp_path):
    cap = capture(tmp_path / "in.pcap")
    out = tmp_path / "r.txt"
    out.write_text("old")
    os.chown(out, 4321, 4322)
    assert invoke("analyze", "-o", str(out), cap).code == 0
    st = os.stat(out)
    assert (st.st_uid, st.st_gid) == (4321, 4322)
    assert "packets" in out.read_text()


def test_write_protected_file_is_refused(tmp_path):
    # Root may write any file; like cp (and rm, which asks first), a file
    # with no write bit is taken to say "do not replace me", for root too.
    cap = capture(tmp_path / "in.pcap")
    out = tmp_path / "r.txt"
    out.write_text("keep me")
    os.chmod(out, 0o444)
    res = invoke("analyze", "-o", str(out), cap, str(tmp_path / "missing.pcap"))
    one_line_error(res, str(out), "write-protected")
    assert out.read_text() == "keep me"
    assert no_temp_files(tmp_path)


def test_symlink_is_written_through(tmp_path):
    cap = capture(tmp_path / "in.pcap")
    (tmp_path / "reports").mkdir()
    target = tmp_path / "reports" / "r.txt"
    target.write_text("old")
    os.chmod(target, 0o600)
    link = tmp_path / "link"
    os.symlink("reports/r.txt", link)
    res = invoke("analyze", "-o", str(link), cap)
    assert res.code == 0, res.stderr
    assert os.path.islink(link) and os.readlink(link) == "reports/r.txt"
    assert "packets" in target.read_text()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert no_temp_files(tmp_path) and no_temp_files(tmp_path / "reports")


def test_dangling_symlink_creates_its_target(tmp_path):
    # As a shell's > does: the link stays, the file it names is made.
    cap = capture(tmp_path / "in.pcap")
    link = tmp_path / "link"
    os.symlink("new.txt", link)
    res = invoke("analyze", "-o", str(link), cap)
    assert res.code == 0, res.stderr
    assert os.path.islink(link) and "packets" in (tmp_path / "new.txt").read_text()


def test_symlink_loop_is_one_line(tmp_path):
    cap = capture(tmp_path / "in.pcap")
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    res = invoke("analyze", "-o", str(tmp_path / "a"), cap)
    one_line_error(res, str(tmp_path / "a"))


def test_hard_link_is_replaced_not_written_in_place(tmp_path):
    # The decision: -o replaces the file (atomically, so an interrupted run
    # never leaves half a report); another hard link keeps the old report.
    cap = capture(tmp_path / "in.pcap")
    out, other = tmp_path / "r.txt", tmp_path / "other.txt"
    out.write_text("old")
    os.link(out, other)
    assert invoke("analyze", "-o", str(out), cap).code == 0
    assert "packets" in out.read_text() and other.read_text() == "old"


def test_missing_directory_is_refused_before_the_analysis(tmp_path):
    res = invoke("analyze", "-o", str(tmp_path / "no" / "r.txt"), str(tmp_path / "missing.pcap"))
    one_line_error(res, str(tmp_path / "no" / "r.txt"), "No such file or directory")


# ------------------------------------------------------------------- messages
def test_empty_output_name(tmp_path):
    cap = capture(tmp_path / "in.pcap")
    res = invoke("analyze", "-o", "", cap)
    assert one_line_error(res) == ERR + "-o/--output: empty file name"


def test_empty_plot_name(tmp_path):
    cap = capture(tmp_path / "in.pcap")
    res = invoke("timewait", "--plot", "", cap)
    assert one_line_error(res) == ERR + "--plot: empty file name"


@pytest.mark.parametrize("name", ["r.txt", "name", "r.", ".png"])
def test_plot_name_without_an_image_extension(tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cap = capture(tmp_path / "in.pcap")
    res = invoke("timewait", "--plot", name, cap, "missing.pcap")
    one_line_error(res, "--plot")
    assert sorted(os.listdir(tmp_path)) == ["in.pcap"]


def test_plot_to_dev_full(tmp_path):
    existed = os.path.exists("/dev/full.png")
    cap = capture(tmp_path / "in.pcap")
    try:
        res = invoke("timewait", "--plot", "/dev/full", cap)
        one_line_error(res, "--plot")
        assert os.path.exists("/dev/full.png") == existed
    finally:
        if not existed and os.path.exists("/dev/full.png"):
            os.unlink("/dev/full.png")


def test_plot_write_error_names_the_option(tmp_path):
    pytest.importorskip("matplotlib")
    cap = capture(tmp_path / "in.pcap")
    res = invoke("states", "--plot", str(tmp_path / "nowhere" / "p.png"), cap)
    one_line_error(res, "--plot", "No such file or directory")


@pytest.mark.parametrize("option", ["-o", "--plot"])
def test_write_error_names_the_option(tmp_path, option):
    # A symlink to /dev/full: the write itself fails (ENOSPC), after the analysis.
    if option == "--plot":
        pytest.importorskip("matplotlib")
    cap = capture(tmp_path / "in.pcap")
    os.symlink("/dev/full", tmp_path / "full.png")
    cmd = "states" if option == "--plot" else "analyze"
    res = invoke(cmd, option, str(tmp_path / "full.png"), cap)
    one_line_error(res, "-o/--output" if option == "-o" else "--plot", "cannot write", "full.png",
                   os.strerror(28))


def test_plot_title_with_dollars_in_a_file_name(tmp_path):
    # matplotlib reads "$...$" in a title as mathtext, and raised ValueError
    # on this name: a file name is not markup.
    pytest.importorskip("matplotlib")
    cap = capture(tmp_path / "a $\\frac$ \x1b.pcap")
    res = invoke("timewait", "--plot", str(tmp_path / "p.png"), cap)
    assert res.code == 0, res.stderr
    assert (tmp_path / "p.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("name, magic", [("p.png", b"\x89PNG"), ("p.SVG", b"<?xml"), ("p.pdf", b"%PDF")])
def test_plot_is_written_exactly_where_asked(tmp_path, name, magic):
    pytest.importorskip("matplotlib")
    cap = capture(tmp_path / "in.pcap")
    out = tmp_path / name
    out.write_bytes(b"old")
    os.chmod(out, 0o600)
    res = invoke("timewait", "--plot", str(out), cap)
    assert res.code == 0, res.stderr
    assert out.read_bytes().startswith(magic)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == sorted(["in.pcap", name])


def test_plot_without_matplotlib_says_so_before_the_analysis(tmp_path, monkeypatch):
    # None in sys.modules makes "import matplotlib" fail, installed or not.
    for mod in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    res = invoke("states", "--plot", str(tmp_path / "p.png"), str(tmp_path / "missing.pcap"))
    assert one_line_error(res) == ERR + "--plot needs matplotlib: pip install 'tcpflow-analyze[plot]'"


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_json_on_stdout_is_the_file_s_bytes(tmp_path, encoding):
    # The compiled build hands the connection lines on as UTF-8 bytes
    # (views.jsontext.LineText.take): into the file as they are, and to
    # stdout through its buffer where stdout is UTF-8, as text where not.
    # A kernel-made capture with hundreds of connections: many chunks.
    import subprocess
    from conftest import ROOT, SAMPLES
    sample = str(SAMPLES / "time_wait_storm.pcap")
    out = tmp_path / "r.json"
    run = [sys.executable, "-m", "tcpflow_analyze", "analyze", sample, "--format", "json", "--jobs", "1"]
    env = dict(os.environ, PYTHONIOENCODING=encoding, PYTHONPATH=str(ROOT))
    subprocess.run(run + ["-o", str(out)], check=True, env=env, cwd=tmp_path)
    shown = subprocess.run(run, check=True, env=env, cwd=tmp_path, stdout=subprocess.PIPE).stdout
    assert shown == out.read_bytes() and shown.count(b'"community_id"') > 100
