#!/usr/bin/env python3
"""Client-side probes for Tether's integration tests, run inside a namespace of tools/topology:

    ip netns exec P-cl python3 tests/integration/netprobe.py SUBCOMMAND [options]

Each subcommand prints one JSON object on stdout (except `hold`, which prints one JSON object per
line as it goes) so the test driving it, outside the namespace, can assert on the result.
Python standard library only; raw frames go through AF_PACKET and need root.

  http-burst  N curl processes (P at a time) against a URL; counts the response bodies
  udp         F UDP flows (one socket each) sending M datagrams to VIP:port; reports who answered
  arp         one ARP who-has from an interface; lists every reply
  ndp         one IPv6 neighbour solicitation from an interface; lists every advertisement
  frames      sends crafted bad frames (truncated or inconsistent headers, bogus ethertype)
  ipip-udp    sends an IP-in-IP packet carrying UDP to VIP:port straight to a backend, waits for
              the reply (checks a backend's decapsulation without a balancer); IPv6-in-IPv4
              (protocol 41) when the VIP is IPv6
  hold        keep-alive HTTP session: GET / (who serves me), then a /blob download that pauses
              until a line arrives on stdin, then finishes and verifies the SHA-256

Background loops: they print {"event": "started"} once traffic runs, then read commands on stdin
(`mark NAME`: later requests count under phase NAME, acknowledged with {"event": "marked"}; `stop` or
end of input: finish) and print one JSON result. A request belongs to the phase that was current when
its first packet was sent; the switch is atomic with that, so every request of a phase acknowledged
after a balancer change started after the change, and every request of the phase before it started
before the mark was sent.
  http-loop   new TCP connection per GET / at a steady rate; per-phase counts and every failure
  http-stream one keep-alive connection repeating GET /blob, checking size, SHA-256 and backend
  udp-loop    numbered UDP requests at a steady rate over a rotating set of flows; every reply is
              matched to its request, and each flow must be answered by one backend only
"""
import argparse
import collections
import concurrent.futures
import fcntl
import hashlib
import http.client
import json
import os
import random
import select
import socket
import struct
import subprocess
import sys
import threading
import time

ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
SIOCGIFADDR = 0x8915


def out(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def mac_bytes(mac):
    return bytes(int(x, 16) for x in mac.split(":"))


def mac_str(b):
    return ":".join("%02x" % x for x in b)


def iface_ipv4(iface):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        req = struct.pack("256s", iface.encode()[:15])
        return socket.inet_ntoa(fcntl.ioctl(s.fileno(), SIOCGIFADDR, req)[20:24])
    finally:
        s.close()


def iface_ipv6(iface):
    """The interface's global IPv6 address (/proc/net/if_inet6: address, index, prefix, scope 00)."""
    with open("/proc/net/if_inet6") as f:
        for line in f:
            hexaddr, _index, _plen, scope, _flags, name = line.split()
            if name == iface and scope == "00":
                return socket.inet_ntop(socket.AF_INET6, bytes.fromhex(hexaddr))
    raise SystemExit("%s has no global IPv6 address" % iface)


def checksum16(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def ipv4_header(src, dst, proto, payload_len, ihl=5, total_length=None, ident=None):
    """A 20-byte IPv4 header with a correct checksum (over whatever fields we were told to lie in)."""
    if total_length is None:
        total_length = 20 + payload_len
    if ident is None:
        ident = random.randrange(65536)
    hdr = struct.pack("!BBHHHBBH4s4s", (4 << 4) | ihl, 0, total_length, ident, 0x4000, 64, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", checksum16(hdr)) + hdr[12:]


def ipv6_header(src, dst, next_header, payload_len, hop_limit=64):
    return struct.pack("!IHBB16s16s", 6 << 28, payload_len, next_header, hop_limit,
                       socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst))


def l4_checksum(src, dst, proto, segment):
    if ":" in src:  # IPv6 pseudo-header (RFC 8200 section 8.1)
        pseudo = (socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) +
                  struct.pack("!IxxxB", len(segment), proto))
    else:
        pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, proto, len(segment))
    c = checksum16(pseudo + segment)
    return c if c != 0 or proto != 17 else 0xFFFF


