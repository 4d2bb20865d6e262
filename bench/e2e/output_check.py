#!/usr/bin/env python3
"""Checks what tetherd sent towards the backends, so the benchmark never times a wrong dataplane.

dataplane_bench replays a gen_pcap file once through tetherd with the sink port replaced by
net_pcap tx_pcap=FILE and runs this on FILE. Per forwarding mode it checks every frame:

  fullnat  IPv4 from one of the sink port's full-NAT addresses (--local-sources, default --local)
           to a backend:8080, local source port in range, every full-NAT address used,
           valid IPv4 and TCP/UDP checksums (RFC 1624 incremental updates done right)
  dsr      IP packet unchanged (client -> VIP:80), destination MAC = the chosen backend's MAC
  ipip     outer IPv4 (protocol 4) from the sink port's address to a backend, valid outer checksum,
           inner packet unchanged (client -> VIP:80)

and, for all modes, that the destination MAC belongs to the backend the packet goes to, that every
input flow appears once, and how evenly the flows spread over the backends (Maglev should be within
a few percent with thousands of flows).

With --replies (dataplane_bench --replies) FILE is instead what tetherd sent back towards the clients
when it replayed --input, a file of --flows client frames followed by one backend reply per flow
(bench/e2e/reply_pcap.py; the replies are IPv4, the clients IPv4 or, with --ipv6, IPv6). Each output
frame is tied to its input reply by its TCP sequence and acknowledgement numbers (which full-NAT and
NAT64 leave alone) and so to the client frame of its flow, and must be that client's VIP:port -> client
address:port exactly, in the client's IP version, with the client's MAC as destination and the port's
MAC (the clients' destination) as source, a valid TCP checksum (over the IPv4 or the IPv6
pseudo-header), and the reply's TCP header words other than ports and checksum (sequence numbers,
flags, window, urgent pointer), payload and segment length unchanged; an IPv4 reply also a valid
header checksum and its IP ID and flags unchanged, an IPv6 one (NAT64, RFC 7915 section 4.1) the
reply's TOS as traffic class, flow label 0, next header TCP with no extension header, payload length
= the segment's, hop limit the reply's TTL or one less. Every flow answered once. With --forwarded and --mapping it also
checks that the client frames of that replay left towards the backends exactly as in the capture the
replies were built from (same local address:port and backend per flow): the deterministic mapping the
replies rely on.

usage: output_check.py FILE --mode fullnat|dsr|ipip --flows N --vip A --dport N --local A
       --backends A,B,... --macs M,N,... [--backend-port N] [--local-ports MIN-MAX]
       [--local-sources FIRST-LAST]
       output_check.py FILE --replies --input MIXED --flows N [--forwarded FILE --mapping CAPTURE]
Prints one summary line; exit status 0 if every check passed, 1 otherwise.
"""
import argparse
import ipaddress
import struct
import sys
from collections import Counter

import pcap_file
from pcap_file import ones_sum, tcp_segment


def csum_ok(data: bytes) -> bool:
    return ones_sum(data) == 0xFFFF


def frames(path):
    return pcap_file.frames(path, "output_check")


def parse_ipv4(b):
    """Returns (header_len, total_len, proto, src, dst) or None."""
    if len(b) < 20 or b[0] >> 4 != 4:
        return None
    ihl = (b[0] & 0xF) * 4
    return ihl, struct.unpack("!H", b[2:4])[0], b[9], b[12:16], b[16:20]


def ipv4_frames(path, errors):
    """Yields (n, frame, IPv4 packet, parse_ipv4 header) for each frame of `path` that carries an IPv4
    header with a right checksum, recording the others in `errors`; stops after 20 errors."""
    for n, fr in enumerate(frames(path)):
        if len(errors) > 20:
            return
        if fr[12:14] != b"\x08\x00":
            errors.append(f"pkt {n}: ethertype {fr[12:14].hex()}")
            continue
        ip = fr[14:]
        h = parse_ipv4(ip)
        if h is None or not csum_ok(ip[: h[0]]):
            errors.append(f"pkt {n}: bad IPv4 header or header checksum")
            continue
        yield n, fr, ip, h


