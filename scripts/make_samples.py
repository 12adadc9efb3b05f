#!/usr/bin/env python3
"""Make ground-truth TCP sample captures with the real Linux kernel.

Usage (as root):

    sudo python3 scripts/make_samples.py [--only NAME ...] [--out sample_pcaps] [--list]

For every scenario this script builds a tiny two-host network out of network
namespaces::

    tfa-cli (client)                         tfa-srv (server)
    veth-cli 10.201.0.1/24  <--- veth --->   veth-srv 10.201.0.2/24
             fd00:201::1/64                           fd00:201::2/64

runs real kernel TCP sockets in it, captures the wire with tcpdump (or
dumpcap), and at the end of the capture asks the kernel itself (`ss -tanoi` in
each namespace) which state every endpoint is in, with its timers and TCP
internals.  That answer, not what the scenario meant to do, is written to
``NAME.truth.json`` next to the capture (ss's text, and per endpoint the
state, timer and tcp_info read from it by ``scripts/ss_truth.py``).

How the sockets are run
-----------------------
The sockets are real kernel sockets living in the namespaces.  Instead of
spawning ``ip netns exec NS python3 -c ...`` helpers and synchronising them
through pipes, this process creates each socket *inside* the wanted namespace:
it switches its own (main) thread into the namespace with setns(2), calls
socket(2), and switches back.  A socket belongs to the namespace it was
created in for its whole life, so all later bind/connect/send/close calls act
in that namespace even though the thread has gone back.  This keeps every
scenario a plain, sequential list of socket calls, so the order of events is
set by the code (blocking calls plus explicit sleeps), not by process
scheduling.  External tools (tcpdump, ss, iptables, ethtool) run through
``ip netns exec``.

Traps handled
-------------
* veth offloads: with checksum offload the captured packets carry partial
  checksums and with TSO/GSO/GRO one "packet" in the capture can be 64 KB.
  ``ethtool -K dev tx off rx off tso off gso off gro off`` on both ends makes
  the capture hold what a real wire would.
* tcpdump buffers: ``--immediate-mode -U`` so every packet is written when it
  is seen and nothing is lost at SIGINT; we wait for "listening on" before
  sending traffic; ``-Z root`` because tcpdump would otherwise drop privileges
  before opening the output file.
* ``tcpdump -i any`` writes LINUX_SLL2 (cooked v2) frames, not Ethernet.
* IPv6 is disabled in the IPv4 scenarios so no router solicitations, MLD
  reports or DAD probes show up in the captures.
* "Crash" of a host: the client's veth end is first moved out of its namespace
  (so nothing the dying kernel does can reach the wire), then its sockets are
  aborted and the namespace deleted.  A reboot moves the same veth end (same
  MAC) into a brand new namespace.  Deleting the namespace with the veth in
  it would delete the server's end too (veth pairs die together) and kill the
  server-side capture.
"""

import argparse
import contextlib
import ctypes
import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ss_truth  # noqa: E402  (next to this script: the tests read the truths with it too)

# ---------------------------------------------------------------------------
# Fixed lab layout
# ---------------------------------------------------------------------------

CLI_NS = "tfa-cli"
SRV_NS = "tfa-srv"
PARK_NS = "tfa-park"          # where a "crashed" client's NIC waits
RTR_NS = "tfa-rtr"            # the router of the routed scenarios (router=True)
RTR_CLI_IF, RTR_SRV_IF = "rtr-cli", "rtr-srv"
RTR_SRV4, RTR_CLI_GW4, RTR_SRV_GW4 = "10.202.0.2", "10.201.0.254", "10.202.0.254"
NS_PREFIX = "tfa-"
CLI_IF = "veth-cli"
SRV_IF = "veth-srv"
CLI_MAC = "02:00:0a:c9:00:01"
SRV_MAC = "02:00:0a:c9:00:02"
NOBODY_MAC = "02:00:0a:c9:00:fe"  # a MAC no interface has (see syn_flood)
CLI4, SRV4 = "10.201.0.1", "10.201.0.2"
CLI6, SRV6 = "fd00:201::1", "fd00:201::2"
PORT = 8080

# The command whose output is the truth, in each namespace: -o and -i add the
# kernel's timers and tcp_info to ss -tan's states.
SS_COMMAND = ("ss", "-tanoi")
# ss state names -> RFC 9293 names used in the truth files
SS_STATES = ss_truth.SS_STATES

# Linux TCP_REPAIR socket options (linux/tcp.h); not all are in `socket`.
TCP_REPAIR = 19
TCP_REPAIR_QUEUE = 20
TCP_QUEUE_SEQ = 21
TCP_SEND_QUEUE = 2
TCP_REPAIR_ON = 1
TCP_REPAIR_OFF = 0
TCP_REPAIR_OFF_NO_WP = -1

VERBOSE = True


def log(msg):
    if VERBOSE:
        print(f"  {msg}", flush=True)


# ---------------------------------------------------------------------------
# Small helpers: commands, namespaces
# ---------------------------------------------------------------------------