def udp_segment(src, dst, sport, dport, payload, length=None):
    if length is None:
        length = 8 + len(payload)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + payload
    c = l4_checksum(src, dst, 17, seg)
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def tcp_segment(src, dst, sport, dport, flags=0x02, doff=5, seq=None):
    if seq is None:
        seq = random.randrange(1 << 32)
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, doff << 4, flags, 64240, 0, 0)
    c = l4_checksum(src, dst, 6, seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


# --- http-burst ------------------------------------------------------------------------------------
def cmd_http_burst(args):
    def one(_i):
        # -g: brackets are an IPv6 literal (http://[fd00:99::100]/), not a glob.
        p = subprocess.run(["curl", "-sS", "-g", "--fail", "--max-time", str(args.max_time), "-o", "-",
                            args.url], capture_output=True, text=True)
        if p.returncode != 0:
            return None, "curl rc=%d %s" % (p.returncode, p.stderr.strip()[:200])
        return p.stdout.strip(), None

    counts = collections.Counter()
    errors = []
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.parallel) as pool:
        for body, err in pool.map(one, range(args.n)):
            if err:
                errors.append(err)
            else:
                counts[body] += 1
    out({"counts": dict(counts), "errors": errors, "seconds": round(time.monotonic() - start, 3)})


# --- udp -------------------------------------------------------------------------------------------
def cmd_udp(args):
    """Each flow is a connected socket (fixed source port), so all its datagrams form one flow."""
    flows = []
    for i in range(args.flows):
        s = socket.socket(socket.AF_INET6 if ":" in args.vip else socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((args.vip, args.port))
        flows.append(s)
    results = []
    for i, s in enumerate(flows):
        answered = {}
        wrong = []
        for j in range(args.per_flow):
            payload = "f%d-m%d-%s" % (i, j, "x" * args.pad)
            for _attempt in range(args.retries):
                s.send(payload.encode())
                deadline = time.monotonic() + args.wait
                got = None
                while time.monotonic() < deadline:
                    r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
                    if not r:
                        break
                    try:
                        data = s.recv(65535).decode(errors="replace")
                    except ConnectionRefusedError:
                        wrong.append("ICMP port unreachable")
                        break
                    name, _, echoed = data.partition(":")
                    if echoed == payload:
                        got = name
                        break
                    wrong.append(data[:80])  # a late reply to an earlier attempt, or garbage
                if got is not None:
                    answered[payload] = got
                    break
        results.append({"sport": s.getsockname()[1], "backends": sorted(set(answered.values())),
                        "answered": len(answered), "sent": args.per_flow, "unexpected": wrong[:5]})
        s.close()
    out({"flows": results})


# --- arp -------------------------------------------------------------------------------------------
def incoming_frames(s, wait):
    """The frames a packet socket receives within `wait` seconds, our own outgoing ones left out."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            return
        data, addr = s.recvfrom(2048)
        if addr[2] != socket.PACKET_OUTGOING:
            yield data


def cmd_arp(args):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    s.bind((args.iface, ETH_P_ARP))
    my_mac = s.getsockname()[4]
    my_ip = iface_ipv4(args.iface)
    arp = struct.pack("!HHBBH6s4s6s4s", 1, ETH_P_IP, 6, 4, 1, my_mac, socket.inet_aton(my_ip),
                      b"\0" * 6, socket.inet_aton(args.target))
    frame = b"\xff" * 6 + my_mac + struct.pack("!H", ETH_P_ARP) + arp
    s.send(frame + b"\0" * max(0, 60 - len(frame)))
    replies = []
    for data in incoming_frames(s, args.wait):
        if len(data) < 42:
            continue
        htype, ptype, hlen, plen, op, sha, spa, tha, tpa = struct.unpack("!HHBBH6s4s6s4s", data[14:42])
        # Only answers to us: a gratuitous ARP (target = sender) is not a reply to our question.
        if op != 2 or socket.inet_ntoa(spa) != args.target or socket.inet_ntoa(tpa) != my_ip:
            continue
        replies.append({"eth_src": mac_str(data[6:12]), "eth_dst": mac_str(data[0:6]),
                        "sender_mac": mac_str(sha), "sender_ip": socket.inet_ntoa(spa),
                        "target_mac": mac_str(tha), "target_ip": socket.inet_ntoa(tpa),
                        "htype": htype, "ptype": ptype, "hlen": hlen, "plen": plen})
    out({"my_mac": mac_str(my_mac), "my_ip": my_ip, "replies": replies})


# --- ndp -------------------------------------------------------------------------------------------
def cmd_ndp(args):
    """A neighbour solicitation (RFC 4861 section 4.3) for --target, sent as the kernel sends one: to
    the target's solicited-node group, hop limit 255, with our link-layer address. Lists every
    advertisement for the target, so a second answerer (a backend announcing the VIP) shows."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
    s.bind((args.iface, ETH_P_IPV6))
    my_mac = s.getsockname()[4]
    src = iface_ipv6(args.iface)
    target = socket.inet_pton(socket.AF_INET6, args.target)
    group = socket.inet_pton(socket.AF_INET6, "ff02::1:ff00:0")[:13] + target[13:]
    group_s = socket.inet_ntop(socket.AF_INET6, group)
    ns = struct.pack("!BBHI16sBB6s", 135, 0, 0, 0, target, 1, 1, my_mac)  # option 1: source link-layer
    ns = ns[:2] + struct.pack("!H", l4_checksum(src, group_s, 58, ns)) + ns[4:]
    s.send(b"\x33\x33" + group[12:] + my_mac + struct.pack("!H", ETH_P_IPV6) +
           ipv6_header(src, group_s, 58, len(ns), hop_limit=255) + ns)
    replies = []
    for data in incoming_frames(s, args.wait):
        if len(data) < 14 + 40 + 24 or data[20] != 58:
            continue
        na = data[54:]
        if na[0] != 136 or na[8:24] != target:
            continue
        tlla, off = None, 24
        while off + 8 <= len(na) and na[off + 1]:
            if na[off] == 2:  # target link-layer address
                tlla = mac_str(na[off + 2:off + 8])
            off += 8 * na[off + 1]
        replies.append({"eth_src": mac_str(data[6:12]), "eth_dst": mac_str(data[0:6]),
                        "src": socket.inet_ntop(socket.AF_INET6, data[22:38]),
                        "dst": socket.inet_ntop(socket.AF_INET6, data[38:54]), "target_mac": tlla,
                        "solicited": bool(na[4] & 0x40), "router": bool(na[4] & 0x80)})
    out({"my_mac": mac_str(my_mac), "my_ip": src, "replies": replies})


# --- frames ----------------------------------------------------------------------------------------
def bad_frame(kind, src_mac, dst_mac, src, vip):
    """Returns (frame, expected drop class) for one kind of malformed/unsupported frame."""
    eth = dst_mac + src_mac + struct.pack("!H", ETH_P_IP)
    sport = random.randrange(20000, 60000)
    if kind == "truncated_ipv4":          # 10 bytes of an IPv4 header, then the frame ends
        return eth + ipv4_header(src, vip, 6, 20)[:10], "malformed"
    if kind == "bad_ihl":                 # IHL 3 (12 bytes) is below the minimum of 5
        tcp = tcp_segment(src, vip, sport, 80)
        return eth + ipv4_header(src, vip, 6, len(tcp), ihl=3) + tcp, "malformed"
    if kind == "total_length_exceeds_frame":  # header claims 1400 bytes, the frame carries 40
        tcp = tcp_segment(src, vip, sport, 80)
        return eth + ipv4_header(src, vip, 6, len(tcp), total_length=1400) + tcp, "malformed"
    if kind == "total_length_below_header":   # total length 16 < 20-byte header
        tcp = tcp_segment(src, vip, sport, 80)
        return eth + ipv4_header(src, vip, 6, len(tcp), total_length=16) + tcp, "malformed"
    if kind == "tcp_data_offset_short":   # TCP data offset 2 (8 bytes) is below the minimum of 5
        tcp = tcp_segment(src, vip, sport, 80, doff=2)
        return eth + ipv4_header(src, vip, 6, len(tcp)) + tcp, "malformed"
    if kind == "tcp_truncated":           # IPv4 says protocol TCP but carries 10 bytes of it
        tcp = tcp_segment(src, vip, sport, 80)[:10]
        return eth + ipv4_header(src, vip, 6, len(tcp)) + tcp, "malformed"
    if kind == "udp_zero_length":         # UDP length field 0 (< 8-byte header)
        udp = udp_segment(src, vip, sport, 9000, b"hello", length=0)
        return eth + ipv4_header(src, vip, 17, len(udp)) + udp, "malformed"
    if kind == "bogus_ethertype":         # IEEE 802 local experimental ethertype
        return dst_mac + src_mac + struct.pack("!H", 0x88B5) + b"tether-test" + b"\0" * 35, "unsupported"
    raise SystemExit("unknown frame kind " + kind)


FRAME_KINDS = ["truncated_ipv4", "bad_ihl", "total_length_exceeds_frame", "total_length_below_header",
               "tcp_data_offset_short", "tcp_truncated", "udp_zero_length", "bogus_ethertype"]


def cmd_frames(args):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((args.iface, 0))
    src_mac = s.getsockname()[4]
    src = iface_ipv4(args.iface)
    sent = {}
    n = 0
    for kind in args.kind:
        for _ in range(args.count):
            frame, expect = bad_frame(kind, src_mac, mac_bytes(args.dst_mac), src, args.vip)
            s.send(frame)
            n += 1
            if args.batch and n % args.batch == 0:
                time.sleep(args.pause_ms / 1000.0)  # let a receiver sharing our CPU drain its ring
        sent[kind] = {"count": args.count, "bytes": len(frame), "expect": expect}
    out({"sent": sent})


# --- ipip-udp --------------------------------------------------------------------------------------
def cmd_ipip_udp(args):
    ipv6 = ":" in args.vip
    src = iface_ipv6(args.iface) if ipv6 else iface_ipv4(args.iface)
    udp = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((src, 0))
    sport = udp.getsockname()[1]
    payload = args.payload.encode()
    header = ipv6_header if ipv6 else ipv4_header
    inner = header(src, args.vip, 17, 8 + len(payload)) + udp_segment(src, args.vip, sport, args.port, payload)
    # The kernel adds the outer IPv4 header with the socket's protocol: 4, or 41 for IPv6 inside.
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 41 if ipv6 else 4)
    raw.sendto(inner, (args.backend, 0))
    udp.settimeout(args.wait)
    try:
        data, peer = udp.recvfrom(65535)
        out({"reply": data.decode(errors="replace"), "from": ("[%s]:%d" if ipv6 else "%s:%d") % peer[:2]})
    except socket.timeout:
        out({"reply": None, "from": None})


