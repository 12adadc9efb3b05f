"""An endpoint's and a connection's rare fields (model.connection.EndpointRare,
ConnectionRare): shared until the first of them is set, and the shared record
never written."""
from conftest import SAMPLES

from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.model.connection import CONNECTION_RARE, RARE, ConnectionRare, EndpointRare, own_rare


def _values(rare):
    return {s: getattr(rare, s) for s in rare.__slots__}


DEFAULTS = _values(EndpointRare())


def test_the_shared_record_is_never_written_and_the_loss_is_on_the_endpoints_own():
    # Kernel-made captures where these fields move: a capture that lost
    # packets (gaps, missed bytes, holes), one seen from one side only
    # (unseen_step), a router's capture of each packet twice (duplicates),
    # RSTs (last_rst).
    owned = set()
    for name in ("lossy_close_mix.pcap", "bulk_loss.pcap", "one_sided_client.pcap", "router_any.pcap",
                 "rst_abort.pcap", "half_open_silence.pcap", "time_wait_storm.pcap"):
        for conn in analyze([str(SAMPLES / name)]).connections:
            for ep in (conn.client, conn.server):
                if ep.rare is not RARE:
                    owned.update(s for s, v in _values(ep.rare).items() if v != DEFAULTS[s])
        assert _values(RARE) == DEFAULTS, name
    assert {"missed", "gap_acks", "unseen_step", "duplicates", "last_rst"} <= owned


def test_most_endpoints_share_it():
    # A clean capture: only the endpoints that sent a RST have their own.
    for conn in analyze([str(SAMPLES / "time_wait_storm.pcap")]).connections:
        for ep in (conn.client, conn.server):
            assert ep.rare is RARE


def test_own_rare_makes_one_record_once():
    conn = analyze([str(SAMPLES / "time_wait_storm.pcap")]).connections[0]
    ep = conn.client
    assert ep.rare is RARE
    mine = own_rare(ep)
    assert mine is not RARE and ep.rare is mine and own_rare(ep) is mine
    assert _values(mine) == DEFAULTS


def test_a_connection_s_shared_record_is_never_written():
    # Kernel-made captures where a connection's rare fields move: accepted
    # and ignored RSTs, a 4-tuple reused (links between instances), the
    # challenge ACK of a rebooted peer, a SYN answered from a cookie (the
    # flood), Zeek's rows split by a RST followed by more packets.
    fresh = _values(ConnectionRare())
    owned = set()
    for name in ("rst_abort.pcap", "port_reuse.pcap", "challenge_ack_reboot.pcap", "stale_syn.pcap",
                 "syn_flood.pcap", "half_open_reboot.pcap", "time_wait_storm.pcap"):
        for conn in analyze([str(SAMPLES / name)]).connections:
            if conn.rare is not CONNECTION_RARE:
                owned.update(s for s, v in _values(conn.rare).items() if v != fresh[s])
        assert _values(CONNECTION_RARE) == fresh, name
    assert {"reset_by", "rst_time", "rst_prior", "superseded", "reused_from", "challenge_time"} <= owned
    # A clean capture's connections share it.
    assert all(c.rare is CONNECTION_RARE for c in analyze([str(SAMPLES / "client_close_first.pcap")]).connections)


def test_the_detectors_eventful_connections_are_every_one_with_an_event():
    # Kernel-made: refusals, resets, a reboot's challenge ACK, 4-tuples
    # reused from TIME_WAIT.  The detectors that look for those walk
    # base.eventful; every connection where one happened is in it, in order.
    from tcpflow_analyze.detectors.base import eventful, shared_results

    for name in ("closed_port.pcap", "rst_abort.pcap", "challenge_ack_reboot.pcap", "port_reuse.pcap",
                 "half_open_reboot.pcap"):
        a = analyze([str(SAMPLES / name)])
        with shared_results():
            listed = eventful(a)
            assert eventful(a) is listed   # worked out once per run
        assert listed == [c for c in a.connections if c.rare is not CONNECTION_RARE]
        happened = [c for c in a.connections
                    if c.rare.reset_by is not None or c.rare.challenge_time >= 0 or c.rare.reused_from is not None]
        assert happened, name
        assert all(c in listed for c in happened)
        assert eventful(a) is not listed   # outside a run: made anew
