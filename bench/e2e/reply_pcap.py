#!/usr/bin/env python3
"""Builds the full-NAT replies file for dataplane_bench --replies: the client frames, then one backend
reply per flow.

Input: the gen_pcap client file (client -> VIP:80, TCP ACK, one frame per flow; IPv4 clients, or with
dataplane_bench --ipv6 IPv6 clients of an IPv6 VIP) and what tetherd sent towards the backends when
that file was replayed once in full-NAT (dataplane_bench's output check capture: local address:local
port -> backend:8080, one frame per flow, IPv4 in both cases: tetherd translates IPv6 clients to IPv4,
NAT64 full-NAT). tetherd chooses backends (Maglev) and local endpoints (FIFO pool, address-minor)
deterministically for a given config and frame order, so a replay of the same client frames with the
same config creates the same flows again, and the reply built here from the capture finds its flow.

Each capture frame is tied to its client frame exactly, not by position: full-NAT rewrites addresses
and ports only (NAT64 replaces the IP header too, but not the TCP header's numbers), so the capture
keeps the client's TCP sequence and acknowledgement numbers, which are unique per flow in gen_pcap
files (checked). Reply i answers client frame i, an IPv4 frame whatever the client's family:

  Ethernet  dst = --dst-mac (tetherd's port the replies arrive on), src = the backend's MAC (--macs)
  IPv4      backend -> local address, DF, TTL 64, ID i, valid header checksum
  TCP       backend port -> local port, ACK only, seq = the client's ack, ack = the client's seq plus
            its payload length (what the backend would send), window 65535, valid checksum,
            the client frame's payload length, at least enough to fill a 60-byte frame (so an IPv4
            client's reply has its frame's size, gen_pcap filling its 60 bytes with payload; an IPv6
            client's 74-byte frame has none, its reply gets 6 bytes and no Ethernet padding, which
            tetherd would have to carry into the IPv6 frame it makes of the reply)

The output is a microsecond pcap (global header, then a 16-byte record header per frame): the client
frames unchanged and first, then the replies in client order. The replies must follow the clients:
in the first pass of an infinite_rx replay the client frames create the flows and the replies then
find them; every later pass is half client, half reply established traffic.

usage: reply_pcap.py CLIENTS.pcap CAPTURE.pcap --out MIXED.pcap --dst-mac M --backends A,B,...
       --macs M,N,...
Prints one summary line; exit status 0 written, 1 the inputs do not match.
"""
import argparse
import ipaddress
import struct
import sys

import pcap_file
from pcap_file import ones_sum, tcp_segment

MIN_FRAME = 60  # Ethernet without FCS
IPV4_TCP_HEADERS = 14 + 20 + 20


def read_pcap(path):
    """Returns (global header bytes, [(record header, frame)])."""
    hdr, recs = b"", []
    for hdr, rec, frame in pcap_file.records(path, "reply_pcap"):
        recs.append((rec, frame))
    if not hdr:  # no frames: the header is still needed
        with open(path, "rb") as f:
            hdr = f.read(24)
    return hdr, recs


def csum(data: bytes) -> int:
    """The value to store in a checksum field over `data` (its field zero)."""
    return ~ones_sum(data) & 0xFFFF


def reply_frame(dst_mac, src_mac, src, dst, sport, dport, seq, ack, ip_id, payload_len):
    payload = bytes((0x61 + k % 26) for k in range(payload_len))  # "abcdef...", as gen_pcap fills
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, 0x10, 65535, 0, 0) + payload
    pseudo = src + dst + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return dst_mac + src_mac + b"\x08\x00" + ip + tcp


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("clients", help="gen_pcap client -> VIP file (TCP over IPv4 or IPv6)")
    ap.add_argument("capture", help="tetherd's full-NAT output (IPv4) for one replay of CLIENTS")
    ap.add_argument("--out", required=True)
    ap.add_argument("--dst-mac", required=True, help="MAC of tetherd's port the replies arrive on")
    ap.add_argument("--backends", required=True)
    ap.add_argument("--macs", required=True, help="MAC of each backend, same order")
    a = ap.parse_args()
    dst_mac = bytes.fromhex(a.dst_mac.replace(":", ""))
    mac_of = {ipaddress.IPv4Address(b).packed: bytes.fromhex(m.replace(":", ""))
              for b, m in zip(a.backends.split(","), a.macs.split(","))}

    hdr, clients = read_pcap(a.clients)
    if struct.unpack("<I", hdr[:4])[0] != 0xA1B2C3D4:
        raise SystemExit(f"reply_pcap: {a.clients}: expected a microsecond pcap from gen_pcap")
    _, capture = read_pcap(a.capture)
    index_of = {}  # (seq, ack) -> client index
    segments = []  # the client frames' TcpSegments
    for i, (_, fr) in enumerate(clients):
        t = tcp_segment(fr)
        if t is None:
            raise SystemExit(f"reply_pcap: {a.clients}: frame {i} is not TCP over IPv4 or IPv6 (--replies needs --proto tcp)")
        if (t.seq, t.ack) in index_of:
            raise SystemExit(f"reply_pcap: {a.clients}: frames {index_of[(t.seq, t.ack)]} and {i} share seq/ack; "
                             "cannot tie captured frames to clients")
        index_of[(t.seq, t.ack)] = i
        segments.append(t)
    toward = [None] * len(clients)  # client index -> captured (local, backend, lport, bport)
    for n, (_, fr) in enumerate(capture):
        t = tcp_segment(fr)
        i = index_of.get((t.seq, t.ack)) if t and t.version == 4 else None
        if i is None or toward[i] is not None:
            raise SystemExit(f"reply_pcap: {a.capture}: frame {n} is not one client's flow in IPv4 (or a second one)")
        if t.dst not in mac_of:
            raise SystemExit(f"reply_pcap: {a.capture}: frame {n} goes to {ipaddress.IPv4Address(t.dst)}, no backend")
        toward[i] = (t.src, t.dst, t.sport, t.dport)
    missing = sum(x is None for x in toward)
    if missing:
        raise SystemExit(f"reply_pcap: {a.capture}: {missing} of {len(clients)} client flows were not forwarded")

    with open(a.out, "wb") as out:
        out.write(hdr)
        for rec, fr in clients:
            out.write(rec + fr)
        for i, t in enumerate(segments):
            local, backend, lport, bport = toward[i]
            reply = reply_frame(dst_mac, mac_of[backend], backend, local, bport, lport, t.ack,
                                (t.seq + t.payload_len) & 0xFFFFFFFF, i & 0xFFFF,
                                max(t.payload_len, MIN_FRAME - IPV4_TCP_HEADERS))
            n = len(clients) + i  # timestamps continue the client file's (gen_pcap: frame k at k us)
            out.write(struct.pack("<IIII", n // 1_000_000, n % 1_000_000, len(reply), len(reply)) + reply)
    print(f"reply_pcap: {a.out}: {len(clients)} IPv{segments[0].version} client frames "
          f"({len(clients[0][1])} bytes), then {len(clients)} IPv4 replies ({len(reply)} bytes, to {a.dst_mac})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