# --- frag-needed-udp -------------------------------------------------------------------------------
def cmd_frag_needed_udp(args):
    """One UDP echo through the VIP, then what a router on the client's side sends when a reply is too
    big for its next link: ICMP fragmentation needed (RFC 1191) to the VIP, quoting the echo's reply
    (VIP:port -> us:sport). Prints which backend answered, so the caller can look at its route cache.
    For an IPv6 VIP the error is ICMPv6 "packet too big" (RFC 4443 section 3.2)."""
    ipv6 = ":" in args.vip
    s = socket.socket(socket.AF_INET6 if ipv6 else socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((args.vip, args.port))
    src, sport = s.getsockname()[:2]
    payload = "pmtu-probe"
    name = None
    for _attempt in range(args.retries):
        s.send(payload.encode())
        r, _, _ = select.select([s], [], [], args.wait)
        if r:
            got, _, echoed = s.recv(65535).decode(errors="replace").partition(":")
            if echoed == payload:
                name = got
                break
    if name is None:
        out({"backend": None})
        return
    reply = ("%s:%s" % (name, payload)).encode()
    if ipv6:
        quote = ipv6_header(args.vip, src, 17, 8 + len(reply)) + udp_segment(args.vip, src, args.port, sport, reply)
        icmp = struct.pack("!BBHI", 2, 0, 0, args.mtu) + quote
        # The kernel fills in an ICMPv6 raw socket's checksum (RFC 3542 section 3.1).
        raw = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    else:
        quote = ipv4_header(args.vip, src, 17, 8 + len(reply)) + udp_segment(args.vip, src, args.port, sport, reply)
        icmp = struct.pack("!BBHHH", 3, 4, 0, 0, args.mtu) + quote
        icmp = icmp[:2] + struct.pack("!H", checksum16(icmp)) + icmp[4:]
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)  # the kernel adds the IP header
    for _ in range(args.count):
        raw.sendto(icmp, (args.vip, 0))
    out({"backend": name, "src": src, "sport": sport, "sent": args.count})


