#!/usr/bin/env python3
"""Reorders packets that nftables hands to an NFQUEUE: netem's `reorder` for kernels without sch_netem.

Used by tests/integration/test_sticky_matrix.py inside a namespace, with a rule such as
    nft add rule inet t out ip daddr 10.99.0.100 queue num 7 bypass
Each queued packet is, with probability --percent, held back and released right after the next
packet (or after --hold-ms if none comes), so the two leave in swapped order. Verdicts go back in the
order they are given, which is what makes the swap. Nothing is dropped or changed.

Talks nfnetlink_queue (linux/netfilter/nfnetlink_queue.h) over a raw netlink socket, so it needs
only the standard library and root. Prints {"event": "bound"} once bound and, when it ends (SIGTERM
or --seconds), {"packets": N, "reordered": M}. Exits 1 with a message if the kernel refuses.
"""
import argparse
import json
import random
import select
import signal
import socket
import struct
import sys
import time

NETLINK_NETFILTER = 12
NFNL_SUBSYS_QUEUE = 3
NFQNL_MSG_PACKET, NFQNL_MSG_VERDICT, NFQNL_MSG_CONFIG = 0, 1, 2
NFQA_CFG_CMD, NFQA_CFG_PARAMS = 1, 2
NFQNL_CFG_CMD_BIND = 1
NFQNL_COPY_META = 1
NFQA_PACKET_HDR, NFQA_VERDICT_HDR = 1, 2
NF_ACCEPT = 1
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2


def attr(kind, payload):
    a = struct.pack("=HH", 4 + len(payload), kind) + payload
    return a + b"\0" * (-len(a) % 4)


def message(msg_type, queue, attrs, flags=NLM_F_REQUEST, seq=0):
    body = struct.pack("=BBH", socket.AF_UNSPEC, 0, socket.htons(queue)) + b"".join(attrs)
    return struct.pack("=IHHII", 16 + len(body), (NFNL_SUBSYS_QUEUE << 8) | msg_type, flags, seq, 0) + body


def parse_attrs(data):
    out, off = {}, 0
    while off + 4 <= len(data):
        length, kind = struct.unpack_from("=HH", data, off)
        if length < 4:
            break
        out[kind & 0x3FFF] = data[off + 4:off + length]
        off += (length + 3) & ~3
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--queue", type=int, default=7)
    ap.add_argument("--percent", type=float, default=2.0, help="share of packets held back")
    ap.add_argument("--hold-ms", type=float, default=20.0)
    ap.add_argument("--seconds", type=float, default=120.0, help="hard limit on the run")
    args = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    sock.bind((0, 0))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    for seq, attrs in enumerate(([attr(NFQA_CFG_CMD, struct.pack("=BBH", NFQNL_CFG_CMD_BIND, 0, 0))],
                                 [attr(NFQA_CFG_PARAMS, struct.pack("!IB", 0, NFQNL_COPY_META))]), 1):
        sock.send(message(NFQNL_MSG_CONFIG, args.queue, attrs, NLM_F_REQUEST | NLM_F_ACK, seq))
        reply = sock.recv(65536)
        _, kind, _, _, _ = struct.unpack_from("=IHHII", reply)
        err = struct.unpack_from("=i", reply, 16)[0] if kind == NLMSG_ERROR else 0
        if err:
            print(json.dumps({"event": "error", "errno": -err, "step": seq}), flush=True)
            sys.exit(1)
    print(json.dumps({"event": "bound", "queue": args.queue}), flush=True)

    def verdict(packet_id):
        sock.send(message(NFQNL_MSG_VERDICT, args.queue,
                          [attr(NFQA_VERDICT_HDR, struct.pack("!II", NF_ACCEPT, packet_id))]))

    rng = random.Random(7)
    held, held_at = None, 0.0
    packets = reordered = 0
    end = time.monotonic() + args.seconds
    while not stop and time.monotonic() < end:
        try:
            ready, _, _ = select.select([sock], [], [], args.hold_ms / 1000.0)
        except InterruptedError:
            continue
        if held is not None and time.monotonic() - held_at >= args.hold_ms / 1000.0:
            verdict(held)
            held = None
        if not ready:
            continue
        try:
            data = sock.recv(1 << 16)
        except OSError:
            continue  # ENOBUFS: the kernel dropped queue messages; packets fail open (bypass) or retransmit
        off = 0
        while off + 16 <= len(data):
            length, kind, _, _, _ = struct.unpack_from("=IHHII", data, off)
            if length < 16:
                break
            if kind == (NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET:
                hdr = parse_attrs(data[off + 20:off + length]).get(NFQA_PACKET_HDR)
                if hdr:
                    packet_id = struct.unpack_from("!I", hdr)[0]
                    packets += 1
                    if held is None and rng.random() * 100 < args.percent:
                        held, held_at = packet_id, time.monotonic()
                    else:
                        verdict(packet_id)
                        if held is not None:
                            verdict(held)  # after the newer one: the swap
                            held = None
                            reordered += 1
            off += (length + 3) & ~3
    if held is not None:
        verdict(held)
    print(json.dumps({"packets": packets, "reordered": reordered}), flush=True)


if __name__ == "__main__":
    main()
