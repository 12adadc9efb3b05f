"""Our history / conn_state / packet counts against Zeek's own btest baselines
for the same traces (tests/data/zeek_conn_baselines.json, copied from
zeek/zeek testing/btest/Baseline).  Skips when ../shared is absent.
"""
import json
from pathlib import Path

import pytest
from conftest import PUBLIC

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.engine import zeek
from tcpflow_analyze.views.report import build_report

BASELINES = json.loads((Path(__file__).parent / "data" / "zeek_conn_baselines.json").read_text())

# Where Zeek's baseline was made under conditions we do not model:
KNOWN = {
    # Zeek counts payload the snaplen (54) cut off as content gaps (G/g); we
    # only flag ACKs for bytes the capture never showed.
    ("zeek-tcp-retransmit-fast.pcap", "history"): "ShADadtR",
}


def likely_server_ports(options: str):
    """Zeek's likely_server_ports in the run that made a baseline: the default
    scripts' set, or with -b (bare mode) only what the scripts it loaded add
    (base/protocols/http adds HTTP's ports, ...)."""
    if "zeek -b" not in options:
        return zeek.LIKELY_SERVER_PORTS
    loaded = [name for name in zeek.LIKELY_SERVER_PORTS_BY_SCRIPT if f"base/protocols/{name}" in options]
    return frozenset().union(*(zeek.LIKELY_SERVER_PORTS_BY_SCRIPT[name] for name in loaded))
# Baselines that force Zeek's inactivity timeout to split a connection, or
# whose test splits idle connections (Zeek's tcp_inactivity_timeout): a TCP
# connection does not end by idling, so we keep one.
SPLIT_BY_ZEEK_TIMEOUT = {"zeek-ssh-client-side-half-duplex.pcap"}


def cases():
    for i, entry in enumerate(BASELINES):
        if "max_timer_expires=0" in (entry.get("zeek_options") or ""):
            continue
        yield pytest.param(entry, id=f"{entry['capture']}#{i}")


@pytest.mark.skipif(not PUBLIC.is_dir(), reason="../shared/pcaps/public not present")
@pytest.mark.parametrize("entry", list(cases()))
def test_matches_zeek_baseline(entry, monkeypatch):
    name = entry["capture"]
    monkeypatch.setattr(zeek, "LIKELY_SERVER_PORTS", likely_server_ports(entry.get("zeek_options") or ""))
    rep = build_report(analyze([str(PUBLIC / name)]))
    if name in SPLIT_BY_ZEEK_TIMEOUT:
        # Every 4-tuple Zeek logged is one of ours, with the packets of all
        # of Zeek's rows for it added up.
        zeek_pkts = {}
        for z in entry["connections"]:
            zeek_pkts[z["orig_p"]] = zeek_pkts.get(z["orig_p"], 0) + z["orig_pkts"]
        ours = {c["client"]["port"]: c["packets"]["client"] for c in rep["connections"]}
        assert ours == zeek_pkts
        return
    ours = {(c["client"]["port"], c["server"]["port"]): c for c in rep["connections"]}
    for z in entry["connections"]:
        if z.get("orig_p") is None:
            assert len(rep["connections"]) == 1
            c = next(iter(rep["connections"]))
        else:
            c = ours[(z["orig_p"], z["resp_p"])]
            assert (c["client"]["ip"], c["server"]["ip"]) == (z["orig_h"], z["resp_h"])
        assert c["history"] == KNOWN.get((name, "history"), z["history"])
        if z.get("conn_state"):
            assert c["conn_state"] == z["conn_state"]
        if z.get("orig_pkts") is not None:
            assert (c["packets"]["client"], c["packets"]["server"]) == (z["orig_pkts"], z["resp_pkts"])
