#!/usr/bin/env python3
"""Client-side probes for Tether's integration tests, run inside a namespace of tools/topology:

    ip netns exec P-cl python3 tests/integration/netprobe.py SUBCOMMAND [options]

Each subcommand prints one JSON object on stdout (except `hold`, which prints one JSON object per
line as it goes) so the test driving it, outside the namespace, can assert on the result.
Python standard library only; raw frames go through AF_PACKET and need root.

  http-burst  N curl processes (P at a time) against a URL; counts the response bodies
  udp         F UDP flows (one socket each) sending M datagrams to VIP:port; reports who answered
  arp         one ARP who-has from an interface; lists every reply
  frames      sends crafted bad frames (truncated or inconsistent headers, bogus ethertype)
  ipip-udp    sends an IP-in-IP packet carrying UDP to VIP:port straight to a backend, waits for
              the reply (checks a backend's decapsulation without a balancer)
  hold        keep-alive HTTP session: GET / (who serves me), then a /blob download that pauses
              until a line arrives on stdin, then finishes and verifies the SHA-256
"""
import argparse
import collections
import concurrent.futures
import fcntl
import hashlib
import http.client
import json
import random
import select
import socket
import struct
import subprocess
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
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


def l4_checksum(src, dst, proto, segment):
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
        p = subprocess.run(["curl", "-sS", "--fail", "--max-time", str(args.max_time), "-o", "-",
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
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
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
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        r, _, _ = select.select([s], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        data, addr = s.recvfrom(2048)
        if addr[2] == socket.PACKET_OUTGOING or len(data) < 42:
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
    src = iface_ipv4(args.iface)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((src, 0))
    sport = udp.getsockname()[1]
    payload = args.payload.encode()
    inner = ipv4_header(src, args.vip, 17, 8 + len(payload)) + udp_segment(src, args.vip, sport,
                                                                           args.port, payload)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)  # kernel adds the outer header, proto 4
    raw.sendto(inner, (args.backend, 0))
    udp.settimeout(args.wait)
    try:
        data, peer = udp.recvfrom(65535)
        out({"reply": data.decode(errors="replace"), "from": "%s:%d" % peer})
    except socket.timeout:
        out({"reply": None, "from": None})


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

    p = sub.add_parser("hold")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--bytes", type=int, required=True)
    p.add_argument("--pause-after", type=int, required=True)
    p.add_argument("--chunk-delay", type=float, default=0.0)
    p.add_argument("--timeout", type=float, default=30)

    args = ap.parse_args()
    {"http-burst": cmd_http_burst, "udp": cmd_udp, "arp": cmd_arp, "frames": cmd_frames,
     "ipip-udp": cmd_ipip_udp, "hold": cmd_hold}[args.cmd](args)


if __name__ == "__main__":
    main()
