"""model.connection.ended_history: an ended endpoint's state history, kept
compact on the compiled core (``Transitions``), reads as the tuple it stands
for -- every reader (views, detectors, timers, the wire) indexes, slices,
iterates and extends it as one."""
import pickle

import pytest
from conftest import SAMPLES

from tcpflow_analyze import _core
from tcpflow_analyze.analysis import analyze
from tcpflow_analyze.engine import wire
from tcpflow_analyze.model.connection import ended_history
from tcpflow_analyze.model.states import CLOSED, ESTABLISHED, SYN_SENT, TIME_WAIT, UNKNOWN

HISTORIES = [
    [],
    [1704067200.000502, CLOSED],
    [0.0, SYN_SENT, 1e-6, ESTABLISHED, 4294967295.999999, TIME_WAIT, 4294967355.999999, CLOSED],
    [1.5, UNKNOWN, 1.5, ESTABLISHED, 2.25, CLOSED],
]


@pytest.mark.parametrize("flat", HISTORIES)
def test_reads_as_its_tuple(flat):
    h, t = ended_history(flat), tuple(flat)
    assert len(h) == len(t) and bool(h) == bool(t)
    assert list(h) == list(t) and h == t and tuple(h) == t
    assert [type(x) for x in h] == [type(x) for x in t]
    for i in range(-len(t), len(t)):
        assert h[i] == t[i] and type(h[i]) is type(t[i])
    for s in (slice(None, None, 2), slice(1, None, 2), slice(None, -2), slice(-2, None)):
        assert h[s] == t[s]
    for i in (len(t), -len(t) - 1):
        with pytest.raises(IndexError):
            h[i]
    assert h + (9.0, CLOSED) == t + (9.0, CLOSED)
    assert pickle.loads(pickle.dumps(h)) == t
    assert h != list(t)   # as a tuple is not its list


def test_the_compiled_core_keeps_it_compact():
    h = ended_history([1.0, SYN_SENT, 2.0, CLOSED])
    if "model.connection" in _core.compiled_modules():
        from tcpflow_analyze.model.connection import history_from_block
        assert type(h).__name__ == "Transitions"
        assert type(h + (3.0, CLOSED)) is type(h)
        # The wire's way: the C memory's bytes, and back.
        assert len(h.block()) == 2 * 9
        back = history_from_block(h.block())
        assert type(back) is type(h) and back == h
        assert history_from_block(ended_history([]).block()) == ()
    else:
        assert type(h) is tuple


def test_ended_connections_travel_and_stay_compact():
    # The wire carries a compiled history as its C memory's bytes and makes
    # it a Transitions again on arrival; the pure build's stay a list (live)
    # or a tuple (ended).
    conns = analyze([str(SAMPLES / "time_wait_storm.pcap"), str(SAMPLES / "syn_flood.pcap")]).connections
    back = wire.decode(wire.encode(conns))
    assert len(back) == len(conns)
    kinds = set()
    for c, b in zip(conns, back):
        for ep, got in ((c.client, b.client), (c.server, b.server)):
            assert type(got.trans_flat) is type(ep.trans_flat)
            assert tuple(got.trans_flat) == tuple(ep.trans_flat)
            kinds.add(type(ep.trans_flat).__name__)
    assert kinds - {"list"}   # ended ones are there


def test_a_history_grows_by_set_state_and_keeps_what_a_list_would():
    # The state machine's one writer (set_state) on a history with room for
    # eight changes (compiled: model.connection.new_history): past its room,
    # a timestamp that goes backwards (clamped to the last change's), ended
    # (its room given back), then a timer's change after the end.
    from tcpflow_analyze.engine.endpoint import set_state
    from tcpflow_analyze.model.connection import Endpoint
    ep = Endpoint(b"\x0a\x00\x00\x01", 40000, CLOSED, 1.0)
    want = [1.0, CLOSED]
    states = [SYN_SENT, ESTABLISHED, CLOSED, UNKNOWN] * 5
    for i, state in enumerate(states):
        ts = 1.0 + i * 0.25 if i != 7 else 0.5
        set_state(ep, state, ts)
        want += [max(ts, want[-2]), state]
        assert tuple(ep.trans_flat) == tuple(want) and ep.state_time == want[-2]
    if "model.connection" in _core.compiled_modules():
        from tcpflow_analyze.model.connection import history_from_block
        assert history_from_block(ep.trans_flat.block()) == tuple(want)   # with room to spare
    ep.trans_flat = ended_history(ep.trans_flat)
    assert ep.trans_flat == tuple(want)
    set_state(ep, TIME_WAIT, 99.0)
    assert tuple(ep.trans_flat) == tuple(want) + (99.0, TIME_WAIT) and ep.tw_entries == 1
    assert pickle.loads(pickle.dumps(ep.trans_flat)) == tuple(want) + (99.0, TIME_WAIT)
