"""The HTML report: one self-contained file, checked for structure and drawn
by a real headless browser when one is installed."""
import html
import json
import re
import shutil
import struct
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from clirun import invoke
from conftest import ROOT, SAMPLES

from tcpflow_analyze import detectors
from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.views.report import build_report
from tcpflow_analyze.render.html import MAX_GROUPS, MAX_LADDERS, anomaly_connection_ids, render_html
from tcpflow_analyze.render.palette import HTML_STATE
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
    # The connections are data for the table's script, not rows of HTML.
    assert '<table class="conns">' in doc and len(conn_data(doc)["rows"]) == len(report["connections"])
    assert p.count["tr"] == 2 + 1 + 3 + 4   # findings (header, 1 type), conns header, states, facts
    # The ladder draws the RFC states and the TIME_WAIT socket's old ACK.
    ladder = doc[doc.index('id="ladder-1"'):doc.index('id="ladder-2"')]
    for state in ("SYN_SENT", "ESTABLISHED", "FIN_WAIT_1", "FIN_WAIT_2", "TIME_WAIT", "CLOSE_WAIT → LAST_ACK"):
        assert f">{state}</text>" in ladder
    assert ladder.count('class="amark"') == 1 and ">R seq 36</text>" in ladder


def conn_data(doc):
    return json.loads(re.search(r'<script type="application/json" id="conn-data">(.*?)</script>', doc, re.S).group(1))


def test_rows_are_data_with_values(syn_to_time_wait):
    data = conn_data(syn_to_time_wait[3])
    # Counts and durations as numbers, for the script to sort by value.
    row = next(r for r in data["rows"] if r[0] == 1)
    assert row[1:3] == ["10.201.0.1:40001", "10.201.0.2:8080"]
    assert row[5:7] == [6, 6] and row[11] == 0.551197
    assert [data["types"][t] for t in row[15]] == ["syn_to_time_wait"]


def test_text_is_escaped():
    report, analysis, ladders = build("closed_port.pcap")
    report["anomalies"][0]["message"] = "<script>alert('x')</script> & more"
    doc = render_html(report, state_timelines(analysis), ladders)
    assert "<script>alert" not in doc
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more" in doc
    assert not parse(doc).errors
    # A name in the embedded connections cannot end its script element.
    report["connections"] = [dict(c, history="</script><b>x") for c in report["connections"]]
    doc = render_html(report, state_timelines(analysis), ladders)
    assert "</script><b>" not in doc and not parse(doc).errors
    assert conn_data(doc)["rows"][0][13] == "</script><b>x"


def test_ladder_cap_and_round_robin():
    report = {"anomalies": [{"connections": list(range(1, 301))}, {"connections": [500]},
                            {"connections": [2, 3, 501]}]}
    assert anomaly_connection_ids(report, 6) == [1, 500, 2, 3, 501, 4]
    # The critical finding gets its ladder first, wherever it is listed.
    report["anomalies"].append({"severity": "critical", "connections": [900]})
    assert anomaly_connection_ids(report, 3) == [900, 1, 500]
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
    assert len(conn_data(doc)["rows"]) == 100
    assert ("500 of 600 connections are not in this table (only the first 100 are embedded in this page); "
            "<code>--format json</code> or <code>--format csv</code> lists every connection.") in doc
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
    for state in ("CLOSE_WAIT", "ESTABLISHED"):
        assert tuple(int(HTML_STATE[state][i:i + 2], 16) for i in (1, 3, 5)) in colours, state


# ---------------------------------------------------------------------- a busy host (bench/gen_capture.py)
def cli_html(*args):
    run = invoke("analyze", "--format", "html", *args, timeout=300)
    assert run.code == 0, run.stderr
    return run.stdout


@pytest.fixture(scope="module")
def busy(bench_200k):
    """The HTML of a generated busy host (conftest.bench_200k: a TIME_WAIT
    storm, hundreds of refused and unanswered connections)."""
    return cli_html(bench_200k)


def findings_rows(doc):
    table = re.search(r'<table class="findings">.*?</table>', doc, re.S).group(0)
    return re.findall(r'<span class="badge" style="--c:[^"]+">(\w+)</span></td><td><a href="#type-(\w+)">', table)


