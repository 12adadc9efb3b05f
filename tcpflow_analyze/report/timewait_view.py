"""The ``timewait`` report: what an engineer reads when ports run out.

Per host: who closes first, TIME_WAIT over time and at the peak, toward whom,
how fast connections are opened and how long they live, the share of the
ephemeral port range at the peak and a projection at the observed rate, and
advice tied to what was seen.  Then CLOSE_WAIT per service.
"""
from __future__ import annotations


import textwrap

from tabulate import tabulate

from ..connection import endpoint_text
from ..detectors.time_wait_storm import threshold_count
from ..states import CLOSE_WAIT
from ..timeline import sparkline, sweep, utc_text
from ..timewait import DEFAULT_PORT_RANGE, time_wait_by_host

SPARK_WIDTH = 48


def _when(t, start) -> str | None:
    if t is None:
        return None
    return f"{utc_text(t, '%H:%M:%S.%f')} (+{t - start:.1f}s)"


def _duration(seconds: float) -> str:
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.1f} s"


def _advice(h, d: dict, time_wait: float) -> list[str]:
    out = []
    share = h.active_close_share
    proj = d["projection"]
    client_side = h.opened > 0 and h.ports_at_peak > 0
    if client_side and share is not None and share >= 0.5:
        life = _duration(h.mean_lifetime) if h.mean_lifetime is not None else "briefly"
        out.append(f"This host closes first ({share:.0%} of its closed connections) on connections that live "
                   f"about {life}: every close parks one of its ephemeral ports in TIME_WAIT for "
                   f"{time_wait:g} s. Reuse connections (HTTP keep-alive, a connection pool) instead of "
                   f"opening one per request.")
        out.append("Or let the server close first (e.g. the server ends the HTTP connection after the "
                   "response): TIME_WAIT then sits on the server, which needs no ephemeral port for it.")
    if client_side:
        out.append("net.ipv4.tcp_tw_reuse=1 lets this host reuse its own TIME_WAIT ports for new outgoing "
                   "connections when TCP timestamps show the new one is newer (the default 2 allows it "
                   "on loopback only). It does not help a server.")
        if proj["steady_share"] >= 0.5 or proj["exhausted_after"] is not None or h.range_share >= 0.25:
            out.append("A wider net.ipv4.ip_local_port_range (e.g. 15000-65000) buys headroom; it does not "
                       "change the rate at which ports are consumed.")
    elif h.time_wait:
        out.append("This host holds TIME_WAIT as the side that closes first toward its clients: it costs a "
                   "little kernel memory, not ports, unless the same clients reconnect from the same ports "
                   "(see syn_to_time_wait).")
    if h.time_wait:
        out.append("SO_LINGER with a zero timeout is not the fix: it turns the close into a RST, drops data "
                   "still in flight, and removes TIME_WAIT's protection against old duplicate segments "
                   "(RFC 9293 3.6.1).")
    return out


def build(analysis, cfg: dict, top: int = 5) -> dict:
    time_wait = analysis.options.get("time_wait", 60.0)
    port_range = cfg.get("port_range_parsed", DEFAULT_PORT_RANGE)
    limit = threshold_count(cfg.get("time_wait_threshold", "1000"), port_range[1] - port_range[0] + 1)
    start = analysis.stats.start or 0.0
    end = analysis.stats.end or 0.0
    hosts = time_wait_by_host(analysis, port_range)
    ranked = [h for _, h in sorted(hosts.items(), key=lambda kv: (-kv[1].peak, kv[0])) if h.time_wait]
    tw = []
    # Only the hosts shown are described: a capture from many clients has
    # thousands (15,000 at 2M packets), each a sparkline and a series.
    for h in ranked[:top] if top else ranked:
        d = h.as_dict(time_wait)
        d["remotes"] = d["remotes"][:top]
        d["peak_when"] = _when(h.peak_time, start)
        d["over_threshold"] = h.peak > limit
        d["sparkline"] = sparkline(h.series, start, end, SPARK_WIDTH)
        d["series"] = [[round(t, 6), n] for t, n in h.series]
        d["advice"] = _advice(h, d, time_wait)
        tw.append(d)
    return {
        "capture": {"files": analysis.stats.files, "start": start, "end": end,
                    "duration": round(end - start, 6)},
        "time_wait_seconds": time_wait,
        "time_wait_threshold": limit,
        "port_range": list(port_range),
        "time_wait": tw,
        "hosts_with_time_wait": len(ranked),
        "close_wait": close_wait_by_service(analysis, cfg.get("close_wait_timeout", 10.0), top),
    }


