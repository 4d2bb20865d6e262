#!/usr/bin/env python3
"""UDP echo for Tether's integration topology: each datagram is answered with "<name>:<payload>".

The reply's source address is the datagram's destination address (IP_PKTINFO, IPV6_PKTINFO), not
whatever the routing table would pick. That matters for dsr and ipip, where the client sent to the
VIP (owned by this backend on `lo`) and only accepts a reply that comes from the VIP.
Every --bind address gets its own socket: `--bind 0.0.0.0 --bind ::` answers IPv4 and IPv6 clients.
"""
import argparse
import os
import select
import signal
import socket
import struct
import sys

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # <linux/in.h>; Python's socket module lacks it
PKTINFO = struct.Struct("=I4s4s")              # struct in_pktinfo: ifindex, spec_dst, addr
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)  # <linux/in6.h>
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
PKTINFO6 = struct.Struct("=16sI")              # struct in6_pktinfo: addr, ifindex


def open_socket(bind, port):
    if ":" in bind:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        # IPv6 only, so IPv4 clients keep being answered by the IPv4 socket exactly as without it.
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((bind, port))
    return sock


def reply_ancillary(ancdata):
    """The control message that sources the reply from the address the datagram was sent to."""
    for level, ctype, cdata in ancdata:
        if level == socket.IPPROTO_IP and ctype == IP_PKTINFO:
            _ifindex, _spec_dst, local = PKTINFO.unpack(cdata[:PKTINFO.size])
            # ifindex 0 and spec_dst = the address the client used: source the reply from it.
            return [(socket.IPPROTO_IP, IP_PKTINFO, PKTINFO.pack(0, local, b"\0\0\0\0"))]
        if level == socket.IPPROTO_IPV6 and ctype == IPV6_PKTINFO:
            local, _ifindex = PKTINFO6.unpack(cdata[:PKTINFO6.size])
            # ifindex 0: the route picks the interface (eth0) even though the VIP lives on lo.
            return [(socket.IPPROTO_IPV6, IPV6_PKTINFO, PKTINFO6.pack(local, 0))]
    return []


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--name", required=True)
    ap.add_argument("--bind", action="append", help="address to listen on, repeatable (default 0.0.0.0)")
    ap.add_argument("--port", type=int, default=9000)
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    binds = args.bind or ["0.0.0.0"]
    socks = [open_socket(bind, args.port) for bind in binds]
    prefix = (args.name + ":").encode()
    sys.stderr.write("%s: udp echo on %s port %d\n" % (args.name, " ".join(binds), args.port))
    sys.stderr.flush()
    space = socket.CMSG_SPACE(max(PKTINFO.size, PKTINFO6.size))
    while True:
        ready, _, _ = select.select(socks, [], [])
        for sock in ready:
            data, ancdata, _flags, peer = sock.recvmsg(65535, space)
            try:
                sock.sendmsg([prefix + data], reply_ancillary(ancdata), 0, peer)
            except OSError as e:
                sys.stderr.write("%s: reply to %s failed: %s\n" % (args.name, peer, e))


if __name__ == "__main__":
    main()
