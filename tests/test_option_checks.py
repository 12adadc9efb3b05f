"""Option checks from issue #15's validation list: an empty time window,
a capture given twice, TERM=dumb."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

from clirun import invoke

from tcpflow_analyze import cli

SAMPLES = Path(__file__).resolve().parent.parent / "sample_pcaps"
REUSE = str(SAMPLES / "port_reuse.pcap")


def test_since_after_until_is_a_usage_error():
    res = invoke("analyze", "--since", "+0.5", "--until", "+0.1", REUSE)
    assert res.code == 2 and res.stdout == ""
    assert res.stderr.strip() == ("tcpflow-analyze: error: --since +0.5 is after --until +0.1: "
                                  "no moment is in both")
    assert invoke("analyze", "--since", "+0.1", "--until", "+0.1", REUSE).code == 0


def test_a_capture_given_twice_is_read_once(tmp_path):
    once = json.loads(invoke("analyze", "--format", "json", REUSE).stdout)
    link = tmp_path / "again.pcap"
    os.symlink(REUSE, link)
    for again in (REUSE, str(link)):
        res = invoke("analyze", "--format", "json", REUSE, again)
        assert res.code == 0
        twice = json.loads(res.stdout)
        assert twice["capture"]["files"] == [REUSE]
        assert twice["capture"]["packets"] == once["capture"]["packets"]
        assert twice["connections"] == once["connections"]
        assert res.stderr.strip() == f"tcpflow-analyze: warning: {again} is {REUSE} again: read once"


def test_dumb_terminal_gets_no_colour(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True
    monkeypatch.setattr(cli.sys, "stdout", Tty())
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert cli.use_color(None, None) is True
    monkeypatch.setenv("TERM", "dumb")
    assert cli.use_color(None, None) is False
    assert cli.use_color(True, None) is True  # --color still wins
