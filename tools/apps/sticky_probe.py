#!/usr/bin/env python3
"""Client-side probes for Tether's sticky-session tests (tests/integration/test_sticky*.py).

Run inside the client namespace of tools/topology; each subcommand prints one JSON object:

    ip netns exec P-cl python3 tools/apps/sticky_probe.py SUBCOMMAND [options]

  split     sends one HTTP request head in two segments, once for every split point (1..len-1),
            each over a new connection: the balancer must reassemble the head across the segment
            boundary before it can read the cookie and choose the backend
  segments  sends the head in N segments (TCP_NODELAY, a pause between them); N = 0: one byte each
  request   one request with a Cookie header padded to --cookie-bytes (an 8-16 KB head spans many
            segments and the session cookie comes last)
  synflood  SYNs to VIP:port from spoofed source addresses (raw IPv4 socket) at a bounded rate for
            a bounded time; reports how many were sent

The replies are the session app's (tools/apps/session_app.py): "You Are 'Logged In' (on bN)".
Python standard library only; synflood needs root (raw socket).
"""
import argparse
import json
import random
import re
import socket
import struct
import sys
import time

BACKEND_RE = re.compile(r"\bon (b\d+)\b")


def out(obj):
    sys.stdout.write(json.dumps(obj, sort_keys=True) + "\n")
    sys.stdout.flush()


