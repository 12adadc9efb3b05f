"""Reading the kernel's ``ss`` output kept in the sample truths.

``scripts/make_samples.py`` keeps ss's own text in every truth file
(``"ss": {"client": [lines], "server": [lines]}``) and says which command
wrote it (``"ss_command"``; truths made before that was recorded have none
and hold ``ss -tan``).  The generator and the tests read that text with this
module, so both read it the same way.  Standard library only.

``ss -tan`` writes a header, then one line per socket::

    State     Recv-Q Send-Q Local Address:Port  Peer Address:Port Process
    TIME-WAIT 0      0         10.201.0.1:40001   10.201.0.2:8080

``ss -tanoi`` adds, on a socket's state line after the peer, the timer the
kernel has armed (``-o``: ``timer:(NAME,EXPIRES,COUNT)``), and under it an
info line (``-i``, starting with a tab) with the socket's ``tcp_info``:
``key:value`` items (``rto:204 rtt:0.031/0.017 cwnd:10 retrans:1/2
lastsnd:2328 ...``), bare flags (``ts sack cubic app_limited``) and three
``name value`` pairs (``send 93018838710bps``, ``pacing_rate ...``,
``delivery_rate ...``).  A TIME-WAIT socket's info line is empty.  ss also
moves columns that do not fit a terminal's width to a line of their own (at a
terminal only; into a pipe it writes each state line whole).  So a socket is
read as its state line -- a line that starts, unindented, with an ss state
name -- and every line after it up to the next one, taken as one run of
whitespace-separated words: no word of ss's is ever split across lines.
"""
from __future__ import annotations

import ipaddress
import re

# ss's TCP state names (iproute2 misc/ss.c sstate_name) -> RFC 9293 names.
SS_STATES = {
    "ESTAB": "ESTABLISHED",
    "SYN-SENT": "SYN_SENT",
    "SYN-RECV": "SYN_RECEIVED",
    "FIN-WAIT-1": "FIN_WAIT_1",
    "FIN-WAIT-2": "FIN_WAIT_2",
    "CLOSE-WAIT": "CLOSE_WAIT",
    "CLOSING": "CLOSING",
    "LAST-ACK": "LAST_ACK",
    "TIME-WAIT": "TIME_WAIT",
    "LISTEN": "LISTEN",
    "UNCONN": "CLOSED",
    "CLOSED": "CLOSED",
}

# The command of truths that do not name theirs (made before it was recorded).
LEGACY_COMMAND = "ss -tan"

# ``-i`` items written as "name value" (two words) rather than "name:value".
_PAIRS = ("send", "pacing_rate", "delivery_rate")

_TIMER = re.compile(r"timer:\(([a-z_]+),([0-9a-z.]*),(\d+)\)$")
# print_ms_timer() in ss.c: [Nmin][S(sec|.)][MMMms] -- "57sec", "812ms",
# "1.250ms" (1.25 s), "2min3sec", "119min"; "" for 0.
_EXPIRES = re.compile(r"(?:(\d+)min)?(?:(\d+)(sec|\.))?(?:(\d+)ms)?$")

# tcp_info items kept in a truth's endpoint, as numbers: what the capture can
# be checked against (retransmissions, timers' bases, counts of segments and
# bytes) and what explains the socket's pace (rto, rtt, cwnd).
INFO_NUMBERS = ("rto", "backoff", "mss", "cwnd", "ssthresh", "bytes_sent", "bytes_retrans", "bytes_acked",
                "bytes_received", "segs_out", "segs_in", "data_segs_out", "data_segs_in", "lastsnd",
                "lastrcv", "lastack", "unacked", "lost", "sacked", "probes")


class SSFormatError(ValueError):
    """ss text this module cannot read: better an error than a wrong truth."""


def command_of(truth: dict) -> str:
    """The ss command that wrote a truth's ``ss`` text."""
    return truth.get("ss_command", LEGACY_COMMAND)


def parse_expires(text: str) -> tuple[int, int]:
    """ss's timer expiry text -> (milliseconds, resolution in milliseconds).

    ss truncates: past 10 s it drops the milliseconds, past 1 min the
    seconds too, past 10 min the seconds entirely -- the timer's true
    remaining time is in [ms, ms + resolution)."""
    m = _EXPIRES.match(text)
    if m is None or (text and not any(m.group(1, 2, 4))) or (m.group(3) == "." and m.group(4) is None):
        raise SSFormatError(f"unreadable timer expiry {text!r}")
    minutes, secs, msecs = (int(g) if g else 0 for g in m.group(1, 2, 4))
    if minutes > 9:
        resolution = 60000
    elif minutes or secs > 9:
        resolution = 1000
    else:
        resolution = 1
    return (minutes * 60 + secs) * 1000 + msecs, resolution