def close_wait_by_service(analysis, threshold: float, top: int) -> list[dict]:
    """Services (host:port) whose sockets sat in CLOSE_WAIT: how many, how long."""
    end = analysis.stats.end or 0.0
    start = analysis.stats.start or 0.0
    services: dict[str, dict] = {}
    spans: dict[str, list] = {}
    for c in analysis.connections:
        for x in (c.client, c.server):
            flat = x.trans_flat   # time, state, time, state ...
            n = len(flat)
            for i in range(1, n, 2):
                if flat[i] != CLOSE_WAIT:
                    continue
                s = flat[i - 1]
                e = flat[i + 1] if i + 1 < n else end
                if e < s:
                    e = s
                svc = endpoint_text(x) if x is c.server else endpoint_text(x).rsplit(":", 1)[0] + ":*"
                d = services.setdefault(svc, {"service": svc, "entered": 0, "at_end": 0, "lingering": 0,
                                              "longest": 0.0, "connections": []})
                d["entered"] += 1
                still = x.state == CLOSE_WAIT and e >= end
                d["at_end"] += still
                d["longest"] = max(d["longest"], e - s)
                d["lingering"] += (e - s) >= threshold
                d["connections"].append(c.id)
                spans.setdefault(svc, []).append((s, float("inf") if still else e))
    out = []
    ranked = sorted(services.items(), key=lambda kv: (-kv[1]["at_end"], -kv[1]["longest"]))
    for svc, d in ranked[:top] if top else ranked:
        peak, peak_time, series = sweep(spans[svc])
        d["peak"] = peak
        d["longest"] = round(d["longest"], 3)
        d["sparkline"] = sparkline(series, start, end, SPARK_WIDTH)
        d["series"] = [[round(t, 6), n] for t, n in series]
        d["threshold"] = threshold
        out.append(d)
    return out


def render(view: dict) -> str:
    out = []
    cap = view["capture"]
    out.append(f"TIME_WAIT and CLOSE_WAIT in {', '.join(cap['files'])} ({cap['duration']:.1f} s); "
               f"TIME_WAIT lasts {view['time_wait_seconds']:g} s; ephemeral ports "
               f"{view['port_range'][0]}-{view['port_range'][1]}")
    if not view["time_wait"]:
        out.append("No endpoint entered TIME_WAIT.")
    for d in view["time_wait"]:
        flag = "  ** over the threshold of %d **" % view["time_wait_threshold"] if d["over_threshold"] else ""
        rows = [
            ("TIME_WAIT over time", d["sparkline"] or "-"),
            ("peak", f"{d['peak']} at {d['peak_when']}{flag}"),
            ("in TIME_WAIT at the end", d["at_end"]),
            ("entered TIME_WAIT", d["time_wait"]),
            ("closes first", "-" if d["active_close_share"] is None
             else f"{d['active_close_share']:.0%} of its connections closed by FIN"),
            ("connections opened", f"{d['connections_opened']} ({d['open_rate']:.1f}/s)"),
            ("mean lifetime", "-" if d["mean_lifetime"] is None else _duration(d["mean_lifetime"])),
        ]
        if d["ephemeral_ports_at_peak"]:
            rows.append(("ephemeral ports at peak",
                         f"{d['ephemeral_ports_at_peak']} of {d['port_range_size']} ({d['port_range_share']:.1%})"))
        proj = d["projection"]
        if proj["rate"] and d["ephemeral_ports_at_peak"]:
            if proj["exhausted_after"] is not None:
                rows.append(("projection", f"at {proj['rate']:.0f} new connections/s the range runs out after "
                                           f"about {proj['exhausted_after']:.0f} s"))
            else:
                rows.append(("projection", f"at {proj['rate']:.0f} new connections/s TIME_WAIT settles at about "
                                           f"{proj['steady_time_wait']} ports ({proj['steady_share']:.0%} of the range)"))
        if d["remotes"]:
            rows.append(("toward", ", ".join(f"{r['endpoint']} ({r['count']})" for r in d["remotes"])))
        out.append(f"\n{d['host']}\n" + tabulate(rows, tablefmt="plain", disable_numparse=True))
        if d["advice"]:
            out.append("\n".join(textwrap.fill(a, 100, initial_indent="  - ", subsequent_indent="    ")
                                 for a in d["advice"]))
    more = view["hosts_with_time_wait"] - len(view["time_wait"])
    if more > 0:
        out.append(f"(+{more} more hosts with TIME_WAIT; --top to list them)")
    out.append("\nCLOSE_WAIT by service")
    if not view["close_wait"]:
        out.append("No endpoint sat in CLOSE_WAIT.")
    else:
        rows = [(d["service"], d["entered"], d["at_end"], d["lingering"], f"{d['longest']:.1f}s", d["sparkline"])
                for d in view["close_wait"]]
        out.append(tabulate(rows, headers=("service", "entered", "at end", f"> {view['close_wait'][0]['threshold']:g}s",
                                           "longest", "over time"), tablefmt="simple", disable_numparse=True))
        if any(d["at_end"] or d["lingering"] for d in view["close_wait"]):
            out.append("  - CLOSE_WAIT ends only when the application calls close(): a service listed with "
                       "sockets still open at the end is not closing connections its peers closed.")
    return "\n".join(out) + "\n"


def plot(view: dict, path: str) -> None:
    """TIME_WAIT per host and CLOSE_WAIT per service over time, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start = view["capture"]["start"]
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for d in view["time_wait"]:
        xs = [t - start for t, _ in d["series"]]
        ys = [n for _, n in d["series"]]
        axes[0].step(xs, ys, where="post", label=d["host"])
    axes[0].set_ylabel("sockets in TIME_WAIT")
    if view["time_wait"]:
        axes[0].legend(loc="upper left", fontsize="small")
    for d in view["close_wait"]:
        xs = [t - start for t, _ in d["series"]]
        ys = [n for _, n in d["series"]]
        axes[1].step(xs, ys, where="post", label=d["service"])
    axes[1].set_ylabel("sockets in CLOSE_WAIT")
    axes[1].set_xlabel("seconds since the capture's start")
    if view["close_wait"]:
        axes[1].legend(loc="upper left", fontsize="small")
    fig.suptitle("tcpflow-analyze timewait: " + ", ".join(view["capture"]["files"]))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
