"""Nothing silent in the views (issue #15): `timewait`, `states`, `services`
and `ladder` say what the analysis could not see -- a damaged capture,
evicted connections -- as `analyze` does, in the same words
(views.findings): one stderr line whatever the format (and with -o), the
notices at the top of the text, a `notices` list in the JSON document; a
clean capture gets none."""
import json
import re

import pytest
from clirun import invoke
from conftest import PUBLIC, SAMPLES

from tcpflow_analyze.analysis import AnalysisOptions, analyze
from tcpflow_analyze.views.findings import analysis_notices, notice_line

TRUNCATED = PUBLIC / "synthetic-cut-mid-record.pcap"
# 600 connections, many at once: --max-connections 5 evicts most of them.
BUSY = SAMPLES / "time_wait_storm.pcap"
# A kernel-made capture with packets taken out (scripts/make_lossy.py).
LOSSY = SAMPLES / "lossy_close_mix.pcap"
CLEAN = SAMPLES / "close_wait_leak.pcap"

# Each view, with what it needs to draw one connection of these captures.
VIEWS = {"timewait": ("timewait",), "states": ("states",), "states --at": ("states", "--at", "end"),
         "services": ("services",), "ladder": ("ladder", "--conn", "1")}
LABEL = re.compile(r"^(evicted|folded|truncated|no_tcp|skipped|capture_loss) {2,}\S")


def _capture(path):
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return str(path)


def _expected(path, **options) -> list[dict]:
    """The notices `analyze` gives this capture (its report's summary)."""
    args = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
    return json.loads(invoke("analyze", "--format", "json", *args, path).stdout)["summary"]["notices"]


def _top(text: str) -> list[str]:
    """The notice lines of a view's text: those under its title, before the
    first blank line or the view's own content."""
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if LABEL.match(line)), None)
    assert first is not None and first <= 4, lines[:6]
    out = []
    for line in lines[first:]:
        if not (LABEL.match(line) or line.startswith(" " * 13) and out):
            break
        out.append(line)
    return out


def _docs(stdout: str) -> list[dict]:
    doc = json.loads(stdout)
    return doc if isinstance(doc, list) else [doc]


@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("case", ["truncated", "evicted", "capture_loss"])
def test_each_view_says_what_it_could_not_see(view, case, tmp_path):
    if case == "truncated":
        path, extra = _capture(TRUNCATED), ()
        want = _expected(path)
    elif case == "capture_loss":
        path, extra = _capture(LOSSY), ()
        want = _expected(path)
    else:
        path, extra = _capture(BUSY), ("--max-connections", "5")
        want = _expected(path, max_connections=5)
    assert [n["kind"] for n in want] == [case]
    args = VIEWS[view]
    line = notice_line(want, "the output's top")
    # Text: the notice's message at the top, and the one stderr line.
    res = invoke(*args, *extra, path, env={"COLUMNS": "80"})
    assert res.code == 0, res.stderr
    assert res.stderr.strip() == line
    top = _top(res.stdout)
    assert top[0].startswith(case) and " ".join(" ".join(top).split()[1:]) == want[0]["message"]
    # JSON, written to a file: the notices in the document, the line still on stderr.
    out = tmp_path / "view.json"
    res = invoke(*args, "--format", "json", "-o", out, *extra, path)
    assert res.code == 0 and res.stdout == ""
    assert res.stderr.strip() == line
    for doc in _docs(out.read_text()):
        assert doc["notices"] == want


@pytest.mark.parametrize("view", VIEWS)
def test_a_clean_capture_has_no_notice(view):
    path = _capture(CLEAN)
    res = invoke(*VIEWS[view], path)
    assert res.code == 0 and res.stderr == ""
    assert not any(LABEL.match(line) for line in res.stdout.splitlines())
    res = invoke(*VIEWS[view], "--format", "json", path)
    assert all(doc["notices"] == [] for doc in _docs(res.stdout))


def test_services_says_eviction_and_folding_in_the_notices_words():
    # One wording (views.findings): the services view no longer has its own
    # lines on eviction, folding or damage; it keeps what its columns miss.
    path = _capture(BUSY)
    res = invoke("services", "--format", "json", "--max-connections", "50", "--max-report-connections", "100", path)
    doc = json.loads(res.stdout)
    want = _expected(path, max_connections=50, max_report_connections=100)
    assert [n["kind"] for n in doc["notices"]] == ["evicted", "folded"] and doc["notices"] == want
    assert not any("evicted" in u or "finished early" in u or "truncated" in u for u in doc["unseen"])


def test_analysis_notices_match_the_reports():
    # Built from the analysis alone, without a report: the same notices.
    for path, options in ((TRUNCATED, {}), (LOSSY, {}),
                          (BUSY, {"max_connections": 5, "max_report_connections": 100})):
        path = _capture(path)
        analysis = analyze([path], AnalysisOptions(**options))
        analysis.stats.files = [path]
        assert analysis_notices(analysis) == _expected(path, **options)
