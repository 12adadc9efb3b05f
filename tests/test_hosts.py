"""Each host's address is one bytes object, shared by every endpoint at it
(ConnectionTable.hosts), in both builds."""
import pytest
from conftest import SAMPLES
from pcapgen import frame, write_frames

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.analysis.options import AnalysisOptions
from tcpflow_analyze.model.text import ip_text


def test_endpoints_at_one_address_share_its_bytes():
    # Kernel-made: hundreds of connections between two hosts.
    conns = analyze([str(SAMPLES / "time_wait_storm.pcap")]).connections
    addrs = [ep.addr for c in conns for ep in (c.client, c.server)]
    assert len(addrs) > 400
    assert len({id(a) for a in addrs}) == len(set(addrs)) <= 4


def _many_hosts(path, n):
    # n clients (a tenth of them IPv6), each opening one connection to the
    # same server: n + 2 hosts.
    frames = []
    t = 1_700_000_000.0
    for i in range(n):
        if i % 10 == 0:
            client, server = f"fd00::{i + 1:x}", "fd00::ffff"
        else:
            client, server = f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}", "10.255.255.254"
        t += 0.001
        frames.append((t, frame(client, 40000, server, 80, "S", 1000)))
        t += 0.001
        frames.append((t, frame(server, 80, client, 40000, "SA", 5000, 1001)))
    return write_frames(path, frames)


@pytest.mark.parametrize("max_connections", [100_000, 3])
def test_every_endpoint_has_its_own_address_past_the_hosts_kept(tmp_path, max_connections):
    # 1,500 hosts: the compiled build's host table grows past its first
    # slots; with max_connections 3 it keeps 6 hosts, and starts afresh
    # hundreds of times.  Each endpoint's address is still its packets'.
    path = _many_hosts(tmp_path / "hosts.pcap", 1500)
    conns = analyze([str(path)], AnalysisOptions(max_connections=max_connections)).connections
    assert len(conns) == 1500
    for c in conns:
        alen = len(c.client.addr)
        assert alen in (4, 16)
        assert c.ckey[:alen] == c.client.addr and c.ckey[alen:2 * alen] == c.server.addr
    assert {ip_text(c.client.addr) for c in conns} == (
        {f"fd00::{i + 1:x}" for i in range(0, 1500, 10)}
        | {f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(1500) if i % 10})
    if max_connections > 1500:
        servers = {id(ep.addr) for c in conns for ep in (c.server,)}
        assert len(servers) == 2   # one object per host