def sh(*args, ns=None, check=True, capture=False, input=None):
    """Run a command (inside namespace `ns` if given)."""
    cmd = (["ip", "netns", "exec", ns] if ns else []) + [str(a) for a in args]
    res = subprocess.run(cmd, input=input, text=True,
                         stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    if check and res.returncode != 0:
        raise RuntimeError(f"command failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr}")
    return res.stdout if capture else res


def netns_list():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def delete_stale_namespaces():
    """Remove namespaces left over by an earlier, interrupted run.

    Every iptables rule this script adds lives inside one of these
    namespaces, so deleting them also deletes any stale rule."""
    for ns in netns_list():
        if ns.startswith(NS_PREFIX):
            log(f"deleting stale namespace {ns}")
            sh("ip", "netns", "del", ns, check=False)


_libc = ctypes.CDLL(None, use_errno=True)
_CLONE_NEWNET = 0x40000000
_HOME_NS_FD = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def _setns(fd):
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def in_netns(name):
    """Run the body with this thread inside network namespace `name`.

    Only socket creation is done in here; the socket keeps its namespace
    after the thread switches back."""
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
        try:
            yield
        finally:
            _setns(_HOME_NS_FD)
    finally:
        os.close(fd)


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise RuntimeError(f"EOF after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def recv_until_eof(sock):
    buf = bytearray()
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(buf)
        buf += chunk


def expect_eof(sock):
    data = sock.recv(4096)
    if data != b"":
        raise RuntimeError(f"expected EOF, got {data!r}")


def set_linger0(sock):
    """SO_LINGER {on, 0}: close() aborts the connection with a RST."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def craft_syn(src, dst, sport, dport, seq, ip_id=0, mss=1460, window=64240):
    """An IPv4+TCP SYN (MSS option only) with correct checksums."""
    opts = struct.pack("!BBH", 2, 4, mss)
    off = (20 + len(opts)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, off << 4, 0x02, window, 0, 0) + opts
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    csum = inet_checksum(pseudo + tcp)
    tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
    total = 20 + len(tcp)
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, ip_id, 0, 64, 6, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    iph = iph[:10] + struct.pack("!H", inet_checksum(iph)) + iph[12:]
    return iph + tcp


def take_ss(ns, attempts=3):
    """SS_COMMAND's output in namespace ``ns`` (its lines, trailing blanks
    stripped: ss pads every info line to the widest) and the wall clock
    just before and after it ran -- the clock of the capture's timestamps,
    which the kernel's timers are to be read against.

    The states read from it must be those of a plain ``ss -tan`` taken right
    after (ss_truth.parse on both): the check that the richer output is read
    right, on every run.  A socket changing state between the two is taken
    again, up to ``attempts`` times."""
    for _ in range(attempts):
        before = time.time()
        lines = [line.rstrip() for line in sh(*SS_COMMAND, ns=ns, capture=True).splitlines()]
        after = time.time()
        plain = sh("ss", "-tan", ns=ns, capture=True).splitlines()
        rich = sorted((s["state"], s["local"], s["peer"]) for s in ss_truth.parse(lines))
        if rich == sorted((s["state"], s["local"], s["peer"]) for s in ss_truth.parse(plain)):
            return lines, [round(before, 6), round(after, 6)]
        log(f"ss in {ns}: {' '.join(SS_COMMAND)} and ss -tan differ, taking both again")
    raise RuntimeError(f"ss in {ns}: {' '.join(SS_COMMAND)} and ss -tan kept differing")


def link_type_of(path):
    """Link type name of a pcap or pcapng file (first interface)."""
    names = {1: "EN10MB", 113: "LINUX_SLL", 276: "LINUX_SLL2", 101: "RAW"}
    with open(path, "rb") as f:
        head = f.read(64)
    magic = head[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        lt = struct.unpack("<I", head[20:24])[0]
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        lt = struct.unpack(">I", head[20:24])[0]
    elif magic == b"\x0a\x0d\x0d\x0a":
        bom = head[8:12]
        endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
        shb_len = struct.unpack(endian + "I", head[4:8])[0]
        with open(path, "rb") as f:
            f.seek(shb_len)
            idb = f.read(12)
        btype, _blen, lt = struct.unpack(endian + "IIH", idb[:10])
        if btype != 1:
            raise RuntimeError("pcapng: first block after SHB is not an IDB")
    else:
        raise RuntimeError(f"{path}: unknown capture format")
    return names.get(lt, f"DLT_{lt}")


# ---------------------------------------------------------------------------
# The lab: two namespaces, a veth pair, a capture, sockets, truth
# ---------------------------------------------------------------------------

class Lab:
    def __init__(self, name, out_dir, ipv6=False, router=False):
        self.name = name
        self.router = router
        self.out_dir = out_dir
        self.ipv6 = ipv6
        self.family = socket.AF_INET6 if ipv6 else socket.AF_INET
        self.cli_ip = CLI6 if ipv6 else CLI4
        self.srv_ip = SRV6 if ipv6 else (RTR_SRV4 if router else SRV4)
        self.sockets = {"cli": [], "srv": []}
        self.iptables_rules = []   # (side, rule-args) still installed
        self.capture_proc = None
        self.capture_file = None
        self.capture_point = None
        self.capture_stats = ""
        self.ss = {"client": [], "server": []}
        self.ss_time = {}          # side -> [wall clock before, after] the ss that is the truth
        self.connections = []
        self.description = ""
        self.notes = []
        self.client_ns_alive = True
        self.listener = None       # the first listening socket
        # What the capture lacks of what the sockets exchanged, when that is
        # by design (a capture filter): the truth's "capture_lacks".  Its
        # ss states then need not follow from the capture.
        self.capture_lacks = None

    # -- namespaces and links ------------------------------------------------

    def ns(self, side):
        return {"cli": CLI_NS, "srv": SRV_NS, "park": PARK_NS, "rtr": RTR_NS}[side]

    def _new_ns(self, ns, ipv6):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        if not ipv6:
            # No IPv6 at all: keeps link-local RS/MLD/DAD noise out of captures.
            sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", ns=ns)
            sh("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1", ns=ns)
        else:
            # IPv6 on, but no router solicitations and no DAD.
            for conf in ("all", "default"):
                sh("sysctl", "-qw", f"net.ipv6.conf.{conf}.router_solicitations=0", ns=ns)
                sh("sysctl", "-qw", f"net.ipv6.conf.{conf}.accept_dad=0", ns=ns)
                sh("sysctl", "-qw", f"net.ipv6.conf.{conf}.dad_transmits=0", ns=ns)

    def _configure_if(self, ns, dev, ip4, ip6):
        # no link-local address generation (no RS/MLD from fe80::)
        if self.ipv6:
            sh("ip", "-n", ns, "link", "set", dev, "addrgenmode", "none")
        sh("ip", "-n", ns, "addr", "add", f"{ip4}/24", "dev", dev)
        if self.ipv6:
            sh("ip", "-n", ns, "-6", "addr", "add", f"{ip6}/64", "dev", dev, "nodad")
        sh("ip", "-n", ns, "link", "set", dev, "up")
        # Offloads off: full checksums and real segment sizes on the wire.
        sh("ethtool", "-K", dev, "tx", "off", "rx", "off", "tso", "off",
           "gso", "off", "gro", "off", ns=ns)

    def setup(self):
        if self.router:
            return self._setup_routed()
        self._new_ns(CLI_NS, self.ipv6)
        self._new_ns(SRV_NS, self.ipv6)
        sh("ip", "link", "add", CLI_IF, "address", CLI_MAC, "netns", CLI_NS, "type", "veth",
           "peer", "name", SRV_IF, "address", SRV_MAC, "netns", SRV_NS)
        self._configure_if(CLI_NS, CLI_IF, CLI4, CLI6)
        self._configure_if(SRV_NS, SRV_IF, SRV4, SRV6)
        if self.ipv6:
            # Right after link-up the IPv6 stack sends unsolicited MLD reports
            # for ~1-2 s and does not yet answer neighbour solicitations
            # (a connect() then waits 1 s for the NS retransmission).  Let it
            # settle before the capture starts.
            time.sleep(2.0)

    def _setup_routed(self):
        """client 10.201.0.1 -- (10.201.0.254) router (10.202.0.254) -- server 10.202.0.2:
        two veth pairs and a namespace that forwards (IPv4 only)."""
        for ns in (CLI_NS, SRV_NS, RTR_NS):
            self._new_ns(ns, False)
        sh("ip", "link", "add", CLI_IF, "address", CLI_MAC, "netns", CLI_NS, "type", "veth",
           "peer", "name", RTR_CLI_IF, "netns", RTR_NS)
        sh("ip", "link", "add", SRV_IF, "address", SRV_MAC, "netns", SRV_NS, "type", "veth",
           "peer", "name", RTR_SRV_IF, "netns", RTR_NS)
        for ns, dev, ip in ((CLI_NS, CLI_IF, CLI4), (RTR_NS, RTR_CLI_IF, RTR_CLI_GW4),
                            (RTR_NS, RTR_SRV_IF, RTR_SRV_GW4), (SRV_NS, SRV_IF, RTR_SRV4)):
            self._configure_if(ns, dev, ip, None)
        sh("ip", "-n", CLI_NS, "route", "add", "default", "via", RTR_CLI_GW4)
        sh("ip", "-n", SRV_NS, "route", "add", "default", "via", RTR_SRV_GW4)
        sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=RTR_NS)

    def crash_client(self):
        """The client host dies without a word on the wire.

        1. Its NIC (veth-cli) is moved into the parking namespace: from now on
           nothing the client kernel does can reach the wire (it has no route).
        2. Its sockets are aborted (SO_LINGER 0); the RST this would send has
           no route and is dropped inside the dying client.
        3. The namespace is deleted: the kernel state (sockets) is gone.
        The server's end of the veth stays where it was, so a capture there
        keeps running."""
        if PARK_NS not in netns_list():
            self._new_ns(PARK_NS, ipv6=False)
        sh("ip", "-n", CLI_NS, "link", "set", CLI_IF, "netns", PARK_NS)
        for s in self.sockets["cli"]:
            with contextlib.suppress(OSError):
                set_linger0(s)
                s.close()
        self.sockets["cli"] = []
        self.iptables_rules = [r for r in self.iptables_rules if r[0] != "cli"]
        sh("ip", "netns", "del", CLI_NS)
        self.client_ns_alive = False

    def park_link_up(self):
        """Bring the dead client's NIC up in the parking namespace (no address):
        the link keeps carrier, frames are delivered and silently dropped."""
        sh("ip", "-n", PARK_NS, "link", "set", CLI_IF, "up")

    def reboot_client(self):
        """A fresh client kernel on the same NIC (same MAC) and addresses."""
        self._new_ns(CLI_NS, self.ipv6)
        sh("ip", "-n", PARK_NS, "link", "set", CLI_IF, "netns", CLI_NS)
        self._configure_if(CLI_NS, CLI_IF, CLI4, CLI6)
        self.client_ns_alive = True

    # -- iptables ------------------------------------------------------------

    def iptables_add(self, side, *rule):
        sh("iptables", "-A", *rule, ns=self.ns(side))
        self.iptables_rules.append((side, rule))
        log(f"iptables[{side}] -A {' '.join(rule)}")

    def iptables_del(self, side, *rule):
        sh("iptables", "-D", *rule, ns=self.ns(side))
        self.iptables_rules.remove((side, rule))
        log(f"iptables[{side}] -D {' '.join(rule)}")

    def iptables_counters(self, side, chain="INPUT"):
        return sh("iptables", "-L", chain, "-v", "-x", "-n", ns=self.ns(side), capture=True)

    def iptables_remove(self, side, *rule) -> str:
        """Delete ``rule`` (the chain's only one) and say how many packets it
        matched (the notes' record of what the scenario dropped)."""
        counters = self.iptables_counters(side)
        self.iptables_del(side, *rule)
        return counters.splitlines()[2].split()[0]

    # -- sockets -------------------------------------------------------------

    def socket(self, side, family=None, type=socket.SOCK_STREAM, proto=0):
        with in_netns(self.ns(side)):
            s = socket.socket(family or self.family, type, proto)
        self.sockets[side].append(s)
        return s

    def listen(self, port=PORT, backlog=128):
        s = self.socket("srv")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.srv_ip, port))
        s.listen(backlog)
        s.settimeout(10)
        if self.listener is None:
            self.listener = s
        return s

    def accept(self, listener):
        """accept() on a listener; the new socket is tracked for cleanup."""
        s, _ = listener.accept()
        s.settimeout(10)
        self.sockets["srv"].append(s)
        return s

    def client(self, cport):
        """A client socket bound to (client ip, cport), not yet connected."""
        c = self.socket("cli")
        c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        c.bind((self.cli_ip, cport))
        c.settimeout(10)
        return c

    def connect(self, cport, sport=PORT):
        c = self.client(cport)
        c.connect((self.srv_ip, sport))
        return c

    # -- capture ---------------------------------------------------------------

    def start_capture(self, side, any_iface=False, snaplen=0, tool="tcpdump", bpf=None):
        ns = self.ns(side)
        iface = "any" if any_iface else (CLI_IF if side == "cli" else SRV_IF)
        if side == "rtr" and not any_iface:
            iface = RTR_CLI_IF
        ext = "pcapng" if tool == "dumpcap" else "pcap"
        self.capture_file = f"{self.name}.{ext}"
        path = os.path.join(self.out_dir, self.capture_file)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        who = {"cli": "client", "srv": "server", "rtr": "router"}[side]
        self.capture_point = (f"any interface ({ns})" if any_iface else f"{who} veth ({ns})")
        if tool == "tcpdump":
            cmd = ["tcpdump", "-i", iface, "--immediate-mode", "-U", "-n", "-Z", "root",
                   "-B", "65536", "-w", path]
            if snaplen:
                cmd[1:1] = ["-s", str(snaplen)]
            if bpf:
                cmd.append(bpf)   # a capture filter, as an operator would give one
            ready = "listening on"
        else:
            cmd = ["dumpcap", "-i", iface, "-w", path]
            if snaplen:
                cmd += ["-s", str(snaplen)]
            ready = "Capturing on"
        self.capture_proc = subprocess.Popen(["ip", "netns", "exec", ns] + cmd,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                             text=True)
        self._stderr_lines = []
        deadline = time.time() + 10
        while True:
            if time.time() > deadline:
                raise RuntimeError(f"{tool} did not start: {self._stderr_lines}")
            r, _, _ = select.select([self.capture_proc.stderr], [], [], 0.5)
            if r:
                line = self.capture_proc.stderr.readline()
                if not line:
                    raise RuntimeError(f"{tool} exited: {self._stderr_lines}")
                self._stderr_lines.append(line.rstrip())
                if ready in line:
                    break
        # drain stderr in the background so the pipe never blocks the tool
        self._stderr_thread = threading.Thread(target=self._drain_stderr, daemon=True)
        self._stderr_thread.start()
        time.sleep(0.3)
        log(f"capture: {' '.join(cmd)}")

    def _drain_stderr(self):
        for line in self.capture_proc.stderr:
            self._stderr_lines.append(line.rstrip())

    def stop_capture(self):
        if not self.capture_proc:
            return
        self.capture_proc.send_signal(signal.SIGINT)
        try:
            self.capture_proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.capture_proc.kill()
            self.capture_proc.wait()
        self._stderr_thread.join(timeout=2)
        self.capture_stats = "; ".join(
            l for l in self._stderr_lines
            if "packets" in l.lower() or "dropped" in l.lower())
        self.capture_proc = None
        path = os.path.join(self.out_dir, self.capture_file)
        if os.path.exists(path):
            os.chmod(path, 0o644)   # dumpcap creates 0600 files

    # -- end of scenario -----------------------------------------------------

    def finish(self, settle=0.5):
        """Let things settle, ask the kernel (ss) in each namespace, stop the capture."""
        time.sleep(settle)
        if self.client_ns_alive:
            self.ss["client"], self.ss_time["client"] = take_ss(CLI_NS)
        self.ss["server"], self.ss_time["server"] = take_ss(SRV_NS)
        self.stop_capture()

    def add_conn(self, cport, sport=PORT, cip=None, sip=None, client_in_ns=True):
        """Record one TCP connection instance (in start order)."""
        self.connections.append({
            "cip": cip or self.cli_ip, "cport": cport,
            "sip": sip or self.srv_ip, "sport": sport,
            "client_in_ns": client_in_ns,
        })

    def truth_connections(self):
        cli_socks = ss_truth.by_tuple(ss_truth.parse(self.ss["client"]))
        srv_socks = ss_truth.by_tuple(ss_truth.parse(self.ss["server"]))
        out = []
        for i, c in enumerate(self.connections):
            tup = (c["cip"], c["cport"], c["sip"], c["sport"])
            reused_later = any((d["cip"], d["cport"], d["sip"], d["sport"]) == tup
                               for d in self.connections[i + 1:])

            def endpoint(socks, local, peer, owned):
                """The endpoint's truth: its state, and the kernel's timer and
                tcp_info where ss printed them."""
                entry = {"ip": local[0], "port": local[1], "state": "CLOSED"}
                if not owned or reused_later:
                    return entry
                found = socks.get((local, peer), [])
                if len(found) > 1:
                    raise RuntimeError(f"several sockets for {local}->{peer}: {found}")
                if found:
                    entry["state"] = SS_STATES[found[0]["state"]]
                    entry.update(ss_truth.endpoint_extras(found[0]))
                return entry

            out.append({
                "client": endpoint(cli_socks, (c["cip"], c["cport"]), (c["sip"], c["sport"]),
                                   c["client_in_ns"] and self.client_ns_alive),
                "server": endpoint(srv_socks, (c["sip"], c["sport"]), (c["cip"], c["cport"]), True),
            })
        return out

    def write_truth(self):
        truth = {
            "scenario": self.name,
            "description": self.description,
            "capture": self.capture_file,
            "capture_point": self.capture_point,
            "link_type": link_type_of(os.path.join(self.out_dir, self.capture_file)),
            "kernel": os.uname().release,
            "ss_command": " ".join(SS_COMMAND),
            "ss": self.ss,
            "ss_time": self.ss_time,
            "connections": self.truth_connections(),
            **({"capture_lacks": self.capture_lacks} if self.capture_lacks else {}),
            "notes": " ".join(self.notes + ([f"Capture tool said: {self.capture_stats}."]
                                            if self.capture_stats else [])),
        }
        path = os.path.join(self.out_dir, f"{self.name}.truth.json")
        with open(path, "w") as f:
            json.dump(truth, f, indent=2)
            f.write("\n")
        return truth

    def cleanup(self):
        """Always runs: stop the capture, remove rules, close sockets, delete namespaces."""
        with contextlib.suppress(Exception):
            self.stop_capture()
        for side, rule in list(self.iptables_rules):
            with contextlib.suppress(Exception):
                self.iptables_del(side, *rule)
        for side in self.sockets:
            for s in self.sockets[side]:
                with contextlib.suppress(OSError):
                    s.close()
        for ns in (CLI_NS, SRV_NS, PARK_NS, RTR_NS):
            if ns in netns_list():
                sh("ip", "netns", "del", ns, check=False)


# ---------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------

SCENARIOS = {}


def scenario(batch, **lab_kwargs):
    def deco(fn):
        SCENARIOS[fn.__name__] = (fn, batch, lab_kwargs)
        return fn
    return deco


REQUEST = b"GET /hello HTTP/1.0\r\nHost: tfa\r\n\r\n"
RESPONSE = b"HTTP/1.0 200 OK\r\nContent-Length: 13\r\n\r\nhello, world\n"


def exchange(c, s, request=REQUEST, response=RESPONSE):
    """One request/response on an accepted connection (client c, server s)."""
    c.sendall(request)
    recv_exact(s, len(request))
    s.sendall(response)
    recv_exact(c, len(response))
    time.sleep(0.05)


def refused_connect(lab, cport, port):
    """The client's connect() from ``cport`` to ``port``, where nothing
    listens: the server kernel answers RST/ACK and connect() is refused."""
    c = lab.client(cport)
    try:
        c.connect((lab.srv_ip, port))
        raise RuntimeError("connect to a closed port succeeded")
    except ConnectionRefusedError:
        pass
    lab.add_conn(cport, sport=port)


def closes_first(lab, cport, closer):
    """connect, exchange, then ``closer`` ("client" or "server") close()s,
    and its peer close()s after EOF.

    The closer: FIN_WAIT_1 -> FIN_WAIT_2 -> (peer FIN) -> TIME_WAIT (60 s).
    Its peer: CLOSE_WAIT -> LAST_ACK -> (closer's ACK) -> CLOSED."""
    srv = lab.listener or lab.listen()
    c = lab.connect(cport)
    s = lab.accept(srv)
    exchange(c, s)
    first, second = (c, s) if closer == "client" else (s, c)
    first.close()
    expect_eof(second)
    time.sleep(0.05)
    second.close()
    lab.add_conn(cport)


@scenario(1)
def client_close_first(lab):
    """The client closes first, the server closes after reading EOF.

    The active closer (client) ends in TIME_WAIT (2*MSL = 60 s on Linux);
    the passive closer goes CLOSE_WAIT -> LAST_ACK -> CLOSED when the
    client's last ACK arrives."""
    lab.description = ("Client connects, sends a request, reads the response and close()s first; "
                       "the server close()s after reading EOF.")
    lab.start_capture("cli")
    closes_first(lab, 40001, "client")
    lab.finish()


@scenario(1)
def server_close_first(lab):
    """The server closes first; the client closes after reading EOF.

    Now the server is the active closer and holds TIME_WAIT; the client goes
    CLOSE_WAIT -> LAST_ACK -> CLOSED."""
    lab.description = ("Client sends a request, server answers and close()s first; the client "
                       "close()s after reading EOF.")
    lab.listen()
    lab.start_capture("cli")
    closes_first(lab, 40001, "server")
    lab.finish()


@scenario(1)
def close_wait(lab):
    """The client closes; the server application never calls close().

    The server kernel ACKs the FIN and sits in CLOSE_WAIT for as long as the
    application keeps the socket open.  The client socket is now an orphan
    in FIN_WAIT_2; Linux keeps it for net.ipv4.tcp_fin_timeout (60 s)."""
    lab.description = ("Client exchanges data and close()s; the server reads EOF but never "
                       "close()s its socket (held open past the ss snapshot).")
    srv = lab.listen()
    lab.start_capture("cli")
    c = lab.connect(40001)
    s = lab.accept(srv)
    exchange(c, s)
    c.close()
    expect_eof(s)      # s stays open until cleanup, after ss and the capture
    lab.add_conn(40001)
    lab.finish()
    lab.notes.append("The orphaned client socket stays in FIN_WAIT_2 for tcp_fin_timeout=60 s "
                     "(Linux keeps it as a timewait-style socket with substate FIN_WAIT2).")


@scenario(1)
def rst_abort(lab):
    """The client aborts with SO_LINGER {on, 0}: close() sends RST, no FIN.

    Both kernels drop the connection at once: no TIME_WAIT anywhere."""
    lab.description = ("After a request/response the client sets SO_LINGER {1, 0} and close()s, "
                       "which sends a RST instead of a FIN.")
    srv = lab.listen()
    lab.start_capture("cli")
    c = lab.connect(40001)
    s = lab.accept(srv)
    exchange(c, s)
    set_linger0(c)
    c.close()
    time.sleep(0.05)
    try:
        s.recv(4096)
        raise RuntimeError("server did not see the RST")
    except ConnectionResetError:
        pass
    lab.add_conn(40001)
    lab.finish()


@scenario(1)
def closed_port(lab):
    """connect() to a port nobody listens on.

    The server kernel answers the SYN with RST/ACK (no socket matches) and
    connect() fails with ECONNREFUSED.  A listener exists on 8080 but the
    client connects to 8081."""
    lab.description = ("Client connects to port 8081 where nothing listens (a listener exists "
                       "on 8080); the server kernel answers RST/ACK and connect() is refused.")
    lab.listen()
    lab.start_capture("cli")
    refused_connect(lab, 40001, 8081)
    lab.finish()


@scenario(1)
def syn_dropped(lab):
    """Every SYN to the server port is dropped by iptables on the server.

    The client's non-blocking connect keeps retransmitting the SYN, so the
    socket is in SYN_SENT when ss runs ~2.5 s after the first SYN.  Since
    Linux 6.5 the first net.ipv4.tcp_syn_linear_timeouts (default 4) SYN
    retransmissions are 1 s apart (no exponential backoff yet), so the
    capture holds the SYN and two retransmissions at +1 s and +2 s."""
    lab.description = ("Server INPUT drops SYNs to port 8080; the client's non-blocking connect "
                       "keeps retransmitting its SYN and is still trying at the ss snapshot.")
    lab.listen()
    rule = ("INPUT", "-p", "tcp", "--dport", str(PORT), "--syn", "-j", "DROP")
    lab.iptables_add("srv", *rule)
    lab.start_capture("cli")
    c = lab.client(40001)
    c.setblocking(False)
    err = c.connect_ex((lab.srv_ip, PORT))
    assert err in (115,), err   # EINPROGRESS
    lab.add_conn(40001)
    time.sleep(2.2)
    lab.finish(settle=0.3)
    dropped = lab.iptables_remove("srv", *rule)
    linear = sh("sysctl", "-n", "net.ipv4.tcp_syn_linear_timeouts", ns=CLI_NS, check=False,
                capture=True).strip() or "n/a"
    lab.notes.append(f"iptables in {SRV_NS} (INPUT, --syn --dport 8080 -j DROP) dropped {dropped} "
                     f"SYN(s) (the first SYN and its retransmissions; "
                     f"net.ipv4.tcp_syn_linear_timeouts={linear}, so retransmissions are 1 s "
                     "apart); the rule was removed after the capture stopped. The listener on 8080 "
                     "never saw a SYN.")


@scenario(1)
def simultaneous_close(lab):
    """Both FINs cross on the wire; both sides end in TIME_WAIT (client via CLOSING).

    An iptables rule in the server namespace drops the client's first FIN, so
    the server application, unaware of it, closes too.  The server's FIN does
    not acknowledge the client FIN; the client (FIN_WAIT_1) moves to CLOSING
    and ACKs the server FIN, which takes the server to FIN_WAIT_2.  The rule
    is removed before the client's retransmission timer (~200 ms) fires; the
    retransmitted FIN reaches the server: server FIN_WAIT_2 -> TIME_WAIT, and
    its ACK moves the client CLOSING -> TIME_WAIT.  Both end in TIME_WAIT."""
    lab.description = ("Client and server both close(): the client's FIN is dropped once in the "
                       "server namespace, so the server's FIN crosses it; the client's "
                       "retransmitted FIN then completes the simultaneous close.")
    srv = lab.listen()
    lab.start_capture("cli")
    c = lab.connect(40001)
    s = lab.accept(srv)
    exchange(c, s)
    rule = ("INPUT", "-p", "tcp", "-s", CLI4, "--sport", "40001", "--dport", str(PORT),
            "--tcp-flags", "FIN", "FIN", "-j", "DROP")
    lab.iptables_add("srv", *rule)
    c.close()            # FIN #1: on the wire, dropped by the server's INPUT
    time.sleep(0.03)
    s.close()            # server FIN; its ACK field does not cover the client FIN
    time.sleep(0.05)
    dropped = lab.iptables_remove("srv", *rule)   # before the client's ~200 ms RTO
    lab.add_conn(40001)
    lab.finish(settle=1.5)
    lab.notes.append(f"An iptables rule in {SRV_NS} INPUT dropped {dropped} FIN segment(s) from "
                     "the client (the first FIN, which is in the capture because the capture is on "
                     "the client veth) and was removed ~80 ms later. Sequence: client FIN (dropped), "
                     "server FIN not acknowledging it, client ACK (client now CLOSING, server "
                     "FIN_WAIT_2), client FIN retransmitted after its RTO, server ACK.")


@scenario(1)
def half_close(lab):
    """shutdown(SHUT_WR) by the client, server keeps sending, then closes.

    Client: shutdown -> FIN_WAIT_1 -> FIN_WAIT_2 while it keeps receiving
    data; the server's FIN moves it to TIME_WAIT (the kernel replaces the
    socket by a timewait socket even though the application still holds the
    fd).  Server: CLOSE_WAIT while it sends, LAST_ACK -> CLOSED."""
    lab.description = ("Client sends a request and shutdown(SHUT_WR); the server reads EOF, keeps "
                       "sending 5 chunks over 0.5 s, then close()s; the client reads everything "
                       "and close()s.")
    srv = lab.listen()
    lab.start_capture("cli")
    c = lab.connect(40001)
    s = lab.accept(srv)
    c.sendall(REQUEST)
    c.shutdown(socket.SHUT_WR)
    req = recv_until_eof(s)
    assert req == REQUEST
    for i in range(5):
        chunk = (f"chunk {i} ".encode() * 100)[:800]
        s.sendall(chunk)
        recv_exact(c, len(chunk))
        time.sleep(0.1)
    s.close()
    expect_eof(c)
    time.sleep(0.05)
    c.close()
    lab.add_conn(40001)
    lab.finish()


@scenario(1)
def port_reuse(lab):
    """Two connections, one after the other, on the same 4-tuple.

    Connection 1: the server closes first, so the server kernel holds the
    tuple in TIME_WAIT.  Connection 2 binds the same client port
    (SO_REUSEADDR) and connects again ~0.5 s later.  Its SYN hits the
    server's TIME_WAIT socket; Linux accepts it as a new connection because
    its ISN is above the old rcv_nxt (and its timestamp is newer).
    Connection 2 exchanges data and stays ESTABLISHED."""
    lab.description = ("Connection 1 on 40001->8080 is closed by the server first (server "
                       "TIME_WAIT); connection 2 reuses client port 40001 for a new SYN that the "
                       "server's TIME_WAIT socket accepts; connection 2 stays open.")
    srv = lab.listen()
    lab.start_capture("cli")
    c1 = lab.connect(40001)
    s1 = lab.accept(srv)
    exchange(c1, s1)
    s1.close()
    expect_eof(c1)
    c1.close()
    lab.add_conn(40001)
    time.sleep(0.5)
    c2 = lab.connect(40001)
    s2 = lab.accept(srv)
    exchange(c2, s2, request=b"second connection\n", response=b"ok, second\n")
    lab.add_conn(40001)
    lab.finish()
    lab.notes.append("Two instances on the same 4-tuple: the ss sockets belong to the second "
                     "instance, so the first is CLOSED on both sides (it was in server TIME_WAIT "
                     "until the second SYN took the tuple over).")


@scenario(1)
def midstream(lab):
    """The capture starts in the middle of an established connection.

    The handshake and a first exchange happen before tcpdump starts; during
    the capture both sides send data; the capture ends with the connection
    still ESTABLISHED on both sides."""
    lab.description = ("A connection already established (and used) before the capture starts "
                       "exchanges more data both ways and is still open when the capture stops.")
    srv = lab.listen()
    c = lab.connect(40001)
    s = lab.accept(srv)
    exchange(c, s, request=b"before capture\n", response=b"before capture too\n")
    time.sleep(0.2)
    lab.start_capture("cli")
    for i in range(3):
        exchange(c, s, request=f"client message {i}\n".encode(),
                 response=f"server reply {i} ".encode() * 40)
        time.sleep(0.1)
    lab.add_conn(40001)
    lab.finish()
    lab.notes.append("No SYN, SYN-ACK or FIN in the capture: the handshake was before it and "
                     "the connection is still open.")


BULK_SIZE = 4 * 1024 * 1024


@scenario(1)
def bulk_loss(lab):
    """A 4 MiB server->client transfer with ~2 % random loss of data segments.

    iptables in the client namespace (INPUT, statistic --mode random,
    probability 0.02) drops server segments with payload (IP length >= 100).
    The capture is on the client veth, which sees packets *before* netfilter
    INPUT, so the dropped segments are in the capture even though the client
    TCP never received them: they show up as data the client does not ACK,
    followed by SACKs and retransmissions.  Then the server closes first
    (server TIME_WAIT) and the client closes after EOF (client CLOSED)."""
    lab.description = ("Client requests 4 MiB; the server sends it and close()s; ~2% of server "
                       "data segments are dropped at the client's INPUT; the client reads to EOF "
                       "and close()s.")
    srv = lab.listen()
    rule = ("INPUT", "-p", "tcp", "-s", SRV4, "--sport", str(PORT), "-m", "length",
            "--length", "100:65535", "-m", "statistic", "--mode", "random",
            "--probability", "0.02", "-j", "DROP")
    lab.iptables_add("cli", *rule)
    lab.start_capture("cli")
    c = lab.connect(40001)
    s = lab.accept(srv)
    c.sendall(b"GET /bulk HTTP/1.0\r\n\r\n")
    recv_exact(s, 22)
    payload = bytes(random.Random(9293).getrandbits(8) for _ in range(65536)) * (BULK_SIZE // 65536)
    result = {}

    def reader():
        result["data"] = recv_until_eof(c)

    t = threading.Thread(target=reader)
    t.start()
    s.sendall(payload)
    s.close()
    t.join(timeout=60)
    if t.is_alive() or len(result.get("data", b"")) != BULK_SIZE:
        raise RuntimeError("bulk transfer did not complete")
    c.close()
    lab.add_conn(40001)
    lab.finish()
    dropped = lab.iptables_remove("cli", *rule)
    lab.notes.append(f"iptables in {CLI_NS} INPUT dropped {dropped} server segments with payload "
                     "(random, p=0.02). The capture point (client veth) is before netfilter, so "
                     "those dropped segments ARE in the capture; the client never ACKed them and "
                     "the server retransmitted them. The loss pattern differs on every run. Full "
                     "payloads are kept (no snaplen).")


@scenario(1, ipv6=True)
def ipv6(lab):
    """client_close_first over IPv6 (fd00:201::1 -> [fd00:201::2]:8080).

    No link-local addresses (addrgenmode none) and no DAD, so the capture
    holds the TCP exchange plus the neighbour discovery it needs."""
    lab.description = ("Over IPv6, the client connects, exchanges a request/response and "
                       "close()s first; the server close()s after EOF.")
    lab.start_capture("cli")
    closes_first(lab, 40001, "client")
    lab.finish()
    lab.notes.append("The capture starts with the ICMPv6 neighbour solicitation/advertisement "
                     "for fd00:201::2; the interfaces have no link-local addresses and the lab "
                     "waited 2 s after link-up so no MLD reports are in the capture.")


@scenario(1)
def sll2_any(lab):
    """client_close_first captured with `tcpdump -i any` (LINUX_SLL2 frames)."""
    lab.description = ("Client connects, exchanges a request/response and close()s first; the "
                       "server close()s after EOF; captured on the 'any' pseudo-interface.")
    lab.start_capture("cli", any_iface=True)
    closes_first(lab, 40001, "client")
    lab.finish()
    lab.notes.append(f"tcpdump -i any in {CLI_NS} writes Linux cooked v2 (LINUX_SLL2) headers "
                     "instead of Ethernet; each packet appears once (only veth-cli carries "
                     "traffic, loopback is idle). SLL2 stores only the interface index (that of "
                     f"veth-cli inside {CLI_NS}); `tcpdump -r` prints whatever interface has that index "
                     "on the machine reading the file, which is meaningless here.")


@scenario(1)
def pcapng(lab):
    """Two concurrent connections captured by dumpcap as pcapng.

    Connection 1 (40001) is a normal client-closes-first exchange; connection
    2 (40002) is opened before connection 1 closes, exchanges data
    interleaved with it, and stays open."""
    lab.description = ("Two overlapping connections: 40001 does a request/response and the "
                       "client closes first; 40002, opened while 40001 is alive, exchanges data "
                       "and stays open. Captured with dumpcap (pcapng).")
    srv = lab.listen()
    lab.start_capture("cli", tool="dumpcap")
    c1 = lab.connect(40001)
    s1 = lab.accept(srv)
    lab.add_conn(40001)
    c2 = lab.connect(40002)
    s2 = lab.accept(srv)
    lab.add_conn(40002)
    exchange(c1, s1)
    exchange(c2, s2, request=b"hello from 40002\n", response=b"hi 40002\n")
    c1.close()
    expect_eof(s1)
    s1.close()
    exchange(c2, s2, request=b"still here\n", response=b"me too\n")
    lab.finish()


def one_sided(lab, side):
    """Four ordinary connections captured with a filter that keeps one
    direction only (``src host``): what a SPAN of one link, a half-duplex tap
    or asymmetric routing delivers.  The kernels saw every packet; the
    capture holds only ``side``'s."""
    ip = CLI4 if side == "cli" else SRV4
    who = "client" if side == "cli" else "server"
    lab.description = (f"Four connections captured with the filter 'src host {ip}' (only the {who}'s "
                       "packets): 40001 client closes first, 40002 server closes first, 40003 "
                       "stays open after an exchange, 40004 the client closes and the server "
                       "application never does.")
    srv = lab.listen()
    lab.start_capture("cli", bpf=f"src host {ip}")
    closes_first(lab, 40001, "client")
    closes_first(lab, 40002, "server")
    c3 = lab.connect(40003)
    s3 = lab.accept(srv)
    exchange(c3, s3)
    lab.add_conn(40003)
    c4 = lab.connect(40004)
    s4 = lab.accept(srv)
    exchange(c4, s4)
    c4.close()
    expect_eof(s4)     # s4 stays open: the server sits in CLOSE_WAIT
    lab.add_conn(40004)
    time.sleep(1.5)    # several RTOs: an unacknowledged FIN would have been retransmitted
    lab.finish()
    lab.notes.append(f"tcpdump ran on the client veth with the capture filter 'src host {ip}': "
                     f"the {who}'s packets only. Both kernels exchanged every packet (no loss); "
                     "the truth is their ss.")


@scenario(2)
def one_sided_client(lab):
    """One direction only: the client's packets (filter 'src host' client)."""
    one_sided(lab, "cli")


@scenario(2)
def one_sided_server(lab):
    """One direction only: the server's packets (filter 'src host' server)."""
    one_sided(lab, "srv")


@scenario(2, router=True)
def router_any(lab):
    """Three connections through a router, captured there with `tcpdump -i any`.

    The router namespace forwards between two veths; `-i any` records every
    forwarded packet twice, once on the way in and once on the way out (TTL
    one less), microseconds apart.  The path loses nothing: every repeat in
    the capture is a duplicate, not a retransmission."""
    lab.description = ("Client 10.201.0.1 and server 10.202.0.2 talk through a router namespace "
                       "that forwards between two veths; tcpdump -i any runs in the router. "
                       "40001 client closes first, 40002 server closes first, 40003 sends 200 KB "
                       "to the server and stays open.")
    srv = lab.listen()
    lab.start_capture("rtr", any_iface=True)
    closes_first(lab, 40001, "client")
    closes_first(lab, 40002, "server")
    c3 = lab.connect(40003)
    s3 = lab.accept(srv)
    c3.sendall(bytes(200_000))
    recv_exact(s3, 200_000)
    lab.add_conn(40003)
    lab.finish()
    lab.notes.append("Captured with tcpdump -i any in the router namespace (LINUX_SLL2): each "
                     "forwarded packet appears twice, in on one veth and out on the other. "
                     "Nothing was dropped (no iptables rule, no netem): the capture has no "
                     "retransmission.")


# --------------------------- second batch ----------------------------------

@scenario(2)
def time_wait_storm(lab):
    """600 short connections, each from its own client port, client closes first.

    Each leaves a client TIME_WAIT socket for 60 s, so ss shows ~600
    TIME-WAIT sockets at the end.  Unpaced, the loop runs 600 connections in
    ~40 ms; a 3 ms pause after each spreads them over ~2 s, more like a busy
    client.  Snaplen 128 keeps the capture small."""
    n = 600
    lab.description = (f"{n} short connections from client ports 40001-{40000 + n} to 8080, each "
                       "with a request/response and the client closing first, within a few "
                       "seconds.")
    srv = lab.listen(backlog=1024)
    lab.start_capture("cli", snaplen=128)
    t0 = time.time()
    for i in range(n):
        cport = 40001 + i
        c = lab.connect(cport)
        s = lab.accept(srv)
        c.sendall(b"GET /%d\r\n" % i)
        s.recv(64)
        s.sendall(b"OK %d\r\n" % i)
        c.recv(64)
        c.close()
        expect_eof(s)
        s.close()
        lab.sockets["cli"].remove(c)
        lab.sockets["srv"].remove(s)
        lab.add_conn(cport)
        time.sleep(0.003)
    elapsed = time.time() - t0
    lab.finish(settle=0.5)
    lab.notes.append(f"All {n} connections ran one after the other (3 ms pause after each) in "
                     f"{elapsed:.1f} s. Capture snaplen is 128 bytes; every frame in this "
                     "scenario is shorter than that (largest 76 bytes), so nothing is cut.")


@scenario(2)
def close_mix(lab):
    """240 connections, three request/response rounds each, four ways of ending.

    Connection i (client port 40001 + i) ends by i % 4: 0 the client closes
    first (client TIME_WAIT, server CLOSED); 1 the server closes first (server
    TIME_WAIT, client CLOSED); 2 the client closes, the server application
    never does (client FIN_WAIT_2, server CLOSE_WAIT); 3 nobody closes (both
    ESTABLISHED).  The capture then runs 4 s more, a ticker connection
    talking all along so that the capture shows it did: far longer than any
    retransmission timeout on this path (Linux: 200 ms minimum), so a FIN
    or data segment unanswered in it was answered.  The clean source of
    ``lossy_close_mix`` (scripts/make_lossy.py)."""
    n = 240
    lab.description = (f"{n} connections from client ports 40001-{40000 + n} to 8080, three "
                       "request/response rounds each; by i % 4 the client closes first, the server "
                       "closes first, the client closes and the server never does, or nobody closes.")
    srv = lab.listen(backlog=1024)
    lab.start_capture("cli")
    # A capture file ends at its last packet: for the tail to show that
    # nothing more came, something must go on through it.  A ticker
    # connection (port 40999) exchanges a line every 0.25 s until the end.
    tc = lab.connect(40999)
    ts_ = lab.accept(srv)
    stop = threading.Event()

    def tick():
        k = 0
        while not stop.wait(0.25):
            tc.sendall(b"tick %d\n" % k)
            recv_exact(ts_, len(b"tick %d\n" % k))
            ts_.sendall(b"tock\n")
            recv_exact(tc, 5)
            k += 1
    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    lab.add_conn(40999)
    for i in range(n):
        cport = 40001 + i
        c = lab.connect(cport)
        s = lab.accept(srv)
        for r in range(3):
            req = b"GET /%d/%d\r\n" % (i, r)
            c.sendall(req)
            recv_exact(s, len(req))
            resp = b"OK %d/%d\r\n" % (i, r)
            s.sendall(resp)
            recv_exact(c, len(resp))
        way = i % 4
        if way == 0:
            c.close()
            expect_eof(s)
            s.close()
        elif way == 1:
            s.close()
            expect_eof(c)
            c.close()
        elif way == 2:
            c.close()
            expect_eof(s)      # s stays open (CLOSE_WAIT) until cleanup
        lab.add_conn(cport)
        time.sleep(0.005)
    time.sleep(4.0)
    stop.set()
    ticker.join()
    lab.finish(settle=0.3)
    lab.notes.append("Connections ran one after the other (5 ms pause after each); the capture "
                     "went on 4 s after the last one, the ticker connection 40999 (opened first) exchanging a line every 0.25 s all along. Sockets of ways 2 "
                     "(server) and 3 (both) and the ticker were held open past the ss snapshot.")


@scenario(2)
def close_wait_leak(lab):
    """Three connections whose server application never closes.

    Each client closes; each server socket sits in CLOSE_WAIT.  Held 12 s
    (longer than a 10 s CLOSE_WAIT-leak threshold) before ss.  The orphaned
    client sockets stay in FIN_WAIT_2 (tcp_fin_timeout = 60 s).

    A CLOSE_WAIT connection is silent, and a pcap has no "capture ended at"
    record, so without other traffic the capture would end 0.6 s after the
    last FIN.  A fourth, healthy connection (40100) exchanges a small
    message every second during the hold, so the capture really spans the
    12 s; it stays ESTABLISHED."""
    lab.description = ("Three connections (40001-40003): each client exchanges data and close()s; "
                       "the server application never close()s; held 12 s before the snapshot "
                       "while a fourth connection (40100) sends a heartbeat every second.")
    srv = lab.listen()
    lab.start_capture("cli")
    held = []
    for cport in (40001, 40002, 40003):
        c = lab.connect(cport)
        s = lab.accept(srv)
        exchange(c, s)
        c.close()
        expect_eof(s)
        t_last_fin = time.time()
        held.append(s)
        lab.add_conn(cport)
        time.sleep(0.2)
    hb_c = lab.connect(40100)
    hb_s = lab.accept(srv)
    lab.add_conn(40100)
    i = 0
    while time.time() - t_last_fin < 12.0:
        exchange(hb_c, hb_s, request=b"ping %d\n" % i, response=b"pong %d\n" % i)
        time.sleep(0.95)
        i += 1
    exchange(hb_c, hb_s, request=b"ping %d\n" % i, response=b"pong %d\n" % i)
    hold = time.time() - t_last_fin
    lab.finish(settle=0.1)
    lab.notes.append(f"The server sockets were still open (never close()d) when ss ran, "
                     f"{hold + 0.1:.1f} s after the server received the last client FIN; the last heartbeat "
                     f"packet is {hold:.1f} s after it."
                     " The client sockets are orphans in FIN_WAIT_2; Linux "
                     "drops them after net.ipv4.tcp_fin_timeout = 60 s. Nothing is sent on "
                     "40001-40003 during the 12 s hold (no keepalive). Connection 4 (client port "
                     "40100) is a heartbeat (ping/pong every second, last one ~0.1 s before the "
                     "snapshot) only there so the capture covers the whole hold; it stays "
                     "ESTABLISHED.")


def established_on_server_side(lab):
    """An established connection from port 40001, one exchange done, captured
    on the server side (the client namespace may disappear).  Returns the
    listener and both sockets: the caller keeps the client's alive, as a
    socket dropped is closed (a FIN) before any crash is staged."""
    srv = lab.listen()
    lab.start_capture("srv")
    c = lab.connect(40001)
    s = lab.accept(srv)
    exchange(c, s)
    lab.add_conn(40001)
    time.sleep(0.3)
    return srv, c, s


def established_then_reboot(lab):
    """An established connection from port 40001, captured on the server side;
    then the client host crashes and reboots (see Lab.crash_client and
    Lab.reboot_client).  Returns the listener and the server's old socket."""
    srv, c, s = established_on_server_side(lab)
    lab.crash_client()
    time.sleep(0.3)
    lab.reboot_client()
    time.sleep(0.5)
    return srv, s


@scenario(2)
def half_open_reboot(lab):
    """The client host reboots under an idle connection; the server then sends.

    The rebooted client kernel has no socket for the tuple and answers the
    server's data segment with RST (seq = the segment's ACK number, which is
    exactly the server's rcv_nxt), so the server accepts the RST and its
    socket goes to CLOSED.  Capture on the server side, because the client
    namespace disappears."""
    lab.description = ("An idle established connection; the client host crashes and reboots "
                       "(namespace deleted and recreated, same MAC and addresses); the server then "
                       "sends data and the new client kernel answers with RST.")
    _srv, s = established_then_reboot(lab)  # the listener stays open to the end
    s.sendall(b"server data for a client that rebooted\n")
    time.sleep(0.2)
    try:
        s.recv(4096)
        raise RuntimeError("expected a reset")
    except ConnectionResetError:
        pass
    lab.finish()
    lab.notes.append("Crash = veth-cli moved out of the client namespace (so nothing leaks to the "
                     "wire), client socket aborted, namespace deleted; reboot = a new namespace "
                     "with the same veth (MAC) and addresses. The new client sent nothing except "
                     "kernel replies (ARP if asked, and the RST). The client column of ss is from "
                     "the rebooted client namespace.")


@scenario(2)
def half_open_silence(lab):
    """The client host dies for good; the server's data goes into silence.

    After the crash the client's NIC stays up (in a parking namespace, no
    address) so frames are delivered and silently dropped: no RST, no ICMP.
    A permanent ARP entry on the server keeps the server transmitting to the
    client's MAC (otherwise neighbour resolution would fail and the
    retransmissions would never reach the wire).  The server retransmits
    with exponential backoff (~0.2, 0.4, 0.8, 1.6, 3.2 s) and is still
    ESTABLISHED ~8 s later when ss runs."""
    lab.description = ("An established connection whose client host crashes for good; the server "
                       "then sends data that is retransmitted into silence for ~8 s.")
    _srv, _c, s = established_on_server_side(lab)
    sh("ip", "-n", SRV_NS, "neigh", "replace", CLI4, "lladdr", CLI_MAC, "nud", "permanent",
       "dev", SRV_IF)
    lab.crash_client()
    lab.park_link_up()
    time.sleep(0.3)
    s.sendall(b"server data into the void\n")
    time.sleep(8)
    lab.finish(settle=0.2)
    lab.notes.append("The client namespace no longer exists at the end (no client ss lines); the "
                     "client kernel lost the socket, so the client endpoint is CLOSED. A permanent "
                     f"neighbour entry for 10.201.0.1 was added in {SRV_NS} before the crash. The "
                     "server socket was still retransmitting (ESTABLISHED) at the snapshot.")


@scenario(2)
def stale_syn(lab):
    """A SYN from a client port that has no socket.

    A hand-built SYN 10.201.0.1:45555 -> 10.201.0.2:8080 is sent through a
    raw socket in the client namespace.  The server listener answers with a
    SYN-ACK; the client kernel finds no socket for it and answers RST (seq =
    the SYN-ACK's ACK number), which removes the server's request socket.
    Afterwards a normal client-closes-first connection runs from 40001."""
    lab.description = ("A crafted SYN from 10.201.0.1:45555 (no socket) makes the server send a "
                       "SYN-ACK that the client kernel resets; then a normal connection from 40001 "
                       "with the client closing first.")
    lab.listen()
    raw = lab.socket("cli", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    lab.start_capture("cli")
    raw.sendto(craft_syn(CLI4, SRV4, 45555, PORT, seq=0x5eed0001, ip_id=4242), (SRV4, 0))
    lab.add_conn(45555)
    time.sleep(0.3)
    closes_first(lab, 40001, "client")
    lab.finish()
    lab.notes.append("The SYN from port 45555 was built by this script (struct, correct checksums) "
                     f"and sent through a raw IP socket in {CLI_NS}; the SYN-ACK and the RST are real "
                     "kernel replies. No socket ever existed for 45555 on the client.")


@scenario(2)
def challenge_ack_reboot(lab):
    """A rebooted client reconnects from the same port the server still holds.

    The server's old socket (ESTABLISHED, half-open) receives a SYN for its
    tuple and answers with a challenge ACK carrying the old sequence numbers
    (RFC 5961).  The new client's SYN_SENT socket sees an unacceptable ACK
    and sends RST with seq = that ACK number = the server's rcv_nxt, so the
    server accepts the RST and drops the old connection.  The client then
    retransmits its SYN after only ~10 ms, not after the 1 s initial RTO:
    tcp_rcv_synsent_state_process() re-arms the retransmit timer to
    TCP_TIMEOUT_MIN when a SYN_SENT socket gets an unacceptable ACK
    ("Previous FIN/ACK or RST/ACK might be ignored").  That SYN reaches the
    listener and the new connection is established."""
    lab.description = ("The client reboots under an established connection from port 40001 and "
                       "reconnects from port 40001: challenge ACK from the old server socket, RST "
                       "from the client, SYN retransmitted ~10 ms later, new connection established.")
    srv, s = established_then_reboot(lab)
    t0 = time.time()
    c2 = lab.connect(40001)        # challenge ACK, RST, SYN retransmission, SYN-ACK
    took = time.time() - t0
    s2 = lab.accept(srv)
    exchange(c2, s2, request=b"hello after reboot\n", response=b"welcome back\n")
    lab.add_conn(40001)
    lab.finish()
    lab.notes.append(f"connect() of the new instance took {took * 1000:.0f} ms: the kernel "
                     "retransmits the SYN ~10 ms after sending the RST (timer re-armed to "
                     "TCP_TIMEOUT_MIN on an unacceptable ACK in SYN_SENT), not after 1 s. "
                     "Two instances on one "
                     "4-tuple: the first (pre-reboot) is CLOSED on both sides, the ss sockets are "
                     "the second instance. Crash/reboot as in half_open_reboot (veth moved out, "
                     "socket aborted, namespace deleted and recreated with the same MAC/addresses).")


def repair_get_write_seq(sock):
    """Read tp->write_seq (next sequence number to send) via TCP_REPAIR."""
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON)
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)
    seq = struct.unpack("I", sock.getsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, 4))[0]
    # OFF_NO_WP: leave repair mode without sending a window probe
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP)
    return seq


