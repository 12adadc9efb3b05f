#!/usr/bin/env python3
"""Make a lossy copy of a kernel-made sample: a capture that missed packets.

Usage:

    python3 scripts/make_lossy.py                       # lossy_close_mix from close_mix
    python3 scripts/make_lossy.py --source time_wait_storm --share 0.05 --seed 7

``tcpdump`` under load drops packets ("N packets dropped by kernel"): the
connections went on exactly as they did, only the capture does not show all
of it.  This deletes a seeded random subset of a sample's packets -- exactly
``round(share * packets)`` of them, chosen by ``random.Random(seed).sample``,
so the output is the same on every run -- and writes:

* ``sample_pcaps/lossy_SOURCE.pcap``: the source capture without them;
* ``sample_pcaps/lossy_SOURCE.truth.json``: the source's truth unchanged (the
  kernel's ``ss`` states: the sockets did not see the capture's loss), plus
  ``derived_from`` and ``deleted`` (the seed, the share, the deleted frame
  numbers, and how many of them carried payload, SYN, FIN or only an ACK).

Standard library only.  Classic pcap input with Ethernet/IPv4 frames (what
``make_samples.py`` writes for the IPv4 scenarios).
"""
import argparse
import json
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = os.path.join(HERE, "..", "sample_pcaps")


def read_pcap(path):
    """(global header bytes, endian, [record bytes, ...]) of a classic pcap."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise SystemExit(f"{path}: not a classic pcap file")
    records = []
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(endian + "I", data[off + 8:off + 12])[0]
        records.append(data[off:off + 16 + incl])
        off += 16 + incl
    return data[:24], endian, records


def kind(record):
    """What a frame carried, for the truth's account of the deletion:
    'syn', 'fin', 'rst', 'data', 'ack' (a bare ACK) or 'other'."""
    frame = record[16:]
    if len(frame) < 34 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
        return "other"
    ihl = (frame[14] & 0x0F) * 4
    tcp = 14 + ihl
    total = struct.unpack(">H", frame[16:18])[0]
    if len(frame) < tcp + 14:
        return "other"
    doff = (frame[tcp + 12] >> 4) * 4
    flags = frame[tcp + 13]
    payload = total - ihl - doff
    if flags & 0x04:
        return "rst"
    if flags & 0x02:
        return "syn"
    if flags & 0x01:
        return "fin"
    return "data" if payload > 0 else "ack"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", default="close_mix", help="sample name (default %(default)s)")
    ap.add_argument("--share", type=float, default=0.02, help="share of packets deleted (default %(default)s)")
    ap.add_argument("--seed", type=int, default=16, help="random seed (default %(default)s: issue 16)")
    ap.add_argument("--out", default=SAMPLES)
    args = ap.parse_args()
    src_truth_path = os.path.join(SAMPLES, f"{args.source}.truth.json")
    with open(src_truth_path) as f:
        truth = json.load(f)
    header, _endian, records = read_pcap(os.path.join(SAMPLES, truth["capture"]))
    n = len(records)
    k = round(args.share * n)
    deleted = sorted(random.Random(args.seed).sample(range(n), k))
    gone = set(deleted)
    name = f"lossy_{args.source}"
    with open(os.path.join(args.out, f"{name}.pcap"), "wb") as f:
        f.write(header)
        for i, rec in enumerate(records):
            if i not in gone:
                f.write(rec)
    kinds = {}
    for i in deleted:
        kd = kind(records[i])
        kinds[kd] = kinds.get(kd, 0) + 1
    truth = dict(truth)
    truth["scenario"] = name
    truth["capture"] = f"{name}.pcap"
    truth["derived_from"] = args.source
    truth["deleted"] = {
        "seed": args.seed, "share": args.share, "count": k, "of": n,
        "kinds": dict(sorted(kinds.items())),
        "frames": [i + 1 for i in deleted],   # 1-based, as tshark numbers frames
    }
    truth["notes"] = (f"{args.source}.pcap with {k} of its {n} packets deleted by scripts/make_lossy.py "
                      f"(--source {args.source} --share {args.share} --seed {args.seed}): a capture that "
                      f"lost packets the connections did not. The states are the kernel's (ss) from the "
                      f"source: the sockets saw every packet. Source notes: {truth['notes']}")
    with open(os.path.join(args.out, f"{name}.truth.json"), "w") as f:
        json.dump(truth, f, indent=2)
        f.write("\n")
    print(f"{name}.pcap: {n - k} of {n} packets kept, deleted {k}: {truth['deleted']['kinds']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
