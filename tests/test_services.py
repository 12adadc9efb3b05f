"""The services view (per server ip:port, per client host) and the handshake
times of the connection record, on captures the Linux kernel made and on
public ones; the truths are read from the packets with dpkt and from the
samples' ss output (``*.truth.json``)."""
from __future__ import annotations

import csv
import io
import json
import re
import socket
from collections import Counter, defaultdict
from pathlib import Path

import dpkt
import pytest
from clirun import invoke
from conftest import PUBLIC, SAMPLES

from tcpflow_analyze.analysis import AnalysisOptions, analyze
from tcpflow_analyze.render import services as services_text
from tcpflow_analyze.views import record, services

SYN_RETRANSMIT = PUBLIC / "suricata-tcp-syn-retransmit-with-ts.pcap"
needs_public = pytest.mark.skipif(not SYN_RETRANSMIT.exists(), reason="../shared/pcaps/public is absent")


def sample(name: str) -> str:
    return str(SAMPLES / f"{name}.pcap")


def truth(name: str) -> dict:
    return json.loads((SAMPLES / f"{name}.truth.json").read_text())


def handshakes(path) -> dict:
    """(client ip, port, server ip, port) -> (handshake RTT, connect time, SYN
    retries), from the packets: the last SYN before the first SYN-ACK, the
    first SYN, the SYNs less one."""
    syns, synacks = defaultdict(list), {}
    with open(path, "rb") as f:
        for ts, buf in dpkt.pcap.Reader(f):
            ip = dpkt.ethernet.Ethernet(buf).data
            if not isinstance(ip, (dpkt.ip.IP, dpkt.ip6.IP6)) or not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            family = socket.AF_INET6 if len(ip.src) == 16 else socket.AF_INET
            key = (socket.inet_ntop(family, ip.src), tcp.sport, socket.inet_ntop(family, ip.dst), tcp.dport)
            if tcp.flags & dpkt.tcp.TH_SYN and not tcp.flags & dpkt.tcp.TH_ACK:
                syns[key].append(ts)
            elif tcp.flags & dpkt.tcp.TH_SYN:
                synacks.setdefault((key[2], key[3], key[0], key[1]), ts)
    out = {}
    for key, answer in synacks.items():
        before = [t for t in syns[key] if t <= answer]
        out[key] = (answer - before[-1], answer - before[0], len(syns[key]) - 1)
    return out


def entries(path) -> dict:
    conns = analyze([path]).connections
    return {(e["client"]["ip"], e["client"]["port"], e["server"]["ip"], e["server"]["port"]): e
            for e in (record.connection_entry(c, cid) for c, cid in record.numbered(conns))}


# ---------------------------------------------------------------------- the record
def test_handshake_rtt_is_the_packets_syn_to_syn_ack():
    path = sample("time_wait_storm")
    want = handshakes(path)
    got = entries(path)
    assert len(want) == len(got) == 600
    for key, (rtt, connect, retries) in want.items():
        e = got[key]
        assert e["handshake_rtt"] == pytest.approx(rtt, abs=1e-6)
        assert e["connect_time"] == pytest.approx(connect, abs=1e-6)
        assert e["syn_retries"] == retries == 0


@needs_public
def test_a_retried_syn_times_the_rtt_from_the_retry_and_connect_from_the_first():
    (key, (rtt, connect, retries)), = handshakes(SYN_RETRANSMIT).items()
    e = entries(str(SYN_RETRANSMIT))[key]
    assert retries == e["syn_retries"] == 1
    assert connect > 0.9  # the first SYN was lost: a 1 s retransmission timeout
    assert e["connect_time"] == pytest.approx(connect, abs=1e-6)
    assert e["handshake_rtt"] == pytest.approx(rtt, abs=1e-6)
    assert e["handshake_rtt"] < e["connect_time"]


def test_no_syn_ack_no_handshake_times():
    e, = entries(sample("syn_dropped")).values()
    assert e["handshake_rtt"] is None and e["connect_time"] is None
    # The ss truth: still SYN_SENT after the SYN and 2 retransmissions.
    assert e["syn_retries"] == 2
    e, = entries(sample("midstream")).values()
    assert e["handshake_rtt"] is None and e["syn_retries"] == 0