def test_findings_summary_first(busy):
    p = parse(busy)
    assert not p.errors and not p.stack
    # The findings summary opens the page; the connections come last but the ladders.
    order = [busy.index(f'id="{s}"') for s in ("findings", "summary", "anomalies", "services", "timelines",
                                               "connections")]
    assert order == sorted(order)
    rows = findings_rows(busy)
    rank = {"critical": 2, "warning": 1, "info": 0}
    assert rows[0][1] == "time_wait_storm"
    assert [rank[s] for s, _ in rows] == sorted((rank[s] for s, _ in rows), reverse=True)
    # Each type: one section, its explanation once, whatever its groups.
    explanations = {d.TYPE: d.EXPLANATION for d in detectors.DETECTORS}
    for _, kind in rows:
        assert busy.count(f'id="type-{kind}"') == 1
        assert busy.count(html.escape(explanations[kind])) == 1, kind
    assert busy.count("What it means.") == len(rows) > 3


def test_anchors_resolve(busy):
    p = parse(busy)
    ids = set(re.findall(r'\bid="([^"]+)"', busy))
    assert p.refs and all(r.startswith("#") for r in p.refs)
    assert {r[1:] for r in p.refs} <= ids
    # Links to connections without a ladder point at the table, naming the row.
    linked = {int(c) for c in re.findall(r'data-conn="(\d+)"', busy)}
    assert linked and linked <= {r[0] for r in conn_data(busy)["rows"]}


def test_groups_are_capped_with_a_count(busy):
    for kind in re.findall(r'<article class="finding" id="type-(\w+)"', busy):
        section = busy[busy.index(f'id="type-{kind}"'):]
        section = section[:section.index("</article>")]
        listed = section.count("<li>")   # those past OPEN_GROUPS behind a click (<details>)
        total = int(re.search(r"<small>([\d,]+) ", section).group(1).replace(",", ""))
        assert listed == min(total, MAX_GROUPS), kind
        if total > MAX_GROUPS:
            assert f"{total - MAX_GROUPS:,} more " in section and f"--anomaly {kind}" in section


def test_services_tables_sort(busy):
    section = busy[busy.index('id="services"'):busy.index('id="timelines"')]
    assert section.count('class="svc services sortable"') == 1 and section.count('class="svc clients sortable"') == 1
    # Each count carries its number for the sort script.
    first = re.search(r'<table class="svc services sortable">.*?<tbody><tr>(.*?)</tr>', section, re.S).group(1)
    assert re.search(r'<td class=num data-v="\d+">[\d,]+</td>', first)


def legend_counts(doc, host):
    svg = re.search(rf'<svg class="timeline"[^>]*aria-label="states over time for {re.escape(host)}">.*?</svg>',
                    doc, re.S).group(0)
    return {m[0]: int(m[1].replace(",", "")) for m in re.findall(r'class="lg">(\w+) ([\d,]+)/', svg)}


def test_charts_obey_the_filters(bench_200k):
    doc = cli_html(bench_200k, "--port", "443", "--since", "+1", "--until", "+2")
    data = conn_data(doc)
    assert data["rows"] and all(r[2].endswith(":443") or r[1].endswith(":443") for r in data["rows"])
    hosts = re.findall(r'aria-label="states over time for ([^"]+)"', doc)
    endpoints = Counter()
    for r in data["rows"]:
        for addr, state in ((r[1], r[3]), (r[2], r[4])):
            endpoints[addr.rstrip("?").rsplit(":", 1)[0].strip("[]"), data["states"][state]] += 1
    # Each chart's end counts are those of the connections the filters kept.
    assert hosts and {h for h, _ in endpoints} >= set(hosts)
    for host in hosts:
        want = {s: n for (h, s), n in endpoints.items() if h == host and s != "CLOSED"}
        assert {s: n for s, n in legend_counts(doc, host).items() if n} == want, host
    # The time axis is the window asked for.
    assert '>+1s</text>' in doc and '>+0.5s</text>' in doc
    services = doc[doc.index('id="services"'):doc.index('id="timelines"')]
    assert all(s.endswith(":443") for s in re.findall(r"<tr><td>([^<]+)</td><td class=num", services.split(
        'class="svc clients')[0]))


def test_min_severity_hides_lesser_findings(bench_200k):
    doc = cli_html(bench_200k, "--min-severity", "warning")
    kinds = [k for _, k in findings_rows(doc)]
    assert "time_wait_storm" in kinds and "port_reuse_in_time_wait" not in kinds
    assert 'id="type-port_reuse_in_time_wait"' not in doc
    assert re.search(r"--min-severity warning: [\d,]+ info findings? hidden", doc)


def test_folded_connections_are_counted_not_shown(bench_200k):
    doc = cli_html(bench_200k, "--max-connections", "500", "--max-report-connections", "1000")
    notices = doc[doc.index('id="notices"'):doc.index('id="findings"')]
    assert "connections folded into per-service counts" in notices
    listed = len(conn_data(doc)["rows"])
    total = int(re.search(r"<h2>Connections \(([\d,]+)\)", doc).group(1).replace(",", ""))
    assert listed < total
    assert (f"{total - listed:,} of {total:,} connections are not in this table (folded into per-service "
            f"counts: --max-report-connections); <code>--format json</code> or "
            f"<code>--format csv</code>") in doc


