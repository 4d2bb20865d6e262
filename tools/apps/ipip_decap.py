#!/usr/bin/env python3
"""User-space IP-in-IP (RFC 2003) decapsulator for backends on kernels built without CONFIG_NET_IPIP.

tools/topology prefers the kernel's `tunl0`; when `ip link add ... type ipip` is unknown and there is
no ipip module to load, it runs this instead in each backend namespace. A raw IPPROTO_IPIP socket
receives every protocol-4 packet addressed to the namespace (which also stops the kernel from
answering "protocol unreachable"); the outer header is stripped and the inner packet is written to a
TUN device, so the kernel receives it exactly as it would from tunl0: the VIP on `lo` accepts it and
the reply leaves through eth0 straight to the client (rp_filter must be 0 on the TUN device).
"""
import argparse
import fcntl
import os
import signal
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IPPROTO_IPIP = 4


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dev", default="ipipu0", help="TUN device to create (default ipipu0)")
    args = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    tun = open_tun(args.dev)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_IPIP)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sys.stderr.write("ipip_decap: %s ready\n" % args.dev)
    sys.stderr.flush()
    buf = bytearray(65536)
    view = memoryview(buf)
    while True:
        n = raw.recv_into(buf)  # outer IPv4 header included (raw sockets of a protocol get it)
        if n < 20 or buf[0] >> 4 != 4:
            continue
        outer_len = (buf[0] & 0x0F) * 4
        if n < outer_len + 20 or buf[9] != IPPROTO_IPIP or buf[outer_len] >> 4 != 4:
            continue  # not IPv4-in-IPv4: nothing we can hand to the kernel
        try:
            os.write(tun, view[outer_len:n])
        except OSError as e:
            sys.stderr.write("ipip_decap: write failed: %s\n" % e)


if __name__ == "__main__":
    main()