def test_the_csv_has_retransmissions_and_the_handshake():
    for column in ("client_retransmissions", "server_retransmissions", "handshake_rtt", "connect_time",
                   "syn_retries"):
        assert column in record.CSV_COLUMNS
    conns = analyze([sample("bulk_loss")]).connections
    conn, cid = max(record.numbered(conns), key=lambda pair: pair[0].server.retransmits + pair[0].client.retransmits)
    row = dict(zip(record.CSV_COLUMNS, record.csv_row(record.connection_entry(conn, cid))))
    assert int(row["server_retransmissions"]) + int(row["client_retransmissions"]) > 0
    assert row["connect_time"] not in (None, "")


def test_the_schema_knows_the_new_fields():
    schema = json.loads(Path(record.__file__).with_name("report.schema.json").read_text())
    props = schema["properties"]["connections"]["items"]["properties"]
    for name in ("retransmissions", "handshake_rtt", "connect_time", "syn_retries"):
        assert name in props
    assert [leaf.path[0] for leaf in record.LEAVES if leaf.path[0] not in props] == []


# ---------------------------------------------------------------------- the view
def view(*names, **kw):
    return services.build(analyze([sample(n) for n in names], AnalysisOptions(**kw.pop("options", {}))), **kw)


def row(rows, name):
    key = "service" if "service" in rows[0] else "host"
    found = [r for r in rows if r[key] == name]
    assert found, f"no row {name} in {[r[key] for r in rows]}"
    return found[0]


def test_closed_port_is_refused_on_its_service():
    doc = view("closed_port")
    svc = row(doc["services"], "10.201.0.2:8081")
    assert (svc["connections"], svc["refused"], svc["reset"], svc["unanswered"], svc["open"]) == (1, 1, 0, 0, 0)
    client = row(doc["clients"], "10.201.0.1")
    assert client["refused"] == 1 and client["ports_in_use"] == 0


def test_a_dropped_syn_is_unanswered_and_its_port_still_held():
    doc = view("syn_dropped")
    svc = row(doc["services"], "10.201.0.2:8080")
    assert (svc["unanswered"], svc["refused"], svc["handshake_rtt"]["count"]) == (1, 0, 0)
    client = row(doc["clients"], "10.201.0.1")
    held = Counter(c["client"]["state"] for c in truth("syn_dropped")["connections"] if c["client"]["state"] != "CLOSED")
    assert client["states"] == dict(held) == {"SYN_SENT": 1}
    assert client["ports_in_use"] == 1


@needs_public
def test_connect_time_where_a_syn_was_retried():
    doc = services.build(analyze([str(SYN_RETRANSMIT)]))
    svc = row(doc["services"], "10.38.251.147:80")
    (_, connect, _), = handshakes(SYN_RETRANSMIT).values()
    assert svc["connect_time"]["retried"] == 1
    assert svc["connect_time"]["max"] == pytest.approx(connect, abs=1e-6)
    assert svc["handshake_rtt"]["median"] < svc["connect_time"]["max"]
    # tshark -z conv,tcp (reference/): 254 frames in the conversation.
    conv = (PUBLIC / "reference" / "suricata-tcp-syn-retransmit-with-ts.pcap.conv.txt").read_text()
    frames = re.search(r"10\.38\.251\.147:80\s+(\d+)\s+\S+ \S+\s+(\d+)\s+\S+ \S+\s+(\d+)", conv)
    assert svc["packets"]["client"] + svc["packets"]["server"] == int(frames[3]) == 254
    assert sorted(svc["packets"].values()) == sorted(map(int, frames.group(1, 2)))
    assert svc["retransmissions"] > 0 and svc["retransmission_rate"] == pytest.approx(
        svc["retransmissions"] / svc["segments"], abs=1e-6)


def test_close_wait_held_by_the_leaking_service():
    doc = view("close_wait_leak")
    want = sum(c["server"]["state"] == "CLOSE_WAIT" for c in truth("close_wait_leak")["connections"])
    svc = row(doc["services"], "10.201.0.2:8080")
    assert svc["close_wait"] == want == 3
    assert svc["open"] == 4  # the 3 in CLOSE_WAIT and one ESTABLISHED


def test_time_wait_held_on_the_client_host():
    doc = view("time_wait_storm")
    want = sum(c["client"]["state"] == "TIME_WAIT" for c in truth("time_wait_storm")["connections"])
    client = row(doc["clients"], "10.201.0.1")
    assert client["time_wait"] == client["ports_in_use"] == client["ports_peak"] == want == 600
    assert client["states"] == {"TIME_WAIT": 600}
    assert row(doc["services"], "10.201.0.2:8080")["time_wait"] == 0