def repair_set_isn(sock, isn):
    """Choose the ISN of a not yet connected socket.

    In repair mode the send-queue sequence (tp->write_seq) of a CLOSED
    socket can be set; tcp_v4_connect() only picks a random ISN when
    write_seq is 0, so the SYN then carries this ISN."""
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_ON)
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)
    sock.setsockopt(socket.IPPROTO_TCP, TCP_QUEUE_SEQ, struct.pack("I", isn))
    sock.setsockopt(socket.IPPROTO_TCP, TCP_REPAIR, TCP_REPAIR_OFF)


@scenario(2)
def syn_to_time_wait(lab):
    """A new SYN on a tuple the server holds in TIME_WAIT, with a LOWER ISN.

    Connection 1: server closes first -> server TIME_WAIT.  Connection 2
    binds the same client port and connects with an ISN 100000 below the
    old connection's last sequence number.  The TIME_WAIT socket only
    accepts a SYN whose sequence is after its rcv_nxt (or whose timestamp is
    newer; timestamps are off in the client namespace, so no SYN carries
    one), so it answers with a bare ACK carrying the old numbers.  The
    client's SYN_SENT socket finds that ACK unacceptable and sends RST with
    seq = the ACK number = the TIME_WAIT's rcv_nxt, which kills the TIME_WAIT
    socket (TIME_WAIT assassination; net.ipv4.tcp_rfc1337 = 0).  The SYN is
    retransmitted ~10 ms later (the SYN_SENT socket re-arms its retransmit
    timer to TCP_TIMEOUT_MIN after an unacceptable ACK), reaches the
    listener and connects."""
    lab.description = ("Connection 1 (40001) is closed by the server first; connection 2 from port "
                       "40001 sends a SYN with an ISN below the old numbers, gets an ACK from the "
                       "server's TIME_WAIT socket, resets it, and succeeds with the SYN "
                       "retransmitted ~10 ms later.")
    # Timestamps off on the client: a SYN with a newer timestamp would be
    # accepted by TIME_WAIT whatever its ISN.
    sh("sysctl", "-qw", "net.ipv4.tcp_timestamps=0", ns=CLI_NS)
    srv = lab.listen()
    lab.start_capture("cli")
    c1 = lab.connect(40001)
    s1 = lab.accept(srv)
    exchange(c1, s1)
    last_seq = repair_get_write_seq(c1)
    s1.close()
    expect_eof(c1)
    c1.close()      # client LAST_ACK -> CLOSED; server TIME_WAIT, rcv_nxt = last_seq + 1
    lab.add_conn(40001)
    time.sleep(0.5)
    isn2 = (last_seq - 100000) & 0xFFFFFFFF
    c2 = lab.client(40001)
    repair_set_isn(c2, isn2)
    t0 = time.time()
    c2.connect((lab.srv_ip, PORT))
    took = time.time() - t0
    s2 = lab.accept(srv)
    exchange(c2, s2, request=b"second try\n", response=b"ok\n")
    lab.add_conn(40001)
    lab.finish()
    lab.notes.append(
        f"All packets are real kernel packets. The only thing chosen by the script is the ISN of "
        f"connection 2 ({isn2}, 100000 below connection 1's final client sequence {last_seq}), set "
        f"with TCP_REPAIR before connect(); the kernel would otherwise pick a larger, time-based "
        f"ISN and the TIME_WAIT socket would accept the SYN (as in port_reuse). TCP timestamps "
        f"are disabled in {CLI_NS} (so neither connection uses them). connect() took "
        f"{took * 1000:.0f} ms: the SYN is retransmitted ~10 ms after the RST, not after 1 s, "
        f"because Linux re-arms the SYN_SENT retransmit timer to TCP_TIMEOUT_MIN when it gets an "
        f"unacceptable ACK. "
        f"Two instances on one 4-tuple: the first is CLOSED on both sides; the ss sockets belong "
        f"to the second.")