def head_for(host, path, cookie, extra_cookie_bytes=0):
    cookies = []
    if extra_cookie_bytes:
        cookies.append("pad=" + "p" * extra_cookie_bytes)
    if cookie:
        cookies.append(cookie)
    lines = ["GET %s HTTP/1.1" % path, "Host: %s" % host, "User-Agent: sticky-probe"]
    if cookies:
        lines.append("Cookie: " + "; ".join(cookies))
    lines += ["Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def read_response(sock, timeout):
    sock.settimeout(timeout)
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def one_request(host, port, pieces, gap_s, timeout):
    """Sends `pieces` as separate segments; returns (status line, body text, backend) or raises."""
    s = socket.create_connection((host, port), timeout=timeout)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, piece in enumerate(pieces):
            if i:
                time.sleep(gap_s)
            s.sendall(piece)
        data = read_response(s, timeout)
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    text = body.decode(errors="replace").strip()
    m = BACKEND_RE.search(text)
    return status, text, m.group(1) if m else None


def summarise(results):
    """results: list of (label, status, text, backend or None, error or None)."""
    backends = {}
    failures = []
    for label, status, text, backend, err in results:
        if err or not status.startswith("HTTP/1.") or " 200 " not in status + " ":
            failures.append({"case": label, "error": err, "status": status, "text": text[:120]})
            continue
        backends[backend] = backends.get(backend, 0) + 1
        if "'Logged In'" not in text:
            failures.append({"case": label, "error": "not logged in", "text": text[:120]})
    return {"n": len(results), "backends": backends, "failures": failures}


def run_cases(args, cases):
    results = []
    for label, pieces in cases:
        try:
            status, text, backend = one_request(args.host, args.port, pieces, args.gap_ms / 1000.0,
                                                args.timeout)
            results.append((label, status, text, backend, None))
        except OSError as e:
            results.append((label, "", "", None, "%s: %s" % (type(e).__name__, e)))
    return summarise(results)


def cmd_split(args):
    head = head_for(args.host, args.path, args.cookie)
    points = range(1, len(head)) if args.every else sorted(set(range(1, len(head), args.step)))
    r = run_cases(args, [("split@%d" % k, [head[:k], head[k:]]) for k in points])
    r["head_bytes"] = len(head)
    out(r)


def cmd_segments(args):
    """The head in --count near-equal segments (0: one byte per segment), once per --offset, so the
    boundaries fall in different places (inside the request line, a header name, the cookie)."""
    head = head_for(args.host, args.path, args.cookie)
    n = len(head) if args.count == 0 else min(args.count, len(head))
    cases = []
    for offset in range(args.offsets):
        cuts = sorted({0, len(head)} | {min(len(head) - 1, max(1, (i * len(head)) // n + offset)) for i in range(1, n)})
        cases.append(("segments%d+%d" % (len(cuts) - 1, offset), [head[a:b] for a, b in zip(cuts, cuts[1:])]))
    r = run_cases(args, cases)
    r["head_bytes"] = len(head)
    r["segments"] = [len(pieces) for _, pieces in cases]
    out(r)


def cmd_request(args):
    head = head_for(args.host, args.path, args.cookie, args.cookie_bytes)
    r = run_cases(args, [("cookie%d" % args.cookie_bytes, [head])] * args.repeat)
    r["head_bytes"] = len(head)
    out(r)


def checksum16(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def spoofed_syn(src, dst, sport, dport, seq):
    # TCP SYN with an MSS option (the shape of a real client's SYN, so it takes the SYN-cookie path).
    options = struct.pack("!BBH", 2, 4, 1460)
    doff = (20 + len(options)) // 4
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, doff << 4, 0x02, 64240, 0, 0) + options
    pseudo = struct.pack("!4s4sBBH", socket.inet_aton(src), socket.inet_aton(dst), 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum16(pseudo + tcp)) + tcp[18:]
    total = 20 + len(tcp)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, random.randrange(65536), 0, 64, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum16(ip)) + ip[12:]
    return ip + tcp


def cmd_synflood(args):
    rng = random.Random(args.seed)
    net = int.from_bytes(socket.inet_aton(args.spoof_net), "big")
    frames = []
    for _ in range(4096):
        src = socket.inet_ntoa((net + rng.randrange(1, 1 << (32 - args.spoof_prefix))).to_bytes(4, "big"))
        frames.append(spoofed_syn(src, args.host, rng.randrange(1024, 65536), args.port,
                                  rng.randrange(1 << 32)))
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    sent = errors = 0
    t0 = time.monotonic()
    end = t0 + args.seconds
    per_tick = max(1, args.rate // 1000)
    next_tick = t0
    i = 0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if now < next_tick:
            time.sleep(next_tick - now)
        next_tick += per_tick / args.rate
        for _ in range(per_tick):
            try:
                s.sendto(frames[i & 4095], (args.host, 0))
                sent += 1
            except OSError:
                errors += 1  # a full socket buffer: the flood is bounded either way
            i += 1
    seconds = time.monotonic() - t0
    out({"sent": sent, "errors": errors, "seconds": round(seconds, 3), "pps": round(sent / seconds)})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--host", required=True)
        p.add_argument("--port", type=int, default=80)
        p.add_argument("--path", default="/api/users/status")
        p.add_argument("--cookie", default="", help="NAME=VALUE sent in the Cookie header")
        p.add_argument("--timeout", type=float, default=5.0)
        p.add_argument("--gap-ms", type=float, default=15.0, help="pause between segments")

    p = sub.add_parser("split")
    common(p)
    p.add_argument("--every", action="store_true", help="every split point (default: every --step)")
    p.add_argument("--step", type=int, default=1)
    p = sub.add_parser("segments")
    common(p)
    p.add_argument("--count", type=int, default=0, help="number of segments (0: one per byte)")
    p.add_argument("--offsets", type=int, default=1, help="repeat with the cuts moved by 0..N-1 bytes")
    p = sub.add_parser("request")
    common(p)
    p.add_argument("--cookie-bytes", type=int, default=0, help="size of an extra cookie before --cookie")
    p.add_argument("--repeat", type=int, default=1)
    p = sub.add_parser("synflood")
    p.add_argument("--host", required=True)
    p.add_argument("--port", type=int, default=80)
    p.add_argument("--rate", type=int, default=20000, help="SYNs per second (upper bound)")
    p.add_argument("--seconds", type=float, default=2.5)
    p.add_argument("--spoof-net", default="198.18.0.0")
    p.add_argument("--spoof-prefix", type=int, default=15)
    p.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    if args.cmd == "synflood" and not (0 < args.seconds <= 30 and 0 < args.rate <= 1_000_000):
        ap.error("synflood is bounded: 0 < --seconds <= 30, 0 < --rate <= 1000000")
    {"split": cmd_split, "segments": cmd_segments, "request": cmd_request, "synflood": cmd_synflood}[args.cmd](args)


if __name__ == "__main__":
    main()