# --- hold ------------------------------------------------------------------------------------------
def http_get(conn, path):
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp


def cmd_hold(args):
    """Everything happens on one TCP connection, so it is one flow through the balancer."""
    conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
    resp = http_get(conn, "/")
    name = resp.read().decode().strip()
    sport = conn.sock.getsockname()[1]
    out({"event": "backend", "name": name, "status": resp.status, "sport": sport})

    resp = http_get(conn, "/blob?bytes=%d" % args.bytes)
    h = hashlib.sha256()
    got = 0
    while got < args.pause_after:
        chunk = resp.read(min(65536, args.pause_after - got))
        if not chunk:
            break
        h.update(chunk)
        got += len(chunk)
    out({"event": "paused", "read": got})
    line = sys.stdin.readline()  # the test reconfigures the balancer, then says go
    out({"event": "resumed", "command": line.strip()})
    while True:
        chunk = resp.read(65536)
        if not chunk:
            break
        h.update(chunk)
        got += len(chunk)
        if args.chunk_delay:
            time.sleep(args.chunk_delay)
    # The same connection must still work afterwards, and still reach the same backend.
    resp2 = http_get(conn, "/")
    after = resp2.read().decode().strip()
    out({"event": "done", "read": got, "sha256": h.hexdigest(), "name_after": after,
         "sport_after": conn.sock.getsockname()[1]})