def check_l4(ip, errors, n, what):
    ihl, tot, proto, src, dst = parse_ipv4(ip)
    l4 = ip[ihl:tot]
    pseudo = src + dst + struct.pack("!BBH", 0, proto, len(l4))
    if proto not in (6, 17):
        errors.append(f"pkt {n}: {what}protocol {proto}")
        return None
    if not (proto == 17 and l4[6:8] == b"\0\0") and not csum_ok(pseudo + l4):
        errors.append(f"pkt {n}: {what}bad {'TCP' if proto == 6 else 'UDP'} checksum")
    return proto, struct.unpack("!HH", l4[:4])


def ep(addr, port):
    """addr:port, [addr]:port for IPv6."""
    return f"{ipaddress.ip_address(addr)}:{port}" if len(addr) == 4 else f"[{ipaddress.ip_address(addr)}]:{port}"


def ip_header_unchanged(fr, t, reply):
    """Whether the IP header of `fr` (segment `t`), which tetherd made of the IPv4 reply `reply`,
    carries what it must: IPv4 (full-NAT) the same IP ID, flags and fragment offset and
    protocol; IPv6 (NAT64, RFC 7915 section 4.1) the reply's TOS as traffic class, flow label 0 and
    the reply's TTL as hop limit, or one less (a translator may decrement either)."""
    if t.version == 4:
        return fr[18:22] == reply[18:22] and fr[23] == reply[23]
    tos, ttl = reply[15], reply[22]
    return struct.unpack("!I", fr[14:18])[0] == (6 << 28) | (tos << 20) and fr[21] in (ttl, ttl - 1) and fr[21] > 0


