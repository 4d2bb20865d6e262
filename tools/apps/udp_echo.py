#!/usr/bin/env python3
"""UDP echo for Tether's integration topology: each datagram is answered with "<name>:<payload>".

The reply's source address is the datagram's destination address (IP_PKTINFO), not whatever the
routing table would pick. That matters for dsr and ipip, where the client sent to the VIP (owned by
this backend on `lo`) and only accepts a reply that comes from the VIP.
"""
import argparse
import os
import signal
import socket
import struct
import sys

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # <linux/in.h>; Python's socket module lacks it
PKTINFO = struct.Struct("=I4s4s")              # struct in_pktinfo: ifindex, spec_dst, addr


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--name", required=True)
    ap.add_argument("--bind", default="0.0.0.0")
    ap.add_argument("--port", type=int, default=9000)
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    sock.bind((args.bind, args.port))
    prefix = (args.name + ":").encode()
    sys.stderr.write("%s: udp echo on %s:%d\n" % (args.name, args.bind, args.port))
    sys.stderr.flush()
    while True:
        data, ancdata, _flags, peer = sock.recvmsg(65535, socket.CMSG_SPACE(PKTINFO.size))
        local = None
        for level, ctype, cdata in ancdata:
            if level == socket.IPPROTO_IP and ctype == IP_PKTINFO:
                _ifindex, _spec_dst, local = PKTINFO.unpack(cdata[:PKTINFO.size])
        anc = []
        if local is not None:
            # ifindex 0 and spec_dst = the address the client used: source the reply from it.
            anc = [(socket.IPPROTO_IP, IP_PKTINFO, PKTINFO.pack(0, local, b"\0\0\0\0"))]
        try:
            sock.sendmsg([prefix + data], anc, 0, peer)
        except OSError as e:
            sys.stderr.write("%s: reply to %s failed: %s\n" % (args.name, peer, e))


if __name__ == "__main__":
    main()
