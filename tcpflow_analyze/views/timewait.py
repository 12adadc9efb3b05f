"""The ``timewait`` report: what an engineer reads when ports run out.

Per host: who closes first, TIME_WAIT over time and at the peak, toward whom,
how fast connections are opened and how long they live, the share of the
ephemeral port range at the peak and a projection at the observed rate, and
advice tied to what was seen.  Then CLOSE_WAIT per service.
"""
from __future__ import annotations


from ..model.text import duration_text, endpoint_text, utc_text
from .. import detectors
from ..model.states import CLOSE_WAIT
from ..analysis.timeline import sparkline, sweep
from ..analysis.timewait import time_wait_by_host
from .findings import analysis_notices

SPARK_WIDTH = 48


def _when(t, start) -> str | None:
    if t is None:
        return None
    return f"{utc_text(t, '%H:%M:%S.%f')} (+{t - start:.1f}s)"


def _advice(h, d: dict, time_wait: float) -> list[str]:
    out = []
    share = h.active_close_share
    proj = d["projection"]
    client_side = h.opened > 0 and h.ports_at_peak > 0
    if client_side and share is not None and share >= 0.5:
        life = duration_text(h.mean_lifetime) if h.mean_lifetime is not None else "briefly"
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


def build(analysis, cfg=None, top: int = 5) -> dict:
    """The view's document; ``cfg``: the detectors' thresholds (a
    ``detectors.DetectorConfig`` or a mapping of some of them)."""
    cfg = detectors.config(cfg)
    time_wait = analysis.options.time_wait
    port_range = cfg.port_range
    limit = cfg.time_wait_limit
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
        # What the view could not see, worded as the report's (views.findings).
        "notices": analysis_notices(analysis),
        "time_wait_seconds": time_wait,
        "time_wait_threshold": limit,
        "port_range": list(port_range),
        "time_wait": tw,
        "hosts_with_time_wait": len(ranked),
        "close_wait": close_wait_by_service(analysis, cfg["close_wait_timeout"], top),
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
