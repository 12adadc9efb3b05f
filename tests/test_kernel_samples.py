"""Ground truth from the real Linux kernel.

Each capture in sample_pcaps/ was made by real sockets in network namespaces
(scripts/make_samples.py); its truth file holds ``ss -tan`` (or, in those
made since, ``ss -tanoi``) from each namespace at the end of the capture.
Every endpoint state we infer must equal the kernel's.  The kernel's timers
and retransmission counts: tests/test_ss_truth.py.
"""
import json

import pytest
from conftest import SAMPLES, capture_lacks_evidence

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.views.report import build_report

ALL_TRUTHS = sorted(SAMPLES.glob("*.truth.json"))
# Samples with packets deleted after the fact (scripts/make_lossy.py) or kept
# out by the capture filter (syns_only): their truth is still the kernel's,
# but the capture lacks what shows some of it.
LOSSY = [p for p in ALL_TRUTHS if capture_lacks_evidence(json.loads(p.read_text()))]
TRUTHS = [p for p in ALL_TRUTHS if p not in LOSSY]


def load(truth_path):
    truth = json.loads(truth_path.read_text())
    report = build_report(analyze([str(SAMPLES / truth["capture"])]))
    return truth, report


def endpoint_key(c):
    return (c["client"]["ip"], c["client"]["port"], c["server"]["ip"], c["server"]["port"])


@pytest.mark.parametrize("truth_path", TRUTHS, ids=lambda p: p.name.split(".")[0])
def test_states_equal_kernel_truth(truth_path):
    truth, report = load(truth_path)
    expected = [(endpoint_key(c), c["client"]["state"], c["server"]["state"]) for c in truth["connections"]]
    ours = [(endpoint_key(c), c["client"]["state"], c["server"]["state"]) for c in report["connections"]]
    # Connections the scenario did not make itself (none, normally) would show
    # up here as extra entries; every truth connection must be matched in order.
    truth_tuples = {e[0] for e in expected}
    ours_for_truth = [o for o in ours if o[0] in truth_tuples]
    assert ours_for_truth == expected


@pytest.mark.parametrize("truth_path", LOSSY, ids=lambda p: p.name.split(".")[0])
def test_lossy_capture_states_are_never_confidently_wrong(truth_path):
    """A capture that lost packets: every endpoint state equals the kernel's,
    or its connection says the states are inferred (or unknown)."""
    truth, report = load(truth_path)
    ours = {endpoint_key(c): c for c in report["connections"]}
    wrong = []
    for c in truth["connections"]:
        entry = ours[endpoint_key(c)]
        for side in ("client", "server"):
            if entry[side]["state"] != c[side]["state"] and entry["state_evidence"] == "seen":
                wrong.append((endpoint_key(c), side, c[side]["state"], entry[side]["state"]))
    assert wrong == []


def test_samples_exist():
    assert len(TRUTHS) >= 14
    assert {p.name.split(".")[0] for p in LOSSY} >= {"lossy_close_mix", "syns_only"}
