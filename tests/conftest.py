import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from tcpflow_analyze.analyzer import analyze  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "sample_pcaps"
PUBLIC = ROOT.parent / "shared" / "pcaps" / "public"


@pytest.fixture
def run_trace(tmp_path):
    """Write a pcapgen.Trace and analyze it; returns the connection list."""
    def run(trace, **opts):
        path = trace.write(str(tmp_path / "trace.pcap"))
        return analyze([path], **opts).connections
    return run


def states(conn):
    from tcpflow_analyze.states import STATE_NAMES
    return STATE_NAMES[conn.client.state], STATE_NAMES[conn.server.state]