def test_folded_and_evicted_connections_are_counted_and_said():
    whole = view("time_wait_storm")
    capped = view("time_wait_storm", options={"max_connections": 50, "max_report_connections": 100})
    assert capped["folded"] > 0 and capped["evicted"] > 0
    for table, name in (("services", "10.201.0.2:8080"), ("clients", "10.201.0.1")):
        a, b = row(whole[table], name), row(capped[table], name)
        assert b["connections"] == a["connections"] == 600
        assert b["time_wait"] == a["time_wait"]
    # Said in the notices' words (views.findings), as every output says it.
    notices = {n["kind"]: n["message"] for n in capped["notices"]}
    assert notices["folded"].startswith(f"{capped['folded']:,} finished connections folded")
    assert notices["evicted"].startswith(f"{capped['evicted']:,} connections evicted")
    assert "not in resets" in " ".join(capped["unseen"])
    assert whole["unseen"] == whole["notices"] == []


def test_sort_and_top():
    names = ("closed_port", "close_wait_leak", "time_wait_storm", "syn_dropped")
    doc = view(*names, sort="refused", top=1, by="service")
    assert "clients" not in doc
    assert [r["service"] for r in doc["services"]] == ["10.201.0.2:8081"]
    assert doc["services_total"] == 2 and doc["services_left_out"] == 1
    doc = view(*names, sort="connections", top=None)
    assert [r["connections"] for r in doc["services"]] == sorted((r["connections"] for r in doc["services"]),
                                                                 reverse=True)
    # Rows without a handshake time go last when sorted by it.
    doc = view(*names, sort="rtt", top=None)
    assert doc["services"][-1]["handshake_rtt"]["median"] is None


def test_the_table_fits_and_keeps_the_sort_column():
    doc = view("closed_port", "close_wait_leak", "time_wait_storm", sort="close_wait")
    wide = services_text.render(doc)
    narrow = services_text.render(doc, width=70)
    assert max(map(len, wide.splitlines()[1:])) > 70
    table_lines = [line for line in narrow.splitlines() if not line.startswith(("services in", "("))]
    assert max(map(len, table_lines)) <= 70
    assert "CLOSE" in narrow and "narrow terminal:" in narrow


# ---------------------------------------------------------------------- the command
def test_services_command_formats():
    paths = [sample("closed_port"), sample("close_wait_leak"), sample("time_wait_storm")]
    table = invoke("services", *paths)
    assert table.code == 0, table.stderr
    assert "10.201.0.2:8081" in table.stdout and "10.201.0.1" in table.stdout
    doc = json.loads(invoke("services", "--format", "json", *paths).stdout)
    assert doc["sort"] == "connections" and doc["services_total"] == 2
    rows = list(csv.DictReader(io.StringIO(invoke("services", "--format", "csv", *paths).stdout)))
    assert {r["table"] for r in rows} == {"service", "client"}
    by_name = {r["name"]: r for r in rows}
    assert by_name["10.201.0.2:8081"]["refused"] == "1"
    assert by_name["10.201.0.1"]["time_wait"] == "600"
    assert "e-" not in "".join(r["handshake_rtt_median"] for r in rows)


def test_services_command_sort_top_by_and_filters():
    paths = [sample("closed_port"), sample("close_wait_leak"), sample("time_wait_storm")]
    res = invoke("services", "--sort", "refused", "--top", "1", "--by", "service", *paths)
    assert res.code == 0
    lines = res.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("---"))
    assert lines[first + 1].startswith("10.201.0.2:8081")
    assert "(1 more service left out: --top N lists more)" in res.stdout
    assert "ports" not in res.stdout  # --by service: no client table
    res = invoke("services", "--format", "csv", "--top", "1", *paths)
    assert "left out 1 service and 0 client hosts" in res.stderr
    doc = json.loads(invoke("services", "--format", "json", "--port", "8081", *paths).stdout)
    assert [r["service"] for r in doc["services"]] == ["10.201.0.2:8081"]
    for bad in (("--top", "0"), ("--sort", "nope"), ("--by", "server")):
        res = invoke("services", *bad, *paths)
        assert res.code == 2 and "Traceback" not in res.stderr


def test_two_jobs_same_services():
    paths = [sample(n) for n in ("closed_port", "close_wait_leak", "time_wait_storm", "syn_dropped", "port_reuse")]
    one = invoke("services", "--format", "json", "--jobs", "1", *paths)
    two = invoke("services", "--format", "json", "--jobs", "2", *paths)
    assert one.code == two.code == 0
    assert one.stdout == two.stdout
