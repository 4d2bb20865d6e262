#!/usr/bin/env python3
"""User-space IP-in-IP (RFC 2003) and IPv6-in-IPv4 (RFC 4213) decapsulator for backends on kernels
built without CONFIG_NET_IPIP or CONFIG_IPV6_SIT.

tools/topology prefers the kernel's `tunl0` (and `sit0` with --ipv6); when `ip link add ... type
ipip` is unknown and there is no module to load, it runs this instead in each backend namespace. A
raw socket per protocol (4, and 41 for IPv6 clients of an IPv6 VIP) receives every such packet
addressed to the namespace, which also stops the kernel from answering "protocol unreachable"; the
outer header is stripped and the inner packet is written to a TUN device, so the kernel receives it
exactly as it would from tunl0 or sit0: the VIP on `lo` accepts it and the reply leaves through eth0
straight to the client (rp_filter must be 0 on the TUN device, and IPv6 enabled on it). Without a
packet-information header the TUN device takes the inner packet's family from its version nibble.
"""
import argparse
import fcntl
import os
import select
import signal
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IPPROTO_IPIP = 4
IPPROTO_IPV6 = 41
INNER_VERSION = {IPPROTO_IPIP: 4, IPPROTO_IPV6: 6}
INNER_MIN_HEADER = {IPPROTO_IPIP: 20, IPPROTO_IPV6: 40}


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def open_raw(proto):
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    return raw


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", default="ipipu0", help="TUN device to create (default ipipu0)")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    tun = open_tun(args.dev)
    raws = {open_raw(proto): proto for proto in (IPPROTO_IPIP, IPPROTO_IPV6)}
    sys.stderr.write("ipip_decap: %s ready (protocols 4 and 41)\n" % args.dev)
    sys.stderr.flush()
    buf = bytearray(65536)
    view = memoryview(buf)
    while True:
        ready, _, _ = select.select(list(raws), [], [])
        for raw in ready:
            proto = raws[raw]
            n = raw.recv_into(buf)  # outer IPv4 header included (raw sockets of a protocol get it)
            if n < 20 or buf[0] >> 4 != 4:
                continue
            outer_len = (buf[0] & 0x0F) * 4
            if (n < outer_len + INNER_MIN_HEADER[proto] or buf[9] != proto or
                    buf[outer_len] >> 4 != INNER_VERSION[proto]):
                continue  # not IPv4-in-IPv4 or IPv6-in-IPv4: nothing we can hand to the kernel
            try:
                os.write(tun, view[outer_len:n])
            except OSError as e:
                sys.stderr.write("ipip_decap: write failed: %s\n" % e)


if __name__ == "__main__":
    main()
