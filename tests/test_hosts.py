"""Each host's address is one bytes object, shared by every endpoint at it
(ConnectionTable.hosts), in both builds."""
from conftest import SAMPLES

from tcpflow_analyze.analysis import analyze


def test_endpoints_at_one_address_share_its_bytes():
    # Kernel-made: hundreds of connections between two hosts.
    conns = analyze([str(SAMPLES / "time_wait_storm.pcap")]).connections
    addrs = [ep.addr for c in conns for ep in (c.client, c.server)]
    assert len(addrs) > 400
    assert len({id(a) for a in addrs}) == len(set(addrs)) <= 4