def parse_timer(word: str) -> dict:
    """``timer:(timewait,57sec,0)`` -> {"name", "expires_ms", "resolution_ms", "count", "text"}.

    ``count`` is the kernel's idiag_retrans: the retransmissions so far of an
    ``on`` (retransmission) timer, the unanswered probes of a ``keepalive``
    or ``persist`` timer, 0 for ``timewait``."""
    m = _TIMER.match(word)
    if m is None:
        raise SSFormatError(f"unreadable timer {word!r}")
    expires, resolution = parse_expires(m.group(2))
    return {"name": m.group(1), "expires_ms": expires, "resolution_ms": resolution,
            "count": int(m.group(3)), "text": word[len("timer:("):-1]}


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        return float(text)


def parse_info(words: list[str]) -> dict:
    """The words of an ``-i`` info line -> {"flags": [...], "items": {name: text}}."""
    flags, items = [], {}
    i = 0
    while i < len(words):
        word = words[i]
        if word in _PAIRS:
            if i + 1 == len(words):
                raise SSFormatError(f"{word!r} without its value")
            items[word] = words[i + 1]
            i += 2
            continue
        name, colon, value = word.partition(":")
        if colon and name:
            if name in items:
                raise SSFormatError(f"{name!r} twice in one info line")
            items[name] = value
        else:
            flags.append(word)
        i += 1
    return {"flags": flags, "items": items}


def info_numbers(items: dict) -> dict:
    """The checkable tcp_info of a socket (INFO_NUMBERS, plus ``rtt`` split
    into rtt/rttvar and ``retrans`` into retrans (segments now out again) /
    retrans_total), as numbers; what ss did not print is left out."""
    out = {}
    for name in INFO_NUMBERS:
        if name in items:
            out[name] = _number(items[name])
    if "rtt" in items:
        rtt, _, var = items["rtt"].partition("/")
        out["rtt"], out["rttvar"] = _number(rtt), _number(var)
    if "retrans" in items:
        now, _, total = items["retrans"].partition("/")
        out["retrans"], out["retrans_total"] = _number(now), _number(total)
    return out


def norm_addr(text: str):
    """'10.1.2.3:80' / '[fd00::1]:80' / '[::ffff:10.1.2.3]:80' -> (ip, port)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]").split("%")[0]
    try:
        ip = ipaddress.ip_address(host)
        if ip.version == 6 and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        host = str(ip)
    except ValueError:
        pass  # '*' or '0.0.0.0' style wildcards stay as they are
    return host, int(port) if port.isdigit() else port


# The header's words (a header that did not fit a terminal goes on over lines).
_HEADER = {"State", "Recv-Q", "Send-Q", "Local", "Address:Port", "Peer", "Address:PortProcess", "Process"}


def _records(lines: list[str]):
    """Each socket's words: its state line and the lines after it."""
    words = None
    for line in lines:
        first = line.split(None, 1)[0] if line.strip() else ""
        if line[:1].strip() and first in SS_STATES:
            if words is not None:
                yield words
            words = line.split()
        elif words is not None:
            words.extend(line.split())
        elif not set(line.split()) <= _HEADER:
            raise SSFormatError(f"neither the header nor a socket: {line!r}")
    if words is not None:
        yield words


def parse(lines: list[str]) -> list[dict]:
    """ss -tan / -tanoi output (its lines, header first) -> one dict per socket.

    Every socket has ``state`` (ss's name), ``recv_q``, ``send_q``,
    ``local`` and ``peer`` (as ss wrote them); with -o the ones with a timer
    have ``timer`` (``parse_timer``); with -i ``info`` (``parse_info``)."""
    out = []
    for words in _records(lines):
        if len(words) < 5 or not (words[1].isdigit() and words[2].isdigit()):
            raise SSFormatError(f"not a socket: {' '.join(words)!r}")
        sock = {"state": words[0], "recv_q": int(words[1]), "send_q": int(words[2]),
                "local": words[3], "peer": words[4]}
        for addr in (sock["local"], sock["peer"]):
            if ":" not in addr:
                raise SSFormatError(f"not an address:port {addr!r}")
        rest = words[5:]
        timers = [w for w in rest if w.startswith("timer:(")]
        if len(timers) > 1:
            raise SSFormatError(f"two timers for one socket: {timers}")
        if timers:
            rest.remove(timers[0])
            sock["timer"] = parse_timer(timers[0])
        if rest:
            sock["info"] = parse_info(rest)
        out.append(sock)
    return out


def sockets(truth: dict, side: str) -> list[dict]:
    """The sockets ss listed in one namespace ("client" or "server") of a truth."""
    return parse(truth["ss"][side])


def by_tuple(socks: list[dict]) -> dict:
    """{((local ip, port), (peer ip, port)): [socket, ...]}."""
    out = {}
    for s in socks:
        out.setdefault((norm_addr(s["local"]), norm_addr(s["peer"])), []).append(s)
    return out


def endpoint_extras(sock: dict) -> dict:
    """What a truth's connection endpoint holds beside its state: the kernel's
    ``timer`` and ``tcp_info`` (info_numbers) when ss printed them."""
    out = {}
    if "timer" in sock:
        out["timer"] = {k: v for k, v in sock["timer"].items() if k != "text"}
    if "info" in sock:
        numbers = info_numbers(sock["info"]["items"])
        if numbers:
            out["tcp_info"] = numbers
    return out