# --- background loops ------------------------------------------------------------------------------
class Control:
    """stdin commands for the background loops: `mark NAME` switches the phase, `stop` (or EOF) ends.

    Senders hold `lock` from reading `phase` until their first packet is on its way (connect()
    returned, or send() did), so a mark is acknowledged only once no packet of the old phase is
    still to be sent."""

    def __init__(self):
        self.phase = "start"
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in sys.stdin:
            cmd, _, arg = line.strip().partition(" ")
            if cmd == "mark":
                with self.lock:
                    self.phase = arg
                out({"event": "marked", "phase": arg})
            elif cmd == "stop":
                break
        self.stopped.set()


def pacer(rate):
    """Yields once per 1/rate seconds on a fixed schedule (no drift); after a stall it catches up on
    at most a second's worth, so a descheduled client does not turn into a burst."""
    period = 1.0 / rate
    t = time.monotonic()
    while True:
        t += period
        delay = t - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        elif delay < -1.0:
            t = time.monotonic()
        yield


def cmd_http_loop(args):
    ctl = Control()
    lock = threading.Lock()
    phases = collections.OrderedDict()
    total = [0]

    def record(phase, name, err):
        with lock:
            ph = phases.setdefault(phase, {"counts": collections.Counter(), "errors": []})
            if err:
                ph["errors"].append(err)
            else:
                ph["counts"][name] += 1
            total[0] += 1

    def worker(i):
        for _ in pacer(args.rate / args.parallel):
            if ctl.stopped.is_set():
                return
            conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
            try:
                with ctl.lock:
                    phase = ctl.phase
                    try:
                        conn.connect()
                    except OSError as e:
                        record(phase, None, "connect: %s: %s" % (type(e).__name__, e))
                        continue
                # No "Connection: close": we read the whole response and close first, as curl does,
                # so our side keeps TIME_WAIT and the kernel never hands the same source port to a
                # later connection of this run. (If the server closed first, the port could come
                # back within seconds as the same 5-tuple, which tetherd, still tracking the old
                # flow in its closing state, takes for that flow: same backend, no new flow.)
                conn.request("GET", args.path)
                resp = conn.getresponse()
                body = resp.read().decode(errors="replace").strip()
                if resp.status != 200:
                    record(phase, None, "HTTP %d %s" % (resp.status, body[:80]))
                else:
                    record(phase, body, None)
            except (OSError, http.client.HTTPException) as e:
                record(phase, None, "%s: %s" % (type(e).__name__, e))
            finally:
                conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(args.parallel)]
    start = time.monotonic()
    for t in threads:
        t.start()
    out({"event": "started"})
    ctl.stopped.wait(args.duration)
    ctl.stopped.set()
    for t in threads:
        t.join(args.timeout + 5)
    seconds = time.monotonic() - start
    out({"phases": {k: {"counts": dict(v["counts"]), "errors": v["errors"][:20],
                        "failed": len(v["errors"])} for k, v in phases.items()},
         "phase_order": list(phases), "requests": total[0], "seconds": round(seconds, 3),
         "rate": round(total[0] / seconds, 1)})


