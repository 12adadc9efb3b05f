"""The HTML report: one self-contained file, checked for structure and drawn
by a real headless browser when one is installed."""
import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import SAMPLES

from tcpflow_analyze import detectors
from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.views.report import build_report
from tcpflow_analyze.render.html import MAX_LADDERS, anomaly_connection_ids, render_html
from tcpflow_analyze.views.ladder import record_ladders
from tcpflow_analyze.views.states import state_timelines

CHROMIUM = Path("/usr/bin/chromium")
VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


def build(name, limit=MAX_LADDERS):
    paths = [str(SAMPLES / name)]
    analysis = analyze(paths)
    report = build_report(analysis, detectors.run(analysis))
    ids = anomaly_connection_ids(report, limit)
    ladders = record_ladders(paths, ids, analysis=analysis) if ids else {}
    return report, analysis, ladders


class Structure(HTMLParser):
    """Tag balance, every fetchable attribute, and element counts."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.refs, self.count = [], [], [], {}

    def handle_starttag(self, tag, attrs):
        self.count[tag] = self.count.get(tag, 0) + 1
        self.refs += [v for k, v in attrs if k in ("src", "href", "action", "poster", "data", "xlink:href")]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.count[tag] = self.count.get(tag, 0) + 1
        self.refs += [v for k, v in attrs if k in ("src", "href", "xlink:href")]

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def parse(doc):
    p = Structure()
    p.feed(doc)
    p.close()
    return p


@pytest.fixture(scope="module")
def syn_to_time_wait():
    report, analysis, ladders = build("syn_to_time_wait.pcap")
    return report, analysis, ladders, render_html(report, state_timelines(analysis), ladders)


def test_self_contained(syn_to_time_wait):
    doc = syn_to_time_wait[3]
    p = parse(doc)
    assert not p.errors and not p.stack
    # Nothing is fetched: the only references are anchors inside the page.
    assert p.refs and all(r.startswith("#") for r in p.refs)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", doc, re.I)
    assert not re.search(r"@import|url\(|<link\b|<script\s+src", doc, re.I)
    ids = set(re.findall(r'\bid="([^"]+)"', doc))
    assert {r[1:] for r in p.refs} <= ids


def test_sections(syn_to_time_wait):
    report, analysis, ladders, doc = syn_to_time_wait
    p = parse(doc)
    assert doc.startswith("<!DOCTYPE html>") and "sample_pcaps/syn_to_time_wait.pcap" in doc
    # The anomaly, its explanation, and links to both connections' ladders.
    explanation = next(d.EXPLANATION for d in detectors.DETECTORS if d.TYPE == "syn_to_time_wait")
    assert "<code>syn_to_time_wait</code>" in doc and explanation in doc
    assert '<a href="#ladder-1">1</a>' in doc and '<a href="#ladder-2">2</a>' in doc
    # One timeline per host, one ladder per named connection, the sortable table.
    assert doc.count('<svg class="timeline"') == 2
    assert doc.count('<svg class="ladder-svg"') == 2 == len(ladders)
    assert '<table class="conns sortable">' in doc and "addEventListener(\"click\"" in doc
    assert p.count["tr"] == 1 + len(report["connections"]) + 2 + 5   # conns + header + states table + facts
    # The ladder draws the RFC states and the TIME_WAIT socket's old ACK.
    ladder = doc[doc.index('id="ladder-1"'):doc.index('id="ladder-2"')]
    for state in ("SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSE_WAIT → LAST_ACK"):
        assert f">{state}</text>" in ladder
    assert ladder.count('class="amark"') == 1 and ">R seq 36</text>" in ladder


def test_rows_are_sortable_by_value(syn_to_time_wait):
    doc = syn_to_time_wait[3]
    row = re.search(r'<tr id="conn-1"[^>]*>(.*?)</tr>', doc).group(1)
    # Counts and durations carry their numeric value for the sort script.
    assert '<td data-v="12">6/6</td>' in row and 'data-v="0.551197"' in row


def test_text_is_escaped():
    report, analysis, ladders = build("closed_port.pcap")
    report["anomalies"][0]["message"] = "<script>alert('x')</script> & more"
    doc = render_html(report, state_timelines(analysis), ladders)
    assert "<script>alert" not in doc
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in doc
    assert not parse(doc).errors


def test_ladder_cap_and_round_robin():
    report = {"anomalies": [{"connections": list(range(1, 301))}, {"connections": [500]},
                            {"connections": [2, 3, 501]}]}
    assert anomaly_connection_ids(report, 6) == [1, 500, 2, 3, 501, 4]
    report, analysis, ladders = build("syn_flood.pcap", limit=25)
    assert len(ladders) == 25
    doc = render_html(report, state_timelines(analysis), ladders)
    assert doc.count('<svg class="ladder-svg"') == MAX_LADDERS
    assert "5 more ladders not drawn" in doc
    assert "critical" in doc and "SYN_RECEIVED" in doc


def test_no_anomalies_and_row_cap():
    report, analysis, ladders = build("time_wait_storm.pcap")
    assert ladders == {}
    doc = render_html(report, state_timelines(analysis), ladders, max_rows=100)
    assert "No anomalies found." in doc and 'id="ladders"' not in doc
    assert doc.count('<tr id="conn-') == 100
    assert "The first 100 of 600 connections" in doc
    assert not parse(doc).errors


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def screenshot(html_path, png_path, tmp):
    subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
         f"--user-data-dir={tmp}", f"--screenshot={png_path}", "--window-size=1200,1600",
         html_path.resolve().as_uri()],
        check=True, timeout=120, capture_output=True)


@pytest.mark.skipif(not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None,
                    reason="no /usr/bin/chromium for the headless-browser check")
def test_headless_browser_draws_it(tmp_path):
    report, analysis, ladders = build("close_wait_leak.pcap")
    page = tmp_path / "report.html"
    page.write_text(render_html(report, state_timelines(analysis), ladders), encoding="utf-8")
    png = tmp_path / "report.png"
    screenshot(page, png, tmp_path / "profile")
    data = png.read_bytes()
    assert png_size(data) == (1200, 1600)
    # A blank 1200x1600 page compresses to about 9 KB; this page draws text,
    # tables and charts all over it.
    assert len(data) > 40_000
    try:
        from PIL import Image
    except ImportError:
        return
    img = Image.open(png).convert("RGB")
    white = img.convert("L").histogram()[255]
    assert 1 - white / (1200 * 1600) > 0.05
    # The state colours of the timelines and the table are on screen.
    colours = {c for _, c in img.getcolors(maxcolors=1 << 22)}
    assert (0xd1, 0x49, 0x5b) in colours   # CLOSE_WAIT
    assert (0x2e, 0x9e, 0x44) in colours   # ESTABLISHED
