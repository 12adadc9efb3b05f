"""The views' JSON writer and the step series under the state timelines:
the same documents and the same sweeps as the straightforward versions."""
import json
import math

import pytest
from conftest import SAMPLES
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.model.text import ip_text
from tcpflow_analyze.render.json_out import iter_view_dumps
from tcpflow_analyze.model.states import CLOSED, STATE_NAMES
from tcpflow_analyze.analysis.timeline import StepSeries, sweep, sweep_sorted
from tcpflow_analyze.views.states import state_timelines

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                     st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=8))
_docs = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5),
    st.dictionaries(st.one_of(st.text(max_size=5), st.integers(-9, 9), st.booleans()), inner, max_size=5)),
    max_leaves=30)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(doc=_docs)
def test_view_json_is_the_document(doc):
    text = "".join(iter_view_dumps(doc))
    assert json.loads(text) == json.loads(json.dumps(doc))
    assert text.endswith("\n")


def test_view_json_layout_and_refusals():
    doc = {"hosts": [{"host": "a", "states": {"X": {"series": StepSeries([1.0000004, 2.5], [1, 0]), "peak": 1}}}],
           "names": ["a", "b"], "empty": [], "none": {}}
    assert "".join(iter_view_dumps(doc)) == (
        '{\n  "hosts": [\n    {\n      "host": "a",\n      "states": {\n        "X": {\n'
        '          "series": [[1.0, 1], [2.5, 0]],\n          "peak": 1\n        }\n      }\n    }\n  ],\n'
        '  "names": ["a", "b"],\n  "empty": [],\n  "none": {}\n}\n')
    for bad in (float("nan"), {"x": [float("inf")]}, {"x": {"y": -float("inf")}}):
        with pytest.raises(ValueError):
            "".join(iter_view_dumps(bad))
    with pytest.raises(TypeError):
        "".join(iter_view_dumps({"x": object()}))


def _reference_sweep(spans):
    """Sweep as events sorted by (time, leave before enter)."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    count = peak = 0
    peak_time, series = None, []
    for t, delta in events:
        if t == math.inf:
            break
        count += delta
        if count > peak:
            peak, peak_time = count, t
        if series and series[-1][0] == t:
            series[-1] = (t, count)
        else:
            series.append((t, count))
    return peak, peak_time, series


_times = st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.25, 7.0, math.inf])


@settings(max_examples=500, deadline=None, derandomize=True)
@given(spans=st.lists(st.tuples(_times.filter(lambda t: t < math.inf), _times), max_size=12))
def test_sweep_equals_the_event_sort(spans):
    # Ties everywhere (few distinct times), spans still open (inf), and
    # spans that stop before they start, as a sweep may be given.
    peak, when, series = sweep(spans)
    assert (peak, when, list(series)) == _reference_sweep(spans)
    peak, when, times, counts = sweep_sorted(sorted(s for s, _ in spans), sorted(e for _, e in spans))
    assert (peak, when, list(zip(times, counts))) == _reference_sweep(spans)


def _intervals(ep, end):
    """(start, stop, state) for every state the endpoint was in, up to ``end``."""
    flat = ep.trans_flat
    for i in range(0, len(flat), 2):
        stop = flat[i + 2] if i + 2 < len(flat) else end
        yield flat[i], max(stop, flat[i]), flat[i + 1]


def _reference_timelines(analysis):
    """Per host and state: the (start, stop) spans, as the timelines count them."""
    out = {}
    end = analysis.stats.end
    for conn in analysis.connections:
        for ep in (conn.client, conn.server):
            states = out.setdefault(ip_text(ep.addr), {})
            spans = list(_intervals(ep, end))
            for i, (s, e, state) in enumerate(spans):
                if state == CLOSED or (e <= s and i != len(spans) - 1):
                    continue
                states.setdefault(STATE_NAMES[state], []).append((s, math.inf if i == len(spans) - 1 else e))
    return out


@pytest.mark.parametrize("names", [["time_wait_storm"], ["port_reuse", "close_wait_leak", "syn_flood", "ipv6"]])
def test_state_timelines_sweep_each_hosts_spans(names):
    analysis = analyze([str(SAMPLES / f"{n}.pcap") for n in names])
    view = state_timelines(analysis)
    spans = _reference_timelines(analysis)
    assert [h["host"] for h in view["hosts"]] and {h["host"] for h in view["hosts"]} == set(spans)
    for h in view["hosts"]:
        assert set(h["states"]) == set(spans[h["host"]])
        for name, s in h["states"].items():
            items = spans[h["host"]][name]
            peak, when, series = _reference_sweep(items)
            assert s["series"].as_json() == [[round(t, 6), n] for t, n in series]
            assert list(s["series"]) == [(round(t, 6), n) for t, n in series]
            assert (s["peak"], s["peak_time"]) == (peak, None if when is None else round(when, 6))
            assert (s["at_end"], s["entered"]) == (sum(e == math.inf for _, e in items), len(items))
