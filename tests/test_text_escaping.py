"""Capture file names reach the text outputs escaped (issue #17, item 9).

A file name is data from whoever named the file: ESC and BEL in it would
reach the terminal as commands (a window title, colours, a cleared screen),
and in Markdown a backtick would end the code span around it, making the
rest of the name live markup (an image fetched from a URL, a link) in a CI
step summary.  Every text output escapes control characters
(``model.text.printable``); Markdown puts names in code spans they cannot
leave.
"""
from __future__ import annotations

import os
import re

import pytest

from clirun import invoke
from pcapgen import Trace
from tcpflow_analyze.model.text import printable

# Each "//" is a directory boundary: a file name cannot hold "/", the path
# given on the command line (the name the report shows) can.
HOSTILE = ("a\x1b]0;owned\x07b`c``\x1b[2J![x](http://e)`[l](http://e)<img src=x>\t\n\r\x9b\x7f"
           "\u202e\u2028.pcap")
# What no text output may carry: C0 controls but the newline, DEL, C1
# controls, line/paragraph separators, bidirectional overrides.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
SGR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def hostile(tmp_path, monkeypatch):
    """A truncated capture at the HOSTILE path (the truncation line names it too)."""
    monkeypatch.chdir(tmp_path)
    os.makedirs(os.path.dirname(HOSTILE), exist_ok=True)
    t = Trace().handshake()
    t.c("FA", 1001, 5001).s("FA", 5001, 1002).c("A", 1002, 5002)
    t.write(HOSTILE)
    with open(HOSTILE, "r+b") as fh:
        fh.truncate(os.path.getsize(HOSTILE) - 10)
    return HOSTILE


COMMANDS = {
    "table": ["analyze"],
    "table-github": ["analyze", "--table-format", "github"],
    "table-color": ["analyze", "--color"],
    "markdown": ["analyze", "--format", "markdown"],
    "timewait": ["timewait"],
    "states": ["states"],
    "states-at": ["states", "--at", "end"],
    "ladder": ["ladder", "--conn", "1"],
    "ladder-color": ["ladder", "--conn", "1", "--color"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_no_control_character_reaches_a_text_output(hostile, name):
    res = invoke(*COMMANDS[name], hostile)
    assert res.code == 0, res.stderr
    text = SGR.sub("", res.stdout) if name.endswith("-color") else res.stdout
    assert not UNSAFE.findall(text), UNSAFE.findall(text)
    if name.startswith(("table", "markdown", "timewait")):
        assert printable(hostile) in text.replace("`` ", "").replace(" ``", "") or name == "markdown"


def test_text_output_to_a_file_is_escaped_too(hostile, tmp_path):
    out = tmp_path / "r.txt"
    res = invoke("analyze", "-o", str(out), hostile)
    assert res.code == 0, res.stderr
    text = out.read_text()
    assert not UNSAFE.findall(text) and printable(hostile) in text


def code_spans(line: str):
    """``line`` parsed as CommonMark parses code spans (spec 6.1): a run of n
    backticks opens a span that the next run of exactly n backticks closes;
    a run with no match is literal.  Returns (text outside spans, [span
    contents as rendered])."""
    outside, spans, i = [], [], 0
    runs = [(m.start(), m.end()) for m in re.finditer("`+", line)]
    k = 0
    while k < len(runs):
        start, end = runs[k]
        n = end - start
        close = next((j for j in range(k + 1, len(runs)) if runs[j][1] - runs[j][0] == n), None)
        if close is None:
            k += 1
            continue
        outside.append(line[i:start])
        body = line[end:runs[close][0]]
        if body.startswith(" ") and body.endswith(" ") and body.strip(" "):
            body = body[1:-1]
        spans.append(body)
        i = runs[close][1]
        k = close + 1
    outside.append(line[i:])
    return "".join(outside), spans


def test_markdown_names_stay_inside_their_code_spans(hostile):
    res = invoke("analyze", "--format", "markdown", hostile)
    assert res.code == 0, res.stderr
    lines = [ln for ln in res.stdout.splitlines() if "owned" in ln]
    assert len(lines) == 2  # the files line and the truncation note
    for line in lines:
        outside, spans = code_spans(line)
        assert printable(hostile) in spans, (line, spans)
        # Nothing of the name is left to be markup: no image, link or HTML.
        assert not re.search(r"[\[\]<!]|http", outside), outside


@pytest.mark.parametrize("name", ["`", "``x", "x`", " `a` ", "plain", " sp "])
def test_markdown_code_span_holds_any_name(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    Trace().handshake().write(name)
    res = invoke("analyze", "--format", "markdown", name)
    assert res.code == 0, res.stderr
    line = next(ln for ln in res.stdout.splitlines() if " from " in ln)
    assert code_spans(line)[1] == [name]


def test_undecodable_file_name_is_written(tmp_path):
    # A name's bytes that are not UTF-8 come as surrogates (os.fsdecode):
    # no UTF-8 writer takes them, so they are written as \xNN.
    raw = os.fsencode(str(tmp_path)) + b"/bad\xff.pcap"
    Trace().handshake().write(raw)
    name = os.fsdecode(raw)
    for args in (["analyze"], ["analyze", "-o", str(tmp_path / "r.txt")], ["analyze", "--format", "markdown"],
                 ["timewait"]):
        res = invoke(*args, name)
        assert res.code == 0, (args, res.stderr)
    assert "bad\\xff.pcap" in (tmp_path / "r.txt").read_text()


@pytest.mark.parametrize("fmt", ["json", "html"])
@pytest.mark.parametrize("to_file", [False, True])
def test_undecodable_file_name_in_json_and_html(tmp_path, fmt, to_file):
    # JSON and HTML keep the name, not \xNN: its undecodable bytes are
    # written as the JSON escape \udcNN, which reads back as the same name.
    raw = os.fsencode(str(tmp_path)) + b"/bad\xff.pcap"
    Trace().handshake().write(raw)
    name = os.fsdecode(raw)
    out = tmp_path / f"r.{fmt}"
    res = invoke("analyze", "--format", fmt, *(["-o", str(out)] if to_file else []), name)
    assert res.code == 0, res.stderr
    text = out.read_text() if to_file else res.stdout
    if fmt == "json":
        import json
        assert json.loads(text)["capture"]["files"] == [name]
    else:
        assert "bad\\udcff.pcap" in text


def test_printable():
    for c in [*range(0x20), 0x7f, *range(0x80, 0xa0)]:
        assert printable(f"a{chr(c)}b") == f"a\\x{c:02x}b"
    for c in (0x2028, 0x2029, 0x202e, 0x2066):
        assert printable(chr(c)) == f"\\u{c:04x}"
    assert printable("\udcff") == "\\xff"
    kept = "plain é ü 😀 \\ ` [x](y) <b>"
    assert printable(kept) is kept or printable(kept) == kept


@pytest.mark.parametrize("args", [
    ["analyze", "missing" + HOSTILE],                # the reader's "no such file"
    ["analyze", "--format", "json", "-o", HOSTILE + "/r.json", "x.pcap"],  # -o naming a missing directory
])
def test_error_messages_escape_names(tmp_path, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    res = invoke(*args)
    assert res.code == 2
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not UNSAFE.findall(res.stderr.rstrip("\n")), res.stderr