def cmd_http_stream(args):
    """Everything on one keep-alive connection: one flow through the balancer for the whole run."""
    ctl = Control()
    want = None
    conn = http.client.HTTPConnection(args.host, args.port, timeout=args.timeout)
    backends = collections.Counter()
    errors = []
    requests = 0
    received = 0
    sport = None
    first = True
    start = time.monotonic()
    for _ in pacer(args.rate):
        if ctl.stopped.is_set() or time.monotonic() - start > args.duration:
            break
        try:
            conn.request("GET", "/blob?bytes=%d" % args.bytes)
            resp = conn.getresponse()
            data = resp.read()
            requests += 1
            received += len(data)
            backends[resp.getheader("X-Backend")] += 1
            if sport is None:
                sport = conn.sock.getsockname()[1]
            elif conn.sock.getsockname()[1] != sport:
                errors.append("connection was re-opened (source port %d -> %d)" %
                              (sport, conn.sock.getsockname()[1]))
                sport = conn.sock.getsockname()[1]
            if want is None:
                sys.path.insert(0, args.apps)
                from blob import blob_sha256
                want = blob_sha256(args.bytes)
            if resp.status != 200 or len(data) != args.bytes or hashlib.sha256(data).hexdigest() != want:
                errors.append("request %d: status %d, %d bytes, sha256 %s" % (
                    requests, resp.status, len(data), hashlib.sha256(data).hexdigest()[:16]))
        except (OSError, http.client.HTTPException) as e:
            errors.append("request %d: %s: %s" % (requests + 1, type(e).__name__, e))
            conn.close()  # http.client reconnects on the next request; the error is what counts
        if first:
            out({"event": "started"})
            first = False
    if first:
        out({"event": "started"})
    conn.close()
    out({"requests": requests, "bytes": received, "backends": dict(backends), "errors": errors[:20],
         "failed": len(errors), "seconds": round(time.monotonic() - start, 3)})


