"""Ground truth from the real Linux kernel.

Each capture in sample_pcaps/ was made by real sockets in network namespaces
(scripts/make_samples.py); its truth file holds ``ss -tan`` from each
namespace at the end of the capture.  Every endpoint state we infer must equal
the kernel's.
"""
import json

import pytest
from conftest import SAMPLES

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.views.report import build_report

TRUTHS = sorted(SAMPLES.glob("*.truth.json"))


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


def test_samples_exist():
    assert len(TRUTHS) >= 14