@scenario(2)
def syn_flood(lab):
    """300 SYNs from spoofed sources 10.201.0.100-250 to the listener.

    Sent through a raw socket in the client namespace; nobody owns those
    addresses.  Static neighbour entries on the server point them to a MAC
    no interface has (like off-link hosts behind a router), so the SYN-ACKs
    reach the wire and vanish.  Listener backlog 128: once the SYN queue is
    over the backlog, Linux (tcp_syncookies = 1) answers with SYN cookies and
    keeps no state; the first SYNs get request sockets (SYN-RECV) whose
    SYN-ACKs are retransmitted after 1 s, 3 s, ..."""
    n = 300
    lab.description = (f"{n} SYNs from spoofed random sources 10.201.0.100-250 are sent to port "
                       "8080 (listen backlog 128); nobody answers the server's SYN-ACKs.")
    srv = lab.listen(backlog=128)
    batch = "".join(f"neigh replace 10.201.0.{h} lladdr {NOBODY_MAC} nud permanent dev {SRV_IF}\n"
                    for h in range(100, 251))
    sh("ip", "-n", SRV_NS, "-batch", "-", input=batch)
    raw = lab.socket("cli", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    rng = random.Random(20240201)
    tuples = set()
    while len(tuples) < n:
        tuples.add((f"10.201.0.{rng.randint(100, 250)}", rng.randint(1024, 65535)))
    order = sorted(tuples, key=lambda t: rng.random())
    lab.start_capture("srv")
    for i, (src, sport) in enumerate(order):
        raw.sendto(craft_syn(src, SRV4, sport, PORT, seq=rng.getrandbits(32), ip_id=i + 1),
                   (SRV4, 0))
        lab.add_conn(sport, cip=src, client_in_ns=False)
        time.sleep(0.001)
    # Wait past the request sockets' second SYN-ACK retransmission (1 s + 2 s):
    # a pcap ends at its last packet, and only a capture that runs well past
    # the 1 s initial RTO shows which SYN-ACKs were never repeated (cookies).
    lab.finish(settle=3.5)
    states = [c["server"]["state"] for c in lab.truth_connections()]
    n_recv = states.count("SYN_RECEIVED")
    lab.notes.append(
        f"SYNs were built by this script (struct) and sent from {CLI_NS} through a raw socket with "
        f"spoofed source addresses; the spoofed clients exist nowhere, so their state is CLOSED. "
        f"Static ARP entries in {SRV_NS} map 10.201.0.100-250 to {NOBODY_MAC}, which no interface "
        f"has, so SYN-ACKs go on the wire and are dropped by the client NIC. ss showed {n_recv} "
        f"request sockets (SYN_RECEIVED); the other {n - n_recv} SYNs were answered with SYN "
        f"cookies (tcp_syncookies=1) once the SYN queue exceeded the listen backlog of 128, so the "
        f"server keeps no state for them (CLOSED). The capture runs ~3 s past the last SYN, so "
        f"it holds the first (1 s) and second (3 s) SYN-ACK retransmissions of the request "
        f"sockets; a cookie SYN-ACK is never retransmitted.")


@scenario(2)
def udp_only(lab):
    """A capture that holds no TCP: taken with the filter 'not tcp'.

    DNS-like UDP queries and answers (port 53), one datagram to a closed
    UDP port (the server kernel answers ICMP port unreachable) and ARP go on
    the wire and into the capture.  A TCP request/response runs on the same
    link at the same time, but the filter keeps it out: the mistake
    no_tcp_traffic is for.  The TCP connection is aborted (SO_LINGER 0) so
    that no socket of it is left for ss: the truth holds no TCP connection,
    like the capture."""
    queries = 40
    lab.description = (f"{queries} UDP queries to 10.201.0.2:53, each answered, and one datagram to "
                       "closed UDP port 54 (ICMP port unreachable), captured with the filter "
                       "'not tcp' while a TCP request/response to 8080 ran (aborted, no socket left).")
    srv = lab.listen()
    dns = lab.socket("srv", type=socket.SOCK_DGRAM)
    dns.bind((SRV4, 53))
    dns.settimeout(10)
    client = lab.socket("cli", type=socket.SOCK_DGRAM)
    client.bind((CLI4, 40053))
    client.settimeout(10)
    lab.start_capture("cli", bpf="not tcp")
    for i in range(queries):
        client.sendto(b"query %d\n" % i, (SRV4, 53))
        data, peer = dns.recvfrom(512)
        dns.sendto(b"answer to " + data, peer)
        client.recvfrom(512)
        if i == queries // 2:
            c = lab.connect(40001)
            s = lab.accept(srv)
            exchange(c, s)
            set_linger0(c)
            c.close()
        time.sleep(0.01)
    client.sendto(b"nobody here\n", (SRV4, 54))
    time.sleep(0.2)
    lab.finish()
    lab.notes.append("The capture filter 'not tcp' dropped every segment of the TCP connection "
                     "10.201.0.1:40001 -> 10.201.0.2:8080 (request, response, RST); it held no socket "
                     "at the ss snapshot. The capture holds the UDP datagrams, the ICMP port "
                     "unreachable for port 54 and the ARP exchange.")


@scenario(2)
def port_scan(lab):
    """A connect() scan of 200 ports and a half-open (nmap -sS style) scan.

    10.201.0.1 connect()s to ports 8000-8199 of the server one after the
    other, as nmap -sT does: closed ports answer RST (ECONNREFUSED), the
    listening ones (8022, 8080, 8181) complete the handshake and the scanner
    close()s at once, and 8100 is filtered by an iptables DROP rule on the
    server, so that non-blocking connect() is still in SYN_SENT, retrying,
    at the ss snapshot.  Then 10.201.0.6 sends crafted SYNs (raw socket) to
    32 ports: its kernel has no socket for the SYN-ACKs of the open ports and
    answers them with RST, as nmap -sS leaves it to.  Beside the scans, three
    ordinary clients (10.201.0.3-5) are refused twice each by closed port
    9999: a burst of refusals, no scan."""
    ports = range(8000, 8200)
    listening = (8022, 8080, 8181)
    filtered = 8100
    half_open_ports = list(range(8000, 8030)) + [8080, 8181]
    scanner2 = "10.201.0.6"
    others = ("10.201.0.3", "10.201.0.4", "10.201.0.5")
    lab.description = (f"10.201.0.1 connect()-scans ports 8000-8199 of the server (8022, 8080, 8181 "
                       f"listen; {filtered} dropped by iptables); {scanner2} SYN-scans "
                       f"{len(half_open_ports)} ports with crafted SYNs (its kernel resets the "
                       f"SYN-ACKs); 10.201.0.3-5 are each refused twice by closed port 9999.")
    for ip in others + (scanner2,):
        sh("ip", "-n", CLI_NS, "addr", "add", f"{ip}/24", "dev", CLI_IF)
    listeners = {p: lab.listen(p) for p in listening}
    rule = ("INPUT", "-p", "tcp", "--dport", str(filtered), "--syn", "-j", "DROP")
    lab.iptables_add("srv", *rule)
    lab.start_capture("cli")
    for i, port in enumerate(ports):
        cport = 41000 + i
        c = lab.client(cport)
        lab.add_conn(cport, sport=port)
        if port == filtered:
            # Left trying, as a scanner waits out its timeout on a filtered port.
            c.setblocking(False)
            err = c.connect_ex((lab.srv_ip, port))
            assert err == 115, err   # EINPROGRESS
            started = time.time()
            continue
        try:
            c.connect((lab.srv_ip, port))
        except ConnectionRefusedError:
            c.close()
            continue
        s = lab.accept(listeners[port])
        c.close()
        expect_eof(s)
        s.close()
    for i, ip in enumerate(others):
        for j in range(2):
            cport = 42001 + 2 * i + j
            c = lab.socket("cli")
            c.bind((ip, cport))
            c.settimeout(10)
            with contextlib.suppress(ConnectionRefusedError):
                c.connect((lab.srv_ip, 9999))
                raise RuntimeError("connect to closed port 9999 succeeded")
            c.close()
            lab.add_conn(cport, sport=9999, cip=ip)
            time.sleep(0.02)
    raw = lab.socket("cli", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    rng = random.Random(8000)
    for i, port in enumerate(half_open_ports):
        raw.sendto(craft_syn(scanner2, SRV4, 43210, port, seq=rng.getrandbits(32), ip_id=i + 1),
                   (SRV4, 0))
        lab.add_conn(43210, sport=port, cip=scanner2)
        time.sleep(0.005)
    # Past the filtered port's first SYN retransmission (1 s).
    time.sleep(max(0.0, started + 1.5 - time.time()))
    lab.finish(settle=0.3)
    dropped = lab.iptables_remove("srv", *rule)
    lab.notes.append(
        f"iptables in {SRV_NS} (INPUT, --syn --dport {filtered} -j DROP) dropped {dropped} SYN(s); the "
        f"rule was removed after the capture stopped. The connect() scan used client ports "
        f"41000-41199 in port order; the SYN scan's SYNs were built by this script (struct) and sent "
        f"from {scanner2}:43210 through a raw socket in {CLI_NS}, whose kernel holds that address and "
        f"no socket for it, so it answered each SYN-ACK with RST. 10.201.0.3-5 used ports 42001-42006.")


@scenario(2)
def syns_only(lab):
    """Connection attempts only: the capture filter 'tcp[tcpflags] == tcp-syn'.

    What an operator counting new connections captures: each SYN and
    nothing else -- no SYN-ACK, no RST, no data, no FIN.  Four attempts end
    four ways that the capture cannot show: 40001 connects, exchanges a
    request and a response and stays open; 40002 connects and stays idle;
    40003 exchanges and the client closes first (TIME_WAIT); 40004 is
    refused by port 8081, where nothing listens (RST).  Then 40005 connects
    to port 8082, whose SYNs the server's iptables drops: its kernel sends
    the SYN again every second (Linux >= 6.5, tcp_syn_linear_timeouts=4),
    so the capture goes on, and it is still trying at the ss snapshot,
    4.5 s later -- the one attempt the capture shows as it is.  None of the
    first four SYNs is repeated: each was answered (a socket in SYN_SENT
    repeats its SYN after the initial RTO, 1 s)."""
    lab.description = ("Capture filter 'tcp[tcpflags] == tcp-syn' (SYNs only): 40001 connects, "
                       "exchanges and stays open; 40002 connects and stays idle; 40003 exchanges and "
                       "the client closes first; 40004 is refused by port 8081; 40005's SYNs to port "
                       "8082 are dropped by iptables and retransmitted until the end.")
    lab.capture_lacks = ("Everything but the SYNs (the filter 'tcp[tcpflags] == tcp-syn'): the "
                         "SYN-ACKs, the RST, the data, the FINs and every ACK.")
    srv = lab.listen()
    filtered = 8082
    rule = ("INPUT", "-p", "tcp", "--dport", str(filtered), "--syn", "-j", "DROP")
    lab.iptables_add("srv", *rule)
    lab.start_capture("cli", bpf="tcp[tcpflags] == tcp-syn")
    c1 = lab.connect(40001)
    s1 = lab.accept(srv)
    exchange(c1, s1)
    lab.add_conn(40001)
    lab.connect(40002)
    lab.accept(srv)
    lab.add_conn(40002)
    closes_first(lab, 40003, "client")
    refused_connect(lab, 40004, 8081)
    c5 = lab.client(40005)
    c5.setblocking(False)
    err = c5.connect_ex((lab.srv_ip, filtered))
    assert err == 115, err   # EINPROGRESS
    lab.add_conn(40005, sport=filtered)
    # Past the fourth retransmission (+4 s), before the fifth (+6 s).
    time.sleep(4.2)
    lab.finish(settle=0.3)
    dropped = lab.iptables_remove("srv", *rule)
    lab.notes.append(
        f"tcpdump ran on the client veth with the capture filter 'tcp[tcpflags] == tcp-syn'. The "
        f"kernels exchanged every packet; the capture holds the SYNs only. iptables in the server "
        f"namespace (INPUT, --syn --dport {filtered} -j DROP) dropped {dropped} SYN(s) of 40005; the rule "
        f"was removed after the capture stopped. The sockets of 40001, 40002 and 40005 were held open "
        f"past the ss snapshot.")


@scenario(2)
def accept_queue_overflow(lab):
    """The application stops accept()ing; the full accept queue drops final ACKs.

    Listen backlog 3, tcp_syncookies=0 and tcp_abort_on_overflow=0 (the
    default) in tfa-srv.  Linux calls the accept queue full when it holds
    more than the backlog (sk_acceptq_is_full: sk_ack_backlog >
    sk_max_ack_backlog), so it takes 4 connections; with SYN cookies off it
    also keeps at most 3 request sockets (inet_csk_reqsk_queue_is_full).
    Connection 1 (40001) is accepted, served and closed; then the
    application stops calling accept().  40002-40004 connect and send their
    request: they wait in the accept queue (3 of 4).  40005-40007 set
    TCP_DEFER_ACCEPT on the client socket, which makes the client kernel
    delay its final ACK by TCP_DELACK_MAX (200 ms; tcp_rcv_synsent_state_process)
    -- so all three SYNs reach the listener while the queue has room (a SYN
    that finds the accept queue full is itself dropped, tcp_conn_request).
    The first of their ACKs to arrive fills the queue (which one depends on
    the order the three delayed-ACK timers fire); the other two find it full:
    tcp_check_req drops them (ListenOverflows) and, with
    tcp_abort_on_overflow=0, only marks the request acked.  Those clients
    are ESTABLISHED and send their request, retransmitted and never
    acknowledged; the server stays SYN_RECEIVED and retransmits its SYN-ACK
    (1 s, 3 s, 7 s), which the clients answer with duplicate ACKs, dropped
    again."""
    lab.description = ("Listen backlog 3, SYN cookies off; the application serves 40001 and then stops "
                       "accept()ing. 40002-40004 and one of 40005-40007 wait in the accept queue; the "
                       "final ACKs of the other two find it full and are dropped (ListenOverflows): those "
                       "clients are ESTABLISHED, their requests retransmitted, while the server stays "
                       "SYN_RECEIVED retransmitting its SYN-ACK.")
    sh("sysctl", "-qw", "net.ipv4.tcp_syncookies=0", ns=SRV_NS)
    abort = sh("sysctl", "-n", "net.ipv4.tcp_abort_on_overflow", ns=SRV_NS, capture=True).strip()
    if abort != "0":
        raise RuntimeError(f"tcp_abort_on_overflow is {abort} in {SRV_NS}, expected 0")
    backlog = 3
    srv = lab.listen(backlog=backlog)
    lab.start_capture("srv")
    closes_first(lab, 40001, "client")
    queued = []
    for cport in (40002, 40003, 40004):
        c = lab.connect(cport)
        c.sendall(REQUEST)
        lab.add_conn(cport)
        queued.append(c)
        time.sleep(0.05)
    late = []
    for cport in (40005, 40006, 40007):
        c = lab.client(cport)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
        c.setblocking(False)
        err = c.connect_ex((lab.srv_ip, PORT))
        assert err == 115, err   # EINPROGRESS
        lab.add_conn(cport)
        late.append(c)
    # Past the client's delayed ACK (TCP_DELACK_MAX, 200 ms): each sends its
    # bare final ACK, 40005's first.
    time.sleep(0.4)
    for c in late:
        _, w, _ = select.select([], [c], [], 2)
        if not w or c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            raise RuntimeError("a deferred-ACK client did not connect")
        c.setblocking(True)
        c.sendall(REQUEST)
        time.sleep(0.02)
    started = time.time()
    # Past the request sockets' third SYN-ACK retransmission (1 + 2 + 4 s).
    time.sleep(7.6)
    lab.finish(settle=0.3)
    overflows = sh("nstat", "-az", "TcpExtListenOverflows", ns=SRV_NS, capture=True, check=False)
    count = next((line.split()[1] for line in overflows.splitlines() if line.startswith("TcpExtListenOverflows")),
                 "?")
    truth = lab.truth_connections()
    states = [c["server"]["state"] for c in truth]
    held = [str(c["client"]["port"]) for c in truth if c["server"]["state"] == "SYN_RECEIVED"]
    lab.notes.append(
        f"{SRV_NS}: tcp_syncookies=0, tcp_abort_on_overflow=0, listen backlog {backlog}. The application "
        f"accept()ed only 40001. ss showed {states.count('SYN_RECEIVED')} request sockets (SYN_RECEIVED: "
        f"{', '.join(held)}) and {states.count('ESTABLISHED')} accept-queue children (ESTABLISHED, never "
        f"accept()ed). "
        f"TcpExtListenOverflows in {SRV_NS} at the end: {count} (every final ACK, request segment and "
        f"duplicate ACK of {' and '.join(held)} that reached the full queue). 40005-40007 set TCP_DEFER_ACCEPT on "
        f"the client socket only to delay their final ACK by 200 ms, so that their SYNs arrive while "
        f"the accept queue has room; every packet is the kernel's. The capture ran "
        f"{time.time() - started:.1f} s after the last request.")


@scenario(2)
def simultaneous_open(lab):
    """Two sockets connect() to each other and their SYNs cross (RFC 9293 3.5, figure 8).

    10.201.0.1:40001 and 10.201.0.2:8080 are both bound and both connect()
    to the other (non-blocking); nothing listens.  iptables in each
    namespace drops the peer's first SYN at INPUT (a SYN reaching a socket
    that is not yet connecting would be answered by RST).  The rules are
    removed; both SYN retransmission timers (1 s) fire together, so the
    retransmitted SYNs cross: each socket gets a SYN in SYN_SENT, goes
    SYN_RECEIVED and sends a SYN-ACK with its own ISN (tcp_rcv_synsent_state_process),
    and each SYN-ACK takes its receiver to ESTABLISHED (tcp_validate_incoming
    lets a SYN-ACK through in SYN_RECV when it acknowledges snd_nxt).  A
    message each way, then both stay open."""
    lab.description = ("10.201.0.1:40001 and 10.201.0.2:8080 connect() to each other; each side's "
                       "first SYN is dropped by iptables, the retransmitted SYNs cross (simultaneous "
                       "open), a message goes each way and both stay ESTABLISHED.")
    rules = {"cli": ("INPUT", "-p", "tcp", "-s", SRV4, "--sport", str(PORT), "--syn", "-j", "DROP"),
             "srv": ("INPUT", "-p", "tcp", "-s", CLI4, "--sport", "40001", "--syn", "-j", "DROP")}
    for side, rule in rules.items():
        lab.iptables_add(side, *rule)
    a = lab.client(40001)
    b = lab.socket("srv")
    b.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    b.bind((lab.srv_ip, PORT))
    lab.start_capture("cli")
    a.setblocking(False)
    b.setblocking(False)
    ea = a.connect_ex((lab.srv_ip, PORT))
    eb = b.connect_ex((lab.cli_ip, 40001))
    assert (ea, eb) == (115, 115), (ea, eb)   # EINPROGRESS
    lab.add_conn(40001)
    time.sleep(0.3)
    dropped = {}
    for side, rule in rules.items():
        dropped[side] = lab.iptables_counters(side).splitlines()[2].split()[0]
        lab.iptables_del(side, *rule)
    for s in (a, b):
        _, w, _ = select.select([], [s], [], 5)
        err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if not w or err:
            raise RuntimeError(f"simultaneous connect failed: {os.strerror(err) if err else 'timeout'}")
        s.setblocking(True)
        s.settimeout(10)
    a.sendall(b"hello from 40001\n")
    recv_exact(b, 17)
    b.sendall(b"hello from 8080\n")
    recv_exact(a, 16)
    time.sleep(0.05)
    lab.finish()
    lab.notes.append(
        f"Nothing listens: both sockets are bound and connect(). iptables INPUT rules dropped "
        f"{dropped['cli']} SYN(s) in {CLI_NS} and {dropped['srv']} in {SRV_NS} (the first SYNs; they are in "
        f"the capture, taken before INPUT) and were removed 0.3 s after the connects. "
        f"The client/server roles of the truth are by who connect()ed first (40001), as the capture "
        f"shows its SYN first.")


# ---------------------------------------------------------------------------

def run_scenario(name, out_dir):
    fn, _batch, kwargs = SCENARIOS[name]
    print(f"== {name}", flush=True)
    delete_stale_namespaces()
    lab = Lab(name, out_dir, **kwargs)
    try:
        lab.setup()
        fn(lab)
        truth = lab.write_truth()
    finally:
        lab.cleanup()
    states = [(c["client"]["state"], c["server"]["state"]) for c in truth["connections"]]
    summary = {}
    for st in states:
        summary[st] = summary.get(st, 0) + 1
    for (cs, ss_), count in summary.items():
        print(f"   {count} x client {cs} / server {ss_}")
    return truth


def main():
    global VERBOSE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", nargs="+", metavar="NAME", help="run only these scenarios")
    ap.add_argument("--batch", type=int, choices=(1, 2), help="run only this batch")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "..", "sample_pcaps"))
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument("-q", "--quiet", action="store_true")
    ap.add_argument("--ns-prefix", default=NS_PREFIX,
                    help="namespace name prefix (default %(default)s): another prefix lets two runs "
                         "share a machine, each deleting only its own stale namespaces")
    args = ap.parse_args()
    VERBOSE = not args.quiet
    if args.ns_prefix != NS_PREFIX:
        p = args.ns_prefix
        globals().update(NS_PREFIX=p, CLI_NS=p + "cli", SRV_NS=p + "srv", PARK_NS=p + "park",
                         RTR_NS=p + "rtr")
    if args.list:
        for name, (fn, batch, _) in SCENARIOS.items():
            print(f"{name:22s} batch {batch}  {fn.__doc__.strip().splitlines()[0]}")
        return 0
    if os.geteuid() != 0:
        print("must run as root (network namespaces, iptables, tcpdump)", file=sys.stderr)
        return 2
    names = args.only or [n for n, (_, b, _) in SCENARIOS.items()
                          if args.batch in (None, b)]
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s): {unknown}; see --list", file=sys.stderr)
        return 2
    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    failed = []
    for name in names:
        try:
            run_scenario(name, out_dir)
        except Exception as e:  # keep going, report at the end
            print(f"!! {name} failed: {e}", file=sys.stderr, flush=True)
            failed.append(name)
    delete_stale_namespaces()
    if failed:
        print(f"FAILED: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