def cmd_udp_loop(args):
    """Request i carries "<flow>:<i>"; the echo answers "bN:<flow>:<i>". A flow (one connected
    socket, so one 5-tuple) sends `--per-flow` requests, then only listens for `--linger` seconds
    before it is closed, so new flows are created all the time while old ones finish cleanly."""
    ctl = Control()
    seq = 0
    pending = {}       # seq -> (flow id, send time, phase)
    flows = {}         # flow id -> {"sock", "sent", "retire_at", "backends"}
    by_fd = {}
    flow_backends = {}  # flow id -> Counter of backends that answered it
    phases = collections.OrderedDict()
    unexpected = []
    answered = 0
    late_max = 0.0
    next_flow = [0]

    def phase_stats(name):
        return phases.setdefault(name, {"sent": 0, "answered": 0, "counts": collections.Counter()})

    def open_flow():
        fid = next_flow[0]
        next_flow[0] += 1
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.connect((args.vip, args.port))
        sock.setblocking(False)
        flows[fid] = {"sock": sock, "sent": 0, "retire_at": None}
        by_fd[sock.fileno()] = fid
        flow_backends[fid] = collections.Counter()
        return fid

    active = [open_flow() for _ in range(args.flows)]
    poller = select.poll()
    for f in flows.values():
        poller.register(f["sock"], select.POLLIN)
    period = 1.0 / args.rate
    next_send = time.monotonic()
    start = next_send
    stop_at = None
    out({"event": "started"})
    rr = 0
    while True:
        now = time.monotonic()
        if stop_at is None and (ctl.stopped.is_set() or now - start > args.duration):
            stop_at = now
        if stop_at is not None and (not pending or now - stop_at > args.linger):
            break
        # Send what is due (bounded by the window of unanswered requests).
        while stop_at is None and next_send <= now and len(pending) < args.window:
            fid = active[rr % len(active)]
            rr += 1
            f = flows[fid]
            payload = ("%d:%d" % (fid, seq)).encode()
            with ctl.lock:
                phase = ctl.phase
                try:
                    f["sock"].send(payload)
                except OSError as e:
                    unexpected.append("send flow %d: %s" % (fid, e))
            pending[seq] = (fid, now, phase)
            phase_stats(phase)["sent"] += 1
            seq += 1
            f["sent"] += 1
            next_send += period
            if f["sent"] >= args.per_flow:  # retire it: listen only, then close
                f["retire_at"] = now + args.linger
                new = open_flow()
                poller.register(flows[new]["sock"], select.POLLIN)
                active[active.index(fid)] = new
        if next_send < now - 1.0:
            next_send = now  # don't try to catch up on more than a second of stall
        # Receive.
        for fd, _ev in poller.poll(1):
            fid = by_fd.get(fd)
            if fid is None:
                continue
            sock = flows[fid]["sock"]
            while True:
                try:
                    data = sock.recv(2048).decode(errors="replace")
                except BlockingIOError:
                    break
                except OSError as e:
                    unexpected.append("recv flow %d: %s" % (fid, e))
                    break
                name, _, rest = data.partition(":")
                rfid, _, rseq = rest.partition(":")
                try:
                    rfid, rseq = int(rfid), int(rseq)
                except ValueError:
                    unexpected.append(data[:80])
                    continue
                p = pending.get(rseq)
                if p is None or p[0] != rfid or rfid != fid:
                    unexpected.append("unmatched or duplicate reply %r on flow %d" % (data[:80], fid))
                    continue
                del pending[rseq]
                answered += 1
                late_max = max(late_max, time.monotonic() - p[1])
                phase_stats(p[2])["answered"] += 1
                phase_stats(p[2])["counts"][name] += 1
                flow_backends[fid][name] += 1
        # Close retired flows whose linger ended.
        for fid in [k for k, f in flows.items() if f["retire_at"] is not None and f["retire_at"] <= now]:
            f = flows.pop(fid)
            poller.unregister(f["sock"])
            del by_fd[f["sock"].fileno()]
            f["sock"].close()
    seconds = (stop_at or time.monotonic()) - start
    multi = {fid: dict(c) for fid, c in flow_backends.items() if len(c) > 1}
    lost = sorted(pending)
    out({"sent": seq, "answered": answered, "lost": len(lost), "lost_first": lost[:20],
         "lost_flows": sorted({pending[s][0] for s in lost})[:20],
         "flows": next_flow[0], "flows_multi_backend": multi,
         "unexpected": unexpected[:20], "unexpected_count": len(unexpected),
         "max_rtt_ms": round(late_max * 1000, 1), "seconds": round(seconds, 3),
         "rate": round(seq / seconds, 1) if seconds > 0 else 0,
         "phases": {k: {"sent": v["sent"], "answered": v["answered"], "counts": dict(v["counts"])}
                    for k, v in phases.items()}, "phase_order": list(phases)})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("http-burst")
    p.add_argument("--url", required=True)
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--max-time", type=float, default=10)

    p = sub.add_parser("udp")
    p.add_argument("--vip", required=True)
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--flows", type=int, default=20)
    p.add_argument("--per-flow", type=int, default=3)
    p.add_argument("--pad", type=int, default=0, help="extra payload bytes")
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--wait", type=float, default=1.0, help="seconds to wait for each reply")

    p = sub.add_parser("arp")
    p.add_argument("--iface", default="eth0")
    p.add_argument("--target", required=True)
    p.add_argument("--wait", type=float, default=1.0)

    p = sub.add_parser("ndp")
    p.add_argument("--iface", default="eth0")
    p.add_argument("--target", required=True)
    p.add_argument("--wait", type=float, default=1.0)

    p = sub.add_parser("frames")
    p.add_argument("--iface", default="eth0")
    p.add_argument("--dst-mac", required=True)
    p.add_argument("--vip", required=True)
    p.add_argument("--kind", action="append", choices=FRAME_KINDS, required=True)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--batch", type=int, default=32, help="frames sent back to back before a pause")
    p.add_argument("--pause-ms", type=float, default=1.0)

    p = sub.add_parser("ipip-udp")
    p.add_argument("--iface", default="eth0")
    p.add_argument("--backend", required=True)
    p.add_argument("--vip", required=True)
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--payload", default="ipip-probe")
    p.add_argument("--wait", type=float, default=2.0)

    p = sub.add_parser("frag-needed-udp")
    p.add_argument("--vip", required=True)
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--mtu", type=int, default=1300, help="next-hop MTU the error announces")
    p.add_argument("--count", type=int, default=1, help="errors sent")
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--wait", type=float, default=1.0)

    p = sub.add_parser("hold")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--bytes", type=int, required=True)
    p.add_argument("--pause-after", type=int, required=True)
    p.add_argument("--chunk-delay", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=30)

    p = sub.add_parser("http-loop")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--path", default="/")
    p.add_argument("--rate", type=float, default=50, help="new connections per second, in total")
    p.add_argument("--parallel", type=int, default=4, help="client threads")
    p.add_argument("--timeout", type=float, default=5, help="seconds per request")
    p.add_argument("--duration", type=float, default=120, help="stop by itself after this long")

    p = sub.add_parser("http-stream")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--bytes", type=int, default=65536, help="size of each /blob response")
    p.add_argument("--rate", type=float, default=20, help="requests per second")
    p.add_argument("--timeout", type=float, default=5)
    p.add_argument("--duration", type=float, default=120)
    p.add_argument("--apps", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                  "tools", "apps"), help="where blob.py is")

    p = sub.add_parser("udp-loop")
    p.add_argument("--vip", required=True)
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--rate", type=float, default=2000, help="requests per second")
    p.add_argument("--flows", type=int, default=8, help="flows sending at a time")
    p.add_argument("--per-flow", type=int, default=500, help="requests per flow before it is replaced")
    p.add_argument("--window", type=int, default=256, help="most unanswered requests at a time")
    p.add_argument("--linger", type=float, default=2.0, help="seconds a retired flow still listens")
    p.add_argument("--duration", type=float, default=120)

    args = ap.parse_args()
    {"http-burst": cmd_http_burst, "udp": cmd_udp, "arp": cmd_arp, "ndp": cmd_ndp, "frames": cmd_frames,
     "ipip-udp": cmd_ipip_udp, "frag-needed-udp": cmd_frag_needed_udp, "hold": cmd_hold, "http-loop": cmd_http_loop,
     "http-stream": cmd_http_stream, "udp-loop": cmd_udp_loop}[args.cmd](args)


if __name__ == "__main__":
    main()