def test_hundred_thousand_connections_are_data_not_dom():
    """100,000 connections (the time_wait_storm sample's 600, repeated with
    new ids): the page carries them all as data and draws none as rows."""
    report, analysis, ladders = build("time_wait_storm.pcap")
    base = list(report["connections"])
    report["connections"] = [dict(base[i % len(base)], id=i + 1) for i in range(100_000)]
    report["summary"]["connections"] = report["summary"]["connections_total"] = 100_000
    doc = render_html(report, state_timelines(analysis), ladders)
    data = conn_data(doc)
    assert len(data["rows"]) == 100_000 and data["rows"][-1][0] == 100_000
    assert doc.count("<tr") < 50 and "not in this table" not in doc
    assert len(doc) < 120 * 100_000
    doc = render_html(report, state_timelines(analysis), ladders, max_rows=60_000)
    assert len(conn_data(doc)["rows"]) == 60_000
    assert "40,000 of 100,000 connections are not in this table (only the first 60,000 are embedded" in doc


def test_legend_labels_fit():
    report, analysis, ladders = build("time_wait_storm.pcap")
    view = state_timelines(analysis)
    for host in view["hosts"]:
        for s in host["states"].values():
            s["peak"], s["at_end"] = s["peak"] * 1_000_003, s["at_end"] * 1_000_003
    doc = render_html(report, view, ladders)
    for svg in re.findall(r'<svg class="timeline".*?</svg>', doc, re.S):
        width = int(re.search(r'width="(\d+)"', svg).group(1))
        for x, label in re.findall(r'<text x="([\d.]+)" y="[\d.]+" class="lg">([^<]+)</text>', svg):
            # The legend is monospace 11px: at most 0.61 em a character.
            assert float(x) + 6.71 * len(label) <= width, label


@pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium for the headless-browser check")
def test_headless_browser_table_is_usable(busy, tmp_path):
    """The busy host's page in a real browser: rows drawn a screenful at a
    time, sorting, filtering, a link to a connection, legends inside their
    charts."""
    sys.path.insert(0, str(ROOT / "bench"))
    from html_browser import Browser
    page = tmp_path / "busy.html"
    page.write_text(busy, encoding="utf-8")
    total = len(conn_data(busy)["rows"])
    browser = Browser(1400, 1200)
    try:
        browser.call("Page.enable", page=True)
        browser.call("Page.navigate", {"url": page.as_uri()}, page=True)
        browser.wait_event("Page.loadEventFired", timeout=120)
        ev = browser.evaluate
        drawn = ev('document.querySelectorAll("#conn-box tbody tr[id]").length')
        assert 10 < drawn < 200 < total
        # The drawn rows fill the box (it is empty, and short, when the script starts).
        assert drawn * 24 >= ev('document.getElementById("conn-box").clientHeight')
        assert ev('document.getElementById("conn-count").textContent') == f"Showing {total:,} of {total:,}."
        # Sort by id, descending on the second click.
        ev('var th = document.querySelector("#conn-box thead th"); th.click(); th.click()')
        last = max(r[0] for r in conn_data(busy)["rows"])
        assert ev('document.querySelector("#conn-box tbody tr[id]").id') == f"conn-{last}"
        # Filter: every drawn row holds the text.
        ev('var f = document.getElementById("conn-filter"); f.value = "CLOSE_WAIT"; '
           'f.dispatchEvent(new Event("input"))')
        texts = ev('Array.from(document.querySelectorAll("#conn-box tbody tr[id]")).map(r => r.textContent)')
        assert texts and all("CLOSE_WAIT" in t for t in texts)
        # A connection link of a finding scrolls the table to that row.
        cid = ev('(function () { var a = document.querySelectorAll("a[data-conn]"); a = a[a.length - 1]; '
                 'a.click(); return a.getAttribute("data-conn"); })()')
        assert ev(f'document.querySelector("#conn-{cid}.hit") !== null')
        # No legend label runs past its chart.
        overflow = ev('Array.from(document.querySelectorAll("svg.timeline")).flatMap(function (svg) { '
                      'var w = svg.viewBox.baseVal.width; return Array.from(svg.querySelectorAll("text.lg"))'
                      '.filter(function (t) { var b = t.getBBox(); return b.x + b.width > w; })'
                      '.map(function (t) { return t.textContent; }); })')
        assert overflow == []
    finally:
        browser.close()