def check_replies(a):
    """--replies: what tetherd sent to the clients for the backend replies of --input."""
    frames_in = list(frames(a.input))
    if len(frames_in) != 2 * a.flows:
        raise SystemExit(f"output_check: {a.input}: {len(frames_in)} frames, expected {a.flows} clients + {a.flows} replies")
    clients, replies = frames_in[: a.flows], frames_in[a.flows :]
    reply_of = {}  # (seq, ack) -> flow index
    for j, fr in enumerate(replies):
        t = tcp_segment(fr)
        if t is None or t.version != 4 or (t.seq, t.ack) in reply_of:
            raise SystemExit(f"output_check: {a.input}: reply {j} is not IPv4/TCP or repeats another's seq/ack")
        reply_of[(t.seq, t.ack)] = j
    client_seg = [tcp_segment(fr) for fr in clients]
    if None in client_seg:
        raise SystemExit(f"output_check: {a.input}: client frame {client_seg.index(None)} is not TCP over IPv4 or IPv6")
    versions = sorted({c.version for c in client_seg})
    errors, seen = [], set()
    count = 0
    for n, fr in enumerate(frames(a.pcap)):
        count += 1
        if len(errors) > 20:
            continue
        t = tcp_segment(fr)
        if t is None:
            errors.append(f"pkt {n}: not TCP over IPv4 or IPv6 (ethertype {fr[12:14].hex()})")
            continue
        if t.version == 4 and not csum_ok(fr[14 : 14 + t.l3_len]):
            errors.append(f"pkt {n}: bad IPv4 header checksum")
        if not csum_ok(t.pseudo + t.l4):
            errors.append(f"pkt {n}: bad TCP checksum (IPv{t.version} pseudo-header)")
        j = reply_of.get((t.seq, t.ack))
        if j is None or j in seen:
            errors.append(f"pkt {n}: seq/ack {t.seq}/{t.ack} is no reply of the input{' (or a second time)' if j is not None else ''}")
            continue
        seen.add(j)
        client, reply, c, r = clients[j], replies[j], client_seg[j], tcp_segment(replies[j])
        want = (c.dst, c.src, c.dport, c.sport)  # VIP -> client, service port -> client port
        if t.version != c.version:
            errors.append(f"pkt {n} (flow {j}): IPv{t.version}, expected IPv{c.version} as the client's frame")
        elif (t.src, t.dst, t.sport, t.dport) != want:
            errors.append(f"pkt {n} (flow {j}): {ep(t.src, t.sport)} -> {ep(t.dst, t.dport)}, "
                          f"expected {ep(want[0], want[2])} -> {ep(want[1], want[3])}")
        if fr[0:6] != client[6:12] or fr[6:12] != client[0:6]:
            errors.append(f"pkt {n} (flow {j}): MACs {fr[6:12].hex(':')} -> {fr[0:6].hex(':')}, expected "
                          f"{client[0:6].hex(':')} -> {client[6:12].hex(':')} (port -> client)")
        # Only the IP header, ports, checksums and MACs may change: the frame past its IP header has the
        # same length (so no padding appears or goes), the TCP words from the data offset on (offset,
        # flags, window, urgent pointer) and the payload are the same, and the IP header says what it must.
        same = (len(fr) - t.l3_len == len(reply) - r.l3_len and t.l4[12:16] == r.l4[12:16]
                and t.l4[18:] == r.l4[18:] and ip_header_unchanged(fr, t, reply))
        if not same:
            what = "IP ID/flags" if t.version == 4 else "traffic class, flow label or hop limit"
            errors.append(f"pkt {n} (flow {j}): length, {what}, TCP flags/window or payload changed")
    if count != a.flows:
        errors.append(f"{count} replies sent to clients, expected {a.flows} (one per flow)")
    elif len(seen) != a.flows:
        errors.append(f"{len(seen)} distinct flows answered, expected {a.flows}")
    mapping = ""
    if a.forwarded and a.mapping:
        def endpoints(path):  # the client's seq/ack (full-NAT leaves them) -> local:port, backend:port
            return {(t.seq, t.ack): (t.src, t.dst, t.sport, t.dport) for t in map(tcp_segment, frames(path)) if t}
        was, now = endpoints(a.mapping), endpoints(a.forwarded)
        same = sum(1 for k, v in now.items() if was.get(k) == v)
        if same != a.flows or len(was) != a.flows:
            errors.append(f"only {same} of {a.flows} flows took the local endpoint and backend of {a.mapping}: "
                          "the mapping the replies were built from did not repeat")
        mapping = f", mapping repeated for {same} of {a.flows} flows"
    for e in errors[:20]:
        print(f"output_check: replies: {e}", file=sys.stderr)
    status = "OK" if not errors else f"FAILED ({len(errors)} problems, first: {errors[0]})"
    family = "/".join(f"IPv{v}" for v in versions)
    print(f"output check fullnat replies: {count} packets to {family} clients, {len(seen)} flows answered as "
          f"VIP:port -> client{mapping}: {status}")
    return 0 if not errors else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("--mode", choices=("fullnat", "dsr", "ipip"))
    ap.add_argument("--flows", type=int, required=True)
    ap.add_argument("--vip")
    ap.add_argument("--dport", type=int)
    ap.add_argument("--local", help="the sink port's own address")
    ap.add_argument("--backends")
    ap.add_argument("--macs", help="MAC of each backend, same order")
    ap.add_argument("--backend-port", type=int, default=8080, help="full-NAT backend port")
    ap.add_argument("--local-ports", default="10000-59999")
    ap.add_argument("--local-sources", help="the sink port's local_addresses, FIRST-LAST (default: --local)")
    ap.add_argument("--replies", action="store_true", help="FILE holds the frames sent back to the clients")
    ap.add_argument("--input", help="--replies: the replayed file (clients, then replies)")
    ap.add_argument("--forwarded", help="--replies: the same replay's frames towards the backends")
    ap.add_argument("--mapping", help="--replies: the capture the replies were built from")
    a = ap.parse_args()
    if a.replies:
        if not a.input:
            ap.error("--replies needs --input")
        return check_replies(a)
    missing = [o for o in ("mode", "vip", "dport", "local", "backends", "macs") if getattr(a, o) is None]
    if missing:
        ap.error("the following arguments are required: " + ", ".join("--" + o for o in missing))
    vip = ipaddress.IPv4Address(a.vip).packed
    local = ipaddress.IPv4Address(a.local).packed
    backends = [ipaddress.IPv4Address(b).packed for b in a.backends.split(",")]
    macs = [bytes.fromhex(m.replace(":", "")) for m in a.macs.split(",")]
    mac_of = dict(zip(backends, macs))
    lp_min, lp_max = (int(x) for x in a.local_ports.split("-"))
    first, _, last = (a.local_sources or a.local).partition("-")
    first, last = int(ipaddress.IPv4Address(first)), int(ipaddress.IPv4Address(last or first))
    sources = {ipaddress.IPv4Address(x).packed for x in range(first, last + 1)}
    used_sources = set()

    errors, per_backend, flows = [], Counter(), set()
    count = sum(1 for _ in frames(a.pcap))
    for n, fr, ip, h in ipv4_frames(a.pcap, errors):
        ihl, tot, proto, src, dst = h
        if a.mode == "ipip":
            if proto != 4:
                errors.append(f"pkt {n}: outer protocol {proto}, expected 4 (IPIP)")
                continue
            if src != local:
                errors.append(f"pkt {n}: outer source {ipaddress.IPv4Address(src)}, expected {a.local}")
            backend = dst
            inner = ip[ihl:tot]
            hi = parse_ipv4(inner)
            if hi is None or not csum_ok(inner[: hi[0]]):
                errors.append(f"pkt {n}: bad inner IPv4 header")
                continue
            if hi[4] != vip:
                errors.append(f"pkt {n}: inner destination is not the VIP")
            r = check_l4(inner, errors, n, "inner ")
            if r and r[1][1] != a.dport:
                errors.append(f"pkt {n}: inner dport {r[1][1]}")
            flow = (hi[3], r[1][0] if r else 0)
        else:
            r = check_l4(ip, errors, n, "")
            if r is None:
                continue
            sport, dport = r[1]
            if a.mode == "fullnat":
                backend = dst
                if src not in sources:
                    errors.append(f"pkt {n}: source {ipaddress.IPv4Address(src)}, expected one of "
                                  f"{a.local_sources or a.local} (full-NAT)")
                used_sources.add(src)
                if dport != a.backend_port:
                    errors.append(f"pkt {n}: dport {dport}, expected backend port {a.backend_port}")
                if not lp_min <= sport <= lp_max:
                    errors.append(f"pkt {n}: local port {sport} outside {a.local_ports}")
                flow = (src, sport)  # local ports are unique per flow
            else:  # dsr
                if dst != vip or dport != a.dport:
                    errors.append(f"pkt {n}: DSR must not rewrite IP/L4 (dst {ipaddress.IPv4Address(dst)}:{dport})")
                backend = next((b for b, m in mac_of.items() if m == fr[0:6]), None)
                flow = (src, sport)
        if backend not in mac_of:
            errors.append(f"pkt {n}: not sent to a backend (dst MAC {fr[0:6].hex(':')})")
            continue
        if fr[0:6] != mac_of[backend]:
            errors.append(f"pkt {n}: dst MAC {fr[0:6].hex(':')} is not {ipaddress.IPv4Address(backend)}'s")
        per_backend[backend] += 1
        flows.add(flow)
    if count != a.flows:
        errors.append(f"{count} packets forwarded, expected {a.flows} (one per input flow)")
    elif len(flows) != a.flows:
        errors.append(f"{len(flows)} distinct flows in the output, expected {a.flows}")
    if a.mode == "fullnat" and used_sources != sources and a.flows >= 10 * len(sources):
        errors.append(f"{len(used_sources)} of {len(sources)} full-NAT source addresses used")
    if len(per_backend) < len(backends) and a.flows >= 10 * len(backends):
        errors.append(f"only {len(per_backend)} of {len(backends)} backends received flows")
    for e in errors[:20]:
        print(f"output_check: {a.mode}: {e}", file=sys.stderr)
    if per_backend:
        mean = sum(per_backend.values()) / len(backends)
        spread = f"flows per backend {min(per_backend.values())}..{max(per_backend.values())} (mean {mean:.0f})"
    else:
        spread = "no backend received flows"
    status = "OK" if not errors else f"FAILED ({len(errors)} problems, first: {errors[0]})"
    used = f", {len(used_sources)} source addresses" if a.mode == "fullnat" else ""
    print(f"output check {a.mode}: {count} packets, {spread}{used}: {status}")
    return 0 if not errors else 1


if __name__ == "__main__":
    sys.exit(main())
